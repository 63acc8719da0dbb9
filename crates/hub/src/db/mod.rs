//! The hub's database, behind one seam with two backends: SQLite, one
//! file in the data directory (the embedded default, a city's registry),
//! and PostgreSQL (`database = "postgres://…"` in hub.toml: a province's,
//! shared by several hub processes). Every module reads and writes through
//! [`Db::read`] and [`Db::write`] and the [`Tx`] they hand over, in SQL
//! both databases run: `?N` parameters (rewritten to `$N` for PostgreSQL),
//! `ON CONFLICT`, `RETURNING`, `COALESCE`; where the two differ a
//! statement asks [`Tx::dialect`].
//!
//! A write transaction is one writer at a time on either backend: SQLite
//! takes its write lock at BEGIN, PostgreSQL an advisory lock every hub
//! process shares. The hot writes of many terminals at once (uploads,
//! reports, nonces) use [`Db::write_for`] instead, which on PostgreSQL
//! takes only that terminal's own lock, so terminals' uploads are stored
//! side by side, and beside an import. A read transaction sees one
//! moment (SQLite's snapshot; PostgreSQL's REPEATABLE READ).
//!
//! SQLite: the pragmas every connection gets,
//! the numbered append-only migrations (`migrations/NNNN_*.sql`, applied in
//! order and counted in `PRAGMA user_version`), and a small pool so HTTP
//! requests can read concurrently while writes queue on SQLite's lock.
//! PostgreSQL's schema and pool are in [`pg`].
//!
//! The pragmas and the migration runner are the ones the terminal's
//! database uses too ([`xinyi_sqlite`]): each migration step takes the
//! write lock before it reads the version, so hub processes started
//! together (a service and an admin command after an upgrade) apply each
//! step once between them. The hub's connections add `secure_delete`:
//! what is deleted or overwritten (an identity erased by retention, the
//! plaintext tables dropped when identities were first sealed) is
//! overwritten with zeros, not left in free space.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
pub use xinyi_sqlite::Migration;

use crate::error::HubError;

pub mod pg;
pub mod pg_tls;
mod value;

pub use crate::params;
pub use value::{FromSql, FromSqlError, Params, ToSql, Value, ValueRef};

/// The database file's name in the data directory.
pub const DB_FILE: &str = "hub.db";

/// The migrations, in order. Append only: never edit a released one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init",
        sql: include_str!("../../migrations/0001_init.sql"),
    },
    Migration {
        name: "0002_rotations",
        sql: include_str!("../../migrations/0002_rotations.sql"),
    },
    Migration {
        name: "0003_trust",
        sql: include_str!("../../migrations/0003_trust.sql"),
    },
    Migration {
        name: "0004_repair",
        sql: include_str!("../../migrations/0004_repair.sql"),
    },
    Migration {
        name: "0005_checked",
        sql: include_str!("../../migrations/0005_checked.sql"),
    },
    Migration {
        name: "0006_usage",
        sql: include_str!("../../migrations/0006_usage.sql"),
    },
    Migration {
        name: "0007_console",
        sql: include_str!("../../migrations/0007_console.sql"),
    },
    Migration {
        name: "0008_sealed",
        sql: include_str!("../../migrations/0008_sealed.sql"),
    },
    Migration {
        name: "0009_measures",
        sql: include_str!("../../migrations/0009_measures.sql"),
    },
    Migration {
        name: "0010_fleet",
        sql: include_str!("../../migrations/0010_fleet.sql"),
    },
    Migration {
        name: "0011_citizens",
        sql: include_str!("../../migrations/0011_citizens.sql"),
    },
    Migration {
        name: "0012_channels",
        sql: include_str!("../../migrations/0012_channels.sql"),
    },
    Migration {
        name: "0013_ingest",
        sql: include_str!("../../migrations/0013_ingest.sql"),
    },
    Migration {
        name: "0014_lighter_ingest",
        sql: include_str!("../../migrations/0014_lighter_ingest.sql"),
    },
    Migration {
        name: "0015_held_mark",
        sql: include_str!("../../migrations/0015_held_mark.sql"),
    },
    Migration {
        name: "0016_rotation_seal",
        sql: include_str!("../../migrations/0016_rotation_seal.sql"),
    },
    Migration {
        name: "0017_code_lookups",
        sql: include_str!("../../migrations/0017_code_lookups.sql"),
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
        E::Sql(e) => HubError::Db(e.into()),
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
/// Which SQL a statement must be written in, where the two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// What went wrong in the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A statement that must return a row returned none.
    #[error("no row")]
    NoRows,
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// A column's value is not what the code reads it as.
    #[error("column {column}: {why}")]
    Value { column: String, why: String },
    /// A parameter the database cannot take.
    #[error("parameter: {0}")]
    Param(String),
    /// No connection to PostgreSQL could be had.
    #[error("{0}")]
    Unavailable(String),
}

impl DbError {
    /// A column's value that parsed but means nothing (`column`: its name
    /// or index).
    pub fn value(column: impl fmt::Display, why: impl fmt::Display) -> DbError {
        DbError::Value {
            column: column.to_string(),
            why: why.to_string(),
        }
    }

    /// Whether the statement broke a UNIQUE or PRIMARY KEY constraint.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            DbError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// `.optional()` on a query for at most one row.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>, DbError>;
}

impl<T> OptionalExtension<T> for Result<T, DbError> {
    fn optional(self) -> Result<Option<T>, DbError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A column by position or by name.
pub trait RowIndex:
    rusqlite::RowIndex + tokio_postgres::row::RowIndex + fmt::Display + Copy
{
}
impl RowIndex for usize {}
impl RowIndex for &str {}

/// One row of a result.
#[derive(Clone, Copy)]
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r tokio_postgres::Row),
}

impl fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Row")
    }
}

impl Row<'_> {
    /// How many columns the row has.
    pub fn len(&self) -> usize {
        match self {
            Row::Sqlite(r) => r.as_ref().column_count(),
            Row::Postgres(r) => r.len(),
        }
    }

    /// Whether the row has no column.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column `idx` read as `T`.
    pub fn get<I: RowIndex, T: FromSql>(&self, idx: I) -> Result<T, DbError> {
        let converted = match self {
            Row::Sqlite(r) => {
                let v = r.get_ref(idx)?;
                T::from_sql(lite_value(v).map_err(|why| DbError::value(idx, why))?)
            }
            Row::Postgres(r) => {
                let v: pg::Raw<'_> = r.try_get(idx)?;
                T::from_sql(v.0)
            }
        };
        converted.map_err(|e| DbError::value(idx, e))
    }
}

fn lite_value(v: rusqlite::types::ValueRef<'_>) -> Result<ValueRef<'_>, String> {
    use rusqlite::types::ValueRef as V;
    Ok(match v {
        V::Null => ValueRef::Null,
        V::Integer(i) => ValueRef::Int(i),
        V::Real(f) => ValueRef::Real(f),
        V::Text(t) => {
            ValueRef::Text(std::str::from_utf8(t).map_err(|e| format!("text not UTF-8: {e}"))?)
        }
        V::Blob(b) => ValueRef::Blob(b),
    })
}

/// A parameter as SQLite takes it.
struct LiteParam<'a>(ValueRef<'a>);

impl rusqlite::ToSql for LiteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef as V;
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self.0 {
            ValueRef::Null => V::Null,
            ValueRef::Int(i) => V::Integer(i),
            ValueRef::Real(f) => V::Real(f),
            ValueRef::Text(t) => V::Text(t.as_bytes()),
            ValueRef::Blob(b) => V::Blob(b),
        }))
    }
}

fn lite_params<'a>(values: &'a [ValueRef<'a>]) -> impl rusqlite::Params + 'a {
    rusqlite::params_from_iter(values.iter().map(|v| LiteParam(*v)))
}

fn param_values<P: Params>(p: &P) -> Result<Vec<ValueRef<'_>>, DbError> {
    p.values().map_err(|e| DbError::Param(e.0))
}

/// Placeholders `?first, ?first+1, …` for a list of `n` values (n > 0),
/// padded to the next power of two so that a few statement shapes serve
/// every length, and which of the `n` values each one sends: the padding
/// repeats the last, which matches the same rows again.
pub fn padded_marks(first: usize, n: usize) -> (String, Vec<usize>) {
    let width = n.max(1).next_power_of_two();
    let marks = (first..first + width)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let at = (0..width).map(|i| i.min(n.saturating_sub(1))).collect();
    (marks, at)
}

/// Up to this many rows, [`Tx::insert_rows`] sends PostgreSQL one
/// prepared multi-row `INSERT` (one round trip, the statement kept per
/// connection and row count) rather than a `COPY`, which takes three
/// (the statement, the copy's start, its end): a terminal's usual upload
/// is a few records, and its log rows as few.
const COPY_FROM_ROWS: usize = 16;

/// A transaction, handed to [`Db::read`] and [`Db::write`]'s closures.
pub struct Tx<'c> {
    inner: TxInner<'c>,
}

enum TxInner<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres(RefCell<pg::PgTx<'c>>),
}

impl fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tx")
    }
}

impl Tx<'_> {
    /// The SQL this transaction speaks.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            TxInner::Sqlite(_) => Dialect::Sqlite,
            TxInner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, p: P) -> Result<usize, DbError> {
        self.prepare_cached(sql)?.execute(p)
    }

    /// Runs statements separated by `;`, without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<(), DbError> {
        match &self.inner {
            TxInner::Sqlite(tx) => Ok(tx.execute_batch(sql)?),
            TxInner::Postgres(tx) => tx.borrow_mut().batch(sql),
        }
    }

    /// The first row of a query, through `f`; [`DbError::NoRows`] if
    /// there is none.
    pub fn query_row<T, P: Params>(
        &self,
        sql: &str,
        p: P,
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.prepare_cached(sql)?.query_row(p, f)
    }

    /// Inserts `rows` (each a value per column of `columns`, a list as
    /// SQL writes it) into `table`: into SQLite many rows to a statement,
    /// into PostgreSQL with one binary `COPY` once there are more than
    /// `COPY_FROM_ROWS`. Either way the round trips to the database do
    /// not grow with the rows.
    pub fn insert_rows(
        &self,
        table: &str,
        columns: &str,
        rows: &[Vec<Value>],
    ) -> Result<(), DbError> {
        match &self.inner {
            TxInner::Postgres(tx) if rows.len() > COPY_FROM_ROWS => {
                tx.borrow_mut().copy_rows(table, columns, rows)
            }
            _ => self.insert_rows_then(table, columns, rows, ""),
        }
    }

    /// [`Tx::insert_rows`] with `tail` after each statement's values (an
    /// `ON CONFLICT …` clause; no two rows may then share a key).
    pub fn insert_rows_then(
        &self,
        table: &str,
        columns: &str,
        rows: &[Vec<Value>],
        tail: &str,
    ) -> Result<(), DbError> {
        let Some(width) = rows.first().map(Vec::len).filter(|w| *w > 0) else {
            return Ok(());
        };
        // At most ~2000 parameters a statement, well within both limits.
        let per_statement = (2000 / width).max(1);
        for chunk in rows.chunks(per_statement) {
            if chunk.iter().any(|r| r.len() != width) {
                return Err(DbError::Param(format!(
                    "rows of {table} with differing numbers of values"
                )));
            }
            let values = (0..chunk.len())
                .map(|r| {
                    let one = (1..=width)
                        .map(|c| format!("?{}", r * width + c))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("({one})")
                })
                .collect::<Vec<_>>()
                .join(", ");
            let params: Vec<&dyn ToSql> = chunk
                .iter()
                .flat_map(|r| r.iter().map(|v| v as &dyn ToSql))
                .collect();
            self.prepare_cached(&format!(
                "INSERT INTO {table} ({columns}) VALUES {values} {tail}"
            ))?
            .execute(params)?;
        }
        Ok(())
    }

    /// A statement, prepared once per connection and kept.
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_>, DbError> {
        Ok(Stmt {
            inner: match &self.inner {
                TxInner::Sqlite(tx) => StmtInner::Sqlite(tx.prepare_cached(sql)?),
                TxInner::Postgres(tx) => StmtInner::Postgres {
                    tx,
                    sql: sql.to_owned(),
                },
            },
        })
    }

    /// [`Tx::prepare_cached`]: every statement is kept.
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_>, DbError> {
        self.prepare_cached(sql)
    }
}

/// A prepared statement.
pub struct Stmt<'t> {
    inner: StmtInner<'t>,
}

enum StmtInner<'t> {
    Sqlite(rusqlite::CachedStatement<'t>),
    Postgres {
        tx: &'t (dyn pg::Run + 't),
        sql: String,
    },
}

impl fmt::Debug for Stmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stmt")
    }
}

impl Stmt<'_> {
    /// Runs the statement; the number of rows it changed.
    pub fn execute<P: Params>(&mut self, p: P) -> Result<usize, DbError> {
        let values = param_values(&p)?;
        match &mut self.inner {
            StmtInner::Sqlite(s) => Ok(s.execute(lite_params(&values))?),
            StmtInner::Postgres { tx, sql } => {
                let n = tx.execute(sql, &values)?;
                usize::try_from(n).map_err(|_| DbError::Param(format!("{n} rows")))
            }
        }
    }

    /// The rows of a query, one at a time.
    pub fn query<P: Params>(&mut self, p: P) -> Result<Rows<'_>, DbError> {
        let values = param_values(&p)?;
        Ok(Rows {
            inner: match &mut self.inner {
                StmtInner::Sqlite(s) => RowsInner::Sqlite(s.query(lite_params(&values))?),
                StmtInner::Postgres { tx, sql } => RowsInner::Postgres {
                    rows: tx.query(sql, &values)?.into_iter(),
                    current: None,
                },
            },
        })
    }

    /// Every row of a query through `f`.
    pub fn query_map<T, P: Params>(
        &mut self,
        p: P,
        mut f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<std::vec::IntoIter<Result<T, DbError>>, DbError> {
        let mut rows = self.query(p)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(f(&r));
        }
        Ok(out.into_iter())
    }

    /// The first row through `f`; [`DbError::NoRows`] if there is none.
    pub fn query_row<T, P: Params>(
        &mut self,
        p: P,
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut rows = self.query(p)?;
        match rows.next()? {
            Some(r) => f(&r),
            None => Err(DbError::NoRows),
        }
    }

    /// Whether the query returns a row.
    pub fn exists<P: Params>(&mut self, p: P) -> Result<bool, DbError> {
        Ok(self.query(p)?.next()?.is_some())
    }
}

/// The rows of a query.
pub struct Rows<'s> {
    inner: RowsInner<'s>,
}

enum RowsInner<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Postgres {
        rows: std::vec::IntoIter<tokio_postgres::Row>,
        current: Option<tokio_postgres::Row>,
    },
}

impl fmt::Debug for Rows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rows")
    }
}

impl Rows<'_> {
    /// The next row, or None after the last.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>, DbError> {
        match &mut self.inner {
            RowsInner::Sqlite(rows) => Ok(rows.next()?.map(Row::Sqlite)),
            RowsInner::Postgres { rows, current } => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Postgres))
            }
        }
    }
}

/// Runs `f` in a PostgreSQL transaction for `mode`; commits only if `f`
/// succeeds.
fn pg_tx<T>(
    pool: &pg::Pool,
    mode: pg::Mode<'_>,
    f: impl FnOnce(&Tx<'_>) -> Result<T, HubError>,
) -> Result<T, HubError> {
    pool.with_conn(|conn| {
        let tx = Tx {
            inner: TxInner::Postgres(RefCell::new(conn.begin(mode))),
        };
        let out = f(&tx)?;
        let TxInner::Postgres(tx) = tx.inner else {
            unreachable!("a PostgreSQL transaction")
        };
        tx.into_inner().commit()?;
        Ok(out)
    })
}

/// The database: SQLite's file and a few idle connections, or a pool of
/// connections to PostgreSQL.
pub struct Db {
    inner: DbInner,
}

enum DbInner {
    Sqlite {
        path: PathBuf,
        idle: Mutex<Vec<Connection>>,
    },
    Postgres(Box<pg::Pool>),
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            DbInner::Sqlite { path, .. } => f.debug_tuple("Db::Sqlite").field(path).finish(),
            DbInner::Postgres(pool) => f.debug_tuple("Db::Postgres").field(pool).finish(),
        }
    }
}

/// Where the hub's database is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by connection string, with the most
    /// connections this process may keep to it and the CA file its
    /// server's certificate is checked against, if set ([`pg_tls`]).
    Postgres {
        url: String,
        pool: usize,
        ca: Option<PathBuf>,
    },
}

impl Db {
    /// Opens (and migrates) the database at `path`.
    pub fn open(path: &Path) -> Result<Db, HubError> {
        let mut conn = connect(path)?;
        for name in migrate(&mut conn, MIGRATIONS.len())? {
            tracing::info!("{}: applied migration {name}", path.display());
        }
        Ok(Db {
            inner: DbInner::Sqlite {
                path: path.to_owned(),
                idle: Mutex::new(vec![conn]),
            },
        })
    }

    /// Opens (and migrates) the database at `location`.
    pub fn open_at(location: &Location) -> Result<Db, HubError> {
        match location {
            Location::Sqlite(path) => Db::open(path),
            Location::Postgres { url, pool, ca } => Ok(Db {
                inner: DbInner::Postgres(Box::new(pg::Pool::open(url, *pool, ca.as_deref())?)),
            }),
        }
    }

    /// Whether a registry is at `location`: the SQLite file exists, or the
    /// PostgreSQL database has the hub's tables.
    pub fn exists_at(location: &Location) -> Result<bool, HubError> {
        match location {
            Location::Sqlite(path) => Ok(path.exists()),
            Location::Postgres { url, ca, .. } => Ok(pg::existing_version(url, ca.as_deref())? > 0),
        }
    }

    /// The SQL this database speaks.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            DbInner::Sqlite { .. } => Dialect::Sqlite,
            DbInner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Where the database is, for messages: the SQLite file, or
    /// PostgreSQL's address without its password.
    pub fn describe(&self) -> String {
        match &self.inner {
            DbInner::Sqlite { path, .. } => path.display().to_string(),
            DbInner::Postgres(pool) => pool.describe(),
        }
    }

    /// The SQLite file, if this is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.inner {
            DbInner::Sqlite { path, .. } => Some(path),
            DbInner::Postgres(_) => None,
        }
    }

    /// The schema version (the number of migrations applied).
    pub fn schema_version(&self) -> Result<i64, HubError> {
        match &self.inner {
            DbInner::Sqlite { .. } => self.with_sqlite(|c| schema_version(c)),
            DbInner::Postgres(pool) => pool.schema_version(),
        }
    }

    fn take(path: &Path, idle: &Mutex<Vec<Connection>>) -> Result<Connection, HubError> {
        let conn = idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match conn {
            Some(c) => Ok(c),
            None => connect(path),
        }
    }

    /// Runs `f` with a SQLite connection of its own, outside any
    /// transaction: for what only SQLite has (VACUUM INTO, checkpoints,
    /// `quick_check`). On PostgreSQL, an error saying so.
    pub fn with_sqlite<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let DbInner::Sqlite { path, idle } = &self.inner else {
            return Err(HubError::Invalid(
                "this is a SQLite operation and the registry's database is PostgreSQL".into(),
            ));
        };
        let mut conn = Db::take(path, idle)?;
        let out = f(&mut conn);
        // A connection left inside a transaction (it cannot be, as
        // transactions roll back on drop) would not be reused.
        if conn.is_autocommit() {
            let mut idle = idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < POOL_SIZE {
                idle.push(conn);
            }
        }
        out
    }

    fn sqlite_tx<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Tx<'_>) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        self.with_sqlite(|conn| {
            let tx = Tx {
                inner: TxInner::Sqlite(
                    conn.transaction_with_behavior(behavior)
                        .map_err(DbError::from)?,
                ),
            };
            let out = f(&tx)?;
            let TxInner::Sqlite(tx) = tx.inner else {
                unreachable!("a SQLite transaction")
            };
            tx.commit().map_err(DbError::from)?;
            Ok(out)
        })
    }

    /// Runs `f` in a read transaction: a consistent view of one moment.
    pub fn read<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, HubError>) -> Result<T, HubError> {
        match &self.inner {
            DbInner::Sqlite { .. } => self.sqlite_tx(TransactionBehavior::Deferred, f),
            DbInner::Postgres(pool) => pg_tx(pool, pg::Mode::Read, f),
        }
    }

    /// Runs `f` in a write transaction, the only writer of the registry
    /// while it runs (writers queue instead of failing); commits only if
    /// `f` succeeds.
    pub fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, HubError>) -> Result<T, HubError> {
        match &self.inner {
            DbInner::Sqlite { .. } => self.sqlite_tx(TransactionBehavior::Immediate, f),
            DbInner::Postgres(pool) => pg_tx(pool, pg::Mode::Write, f),
        }
    }

    /// A write transaction for what concerns one terminal (`key`, its id)
    /// only: its nonces, its reports, its uploads, its records' retention.
    /// On SQLite the same as [`Db::write`]; on PostgreSQL it waits only
    /// for other writes of the same key, so many terminals are served at
    /// once, and an import or publication holding [`Db::write`]'s lock
    /// for a minute holds none of them up. `f` must write only the key's
    /// own rows (and rows no other writer changes, like the cases that
    /// name the key's records), or through statements that cannot
    /// conflict (`ON CONFLICT`).
    pub fn write_for<T>(
        &self,
        key: &str,
        f: impl FnOnce(&Tx<'_>) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        match &self.inner {
            DbInner::Sqlite { .. } => self.sqlite_tx(TransactionBehavior::Immediate, f),
            DbInner::Postgres(pool) => pg_tx(pool, pg::Mode::WriteFor(key), f),
        }
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

    /// On PostgreSQL a transaction's `BEGIN` and lock go out with its
    /// first statement: that statement still runs inside the transaction
    /// (a failure after it leaves nothing) and after the lock (which
    /// another connection sees held).
    #[test]
    fn the_first_statement_runs_inside_the_transaction_and_its_lock() {
        if !xinyi_testkit::pg::available() {
            eprintln!("did not run: PostgreSQL's programs are not installed");
            return;
        }
        let url = xinyi_testkit::pg::server().fresh_database();
        let db = Db::open_at(&Location::Postgres {
            url,
            pool: 2,
            ca: None,
        })
        .unwrap();
        db.write(|tx| Ok(tx.execute_batch("CREATE TABLE scratch (n BIGINT)")?))
            .unwrap();
        let count = || -> i64 {
            db.read(|tx| Ok(tx.query_row("SELECT count(*) FROM scratch", [], |r| r.get(0))?))
                .unwrap()
        };
        for key in [None, Some("a terminal")] {
            let failed: Result<(), HubError> = {
                let body = |tx: &Tx<'_>| {
                    tx.execute("INSERT INTO scratch (n) VALUES (?1)", [1i64])?;
                    // Seen from another connection of the pool, the
                    // transaction holds its advisory lock (the only one
                    // in this test's own database; other tests share
                    // the server).
                    let held: i64 = db.read(|other| {
                        Ok(other.query_row(
                            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                             WHERE l.locktype = 'advisory' AND l.granted
                               AND d.datname = current_database()",
                            [],
                            |r| r.get(0),
                        )?)
                    })?;
                    assert_eq!(held, 1, "the lock of {key:?}");
                    Err(HubError::Internal(
                        "given up after the first statement".into(),
                    ))
                };
                match key {
                    None => db.write(body),
                    Some(k) => db.write_for(k, body),
                }
            };
            assert!(failed.is_err());
            assert_eq!(count(), 0, "{key:?}: the insert was rolled back");
        }
        db.write(|tx| Ok(tx.execute("INSERT INTO scratch (n) VALUES (?1)", [1i64])?))
            .unwrap();
        assert_eq!(count(), 1);
    }
}
