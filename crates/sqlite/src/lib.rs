//! # xinyi-sqlite — the SQLite setup the terminal and the hub share
//!
//! Both programs keep their data in one SQLite file each and open it the
//! same way; this crate is that way, so the two cannot drift apart:
//!
//! - [`create_private`]: the file is made owner-only before SQLite sees
//!   it (SQLite gives its `-wal` and `-shm` files the same mode);
//! - [`configure`]: the pragmas every connection of either database gets
//!   (busy timeout first, WAL, `synchronous = FULL`, foreign keys). Each
//!   database adds its own after this;
//! - [`migrate`]: numbered, append-only SQL migrations, counted in
//!   `PRAGMA user_version`. Each step runs in its own write transaction,
//!   taken *before* the version is read, so two processes upgrading one
//!   file at once cannot both run a step: the second waits for the
//!   first's lock, then reads the version the first committed. A database
//!   newer than the build is refused, never misread;
//! - [`validate`] and [`check_dir`]: checks of a migration list itself,
//!   for each database's tests.
//!
//! Each database keeps its own migration files, its own extra pragmas and
//! its own error type (which wraps [`Error`]).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

/// One schema step: `sql` comes from the file `<name>.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// `NNNN_what`: the step's number (from 0001, no gaps) and a word or
    /// two; the file is named the same with `.sql`.
    pub name: &'static str,
    /// The SQL, compiled in with `include_str!`. Never edited once
    /// released, and never a pragma (those belong to [`configure`]).
    pub sql: &'static str,
}

/// What went wrong opening or upgrading a database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file was written by a newer build: its schema is unknown here.
    #[error(
        "the database has schema version {found}, newer than this build knows ({known}): use the version that wrote it"
    )]
    TooNew { found: i64, known: i64 },
    /// `user_version` holds something no migration list writes.
    #[error("the database has schema version {0}, which no release writes")]
    BadVersion(i64),
    /// A migration step failed; it was rolled back and the version is
    /// still the one before it.
    #[error("migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The file system (a network share, say) cannot hold a WAL.
    #[error("SQLite refused write-ahead logging (journal mode {mode})")]
    NoWal { mode: String },
    /// The migration list itself is wrong (see [`validate`]).
    #[error("migration list: {0}")]
    List(String),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// Creates the file at `path` readable and writable by its owner only
/// (0600 on Unix), unless it exists. Call before SQLite opens it.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

/// Sets the pragmas every connection of either database needs. Pragmas are
/// per connection: call this on every connection that opens the file.
///
/// - the busy timeout, first, so that even switching to WAL waits for
///   other connections instead of failing;
/// - WAL, checked: readers and a writer at once;
/// - `synchronous = FULL`: what a commit returned survives a power cut;
/// - foreign keys on.
pub fn configure(conn: &Connection, busy_timeout: Duration) -> Result<(), Error> {
    conn.busy_timeout(busy_timeout)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::NoWal { mode });
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// The schema version of an open database (`PRAGMA user_version`): the
/// number of migrations applied.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// The schema version a build with `migrations` writes.
pub fn latest_version(migrations: &[Migration]) -> i64 {
    i64::try_from(migrations.len()).unwrap_or(i64::MAX)
}

/// Applies the migrations after the database's version, up to `target`
/// (a count of migrations; more than the list means all of them), and
/// returns the names of those it applied, in order.
///
/// Each step is one IMMEDIATE transaction holding the version check, the
/// step and the version bump: a crash leaves the schema at a whole step,
/// and a second process upgrading at the same time waits for the lock,
/// then sees the step done and applies nothing. A database whose version
/// is above the list is refused with [`Error::TooNew`], even when
/// `target` is lower.
pub fn migrate<'m>(
    conn: &mut Connection,
    migrations: &'m [Migration],
    target: usize,
) -> Result<Vec<&'m str>, Error> {
    let target = target.min(migrations.len());
    let mut applied = Vec::new();
    loop {
        // The lock first, then the version: read before the lock, the
        // version could be stale by the time the lock is ours.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&tx)?;
        let done = usize::try_from(version).map_err(|_| Error::BadVersion(version))?;
        if done > migrations.len() {
            return Err(Error::TooNew {
                found: version,
                known: latest_version(migrations),
            });
        }
        // Dropping `tx` here rolls back a transaction that wrote nothing.
        let Some(step) = migrations.get(done).filter(|_| done < target) else {
            return Ok(applied);
        };
        tx.execute_batch(step.sql)
            .map_err(|source| Error::Migration {
                name: step.name,
                source,
            })?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        applied.push(step.name);
    }
}

/// Checks a migration list: names numbered `0001_`, `0002_` … without
/// gaps or repeats, each step non-empty and without pragmas (they are set
/// by [`configure`] when a connection opens, never by a migration), and
/// the whole list applies cleanly to an empty database (foreign keys on,
/// as [`configure`] sets them) ending at its own length, with the
/// integrity and foreign key checks clean.
pub fn validate(migrations: &[Migration]) -> Result<(), Error> {
    let list = |why: String| Error::List(why);
    for (i, m) in migrations.iter().enumerate() {
        let number = format!("{:04}_", i + 1);
        if !m.name.starts_with(&number) || m.name.len() <= number.len() {
            return Err(list(format!(
                "migration {} (step {}) must be named {number}<what>",
                m.name,
                i + 1
            )));
        }
        let code = m
            .sql
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        if code.to_ascii_uppercase().contains("PRAGMA") {
            return Err(list(format!(
                "migration {} sets a pragma; pragmas are set when the connection opens",
                m.name
            )));
        }
        if code.trim().is_empty() {
            return Err(list(format!("migration {} is empty", m.name)));
        }
    }
    let mut conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn, migrations, migrations.len())?;
    let version = schema_version(&conn)?;
    if version != latest_version(migrations) {
        return Err(list(format!(
            "after migrating, user_version is {version}, not {}",
            latest_version(migrations)
        )));
    }
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if integrity != "ok" {
        return Err(list(format!(
            "integrity check after migrating: {integrity}"
        )));
    }
    let dangling: i64 =
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })?;
    if dangling != 0 {
        return Err(list(format!(
            "{dangling} rows fail the foreign key check after migrating"
        )));
    }
    Ok(())
}

/// Checks that the `.sql` files in `dir` are exactly the list, in order
/// (`<name>.sql` each), and that every file holds what was compiled in: a
/// file added but not listed would never run, and an edited one would
/// mean the build and the tree disagree.
pub fn check_dir(migrations: &[Migration], dir: &Path) -> Result<(), Error> {
    let list = |why: String| Error::List(why);
    let entries =
        std::fs::read_dir(dir).map_err(|e| list(format!("cannot read {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| list(format!("cannot read {}: {e}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sql") {
            files.push(name);
        }
    }
    files.sort();
    let listed: Vec<String> = migrations
        .iter()
        .map(|m| format!("{}.sql", m.name))
        .collect();
    if files != listed {
        return Err(list(format!(
            "{} holds {files:?} but the list names {listed:?}",
            dir.display()
        )));
    }
    for m in migrations {
        let path = dir.join(format!("{}.sql", m.name));
        let on_disk = std::fs::read_to_string(&path)
            .map_err(|e| list(format!("cannot read {}: {e}", path.display())))?;
        if on_disk != m.sql {
            return Err(list(format!(
                "{} differs from the compiled copy",
                path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[Migration] = &[
        Migration {
            name: "0001_people",
            sql: "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        },
        Migration {
            name: "0002_visits",
            sql: "CREATE TABLE visits (person INTEGER NOT NULL REFERENCES people(id), at INTEGER);
                  -- a comment naming a pragma is fine
                  CREATE INDEX visits_by_person ON visits (person);",
        },
        Migration {
            name: "0003_age",
            sql: "ALTER TABLE people ADD COLUMN age INTEGER;",
        },
    ];

    fn open(dir: &Path) -> Connection {
        let path = dir.join("test.db");
        create_private(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        configure(&conn, Duration::from_secs(10)).unwrap();
        conn
    }

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn migrates_step_by_step_then_does_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        assert_eq!(schema_version(&conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn, STEPS, 1).unwrap(), ["0001_people"]);
        assert_eq!(schema_version(&conn).unwrap(), 1);
        assert_eq!(
            migrate(&mut conn, STEPS, usize::MAX).unwrap(),
            ["0002_visits", "0003_age"]
        );
        assert_eq!(schema_version(&conn).unwrap(), latest_version(STEPS));
        assert!(migrate(&mut conn, STEPS, STEPS.len()).unwrap().is_empty());
        assert!(migrate(&mut conn, STEPS, 1).unwrap().is_empty());
        assert_eq!(schema_version(&conn).unwrap(), 3);
        assert_eq!(tables(&conn), ["people", "visits"]);
    }

    #[test]
    fn the_common_pragmas_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
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
        let busy: i64 = conn
            .pragma_query_value(None, "busy_timeout", |r| r.get(0))
            .unwrap();
        assert_eq!(busy, 10_000);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        migrate(&mut conn, STEPS, STEPS.len()).unwrap();
        for f in ["test.db", "test.db-wal"] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}: {mode:o}");
        }
    }

    #[test]
    fn a_newer_database_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        migrate(&mut conn, STEPS, STEPS.len()).unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        // An older build, knowing two steps, finds version 7.
        for target in [0, 2] {
            let err = migrate(&mut conn, &STEPS[..2], target).unwrap_err();
            assert!(
                matches!(err, Error::TooNew { found: 7, known: 2 }),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains('7') && text.contains('2'), "{text}");
            assert!(text.contains("newer"), "{text}");
        }
        assert_eq!(schema_version(&conn).unwrap(), 7);
    }

    #[test]
    fn a_negative_version_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        conn.pragma_update(None, "user_version", -1).unwrap();
        let err = migrate(&mut conn, STEPS, STEPS.len()).unwrap_err();
        assert!(matches!(err, Error::BadVersion(-1)), "{err:?}");
        assert!(tables(&conn).is_empty());
    }

    #[test]
    fn a_failing_migration_rolls_back_and_keeps_the_version() {
        const BROKEN: &[Migration] = &[
            STEPS[0],
            Migration {
                name: "0002_half",
                // The first statement succeeds, the second fails: neither
                // may stay, nor may the version move.
                sql: "CREATE TABLE half (x INTEGER);
                      INSERT INTO people (id, name) VALUES (1, 'a');
                      INSERT INTO no_such_table VALUES (1);",
            },
            STEPS[2],
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        let err = migrate(&mut conn, BROKEN, BROKEN.len()).unwrap_err();
        match &err {
            Error::Migration { name, .. } => assert_eq!(*name, "0002_half"),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("0002_half"), "{err}");
        assert_eq!(schema_version(&conn).unwrap(), 1);
        assert_eq!(tables(&conn), ["people"]);
        let people: i64 = conn
            .query_row("SELECT count(*) FROM people", [], |r| r.get(0))
            .unwrap();
        assert_eq!(people, 0);
        assert!(
            conn.is_autocommit(),
            "the connection is left in a transaction"
        );
        // The fixed list carries on from where it stopped.
        assert_eq!(
            migrate(&mut conn, STEPS, STEPS.len()).unwrap(),
            ["0002_visits", "0003_age"]
        );
    }

    /// Set by [`note_busy`] when a connection finds the write lock taken.
    static WAITED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    fn note_busy(_attempt: i32) -> bool {
        WAITED.store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        true
    }

    /// While one connection upgrades the file, a second one starts
    /// migrating it: it waits for the first's lock, then finds every step
    /// done and applies none (reading the version before taking the lock,
    /// it would run the first step again and fail).
    #[test]
    fn a_second_connection_waiting_for_the_lock_applies_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = open(dir.path());
        let tx = first
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        for (i, m) in STEPS.iter().enumerate() {
            tx.execute_batch(m.sql).unwrap();
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .unwrap();
        }
        let path = dir.path().join("test.db");
        let second = std::thread::spawn(move || {
            let mut conn = Connection::open(&path).unwrap();
            configure(&conn, Duration::from_secs(10)).unwrap();
            // Instead of the timeout: tells the test it is waiting.
            conn.busy_handler(Some(note_busy)).unwrap();
            let applied = migrate(&mut conn, STEPS, STEPS.len());
            (applied.map(|a| a.len()), schema_version(&conn).unwrap())
        });
        while !WAITED.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(!second.is_finished(), "{:?}", second.join());
            std::thread::sleep(Duration::from_millis(1));
        }
        tx.commit().unwrap();
        let (applied, version) = second.join().unwrap();
        assert_eq!(applied.unwrap(), 0);
        assert_eq!(version, latest_version(STEPS));
    }

    #[test]
    fn the_list_is_checked() {
        validate(STEPS).unwrap();
        validate(&[]).unwrap();
        let bad = |list: &[Migration], says: &str| {
            let err = validate(list).unwrap_err();
            assert!(err.to_string().contains(says), "{err} should say {says:?}");
        };
        let step = |name: &'static str, sql: &'static str| Migration { name, sql };
        bad(&[step("0002_x", "CREATE TABLE x (a);")], "0001_<what>");
        bad(&[step("0001_", "CREATE TABLE x (a);")], "0001_<what>");
        bad(&[step("1_x", "CREATE TABLE x (a);")], "0001_<what>");
        bad(
            &[STEPS[0], step("0003_gap", "CREATE TABLE x (a);")],
            "0002_<what>",
        );
        bad(&[STEPS[0], STEPS[0]], "0002_<what>");
        bad(
            &[step("0001_wal", "PRAGMA journal_mode = WAL;")],
            "sets a pragma",
        );
        bad(
            &[step(
                "0001_fk",
                "CREATE TABLE x (a); pragma foreign_keys = OFF;",
            )],
            "sets a pragma",
        );
        bad(&[step("0001_nothing", "-- nothing yet\n  ")], "is empty");
        bad(
            &[step("0001_typo", "CREATE TABEL x (a);")],
            "migration 0001_typo failed",
        );
        bad(
            &[
                step("0001_a", "CREATE TABLE a (id INTEGER PRIMARY KEY);"),
                step(
                    "0002_b",
                    "CREATE TABLE b (a INTEGER REFERENCES a(id)); INSERT INTO b VALUES (5);",
                ),
            ],
            "FOREIGN KEY constraint failed",
        );
    }

    #[test]
    fn the_directory_must_match_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, sql: &str| std::fs::write(dir.path().join(name), sql).unwrap();
        for m in STEPS {
            write(&format!("{}.sql", m.name), m.sql);
        }
        write("README", "not a migration");
        check_dir(STEPS, dir.path()).unwrap();
        let err = check_dir(&STEPS[..2], dir.path()).unwrap_err();
        assert!(err.to_string().contains("0003_age.sql"), "{err}");
        write(
            "0003_age.sql",
            "ALTER TABLE people ADD COLUMN height INTEGER;",
        );
        let err = check_dir(STEPS, dir.path()).unwrap_err();
        assert!(err.to_string().contains("differs"), "{err}");
        let err = check_dir(STEPS, &dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
