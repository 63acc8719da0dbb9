//! PostgreSQL behind the seam: a bounded pool of connections (each with
//! its prepared statements), the schema and its migrations, the advisory
//! locks that make writes one at a time across every hub process sharing
//! the database, and the mapping of the hub's values onto PostgreSQL's
//! types.
//!
//! The client is tokio-postgres. Each connection's socket is driven by a
//! small runtime on a thread of the pool's own; the hub's blocking code
//! (the blocking pool's threads, the command line, and tests on any
//! runtime) waits for each answer with a plain blocking executor, so a
//! statement runs the same from any thread, as SQLite's do.
//!
//! The schema is the SQLite schema's twin (`migrations/postgres/`):
//! integers are BIGINT, bytes BYTEA, text TEXT with the "C" collation so
//! that ORDER BY sorts as SQLite does (by bytes) whatever the database's
//! locale, and the columns SQLite numbers by itself are identity columns.
//! Its version counts as SQLite's does: the first file brings an empty
//! database to the version SQLite's twelve migrations make, and every
//! later change is appended to both lists under the same number.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use futures_executor::block_on;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{IsNull, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Socket, Statement};

use super::pg_tls::{self, Transport};
use super::{DbError, ValueRef};
use crate::error::HubError;

/// One step of PostgreSQL's schema: the version it brings the database
/// to (counted as SQLite's migrations are) and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct PgMigration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// PostgreSQL's migrations, in order. Append only.
pub const MIGRATIONS: &[PgMigration] = &[
    PgMigration {
        version: 12,
        name: "0012_schema",
        sql: include_str!("../../migrations/postgres/0012_schema.sql"),
    },
    PgMigration {
        version: 13,
        name: "0013_ingest",
        sql: include_str!("../../migrations/postgres/0013_ingest.sql"),
    },
    PgMigration {
        version: 14,
        name: "0014_lighter_ingest",
        sql: include_str!("../../migrations/postgres/0014_lighter_ingest.sql"),
    },
    PgMigration {
        version: 15,
        name: "0015_held_mark",
        sql: include_str!("../../migrations/postgres/0015_held_mark.sql"),
    },
    PgMigration {
        version: 16,
        name: "0016_rotation_seal",
        sql: include_str!("../../migrations/postgres/0016_rotation_seal.sql"),
    },
    PgMigration {
        version: 17,
        name: "0017_code_lookups",
        sql: include_str!("../../migrations/postgres/0017_code_lookups.sql"),
    },
];

/// How long a request waits for a free connection.
const POOL_WAIT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The advisory lock class of the hub's locks (two int4 keys: class,
/// object), 'xy'.
const LOCK_CLASS: i32 = 0x7879;
/// The object of the one-writer lock of [`Mode::Write`].
const WRITER: i32 = 0;
/// The object of the migration lock (a session lock while migrating).
const MIGRATING: i32 = 1;
/// The class of the per-key locks of [`Mode::WriteFor`].
const KEY_CLASS: i32 = 0x787a;

/// What a transaction is for.
#[derive(Clone, Copy, Debug)]
pub enum Mode<'k> {
    /// A snapshot, read only.
    Read,
    /// The only writer of the registry.
    Write,
    /// A writer of what concerns `key` only.
    WriteFor(&'k str),
}

/// A connection and the statements prepared on it.
pub struct PgConn {
    client: Client,
    cache: HashMap<String, Statement>,
}

impl fmt::Debug for PgConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PgConn")
    }
}

impl fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PgTx")
    }
}

impl PgConn {
    /// Begins a transaction for `mode`, its locks taken. Nothing is sent
    /// yet: the `BEGIN` and the lock (one message, simple protocol, the
    /// lock's two integers written out) go with the transaction's first
    /// statement, so that they cost no round trip of their own.
    pub fn begin(&mut self, mode: Mode<'_>) -> PgTx<'_> {
        let begin = match mode {
            Mode::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_owned(),
            Mode::Write => format!("BEGIN; SELECT pg_advisory_xact_lock({LOCK_CLASS}, {WRITER})"),
            Mode::WriteFor(key) => format!(
                "BEGIN; SELECT pg_advisory_xact_lock({KEY_CLASS}, {})",
                key_lock(key)
            ),
        };
        PgTx {
            conn: self,
            begin: Some(begin),
            open: false,
        }
    }
}

/// The lock object of a key: the first four bytes of its SHA-256, the
/// same in every process and build.
fn key_lock(key: &str) -> i32 {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(key.as_bytes());
    i32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// A transaction on a pooled connection, rolled back if dropped
/// uncommitted.
pub struct PgTx<'c> {
    conn: &'c mut PgConn,
    /// The `BEGIN` (and lock) not sent yet: no statement has run.
    begin: Option<String>,
    /// Whether the `BEGIN` was sent and no `COMMIT` since.
    open: bool,
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.conn.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = block_on(self.conn.client.prepare(&translate(sql)))?;
        self.conn.cache.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Sends the `BEGIN` if it is not sent yet, on its own.
    fn opened(&mut self) -> Result<(), DbError> {
        if let Some(begin) = self.take_begin() {
            block_on(self.conn.client.batch_execute(&begin))?;
        }
        Ok(())
    }

    /// Marks the `BEGIN` as sent and hands it over if it was not, for
    /// [`pipelined`] to send with the first statement.
    fn take_begin(&mut self) -> Option<String> {
        let begin = self.begin.take();
        if begin.is_some() {
            self.open = true;
        }
        begin
    }

    /// Stores `rows` into `table` with one `COPY … FROM STDIN` in
    /// PostgreSQL's binary format: no statement to parse or plan, each
    /// value sent as the column's type (asked of the server once per
    /// connection and table). The copy's round trips are the same
    /// whatever the number of rows.
    pub fn copy_rows(
        &mut self,
        table: &str,
        columns: &str,
        rows: &[Vec<super::Value>],
    ) -> Result<(), DbError> {
        let described = self.statement(&format!("SELECT {columns} FROM {table} LIMIT 0"))?;
        let types: Vec<Type> = described
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        // Prepared once per connection, like any other statement.
        let copy = self.statement(&format!(
            "COPY {table} ({columns}) FROM STDIN (FORMAT binary)"
        ))?;
        self.opened()?;
        let client = &self.conn.client;
        block_on(async {
            let sink = client.copy_in(&copy).await?;
            let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
            for row in rows {
                let values = row
                    .iter()
                    .map(|v| {
                        super::ToSql::to_value(v)
                            .map(Param)
                            .map_err(|e| DbError::Param(e.0))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if values.len() != types.len() {
                    return Err(DbError::Param(format!(
                        "a row of {} values for the {} columns of {table}",
                        values.len(),
                        types.len()
                    )));
                }
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
                    .iter()
                    .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                writer.as_mut().write(&refs).await?;
            }
            writer.finish().await?;
            Ok(())
        })
    }

    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.opened()?;
        Ok(block_on(self.conn.client.batch_execute(sql))?)
    }

    /// Commits; a transaction that ran no statement has nothing to send.
    pub fn commit(mut self) -> Result<(), DbError> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        Ok(block_on(self.conn.client.batch_execute("COMMIT"))?)
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // A failed rollback leaves a broken connection, which the
            // pool then drops.
            let _ = block_on(self.conn.client.batch_execute("ROLLBACK"));
        }
    }
}

/// Awaits `statement` (a request of `client`'s, not yet polled), sent
/// right behind `begin` (a transaction's `BEGIN` not sent yet) if there is
/// one: tokio-postgres sends a request when it is first polled, so both
/// go out before either answer is awaited, one round trip. The server
/// runs them in order: the statement runs inside the transaction, after
/// its lock.
fn pipelined<T>(
    client: &Client,
    begin: Option<&str>,
    statement: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, DbError> {
    block_on(async {
        match begin {
            None => Ok(statement.await?),
            Some(begin) => {
                let (began, out) =
                    futures_util::future::join(client.batch_execute(begin), statement).await;
                began?;
                Ok(out?)
            }
        }
    })
}

/// What a prepared statement runs on (a transaction, borrowed).
pub trait Run {
    fn query(
        &self,
        sql: &str,
        values: &[ValueRef<'_>],
    ) -> Result<Vec<tokio_postgres::Row>, DbError>;
    fn execute(&self, sql: &str, values: &[ValueRef<'_>]) -> Result<u64, DbError>;
}

fn with_params<T>(
    values: &[ValueRef<'_>],
    f: impl FnOnce(&[&(dyn tokio_postgres::types::ToSql + Sync)]) -> T,
) -> T {
    let params: Vec<Param<'_>> = values.iter().map(|v| Param(*v)).collect();
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    f(&refs)
}

impl Run for std::cell::RefCell<PgTx<'_>> {
    fn query(
        &self,
        sql: &str,
        values: &[ValueRef<'_>],
    ) -> Result<Vec<tokio_postgres::Row>, DbError> {
        let mut tx = self.borrow_mut();
        let st = tx.statement(sql)?;
        let begin = tx.take_begin();
        let client = &tx.conn.client;
        with_params(values, |p| {
            pipelined(client, begin.as_deref(), client.query(&st, p))
        })
    }

    fn execute(&self, sql: &str, values: &[ValueRef<'_>]) -> Result<u64, DbError> {
        let mut tx = self.borrow_mut();
        let st = tx.statement(sql)?;
        let begin = tx.take_begin();
        let client = &tx.conn.client;
        with_params(values, |p| {
            pipelined(client, begin.as_deref(), client.execute(&st, p))
        })
    }
}

/// A thread running the runtime the connections' sockets are driven on;
/// it ends when the pool is dropped.
struct Driver {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Driver {
    fn start() -> Result<Driver, HubError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HubError::Internal(format!("PostgreSQL's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("xinyi-pg".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| HubError::Internal(format!("PostgreSQL's thread: {e}")))?;
        Ok(Driver {
            handle,
            _stop: stop,
        })
    }
}

/// The pool: idle connections, and a count of those out, bounded.
pub struct Pool {
    config: tokio_postgres::Config,
    /// In clear or over TLS, and what the server's certificate is
    /// checked against ([`pg_tls`]).
    transport: Transport,
    /// The runtime the connections' sockets are driven on.
    driver: Driver,
    /// The address without a password, for messages.
    shown: String,
    idle: Mutex<Vec<PgConn>>,
    /// Connections this process keeps open at most.
    max: usize,
    /// Connections open (idle or out).
    open: Mutex<usize>,
    freed: Condvar,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A connection string without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Pool {
    /// Connects to `url` (over TLS checked against the CA file `ca`, if
    /// given: [`pg_tls`]), applies the migrations this build has and
    /// keeps the connection for reuse; at most `max` connections are
    /// opened.
    pub fn open(url: &str, max: usize, ca: Option<&Path>) -> Result<Pool, HubError> {
        let pool = Pool::new(url, max, ca)?;
        pool.with_conn(|conn| {
            for name in migrate(&conn.client, latest())? {
                tracing::info!("{}: applied migration {name}", pool.shown);
            }
            Ok(())
        })?;
        tracing::info!("{}: connected {:?}", pool.shown, pool.transport);
        Ok(pool)
    }

    fn new(url: &str, max: usize, ca: Option<&Path>) -> Result<Pool, HubError> {
        let shown = redact(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            HubError::Invalid(format!(
                "database {shown}: not a PostgreSQL connection string: {e}"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("xinyi-hub");
        }
        let plan = pg_tls::plan(&config, &shown, ca)
            .map_err(|e| HubError::Invalid(format!("database: {e}")))?;
        let transport = pg_tls::transport(&mut config, plan)?;
        Ok(Pool {
            config,
            transport,
            driver: Driver::start()?,
            shown,
            max: max.max(1),
            idle: Mutex::new(Vec::new()),
            open: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    pub fn describe(&self) -> String {
        self.shown.clone()
    }

    fn connect(&self) -> Result<PgConn, HubError> {
        let config = self.config.clone();
        let connecting = match &self.transport {
            Transport::Plain => self.driver.handle.spawn(connect_with(config, NoTls)),
            Transport::Tls(tls, _) => self.driver.handle.spawn(connect_with(config, tls.clone())),
        };
        let client = block_on(connecting)
            .map_err(|e| HubError::Internal(format!("PostgreSQL's connecting task: {e}")))?
            .map_err(|e| {
                HubError::Db(DbError::Unavailable(format!(
                    "cannot connect to {}: {}{}",
                    self.shown,
                    describe(&e),
                    pg_tls::hint(&self.transport, &e),
                )))
            })?;
        Ok(PgConn {
            client,
            cache: HashMap::new(),
        })
    }

    /// Runs `f` with a connection of the pool: an idle one, a new one if
    /// fewer than the most allowed are open, or the next one given back.
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut PgConn) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let mut conn = self.checkout()?;
        let out = f(&mut conn);
        self.give_back(conn);
        out
    }

    fn checkout(&self) -> Result<PgConn, HubError> {
        if let Some(c) = self.lock_idle().pop() {
            return Ok(c);
        }
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(c) = self.lock_idle().pop() {
                return Ok(c);
            }
            if *open < self.max {
                *open += 1;
                drop(open);
                return self.connect().inspect_err(|_| self.closed());
            }
            let (guard, wait) = self
                .freed
                .wait_timeout(open, POOL_WAIT)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            open = guard;
            if wait.timed_out() && self.lock_idle().is_empty() && *open >= self.max {
                return Err(HubError::Db(DbError::Unavailable(format!(
                    "{}: all {} connections busy for {} s",
                    self.shown,
                    self.max,
                    POOL_WAIT.as_secs()
                ))));
            }
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<PgConn>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn closed(&self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *open = open.saturating_sub(1);
        self.freed.notify_one();
    }

    fn give_back(&self, conn: PgConn) {
        if conn.client.is_closed() {
            self.closed();
            return;
        }
        self.lock_idle().push(conn);
        let _open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.freed.notify_one();
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, HubError> {
        self.with_conn(|c| schema_version(&c.client))
    }
}

/// The schema version of the database at `url`, without migrating it.
pub fn existing_version(url: &str, ca: Option<&Path>) -> Result<i64, HubError> {
    Pool::new(url, 1, ca)?.schema_version()
}

/// Connects with `tls` and drives the connection's socket on this
/// runtime until it closes.
async fn connect_with<T>(
    config: tokio_postgres::Config,
    tls: T,
) -> Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket> + Send + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("PostgreSQL connection ended: {}", describe(&e));
        }
    });
    Ok(client)
}

/// The version the schema of this build is at.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version of the database `client` is connected to (0 for an
/// empty database).
fn schema_version(client: &Client) -> Result<i64, HubError> {
    let exists: bool =
        block_on(client.query_one("SELECT to_regclass('xinyi_schema') IS NOT NULL", &[]))
            .map_err(DbError::from)?
            .get(0);
    if !exists {
        return Ok(0);
    }
    let row = block_on(client.query_opt("SELECT version FROM xinyi_schema WHERE id = 1", &[]))
        .map_err(DbError::from)?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Applies the migrations after the database's version up to `target`,
/// each in a transaction with the version bump, under a lock other hub
/// processes starting at the same time wait on. A newer database is
/// refused.
fn migrate(client: &Client, target: i64) -> Result<Vec<&'static str>, HubError> {
    block_on(client.execute(
        "SELECT pg_advisory_lock($1, $2)",
        &[&LOCK_CLASS, &MIGRATING],
    ))
    .map_err(DbError::from)?;
    let out = migrate_locked(client, target);
    let unlocked = block_on(client.execute(
        "SELECT pg_advisory_unlock($1, $2)",
        &[&LOCK_CLASS, &MIGRATING],
    ))
    .map_err(DbError::from);
    let out = out?;
    unlocked?;
    Ok(out)
}

fn migrate_locked(client: &Client, target: i64) -> Result<Vec<&'static str>, HubError> {
    let found = schema_version(client)?;
    if found > latest() {
        return Err(HubError::SchemaTooNew {
            found,
            known: usize::try_from(latest()).unwrap_or(usize::MAX),
        });
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > found && m.version <= target)
    {
        let step = format!(
            "BEGIN; {}; INSERT INTO xinyi_schema (id, version) VALUES (1, {}) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version; COMMIT;",
            m.sql, m.version
        );
        if let Err(e) = block_on(client.batch_execute(&step)) {
            let _ = block_on(client.batch_execute("ROLLBACK"));
            return Err(HubError::Internal(format!(
                "migration {}: {}",
                m.name,
                describe(&e)
            )));
        }
        applied.push(m.name);
    }
    Ok(applied)
}

/// An error with what PostgreSQL said of it.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str("; ");
                s.push_str(d);
            }
            s
        }
        None => match e.source() {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

/// SQLite's parameters (`?1`, `?`) as PostgreSQL's (`$1`), outside
/// quotes and comments.
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut next = 0_usize;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    digits = next.to_string();
                } else if let Ok(n) = digits.parse::<usize>() {
                    next = next.max(n);
                }
                out.push('$');
                out.push_str(&digits);
            }
            c => out.push(c),
        }
    }
    out
}

/// A parameter as PostgreSQL takes it: encoded as the type the statement
/// gives the parameter, which PostgreSQL infers from where it stands.
#[derive(Debug)]
struct Param<'a>(ValueRef<'a>);

type BoxError = Box<dyn StdError + Sync + Send>;

impl tokio_postgres::types::ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let text = [
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
        ];
        match self.0 {
            ValueRef::Null => Ok(IsNull::Yes),
            ValueRef::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                Type::NUMERIC => {
                    encode_numeric(i, out);
                    Ok(IsNull::No)
                }
                ref t if text.contains(t) => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer given for a {ty} parameter").into()),
            },
            ValueRef::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                #[allow(clippy::cast_possible_truncation)]
                Type::FLOAT4 => (f as f32).to_sql(ty, out),
                ref t if text.contains(t) => f.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("a float given for a {ty} parameter").into()),
            },
            ValueRef::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ => s.to_sql(ty, out),
            },
            ValueRef::Blob(b) => match *ty {
                Type::BYTEA => b.to_sql(ty, out),
                _ => Err(format!("bytes given for a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column as the hub reads it.
#[derive(Debug)]
pub struct Raw<'a>(pub ValueRef<'a>);

impl<'a> tokio_postgres::types::FromSql<'a> for Raw<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        use tokio_postgres::types::FromSql as F;
        Ok(Raw(match *ty {
            Type::INT8 => ValueRef::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => ValueRef::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => ValueRef::Int(i16::from_sql(ty, raw)?.into()),
            Type::OID => ValueRef::Int(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => ValueRef::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => ValueRef::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => ValueRef::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => decode_numeric(raw)?,
            Type::BYTEA => ValueRef::Blob(raw),
            _ => ValueRef::Text(
                <&str as F>::from_sql(ty, raw)
                    .map_err(|_| format!("a column of type {ty}, which the hub does not read"))?,
            ),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Raw(ValueRef::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// NUMERIC's binary form (what SUM of BIGINT gives), as the whole
/// number it must be.
fn decode_numeric(raw: &[u8]) -> Result<ValueRef<'static>, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        raw.get(i..i + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated NUMERIC".into())
    };
    let ndigits = usize::try_from(word(0)?).map_err(|_| "a NUMERIC with negative length")?;
    let weight = i64::from(word(2)?);
    let sign = u16::from_be_bytes(word(4)?.to_be_bytes());
    if sign == 0xC000 {
        return Err("a NUMERIC that is not a number".into());
    }
    // Digits are base 10000, the first of weight `weight`.
    let whole_digits = usize::try_from(weight + 1).unwrap_or(0);
    let mut whole: i128 = 0;
    for i in 0..whole_digits {
        let d = if i < ndigits { word(8 + 2 * i)? } else { 0 };
        whole = whole
            .checked_mul(10_000)
            .and_then(|w| w.checked_add(i128::from(d)))
            .ok_or("a NUMERIC too large")?;
    }
    for i in whole_digits..ndigits {
        if word(8 + 2 * i)? != 0 {
            return Err("a NUMERIC with a fraction, where the hub reads only whole numbers".into());
        }
    }
    let v = if sign == 0x4000 { -whole } else { whole };
    i64::try_from(v)
        .map(ValueRef::Int)
        .map_err(|_| "a NUMERIC beyond 64 bits".into())
}

/// An integer in NUMERIC's binary form.
fn encode_numeric(i: i64, out: &mut BytesMut) {
    let mut digits = Vec::new();
    let mut v = i.unsigned_abs();
    while v > 0 {
        digits.push(u16::try_from(v % 10_000).unwrap_or(0));
        v /= 10_000;
    }
    digits.reverse();
    let n = u16::try_from(digits.len()).unwrap_or(0);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&n.saturating_sub(1).to_be_bytes());
    out.extend_from_slice(&(if i < 0 { 0x4000_u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&0_u16.to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_outside_quotes() {
        assert_eq!(
            translate("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?2 -- ?3\n AND c = ?"),
            "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $2 -- ?3\n AND c = $3"
        );
        assert_eq!(translate("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn numerics_round_trip_through_the_binary_form() {
        for i in [
            0_i64,
            1,
            -1,
            9_999,
            10_000,
            123_456_789,
            -98_765_432_101,
            i64::MAX,
        ] {
            let mut out = BytesMut::new();
            encode_numeric(i, &mut out);
            assert_eq!(decode_numeric(&out).unwrap(), ValueRef::Int(i), "{i}");
        }
        // 1.5: one digit of weight 0, one of weight -1 (5000).
        let half = [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert!(decode_numeric(&half).is_err());
        // 20000 with its trailing zero digit left out: 2 of weight 1.
        let trimmed = [0, 1, 0, 1, 0, 0, 0, 0, 0, 2];
        assert_eq!(decode_numeric(&trimmed).unwrap(), ValueRef::Int(20_000));
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://hub:s3cret@db.example:5432/xinyi"),
            "postgres://hub@db.example:5432/xinyi"
        );
        assert_eq!(redact("host=/run/pg dbname=x"), "host=/run/pg dbname=x");
    }

    #[test]
    fn key_locks_are_stable() {
        assert_eq!(key_lock("T-1"), key_lock("T-1"));
        assert_ne!(key_lock("T-1"), key_lock("T-2"));
    }
}
