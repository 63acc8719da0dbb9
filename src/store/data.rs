//! The synced data: applying a version from the hub, proving it, and
//! reading it for verdicts.
//!
//! Whether a version is taken, and how, is decided by the pure
//! [`plan`](xinyi_core::wire::plan::plan) in the core; this module only
//! executes what it decides. A version is applied in one SQLite
//! transaction: the config artefact (trust list, card revocations,
//! catalogue, sites) when it changed, then the eligibility artefact — a
//! snapshot replaces every listing and exclusion, a delta upserts and
//! removes item by item — while the order-independent set hash is kept up
//! to date. Only when the plan's proof accepts the resulting hash and
//! counts does the transaction commit; otherwise it rolls back and the
//! version held before stays in use, whole (`design.md`, "Sync" and
//! "Reliability").
//!
//! - `apply.rs`: executing a plan, proving it, committing; `snapshot.rs`
//!   and `delta.rs`: writing the items of each kind of artefact;
//! - `config.rs`: the config artefact — trust list, revocations,
//!   catalogue and sites — stored and read back, and a verdict's site
//!   context;
//! - `lookup.rs`: what verdicts read ([`VerifierData`](xinyi_core::verdict::VerifierData));
//! - `state.rs`: the version held, the hub's signed time and the
//!   trusted-time floor, the status bar, the wipe on revocation.

mod apply;
mod config;
mod delta;
mod lookup;
mod snapshot;
mod state;

use xinyi_core::wire::Digest32;
use xinyi_core::wire::config::Site;
use xinyi_core::wire::eligibility::ArtefactKind;
use xinyi_core::wire::plan::Held;
use xinyi_core::{Context, Date, Measure, UnixTime};

use super::StoreError;

pub(super) use state::read_state;

/// The data version held, as recorded when it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataState {
    pub version: u64,
    /// When the registry published this version.
    pub published_at: UnixTime,
    /// The set hash of the listings and exclusions held, as proven.
    pub set_hash: Digest32,
    pub listings: u64,
    pub exclusions: u64,
    /// The SHA-256 of the config artefact held.
    pub config_sha256: Digest32,
    /// The hub's signed time (`issued_at`) of the latest metadata naming
    /// this version: as of then, the hub had nothing newer.
    pub hub_issued_at: UnixTime,
    /// This terminal's clock when that metadata arrived.
    pub received_at: UnixTime,
    /// That metadata's expiry.
    pub expires_at: UnixTime,
    /// When this version was applied here (terminal clock).
    pub applied_at: UnixTime,
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The version held before (0 when none).
    pub from: u64,
    pub to: u64,
    /// Snapshot or delta; `None` when only the config changed.
    pub artefact: Option<ArtefactKind>,
    /// Items read from the eligibility artefact.
    pub items: u64,
    pub config_replaced: bool,
    pub listings: u64,
    pub exclusions: u64,
}

/// The pieces of a verdict's [`Context`] that come from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteContext {
    /// This terminal's site; `None` before the first sync.
    pub site: Option<Site>,
    /// The site's measures, from the catalogue, in the site's order.
    pub measures: Vec<Measure>,
    pub max_offline_age_s: i64,
    /// How current the data is known to be: the hub's signed time of the
    /// latest metadata that named the held version (the hub then had
    /// nothing newer). `None` before the first sync, so every verdict is
    /// STALE_DATA.
    ///
    /// This is later than `published_at` when the registry publishes
    /// nothing new for a while: a terminal that keeps reaching the hub
    /// stays fresh, one that is cut off goes stale after the site's max
    /// offline age.
    pub data_as_of: Option<UnixTime>,
    /// The latest time this terminal already trusts: the hub's signed
    /// time and its own last journal record. A wall clock set back below
    /// it makes verdicts CLOCK_SUSPECT.
    pub clock_floor: Option<UnixTime>,
    /// When the held version was published.
    pub published_at: Option<UnixTime>,
    pub version: Option<u64>,
}

impl SiteContext {
    /// The verdict context, with the allowed clock skew.
    pub fn context(&self, skew_s: i64) -> Context<'_> {
        Context {
            measures: &self.measures,
            skew_s,
            max_offline_age_s: self.max_offline_age_s,
            data_as_of: self.data_as_of,
            clock_floor: self.clock_floor,
        }
    }
}

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub data: Option<DataState>,
    /// Age of the held version: now − published_at.
    pub age_s: Option<i64>,
    /// Time since the hub last confirmed the held version: now − its
    /// signed time.
    pub since_hub_s: Option<i64>,
    /// Whether the latest metadata has expired (the hub must be reached).
    pub metadata_expired: bool,
    /// Journal records the hub has not yet confirmed.
    pub unsent: u64,
    /// The oldest of them.
    pub oldest_unsent_at: Option<UnixTime>,
}

impl DataState {
    /// What the plan needs to know of the data held.
    pub fn held(&self) -> Held {
        Held {
            version: self.version,
            set_hash: self.set_hash,
            listings: self.listings,
            exclusions: self.exclusions,
            config_sha256: self.config_sha256,
            hub_issued_at: self.hub_issued_at,
        }
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn digest(bytes: Vec<u8>, what: &str) -> Result<Digest32, StoreError> {
    let a: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt(format!("{what} is not 32 bytes")))?;
    Ok(Digest32(a))
}

fn date(s: &str) -> Result<Date, StoreError> {
    s.parse::<Date>().map_err(corrupt)
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// A key named twice (a primary key or unique constraint), as opposed to
/// another constraint such as a CHECK.
fn is_duplicate(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}
