//! Published usage (`measures.md`, "Limits hold for the subject, not for
//! the counter"): with every version, the hub publishes for each limited
//! measure the confirmed, not voided redemptions of each subject in the
//! measure's current period, as record ids, so a terminal that cannot
//! reach the hub at a scan still counts the uses made at other counters —
//! each once, its own included.
//!
//! Only limited measures, only the periods current at publication, only
//! subjects with a use: what the limits need and nothing else. Rows carry
//! `changed_in` like listings, so a busy day goes out as small deltas; a
//! period that ended becomes a removal, and removals older than
//! [`REMOVAL_KEPT_S`] are dropped, raising the floor below which a
//! terminal gets a snapshot instead of a delta.
//!
//! Likewise the dynamic codes redeemed anywhere (`credential.md`,
//! REPLAYED "in synced data"): each `cti`, kept for [`REDEEMED_KEPT_S`]
//! after its redemption — as long as the code could pass the EXPIRED
//! check — then removed.

use std::collections::{BTreeMap, BTreeSet};

use crate::db::{DbError, Dialect, OptionalExtension as _, Row, ToSql, Tx, Value, params};
use xinyi_core::credential::{Cti, MAX_DYNAMIC_LIFETIME_S};
use xinyi_core::history::RecordId;
use xinyi_core::ids::SubjectId;
use xinyi_core::measures::MeasureId;
use xinyi_core::verdict::DEFAULT_SKEW_S;
use xinyi_core::wire::eligibility::{Item, UsageEntry};
use xinyi_core::{UnixTime, hex};

use crate::admin::load_catalogue;
use crate::error::HubError;
use crate::hub::Hub;
use crate::publish::{Published, current_version, next_version, to_i64, to_u64, unchanged};

/// How long a removal of an ended period is kept for deltas.
pub const REMOVAL_KEPT_S: i64 = 35 * 86_400;

/// How long after its redemption a dynamic code's cti is published: its
/// longest lifetime and the clock skew allowed on either side.
pub const REDEEMED_KEPT_S: i64 = MAX_DYNAMIC_LIFETIME_S + 2 * DEFAULT_SKEW_S;

type Key = (String, String, i64);

fn ids_blob(ids: &[RecordId]) -> Vec<u8> {
    ids.concat()
}

fn ids_of(blob: &[u8]) -> Result<Vec<RecordId>, HubError> {
    blob.chunks(16)
        .map(|c| RecordId::try_from(c).map_err(|_| HubError::corrupt("a usage row's record ids")))
        .collect()
}

/// The usage terminals should see at `now`, from the records.
fn wanted(tx: &Tx<'_>, now: UnixTime) -> Result<BTreeMap<Key, Vec<RecordId>>, HubError> {
    let mut out: BTreeMap<Key, Vec<RecordId>> = BTreeMap::new();
    let Some((_, catalogue)) = load_catalogue(tx)? else {
        return Ok(out);
    };
    let mut stmt = tx.prepare_cached(
        "SELECT sub, id FROM records
         WHERE kind = 'redemption' AND measure = ?1 AND at >= ?2 AND at < ?3
           AND voided_by IS NULL AND sub IS NOT NULL",
    )?;
    for m in catalogue.measures() {
        let Some(limit) = m.limit else { continue };
        let (from, until) = limit.per.bounds(now);
        let mut rows = stmt.query(params![m.id.as_str(), from.0, until.0])?;
        while let Some(r) = rows.next()? {
            let sub: String = r.get(0)?;
            let id: RecordId =
                hex::decode_array(&r.get::<_, String>(1)?).map_err(HubError::corrupt)?;
            out.entry((sub, m.id.to_string(), from.0))
                .or_default()
                .push(id);
        }
    }
    for ids in out.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    Ok(out)
}

/// Each limited measure's current period: measure id → [from, until).
type Periods = BTreeMap<String, (i64, i64)>;

/// Each limited measure's current period at `now`, and a stamp of them
/// with the catalogue they come from: while it stays the same, only the
/// keys in `usage_pending` can have changed.
fn periods(tx: &Tx<'_>, now: UnixTime) -> Result<(Periods, String), HubError> {
    let mut out = BTreeMap::new();
    let Some((toml, catalogue)) = load_catalogue(tx)? else {
        return Ok((out, String::new()));
    };
    let mut stamp = xinyi_core::wire::Digest32::of(toml.as_bytes()).to_hex();
    for m in catalogue.measures() {
        let Some(limit) = m.limit else { continue };
        let (from, until) = limit.per.bounds(now);
        stamp.push_str(&format!(" {}:{}", m.id, from.0));
        out.insert(m.id.to_string(), (from.0, until.0));
    }
    Ok((out, stamp))
}

/// A table `k` of one column (`k.column1`) holding a list of `n` values,
/// bound from `?first` on (see [`crate::db::padded_marks`]: the padding
/// repeats the last value, so a join with it may find the last key's rows
/// twice). Joined first (`CROSS JOIN`, which SQLite takes as the order),
/// each key is looked up by its own index; with `IN (…)` and no
/// statistics SQLite reads a measure's every redemption instead.
fn key_rows(first: usize, n: usize) -> (String, Vec<usize>) {
    let (marks, at) = crate::db::padded_marks(first, n);
    let rows = marks
        .split(", ")
        .map(|m| format!("({m})"))
        .collect::<Vec<_>>()
        .join(", ");
    (format!("(VALUES {rows}) AS k"), at)
}

/// The not voided redemptions (subject, record id) of the subjects in
/// `keys` ([`key_rows`] from `?4`), of measure `?1`, in [`?2`, `?3`).
fn uses_of(keys: &str) -> String {
    format!(
        "SELECT r.sub, r.id FROM {keys} CROSS JOIN records r
         WHERE r.sub = k.column1 AND r.kind = 'redemption' AND r.measure = ?1
           AND r.at >= ?2 AND r.at < ?3 AND r.voided_by IS NULL"
    )
}

/// The not voided redemptions (cti, time) of the dynamic codes in `keys`
/// ([`key_rows`] from `?2`) made after `?1`.
fn uses_of_codes(keys: &str) -> String {
    format!(
        "SELECT r.cti, r.at FROM {keys} CROSS JOIN records r
         WHERE r.cti = k.column1 AND r.kind = 'redemption' AND r.form = 0
           AND r.at > ?1 AND r.voided_by IS NULL"
    )
}

/// Keys taken from `usage_pending` at a time.
const PENDING_CHUNK: usize = 256;

/// Recomputes the usage of the keys taken from `usage_pending` (each a
/// subject and measure a stored redemption or void named), as
/// [`refresh_all`] would for them; how many rows changed.
fn refresh_pending(
    tx: &Tx<'_>,
    pending: &[(String, String)],
    periods: &Periods,
    version: i64,
    now: UnixTime,
) -> Result<u64, HubError> {
    let mut by_measure: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (sub, measure) in pending {
        if periods.contains_key(measure) {
            by_measure.entry(measure).or_default().push(sub);
        }
    }
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for (measure, subs) in by_measure {
        let (from, until) = periods[measure];
        for chunk in subs.chunks(PENDING_CHUNK) {
            let (keys, at) = key_rows(4, chunk.len());
            let values: Vec<&dyn ToSql> = [&measure as &dyn ToSql, &from, &until]
                .into_iter()
                .chain(at.iter().map(|&i| &chunk[i] as &dyn ToSql))
                .collect();
            let mut want: BTreeMap<&str, Vec<RecordId>> =
                chunk.iter().map(|s| (*s, Vec::new())).collect();
            let mut stmt = tx.prepare_cached(&uses_of(&keys))?;
            let mut found = stmt.query(values)?;
            while let Some(r) = found.next()? {
                let sub: String = r.get(0)?;
                let id: RecordId =
                    hex::decode_array(&r.get::<_, String>(1)?).map_err(HubError::corrupt)?;
                if let Some(ids) = want.get_mut(sub.as_str()) {
                    ids.push(id);
                }
            }
            let (marks, at) = crate::db::padded_marks(3, chunk.len());
            let values: Vec<&dyn ToSql> = [&measure as &dyn ToSql, &from]
                .into_iter()
                .chain(at.iter().map(|&i| &chunk[i] as &dyn ToSql))
                .collect();
            let mut held: BTreeMap<String, (Vec<u8>, bool)> = BTreeMap::new();
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT sub, uses, removed FROM usage
                 WHERE measure = ?1 AND period_start = ?2 AND sub IN ({marks})"
            ))?;
            let mut found = stmt.query(values)?;
            while let Some(r) = found.next()? {
                held.insert(r.get(0)?, (r.get(1)?, r.get(2)?));
            }
            for (sub, mut ids) in want {
                ids.sort_unstable();
                ids.dedup();
                let blob = ids_blob(&ids);
                let removed = ids.is_empty();
                let same = match held.get(sub) {
                    None => removed,
                    Some((_, true)) => removed,
                    Some((uses, false)) => !removed && *uses == blob,
                };
                if !same {
                    rows.push(vec![
                        Value::Text(sub.to_owned()),
                        Value::Text(measure.to_owned()),
                        Value::Int(from),
                        Value::Blob(blob),
                        Value::Int(i64::from(removed)),
                        Value::Int(version),
                        Value::Int(now.0),
                    ]);
                }
            }
        }
    }
    tx.insert_rows_then(
        "usage",
        "sub, measure, period_start, uses, removed, changed_in, changed_at",
        &rows,
        "ON CONFLICT (sub, measure, period_start) DO UPDATE SET uses = excluded.uses,
            removed = excluded.removed, changed_in = excluded.changed_in,
            changed_at = excluded.changed_at",
    )?;
    Ok(rows.len() as u64)
}

/// Rows taken out of a log (`usage_pending`, `redeemed_pending`) by one
/// statement.
const PENDING_TAKE: usize = 4096;

/// Takes up to `n` rows out of the log `table` (rows without a key: a key
/// repeats once per upload that named it), of those stored before this
/// statement, and gives what `columns` hold once each, in order. A record
/// stored after the statement leaves its row for the next take, and one
/// stored before it is seen by the reads after it. Also how many rows
/// were taken.
fn take_log<T: Ord>(
    tx: &Tx<'_>,
    table: &str,
    columns: &str,
    n: usize,
    f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
) -> Result<(Vec<T>, usize), HubError> {
    // The log has no key: its rows are taken by where they lie.
    let sql = match tx.dialect() {
        Dialect::Sqlite => format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} LIMIT ?1)
             RETURNING {columns}"
        ),
        Dialect::Postgres => format!(
            "DELETE FROM {table} WHERE ctid = ANY (ARRAY (SELECT ctid FROM {table} LIMIT ?1))
             RETURNING {columns}"
        ),
    };
    let rows: Vec<T> = tx
        .prepare_cached(&sql)?
        .query_map([to_i64(n as u64, "rows")?], f)?
        .collect::<Result<_, _>>()?;
    let taken = rows.len();
    let once: BTreeSet<T> = rows.into_iter().collect();
    Ok((once.into_iter().collect(), taken))
}

/// [`take_log`] of the usage keys waiting.
fn take_pending(tx: &Tx<'_>, n: usize) -> Result<(Vec<(String, String)>, usize), HubError> {
    take_log(tx, "usage_pending", "sub, measure", n, |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// What the last refresh was made against (see [`periods`]), if any
/// refresh since the state was last cleared: while it is the stamp of
/// now, only the keys in `usage_pending` can have changed since.
fn held_stamp(tx: &Tx<'_>) -> Result<Option<String>, HubError> {
    Ok(tx
        .query_row("SELECT stamp FROM usage_state WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Folds up to [`PENDING_TAKE`] waiting keys into the usage rows, marked
/// with `version`, when the last refresh's stamp still holds (otherwise
/// the refresh recomputes everything); whether a full chunk was taken.
fn fold_some(tx: &Tx<'_>, version: u64, now: UnixTime) -> Result<bool, HubError> {
    let version = to_i64(version, "version")?;
    let (periods, stamp) = periods(tx, now)?;
    if held_stamp(tx)? != Some(stamp) {
        return Ok(false);
    }
    let (keys, taken) = take_pending(tx, PENDING_TAKE)?;
    refresh_pending(tx, &keys, &periods, version, now)?;
    let (_, codes) = fold_redeemed(tx, PENDING_TAKE, version, now)?;
    Ok(taken == PENDING_TAKE || codes == PENDING_TAKE)
}

/// Folds the rows waiting now in the log `table`, [`PENDING_TAKE`] at a
/// time, with `fold` (given how many rows to take; gives how many usage
/// rows changed and how many log rows it took); how many usage rows
/// changed. Rows logged meanwhile wait for the next refresh, so a busy
/// hour cannot keep this one going.
fn drain(
    tx: &Tx<'_>,
    table: &str,
    most: Option<u64>,
    mut fold: impl FnMut(usize) -> Result<(u64, usize), HubError>,
) -> Result<u64, HubError> {
    let waiting: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
    let mut left = to_u64(waiting)?.min(most.unwrap_or(u64::MAX));
    let mut changed = 0;
    while left > 0 {
        let n = usize::try_from(left)
            .unwrap_or(PENDING_TAKE)
            .min(PENDING_TAKE);
        let (c, taken) = fold(n)?;
        changed += c;
        if taken < n {
            break;
        }
        left -= n as u64;
    }
    Ok(changed)
}

/// Brings the published usage to what terminals should see at `now`,
/// marking each changed row with `version`; how many rows changed. Only
/// the keys a stored redemption or void named since the last refresh are
/// recomputed, a few thousand at a time, unless the catalogue or a
/// limited measure's period changed (or retention deleted records): then
/// every one is.
pub(crate) fn refresh(tx: &Tx<'_>, version: u64, now: UnixTime) -> Result<u64, HubError> {
    refresh_within(tx, version, now, None)
}

/// [`refresh`], folding at most `most` rows of each log and removing at
/// most [`PENDING_TAKE`] expired codes (`None`: all of them); the rest
/// wait for the next publication. A full recompute, when one is due, is
/// never cut short.
fn refresh_within(
    tx: &Tx<'_>,
    version: u64,
    now: UnixTime,
    most: Option<u64>,
) -> Result<u64, HubError> {
    let expire_version = version;
    let version = to_i64(version, "version")?;
    let (periods, stamp) = periods(tx, now)?;
    let held = held_stamp(tx)?;
    // With no state at all (a registry upgraded, or retention deleted
    // records since) the redeemed codes are recomputed too.
    let tracked = held.is_some();
    let mut changed = 0;
    if held.as_deref() == Some(stamp.as_str()) {
        changed += drain(tx, "usage_pending", most, |n| {
            let (keys, taken) = take_pending(tx, n)?;
            Ok((refresh_pending(tx, &keys, &periods, version, now)?, taken))
        })?;
    } else {
        // Every key waiting is recomputed with the rest.
        tx.execute("DELETE FROM usage_pending", [])?;
        changed = refresh_all(tx, version, now)?;
        tx.execute(
            "INSERT INTO usage_state (id, stamp) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp",
            [&stamp],
        )?;
    }
    if tracked {
        changed += drain(tx, "redeemed_pending", most, |n| {
            fold_redeemed(tx, n, version, now)
        })?;
        changed += match most {
            None => expire_redeemed(tx, version, now)?,
            Some(_) => expire_some(tx, expire_version, now)?,
        };
    } else {
        tx.execute("DELETE FROM redeemed_pending", [])?;
        changed += refresh_redeemed(tx, version, now)?;
    }
    drop_old_removals(tx, now)?;
    Ok(changed)
}

/// Recomputes every key's usage from the records; how many rows changed.
fn refresh_all(tx: &Tx<'_>, version: i64, now: UnixTime) -> Result<u64, HubError> {
    let mut want = wanted(tx, now)?;
    let mut changed = 0u64;
    let held: Vec<(Key, Vec<u8>)> = tx
        .prepare_cached("SELECT sub, measure, period_start, uses FROM usage WHERE removed = 0")?
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut remove = tx.prepare_cached(
        "UPDATE usage SET removed = 1, uses = ?6, changed_in = ?4, changed_at = ?5
         WHERE sub = ?1 AND measure = ?2 AND period_start = ?3",
    )?;
    for (key, blob) in held {
        match want.get(&key) {
            Some(ids) if ids_blob(ids) == blob => {
                want.remove(&key);
            }
            Some(_) => {}
            None => {
                remove.execute(params![
                    key.0,
                    key.1,
                    key.2,
                    version,
                    now.0,
                    Vec::<u8>::new()
                ])?;
                changed += 1;
            }
        }
    }
    let mut put = tx.prepare_cached(
        "INSERT INTO usage (sub, measure, period_start, uses, removed, changed_in, changed_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)
         ON CONFLICT (sub, measure, period_start) DO UPDATE SET uses = excluded.uses,
            removed = 0, changed_in = excluded.changed_in, changed_at = excluded.changed_at",
    )?;
    for ((sub, measure, start), ids) in want {
        put.execute(params![sub, measure, start, ids_blob(&ids), version, now.0])?;
        changed += 1;
    }
    Ok(changed)
}

/// Old removals go; a terminal holding a version before them gets a
/// snapshot from now on.
fn drop_old_removals(tx: &Tx<'_>, now: UnixTime) -> Result<(), HubError> {
    let cut = now.0.saturating_sub(REMOVAL_KEPT_S);
    for table in ["usage", "redeemed"] {
        let dropped: Option<i64> = tx
            .query_row(
                &format!(
                    "SELECT MAX(changed_in) FROM {table} WHERE removed = 1 AND changed_at < ?1"
                ),
                [cut],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if let Some(v) = dropped {
            tx.execute(
                "INSERT INTO usage_floor (id, version) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET version = CASE
                     WHEN excluded.version > usage_floor.version THEN excluded.version
                     ELSE usage_floor.version END",
                [v],
            )?;
            tx.execute(
                &format!("DELETE FROM {table} WHERE removed = 1 AND changed_at < ?1"),
                [cut],
            )?;
        }
    }
    Ok(())
}

/// Recomputes the codes taken from `redeemed_pending` (each the cti of a
/// dynamic code a stored redemption or void named), as
/// [`refresh_redeemed`] would for them; how many rows changed, and how
/// many log rows were taken (up to `n`).
fn fold_redeemed(
    tx: &Tx<'_>,
    n: usize,
    version: i64,
    now: UnixTime,
) -> Result<(u64, usize), HubError> {
    let (codes, taken) = take_log(tx, "redeemed_pending", "cti", n, |r| r.get::<_, String>(0))?;
    let cut = now.0.saturating_sub(REDEEMED_KEPT_S);
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for chunk in codes.chunks(PENDING_CHUNK) {
        let (keys, at) = key_rows(2, chunk.len());
        let values: Vec<&dyn ToSql> = std::iter::once(&cut as &dyn ToSql)
            .chain(at.iter().map(|&i| &chunk[i] as &dyn ToSql))
            .collect();
        // Each code's latest use, taken here rather than by `GROUP BY`,
        // with which SQLite would read every redemption instead.
        let mut want: BTreeMap<String, i64> = BTreeMap::new();
        let mut stmt = tx.prepare_cached(&uses_of_codes(&keys))?;
        let mut found = stmt.query(values)?;
        while let Some(r) = found.next()? {
            let (cti, at): (String, i64) = (r.get(0)?, r.get(1)?);
            let latest = want.entry(cti).or_insert(at);
            *latest = (*latest).max(at);
        }
        let (marks, at) = crate::db::padded_marks(1, chunk.len());
        let values: Vec<&dyn ToSql> = at.iter().map(|&i| &chunk[i] as &dyn ToSql).collect();
        let held: BTreeMap<String, (i64, bool)> = tx
            .prepare_cached(&format!(
                "SELECT cti, until, removed FROM redeemed WHERE cti IN ({marks})"
            ))?
            .query_map(values, |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<Result<_, _>>()?;
        for cti in chunk {
            let row = match (want.get(cti), held.get(cti)) {
                (Some(at), held) => {
                    let until = at.saturating_add(REDEEMED_KEPT_S);
                    if held == Some(&(until, false)) {
                        continue;
                    }
                    (until, false)
                }
                (None, Some(&(until, false))) => (until, true),
                (None, _) => continue,
            };
            rows.push(vec![
                Value::Text(cti.clone()),
                Value::Int(row.0),
                Value::Int(i64::from(row.1)),
                Value::Int(version),
                Value::Int(now.0),
            ]);
        }
    }
    tx.insert_rows_then(
        "redeemed",
        "cti, until, removed, changed_in, changed_at",
        &rows,
        "ON CONFLICT (cti) DO UPDATE SET until = excluded.until, removed = excluded.removed,
            changed_in = excluded.changed_in, changed_at = excluded.changed_at",
    )?;
    Ok((rows.len() as u64, taken))
}

/// Removes the published codes whose time ran out; how many.
fn expire_redeemed(tx: &Tx<'_>, version: i64, now: UnixTime) -> Result<u64, HubError> {
    let n = tx.execute(
        "UPDATE redeemed SET removed = 1, changed_in = ?1, changed_at = ?2
         WHERE removed = 0 AND until <= ?2",
        params![version, now.0],
    )?;
    Ok(n as u64)
}

/// Removes up to [`PENDING_TAKE`] codes whose time ran out, for
/// `version`; how many. Nothing while the codes are not tracked (the
/// next refresh recomputes them all).
fn expire_some(tx: &Tx<'_>, version: u64, now: UnixTime) -> Result<u64, HubError> {
    let (_, stamp) = periods(tx, now)?;
    if held_stamp(tx)? != Some(stamp) {
        return Ok(0);
    }
    let n = tx.execute(
        "UPDATE redeemed SET removed = 1, changed_in = ?1, changed_at = ?2
         WHERE cti IN (SELECT cti FROM redeemed WHERE removed = 0 AND until <= ?2 LIMIT ?3)",
        params![
            to_i64(version, "version")?,
            now.0,
            to_i64(PENDING_TAKE as u64, "count")?
        ],
    )?;
    Ok(n as u64)
}

/// Brings the published redeemed codes to those of the last
/// [`REDEEMED_KEPT_S`]; how many rows changed.
fn refresh_redeemed(tx: &Tx<'_>, version: i64, now: UnixTime) -> Result<u64, HubError> {
    let mut want: BTreeMap<String, i64> = tx
        .prepare_cached(
            "SELECT cti, MAX(at) FROM records
             WHERE kind = 'redemption' AND form = 0 AND at > ?1 AND voided_by IS NULL
               AND cti IS NOT NULL
             GROUP BY cti",
        )?
        .query_map([now.0.saturating_sub(REDEEMED_KEPT_S)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .map(|row| row.map(|(cti, at)| (cti, at.saturating_add(REDEEMED_KEPT_S))))
        .collect::<Result<_, _>>()?;
    let held: Vec<(String, i64)> = tx
        .prepare_cached("SELECT cti, until FROM redeemed WHERE removed = 0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut changed = 0u64;
    for (cti, until) in held {
        match want.get(&cti) {
            Some(u) if *u == until => {
                want.remove(&cti);
            }
            Some(_) => {}
            None => {
                tx.prepare_cached(
                    "UPDATE redeemed SET removed = 1, changed_in = ?2, changed_at = ?3
                     WHERE cti = ?1",
                )?
                .execute(params![cti, version, now.0])?;
                changed += 1;
            }
        }
    }
    let mut put = tx.prepare_cached(
        "INSERT INTO redeemed (cti, until, removed, changed_in, changed_at)
         VALUES (?1, ?2, 0, ?3, ?4)
         ON CONFLICT (cti) DO UPDATE SET until = excluded.until, removed = 0,
            changed_in = excluded.changed_in, changed_at = excluded.changed_at",
    )?;
    for (cti, until) in want {
        put.execute(params![cti, until, version, now.0])?;
        changed += 1;
    }
    Ok(changed)
}

/// The oldest version a delta may start from (0: any).
pub(crate) fn delta_floor(tx: &Tx<'_>) -> Result<u64, HubError> {
    let v: Option<i64> = tx
        .query_row("SELECT version FROM usage_floor WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    to_u64(v.unwrap_or(0))
}

/// Calls `f` with the usage rows changed after `since` (removals only in
/// deltas), or every one in force (`None`), in key order.
pub(crate) fn for_each(
    tx: &Tx<'_>,
    since: Option<u64>,
    f: &mut impl FnMut(Item) -> Result<(), HubError>,
) -> Result<(), HubError> {
    let delta = since.is_some();
    let since = to_i64(since.unwrap_or(0), "version")?;
    let mut stmt = tx.prepare_cached(
        "SELECT sub, measure, period_start, uses, removed FROM usage
         WHERE changed_in > ?1 AND (?2 OR removed = 0)
         ORDER BY sub, measure, period_start",
    )?;
    let mut rows = stmt.query(params![since, delta])?;
    while let Some(r) = rows.next()? {
        let sub = SubjectId::parse(&r.get::<_, String>(0)?).map_err(HubError::corrupt)?;
        let measure = MeasureId::parse(&r.get::<_, String>(1)?).map_err(HubError::corrupt)?;
        let period_start = UnixTime(r.get(2)?);
        f(if r.get::<_, bool>(4)? {
            Item::RemoveUsage {
                sub,
                measure,
                period_start,
            }
        } else {
            Item::Usage(UsageEntry {
                sub,
                measure,
                period_start,
                uses: ids_of(&r.get::<_, Vec<u8>>(3)?)?,
            })
        })?;
    }
    let mut stmt = tx.prepare_cached(
        "SELECT cti, until, removed FROM redeemed
         WHERE changed_in > ?1 AND (?2 OR removed = 0)
         ORDER BY cti",
    )?;
    let mut rows = stmt.query(params![since, delta])?;
    while let Some(r) = rows.next()? {
        let cti = Cti::from_hex(&r.get::<_, String>(0)?).map_err(HubError::corrupt)?;
        f(if r.get::<_, bool>(2)? {
            Item::RemoveRedeemed { cti }
        } else {
            Item::Redeemed {
                cti,
                until: UnixTime(r.get(1)?),
            }
        })?;
    }
    Ok(())
}

/// Rows changed after `since` (for choosing a delta or a snapshot).
pub(crate) fn count_since(tx: &Tx<'_>, since: u64) -> Result<u64, HubError> {
    let n: i64 = tx.query_row(
        "SELECT (SELECT COUNT(*) FROM usage WHERE changed_in > ?1)
              + (SELECT COUNT(*) FROM redeemed WHERE changed_in > ?1)",
        [to_i64(since, "version")?],
        |r| r.get(0),
    )?;
    to_u64(n)
}

/// Whether usage was folded in for a version not yet published (between
/// [`Hub::fold_waiting_usage`]'s transactions and the publication's): an
/// artefact built from what is held now would not be `version`'s.
pub(crate) fn folded_past(tx: &Tx<'_>, version: u64) -> Result<bool, HubError> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM usage WHERE changed_in > ?1)
             OR EXISTS (SELECT 1 FROM redeemed WHERE changed_in > ?1)",
        [to_i64(version, "version")?],
        |r| r.get(0),
    )?)
}

impl Hub {
    /// Publishes a version when the usage terminals should see changed
    /// since the latest one (records arrived, a period ended); `serve`
    /// calls it every `usage_publish_interval_s`.
    pub fn publish_usage(&self) -> Result<Published, HubError> {
        let now = self.now();
        self.fold_waiting_at(now)?;
        self.publish_folded(now)
    }

    /// Folds the usage keys and codes waiting into the next version, a few
    /// thousand to a transaction, without publishing it: what
    /// [`Hub::publish_usage`] does first, so that uploads (on SQLite,
    /// every write) and imports wait for one chunk at most, never for the
    /// backlog. Until the version is published, artefacts that are not
    /// stored already are refused as not ready ([`HubError::Publishing`]).
    pub fn fold_waiting_usage(&self) -> Result<(), HubError> {
        self.fold_waiting_at(self.now())
    }

    fn fold_waiting_at(&self, now: UnixTime) -> Result<(), HubError> {
        let waiting: i64 = self.db().read(|tx| {
            Ok(tx.query_row(
                "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM usage_pending
                     UNION ALL SELECT COUNT(*) AS n FROM redeemed_pending) AS logs",
                [],
                |r| r.get(0),
            )?)
        })?;
        let mut rounds = to_u64(waiting)?.div_ceil(PENDING_TAKE as u64);
        while rounds > 0 {
            rounds -= 1;
            let more = self.db().write(|tx| {
                if current_version(tx)? == 0 {
                    return Ok(false);
                }
                fold_some(tx, next_version(tx)?, now)
            })?;
            if !more {
                break;
            }
        }
        // The codes whose time ran out, likewise: after a backlog of
        // uploads, hundreds of thousands at once.
        loop {
            let expired = self.db().write(|tx| {
                if current_version(tx)? == 0 {
                    return Ok(0);
                }
                expire_some(tx, next_version(tx)?, now)
            })?;
            if expired < PENDING_TAKE as u64 {
                break;
            }
        }
        Ok(())
    }

    /// The publication of [`Hub::publish_usage`], after the folds.
    fn publish_folded(&self, now: UnixTime) -> Result<Published, HubError> {
        self.db().write(|tx| {
            if current_version(tx)? == 0 {
                return unchanged(tx);
            }
            let next = next_version(tx)?;
            let folded: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM usage WHERE changed_in >= ?1)
                     OR EXISTS (SELECT 1 FROM redeemed WHERE changed_in >= ?1)",
                [to_i64(next, "version")?],
                |r| r.get(0),
            )?;
            let started = std::time::Instant::now();
            // What was logged while the folds ran waits for the next
            // publication, beyond a chunk: the writer is held for the
            // set hash, not for another backlog.
            let refreshed = refresh_within(tx, next, now, Some(PENDING_TAKE as u64))?;
            if refreshed == 0 && !folded {
                return unchanged(tx);
            }
            tracing::info!(
                version = next,
                rows = refreshed,
                ms = started.elapsed().as_millis(),
                "usage refreshed for publication"
            );
            self.publish_refreshed(tx, next, "usage of limited measures")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refresh looks each key up through its own index: a plan through
    /// `records_by_measure` reads every redemption of the measure for
    /// each chunk of keys, and held SQLite's write lock for minutes over
    /// a million records.
    #[test]
    fn a_refresh_looks_each_key_up_by_its_own_index_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join(crate::db::DB_FILE)).unwrap();
        let n = PENDING_CHUNK;
        let cases = [
            (uses_of(&key_rows(4, n).0), 3 + n, "records_of_subject"),
            (uses_of_codes(&key_rows(2, n).0), 1 + n, "records_by_cti"),
            (crate::check::REDEEMED_QUERY.to_owned(), 2, "records_by_cti"),
        ];
        db.with_sqlite(|conn| {
            for (sql, params, index) in &cases {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let nulls = std::iter::repeat_n(rusqlite::types::Null, *params);
                let plan: Vec<String> = stmt
                    .query_map(rusqlite::params_from_iter(nulls), |r| r.get(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert!(
                    plan.iter()
                        .any(|step| step.contains(&format!("USING INDEX {index} "))),
                    "{sql}: {plan:?}"
                );
            }
            Ok(())
        })
        .unwrap();
    }

    /// On PostgreSQL a code's and a record's lookups go through the hash
    /// indexes of migration 0017: the partial index's condition is implied
    /// by the queries' (a dynamic code), and equality is all they ask.
    /// With sequential scans discouraged and no other index to take, a
    /// plan without the index means the query cannot use it.
    #[test]
    fn code_and_record_lookups_use_the_hash_indexes_on_postgres() {
        if !xinyi_testkit::pg::available() {
            eprintln!("did not run: PostgreSQL's programs are not installed");
            return;
        }
        let url = xinyi_testkit::pg::server().fresh_database();
        let db = crate::db::Db::open_at(&crate::db::Location::Postgres {
            url,
            pool: 1,
            ca: None,
        })
        .unwrap();
        let n = 3;
        let (keys, at) = key_rows(2, n);
        let codes: Vec<String> = (0..n).map(|i| format!("{:032x}", i + 1)).collect();
        let cut = 0i64;
        let check = crate::check::REDEEMED_QUERY;
        let plans = db
            .write(|tx| {
                // The other indexes an empty table's plan may prefer go
                // (the database is this test's own), and so do
                // sequential scans.
                tx.execute_batch(
                    "DROP INDEX records_recent_dynamic; DROP INDEX records_by_measure;
                     SET LOCAL enable_seqscan = off",
                )?;
                let plan = |sql: &str, values: Vec<&dyn ToSql>| -> Result<String, HubError> {
                    let lines = tx
                        .prepare(&format!("EXPLAIN {sql}"))?
                        .query_map(values, |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(lines.join("\n"))
                };
                let by_code = plan(
                    &uses_of_codes(&keys),
                    std::iter::once(&cut as &dyn ToSql)
                        .chain(at.iter().map(|&i| &codes[i] as &dyn ToSql))
                        .collect(),
                )?;
                let limit = 10i64;
                let checked = plan(check, vec![&codes[0] as &dyn ToSql, &limit])?;
                let by_id = plan(
                    "SELECT at FROM records WHERE id = ?1",
                    vec![&codes[1] as &dyn ToSql],
                )?;
                Ok([by_code, checked, by_id])
            })
            .unwrap();
        for (plan, index) in
            plans
                .iter()
                .zip(["records_by_cti", "records_by_cti", "records_by_ref"])
        {
            assert!(plan.contains(&format!("using {index} ")), "{index}: {plan}");
        }
        let kinds: Vec<String> = db
            .read(|tx| {
                Ok(tx
                    .prepare(
                        "SELECT indexdef FROM pg_indexes
                         WHERE indexname IN ('records_by_cti', 'records_by_ref')",
                    )?
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?)
            })
            .unwrap();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert!(kinds.iter().all(|d| d.contains("USING hash")), "{kinds:?}");
    }
}
