//! Opening the terminal database: the only code that creates the file, sets
//! connection pragmas and runs migrations.
//!
//! Pragmas are per connection, so they are set every time a connection
//! opens and never inside a migration: the ones the hub's database gets
//! too ([`xinyi_sqlite::configure`]: a busy timeout so two connections wait
//! for each other instead of failing, WAL so the UI and the sync worker
//! read while the other writes, `synchronous = FULL` so a committed journal
//! record survives a power cut, foreign keys on), then the terminal's own
//! cache size and secure delete.
//!
//! Migrations are numbered SQL files under `migrations/`, compiled in with
//! `include_str!` and applied in order by the runner the hub shares
//! ([`xinyi_sqlite::migrate`]); `PRAGMA user_version` counts how many have
//! run. They are append-only: a released file is never edited.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
pub use xinyi_sqlite::Migration;

use super::StoreError;

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
    Migration {
        name: "0005_checked",
        sql: include_str!("migrations/0005_checked.sql"),
    },
    Migration {
        name: "0006_usage",
        sql: include_str!("migrations/0006_usage.sql"),
    },
    Migration {
        name: "0007_channels",
        sql: include_str!("migrations/0007_channels.sql"),
    },
];

/// How long a connection waits for another one's write lock. Long enough
/// for a clerk's confirmation to wait out a whole snapshot being applied
/// by the sync worker (seconds for a million listings) instead of failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema version this build writes: the number of migrations.
pub fn latest_version() -> i64 {
    xinyi_sqlite::latest_version(MIGRATIONS)
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

/// Creates the file owner-only (0600), and its folder, before SQLite sees
/// it: it holds pseudonyms and masked names, and SQLite gives its `-wal`
/// and `-shm` files the same permissions as the database file.
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
    xinyi_sqlite::create_private(path).map_err(io)
}

/// The terminal's error for what the shared runner reports about the
/// database `conn` has open.
fn store_error(conn: &Connection, e: xinyi_sqlite::Error) -> StoreError {
    use xinyi_sqlite::Error as E;
    let path = || conn.path().unwrap_or_default().into();
    match e {
        E::TooNew { found, known } => StoreError::TooNew {
            path: path(),
            found,
            known,
        },
        E::BadVersion(v) => StoreError::Invalid(format!(
            "the terminal database {} has schema version {v}, which no xinyi writes",
            path().display()
        )),
        E::Migration { name, source } => StoreError::Migration { name, source },
        E::NoWal { mode } => StoreError::NoWal { path: path(), mode },
        E::List(why) => StoreError::Invalid(why),
        E::Sql(e) => StoreError::Sql(e),
    }
}

/// Sets this connection's pragmas. Call on every connection that opens
/// the database.
pub fn configure(conn: &Connection) -> Result<(), StoreError> {
    xinyi_sqlite::configure(conn, BUSY_TIMEOUT).map_err(|e| store_error(conn, e))?;
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
    xinyi_sqlite::schema_version(conn)
}

/// Applies the migrations after the database's version up to `target`
/// (a count of migrations), each in its own transaction together with the
/// version bump, so a crash leaves the schema at a whole step; two
/// processes opening the file at once do not both run a step.
pub fn migrate(conn: &mut Connection, target: usize) -> Result<(), StoreError> {
    match xinyi_sqlite::migrate(conn, MIGRATIONS, target) {
        Ok(applied) => {
            for name in applied {
                tracing::info!("applied migration {name} to the terminal database");
            }
            Ok(())
        }
        Err(e) => Err(store_error(conn, e)),
    }
}

/// Checks the migration list itself: names numbered 0001, 0002 … without
/// gaps, no pragmas inside (they belong to [`configure`]), and every step
/// applies cleanly to an empty database.
pub fn validate() -> Result<(), String> {
    xinyi_sqlite::validate(MIGRATIONS).map_err(|e| e.to_string())
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
