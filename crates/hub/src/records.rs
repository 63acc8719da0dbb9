//! Ingesting terminals' journals (`wire::journal`): every record's
//! signature is checked with the terminal's key and the run of new records
//! must continue the chain the hub holds. Records already held are counted
//! as duplicates; a record with a held seq but another hash is a conflict.
//! New records are stored exactly once, as signed, in one transaction;
//! refused uploads are counted for the integrity report.
//!
//! A record that is signed and chained is stored even when it is
//! implausible — a measure its site does not apply, a discount above the
//! amount, a void after its window or by someone who is not a supervisor,
//! a time before enrollment or after the hub's clock. Refusing it would
//! leave a hole the terminal's chain can never cross, and the record is
//! evidence; so it is kept with a flag saying why, left out of the usage
//! report's money, and listed by the integrity and flagged reports. A
//! flagged void cancels nothing.
//!
//! Retention ([`crate::retention`]) deletes a terminal's oldest records up
//! to a seq it notes in `records_retired`, never its newest (which the
//! next upload's chain continues from) nor the staff records its roster
//! comes from. The run held is counted from that seq, and a record resent
//! from below it counts as a duplicate: it was stored once, long ago.

use std::collections::{BTreeSet, HashMap};

use crate::db::{OptionalExtension as _, Tx, Value, params};
use ed25519_dalek::VerifyingKey;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::WireError;
use xinyi_core::wire::config::{Config, Site, UNATTENDED};
use xinyi_core::wire::journal::{
    Body, ChainError, Record, SignedRecord, StaffEvent, check_all, check_chain, decode_batch,
};
use xinyi_core::wire::receipt::UploadReceipt;

use crate::admin::TerminalInfo;
use crate::error::{HubError, UploadError};
use crate::hub::Hub;
use crate::publish::{to_i64, to_u64};

/// How far ahead of the hub's clock a record's time may be (a terminal
/// clock a little fast) before it is flagged.
const FUTURE_SLACK_S: i64 = 600;

/// Seqs looked up in one statement: padded up to a power of two (at
/// most this), so a connection prepares a handful of statements.
const LOOKUP_CHUNK: usize = 256;

/// The hashes held for a terminal's `seqs`, a statement per
/// [`LOOKUP_CHUNK`] of them instead of one per record.
fn held_hashes(
    tx: &Tx<'_>,
    terminal: &str,
    seqs: &[i64],
) -> Result<HashMap<i64, String>, HubError> {
    let mut held = HashMap::new();
    for chunk in seqs.chunks(LOOKUP_CHUNK) {
        let (marks, at) = crate::db::padded_marks(2, chunk.len());
        let mut values: Vec<&dyn crate::db::ToSql> = Vec::with_capacity(at.len() + 1);
        values.push(&terminal);
        values.extend(at.iter().map(|&i| &chunk[i] as &dyn crate::db::ToSql));
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT seq, hash FROM records WHERE terminal = ?1 AND seq IN ({marks})"
        ))?;
        let mut rows = stmt.query(values)?;
        while let Some(r) = rows.next()? {
            held.insert(r.get::<_, i64>(0)?, r.get::<_, String>(1)?);
        }
    }
    Ok(held)
}

/// The seq up to which retention deleted a terminal's records (0: none).
pub(crate) fn retired_through(tx: &Tx<'_>, terminal: &str) -> Result<i64, HubError> {
    Ok(tx
        .prepare_cached("SELECT through FROM records_retired WHERE terminal = ?1")?
        .query_row([terminal], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The highest seq held with no gap before it (counting those retention
/// deleted as held), and that record's hash.
///
/// Records are only ever stored as a continuation of the chain, so the
/// held seqs are 1..=n, less those retention deleted. Counting guards
/// against a damaged database, but only above the terminal's mark in
/// `records_held` (what an earlier receipt found, see [`mark_held`]): a
/// receipt costs what was stored since, not the whole journal. A gap
/// below the mark is the integrity report's to show.
pub(crate) fn held_through(
    tx: &Tx<'_>,
    terminal: &str,
) -> Result<(u64, Option<Digest32>), HubError> {
    let retired = retired_through(tx, terminal)?;
    held_above(tx, terminal, mark_of(tx, terminal)?, retired)
}

/// The terminal's mark (0: none).
fn mark_of(tx: &Tx<'_>, terminal: &str) -> Result<i64, HubError> {
    Ok(tx
        .prepare_cached("SELECT through FROM records_held WHERE terminal = ?1")?
        .query_row([terminal], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// [`held_through`] counted over the whole journal, the mark ignored. A
/// mark past a gap (records lost behind the hub's back since a receipt
/// counted them) is moved back to the gap, so that receipts show it
/// again and the terminal keeps what it still holds. Retention calls this
/// for every terminal before it deletes anything.
pub(crate) fn recount_held(tx: &Tx<'_>, terminal: &str) -> Result<u64, HubError> {
    let (through, _) = held_above(tx, terminal, 0, retired_through(tx, terminal)?)?;
    let mark = mark_of(tx, terminal)?;
    if mark > to_i64(through, "seq")? {
        tracing::warn!(
            terminal,
            mark,
            through,
            "records the receipts counted as held are missing: receipts stop at the gap again"
        );
        mark_held(tx, terminal, through)?;
    }
    Ok(through)
}

/// [`held_through`] counting the records above `mark`, trusted to be
/// held without a gap up to it, and above `retired` (what
/// [`retired_through`] says in the same transaction).
fn held_above(
    tx: &Tx<'_>,
    terminal: &str,
    mark: i64,
    retired: i64,
) -> Result<(u64, Option<Digest32>), HubError> {
    let base = retired.max(mark);
    let (max, count): (i64, i64) = tx
        .prepare_cached(
            "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM records WHERE terminal = ?1 AND seq > ?2",
        )?
        .query_row(params![terminal, base], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let through = if count == 0 {
        base
    } else if max - base == count {
        max
    } else {
        let mut stmt = tx.prepare_cached(
            "SELECT seq FROM records WHERE terminal = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![terminal, base])?;
        let mut through = base;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            if seq != through + 1 {
                break;
            }
            through = seq;
        }
        through
    };
    let hash: Option<String> = tx
        .prepare_cached("SELECT hash FROM records WHERE terminal = ?1 AND seq = ?2")?
        .query_row(params![terminal, through], |r| r.get(0))
        .optional()?;
    Ok((
        to_u64(through)?,
        hash.map(|h| Digest32::from_hex(&h).map_err(HubError::corrupt))
            .transpose()?,
    ))
}

/// Keeps `through` (from [`held_through`] or [`recount_held`] in the same
/// transaction) as the terminal's mark, so the next receipt counts only
/// what is stored after it; 0 leaves the terminal without one.
fn mark_held(tx: &Tx<'_>, terminal: &str, through: u64) -> Result<(), HubError> {
    if through == 0 {
        tx.execute("DELETE FROM records_held WHERE terminal = ?1", [terminal])?;
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO records_held (terminal, through) VALUES (?1, ?2)
         ON CONFLICT (terminal) DO UPDATE SET through = excluded.through
         WHERE records_held.through <> excluded.through",
    )?
    .execute(params![terminal, to_i64(through, "seq")?])?;
    Ok(())
}

/// What an upload reads of the registry before it stores anything, in
/// one statement (one round trip to PostgreSQL): each value as the
/// function named beside it reads it on its own.
struct UploadContext {
    /// The unit of the terminal's site ("" if none).
    unit: String,
    /// [`retired_through`].
    retired: i64,
    /// The last record held for the terminal: (seq, hash).
    last: Option<(u64, Digest32)>,
    /// [`crate::publish::current_version`].
    current: u64,
    /// Whether a citizen's case waits for its record.
    cases_waiting: bool,
    /// [`mark_of`].
    mark: i64,
    /// [`crate::rotation::count_in`].
    rotations: usize,
}

impl UploadContext {
    fn read(tx: &Tx<'_>, terminal: &TerminalInfo) -> Result<UploadContext, HubError> {
        type Raw = (
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            i64,
            bool,
            Option<i64>,
            i64,
        );
        let raw: Raw = tx.query_row(
            "SELECT (SELECT unit FROM sites WHERE id = ?2),
                    (SELECT through FROM records_retired WHERE terminal = ?1),
                    (SELECT seq FROM records WHERE terminal = ?1 ORDER BY seq DESC LIMIT 1),
                    (SELECT hash FROM records WHERE terminal = ?1 ORDER BY seq DESC LIMIT 1),
                    (SELECT COALESCE(MAX(version), 0) FROM versions),
                    EXISTS (SELECT 1 FROM cases WHERE site IS NULL AND reference IS NOT NULL),
                    (SELECT through FROM records_held WHERE terminal = ?1),
                    (SELECT count(*) FROM registry_rotations)",
            params![terminal.id, terminal.site],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )?;
        let (unit, retired, seq, hash, current, cases_waiting, mark, rotations) = raw;
        let last = match (seq, hash) {
            (Some(seq), Some(hash)) => Some((
                to_u64(seq)?,
                Digest32::from_hex(&hash).map_err(HubError::corrupt)?,
            )),
            _ => None,
        };
        Ok(UploadContext {
            unit: unit.unwrap_or_default(),
            retired: retired.unwrap_or(0),
            last,
            current: to_u64(current)?,
            cases_waiting,
            mark: mark.unwrap_or(0),
            rotations: usize::try_from(rotations).unwrap_or(0),
        })
    }
}

/// What the hub knows to judge one terminal's records: its site as each
/// data version published it, and its roster as its own staff records
/// built it.
struct Judge<'a, 't> {
    tx: &'a Tx<'t>,
    terminal: &'a TerminalInfo,
    /// The site per data version (`None`: the version names no such site).
    sites: HashMap<u64, Option<Site>>,
    /// Operator id → role, as of the last record judged.
    roster: HashMap<String, String>,
    current: u64,
    now: i64,
}

impl<'a, 't> Judge<'a, 't> {
    /// A judge for `terminal`'s records; `current` is the latest data
    /// version published ([`crate::publish::current_version`]).
    fn new(
        tx: &'a Tx<'t>,
        terminal: &'a TerminalInfo,
        current: u64,
        now: i64,
    ) -> Result<Judge<'a, 't>, HubError> {
        let roster = crate::staff::roles(tx, &terminal.id)?;
        Ok(Judge {
            tx,
            terminal,
            sites: HashMap::new(),
            roster,
            current,
            now,
        })
    }

    /// The terminal's site as data version `version` published it.
    fn site_at(&mut self, version: u64) -> Result<Option<Site>, HubError> {
        if let Some(s) = self.sites.get(&version) {
            return Ok(s.clone());
        }
        let bytes: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT a.bytes FROM versions v JOIN artefacts a ON a.sha256 = v.config_sha256
                 WHERE v.version = ?1",
                [to_i64(version, "data version")?],
                |r| r.get(0),
            )
            .optional()?;
        let site = match bytes {
            Some(b) => serde_json::from_slice::<Config>(&b)
                .map_err(HubError::corrupt)?
                .sites
                .into_iter()
                .find(|s| s.id == self.terminal.site),
            None => None,
        };
        self.sites.insert(version, site.clone());
        Ok(site)
    }

    fn role(&self, id: &str) -> Option<&str> {
        self.roster.get(id).map(String::as_str)
    }

    /// Why `r` is implausible for this terminal, if it is. Staff records
    /// that pass update the roster.
    fn judge(&mut self, r: &Record) -> Result<Option<String>, HubError> {
        if let Some(why) = r.implausible() {
            return Ok(Some(why));
        }
        if r.at.0 > self.now.saturating_add(FUTURE_SLACK_S) {
            return Ok(Some(format!(
                "dated {} s after the hub's clock",
                r.at.0 - self.now
            )));
        }
        if r.at.0 < self.terminal.enrolled_at.0.saturating_sub(FUTURE_SLACK_S) {
            return Ok(Some("dated before the terminal was enrolled".into()));
        }
        if r.data_version > self.current {
            return Ok(Some(format!(
                "names data version {}, which was never published (the latest is {})",
                r.data_version, self.current
            )));
        }
        match &r.body {
            Body::Redemption { measure, .. } => {
                let Some(site) = self.site_at(r.data_version)? else {
                    return Ok(Some(format!(
                        "a redemption under data version {} that names no site {}",
                        r.data_version, self.terminal.site
                    )));
                };
                if !site.measures.contains(measure) {
                    return Ok(Some(format!(
                        "measure {measure} is not applied at site {}",
                        site.id
                    )));
                }
                let on_roster = self.role(&r.operator).is_some();
                let unattended = r.operator == UNATTENDED && site.unattended;
                if !(on_roster || unattended) {
                    return Ok(Some(format!(
                        "confirmed by {:?}, who is not on the terminal's roster{}",
                        r.operator,
                        if site.unattended {
                            ""
                        } else {
                            " (the site is not unattended)"
                        }
                    )));
                }
                Ok(None)
            }
            Body::Void {
                target, supervisor, ..
            } => {
                if self.role(supervisor) != Some("supervisor") {
                    return Ok(Some(format!(
                        "voided by {supervisor:?}, who is not a supervisor on the terminal's roster"
                    )));
                }
                let held: Option<(i64, Option<String>)> = self
                    .tx
                    .query_row(
                        "SELECT at, voided_by FROM records
                         WHERE terminal = ?1 AND id = ?2 AND kind = 'redemption'
                         ORDER BY voided_by IS NULL DESC, seq DESC LIMIT 1",
                        params![self.terminal.id, xinyi_core::hex::encode(target)],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((made_at, voided_by)) = held else {
                    return Ok(Some("voids a redemption the hub does not hold".into()));
                };
                if voided_by.is_some() {
                    return Ok(Some("voids a redemption already voided".into()));
                }
                let window = self
                    .site_at(r.data_version)?
                    .map_or(xinyi_core::wire::config::DEFAULT_VOID_WINDOW_S, |s| {
                        s.void_window_s
                    });
                let elapsed = r.at.0.saturating_sub(made_at);
                if !(0..=window).contains(&elapsed) {
                    return Ok(Some(format!(
                        "made {elapsed} s after the redemption; the site's void window is {window} s"
                    )));
                }
                Ok(None)
            }
            Body::Staff { event, staff, role } => {
                match (event, role) {
                    (StaffEvent::OperatorSet, Some(role)) => {
                        self.roster.insert(staff.clone(), role.clone());
                    }
                    (StaffEvent::OperatorRemoved, _) => {
                        self.roster.remove(staff);
                    }
                    _ => {}
                }
                Ok(None)
            }
            Body::Refusal { .. } => Ok(None),
        }
    }
}

/// A stored amount: the signed bytes keep the value as made, the column
/// only a value that fits (flagged records may carry absurd ones).
fn amount(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

/// A record as uploaded: its signed form, what it says, its chain hash.
type Uploaded<'s> = (&'s SignedRecord, &'s Record, Digest32);

/// The columns of a stored record, in the order [`record_row`] gives
/// their values.
const RECORD_COLUMNS: &str = "terminal, seq, id, hash, prev, at, kind, measure, sub, cti, form, \
     categories, original, discount, payable, companions, reason, target, staff, role, site, \
     unit, data_version, operator, flag, bytes, sig, received_at, basis, holder_checked";

/// The values of a record's row, as [`RECORD_COLUMNS`] names them.
fn record_row(
    terminal: &TerminalInfo,
    unit: &str,
    (signed, r, hash): Uploaded<'_>,
    flag: Option<&str>,
    now: i64,
) -> Result<Vec<Value>, HubError> {
    let hex = xinyi_core::hex::encode;
    let text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    let int = |i: Option<i64>| i.map_or(Value::Null, Value::Int);
    let body = &r.body;
    let (original, discount, payable) = match body.amounts() {
        Some((o, d, p)) => (amount(o), amount(d), amount(p)),
        None => (None, None, None),
    };
    let (form, categories, companions) = match body {
        Body::Redemption {
            form,
            categories,
            companions,
            ..
        } => (
            Some(i64::from(*form)),
            Some(categories.join(",")),
            Some(i64::from(*companions)),
        ),
        _ => (None, None, None),
    };
    let role = match body {
        Body::Staff { role, .. } => role.clone(),
        _ => None,
    };
    Ok(vec![
        Value::Text(terminal.id.clone()),
        Value::Int(to_i64(r.seq, "seq")?),
        Value::Text(hex(&r.id)),
        Value::Text(hash.to_hex()),
        Value::Text(r.prev.to_hex()),
        Value::Int(r.at.0),
        Value::Text(r.body.kind().to_owned()),
        text(body.measure().map(str::to_owned)),
        text(body.sub().map(str::to_owned)),
        text(body.cti().map(hex)),
        int(form),
        text(categories),
        int(original),
        int(discount),
        int(payable),
        int(companions),
        text(body.reason().map(str::to_owned)),
        text(body.target().map(|t| hex(t))),
        text(body.staff().map(str::to_owned)),
        text(role),
        Value::Text(terminal.site.clone()),
        Value::Text(unit.to_owned()),
        Value::Int(to_i64(r.data_version, "data_version")?),
        Value::Text(r.operator.clone()),
        text(flag.map(str::to_owned)),
        Value::Blob(signed.bytes.clone()),
        Value::Blob(signed.sig.to_vec()),
        Value::Int(now),
        text(body.basis().map(|b| b.as_str().to_owned())),
        body.holder_checked()
            .map_or(Value::Null, |h| Value::Int(i64::from(h))),
    ])
}

/// Stores the record rows held back, many to a statement.
fn insert_rows(tx: &Tx<'_>, rows: &mut Vec<Vec<Value>>) -> Result<(), HubError> {
    tx.insert_rows("records", RECORD_COLUMNS, rows)?;
    rows.clear();
    Ok(())
}

/// What an upload's records may have changed in the published usage,
/// for the next refresh.
#[derive(Default)]
struct Touched {
    /// (subject, measure) of each redemption stored or voided.
    usage: BTreeSet<(String, String)>,
    /// The cti (hex) of each dynamic code redeemed or voided.
    codes: BTreeSet<String>,
}

/// What a stored record changes beside itself: a void cancels the
/// redemption it names; a citizen's case filed before a redemption or
/// refusal arrived takes its site (a complaint, the site's unit too).
fn after_insert(
    tx: &Tx<'_>,
    terminal: &TerminalInfo,
    unit: &str,
    r: &Record,
    flag: Option<&str>,
    cases_waiting: bool,
    touched: &mut Touched,
) -> Result<(), HubError> {
    let id = xinyi_core::hex::encode(&r.id);
    if let (Some(target), None) = (r.body.target(), flag) {
        let target = xinyi_core::hex::encode(target);
        // The redemption voided, if this void is the one that voids it.
        // One void cancels one redemption: should the terminal have given
        // its id to several (its journal is then not what a terminal
        // writes), the latest of those not voided yet, as the judge saw.
        type Voided = (Option<String>, Option<String>, Option<String>, Option<i64>);
        let voided: Option<Voided> = tx
            .query_row(
                "UPDATE records SET voided_by = ?3
                 WHERE terminal = ?1 AND seq = (
                     SELECT seq FROM records
                     WHERE terminal = ?1 AND id = ?2 AND kind = 'redemption'
                       AND voided_by IS NULL
                     ORDER BY seq DESC LIMIT 1)
                 RETURNING sub, measure, cti, form",
                params![terminal.id, target, id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        if let Some((sub, measure, cti, form)) = voided {
            if let (Some(sub), Some(measure)) = (sub, measure) {
                touched.usage.insert((sub, measure));
            }
            if let (Some(cti), Some(0)) = (cti, form) {
                touched.codes.insert(cti);
            }
        }
    }
    if let Body::Redemption {
        sub,
        measure,
        cti,
        form,
        ..
    } = &r.body
    {
        touched.usage.insert((sub.clone(), measure.clone()));
        if *form == 0 {
            touched.codes.insert(xinyi_core::hex::encode(cti));
        }
    }
    if cases_waiting && matches!(r.body, Body::Redemption { .. } | Body::Refusal { .. }) {
        tx.prepare_cached(
            "UPDATE cases SET site = ?2, unit = CASE WHEN kind = 'complaint' THEN ?3 ELSE unit END
             WHERE reference = ?1 AND site IS NULL",
        )?
        .execute(params![id, terminal.site, unit])?;
    }
    if let Some(why) = flag {
        tracing::warn!(
            terminal = %terminal.id,
            seq = r.seq,
            kind = r.body.kind(),
            why,
            "record kept but flagged"
        );
    }
    Ok(())
}

impl Hub {
    /// Ingests an upload (`encode_batch` bytes) from an authenticated,
    /// not revoked terminal. All or nothing: a bad signature, a broken
    /// chain or a conflict stores nothing (and is counted for the
    /// integrity report). The receipt is unsigned; [`Hub::seal_receipt`]
    /// signs it for the terminal.
    pub fn upload(&self, terminal: &TerminalInfo, batch: &[u8]) -> Result<UploadReceipt, HubError> {
        self.ingest(terminal, batch).map(|(receipt, _)| receipt)
    }

    /// [`Hub::upload`], its receipt signed with the registry key as the
    /// upload's own transaction found it (no second look at the key's
    /// rotations per upload).
    pub fn upload_sealed(
        &self,
        terminal: &TerminalInfo,
        batch: &[u8],
    ) -> Result<Vec<u8>, HubError> {
        let (receipt, rotations) = self.ingest(terminal, batch)?;
        Ok(receipt.seal(&self.registry_key_after(rotations)))
    }

    /// [`Hub::upload`], with the registry key's rotations counted in the
    /// upload's transaction.
    fn ingest(
        &self,
        terminal: &TerminalInfo,
        batch: &[u8],
    ) -> Result<(UploadReceipt, usize), HubError> {
        match self.try_upload(terminal, batch) {
            Err(HubError::Upload(e)) => {
                let now = self.now();
                let detail = e.to_string();
                tracing::warn!(terminal = %terminal.id, %detail, "upload refused");
                // One row per terminal and reason: a terminal retrying a
                // refused upload every minute adds to a count, not a table.
                self.db().write_for(&terminal.id, |tx| {
                    tx.execute(
                        "INSERT INTO upload_rejection_counts
                            (terminal, reason, count, first_at, last_at, last_detail)
                         VALUES (?1, ?2, 1, ?3, ?3, ?4)
                         ON CONFLICT (terminal, reason) DO UPDATE SET
                            count = upload_rejection_counts.count + 1, last_at = excluded.last_at,
                            last_detail = excluded.last_detail",
                        params![terminal.id, e.reason(), now.0, detail],
                    )?;
                    Ok(())
                })?;
                Err(HubError::Upload(e))
            }
            other => other,
        }
    }

    fn try_upload(
        &self,
        terminal: &TerminalInfo,
        batch: &[u8],
    ) -> Result<(UploadReceipt, usize), HubError> {
        if terminal.revoked() {
            return Err(crate::error::AuthError::Revoked(terminal.id.clone()).into());
        }
        let signed = decode_batch(batch).map_err(|e| match e {
            WireError::TooLarge { limit, found, .. } => UploadError::TooLarge { limit, found },
            other => UploadError::Malformed(other),
        })?;
        let key = xinyi_core::hex::decode_array::<32>(&terminal.public_key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| HubError::corrupt(format!("terminal {} key", terminal.id)))?;
        // Signatures first, outside the transaction: CPU work only, the
        // whole upload at once.
        let rng = rand_core::UnwrapErr(getrandom::SysRng);
        check_all(&signed, &key, rng).map_err(|(index, e)| match e {
            WireError::BadSignature { .. } => UploadError::BadSignature {
                index,
                seq: signed
                    .get(index)
                    .and_then(|s| Record::decode(&s.bytes).ok())
                    .map(|r| r.seq),
            },
            other => UploadError::Malformed(other),
        })?;
        let mut opened = Vec::with_capacity(signed.len());
        for s in &signed {
            let record = Record::decode(&s.bytes).map_err(UploadError::Malformed)?;
            if record.terminal != terminal.id {
                return Err(UploadError::BrokenChain(ChainError::WrongTerminal {
                    seq: record.seq,
                    expected: terminal.id.clone(),
                    found: record.terminal,
                })
                .into());
            }
            opened.push((record, s.hash()));
        }
        let now = self.now();
        // The terminal's own rows only (its records, the cases that name
        // them): uploads of different terminals are stored side by side.
        self.db().write_for(&terminal.id, |tx| {
            let UploadContext {
                unit,
                retired,
                last,
                current,
                cases_waiting,
                mark,
                rotations,
            } = UploadContext::read(tx, terminal)?;
            let mut duplicates = 0u64;
            let mut fresh: Vec<(Record, Digest32, &SignedRecord)> = Vec::new();
            let seqs = opened
                .iter()
                .map(|(r, _)| to_i64(r.seq, "seq"))
                .collect::<Result<Vec<_>, _>>()?;
            // Nothing above the last record held is held: a terminal
            // sending only new records (the usual upload) has nothing to
            // look up.
            let top = match last {
                Some((seq, _)) => to_i64(seq, "seq")?,
                None => 0,
            };
            let below: Vec<i64> = seqs.iter().copied().filter(|&s| s <= top).collect();
            let held = held_hashes(tx, &terminal.id, &below)?;
            for (((record, hash), s), seq) in opened.into_iter().zip(&signed).zip(seqs) {
                match held.get(&seq).cloned() {
                    // Stored once and deleted by retention since.
                    None if seq <= retired => duplicates += 1,
                    Some(h) if h == hash.to_hex() => duplicates += 1,
                    Some(h) => {
                        return Err(UploadError::Conflict {
                            seq: record.seq,
                            held: h,
                            uploaded: hash.to_hex(),
                        }
                        .into());
                    }
                    None => fresh.push((record, hash, s)),
                }
            }
            let chain: Vec<(Record, Digest32)> =
                fresh.iter().map(|(r, h, _)| (r.clone(), *h)).collect();
            check_chain(&terminal.id, last, &chain).map_err(UploadError::BrokenChain)?;
            let mut judge = Judge::new(tx, terminal, current, now.0)?;
            // Cases filed before their record arrived are few: most
            // uploads need not look for them record by record
            // (`cases_waiting`).
            let mut rows = Vec::new();
            let mut touched = Touched::default();
            for (record, hash, s) in &fresh {
                // In chain order: a void's redemption and a redemption's
                // operator may be in the same batch, just before it. A
                // void reads what is stored, so what is held back is
                // stored first.
                if matches!(record.body, Body::Void { .. }) {
                    insert_rows(tx, &mut rows)?;
                }
                let flag = judge.judge(record)?;
                rows.push(record_row(
                    terminal,
                    &unit,
                    (s, record, *hash),
                    flag.as_deref(),
                    now.0,
                )?);
                if matches!(record.body, Body::Void { .. }) {
                    insert_rows(tx, &mut rows)?;
                }
                after_insert(
                    tx,
                    terminal,
                    &unit,
                    record,
                    flag.as_deref(),
                    cases_waiting,
                    &mut touched,
                )?;
            }
            insert_rows(tx, &mut rows)?;
            // The keys whose published usage may have changed, for the
            // next refresh: appended to a log, without a key to look up.
            let pending: Vec<Vec<Value>> = touched
                .usage
                .into_iter()
                .map(|(sub, measure)| vec![Value::Text(sub), Value::Text(measure)])
                .collect();
            tx.insert_rows("usage_pending", "sub, measure", &pending)?;
            // Likewise the dynamic codes whose published redemption may
            // have changed.
            let codes: Vec<Vec<Value>> = touched
                .codes
                .into_iter()
                .map(|c| vec![Value::Text(c)])
                .collect();
            tx.insert_rows("redeemed_pending", "cti", &codes)?;
            let (held_through, held_hash) = held_above(tx, &terminal.id, mark, retired)?;
            mark_held(tx, &terminal.id, held_through)?;
            let receipt = UploadReceipt {
                terminal: terminal.id.clone(),
                stored: fresh.len() as u64,
                duplicates,
                held_through,
                held_hash,
                issued_at: now.0,
            };
            Ok((receipt, rotations))
        })
    }

    /// What the hub holds for a terminal (unsigned; see [`Hub::seal_receipt`]).
    pub fn upload_status(&self, terminal_id: &str) -> Result<UploadReceipt, HubError> {
        let now = self.now();
        self.db().read(|tx| {
            let (held_through, held_hash) = held_through(tx, terminal_id)?;
            Ok(UploadReceipt {
                terminal: terminal_id.to_owned(),
                stored: 0,
                duplicates: 0,
                held_through,
                held_hash,
                issued_at: now.0,
            })
        })
    }

    /// A receipt signed with the registry key: the only form a terminal
    /// acts on.
    pub fn seal_receipt(&self, receipt: &UploadReceipt) -> Vec<u8> {
        receipt.seal(&self.registry_key())
    }
}
