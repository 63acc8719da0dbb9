//! The journal: every confirmed redemption, every refusal and every void,
//! as a record signed with the terminal's key, numbered 1, 2, 3 … and
//! chained by hash (`wire::journal`). A record and what it implies — the
//! use that limits count, the dynamic code's id that replays are checked
//! against, the void mark — are written in one transaction, committed
//! with `synchronous = FULL` before the call returns: a confirmed
//! redemption survives a crash or a power cut.
//!
//! Records stay until the registry has confirmed them — in a statement
//! signed with its key that names this terminal (`wire::receipt`) — and
//! the retention period has passed; the uses table outlives them (limits
//! run up to a calendar year), and the seen credential ids are dropped
//! once the code could not pass the EXPIRED check any more.

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use xinyi_core::credential::{Cti, Form, MAX_DYNAMIC_LIFETIME_S};
use xinyi_core::history::{Basis, DataError, History};
use xinyi_core::ids::SubjectId;
use xinyi_core::measures::MeasureId;
use xinyi_core::verdict::DEFAULT_SKEW_S;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::journal::{Body, Checked, Record, RecordId, SignedRecord, StaffEvent};
use xinyi_core::wire::receipt::Holding;
use xinyi_core::{Amounts, Approval, UnixTime, hex};

use super::data::read_state;
use super::identity::terminal_id;
use super::{Store, StoreError, VoidRefusal, from_sql_int, random_id, to_sql_int};

/// How long uploaded records stay on the terminal by default: 90 days.
pub const DEFAULT_RETENTION_S: i64 = 90 * 86_400;
/// How long confirmed uses stay for limit counting: longer than the
/// longest limit period (a calendar year).
pub const USES_KEEP_S: i64 = 400 * 86_400;
/// Kept beyond a dynamic code's `exp` plus the default skew before its id
/// is forgotten, so a site configured with a larger skew is still covered.
pub const CTI_KEEP_MARGIN_S: i64 = 86_400;
/// The longest operator or supervisor id.
const MAX_OPERATOR_LEN: usize = 64;

/// One journal record as held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub seq: u64,
    pub id: RecordId,
    /// The chain hash: SHA-256 of the record bytes and the signature.
    pub hash: Digest32,
    /// The record, decoded from its signed bytes.
    pub record: Record,
    /// The bytes and signature exactly as made.
    pub signed: SignedRecord,
    /// When the hub confirmed it holds the record.
    pub uploaded_at: Option<UnixTime>,
    /// For a redemption: a later void record voided it.
    pub voided: bool,
}

/// What [`Store::settle_holding`] did with a statement of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settled {
    /// Records newly marked as held by the registry.
    pub marked: usize,
    /// Records the registry no longer holds (it lost them): marked unsent
    /// again, to be sent again.
    pub unmarked: usize,
    /// The statement claimed more records than this terminal made; it was
    /// taken only up to the last record made here.
    pub capped: bool,
    /// The statement was older than one already taken, and changed nothing.
    pub stale: bool,
}

/// What [`Store::purge`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    pub records: usize,
    pub seen_cti: usize,
    pub uses: usize,
}

/// Totals for the staff screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShiftTotals {
    /// Redemptions not voided.
    pub redemptions: u64,
    pub refusals: u64,
    pub voids: u64,
    /// Sums over the redemptions not voided, in fen.
    pub original: u64,
    pub discount: u64,
    pub payable: u64,
}

fn check_operator(operator: &str) -> Result<(), StoreError> {
    if operator.trim().is_empty() || operator.len() > MAX_OPERATOR_LEN {
        return Err(StoreError::Invalid(format!(
            "an operator id must be 1–{MAX_OPERATOR_LEN} characters"
        )));
    }
    Ok(())
}

/// Checks a redemption body before anything is written, so a bad one is a
/// clear error rather than a constraint failure.
fn check_redemption(body: &Body) -> Result<(), StoreError> {
    if let Body::Redemption {
        measure,
        sub,
        cti,
        form,
        ..
    } = body
    {
        MeasureId::parse(measure).map_err(|e| StoreError::Invalid(e.to_string()))?;
        SubjectId::parse(sub).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Cti::new(cti.clone()).map_err(|e| StoreError::Invalid(e.to_string()))?;
        if *form > 1 {
            return Err(StoreError::Invalid(format!(
                "form must be 0 (dynamic) or 1 (printed card), got {form}"
            )));
        }
    }
    Ok(())
}

/// Until when a dynamic code's id must be remembered. With its `exp`:
/// `exp` plus the skew (the EXPIRED check lets it pass until then) plus a
/// margin. Without it, from the bound every accepted code obeys:
/// `iat ≤ at + skew` and `exp − iat ≤ 300 s`.
fn cti_keep_until(at: UnixTime, exp: Option<UnixTime>) -> i64 {
    let exp = exp.map_or(
        at.0.saturating_add(DEFAULT_SKEW_S + MAX_DYNAMIC_LIFETIME_S),
        |e| e.0,
    );
    exp.max(at.0)
        .saturating_add(DEFAULT_SKEW_S + CTI_KEEP_MARGIN_S)
}

fn amount(fen: Option<u64>) -> Result<Option<i64>, StoreError> {
    fen.map(|f| to_sql_int(f, "amount")).transpose()
}

fn signature(sig: Vec<u8>) -> Result<[u8; 64], StoreError> {
    sig.try_into()
        .map_err(|_| StoreError::Corrupt("a journal signature is not 64 bytes".into()))
}

/// The chain's head: the last record's seq and hash (0 and zeros before
/// the first). The last record is never purged, so this survives purges.
fn head(conn: &Connection) -> Result<(u64, Digest32), StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok((0, Digest32::default())),
        Some((seq, hash)) => {
            let seq = from_sql_int(seq, "a record's seq")?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("record {seq}'s hash is not 32 bytes")))?;
            Ok((seq, Digest32(hash)))
        }
    }
}

/// Signs the next record and writes it, with the use and the seen code id
/// for a redemption, inside the caller's transaction.
pub(super) fn write(
    tx: &Transaction<'_>,
    key: &SigningKey,
    operator: &str,
    at: UnixTime,
    body: Body,
    cti_exp: Option<UnixTime>,
) -> Result<JournalEntry, StoreError> {
    let (last, prev) = head(tx)?;
    let data_version = read_state(tx)?.map_or(0, |s| s.version);
    // The enrolled id; before enrollment (tests, demos) the key's id.
    let terminal = match terminal_id(tx)? {
        Some(id) => id,
        None => xinyi_core::wire::key_id(key.verifying_key().as_bytes()),
    };
    let record = Record {
        id: random_id()?,
        terminal,
        seq: last + 1,
        prev,
        at,
        data_version,
        operator: operator.to_owned(),
        body,
    };
    let signed = record.sign(key);
    let hash = signed.hash();
    // The trusted-time floor is a high-water mark: a record made while the
    // clock is set back is journaled at that time but does not lower it.
    tx.prepare_cached("UPDATE trusted_time SET floor = max(floor, ?1) WHERE id = 1")?
        .execute([at.0])?;
    let body = &record.body;
    let amounts = body.amounts();
    tx.prepare_cached(
        "INSERT INTO journal (seq, id, kind, at, operator, measure, sub, reason,
                              original, discount, payable, target, bytes, sig, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        to_sql_int(record.seq, "seq")?,
        record.id.as_slice(),
        record.body.kind(),
        at.0,
        operator,
        body.measure(),
        body.sub(),
        body.reason(),
        amount(amounts.map(|a| a.0))?,
        amount(amounts.map(|a| a.1))?,
        amount(amounts.map(|a| a.2))?,
        body.target().map(|t| t.as_slice()),
        signed.bytes,
        signed.sig.as_slice(),
        hash.0.as_slice(),
    ])?;
    if let Body::Redemption {
        measure,
        sub,
        cti,
        form,
        ..
    } = &record.body
    {
        tx.prepare_cached(
            "INSERT INTO uses (sub, measure, at, record_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![sub, measure, at.0, record.id.as_slice()])?;
        if *form == 0 {
            tx.prepare_cached(
                "INSERT INTO seen_cti (cti, keep_until, record_id, voided) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (cti) DO UPDATE SET
                     keep_until = max(keep_until, excluded.keep_until),
                     record_id = excluded.record_id,
                     voided = 0",
            )?
            .execute(params![
                cti,
                cti_keep_until(at, cti_exp),
                record.id.as_slice()
            ])?;
        }
    }
    Ok(JournalEntry {
        seq: record.seq,
        id: record.id,
        hash,
        record,
        signed,
        uploaded_at: None,
        voided: false,
    })
}

impl Store {
    /// Appends a redemption or a refusal, signed with `key`: seq is the
    /// last plus one, prev the last record's hash, the id 128 random bits,
    /// the data version the one held. Committed before it returns.
    ///
    /// A dynamic code's id is remembered until its latest possible `exp`
    /// plus skew; [`Store::redeem`] knows the real `exp`. Voids go through
    /// [`Store::void`], which checks them.
    pub fn append(
        &mut self,
        key: &SigningKey,
        operator: &str,
        at: UnixTime,
        body: Body,
    ) -> Result<JournalEntry, StoreError> {
        self.append_inner(key, operator, at, body, None)
    }

    /// Records the clerk's confirmation of an `OK` verdict with the amounts
    /// computed for it (`measures.md`, "Redemption").
    pub fn redeem(
        &mut self,
        key: &SigningKey,
        operator: &str,
        at: UnixTime,
        approval: &Approval,
        amounts: &Amounts,
        checked: Checked,
    ) -> Result<JournalEntry, StoreError> {
        let c = &approval.claims;
        let body = Body::Redemption {
            measure: approval.measure.id.to_string(),
            sub: c.sub.to_string(),
            cti: c.cti.as_bytes().to_vec(),
            form: match c.form {
                Form::Dynamic => 0,
                Form::PrintedCard => 1,
            },
            categories: approval.categories.iter().map(|c| c.code()).collect(),
            original: amounts.original.0,
            discount: amounts.discount.0,
            payable: amounts.payable.0,
            companions: amounts.companions,
            checked: Some(checked),
        };
        self.append_inner(key, operator, at, body, Some(c.exp))
    }

    /// Records a change to the roster or a failed sign-in (a staff
    /// record), made by `operator` (the supervisor who changed the roster,
    /// or the id typed at a failed sign-in).
    pub fn record_staff(
        &mut self,
        key: &SigningKey,
        operator: &str,
        at: UnixTime,
        event: StaffEvent,
        staff: &str,
        role: Option<&str>,
    ) -> Result<JournalEntry, StoreError> {
        let body = Body::Staff {
            event,
            staff: staff.to_owned(),
            role: role.map(str::to_owned),
        };
        self.append_inner(key, operator, at, body, None)
    }

    /// Records a refused scan: the reason code and detail, and the subject
    /// and code id when the code could be decoded; no amounts.
    pub fn record_refusal(
        &mut self,
        key: &SigningKey,
        operator: &str,
        at: UnixTime,
        measure: &MeasureId,
        refusal: &xinyi_core::Refusal,
        basis: Basis,
    ) -> Result<JournalEntry, StoreError> {
        let body = Body::Refusal {
            reason: refusal.reason.code().to_owned(),
            measure: measure.as_str().to_owned(),
            sub: refusal.claims.as_ref().map(|c| c.sub.to_string()),
            cti: refusal.claims.as_ref().map(|c| c.cti.as_bytes().to_vec()),
            detail: refusal.detail.clone(),
            basis: Some(basis),
        };
        self.append_inner(key, operator, at, body, None)
    }

    fn append_inner(
        &mut self,
        key: &SigningKey,
        operator: &str,
        at: UnixTime,
        body: Body,
        cti_exp: Option<UnixTime>,
    ) -> Result<JournalEntry, StoreError> {
        check_operator(operator)?;
        check_redemption(&body)?;
        if let Body::Staff { staff, .. } = &body
            && (staff.is_empty() || staff.len() > xinyi_core::wire::journal::MAX_STAFF_ID)
        {
            return Err(StoreError::Invalid(format!(
                "a staff record names an operator of 1–{} bytes",
                xinyi_core::wire::journal::MAX_STAFF_ID
            )));
        }
        if matches!(body, Body::Void { .. }) {
            return Err(StoreError::Invalid(
                "a void is recorded with Store::void, which checks its target".into(),
            ));
        }
        // IMMEDIATE: the sequence number is read and used under the write
        // lock, so two connections can never take the same one.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Body::Redemption { cti, form: 0, .. } = &body {
            // A second confirmation of the same dynamic code (a double tap,
            // a retry after a crash) must not count twice.
            let held: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM seen_cti WHERE cti = ?1 AND voided = 0)",
                )?
                .query_row([cti], |r| r.get(0))?;
            if held {
                return Err(StoreError::AlreadyRedeemed(hex::encode(cti)));
            }
        }
        let entry = write(&tx, key, operator, at, body, cti_exp)?;
        tx.commit()?;
        Ok(entry)
    }

    /// Voids a redemption: only one not yet voided, at most `window_s`
    /// seconds after it was made. Writes a void record signed by `key`
    /// (operator and supervisor `supervisor`) and marks the redemption and
    /// its use voided, in one transaction; nothing is deleted.
    pub fn void(
        &mut self,
        key: &SigningKey,
        supervisor: &str,
        target: RecordId,
        reason: &str,
        at: UnixTime,
        window_s: i64,
    ) -> Result<JournalEntry, StoreError> {
        check_operator(supervisor)?;
        let refused = |why| StoreError::Void {
            id: hex::encode(&target),
            why,
        };
        if reason.trim().is_empty() {
            return Err(refused(VoidRefusal::NoReason));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, i64, bool)> = tx
            .prepare_cached("SELECT kind, at, voided FROM journal WHERE id = ?1")?
            .query_row([target.as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((kind, made_at, voided)) = row else {
            return Err(refused(VoidRefusal::NotFound));
        };
        if kind != "redemption" {
            return Err(refused(VoidRefusal::NotARedemption(kind)));
        }
        if voided {
            return Err(refused(VoidRefusal::AlreadyVoided));
        }
        let elapsed_s = at.0.saturating_sub(made_at);
        if elapsed_s > window_s {
            return Err(refused(VoidRefusal::WindowPassed {
                elapsed_s,
                window_s,
            }));
        }
        let body = Body::Void {
            target,
            reason: reason.to_owned(),
            supervisor: supervisor.to_owned(),
        };
        let entry = write(&tx, key, supervisor, at, body, None)?;
        tx.execute(
            "UPDATE journal SET voided = 1 WHERE id = ?1",
            [target.as_slice()],
        )?;
        tx.execute(
            "UPDATE uses SET voided = 1 WHERE record_id = ?1",
            [target.as_slice()],
        )?;
        // A voided redemption no longer stands, so the same code may be
        // redeemed again while it is valid (the clerk redoes it right).
        tx.execute(
            "UPDATE seen_cti SET voided = 1 WHERE record_id = ?1",
            [target.as_slice()],
        )?;
        tx.commit()?;
        Ok(entry)
    }

    /// Up to `limit` records the hub has not confirmed, in seq order.
    pub fn unsent(&self, limit: usize) -> Result<Vec<SignedRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT bytes, sig FROM journal WHERE uploaded_at IS NULL ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|row| {
            let (bytes, sig) = row?;
            Ok(SignedRecord {
                bytes,
                sig: signature(sig)?,
            })
        })
        .collect()
    }

    /// How many records the hub has not confirmed.
    pub fn unsent_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM journal WHERE uploaded_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        from_sql_int(n, "the unsent count")
    }

    /// Takes a statement of what the registry holds of this terminal's
    /// records — from an upload receipt or from metadata, already opened
    /// with the pinned registry key — and marks the journal by it:
    ///
    /// - a statement about another terminal is refused (a bundle exported
    ///   for another terminal must not touch this one's records);
    /// - one older than the statement already taken changes nothing (a
    ///   replayed receipt cannot undo a newer one);
    /// - records through its `through` are marked uploaded, but never past
    ///   the last record made here (the registry cannot hold what was never
    ///   made); a hash that differs from the record held here is refused;
    /// - records after `through` that were marked are unmarked, to be sent
    ///   again: the registry lost them (a restored backup).
    pub fn settle_holding(
        &mut self,
        h: &Holding,
        terminal_id: &str,
        at: UnixTime,
    ) -> Result<Settled, StoreError> {
        if h.terminal != terminal_id {
            return Err(StoreError::ForeignStatement {
                names: h.terminal.clone(),
                this: terminal_id.to_owned(),
            });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: Option<i64> = tx
            .query_row("SELECT as_of FROM hub_holding WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if taken.is_some_and(|t| h.as_of < t) {
            return Ok(Settled {
                stale: true,
                ..Settled::default()
            });
        }
        let (last, _) = head(&tx)?;
        let capped = h.through > last;
        let through = h.through.min(last);
        if let (Some(hash), false) = (h.hash, capped) {
            let held: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT hash FROM journal WHERE seq = ?1",
                    [to_sql_int(through, "seq")?],
                    |r| r.get(0),
                )
                .optional()?;
            if held.is_some_and(|held| held != hash.0) {
                return Err(StoreError::HoldingMismatch { seq: through });
            }
        }
        let through_sql = to_sql_int(through, "seq")?;
        let marked = tx.execute(
            "UPDATE journal SET uploaded_at = ?1 WHERE seq <= ?2 AND uploaded_at IS NULL",
            params![at.0, through_sql],
        )?;
        let unmarked = tx.execute(
            "UPDATE journal SET uploaded_at = NULL WHERE seq > ?1 AND uploaded_at IS NOT NULL",
            [through_sql],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO hub_holding (id, through, hash, as_of) VALUES (1, ?1, ?2, ?3)",
            params![through_sql, h.hash.map(|d| d.0.to_vec()), h.as_of],
        )?;
        tx.commit()?;
        if capped {
            tracing::warn!(
                claimed = h.through,
                made = last,
                "the registry claims records this terminal never made; taken only up to the last one made here"
            );
        }
        if unmarked > 0 {
            tracing::warn!(
                unmarked,
                through,
                "the registry no longer holds records it had confirmed; they will be sent again"
            );
        }
        Ok(Settled {
            marked,
            unmarked,
            capped,
            stale: false,
        })
    }

    /// The seq through which the registry's latest signed statement says
    /// it holds this terminal's records (0 before any).
    pub fn hub_holds_through(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn
            .query_row("SELECT through FROM hub_holding WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        from_sql_int(n.unwrap_or(0), "the registry's holding")
    }

    /// The last record's seq and chain hash (0 and zeros before the first).
    pub fn journal_head(&self) -> Result<(u64, Digest32), StoreError> {
        head(&self.conn)
    }

    /// The newest `limit` records, newest first, decoded.
    pub fn recent(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        self.entries(
            "SELECT seq, bytes, sig, hash, uploaded_at, voided FROM journal
             ORDER BY seq DESC LIMIT ?1",
            [i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// The records with seq ≥ `from_seq`, oldest first, at most `limit`
    /// (for exports and for checking the chain).
    pub fn records_from(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        self.entries(
            "SELECT seq, bytes, sig, hash, uploaded_at, voided FROM journal
             WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            [
                i64::try_from(from_seq).unwrap_or(i64::MAX),
                i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
    }

    /// One record by id, if held.
    pub fn entry(&self, id: &RecordId) -> Result<Option<JournalEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, bytes, sig, hash, uploaded_at, voided FROM journal WHERE id = ?1",
        )?;
        let mut rows = stmt.query([id.as_slice()])?;
        rows.next()?.map(entry_of_row).transpose()
    }

    fn entries(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(args)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(entry_of_row(row)?);
        }
        Ok(out)
    }

    /// Deletes uploaded records older than `retention_s` (made and
    /// confirmed before `now − retention_s`), code ids past their keep
    /// time, and uses older than [`USES_KEEP_S`]. Only records within the
    /// registry's latest signed statement of what it holds are deleted;
    /// never the last record (the chain continues from it).
    pub fn purge(&mut self, now: UnixTime, retention_s: i64) -> Result<PurgeReport, StoreError> {
        if retention_s < 0 {
            return Err(StoreError::Invalid(format!(
                "retention must not be negative, got {retention_s} s"
            )));
        }
        let cutoff = now.0.saturating_sub(retention_s);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let records = tx.execute(
            "DELETE FROM journal
             WHERE uploaded_at IS NOT NULL AND uploaded_at < ?1 AND at < ?1
               AND seq < (SELECT max(seq) FROM journal)
               AND seq <= (SELECT through FROM hub_holding WHERE id = 1)",
            [cutoff],
        )?;
        let seen_cti = tx.execute("DELETE FROM seen_cti WHERE keep_until < ?1", [now.0])?;
        let uses = tx.execute(
            "DELETE FROM uses WHERE at < ?1",
            [now.0.saturating_sub(USES_KEEP_S)],
        )?;
        tx.commit()?;
        Ok(PurgeReport {
            records,
            seen_cti,
            uses,
        })
    }

    /// Totals of the records made at `from ≤ at < until`, by one operator
    /// or (`None`) by all.
    pub fn shift_totals(
        &self,
        operator: Option<&str>,
        from: UnixTime,
        until: UnixTime,
    ) -> Result<ShiftTotals, StoreError> {
        let sql_any = "SELECT
                coalesce(sum(kind = 'redemption' AND voided = 0), 0),
                coalesce(sum(kind = 'refusal'), 0),
                coalesce(sum(kind = 'void'), 0),
                coalesce(sum(CASE WHEN kind = 'redemption' AND voided = 0 THEN original END), 0),
                coalesce(sum(CASE WHEN kind = 'redemption' AND voided = 0 THEN discount END), 0),
                coalesce(sum(CASE WHEN kind = 'redemption' AND voided = 0 THEN payable END), 0)
            FROM journal WHERE at >= ?1 AND at < ?2";
        // Sums of non-negative columns; a negative one cannot occur.
        let map = |r: &rusqlite::Row<'_>| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
            Ok(ShiftTotals {
                redemptions: n(0)?,
                refusals: n(1)?,
                voids: n(2)?,
                original: n(3)?,
                discount: n(4)?,
                payable: n(5)?,
            })
        };
        Ok(match operator {
            None => self
                .conn
                .prepare_cached(sql_any)?
                .query_row(params![from.0, until.0], map)?,
            Some(op) => self
                .conn
                .prepare_cached(&format!("{sql_any} AND operator = ?3"))?
                .query_row(params![from.0, until.0, op], map)?,
        })
    }
}

fn entry_of_row(row: &rusqlite::Row<'_>) -> Result<JournalEntry, StoreError> {
    let seq = from_sql_int(row.get(0)?, "a record's seq")?;
    let signed = SignedRecord {
        bytes: row.get(1)?,
        sig: signature(row.get(2)?)?,
    };
    let stored: Vec<u8> = row.get(3)?;
    let hash = signed.hash();
    if stored.as_slice() != hash.0.as_slice() {
        return Err(StoreError::Corrupt(format!(
            "record {seq}'s stored hash does not match its bytes"
        )));
    }
    let record = Record::decode(&signed.bytes)
        .map_err(|e| StoreError::Corrupt(format!("record {seq}: {e}")))?;
    Ok(JournalEntry {
        seq,
        id: record.id,
        hash,
        record,
        signed,
        uploaded_at: row.get::<_, Option<i64>>(4)?.map(UnixTime),
        voided: row.get(5)?,
    })
}

/// Limits and replays are counted from the store, through the same trait
/// the conformance tests implement in memory.
impl History for Store {
    fn uses_between(
        &self,
        sub: &SubjectId,
        measure: &MeasureId,
        from: UnixTime,
        until: UnixTime,
    ) -> Result<u32, DataError> {
        // Its own uses, and the registry's published ones of periods that
        // start in the range, each record once: a record this terminal
        // holds counts as it holds it (it knows its own voids first).
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM uses
                         WHERE sub = ?1 AND measure = ?2 AND at >= ?3 AND at < ?4 AND voided = 0)
                      + (SELECT count(*) FROM published_uses p
                         WHERE p.sub = ?1 AND p.measure = ?2
                           AND p.period_start >= ?3 AND p.period_start < ?4
                           AND NOT EXISTS (SELECT 1 FROM uses u WHERE u.record_id = p.record_id))",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![sub.as_str(), measure.as_str(), from.0, until.0],
                    |r| r.get(0),
                )
            })
            .map_err(StoreError::from)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn cti_redeemed(&self, cti: &Cti) -> Result<bool, DataError> {
        let found: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM seen_cti WHERE cti = ?1 AND voided = 0)
                     OR EXISTS (SELECT 1 FROM published_cti p WHERE p.cti = ?1
                                AND NOT EXISTS (SELECT 1 FROM seen_cti s WHERE s.cti = ?1))",
            )
            .and_then(|mut s| s.query_row([cti.as_bytes()], |r| r.get(0)))
            .map_err(StoreError::from)?;
        Ok(found)
    }

    fn holds_use(&self, record: &RecordId) -> Result<bool, DataError> {
        let found: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM uses WHERE record_id = ?1)
                     OR EXISTS (SELECT 1 FROM published_uses WHERE record_id = ?1)",
            )
            .and_then(|mut s| s.query_row([record.as_slice()], |r| r.get(0)))
            .map_err(StoreError::from)?;
        Ok(found)
    }
}
