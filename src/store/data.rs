//! The synced data: applying a version from the hub, proving it, and
//! reading it for verdicts.
//!
//! A version is applied in one SQLite transaction: the config artefact
//! (trust list, card revocations, catalogue, sites) when it changed, then
//! the eligibility artefact — a snapshot replaces every listing and
//! exclusion, a delta upserts and removes item by item — while the
//! order-independent set hash is kept up to date. Only when the resulting
//! hash and counts equal what the signed metadata publishes does the
//! transaction commit; otherwise it rolls back and the version held before
//! stays in use, whole (`design.md`, "Sync" and "Reliability").

use rusqlite::{
    Connection, OptionalExtension, Statement, Transaction, TransactionBehavior, params,
};
use xinyi_core::category::Category;
use xinyi_core::credential::{Cti, Iss, Kid};
use xinyi_core::eligibility::{EligibilityEntry, ExclusionEntry};
use xinyi_core::history::DataError;
use xinyi_core::ids::SubjectId;
use xinyi_core::trust::TrustedKey;
use xinyi_core::verdict::{DEFAULT_MAX_OFFLINE_AGE_S, VerifierData};
use xinyi_core::wire::Digest32;
use xinyi_core::wire::config::{Config, ParsedConfig, Site};
use xinyi_core::wire::eligibility::{ArtefactKind, Header, Item, Reader, SetHash};
use xinyi_core::wire::metadata::Metadata;
use xinyi_core::{Catalogue, Context, Date, Measure, UnixTime};

use super::{Store, StoreError, to_sql_int};

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

pub(super) fn read_state(conn: &Connection) -> Result<Option<DataState>, StoreError> {
    type Row = (i64, i64, Vec<u8>, i64, i64, Vec<u8>, i64, i64, i64, i64);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT version, published_at, set_hash, listings, exclusions, config_sha256,
                    hub_issued_at, received_at, expires_at, applied_at
             FROM data_state WHERE id = 1",
        )?
        .query_row([], |r| r.try_into())
        .optional()?;
    let Some((
        version,
        published,
        hash,
        listings,
        exclusions,
        config,
        issued,
        received,
        expires,
        applied,
    )) = row
    else {
        return Ok(None);
    };
    let count = |n: i64, what: &str| u64::try_from(n).map_err(|_| corrupt(format!("{what} {n}")));
    Ok(Some(DataState {
        version: count(version, "data version")?,
        published_at: UnixTime(published),
        set_hash: digest(hash, "the set hash")?,
        listings: count(listings, "listing count")?,
        exclusions: count(exclusions, "exclusion count")?,
        config_sha256: digest(config, "the config hash")?,
        hub_issued_at: UnixTime(issued),
        received_at: UnixTime(received),
        expires_at: UnixTime(expires),
        applied_at: UnixTime(applied),
    }))
}

/// A listing's columns other than its key.
struct ListingRest {
    valid_until: String,
    withdrawn: bool,
    display_name: String,
}

fn listing_entry(
    sub: &SubjectId,
    category: Category,
    valid_from: Date,
    rest: ListingRest,
) -> Result<EligibilityEntry, StoreError> {
    Ok(EligibilityEntry {
        sub: sub.clone(),
        kind: category.kind(),
        category,
        valid_from,
        valid_until: date(&rest.valid_until)?,
        withdrawn: rest.withdrawn,
        display_name: rest.display_name,
    })
}

/// The running result of applying items: the set hash and the counts.
struct Tally {
    hash: SetHash,
    listings: u64,
    exclusions: u64,
    items: u64,
}

/// Prepared statements for one apply: a million items go through the
/// same few statements inside one transaction.
///
/// A snapshot is first staged in temporary tables (appends in arrival
/// order) and then copied into place sorted by key: inserting a million
/// rows in random key order straight into the B-tree costs several times
/// more, and the hub's order is not part of the format.
struct Writer<'t> {
    insert_listing: Statement<'t>,
    replace_listing: Statement<'t>,
    get_listing: Statement<'t>,
    delete_listing: Statement<'t>,
    insert_exclusion: Statement<'t>,
    replace_exclusion: Statement<'t>,
    get_exclusion: Statement<'t>,
    delete_exclusion: Statement<'t>,
}

const LISTING_COLUMNS: &str = "(sub, category, valid_from, valid_until, withdrawn, kind, display_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

impl<'t> Writer<'t> {
    fn new(tx: &'t Transaction<'_>) -> Result<Writer<'t>, StoreError> {
        Ok(Writer {
            insert_listing: tx.prepare(&format!(
                "INSERT INTO temp.staged_listings {LISTING_COLUMNS}"
            ))?,
            replace_listing: tx.prepare(&format!(
                "INSERT OR REPLACE INTO listings {LISTING_COLUMNS}"
            ))?,
            get_listing: tx.prepare(
                "SELECT valid_until, withdrawn, display_name FROM listings
                 WHERE sub = ?1 AND category = ?2 AND valid_from = ?3",
            )?,
            delete_listing: tx.prepare(
                "DELETE FROM listings WHERE sub = ?1 AND category = ?2 AND valid_from = ?3",
            )?,
            insert_exclusion: tx.prepare(
                "INSERT INTO temp.staged_exclusions (sub, excluded_from, excluded_until)
                 VALUES (?1, ?2, ?3)",
            )?,
            replace_exclusion: tx.prepare(
                "INSERT OR REPLACE INTO exclusions (sub, excluded_from, excluded_until)
                 VALUES (?1, ?2, ?3)",
            )?,
            get_exclusion: tx.prepare(
                "SELECT excluded_until FROM exclusions WHERE sub = ?1 AND excluded_from = ?2",
            )?,
            delete_exclusion: tx
                .prepare("DELETE FROM exclusions WHERE sub = ?1 AND excluded_from = ?2")?,
        })
    }

    fn old_listing(
        &mut self,
        sub: &SubjectId,
        category: Category,
        valid_from: Date,
    ) -> Result<Option<EligibilityEntry>, StoreError> {
        let rest = self
            .get_listing
            .query_row(
                params![sub.as_str(), category.code(), valid_from.to_string()],
                |r| {
                    Ok(ListingRest {
                        valid_until: r.get(0)?,
                        withdrawn: r.get(1)?,
                        display_name: r.get(2)?,
                    })
                },
            )
            .optional()?;
        rest.map(|rest| listing_entry(sub, category, valid_from, rest))
            .transpose()
    }

    fn old_exclusion(
        &mut self,
        sub: &SubjectId,
        from: Date,
    ) -> Result<Option<ExclusionEntry>, StoreError> {
        let until: Option<String> = self
            .get_exclusion
            .query_row(params![sub.as_str(), from.to_string()], |r| r.get(0))
            .optional()?;
        until
            .map(|u| {
                Ok(ExclusionEntry {
                    sub: sub.clone(),
                    from,
                    until: date(&u)?,
                })
            })
            .transpose()
    }

    /// Applies one item of a snapshot (`replace` false: a key seen twice is
    /// an error) or a delta (`replace` true: upsert or remove, keeping the
    /// hash exact by removing the old member first).
    fn apply(&mut self, item: &Item, replace: bool, t: &mut Tally) -> Result<(), ItemError> {
        match item {
            Item::Listing(l) => {
                let p = params![
                    l.sub.as_str(),
                    l.category.code(),
                    l.valid_from.to_string(),
                    l.valid_until.to_string(),
                    l.withdrawn,
                    l.category.kind().as_str(),
                    l.display_name,
                ];
                if replace {
                    match self.old_listing(&l.sub, l.category, l.valid_from)? {
                        Some(old) => t.hash.remove(&Item::Listing(old)),
                        None => t.listings += 1,
                    }
                    self.replace_listing.execute(p).map_err(StoreError::from)?;
                } else {
                    self.insert_listing.execute(p).map_err(StoreError::from)?;
                    t.listings += 1;
                }
            }
            Item::Exclusion(x) => {
                let p = params![x.sub.as_str(), x.from.to_string(), x.until.to_string()];
                if replace {
                    match self.old_exclusion(&x.sub, x.from)? {
                        Some(old) => t.hash.remove(&Item::Exclusion(old)),
                        None => t.exclusions += 1,
                    }
                    self.replace_exclusion
                        .execute(p)
                        .map_err(StoreError::from)?;
                } else {
                    self.insert_exclusion.execute(p).map_err(StoreError::from)?;
                    t.exclusions += 1;
                }
            }
            Item::RemoveListing {
                sub,
                category,
                valid_from,
            } => {
                let Some(old) = self.old_listing(sub, *category, *valid_from)? else {
                    return Err(ItemError::Refused(format!(
                        "the delta removes listing {sub} {category} from {valid_from}, which is not held"
                    )));
                };
                self.delete_listing
                    .execute(params![
                        sub.as_str(),
                        category.code(),
                        valid_from.to_string()
                    ])
                    .map_err(StoreError::from)?;
                t.hash.remove(&Item::Listing(old));
                t.listings = t.listings.saturating_sub(1);
                // The removal itself is not a member of the set.
                return Ok(());
            }
            Item::RemoveExclusion { sub, from } => {
                let Some(old) = self.old_exclusion(sub, *from)? else {
                    return Err(ItemError::Refused(format!(
                        "the delta removes exclusion {sub} from {from}, which is not held"
                    )));
                };
                self.delete_exclusion
                    .execute(params![sub.as_str(), from.to_string()])
                    .map_err(StoreError::from)?;
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
        return Err(duplicate_or(
            tx,
            e,
            "SELECT 'listing ' || sub || ' ' || category || ' from ' || valid_from
             FROM temp.staged_listings GROUP BY sub, category, valid_from
             HAVING count(*) > 1 LIMIT 1",
        ));
    }
    let copy = tx.execute(
        "INSERT INTO exclusions
         SELECT sub, excluded_from, excluded_until
         FROM temp.staged_exclusions ORDER BY sub, excluded_from",
        [],
    );
    if let Err(e) = copy {
        return Err(duplicate_or(
            tx,
            e,
            "SELECT 'exclusion ' || sub || ' from ' || excluded_from
             FROM temp.staged_exclusions GROUP BY sub, excluded_from
             HAVING count(*) > 1 LIMIT 1",
        ));
    }
    tx.execute_batch(
        "DELETE FROM temp.staged_listings;
         DELETE FROM temp.staged_exclusions;",
    )
    .map_err(StoreError::from)?;
    Ok(())
}

fn duplicate_or(tx: &Transaction<'_>, e: rusqlite::Error, find: &str) -> ItemError {
    if !is_constraint(&e) {
        return StoreError::from(e).into();
    }
    let which: Option<String> = tx
        .query_row(find, [], |r| r.get(0))
        .optional()
        .ok()
        .flatten();
    ItemError::Refused(match which {
        Some(w) => format!("the snapshot holds {w} twice"),
        None => format!("the snapshot breaks a constraint: {e}"),
    })
}

enum ItemError {
    Refused(String),
    Store(StoreError),
}

impl From<StoreError> for ItemError {
    fn from(e: StoreError) -> Self {
        ItemError::Store(e)
    }
}

/// How far a trusted-time floor may stand above a fresh signed time from
/// the hub before it is taken for a clock that was once set ahead (records
/// dated in the future) and brought down to the hub's time.
pub const FLOOR_RESET_S: i64 = 86_400;

/// Raises the trusted-time floor to the hub's signed time `hub` (just
/// accepted as newer than any held): the floor never goes below it, and a
/// floor more than [`FLOOR_RESET_S`] above it — left by records made while
/// the clock was far ahead — comes down to it, or the terminal would stay
/// CLOCK_SUSPECT until that future date.
fn raise_floor_to_hub(tx: &Transaction<'_>, hub: UnixTime) -> Result<(), StoreError> {
    let floor: i64 = tx.query_row("SELECT floor FROM trusted_time WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    let new = if floor > hub.0.saturating_add(FLOOR_RESET_S) {
        tracing::warn!(
            floor = %UnixTime(floor).display_utc8(),
            hub = %hub.display_utc8(),
            "records are dated far after the hub's signed time: this terminal's clock was ahead; trusting the hub's time"
        );
        hub.0
    } else {
        floor.max(hub.0)
    };
    tx.execute("UPDATE trusted_time SET floor = ?1 WHERE id = 1", [new])?;
    Ok(())
}

/// Replaces the trust list, revocations, catalogue and sites.
fn replace_config(
    tx: &Transaction<'_>,
    raw: &[u8],
    parsed: &ParsedConfig,
    refuse: &dyn Fn(String) -> StoreError,
) -> Result<(), StoreError> {
    // The catalogue is stored as the TOML text the registry published;
    // the parsed form carries no text.
    let published: Config = serde_json::from_slice(raw)
        .map_err(|e| refuse(format!("the config artefact is not valid JSON: {e}")))?;
    tx.execute("DELETE FROM trust_keys", [])?;
    tx.execute("DELETE FROM revoked_cards", [])?;
    tx.execute("DELETE FROM sites", [])?;
    {
        let mut put = tx.prepare(
            "INSERT INTO trust_keys (kid, iss, public_key, not_before, not_after, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for k in &parsed.trust {
            put.execute(params![
                k.kid.0.as_slice(),
                k.iss.as_str(),
                k.public_key.as_bytes().as_slice(),
                k.not_before.0,
                k.not_after.0,
                k.revoked,
            ])
            .map_err(|e| {
                if is_constraint(&e) {
                    refuse(format!("the trust list names key {} twice", k.kid))
                } else {
                    e.into()
                }
            })?;
        }
        let mut put = tx.prepare("INSERT OR IGNORE INTO revoked_cards (cti) VALUES (?1)")?;
        for cti in &parsed.revoked_cards {
            put.execute([cti.as_bytes()])?;
        }
        let mut put = tx.prepare(
            "INSERT INTO sites (id, name, unit, measures, max_offline_age_s, void_window_s,
                unattended)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for s in &parsed.sites {
            let measures = serde_json::to_string(&s.measures)
                .map_err(|e| refuse(format!("site {}: {e}", s.id)))?;
            put.execute(params![
                s.id,
                s.name,
                s.unit,
                measures,
                s.max_offline_age_s,
                s.void_window_s,
                s.unattended
            ])
            .map_err(|e| {
                if is_constraint(&e) {
                    refuse(format!("site {} appears twice or is invalid", s.id))
                } else {
                    e.into()
                }
            })?;
        }
    }
    tx.execute(
        "INSERT OR REPLACE INTO catalogue (id, toml) VALUES (1, ?1)",
        [published.catalogue],
    )?;
    Ok(())
}

/// Checks the artefact header against the metadata and the held version.
fn check_header(
    h: Header,
    meta: &Metadata,
    announced_from: u64,
    held: Option<u64>,
) -> Result<(), String> {
    if h.to != meta.version {
        return Err(format!(
            "the artefact leads to version {}, the metadata to version {}",
            h.to, meta.version
        ));
    }
    match h.kind {
        ArtefactKind::Snapshot if announced_from != 0 => Err(format!(
            "the metadata announces a delta from version {announced_from}, the artefact is a snapshot"
        )),
        ArtefactKind::Snapshot => Ok(()),
        ArtefactKind::Delta if announced_from != h.from => Err(format!(
            "the metadata announces {}, the artefact is a delta from version {}",
            if announced_from == 0 {
                "a snapshot".to_owned()
            } else {
                format!("a delta from version {announced_from}")
            },
            h.from
        )),
        ArtefactKind::Delta => match held {
            Some(v) if v == h.from => Ok(()),
            Some(v) => Err(format!(
                "the delta applies to version {}, but version {v} is held",
                h.from
            )),
            None => Err(format!(
                "the delta applies to version {}, but no data is held",
                h.from
            )),
        },
    }
}

impl Store {
    /// The data version held, or `None` before the first sync.
    pub fn data_state(&self) -> Result<Option<DataState>, StoreError> {
        read_state(&self.conn)
    }

    /// Applies one version from the hub in one transaction; see the module
    /// doc. `meta` must already be opened with the pinned registry key;
    /// `config` is the config artefact's raw JSON and its parsed form (or
    /// `None` when the held one is still current); `eligibility` is the
    /// decompressed eligibility artefact (or `None` when the metadata names
    /// none). `now` is this terminal's clock.
    pub fn apply(
        &mut self,
        meta: &Metadata,
        config: Option<(&[u8], &ParsedConfig)>,
        eligibility: Option<&[u8]>,
        now: UnixTime,
    ) -> Result<ApplyOutcome, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held = read_state(&tx)?;
        let held_version = held.as_ref().map(|s| s.version);
        meta.check(held_version.unwrap_or(0), now)?;
        let refuse = |why: String| StoreError::DataRefused {
            version: meta.version,
            why,
        };

        let config_replaced = match (config, &held) {
            (Some((raw, parsed)), _) => {
                let found = Digest32::of(raw);
                if found != meta.config.sha256 {
                    return Err(refuse(format!(
                        "the config artefact's SHA-256 {found} differs from {} pinned by the metadata",
                        meta.config.sha256
                    )));
                }
                replace_config(&tx, raw, parsed, &refuse)?;
                true
            }
            (None, Some(h)) if h.config_sha256 == meta.config.sha256 => false,
            (None, Some(_)) => {
                return Err(refuse(
                    "the metadata pins a new config artefact, but none was given".into(),
                ));
            }
            (None, None) => {
                return Err(refuse(
                    "the first sync must carry the config artefact".into(),
                ));
            }
        };

        let (tally, artefact) = match (eligibility, meta.eligibility, &held) {
            (Some(bytes), Some(announced), _) => {
                if bytes.len() as u64 != announced.raw_length {
                    return Err(refuse(format!(
                        "the eligibility artefact is {} bytes, the metadata says {}",
                        bytes.len(),
                        announced.raw_length
                    )));
                }
                let reader = Reader::new(bytes).map_err(StoreError::Artefact)?;
                let header = reader.header();
                check_header(header, meta, announced.from, held_version).map_err(refuse)?;
                let replace = header.kind == ArtefactKind::Delta;
                let mut tally = match (&held, replace) {
                    (Some(h), true) => Tally {
                        hash: SetHash::from_digest(h.set_hash),
                        listings: h.listings,
                        exclusions: h.exclusions,
                        items: 0,
                    },
                    _ => {
                        tx.execute("DELETE FROM listings", [])?;
                        tx.execute("DELETE FROM exclusions", [])?;
                        Tally {
                            hash: SetHash::new(),
                            listings: 0,
                            exclusions: 0,
                            items: 0,
                        }
                    }
                };
                let item_error = |e| match e {
                    ItemError::Refused(why) => refuse(why),
                    ItemError::Store(e) => e,
                };
                prepare_staging(&tx)?;
                let mut writer = Writer::new(&tx)?;
                for item in reader {
                    let item = item.map_err(StoreError::Artefact)?;
                    writer
                        .apply(&item, replace, &mut tally)
                        .map_err(item_error)?;
                    tally.items += 1;
                }
                drop(writer);
                if !replace {
                    finish_snapshot(&tx).map_err(item_error)?;
                }
                (tally, Some(header.kind))
            }
            (Some(_), None, _) => {
                return Err(refuse(
                    "an eligibility artefact was given, but the metadata names none".into(),
                ));
            }
            (None, Some(_), _) => {
                return Err(refuse(
                    "the metadata names an eligibility artefact, but none was given".into(),
                ));
            }
            (None, None, Some(h)) => (
                Tally {
                    hash: SetHash::from_digest(h.set_hash),
                    listings: h.listings,
                    exclusions: h.exclusions,
                    items: 0,
                },
                None,
            ),
            (None, None, None) => {
                return Err(refuse("the first sync must carry a snapshot".into()));
            }
        };

        // The proof: the set held now is the set the hub signed for.
        let found = tally.hash.digest();
        if found != meta.set_hash {
            return Err(refuse(format!(
                "after applying, the set hash is {found} but the hub published {}: the lists here would differ from the registry's",
                meta.set_hash
            )));
        }
        if (tally.listings, tally.exclusions) != (meta.listings, meta.exclusions) {
            return Err(refuse(format!(
                "after applying, {} listings and {} exclusions are held, the hub published {} and {}",
                tally.listings, tally.exclusions, meta.listings, meta.exclusions
            )));
        }
        tx.execute(
            "INSERT OR REPLACE INTO data_state
                (id, version, published_at, set_hash, listings, exclusions, config_sha256,
                 hub_issued_at, received_at, expires_at, applied_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                to_sql_int(meta.version, "data version")?,
                meta.published_at,
                found.0.as_slice(),
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
        if artefact == Some(ArtefactKind::Snapshot) {
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
            from: held_version.unwrap_or(0),
            to: meta.version,
            artefact,
            items: tally.items,
            config_replaced,
            listings: tally.listings,
            exclusions: tally.exclusions,
        })
    }

    /// Records a contact with the hub that confirmed the held version is
    /// still current: its signed time, the local time it arrived and the
    /// new expiry. Metadata signed earlier than the one already recorded
    /// (a replay) changes nothing; returns whether anything was refreshed.
    pub fn record_hub_contact(
        &mut self,
        meta: &Metadata,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held = read_state(&tx)?.ok_or(StoreError::NoData)?;
        meta.check(held.version, now)?;
        let refuse = |why: String| StoreError::DataRefused {
            version: meta.version,
            why,
        };
        if meta.version != held.version {
            return Err(refuse(format!(
                "it is not the held version {}; it must be applied",
                held.version
            )));
        }
        if meta.set_hash != held.set_hash || meta.config.sha256 != held.config_sha256 {
            return Err(refuse(
                "the hub describes the held version with different content".into(),
            ));
        }
        if meta.issued_at < held.hub_issued_at.0 {
            return Ok(false);
        }
        tx.execute(
            "UPDATE data_state SET hub_issued_at = ?1, received_at = ?2, expires_at = ?3
             WHERE id = 1",
            params![meta.issued_at, now.0, meta.expires_at],
        )?;
        raise_floor_to_hub(&tx, UnixTime(meta.issued_at))?;
        tx.commit()?;
        Ok(true)
    }

    /// The registry revoked this terminal: deletes the listings,
    /// exclusions, trust list and card revocations, and forgets the data
    /// version, so every verdict is STALE_DATA until it is enrolled and
    /// synced again. The journal stays, to be uploaded.
    pub fn wipe_eligibility(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for table in [
            "listings",
            "exclusions",
            "trust_keys",
            "revoked_cards",
            "data_state",
        ] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        tx.commit()?;
        // secure_delete zeroed the freed pages in the database; the WAL
        // still holds copies until it is folded in and truncated.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// This terminal's site, its measures and the data's freshness, for
    /// [`xinyi_core::decide`]. Before the first sync the site is `None`
    /// and `data_as_of` is `None`, so verdicts are STALE_DATA.
    pub fn site_context(&self) -> Result<SiteContext, StoreError> {
        let identity = self.require_identity()?;
        let Some(state) = self.data_state()? else {
            return Ok(SiteContext {
                site: None,
                measures: Vec::new(),
                max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
                data_as_of: None,
                published_at: None,
                version: None,
                clock_floor: self.clock_floor()?,
            });
        };
        let site = self
            .site(&identity.site_id)?
            .ok_or_else(|| StoreError::UnknownSite(identity.site_id.clone()))?;
        let text: String = self
            .conn
            .query_row("SELECT toml FROM catalogue WHERE id = 1", [], |r| r.get(0))
            .optional()?
            .ok_or_else(|| corrupt("data is held but no catalogue"))?;
        let catalogue = Catalogue::from_toml(&text).map_err(corrupt)?;
        let measures =
            site.measures
                .iter()
                .map(|id| {
                    catalogue.get(id).cloned().ok_or_else(|| {
                        corrupt(format!("site {} names unknown measure {id}", site.id))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
        Ok(SiteContext {
            max_offline_age_s: site.max_offline_age_s,
            site: Some(site),
            measures,
            data_as_of: Some(state.hub_issued_at.max(state.published_at)),
            published_at: Some(state.published_at),
            version: Some(state.version),
            clock_floor: self.clock_floor()?,
        })
    }

    /// How many listings are held (all states).
    pub fn listings_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM listings", [], |r| r.get(0))?;
        super::from_sql_int(n, "the listings count")
    }

    /// The latest time this terminal already trusts: the high-water mark
    /// of the hub's signed times and of its own records' times. No record
    /// lowers it (a refusal made while the clock was set back included);
    /// only a fresh signed time from the hub far below it (the clock was
    /// once set ahead) brings it down to the hub's time.
    pub fn clock_floor(&self) -> Result<Option<UnixTime>, StoreError> {
        let floor: Option<i64> = self
            .conn
            .prepare_cached("SELECT floor FROM trusted_time WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(floor.filter(|f| *f > 0).map(UnixTime))
    }

    /// The time of the last journal record, if any.
    pub fn last_record_at(&self) -> Result<Option<UnixTime>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT at FROM journal ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?
            .map(UnixTime))
    }

    /// A site from the synced config.
    pub fn site(&self, id: &str) -> Result<Option<Site>, StoreError> {
        let row: Option<(Site, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, name, unit, measures, max_offline_age_s, void_window_s, unattended
                 FROM sites WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    Site {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        unit: r.get(2)?,
                        measures: Vec::new(),
                        max_offline_age_s: r.get(4)?,
                        void_window_s: r.get(5)?,
                        unattended: r.get(6)?,
                    },
                    r.get(3)?,
                ))
            })
            .optional()?;
        row.map(|(site, measures)| {
            Ok(Site {
                measures: serde_json::from_str(&measures)
                    .map_err(|e| corrupt(format!("site {}: measures: {e}", site.id)))?,
                ..site
            })
        })
        .transpose()
    }

    /// The measures catalogue held, if any (for names in the record list).
    pub fn catalogue(&self) -> Result<Option<Catalogue>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT toml FROM catalogue WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        text.map(|t| Catalogue::from_toml(&t).map_err(corrupt))
            .transpose()
    }

    /// What the status bar shows, at `now` (terminal clock).
    pub fn status(&self, now: UnixTime) -> Result<Status, StoreError> {
        let data = self.data_state()?;
        let (unsent, oldest): (i64, Option<i64>) = self.conn.query_row(
            "SELECT count(*), min(at) FROM journal WHERE uploaded_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Status {
            age_s: data
                .as_ref()
                .map(|d| now.0.saturating_sub(d.published_at.0)),
            since_hub_s: data
                .as_ref()
                .map(|d| now.0.saturating_sub(d.hub_issued_at.0)),
            metadata_expired: data.as_ref().is_some_and(|d| d.expires_at < now),
            data,
            unsent: super::from_sql_int(unsent, "the unsent count")?,
            oldest_unsent_at: oldest.map(UnixTime),
        })
    }

    fn listings_rows(&self, sub: &SubjectId) -> Result<Vec<EligibilityEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT category, valid_from, valid_until, withdrawn, display_name
             FROM listings WHERE sub = ?1 ORDER BY category, valid_from",
        )?;
        let rows = stmt.query_map([sub.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                ListingRest {
                    valid_until: r.get(2)?,
                    withdrawn: r.get(3)?,
                    display_name: r.get(4)?,
                },
            ))
        })?;
        rows.map(|row| {
            let (category, valid_from, rest) = row?;
            let category: Category = category.parse().map_err(corrupt)?;
            listing_entry(sub, category, date(&valid_from)?, rest)
        })
        .collect()
    }

    fn exclusion_rows(&self, sub: &SubjectId) -> Result<Vec<ExclusionEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT excluded_from, excluded_until FROM exclusions
             WHERE sub = ?1 ORDER BY excluded_from",
        )?;
        let rows = stmt.query_map([sub.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (from, until) = row?;
            Ok(ExclusionEntry {
                sub: sub.clone(),
                from: date(&from)?,
                until: date(&until)?,
            })
        })
        .collect()
    }

    fn trust_row(&self, kid: &Kid) -> Result<Option<TrustedKey>, StoreError> {
        let row: Option<(String, Vec<u8>, i64, i64, bool)> = self
            .conn
            .prepare_cached(
                "SELECT iss, public_key, not_before, not_after, revoked
                 FROM trust_keys WHERE kid = ?1",
            )?
            .query_row([kid.0.as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((iss, public_key, not_before, not_after, revoked)) = row else {
            return Ok(None);
        };
        let iss = Iss::parse(&iss).ok_or_else(|| corrupt(format!("key {kid}: issuer {iss:?}")))?;
        let public_key: [u8; 32] = public_key
            .try_into()
            .map_err(|_| corrupt(format!("key {kid} is not 32 bytes")))?;
        TrustedKey::new(
            iss,
            public_key,
            UnixTime(not_before),
            UnixTime(not_after),
            revoked,
            Some(*kid),
        )
        .map(Some)
        .map_err(|e| corrupt(format!("key {kid}: {e}")))
    }
}

/// Verdicts read the synced data straight from SQLite, through the same
/// trait the conformance tests implement in memory.
impl VerifierData for Store {
    fn trusted_key(&self, kid: &Kid) -> Result<Option<TrustedKey>, DataError> {
        Ok(self.trust_row(kid)?)
    }

    fn card_revoked(&self, cti: &Cti) -> Result<bool, DataError> {
        let found: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM revoked_cards WHERE cti = ?1)")
            .and_then(|mut s| s.query_row([cti.as_bytes()], |r| r.get(0)))
            .map_err(StoreError::from)?;
        Ok(found)
    }

    fn listings_of(&self, sub: &SubjectId) -> Result<Vec<EligibilityEntry>, DataError> {
        Ok(self.listings_rows(sub)?)
    }

    fn exclusions_of(&self, sub: &SubjectId) -> Result<Vec<ExclusionEntry>, DataError> {
        Ok(self.exclusion_rows(sub)?)
    }
}
