//! What the hub says about itself: [`Health`] for `GET /v1/health` (cheap
//! enough for a load balancer to ask every few seconds) and [`Status`] for
//! `xinyi-hub status` (an operator's look, with the database's own
//! consistency check, which reads every page).

use serde::Serialize;
use xinyi_core::UnixTime;

use crate::db;
use crate::db::OptionalExtension as _;
use crate::error::HubError;
use crate::hub::Hub;

/// This build's version, as `xinyi-hub --version` prints it.
pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The answer of `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The database answered a read and its schema is the one this build
    /// writes.
    pub ok: bool,
    /// This build's version.
    pub software: &'static str,
    /// The data version terminals receive (0 before the first publication).
    pub data_version: u64,
    /// When that version was published (Unix seconds).
    pub published_at: Option<i64>,
    /// The database's schema version.
    pub schema: i64,
    /// `ok`, or what is wrong with the database.
    pub database: String,
}

impl Hub {
    /// A cheap check: one read of the database.
    pub fn health(&self) -> Health {
        let read = self.db().schema_version().and_then(|schema| {
            let version: Option<(i64, i64)> = self.db().read(|tx| {
                Ok(tx
                    .query_row(
                        "SELECT version, published_at FROM versions ORDER BY version DESC LIMIT 1",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?)
            })?;
            Ok((schema, version))
        });
        let latest = db::latest_version();
        match read {
            Ok((schema, version)) => {
                let database = if schema == latest {
                    "ok".to_owned()
                } else {
                    format!("schema {schema}, this build writes {latest}")
                };
                Health {
                    ok: schema == latest,
                    software: SOFTWARE_VERSION,
                    data_version: version.map_or(0, |v| u64::try_from(v.0).unwrap_or(0)),
                    published_at: version.map(|v| v.1),
                    schema,
                    database,
                }
            }
            Err(e) => Health {
                ok: false,
                software: SOFTWARE_VERSION,
                data_version: 0,
                published_at: None,
                schema: 0,
                database: e.to_string(),
            },
        }
    }

    /// The operator's view: health, SQLite's `quick_check` of every page,
    /// and what the registry holds.
    pub fn status(&self) -> Result<Status, HubError> {
        let health = self.health();
        // SQLite checks every page; PostgreSQL's pages are its own to
        // check (data checksums, amcheck), so it is asked only to answer.
        let integrity: String = match self.db().dialect() {
            crate::db::Dialect::Sqlite => self.db().with_sqlite(|conn| {
                let mut stmt = conn.prepare("PRAGMA quick_check(20)")?;
                let lines = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(lines.join("; "))
            })?,
            crate::db::Dialect::Postgres => self.db().read(|tx| {
                let one: i64 = tx.query_row("SELECT 1", [], |r| r.get(0))?;
                Ok(if one == 1 {
                    "ok".into()
                } else {
                    "PostgreSQL answered wrongly".into()
                })
            })?,
        };
        let now = self.now();
        let counts = self.db().read(|tx| {
            let one = |sql: &str, p: &[&dyn crate::db::ToSql]| -> Result<u64, HubError> {
                let n: i64 = tx.query_row(sql, p, |r| r.get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            let day_ago = now.0 - 86_400;
            Ok(StatusCounts {
                listings: one("SELECT count(*) FROM listings WHERE withdrawn = 0", &[])?,
                exclusions: one("SELECT count(*) FROM exclusions", &[])?,
                sites: one("SELECT count(*) FROM sites", &[])?,
                terminals: one("SELECT count(*) FROM terminals WHERE revoked_at IS NULL", &[])?,
                terminals_revoked: one(
                    "SELECT count(*) FROM terminals WHERE revoked_at IS NOT NULL",
                    &[],
                )?,
                terminals_seen_24h: one(
                    "SELECT count(*) FROM terminals WHERE revoked_at IS NULL AND last_seen_at >= ?1",
                    &[&day_ago],
                )?,
                records: one("SELECT count(*) FROM records", &[])?,
                flagged: one("SELECT count(*) FROM records WHERE flag IS NOT NULL", &[])?,
            })
        })?;
        Ok(Status {
            ok: health.ok && integrity == "ok",
            health,
            integrity,
            data_dir: self.dir().display().to_string(),
            registry_fingerprint: self.registry_fingerprint().to_string(),
            tls: self.config().tls.is_some(),
            counts,
            at: now,
        })
    }
}

/// What `xinyi-hub status` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Healthy and every page of the database checks out.
    pub ok: bool,
    pub health: Health,
    /// SQLite's `quick_check`: `ok`, or the problems it found.
    pub integrity: String,
    pub data_dir: String,
    pub registry_fingerprint: String,
    /// `serve` speaks HTTPS (a certificate and key are configured).
    pub tls: bool,
    pub counts: StatusCounts,
    #[serde(serialize_with = "unix")]
    pub at: UnixTime,
}

fn unix<S: serde::Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(t.0)
}

/// What the registry holds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StatusCounts {
    /// Listings in force (not withdrawn).
    pub listings: u64,
    pub exclusions: u64,
    pub sites: u64,
    /// Enrolled and not revoked.
    pub terminals: u64,
    pub terminals_revoked: u64,
    /// Not revoked and heard from in the last 24 hours.
    pub terminals_seen_24h: u64,
    pub records: u64,
    /// Records kept as evidence but flagged as implausible.
    pub flagged: u64,
}
