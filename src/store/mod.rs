//! The terminal's local store and journal: one SQLite file (see
//! `design.md`, "Sync", "Privacy" and "Reliability").
//!
//! What it holds, and the module that owns each part:
//!
//! - [`identity`](Store::identity): the terminal id, its site, the registry
//!   key pinned at enrollment, the hub URL, operator settings
//!   (`identity.rs`);
//! - the synced data — trust list, card revocations, catalogue, sites,
//!   listings and exclusions — applied one version at a time in a single
//!   transaction and proven by the set hash before it commits, and read by
//!   verdicts through [`VerifierData`](xinyi_core::verdict::VerifierData)
//!   (`data.rs`);
//! - the journal of signed, hash-chained records with the use counts and
//!   seen credential ids that verdicts read through
//!   [`History`](xinyi_core::history::History) (`journal.rs`).
//!
//! Opening the file, pragmas and migrations live in [`db`]. Nothing here
//! ever holds an ID number or a person's full name: pseudonyms, masked
//! display names, category codes and dates only.

pub mod db;

mod data;
mod identity;
mod journal;
mod operators;

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use xinyi_core::wire::plan::Refused;

pub use data::{ApplyOutcome, DataState, SiteContext, Status};
pub use identity::{Identity, SETTING_RETENTION};
pub use journal::{
    CTI_KEEP_MARGIN_S, DEFAULT_RETENTION_S, JournalEntry, PurgeReport, Settled, ShiftTotals,
    USES_KEEP_S,
};
pub use operators::{
    Failures, MeasureTotals, NewOperator, Operator, Role, SETUP, check_pin, typed_id,
};

/// Why the store could not do what was asked. Refused scans are not
/// errors: they are verdicts, recorded in the journal.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the terminal database {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the terminal database {} has schema version {found}, newer than this xinyi knows ({known}): install the xinyi version that wrote it",
        .path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("upgrading the terminal database failed at migration {name}: {source}")]
    Migration {
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the terminal database {} cannot use write-ahead logging (journal mode {mode}); keep it on a local disk",
        .path.display()
    )]
    NoWal { path: PathBuf, mode: String },
    #[error("terminal database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the terminal database holds damaged data ({0}); run `xinyi sync` to reload the data")]
    Corrupt(String),
    #[error("not enrolled: run `xinyi enroll --hub URL --code CODE`")]
    NotEnrolled,
    #[error("no data has been synced yet: run `xinyi sync`")]
    NoData,
    #[error(
        "version {version} of the hub's data was not applied, the data held before stays in use: {reason}"
    )]
    Refused {
        version: u64,
        #[source]
        reason: Refused,
    },
    #[error(
        "site {0:?} is not in the synced configuration: ask the credit office to check this terminal's site"
    )]
    UnknownSite(String),
    #[error("code {0} was already redeemed here; it is not recorded twice")]
    AlreadyRedeemed(String),
    #[error(
        "the registry's statement of records held is about terminal {names}, not this terminal ({this}); it was not applied"
    )]
    ForeignStatement { names: String, this: String },
    #[error(
        "the registry says it holds record {seq} of this terminal with another hash than the record made here; nothing was marked (ask the credit office to check this terminal's records)"
    )]
    HoldingMismatch { seq: u64 },
    #[error("cannot void record {id}: {why}")]
    Void { id: String, why: VoidRefusal },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
}

impl From<StoreError> for xinyi_core::history::DataError {
    fn from(e: StoreError) -> Self {
        xinyi_core::history::DataError(e.to_string())
    }
}

/// Why a void was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidRefusal {
    /// No record with that id is held (never made here, or purged).
    NotFound,
    /// Only redemptions can be voided; this is a record of another kind.
    NotARedemption(String),
    AlreadyVoided,
    /// The void window after the redemption has passed.
    WindowPassed {
        elapsed_s: i64,
        window_s: i64,
    },
    /// A void must say why.
    NoReason,
}

impl fmt::Display for VoidRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VoidRefusal::NotFound => f.write_str("no such record is held at this terminal"),
            VoidRefusal::NotARedemption(kind) => {
                write!(f, "it is a {kind}; only a redemption can be voided")
            }
            VoidRefusal::AlreadyVoided => f.write_str("it is already voided"),
            VoidRefusal::WindowPassed {
                elapsed_s,
                window_s,
            } => write!(
                f,
                "it was made {elapsed_s} s ago and may be voided only within {window_s} s"
            ),
            VoidRefusal::NoReason => f.write_str("a reason must be given"),
        }
    }
}

/// The terminal's store over one SQLite file. Each `Store` owns one
/// connection; the UI and the sync worker each open their own.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens the database at `path`, creating it (mode 0600) and bringing
    /// its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_owned();
        let conn = db::open(&path)?;
        Ok(Store { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A count or version as SQLite stores it (signed 64-bit).
fn to_sql_int(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid(format!("{what} {n} is out of range")))
}

/// A stored count or version, which is never negative.
fn from_sql_int(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} is {n}")))
}

/// 16 random bytes from the operating system.
fn random_id() -> Result<[u8; 16], StoreError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(id)
}
