//! Opening the hub's SQLite database: the pragmas every connection gets,
//! the numbered append-only migrations (`migrations/NNNN_*.sql`, applied in
//! order and counted in `PRAGMA user_version`), and a small pool so HTTP
//! requests can read concurrently while writes queue on SQLite's lock.
//!
//! The pragmas and the migration runner are the ones the terminal's
//! database uses too ([`xinyi_sqlite`]): each migration step takes the
//! write lock before it reads the version, so hub processes started
//! together (a service and an admin command after an upgrade) apply each
//! step once between them. The hub's connections add `secure_delete`:
//! what is deleted or overwritten (an identity erased by retention, the
//! plaintext tables dropped when identities were first sealed) is
//! overwritten with zeros, not left in free space.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
pub use xinyi_sqlite::Migration;

use crate::error::HubError;

/// The database file's name in the data directory.
pub const DB_FILE: &str = "hub.db";

/// The migrations, in order. Append only: never edit a released one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        name: "0002_rotations",
        sql: include_str!("../migrations/0002_rotations.sql"),
    },
    Migration {
        name: "0003_trust",
        sql: include_str!("../migrations/0003_trust.sql"),
    },
    Migration {
        name: "0004_repair",
        sql: include_str!("../migrations/0004_repair.sql"),
    },
    Migration {
        name: "0005_checked",
        sql: include_str!("../migrations/0005_checked.sql"),
    },
    Migration {
        name: "0006_usage",
        sql: include_str!("../migrations/0006_usage.sql"),
    },
    Migration {
        name: "0007_console",
        sql: include_str!("../migrations/0007_console.sql"),
    },
    Migration {
        name: "0008_sealed",
        sql: include_str!("../migrations/0008_sealed.sql"),
    },
    Migration {
        name: "0009_measures",
        sql: include_str!("../migrations/0009_measures.sql"),
    },
    Migration {
        name: "0010_fleet",
        sql: include_str!("../migrations/0010_fleet.sql"),
    },
    Migration {
        name: "0011_citizens",
        sql: include_str!("../migrations/0011_citizens.sql"),
    },
    Migration {
        name: "0012_channels",
        sql: include_str!("../migrations/0012_channels.sql"),
    },
];

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept for reuse.
const POOL_SIZE: usize = 8;

/// The schema version this build writes: the number of migrations.
pub fn latest_version() -> i64 {
    xinyi_sqlite::latest_version(MIGRATIONS)
}

/// The hub's error for what the shared runner reports about `path`.
fn db_error(path: &Path, e: xinyi_sqlite::Error) -> HubError {
    use xinyi_sqlite::Error as E;
    match e {
        E::TooNew { found, known } => HubError::SchemaTooNew {
            found,
            known: usize::try_from(known).unwrap_or(MIGRATIONS.len()),
        },
        E::BadVersion(v) => HubError::corrupt(format!(
            "{}: schema version {v}, which no xinyi-hub writes",
            path.display()
        )),
        E::Migration { name, source } => {
            HubError::Internal(format!("{}: migration {name}: {source}", path.display()))
        }
        E::NoWal { mode } => HubError::Internal(format!(
            "{}: SQLite refused WAL mode (got {mode}); keep the data directory on a local disk",
            path.display()
        )),
        E::List(why) => HubError::Internal(why),
        E::Sql(e) => HubError::Db(e),
    }
}

/// Opens a connection with the hub's pragmas set, creating the file
/// owner-only if it is missing (it holds the registry, identities sealed).
pub fn connect(path: &Path) -> Result<Connection, HubError> {
    xinyi_sqlite::create_private(path)
        .map_err(|e| HubError::Internal(format!("cannot create {}: {e}", path.display())))?;
    let conn = Connection::open(path)?;
    // FULL synchronous (set here): a receipt the hub has given must
    // survive a power cut, or the terminal (which trusts it) would leave
    // a gap in its chain.
    xinyi_sqlite::configure(&conn, BUSY_TIMEOUT).map_err(|e| db_error(path, e))?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

/// The schema version of a database (the number of migrations applied).
pub fn schema_version(conn: &Connection) -> Result<i64, HubError> {
    Ok(xinyi_sqlite::schema_version(conn)?)
}

/// Applies the migrations after the database's version up to `target` (a
/// count of migrations), each in its own transaction together with the
/// version bump; returns the names of those applied. A database newer
/// than this build is refused.
pub fn migrate(conn: &mut Connection, target: usize) -> Result<Vec<&'static str>, HubError> {
    let path = PathBuf::from(conn.path().unwrap_or_default());
    xinyi_sqlite::migrate(conn, MIGRATIONS, target).map_err(|e| db_error(&path, e))
}

/// Checks the migration list itself: numbered names, no pragmas, and the
/// whole list applies cleanly to an empty database.
pub fn validate() -> Result<(), HubError> {
    xinyi_sqlite::validate(MIGRATIONS).map_err(|e| db_error(Path::new(":memory:"), e))
}

/// The database: a path and a few idle connections.
#[derive(Debug)]
pub struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Db {
    /// Opens (and migrates) the database at `path`.
    pub fn open(path: &Path) -> Result<Db, HubError> {
        let mut conn = connect(path)?;
        for name in migrate(&mut conn, MIGRATIONS.len())? {
            tracing::info!("{}: applied migration {name}", path.display());
        }
        Ok(Db {
            path: path.to_owned(),
            idle: Mutex::new(vec![conn]),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn take(&self) -> Result<Connection, HubError> {
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match conn {
            Some(c) => Ok(c),
            None => connect(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }

    /// Runs `f` with a connection.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let mut conn = self.take()?;
        let out = f(&mut conn);
        // A connection left inside a transaction (it cannot be, as
        // transactions roll back on drop) would not be reused.
        if conn.is_autocommit() {
            self.give_back(conn);
        }
        out
    }

    /// Runs `f` in a read transaction: a consistent view of one moment.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// Runs `f` in a write transaction (taken at once, so writers queue
    /// instead of failing); commits only if `f` succeeds.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_database_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let _db = Db::open(&path).unwrap();
        for f in [path.clone(), path.with_extension("db-wal")] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }

    #[test]
    fn deleted_content_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let conn = connect(&dir.path().join(DB_FILE)).unwrap();
        let on: i64 = conn
            .pragma_query_value(None, "secure_delete", |r| r.get(0))
            .unwrap();
        assert_eq!(on, 1);
    }

    /// Migrations validate: applied to an empty database they all run, the
    /// schema version equals their count, and running again changes nothing.
    #[test]
    fn migrations_validate() {
        validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let mut conn = connect(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 0);
        let names: Vec<_> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(migrate(&mut conn, MIGRATIONS.len()).unwrap(), names);
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
        assert!(migrate(&mut conn, MIGRATIONS.len()).unwrap().is_empty());
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let check: String = conn
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .unwrap_or_else(|_| "ok".into());
        assert_eq!(check, "ok");
    }

    /// Every file in migrations/ is listed, in order, numbered from 0001
    /// without gaps, and holds what was compiled in: a file added but not
    /// listed would never run.
    #[test]
    fn migration_files_are_all_listed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        xinyi_sqlite::check_dir(MIGRATIONS, &dir).unwrap();
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = connect(&dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        let err = migrate(&mut conn, MIGRATIONS.len()).unwrap_err();
        assert!(
            matches!(err, HubError::SchemaTooNew { found: 999, known } if known == MIGRATIONS.len()),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade xinyi-hub"), "{err}");
    }
}
