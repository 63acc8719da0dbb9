//! Executing a plan: one version applied in one transaction — the config
//! when it is new, then a snapshot (`snapshot.rs`) or a delta
//! (`delta.rs`) — and proven by the plan before it commits.

use rusqlite::{TransactionBehavior, params};
use xinyi_core::UnixTime;
use xinyi_core::wire::WireError;
use xinyi_core::wire::config::ParsedConfig;
use xinyi_core::wire::eligibility::{ArtefactKind, SetHash};
use xinyi_core::wire::metadata::Metadata;
use xinyi_core::wire::plan::{self, Apply, ApplyPlan, Fetched, Outcome, Refused};

use super::super::{Store, StoreError, to_sql_int};
use super::ApplyOutcome;
use super::config::replace_config;
use super::delta::delta;
use super::snapshot::snapshot;
use super::state::{raise_floor_to_hub, still_held};

/// Version `version` refused, for `reason`.
pub(super) fn refused(version: u64, reason: Refused) -> StoreError {
    StoreError::Refused { version, reason }
}

/// The running result of applying items: the set hash and the counts.
pub(super) struct Tally {
    pub(super) hash: SetHash,
    pub(super) listings: u64,
    pub(super) exclusions: u64,
    pub(super) items: u64,
}

impl Tally {
    fn outcome(&self) -> Outcome {
        Outcome {
            set_hash: self.hash.digest(),
            listings: self.listings,
            exclusions: self.exclusions,
        }
    }
}

pub(super) enum ItemError {
    Refused(Refused),
    Artefact(WireError),
    Store(StoreError),
}

impl From<StoreError> for ItemError {
    fn from(e: StoreError) -> Self {
        ItemError::Store(e)
    }
}

impl From<rusqlite::Error> for ItemError {
    fn from(e: rusqlite::Error) -> Self {
        ItemError::Store(e.into())
    }
}

pub(super) const LISTING_COLUMNS: &str = "(sub, category, valid_from, valid_until, withdrawn, kind, display_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Inserts or replaces one redeemed code.
pub(super) const REDEEMED_PUT: &str = "INSERT INTO published_cti (cti, until) VALUES (?1, ?2)
     ON CONFLICT (cti) DO UPDATE SET until = excluded.until";

/// Inserts one published use.
pub(super) const USAGE_INSERT: &str =
    "INSERT INTO published_uses (sub, measure, period_start, record_id) VALUES (?1, ?2, ?3, ?4)";

impl Store {
    /// Plans and applies one version from artefacts transferred as they
    /// are (uncompressed): [`xinyi_core::wire::plan::plan`] with
    /// [`plan::uncompressed`], then [`Store::execute`]. `meta` must already
    /// be opened with the pinned registry key; `config` is the config
    /// artefact (its parsed form is the plan's own), or `None` when the held
    /// one is still current; `eligibility` is the eligibility artefact, or
    /// `None` when the metadata names none. `now` is this terminal's clock.
    /// Artefacts the plan still wants are a refusal here.
    pub fn apply(
        &mut self,
        meta: &Metadata,
        config: Option<(&[u8], &ParsedConfig)>,
        eligibility: Option<&[u8]>,
        now: UnixTime,
    ) -> Result<ApplyOutcome, StoreError> {
        let held = self.held()?;
        let fetched = Fetched {
            config: config.map(|(bytes, _)| bytes),
            eligibility,
        };
        let plan = plan::plan(meta, held.as_ref(), now, fetched, plan::uncompressed)
            .map_err(|r| refused(meta.version, r))?;
        match plan {
            ApplyPlan::Apply(apply) => self.execute(&apply, now),
            ApplyPlan::UpToDate(refresh) => {
                self.refresh(&refresh, now)?;
                Ok(ApplyOutcome {
                    from: refresh.held.version,
                    to: refresh.held.version,
                    artefact: None,
                    items: 0,
                    config_replaced: false,
                    listings: refresh.held.listings,
                    exclusions: refresh.held.exclusions,
                })
            }
            ApplyPlan::Fetch(wanted) => Err(refused(
                meta.version,
                Refused::NotGiven {
                    config: wanted.config.is_some(),
                    eligibility: wanted.eligibility.is_some(),
                },
            )),
        }
    }

    /// Plans metadata for the version held (no artefact) and records the
    /// hub's confirmation: see [`Store::refresh`]. Metadata that describes
    /// the held version with other content, or another version, is
    /// refused; returns whether anything was refreshed.
    pub fn record_hub_contact(
        &mut self,
        meta: &Metadata,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let held = self.held()?.ok_or(StoreError::NoData)?;
        match plan::plan(meta, Some(&held), now, Fetched::NOTHING, plan::uncompressed)
            .map_err(|r| refused(meta.version, r))?
        {
            ApplyPlan::UpToDate(refresh) => self.refresh(&refresh, now),
            _ => Err(refused(
                meta.version,
                Refused::NotHeld {
                    version: meta.version,
                    held: held.version,
                },
            )),
        }
    }

    /// Executes a plan's [`Apply`] in one transaction: the config, then
    /// the eligibility items, then the plan's proof of the set held, and
    /// only then the commit. Nothing is written unless the data held is
    /// still what the plan was made against.
    pub fn execute(&mut self, plan: &Apply<'_>, now: UnixTime) -> Result<ApplyOutcome, StoreError> {
        let meta = plan.meta;
        let version = meta.version;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        still_held(&tx, plan.held.as_ref(), version)?;
        if let Some(config) = &plan.config {
            replace_config(&tx, config, version)?;
        }
        let start = plan.start();
        let mut tally = Tally {
            hash: SetHash::from_digest(start.set_hash),
            listings: start.listings,
            exclusions: start.exclusions,
            items: 0,
        };
        let kind = plan.eligibility.kind();
        let items = plan
            .eligibility
            .items()
            .map_err(|w| refused(version, Refused::Artefact(w)))?;
        match kind {
            ArtefactKind::Snapshot => snapshot(&tx, items, &mut tally),
            ArtefactKind::Delta => delta(&tx, items, &mut tally),
        }
        .map_err(|err| match err {
            ItemError::Refused(r) => refused(version, r),
            ItemError::Artefact(w) => refused(version, Refused::Artefact(w)),
            ItemError::Store(s) => s,
        })?;
        plan.prove(tally.outcome())
            .map_err(|r| refused(version, r))?;

        tx.execute(
            "INSERT OR REPLACE INTO data_state
                (id, version, published_at, set_hash, listings, exclusions, config_sha256,
                 hub_issued_at, received_at, expires_at, applied_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                to_sql_int(version, "data version")?,
                meta.published_at,
                meta.set_hash.0.as_slice(),
                to_sql_int(tally.listings, "listing count")?,
                to_sql_int(tally.exclusions, "exclusion count")?,
                meta.config.sha256.0.as_slice(),
                meta.issued_at,
                now.0,
                meta.expires_at,
                now.0,
            ],
        )?;
        raise_floor_to_hub(&tx, UnixTime(meta.issued_at))?;
        tx.commit()?;
        if kind == ArtefactKind::Snapshot {
            // A snapshot rewrites the whole table into the WAL; fold it into
            // the database now rather than leave it for the next small write
            // (a delta, a redemption) to pay. Committed data is safe either
            // way, so a failure here is only logged.
            if let Err(e) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            {
                tracing::warn!("checkpoint after a snapshot: {e}");
            }
        }
        Ok(ApplyOutcome {
            from: plan.held.map_or(0, |h| h.version),
            to: version,
            artefact: Some(kind),
            items: tally.items,
            config_replaced: plan.config.is_some(),
            listings: tally.listings,
            exclusions: tally.exclusions,
        })
    }
}
