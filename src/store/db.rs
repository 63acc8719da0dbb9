//! Opening the terminal database: the only code that creates the file, sets
//! connection pragmas and runs migrations.
//!
//! Pragmas are per connection, so they are set every time a connection
//! opens and never inside a migration: WAL (the UI and the sync worker read
//! while the other writes), `synchronous = FULL` (a committed journal record
//! survives a power cut, not just a crash), foreign keys on, and a busy
//! timeout so two connections wait for each other instead of failing.
//!
//! Migrations are numbered SQL files under `migrations/`, compiled in with
//! `include_str!` and applied in order; `PRAGMA user_version` counts how
//! many have run. They are append-only: a released file is never edited.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::StoreError;

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// `NNNN_what`, matching the file name.
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init",
        sql: include_str!("migrations/0001_init.sql"),
    },
    Migration {
        name: "0002_shift_index",
        sql: include_str!("migrations/0002_shift_index.sql"),
    },
    Migration {
        name: "0003_operators",
        sql: include_str!("migrations/0003_operators.sql"),
    },
    Migration {
        name: "0004_trust",
        sql: include_str!("migrations/0004_trust.sql"),
    },
];

/// How long a connection waits for another one's write lock. Long enough
/// for a clerk's confirmation to wait out a whole snapshot being applied
/// by the sync worker (seconds for a million listings) instead of failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema version this build writes: the number of migrations.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Opens (creating if needed) the database at `path`, sets the pragmas and
/// brings the schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    create_private(path)?;
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    configure(&conn)?;
    migrate(&mut conn, MIGRATIONS.len())?;
    Ok(conn)
}

/// Creates the file owner-only (0600) before SQLite sees it: it holds
/// pseudonyms and masked names, and SQLite gives its `-wal` and `-shm`
/// files the same permissions as the database file.
fn create_private(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io)?;
    Ok(())
}

/// Sets this connection's pragmas. Call on every connection that opens
/// the database.
pub fn configure(conn: &Connection) -> Result<(), StoreError> {
    // First, so that switching to WAL below already waits for other
    // connections instead of failing.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: conn.path().unwrap_or_default().into(),
            mode,
        });
    }
    // FULL syncs the WAL on every commit: a record that `append` returned
    // is on disk even if the power goes.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 16 MiB of page cache: a snapshot of a million listings is written
    // in one transaction.
    conn.pragma_update(None, "cache_size", -16_384)?;
    // Deleted rows (a revoked terminal's wiped lists, purged records) are
    // overwritten, not left in free pages for whoever copies the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// The schema version of an open database (`PRAGMA user_version`).
pub fn schema_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies the migrations after the database's version up to `target`
/// (a count of migrations), each in its own transaction together with the
/// version bump, so a crash leaves the schema at a whole step.
pub fn migrate(conn: &mut Connection, target: usize) -> Result<(), StoreError> {
    let target = target.min(MIGRATIONS.len());
    loop {
        // IMMEDIATE: two processes opening a fresh file at once must not
        // both run the same step; the second waits, then sees it done.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&tx)?;
        if version > latest_version() {
            return Err(StoreError::TooNew {
                path: tx.path().unwrap_or_default().into(),
                found: version,
                known: latest_version(),
            });
        }
        let done = usize::try_from(version).unwrap_or(0);
        let Some(step) = MIGRATIONS.get(done).filter(|_| done < target) else {
            return Ok(());
        };
        tx.execute_batch(step.sql)
            .map_err(|source| StoreError::Migration {
                name: step.name,
                source,
            })?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Checks the migration list itself: names numbered 0001, 0002 … without
/// gaps, no pragmas inside (they belong to [`configure`]), and every step
/// applies cleanly to an empty database.
pub fn validate() -> Result<(), String> {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        let number = format!("{:04}_", i + 1);
        if !m.name.starts_with(&number) || m.name.len() <= number.len() {
            return Err(format!("migration {} must be named {number}<what>", m.name));
        }
        let code: String = m
            .sql
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        if code.to_ascii_uppercase().contains("PRAGMA") {
            return Err(format!(
                "migration {} sets a pragma; pragmas are set when the connection opens",
                m.name
            ));
        }
        if code.trim().is_empty() {
            return Err(format!("migration {} is empty", m.name));
        }
    }
    let mut conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
    migrate(&mut conn, MIGRATIONS.len()).map_err(|e| e.to_string())?;
    let version = schema_version(&conn).map_err(|e| e.to_string())?;
    if version != latest_version() {
        return Err(format!(
            "after migrating, user_version is {version}, not {}",
            latest_version()
        ));
    }
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .map_err(|e| e.to_string())
        .and_then(|s| {
            if s == "ok" {
                Ok(())
            } else {
                Err(format!("integrity check after migrating: {s}"))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        validate().unwrap();
    }

    #[test]
    fn every_connection_gets_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/terminal.db");
        let conn = open(&path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous must be FULL");
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "database is readable by others: {mode:o}");
        }
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 1).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 1);
        migrate(&mut conn, MIGRATIONS.len()).unwrap();
        migrate(&mut conn, MIGRATIONS.len()).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
    }
}
