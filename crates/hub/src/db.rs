//! Opening the hub's SQLite database: the pragmas every connection gets,
//! the numbered append-only migrations (`migrations/NNNN_*.sql`, applied in
//! order and counted in `PRAGMA user_version`), and a small pool so HTTP
//! requests can read concurrently while writes queue on SQLite's lock.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::HubError;

/// The database file's name in the data directory.
pub const DB_FILE: &str = "hub.db";

/// The migrations, in order. Append only: never edit a released one.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("../migrations/0001_init.sql")),
    (
        "0002_rotations.sql",
        include_str!("../migrations/0002_rotations.sql"),
    ),
    (
        "0003_trust.sql",
        include_str!("../migrations/0003_trust.sql"),
    ),
];

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept for reuse.
const POOL_SIZE: usize = 8;

/// Creates the database file readable by its owner only, before SQLite
/// opens it: it holds full identities. SQLite gives its -wal and -shm files
/// the same mode.
fn create_private(path: &Path) -> Result<(), HubError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .map_err(|e| HubError::Internal(format!("cannot create {}: {e}", path.display())))
}

/// Opens a connection with the hub's pragmas set.
pub fn connect(path: &Path) -> Result<Connection, HubError> {
    if !path.exists() {
        create_private(path)?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(HubError::Internal(format!(
            "{}: SQLite refused WAL mode (got {mode})",
            path.display()
        )));
    }
    // FULL: a receipt the hub has given must survive a power cut, or the
    // terminal (which trusts it) would leave a gap in its chain.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// The schema version of a database (the number of migrations applied).
pub fn schema_version(conn: &Connection) -> Result<i64, HubError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Applies the migrations not yet applied, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), HubError> {
    let applied = schema_version(conn)?;
    let applied =
        usize::try_from(applied).map_err(|_| HubError::corrupt("negative user_version"))?;
    if applied > MIGRATIONS.len() {
        return Err(HubError::SchemaTooNew {
            found: applied as i64,
            known: MIGRATIONS.len(),
        });
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)
            .map_err(|e| HubError::Internal(format!("migration {name}: {e}")))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
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
        migrate(&mut conn)?;
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
    #[cfg(unix)]
    #[test]
    fn the_database_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::DB_FILE);
        let _db = super::Db::open(&path).unwrap();
        for f in [path.clone(), path.with_extension("db-wal")] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }

    use super::*;

    /// Migrations validate: applied to an empty database they all run, the
    /// schema version equals their count, and running again changes nothing.
    #[test]
    fn migrations_validate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let mut conn = connect(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 0);
        migrate(&mut conn).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
        migrate(&mut conn).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
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
    /// without gaps: a file added but not listed would never run.
    #[test]
    fn migration_files_are_all_listed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS.iter().map(|(n, _)| (*n).to_owned()).collect();
        assert_eq!(files, listed);
        for (i, name) in listed.iter().enumerate() {
            assert!(name.starts_with(&format!("{:04}_", i + 1)), "{name}");
        }
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = connect(&dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(HubError::SchemaTooNew { found: 999, .. })
        ));
    }
}
