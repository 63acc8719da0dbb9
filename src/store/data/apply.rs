//! Executing a plan: one version applied in one transaction, proven by
//! the set hash before it commits.
//!
//! A snapshot is first staged in temporary tables (appends in arrival
//! order) and then copied into place sorted by key: inserting a million
//! rows in random key order straight into the B-tree costs several times
//! more, and the hub's order is not part of the format. A delta reads each
//! key's old row once — its hash leaves the set — then updates the row in
//! place, inserts it, or deletes it; an item equal to the row held is not
//! written at all.

use rusqlite::{OptionalExtension, Statement, Transaction, TransactionBehavior, params};
use xinyi_core::UnixTime;
use xinyi_core::category::Category;
use xinyi_core::eligibility::{EligibilityEntry, ExclusionEntry};
use xinyi_core::ids::SubjectId;
use xinyi_core::wire::config::ParsedConfig;
use xinyi_core::wire::eligibility::{ArtefactKind, Item, SetHash};
use xinyi_core::wire::metadata::Metadata;
use xinyi_core::wire::plan::{self, Apply, ApplyPlan, Fetched, Outcome, Refused};
use xinyi_core::{Date, wire::WireError};

use super::super::{Store, StoreError, to_sql_int};
use super::config::replace_config;
use super::lookup::{ListingRest, listing_entry};
use super::state::{raise_floor_to_hub, still_held};
use super::{ApplyOutcome, corrupt, date, is_constraint};

/// A refusal found while executing, in the store's words.
fn refused(version: u64, why: &Refused) -> StoreError {
    match why {
        Refused::Metadata(e) => StoreError::Metadata(e.clone()),
        Refused::Artefact(e) => StoreError::Artefact(e.clone()),
        other => StoreError::DataRefused {
            version,
            why: other.to_string(),
        },
    }
}

/// The running result of applying items: the set hash and the counts.
struct Tally {
    hash: SetHash,
    listings: u64,
    exclusions: u64,
    items: u64,
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

enum ItemError {
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

const LISTING_COLUMNS: &str = "(sub, category, valid_from, valid_until, withdrawn, kind, display_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// A snapshot's statements: appends to the staging tables.
struct Stager<'t> {
    listing: Statement<'t>,
    exclusion: Statement<'t>,
}

impl<'t> Stager<'t> {
    fn new(tx: &'t Transaction<'_>) -> Result<Stager<'t>, StoreError> {
        Ok(Stager {
            listing: tx.prepare(&format!(
                "INSERT INTO temp.staged_listings {LISTING_COLUMNS}"
            ))?,
            exclusion: tx.prepare(
                "INSERT INTO temp.staged_exclusions (sub, excluded_from, excluded_until)
                 VALUES (?1, ?2, ?3)",
            )?,
        })
    }

    fn stage(&mut self, item: &Item, t: &mut Tally) -> Result<(), ItemError> {
        match item {
            Item::Listing(l) => {
                self.listing.execute(params![
                    l.sub.as_str(),
                    l.category.code(),
                    l.valid_from.to_string(),
                    l.valid_until.to_string(),
                    l.withdrawn,
                    l.category.kind().as_str(),
                    l.display_name,
                ])?;
                t.listings += 1;
            }
            Item::Exclusion(x) => {
                self.exclusion.execute(params![
                    x.sub.as_str(),
                    x.from.to_string(),
                    x.until.to_string()
                ])?;
                t.exclusions += 1;
            }
            // The reader refuses removals in a snapshot.
            Item::RemoveListing { .. } | Item::RemoveExclusion { .. } => {
                return Err(ItemError::Artefact(WireError::malformed(
                    "eligibility artefact",
                    "a snapshot cannot remove items",
                )));
            }
        }
        t.hash.add(item);
        Ok(())
    }
}

/// A delta's statements, by key.
struct Patcher<'t> {
    get_listing: Statement<'t>,
    insert_listing: Statement<'t>,
    update_listing: Statement<'t>,
    delete_listing: Statement<'t>,
    get_exclusion: Statement<'t>,
    insert_exclusion: Statement<'t>,
    update_exclusion: Statement<'t>,
    delete_exclusion: Statement<'t>,
}

impl<'t> Patcher<'t> {
    fn new(tx: &'t Transaction<'_>) -> Result<Patcher<'t>, StoreError> {
        Ok(Patcher {
            get_listing: tx.prepare(
                "SELECT valid_until, withdrawn, display_name FROM listings
                 WHERE sub = ?1 AND category = ?2 AND valid_from = ?3",
            )?,
            insert_listing: tx.prepare(&format!("INSERT INTO listings {LISTING_COLUMNS}"))?,
            // The key and so the kind (the category carries it) stay.
            update_listing: tx.prepare(
                "UPDATE listings SET valid_until = ?4, withdrawn = ?5, display_name = ?6
                 WHERE sub = ?1 AND category = ?2 AND valid_from = ?3",
            )?,
            delete_listing: tx.prepare(
                "DELETE FROM listings WHERE sub = ?1 AND category = ?2 AND valid_from = ?3",
            )?,
            get_exclusion: tx.prepare(
                "SELECT excluded_until FROM exclusions WHERE sub = ?1 AND excluded_from = ?2",
            )?,
            insert_exclusion: tx.prepare(
                "INSERT INTO exclusions (sub, excluded_from, excluded_until) VALUES (?1, ?2, ?3)",
            )?,
            update_exclusion: tx.prepare(
                "UPDATE exclusions SET excluded_until = ?3 WHERE sub = ?1 AND excluded_from = ?2",
            )?,
            delete_exclusion: tx
                .prepare("DELETE FROM exclusions WHERE sub = ?1 AND excluded_from = ?2")?,
        })
    }

    fn old_listing(
        &mut self,
        sub: &SubjectId,
        category: Category,
        from: &str,
        valid_from: Date,
    ) -> Result<Option<EligibilityEntry>, StoreError> {
        let rest = self
            .get_listing
            .query_row(params![sub.as_str(), category.code(), from], |r| {
                Ok(ListingRest {
                    valid_until: r.get(0)?,
                    withdrawn: r.get(1)?,
                    display_name: r.get(2)?,
                })
            })
            .optional()?;
        rest.map(|rest| listing_entry(sub, category, valid_from, rest))
            .transpose()
    }

    fn old_exclusion(
        &mut self,
        sub: &SubjectId,
        from: &str,
        from_date: Date,
    ) -> Result<Option<ExclusionEntry>, StoreError> {
        let until: Option<String> = self
            .get_exclusion
            .query_row(params![sub.as_str(), from], |r| r.get(0))
            .optional()?;
        until
            .map(|u| {
                Ok(ExclusionEntry {
                    sub: sub.clone(),
                    from: from_date,
                    until: date(&u)?,
                })
            })
            .transpose()
    }

    /// Upserts or removes one item, keeping the hash exact: the old
    /// member leaves the set before the new one joins it.
    fn patch(&mut self, item: &Item, t: &mut Tally) -> Result<(), ItemError> {
        match item {
            Item::Listing(l) => {
                let from = l.valid_from.to_string();
                match self.old_listing(&l.sub, l.category, &from, l.valid_from)? {
                    Some(old) if old == *l => return Ok(()),
                    Some(old) => {
                        self.update_listing.execute(params![
                            l.sub.as_str(),
                            l.category.code(),
                            from,
                            l.valid_until.to_string(),
                            l.withdrawn,
                            l.display_name,
                        ])?;
                        t.hash.remove(&Item::Listing(old));
                    }
                    None => {
                        self.insert_listing.execute(params![
                            l.sub.as_str(),
                            l.category.code(),
                            from,
                            l.valid_until.to_string(),
                            l.withdrawn,
                            l.category.kind().as_str(),
                            l.display_name,
                        ])?;
                        t.listings += 1;
                    }
                }
            }
            Item::Exclusion(x) => {
                let from = x.from.to_string();
                match self.old_exclusion(&x.sub, &from, x.from)? {
                    Some(old) if old == *x => return Ok(()),
                    Some(old) => {
                        self.update_exclusion.execute(params![
                            x.sub.as_str(),
                            from,
                            x.until.to_string()
                        ])?;
                        t.hash.remove(&Item::Exclusion(old));
                    }
                    None => {
                        self.insert_exclusion.execute(params![
                            x.sub.as_str(),
                            from,
                            x.until.to_string()
                        ])?;
                        t.exclusions += 1;
                    }
                }
            }
            Item::RemoveListing {
                sub,
                category,
                valid_from,
            } => {
                let from = valid_from.to_string();
                let Some(old) = self.old_listing(sub, *category, &from, *valid_from)? else {
                    return Err(ItemError::Refused(Refused::RemovesUnheldListing {
                        sub: sub.clone(),
                        category: *category,
                        valid_from: *valid_from,
                    }));
                };
                self.delete_listing
                    .execute(params![sub.as_str(), category.code(), from])?;
                t.hash.remove(&Item::Listing(old));
                t.listings = t.listings.saturating_sub(1);
                // The removal itself is not a member of the set.
                return Ok(());
            }
            Item::RemoveExclusion { sub, from } => {
                let text = from.to_string();
                let Some(old) = self.old_exclusion(sub, &text, *from)? else {
                    return Err(ItemError::Refused(Refused::RemovesUnheldExclusion {
                        sub: sub.clone(),
                        from: *from,
                    }));
                };
                self.delete_exclusion.execute(params![sub.as_str(), text])?;
                t.hash.remove(&Item::Exclusion(old));
                t.exclusions = t.exclusions.saturating_sub(1);
                return Ok(());
            }
        }
        t.hash.add(item);
        Ok(())
    }
}

/// Creates (once per connection) and empties the staging tables.
fn prepare_staging(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS staged_listings (
             sub TEXT, category TEXT, valid_from TEXT, valid_until TEXT,
             withdrawn INTEGER, kind TEXT, display_name TEXT);
         CREATE TEMP TABLE IF NOT EXISTS staged_exclusions (
             sub TEXT, excluded_from TEXT, excluded_until TEXT);
         DELETE FROM temp.staged_listings;
         DELETE FROM temp.staged_exclusions;",
    )?;
    Ok(())
}

/// Moves a staged snapshot into place in key order. A key staged twice
/// is the hub's error: the snapshot is refused, naming it.
fn finish_snapshot(tx: &Transaction<'_>) -> Result<(), ItemError> {
    let copy = tx.execute(
        "INSERT INTO listings
         SELECT sub, category, valid_from, valid_until, withdrawn, kind, display_name
         FROM temp.staged_listings ORDER BY sub, category, valid_from",
        [],
    );
    if let Err(e) = copy {
        return Err(duplicate_or(tx, e, Twice::Listing));
    }
    let copy = tx.execute(
        "INSERT INTO exclusions
         SELECT sub, excluded_from, excluded_until
         FROM temp.staged_exclusions ORDER BY sub, excluded_from",
        [],
    );
    if let Err(e) = copy {
        return Err(duplicate_or(tx, e, Twice::Exclusion));
    }
    tx.execute_batch(
        "DELETE FROM temp.staged_listings;
         DELETE FROM temp.staged_exclusions;",
    )?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Twice {
    Listing,
    Exclusion,
}

/// The refusal naming the key a snapshot holds twice, when that is what
/// broke the copy; any other failure as it is.
fn duplicate_or(tx: &Transaction<'_>, e: rusqlite::Error, what: Twice) -> ItemError {
    if !is_constraint(&e) {
        return e.into();
    }
    let find = match what {
        Twice::Listing => {
            "SELECT sub, category, valid_from FROM temp.staged_listings
             GROUP BY sub, category, valid_from HAVING count(*) > 1 LIMIT 1"
        }
        Twice::Exclusion => {
            "SELECT sub, excluded_from, '' FROM temp.staged_exclusions
             GROUP BY sub, excluded_from HAVING count(*) > 1 LIMIT 1"
        }
    };
    let key: Option<(String, String, String)> = match tx
        .query_row(find, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
    {
        Ok(key) => key,
        Err(e) => return e.into(),
    };
    let Some((sub, a, b)) = key else {
        return e.into();
    };
    let typed = || -> Result<Refused, StoreError> {
        let sub = SubjectId::parse(&sub).map_err(corrupt)?;
        Ok(match what {
            Twice::Listing => Refused::DuplicateListing {
                sub,
                category: a.parse().map_err(corrupt)?,
                valid_from: date(&b)?,
            },
            Twice::Exclusion => Refused::DuplicateExclusion {
                sub,
                from: date(&a)?,
            },
        })
    };
    match typed() {
        Ok(r) => ItemError::Refused(r),
        Err(e) => ItemError::Store(e),
    }
}

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
            .map_err(|r| refused(meta.version, &r))?;
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
            ApplyPlan::Fetch(wanted) => Err(StoreError::DataRefused {
                version: meta.version,
                why: format!(
                    "the metadata pins artefacts that were not given: {}",
                    match (wanted.config.is_some(), wanted.eligibility.is_some()) {
                        (true, true) => "the config and the eligibility artefact",
                        (true, false) => "the config artefact",
                        _ => "the eligibility artefact",
                    }
                ),
            }),
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
            .map_err(|r| refused(meta.version, &r))?
        {
            ApplyPlan::UpToDate(refresh) => self.refresh(&refresh, now),
            _ => Err(StoreError::DataRefused {
                version: meta.version,
                why: format!(
                    "it is not the held version {}; it must be applied",
                    held.version
                ),
            }),
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
        let refuse = |why: String| StoreError::DataRefused { version, why };

        if let Some(config) = &plan.config {
            replace_config(&tx, config, &refuse)?;
        }
        let start = plan.start();
        let mut tally = Tally {
            hash: SetHash::from_digest(start.set_hash),
            listings: start.listings,
            exclusions: start.exclusions,
            items: 0,
        };
        let kind = plan.eligibility.kind();
        let items = plan.eligibility.items().map_err(StoreError::Artefact)?;
        match kind {
            ArtefactKind::Snapshot => snapshot(&tx, items, &mut tally),
            ArtefactKind::Delta => delta(&tx, items, &mut tally),
        }
        .map_err(|err| match err {
            ItemError::Refused(r) => refused(version, &r),
            ItemError::Artefact(w) => StoreError::Artefact(w),
            ItemError::Store(s) => s,
        })?;
        plan.prove(tally.outcome())
            .map_err(|r| refused(version, &r))?;

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

/// A snapshot replaces everything: staged, then copied sorted.
fn snapshot<'r>(
    tx: &Transaction<'_>,
    items: impl Iterator<Item = Result<Item, WireError>> + 'r,
    tally: &mut Tally,
) -> Result<(), ItemError> {
    tx.execute("DELETE FROM listings", [])?;
    tx.execute("DELETE FROM exclusions", [])?;
    prepare_staging(tx)?;
    {
        let mut stager = Stager::new(tx)?;
        for item in items {
            stager.stage(&item.map_err(ItemError::Artefact)?, tally)?;
            tally.items += 1;
        }
    }
    finish_snapshot(tx)
}

/// A delta patches what is held, item by item.
fn delta<'r>(
    tx: &Transaction<'_>,
    items: impl Iterator<Item = Result<Item, WireError>> + 'r,
    tally: &mut Tally,
) -> Result<(), ItemError> {
    let mut patcher = Patcher::new(tx)?;
    for item in items {
        patcher.patch(&item.map_err(ItemError::Artefact)?, tally)?;
        tally.items += 1;
    }
    Ok(())
}
