//! The hub's settings, from an optional `hub.toml` in the data directory
//! (or the file given with `--config`). Every setting has a default, so no
//! file is needed; a file with an unknown key or a bad value is refused
//! with an error naming the key.
//!
//! Besides the registry's own settings they hold what keeps `serve` up
//! under abuse: TLS (or the statement that a reverse proxy terminates it),
//! timeouts, connection caps, the memory given to uploads and the
//! per-terminal request rate; and what protects people's data: where the
//! identity key is kept and how long identities and records are kept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use xinyi_core::Date;
use xinyi_core::time::WorkCalendar;
use xinyi_core::wire::request::MAX_REQUEST_SKEW_S;

/// The settings file's name in the data directory.
pub const CONFIG_FILE: &str = "hub.toml";
/// The address `serve` listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8470";
/// The address the web console listens on by default: this machine only.
pub const DEFAULT_CONSOLE_LISTEN: &str = "127.0.0.1:8471";
/// How long signed metadata stays valid by default.
pub const DEFAULT_METADATA_LIFETIME_HOURS: i64 = 24;
/// The largest upload body accepted by default (a full batch fits easily).
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;
/// Seconds a client has by default to send a request's complete header.
pub const DEFAULT_HEADER_TIMEOUT_S: u64 = 20;
/// Seconds a client has by default to send a request's whole body.
pub const DEFAULT_BODY_TIMEOUT_S: u64 = 120;
/// Seconds a kept-alive connection may stay silent between requests.
pub const DEFAULT_IDLE_TIMEOUT_S: u64 = 10;
/// Connections served at once by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Connections from one client address by default.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 128;
/// Full-size upload bodies held in memory at once by default.
pub const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 4;
/// A terminal's sustained request rate by default: far above what a
/// counter needs (an upload after each redemption, a sync every minute),
/// far below what loads the hub.
pub const DEFAULT_TERMINAL_REQUESTS_PER_MINUTE: u32 = 120;
/// How often `serve` publishes the usage of limited measures by default:
/// uses made at one counter reach the others' offline data within this.
pub const DEFAULT_USAGE_PUBLISH_INTERVAL_S: u64 = 300;
/// A terminal's burst by default: a backlog of 300,000 records (600
/// uploads of 500) fits in it.
pub const DEFAULT_TERMINAL_REQUEST_BURST: u32 = 600;
/// Days a listing's identity (ID number, full name) is kept by default
/// after the listing ended or was withdrawn: time for objections.
pub const DEFAULT_LISTING_IDENTITY_RETENTION_DAYS: u32 = 730;
/// Days an exclusion's ID number is kept by default after it ended.
pub const DEFAULT_EXCLUSION_IDENTITY_RETENTION_DAYS: u32 = 730;
/// Days terminals' records are kept by default.
pub const DEFAULT_RECORD_RETENTION_DAYS: u32 = 1825;
/// Days after its answer a case's phone, ID number and words are kept.
pub const DEFAULT_CASE_RETENTION_DAYS: u32 = 730;
/// Working days the credit office and the units have to answer a
/// citizen's objection or complaint.
pub const DEFAULT_CASE_ANSWER_WORKING_DAYS: u32 = 10;
/// The shortest record retention: a measure's limit counts uses over at
/// most a calendar year, which must stay whole.
pub const MIN_RECORD_RETENTION_DAYS: u32 = 366;
/// The longest retention of any kind (a hundred years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Connections to PostgreSQL one hub process keeps at most by default.
pub const DEFAULT_DATABASE_POOL: usize = 16;

/// The text `init` writes: every setting, commented out at its default.
pub const SAMPLE: &str = r#"# xinyi-hub settings. Every setting is optional; the defaults are shown.

# Address and port `xinyi-hub serve` listens on.
# listen = "127.0.0.1:8470"

# The hub's public address, as citizens' phones reach it. The terminals'
# objection (名单异议) and complaint (投诉建议) codes point to
# public_url/c/objection and public_url/c/complaint, with the record's
# reference, unless a site has addresses of its own (`site add
# --objection-url/--complaint-url`). Without it: `http://` or `https://`
# (with tls_cert/tls_key) and `listen` above; none when `listen` is
# 0.0.0.0 or [::] or a reverse proxy terminates TLS, and then terminals
# show no such codes. A change is published when `serve` starts.
# public_url = "https://xyjl.example.gov.cn"

# The registry's database: SQLite's hub.db in the data directory, or a
# PostgreSQL database that several `xinyi-hub serve` processes share
# (each with a copy of this data directory's key files). The hub creates
# its tables; the role needs to own the database (or its schema). Keep
# this file private if the address holds a password.
# database = "postgres://xinyi@db.example:5432/xinyi"
# A PostgreSQL server on another machine is reached over TLS only: the
# PEM file of the CA that signed its certificate (which must name the
# address's host). Without it, `?sslmode=require` in the address checks
# the certificate against the system's CAs, and `?sslmode=disable` sends
# everything in clear. A server on this machine is reached in clear.
# database_ca = "/etc/xinyi/db-ca.pem"
# Connections each hub process keeps to PostgreSQL at most.
# database_pool = 16

# Hours a terminal may trust signed metadata before it must refresh it.
# metadata_lifetime_hours = 24

# Seconds a terminal's request time may differ from the hub's clock.
# request_skew_s = 300

# Seconds request nonces are kept to refuse replays (at least 2 x request_skew_s).
# nonce_retention_s = 600

# Largest record upload accepted, in bytes.
# max_upload_bytes = 8388608

# --- TLS ---------------------------------------------------------------
# The certificate chain and private key (PEM files; a relative path is
# relative to this file's folder). Both or neither. With them `serve`
# speaks HTTPS only. `xinyi-hub tls self-signed` makes a pair.
# tls_cert = "tls/cert.pem"
# tls_key = "tls/key.pem"

# Without tls_cert/tls_key, `serve` refuses a listen address other than
# loopback unless a reverse proxy in front terminates TLS: say so here.
# plain_http_behind_proxy = false

# --- Limits --------------------------------------------------------------
# Seconds a client has to send a request's complete header (and, with TLS,
# to finish the handshake), counted from the connection's start or the end
# of the previous answer.
# header_timeout_s = 20

# Seconds a kept-alive connection may stay silent between requests
# (at most header_timeout_s).
# idle_timeout_s = 10

# Seconds a client has to send a request's whole body (past it: 408), and
# may go without reading any of its answer.
# body_timeout_s = 120

# Connections served at once; more are closed as they arrive. Lowered at
# start if the open-file limit cannot hold them.
# max_connections = 4096

# Connections at once from one client address (loopback, where a reverse
# proxy connects from, is exempt).
# max_connections_per_address = 128

# Record upload bodies held in memory at once, each in a reused buffer of
# max_upload_bytes; more wait their turn (503 if none frees up within
# body_timeout_s).
# max_concurrent_uploads = 4

# Each terminal's signed requests: a sustained rate per minute and a
# burst; past them the hub answers 429 with Retry-After.
# terminal_requests_per_minute = 120
# terminal_request_burst = 600

# --- Limits that hold across counters -------------------------------------
# Seconds between publications of the usage of limited measures (the uses
# of every counter, for terminals that cannot reach the hub at a scan).
# A version is published only when the usage changed.
# usage_publish_interval_s = 300

# --- People's data --------------------------------------------------------
# ID numbers and full names are sealed in the database (AES-256-GCM-SIV)
# under the identity key: 32 random bytes that `init` makes, owner-only.
# Keep it apart from the database (another disk, a mount only this
# service reads) by naming it here; a relative path is relative to this
# file's folder. Without it the hub does not open. Backups of the data
# directory hold the key only when it is kept inside the directory: keep
# a copy of a key kept elsewhere yourself.
# identity_key = "identity.key"

# Days a listing's ID number and full name are kept after the listing
# ended or was withdrawn; then they are erased (the pseudonymous listing
# that terminals know stays). `xinyi-hub retention` and `serve` (daily)
# apply this and the two settings below.
# listing_identity_retention_days = 730

# Days an exclusion's ID number is kept after the exclusion ended.
# exclusion_identity_retention_days = 730

# Days terminals' records are kept (at least 366); older ones are deleted,
# but each terminal's newest record, and the staff records its operators'
# roles still come from, stay.
# record_retention_days = 1825
# --- Web console ------------------------------------------------------------
# Address and port of the console the credit office, the departments and
# the units use in a browser, apart from the terminals' API. "off" turns it
# off. Another address than loopback needs TLS (tls_cert/tls_key, used for
# both) or plain_http_behind_proxy, as for `listen`.
# console_listen = "127.0.0.1:8471"

# --- Citizens' cases ----------------------------------------------------------
# Working days to answer an objection or a complaint; a case past its day
# is flagged overdue in the console. Working days are Monday to Friday,
# less `holidays`, plus `extra_workdays` (weekend days worked in a
# holiday's place), each a list of "YYYY-MM-DD".
# case_answer_working_days = 10
# Days after a case was answered until its phone, ID number and words are
# erased (its number, state, record link and answer stay).
# case_retention_days = 730
# holidays = ["2027-01-01", "2027-02-16", "2027-02-17"]
# extra_workdays = ["2027-02-07"]
"#;

/// The certificate and key files `serve` uses for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    pub listen: SocketAddr,
    pub metadata_lifetime_s: i64,
    pub request_skew_s: i64,
    pub nonce_retention_s: i64,
    pub max_upload_bytes: usize,
    /// TLS served by the hub itself, if set.
    pub tls: Option<TlsFiles>,
    /// Plain HTTP on a non-loopback address is allowed: a reverse proxy
    /// in front terminates TLS.
    pub plain_http_behind_proxy: bool,
    pub header_timeout_s: u64,
    pub idle_timeout_s: u64,
    pub body_timeout_s: u64,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub max_concurrent_uploads: usize,
    pub terminal_requests_per_minute: u32,
    pub terminal_request_burst: u32,
    pub usage_publish_interval_s: u64,
    /// The identity key file, if not `identity.key` in the data directory.
    pub identity_key: Option<PathBuf>,
    pub listing_identity_retention_days: u32,
    pub exclusion_identity_retention_days: u32,
    pub record_retention_days: u32,
    /// Where `serve` serves the web console; None: not at all.
    pub console_listen: Option<SocketAddr>,
    /// Working days to answer a citizen's case, and which days work.
    pub case_answer_working_days: u32,
    pub calendar: WorkCalendar,
    /// Days after its answer a case's contact and words are erased.
    pub case_retention_days: u32,
    /// The hub's public address as citizens' phones reach it, if set
    /// (no trailing slash); see [`HubConfig::effective_public_url`].
    pub public_url: Option<String>,
    /// A PostgreSQL connection string, if the registry is there and not
    /// in the data directory's SQLite file.
    pub database: Option<String>,
    /// Connections to PostgreSQL one process keeps at most.
    pub database_pool: usize,
    /// The PEM file of the CA that signed the PostgreSQL server's
    /// certificate: TLS is then required ([`crate::db::pg_tls`]).
    pub database_ca: Option<PathBuf>,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8470)),
            metadata_lifetime_s: DEFAULT_METADATA_LIFETIME_HOURS * 3600,
            request_skew_s: MAX_REQUEST_SKEW_S,
            nonce_retention_s: 2 * MAX_REQUEST_SKEW_S,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            tls: None,
            plain_http_behind_proxy: false,
            header_timeout_s: DEFAULT_HEADER_TIMEOUT_S,
            idle_timeout_s: DEFAULT_IDLE_TIMEOUT_S,
            body_timeout_s: DEFAULT_BODY_TIMEOUT_S,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_concurrent_uploads: DEFAULT_MAX_CONCURRENT_UPLOADS,
            terminal_requests_per_minute: DEFAULT_TERMINAL_REQUESTS_PER_MINUTE,
            terminal_request_burst: DEFAULT_TERMINAL_REQUEST_BURST,
            usage_publish_interval_s: DEFAULT_USAGE_PUBLISH_INTERVAL_S,
            identity_key: None,
            listing_identity_retention_days: DEFAULT_LISTING_IDENTITY_RETENTION_DAYS,
            exclusion_identity_retention_days: DEFAULT_EXCLUSION_IDENTITY_RETENTION_DAYS,
            record_retention_days: DEFAULT_RECORD_RETENTION_DAYS,
            console_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8471))),
            case_answer_working_days: DEFAULT_CASE_ANSWER_WORKING_DAYS,
            calendar: WorkCalendar::default(),
            case_retention_days: DEFAULT_CASE_RETENTION_DAYS,
            public_url: None,
            database: None,
            database_pool: DEFAULT_DATABASE_POOL,
            database_ca: None,
        }
    }
}

/// Why a settings file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read settings file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {}: {message}", .path.display())]
    Parse { path: PathBuf, message: String },
    #[error("settings file {}: `{key}`: {why}", .path.display())]
    Value {
        path: PathBuf,
        key: &'static str,
        why: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    metadata_lifetime_hours: Option<i64>,
    request_skew_s: Option<i64>,
    nonce_retention_s: Option<i64>,
    max_upload_bytes: Option<i64>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    plain_http_behind_proxy: Option<bool>,
    header_timeout_s: Option<i64>,
    idle_timeout_s: Option<i64>,
    body_timeout_s: Option<i64>,
    max_connections: Option<i64>,
    max_connections_per_address: Option<i64>,
    max_concurrent_uploads: Option<i64>,
    terminal_requests_per_minute: Option<i64>,
    terminal_request_burst: Option<i64>,
    usage_publish_interval_s: Option<i64>,
    identity_key: Option<String>,
    listing_identity_retention_days: Option<i64>,
    exclusion_identity_retention_days: Option<i64>,
    record_retention_days: Option<i64>,
    console_listen: Option<String>,
    case_answer_working_days: Option<i64>,
    holidays: Option<Vec<String>>,
    extra_workdays: Option<Vec<String>>,
    case_retention_days: Option<i64>,
    public_url: Option<String>,
    database: Option<String>,
    database_pool: Option<i64>,
    database_ca: Option<String>,
}

/// `v` if it lies in `range`, else why not.
fn within<T: TryFrom<i64> + PartialOrd + std::fmt::Display + Copy>(
    v: i64,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<T, String> {
    T::try_from(v)
        .ok()
        .filter(|t| range.contains(t))
        .ok_or_else(|| {
            format!(
                "must be {} to {}{unit}, got {v}",
                range.start(),
                range.end()
            )
        })
}

impl HubConfig {
    /// Parses settings text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<HubConfig, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        let bad = |key: &'static str, why: String| ConfigError::Value {
            path: path.to_owned(),
            key,
            why,
        };
        let mut c = HubConfig::default();
        if let Some(l) = raw.listen {
            c.listen = l.trim().parse().map_err(|_| {
                bad(
                    "listen",
                    format!("{l:?} is not an address and port such as \"{DEFAULT_LISTEN}\""),
                )
            })?;
        }
        if let Some(l) = raw.console_listen {
            let l = l.trim();
            c.console_listen = if l == "off" {
                None
            } else {
                Some(l.parse().map_err(|_| {
                    bad(
                        "console_listen",
                        format!(
                            "{l:?} is not an address and port such as \"{DEFAULT_CONSOLE_LISTEN}\", nor \"off\""
                        ),
                    )
                })?)
            };
        }
        if let Some(u) = raw.public_url {
            c.public_url = Some(crate::channels::public_url(&u).map_err(|w| bad("public_url", w))?);
        }
        // The database's address as parsed, for the TLS check once
        // `database_ca` is known too.
        let mut database = None;
        if let Some(d) = raw.database {
            let d = d.trim();
            if !(d.starts_with("postgres://") || d.starts_with("postgresql://")) {
                return Err(bad(
                    "database",
                    "must be a PostgreSQL address such as \"postgres://xinyi@db.example/xinyi\" \
                     (leave it out for SQLite in the data directory)"
                        .into(),
                ));
            }
            let parsed = d
                .parse::<tokio_postgres::Config>()
                .map_err(|e| bad("database", format!("not a PostgreSQL address: {e}")))?;
            c.database = Some(d.to_owned());
            database = Some(parsed);
        }
        if let Some(n) = raw.database_pool {
            c.database_pool =
                within(n, 1..=1000, " connections").map_err(|w| bad("database_pool", w))?;
        }
        if let Some(h) = raw.metadata_lifetime_hours {
            if !(1..=24 * 30).contains(&h) {
                return Err(bad(
                    "metadata_lifetime_hours",
                    format!("must be 1 to 720 hours, got {h}"),
                ));
            }
            c.metadata_lifetime_s = h * 3600;
        }
        if let Some(s) = raw.request_skew_s {
            if !(1..=86_400).contains(&s) {
                return Err(bad(
                    "request_skew_s",
                    format!("must be 1 to 86400 seconds, got {s}"),
                ));
            }
            c.request_skew_s = s;
            c.nonce_retention_s = c.nonce_retention_s.max(2 * s);
        }
        if let Some(r) = raw.nonce_retention_s {
            if r < 2 * c.request_skew_s || r > 30 * 86_400 {
                return Err(bad(
                    "nonce_retention_s",
                    format!(
                        "must be at least 2 x request_skew_s ({}) and at most 2592000 seconds, got {r}",
                        2 * c.request_skew_s
                    ),
                ));
            }
            c.nonce_retention_s = r;
        }
        if let Some(b) = raw.max_upload_bytes {
            c.max_upload_bytes = usize::try_from(b)
                .ok()
                .filter(|b| (64 * 1024..=256 * 1024 * 1024).contains(b))
                .ok_or_else(|| {
                    bad(
                        "max_upload_bytes",
                        format!("must be 65536 to 268435456 bytes, got {b}"),
                    )
                })?;
        }
        let file = |key: &'static str, v: String| -> Result<PathBuf, ConfigError> {
            let v = v.trim();
            if v.is_empty() {
                return Err(bad(key, "must name a file".into()));
            }
            // Relative to the settings file, so a data directory can be
            // moved with its certificate inside it.
            Ok(match path.parent() {
                Some(dir) if Path::new(v).is_relative() => dir.join(v),
                _ => PathBuf::from(v),
            })
        };
        c.tls = match (raw.tls_cert, raw.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: file("tls_cert", cert)?,
                key: file("tls_key", key)?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad(
                    "tls_key",
                    "missing: tls_cert is set, so the key file must be too".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "tls_cert",
                    "missing: tls_key is set, so the certificate file must be too".into(),
                ));
            }
        };
        if let Some(ca) = raw.database_ca {
            if c.database.is_none() {
                return Err(bad(
                    "database_ca",
                    "is set, but database is not: the SQLite registry in the data directory \
                     needs no CA"
                        .into(),
                ));
            }
            c.database_ca = Some(file("database_ca", ca)?);
        }
        if let (Some(url), Some(parsed)) = (&c.database, &database) {
            crate::db::pg_tls::plan(
                parsed,
                &crate::db::pg::redact(url),
                c.database_ca.as_deref(),
            )
            .map_err(|w| bad("database", w))?;
        }
        if let Some(p) = raw.plain_http_behind_proxy {
            c.plain_http_behind_proxy = p;
        }
        if let Some(v) = raw.header_timeout_s {
            c.header_timeout_s =
                within(v, 1..=600, " seconds").map_err(|w| bad("header_timeout_s", w))?;
        }
        if let Some(v) = raw.idle_timeout_s {
            c.idle_timeout_s =
                within(v, 1..=600, " seconds").map_err(|w| bad("idle_timeout_s", w))?;
        } else {
            c.idle_timeout_s = c.idle_timeout_s.min(c.header_timeout_s);
        }
        if c.idle_timeout_s > c.header_timeout_s {
            return Err(bad(
                "idle_timeout_s",
                format!(
                    "must be at most header_timeout_s ({}), got {}: the header timeout already closes a connection silent that long",
                    c.header_timeout_s, c.idle_timeout_s
                ),
            ));
        }
        if let Some(v) = raw.body_timeout_s {
            c.body_timeout_s =
                within(v, 1..=3600, " seconds").map_err(|w| bad("body_timeout_s", w))?;
        }
        if let Some(v) = raw.max_connections {
            c.max_connections =
                within(v, 16..=1_000_000, "").map_err(|w| bad("max_connections", w))?;
        }
        if let Some(v) = raw.max_connections_per_address {
            c.max_connections_per_address =
                within(v, 1..=1_000_000, "").map_err(|w| bad("max_connections_per_address", w))?;
        }
        if let Some(v) = raw.max_concurrent_uploads {
            c.max_concurrent_uploads =
                within(v, 1..=256, "").map_err(|w| bad("max_concurrent_uploads", w))?;
        }
        if let Some(v) = raw.terminal_requests_per_minute {
            c.terminal_requests_per_minute = within(v, 1..=60_000, " requests")
                .map_err(|w| bad("terminal_requests_per_minute", w))?;
        }
        if let Some(v) = raw.terminal_request_burst {
            c.terminal_request_burst = within(v, 1..=100_000, " requests")
                .map_err(|w| bad("terminal_request_burst", w))?;
        }
        if let Some(v) = raw.usage_publish_interval_s {
            c.usage_publish_interval_s = within(v, 10..=86_400, " seconds")
                .map_err(|w| bad("usage_publish_interval_s", w))?;
        }
        if let Some(v) = raw.identity_key {
            c.identity_key = Some(file("identity_key", v)?);
        }
        if let Some(v) = raw.listing_identity_retention_days {
            c.listing_identity_retention_days = within(v, 0..=MAX_RETENTION_DAYS, " days")
                .map_err(|w| bad("listing_identity_retention_days", w))?;
        }
        if let Some(v) = raw.exclusion_identity_retention_days {
            c.exclusion_identity_retention_days = within(v, 0..=MAX_RETENTION_DAYS, " days")
                .map_err(|w| bad("exclusion_identity_retention_days", w))?;
        }
        if let Some(v) = raw.record_retention_days {
            c.record_retention_days =
                within(v, MIN_RECORD_RETENTION_DAYS..=MAX_RETENTION_DAYS, " days")
                    .map_err(|w| bad("record_retention_days", w))?;
        }
        if let Some(v) = raw.case_retention_days {
            c.case_retention_days = within(v, 0..=MAX_RETENTION_DAYS, " days")
                .map_err(|w| bad("case_retention_days", w))?;
        }
        if let Some(v) = raw.case_answer_working_days {
            c.case_answer_working_days = within(v, 1..=60, " working days")
                .map_err(|w| bad("case_answer_working_days", w))?;
        }
        let dates = |key: &'static str, v: Vec<String>| -> Result<Vec<Date>, ConfigError> {
            v.iter()
                .map(|d| {
                    d.trim()
                        .parse::<Date>()
                        .map_err(|e| bad(key, format!("{d:?}: {e} (dates are YYYY-MM-DD)")))
                })
                .collect()
        };
        if let Some(v) = raw.holidays {
            c.calendar.holidays = dates("holidays", v)?;
        }
        if let Some(v) = raw.extra_workdays {
            c.calendar.extra_workdays = dates("extra_workdays", v)?;
        }
        if let Some(d) = c
            .calendar
            .extra_workdays
            .iter()
            .find(|d| c.calendar.holidays.contains(d))
        {
            return Err(bad(
                "extra_workdays",
                format!("{d} is also listed in holidays"),
            ));
        }
        Ok(c)
    }

    /// The public address the channel pages are published under:
    /// `public_url`, else one made of the scheme `serve` speaks and
    /// `listen` — none when `listen` is an unspecified address (0.0.0.0,
    /// `[::]`), which names no host, or when a reverse proxy terminates TLS
    /// on an address the hub does not know.
    pub fn effective_public_url(&self) -> Option<String> {
        if let Some(u) = &self.public_url {
            return Some(u.clone());
        }
        if self.listen.ip().is_unspecified() || (self.tls.is_none() && self.plain_http_behind_proxy)
        {
            return None;
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        Some(format!("{scheme}://{}", self.listen))
    }

    /// Reads a settings file.
    pub fn load(path: &Path) -> Result<HubConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        HubConfig::parse(&text, path)
    }

    /// The identity key file of the hub in `dir`: the one named by
    /// `identity_key`, else `identity.key` in the data directory.
    pub fn identity_key_path(&self, dir: &Path) -> PathBuf {
        self.identity_key
            .clone()
            .unwrap_or_else(|| dir.join(crate::identity::IDENTITY_KEY_FILE))
    }

    /// Where the registry's database is for the hub in `dir`.
    pub fn database_at(&self, dir: &Path) -> crate::db::Location {
        match &self.database {
            Some(url) => crate::db::Location::Postgres {
                url: url.clone(),
                pool: self.database_pool,
                ca: self.database_ca.clone(),
            },
            None => crate::db::Location::Sqlite(dir.join(crate::db::DB_FILE)),
        }
    }

    /// The settings of a data directory: its `hub.toml` if there is one,
    /// else the defaults.
    pub fn for_dir(dir: &Path) -> Result<HubConfig, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        if path.exists() {
            HubConfig::load(&path)
        } else {
            Ok(HubConfig::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HubConfig, ConfigError> {
        HubConfig::parse(text, Path::new("hub.toml"))
    }

    #[test]
    fn defaults_and_sample() {
        assert_eq!(parse("").unwrap(), HubConfig::default());
        assert_eq!(parse(SAMPLE).unwrap(), HubConfig::default());
        let c = parse("listen = \"0.0.0.0:9000\"\nrequest_skew_s = 600\n").unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.nonce_retention_s, 1200);
        let c = parse(
            "case_answer_working_days = 5\nholidays = [\"2027-02-16\"]\nextra_workdays = [\"2027-02-07\"]\n",
        )
        .unwrap();
        assert_eq!(c.case_answer_working_days, 5);
        assert_eq!(c.calendar.holidays, vec![Date::new(2027, 2, 16).unwrap()]);
        assert_eq!(
            c.calendar.extra_workdays,
            vec![Date::new(2027, 2, 7).unwrap()]
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("lisen = \"x\"").unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        let e = parse("listen = \"nowhere\"").unwrap_err().to_string();
        assert!(e.contains("`listen`"), "{e}");
        let e = parse("metadata_lifetime_hours = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metadata_lifetime_hours"), "{e}");
        let e = parse("request_skew_s = \"five\"").unwrap_err().to_string();
        assert!(e.contains("request_skew_s"), "{e}");
        let e = parse("nonce_retention_s = 10").unwrap_err().to_string();
        assert!(e.contains("nonce_retention_s"), "{e}");
        for (text, key) in [
            ("header_timeout_s = 0", "header_timeout_s"),
            ("header_timeout_s = 601", "header_timeout_s"),
            ("idle_timeout_s = -1", "idle_timeout_s"),
            ("header_timeout_s = 5\nidle_timeout_s = 6", "idle_timeout_s"),
            ("body_timeout_s = 0", "body_timeout_s"),
            ("max_connections = 3", "max_connections"),
            (
                "max_connections_per_address = 0",
                "max_connections_per_address",
            ),
            ("max_concurrent_uploads = 0", "max_concurrent_uploads"),
            (
                "terminal_requests_per_minute = 0",
                "terminal_requests_per_minute",
            ),
            ("terminal_request_burst = 0", "terminal_request_burst"),
            ("usage_publish_interval_s = 5", "usage_publish_interval_s"),
            ("case_answer_working_days = 0", "case_answer_working_days"),
            ("case_retention_days = -1", "case_retention_days"),
            ("holidays = [\"2027-02-30\"]", "holidays"),
            ("extra_workdays = [\"7 Feb\"]", "extra_workdays"),
            (
                "holidays = [\"2027-02-07\"]\nextra_workdays = [\"2027-02-07\"]",
                "extra_workdays",
            ),
            ("identity_key = \"\"", "identity_key"),
            ("identity_key = 7", "identity_key"),
            (
                "listing_identity_retention_days = -1",
                "listing_identity_retention_days",
            ),
            (
                "exclusion_identity_retention_days = 36501",
                "exclusion_identity_retention_days",
            ),
            ("record_retention_days = 365", "record_retention_days"),
            ("console_listen = \"somewhere\"", "console_listen"),
            ("public_url = \"ftp://xyjl.example.gov.cn\"", "public_url"),
            (
                "public_url = \"https://xyjl.example.gov.cn/?a=1\"",
                "public_url",
            ),
            (
                "public_url = \"https://xyjl.example.gov.cn/#c\"",
                "public_url",
            ),
            ("public_url = \"https://xyjl example\"", "public_url"),
            ("public_url = \"\"", "public_url"),
            ("public_url = 8470", "public_url"),
            (
                "plain_http_behind_proxy = \"yes\"",
                "plain_http_behind_proxy",
            ),
            ("tls_cert = \"c.pem\"", "tls_key"),
            ("tls_key = \"k.pem\"", "tls_cert"),
            ("tls_cert = \" \"\ntls_key = \"k.pem\"", "tls_cert"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn people_data_settings() {
        let c = HubConfig::parse(
            "identity_key = \"keys/identity.key\"\nlisting_identity_retention_days = 0\n\
             exclusion_identity_retention_days = 90\nrecord_retention_days = 366\n",
            Path::new("/etc/hub/hub.toml"),
        )
        .unwrap();
        assert_eq!(
            c.identity_key_path(Path::new("/var/lib/hub")),
            PathBuf::from("/etc/hub/keys/identity.key")
        );
        assert_eq!(
            (
                c.listing_identity_retention_days,
                c.exclusion_identity_retention_days,
                c.record_retention_days
            ),
            (0, 90, 366)
        );
        let c = parse("identity_key = \"/mnt/keys/identity.key\"").unwrap();
        assert_eq!(
            c.identity_key_path(Path::new("/var/lib/hub")),
            PathBuf::from("/mnt/keys/identity.key")
        );
        let d = HubConfig::default();
        assert_eq!(
            (
                d.listing_identity_retention_days,
                d.exclusion_identity_retention_days,
                d.record_retention_days
            ),
            (730, 730, 1825)
        );
    }

    #[test]
    fn database_settings() {
        let c = HubConfig::parse(
            "database = \"postgres://xinyi@db.example/xinyi\"\ndatabase_ca = \"certs/db-ca.pem\"\n",
            Path::new("/etc/hub/hub.toml"),
        )
        .unwrap();
        assert_eq!(
            c.database_at(Path::new("/var/lib/hub")),
            crate::db::Location::Postgres {
                url: "postgres://xinyi@db.example/xinyi".into(),
                pool: DEFAULT_DATABASE_POOL,
                ca: Some(PathBuf::from("/etc/hub/certs/db-ca.pem")),
            }
        );
        for (text, key, words) in [
            // Another machine, in clear by default: refused.
            (
                "database = \"postgres://xinyi:pw@db.example/xinyi\"",
                "database",
                "database_ca",
            ),
            (
                "database = \"postgres://xinyi@db.example/x?sslmode=disable\"\ndatabase_ca = \"ca.pem\"",
                "database",
                "sslmode=disable",
            ),
            ("database_ca = \"ca.pem\"", "database_ca", "SQLite"),
            (
                "database = \"postgres://xinyi@db.example/x\"\ndatabase_ca = \" \"",
                "database_ca",
                "file",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(words), "{text}: {e}");
            assert!(!e.contains(":pw@"), "the password is shown: {e}");
        }
        for text in [
            "database = \"postgres://xinyi@127.0.0.1/xinyi\"",
            "database = \"postgres://xinyi@db.example/xinyi?sslmode=require\"",
            "database = \"postgres://xinyi@db.example/xinyi?sslmode=disable\"",
        ] {
            assert!(parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn serving_settings() {
        let c = HubConfig::parse(
            "tls_cert = \"tls/cert.pem\"\ntls_key = \"/etc/hub/key.pem\"\n\
             plain_http_behind_proxy = true\nheader_timeout_s = 30\nidle_timeout_s = 30\n\
             body_timeout_s = 5\nmax_connections = 100\nmax_connections_per_address = 7\n\
             max_concurrent_uploads = 2\nterminal_requests_per_minute = 6\nterminal_request_burst = 3\n\
             usage_publish_interval_s = 60\n",
            Path::new("/srv/hub/hub.toml"),
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsFiles {
                cert: PathBuf::from("/srv/hub/tls/cert.pem"),
                key: PathBuf::from("/etc/hub/key.pem"),
            })
        );
        assert!(c.plain_http_behind_proxy);
        assert_eq!(
            (c.header_timeout_s, c.idle_timeout_s, c.body_timeout_s),
            (30, 30, 5)
        );
        assert_eq!((c.max_connections, c.max_connections_per_address), (100, 7));
        assert_eq!(c.max_concurrent_uploads, 2);
        assert_eq!(
            (c.terminal_requests_per_minute, c.terminal_request_burst),
            (6, 3)
        );
        assert_eq!(c.usage_publish_interval_s, 60);
        assert_eq!(c.identity_key, None);
        assert_eq!(
            c.identity_key_path(Path::new("/srv/hub")),
            PathBuf::from("/srv/hub/identity.key")
        );
        let c = parse("console_listen = \"off\"").unwrap();
        assert_eq!(c.console_listen, None);
        let c = parse("console_listen = \"127.0.0.1:9471\"").unwrap();
        assert_eq!(c.console_listen.map(|a| a.port()), Some(9471));
        // A short header timeout pulls the default idle timeout down with it.
        let c = parse("header_timeout_s = 4").unwrap();
        assert_eq!(c.idle_timeout_s, 4);
    }

    #[test]
    fn public_url_and_its_default() {
        let c = parse("public_url = \"https://xyjl.example.gov.cn/\"").unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://xyjl.example.gov.cn"));
        assert_eq!(
            c.effective_public_url().as_deref(),
            Some("https://xyjl.example.gov.cn")
        );
        // Set, it wins over what listen would give, whatever listen is.
        let c = parse("listen = \"0.0.0.0:8470\"\npublic_url = \"https://gov.example/xyjl\"\nplain_http_behind_proxy = true").unwrap();
        assert_eq!(
            c.effective_public_url().as_deref(),
            Some("https://gov.example/xyjl")
        );
        // Unset: the scheme served and the listen address.
        assert_eq!(
            parse("").unwrap().effective_public_url().as_deref(),
            Some("http://127.0.0.1:8470")
        );
        let c =
            parse("listen = \"10.1.2.3:9000\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"").unwrap();
        assert_eq!(
            c.effective_public_url().as_deref(),
            Some("https://10.1.2.3:9000")
        );
        let c = parse("listen = \"[::1]:8470\"").unwrap();
        assert_eq!(
            c.effective_public_url().as_deref(),
            Some("http://[::1]:8470")
        );
        // No host to give citizens: none, and terminals show no codes.
        for text in [
            "listen = \"0.0.0.0:8470\"",
            "listen = \"[::]:8470\"",
            "listen = \"0.0.0.0:8470\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"",
            "listen = \"127.0.0.1:8470\"\nplain_http_behind_proxy = true",
        ] {
            assert_eq!(parse(text).unwrap().effective_public_url(), None, "{text}");
        }
        let e = parse("public_url = \"https://xyjl.example.gov.cn?x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`public_url`") && e.contains("query"), "{e}");
    }
}
