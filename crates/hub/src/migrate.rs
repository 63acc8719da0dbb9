//! Moving a registry between databases: every table copied row for row
//! from one [`Db`] to another whose schema is empty (SQLite to PostgreSQL
//! for `xinyi-hub migrate --to postgres://…`; PostgreSQL to a SQLite
//! snapshot for a backup), then verified.
//!
//! The source is read in one read transaction (one consistent moment,
//! while `serve` goes on), table by table in the order of their
//! references, each in chunks ordered by its key so that no table is ever
//! held in memory whole. The target is written in one write transaction:
//! a copy cut short leaves the target as empty as it was. The columns
//! copied are those both schemas have (PostgreSQL numbers `case_steps`
//! for their order, which SQLite keeps in its row ids); the numbers
//! PostgreSQL hands out itself continue after the highest copied.
//!
//! The copy is verified, in the target's own transaction before it
//! commits, by what terminals and reports depend on: the same rows in
//! every table, the same latest published version and set hash, and the
//! set hash recomputed from the copied lists equal to the source's.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::{Db, Dialect, ToSql, Tx, Value};
use crate::error::HubError;

/// The tables, each after those it references, with the columns that
/// order it (a unique key, so chunks never overlap).
const TABLES: &[(&str, &[&str])] = &[
    ("artefacts", &["sha256"]),
    ("versions", &["version"]),
    ("eligibility_artefacts", &["from_version", "to_version"]),
    ("issuer_keys", &["kid"]),
    ("revoked_cards", &["cti"]),
    ("catalogue", &["id"]),
    ("catalogue_revisions", &["revision"]),
    ("sites", &["id"]),
    ("enrollment_codes", &["code_hash"]),
    ("terminals", &["id"]),
    ("nonces", &["terminal", "nonce"]),
    ("registry_rotations", &["seq"]),
    ("records", &["terminal", "seq"]),
    ("records_retired", &["terminal"]),
    ("records_held", &["terminal"]),
    ("upload_rejection_counts", &["terminal", "reason"]),
    ("usage", &["sub", "measure", "period_start"]),
    ("usage_floor", &["id"]),
    ("redeemed", &["cti"]),
    ("usage_pending", &["sub", "measure"]),
    ("redeemed_pending", &["cti"]),
    ("usage_state", &["id"]),
    ("users", &["name"]),
    ("console_sessions", &["token_hash"]),
    ("audit_log", &["seq"]),
    ("submissions", &["id"]),
    ("listings", &["kind", "sub", "category", "recognised_on"]),
    ("exclusions", &["kind", "sub", "recorded_on"]),
    ("identity_seal", &["id"]),
    ("measure_requests", &["id"]),
    ("platforms", &["id"]),
    ("cases", &["id"]),
    ("case_steps", &[]),
];

/// Columns PostgreSQL numbers itself: (table, column).
const IDENTITIES: &[(&str, &str)] = &[
    ("registry_rotations", "seq"),
    ("submissions", "id"),
    ("catalogue_revisions", "revision"),
    ("measure_requests", "id"),
    ("cases", "id"),
    ("case_steps", "seq"),
];

/// Rows read and written at a time.
const CHUNK: usize = 2_000;

/// What a copy moved, table by table, and what was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// The latest published data version (0: none yet).
    pub data_version: u64,
    /// The set hash that version published, hex (empty: none).
    pub set_hash: String,
}

impl CopyReport {
    /// Rows of table `t`.
    pub fn rows_of(&self, t: &str) -> u64 {
        self.rows.get(t).copied().unwrap_or(0)
    }
}

/// The columns of `table`, in the order the schema has them.
fn columns(tx: &Tx<'_>, table: &str) -> Result<Vec<String>, HubError> {
    let sql = match tx.dialect() {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Dialect::Postgres => {
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1
             ORDER BY ordinal_position"
        }
    };
    let cols = tx
        .prepare(sql)?
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if cols.is_empty() {
        return Err(HubError::Internal(format!(
            "the database has no table {table}"
        )));
    }
    Ok(cols)
}

fn count(tx: &Tx<'_>, table: &str) -> Result<u64, HubError> {
    let n: i64 = tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Whether the registry in `tx` holds anything at all.
fn is_empty(tx: &Tx<'_>) -> Result<bool, HubError> {
    for (t, _) in TABLES {
        if count(tx, t)? > 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A column name as a statement names it.
fn quoted(c: &str) -> String {
    format!("\"{c}\"")
}

/// The order `case_steps` were taken in: SQLite's row ids, PostgreSQL's
/// numbers.
fn step_order(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "case_id, at, rowid",
        Dialect::Postgres => "case_id, at, seq",
    }
}

/// Copies one table from `src` to `dst`; the rows copied.
fn copy_table(src: &Tx<'_>, dst: &Tx<'_>, table: &str, key: &[&str]) -> Result<u64, HubError> {
    let theirs = columns(dst, table)?;
    let cols: Vec<String> = columns(src, table)?
        .into_iter()
        .filter(|c| theirs.contains(c) && !(table == "case_steps" && c == "seq"))
        .collect();
    let list = cols
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(", ");
    let key_at: Vec<usize> = key
        .iter()
        .map(|k| {
            cols.iter()
                .position(|c| c == k)
                .ok_or_else(|| HubError::Internal(format!("table {table} has no key column {k}")))
        })
        .collect::<Result<_, _>>()?;
    let order = if key.is_empty() {
        step_order(src.dialect()).to_owned()
    } else {
        key.iter().map(|k| quoted(k)).collect::<Vec<_>>().join(", ")
    };
    let first = format!("SELECT {list} FROM {table} ORDER BY {order} LIMIT {CHUNK}");
    let next = (!key.is_empty()).then(|| {
        let params = (1..=key.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT {list} FROM {table} WHERE ({order}) > ({params}) ORDER BY {order} LIMIT {CHUNK}"
        )
    });
    let mut copied = 0_u64;
    let mut after: Option<Vec<Value>> = None;
    loop {
        let rows: Vec<Vec<Value>> = {
            let (sql, p): (&str, Vec<&dyn ToSql>) = match (&after, &next) {
                (Some(last), Some(next)) => (next, last.iter().map(|v| v as &dyn ToSql).collect()),
                _ => (&first, Vec::new()),
            };
            let mut stmt = src.prepare(sql)?;
            let n = cols.len();
            stmt.query_map(p, |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())?
                .collect::<Result<_, _>>()?
        };
        dst.insert_rows(table, &list, &rows)?;
        copied += rows.len() as u64;
        // A table without a key (case_steps, a few rows per case) is read
        // whole; the others go on after the last key read.
        if rows.len() < CHUNK || next.is_none() {
            if next.is_none() && rows.len() == CHUNK {
                return Err(HubError::Internal(format!(
                    "table {table} has more than {CHUNK} rows and no key to read it by"
                )));
            }
            break;
        }
        let last = rows
            .last()
            .map(|r| key_at.iter().map(|&i| r[i].clone()).collect());
        after = last;
    }
    Ok(copied)
}

/// PostgreSQL's own numbers continue after the highest copied.
fn continue_numbers(dst: &Tx<'_>) -> Result<(), HubError> {
    if dst.dialect() != Dialect::Postgres {
        return Ok(());
    }
    for (table, col) in IDENTITIES {
        dst.execute_batch(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{col}'),
                           COALESCE((SELECT MAX({col}) FROM {table}), 0) + 1, false)"
        ))?;
    }
    Ok(())
}

/// The latest published version and its set hash, and the set hash the
/// lists held now give (the same, unless a change is yet to be
/// published).
fn published(tx: &Tx<'_>) -> Result<(u64, String, String), HubError> {
    let version = crate::publish::current_version(tx)?;
    let stored = match crate::publish::version_info(tx, version)? {
        Some(v) => v.set_hash.to_hex(),
        None => String::new(),
    };
    let (now, _, _) = crate::publish::set_hash(tx)?;
    Ok((version, stored, now.digest().to_hex()))
}

/// Copies the registry in `from` into `to`, whose registry must be empty
/// (its schema made, no rows); verifies the copy before it commits. `from`
/// is read in one read transaction: writers go on meanwhile (a backup).
pub fn copy(from: &Db, to: &Db) -> Result<CopyReport, HubError> {
    from.read(|src| copy_from(src, to))
}

/// [`copy`] holding `from`'s write lock while it copies, so nothing is
/// written there meanwhile (a move).
pub fn copy_locked(from: &Db, to: &Db) -> Result<CopyReport, HubError> {
    from.write(|src| copy_from(src, to))
}

fn copy_from(src: &Tx<'_>, to: &Db) -> Result<CopyReport, HubError> {
    to.write(|dst| {
        if !is_empty(dst)? {
            return Err(HubError::Invalid(format!(
                "{} already holds a registry: copy only into an empty database",
                to.describe()
            )));
        }
        let mut report = CopyReport::default();
        for (table, key) in TABLES {
            let n = copy_table(src, dst, table, key)?;
            report.rows.insert((*table).to_owned(), n);
        }
        continue_numbers(dst)?;
        verify(src, dst, &mut report)?;
        Ok(report)
    })
}

/// Checks the copy in `dst` against `src`: every table's rows, the latest
/// version and its set hash, recomputed from the copied lists.
fn verify(src: &Tx<'_>, dst: &Tx<'_>, report: &mut CopyReport) -> Result<(), HubError> {
    for (table, _) in TABLES {
        let (theirs, ours) = (count(src, table)?, count(dst, table)?);
        if theirs != ours || report.rows_of(table) != ours {
            return Err(HubError::Internal(format!(
                "copy of {table}: {theirs} rows in {} but {ours} copied; nothing was kept",
                "the source"
            )));
        }
    }
    let (version, stored, theirs) = published(src)?;
    let (copied_version, copied_stored, recomputed) = published(dst)?;
    if (version, &stored) != (copied_version, &copied_stored) {
        return Err(HubError::Internal(format!(
            "copy: latest version {copied_version} ({copied_stored}) where the source has \
             {version} ({stored}); nothing was kept"
        )));
    }
    if recomputed != theirs {
        return Err(HubError::Internal(format!(
            "copy: the copied lists give set hash {recomputed}, the source's {theirs}; \
             nothing was kept"
        )));
    }
    report.data_version = version;
    report.set_hash = stored;
    Ok(())
}

/// The rows of every table of a registry (for reports and checks).
pub fn counts(db: &Db) -> Result<BTreeMap<String, u64>, HubError> {
    db.read(|tx| {
        TABLES
            .iter()
            .map(|(t, _)| Ok(((*t).to_owned(), count(tx, t)?)))
            .collect()
    })
}
