//! Importing the departments' submissions (`list-standard.md`): listings
//! and exclusions CSV files, checked whole by `xinyi_core::listing`
//! against the rows held here, and applied all-or-nothing in one
//! transaction that also publishes the new version.
//!
//! The registry keeps full identities, sealed ([`crate::identity`]): rows
//! are keyed by the subject's pseudonym, which an import derives from the
//! ID number, and the ID number and full name are stored as ciphertexts
//! bound to their row. Beside them each row holds its published
//! projection (pseudonym, masked name) and `changed_in`, bumped only when
//! what terminals see changes. Re-importing a file changes nothing and
//! publishes nothing.
//!
//! A listing whose identity retention erased ([`crate::retention`]) is
//! held with an empty name; a file that names it again (`add`) seals its
//! identity again, while a withdrawal leaves it erased.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::db::{Dialect, OptionalExtension as _, Tx, Value, params};
use xinyi_core::ids::mask_name;
use xinyi_core::listing::{
    Change, Exclusion, ExclusionChange, ExclusionKey, ImportReport, ImportSummary, Listing,
    ListingKey, Repair, check_exclusions, check_listings,
};

use crate::error::HubError;
use crate::hub::Hub;
use crate::identity::{Field, Place};
use crate::publish::{Published, date, next_version, to_i64, unchanged};
use crate::seal;

pub use crate::people::HeldListing;

/// The outcome of a listings import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingsImport {
    /// Per listing (a key appearing on several rows counts once).
    pub summary: ImportSummary,
    pub published: Published,
}

/// The outcome of an exclusions import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExclusionsImport {
    /// Per exclusion row. `updated`: held already, with a new reason text
    /// (terminals see no change, so it publishes nothing).
    pub summary: ImportSummary,
    pub published: Published,
}

/// A listing as stored, with its published projection. An erased
/// identity reads as an empty name.
struct Held {
    listing: Listing,
    display_name: String,
    changed_in: i64,
    withdrawn_on: Option<String>,
    erased_at: Option<i64>,
}

/// A listing's stored columns, as [`HELD_COLUMNS`] names them.
type HeldRow = (
    Option<Vec<u8>>,
    String,
    String,
    String,
    Option<String>,
    bool,
    String,
    i64,
    Option<String>,
    Option<i64>,
);

/// The columns [`held_row`] reads, from the first.
const HELD_COLUMNS: &str = "name_sealed, honour, source, valid_until, extension_ref, withdrawn, \
     display_name, changed_in, withdrawn_on, erased_at";

fn held_row(r: &crate::db::Row<'_>, first: usize) -> Result<HeldRow, crate::db::DbError> {
    Ok((
        r.get(first)?,
        r.get(first + 1)?,
        r.get(first + 2)?,
        r.get(first + 3)?,
        r.get(first + 4)?,
        r.get(first + 5)?,
        r.get(first + 6)?,
        r.get(first + 7)?,
        r.get(first + 8)?,
        r.get(first + 9)?,
    ))
}

/// The listing held under `key`, its name opened.
fn load(tx: &Tx<'_>, hub: &Hub, key: &ListingKey) -> Result<Option<Held>, HubError> {
    let sub = hub.k_pseudo().pseudonym(key.kind, &key.id_number);
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {HELD_COLUMNS} FROM listings
         WHERE kind = ?1 AND sub = ?2 AND category = ?3 AND recognised_on = ?4"
    ))?;
    let row = stmt
        .query_row(
            params![
                key.kind.as_str(),
                sub.as_str(),
                key.category.code(),
                key.recognised_on.to_string()
            ],
            |r| held_row(r, 0),
        )
        .optional()?;
    row.map(|row| held(hub, key, sub.as_str(), row)).transpose()
}

/// Listings looked up in one statement: padded up to a power of two (at
/// most this), so a connection prepares a handful of statements.
const LOAD_CHUNK: usize = 128;

/// The listings held under `keys` (`None`: not held), a statement per
/// [`LOAD_CHUNK`] keys instead of one per key: what [`load`] reads.
fn load_many(
    tx: &Tx<'_>,
    hub: &Hub,
    keys: &[ListingKey],
) -> Result<BTreeMap<ListingKey, Option<Held>>, HubError> {
    let mut out = BTreeMap::new();
    for chunk in keys.chunks(LOAD_CHUNK) {
        // (kind, sub, category, recognised_on) of each key, as stored.
        let stored: Vec<[String; 4]> = chunk
            .iter()
            .map(|k| {
                [
                    k.kind.as_str().to_owned(),
                    hub.k_pseudo()
                        .pseudonym(k.kind, &k.id_number)
                        .as_str()
                        .to_owned(),
                    k.category.code().to_owned(),
                    k.recognised_on.to_string(),
                ]
            })
            .collect();
        let mut wanted: HashMap<&[String; 4], &ListingKey> = HashMap::new();
        for (s, k) in stored.iter().zip(chunk) {
            wanted.insert(s, k);
            out.insert(k.clone(), None);
        }
        let width = chunk.len().next_power_of_two();
        let rows = (0..width)
            .map(|i| {
                let c = 4 * i;
                format!("(?{}, ?{}, ?{}, ?{})", c + 1, c + 2, c + 3, c + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        // Padding repeats the last key: the same row, found again.
        let values: Vec<&dyn crate::db::ToSql> = (0..width)
            .flat_map(|i| {
                stored[i.min(stored.len() - 1)]
                    .iter()
                    .map(|v| v as &dyn crate::db::ToSql)
            })
            .collect();
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT l.kind, l.sub, l.category, l.recognised_on, {}
             FROM (VALUES {rows}) AS k
             JOIN listings l ON l.kind = k.column1 AND l.sub = k.column2
                 AND l.category = k.column3 AND l.recognised_on = k.column4",
            HELD_COLUMNS
                .split(", ")
                .map(|c| format!("l.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
        let mut found = stmt.query(values)?;
        while let Some(r) = found.next()? {
            let at: [String; 4] = [r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?];
            let Some(key) = wanted.get(&at) else {
                continue;
            };
            let h = held(hub, key, &at[1], held_row(&r, 4)?)?;
            out.insert((*key).clone(), Some(h));
        }
    }
    Ok(out)
}

/// A stored listing's columns as a [`Held`], its name opened.
fn held(hub: &Hub, key: &ListingKey, sub: &str, row: HeldRow) -> Result<Held, HubError> {
    let kind = key.kind.as_str();
    let (
        name_sealed,
        honour,
        source,
        valid_until,
        extension_ref,
        withdrawn,
        display_name,
        changed_in,
        withdrawn_on,
        erased_at,
    ) = row;
    let name = match name_sealed {
        Some(sealed) => seal::open(
            hub.identity(),
            &sealed,
            &Place::new(Field::ListingName, kind, sub),
            || {
                format!(
                    "listing {kind} {sub} {} recognised {}",
                    key.category, key.recognised_on
                )
            },
        )?,
        None => String::new(),
    };
    Ok(Held {
        listing: Listing {
            key: key.clone(),
            name,
            honour,
            source,
            valid_until: date(&valid_until)?,
            extension_ref,
            withdrawn,
        },
        display_name,
        changed_in,
        withdrawn_on,
        erased_at,
    })
}

/// Listings written in one statement (of 16 values each).
const UPSERT_CHUNK: usize = 120;

/// A listing's columns as an import writes them.
const LISTING_COLUMNS: &str = "kind, sub, category, recognised_on, id_sealed, name_sealed, \
     honour, source, valid_until, extension_ref, withdrawn, withdrawn_on, display_name, \
     changed_in, updated_at, erased_at";

/// What an import does to a listing held already: takes every column.
const LISTING_UPSERT: &str = "ON CONFLICT (kind, sub, category, recognised_on) DO UPDATE SET
    id_sealed = excluded.id_sealed, name_sealed = excluded.name_sealed,
    honour = excluded.honour, source = excluded.source,
    valid_until = excluded.valid_until, extension_ref = excluded.extension_ref,
    withdrawn = excluded.withdrawn, withdrawn_on = excluded.withdrawn_on,
    display_name = excluded.display_name, changed_in = excluded.changed_in,
    updated_at = excluded.updated_at, erased_at = excluded.erased_at";

/// Runs an import check (`check`) against the rows held, read with
/// `load`: the plan, the rejection of the file, or the first database
/// error a lookup met.
fn checked_against_held<K, T, P>(
    check: impl FnOnce(&dyn Fn(&K) -> Option<T>) -> Result<P, ImportReport>,
    load: impl Fn(&K) -> Result<Option<T>, HubError>,
) -> Result<P, HubError> {
    let failure = RefCell::new(None);
    let plan = check(&|key| {
        load(key).unwrap_or_else(|e| {
            failure.borrow_mut().get_or_insert(e);
            None
        })
    });
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    plan.map_err(HubError::Rejected)
}

/// The exclusion held under `key`, with its withdrawal if it has one.
fn load_exclusion(
    tx: &Tx<'_>,
    hub: &Hub,
    key: &ExclusionKey,
) -> Result<Option<Exclusion>, HubError> {
    let sub = hub.k_pseudo().pseudonym(key.kind, &key.id_number);
    let mut stmt = tx.prepare_cached(
        "SELECT reason, withdrawn_on, repair_ref FROM exclusions
         WHERE kind = ?1 AND sub = ?2 AND recorded_on = ?3",
    )?;
    let row = stmt
        .query_row(
            params![key.kind.as_str(), sub.as_str(), key.recorded_on.to_string()],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .optional()?;
    let Some((reason, withdrawn_on, repair_ref)) = row else {
        return Ok(None);
    };
    let withdrawn = match (withdrawn_on, repair_ref) {
        (Some(on), Some(reference)) => Some(Repair {
            on: date(&on)?,
            reference,
        }),
        (None, None) => None,
        _ => {
            return Err(HubError::corrupt(format!(
                "exclusion {} {sub} recorded {}: a withdrawal without its day or its reference",
                key.kind, key.recorded_on
            )));
        }
    };
    Ok(Some(Exclusion {
        kind: key.kind,
        id_number: key.id_number.clone(),
        reason,
        recorded_on: key.recorded_on,
        withdrawn,
    }))
}

impl Hub {
    /// Imports a listings file, all or nothing (`HubError::Rejected` names
    /// every bad row, and nothing changes).
    pub fn import_listings(&self, bytes: &[u8]) -> Result<ListingsImport, HubError> {
        self.import_listings_with_progress(bytes, &|_, _| {})
    }

    /// [`Hub::import_listings`], calling `progress(done, total)` while the
    /// checked rows are written.
    pub fn import_listings_with_progress(
        &self,
        bytes: &[u8],
        progress: &dyn Fn(u64, u64),
    ) -> Result<ListingsImport, HubError> {
        let today = self.today();
        self.db().write(|tx| {
            // On PostgreSQL, where every statement is a round trip, the
            // keys the check asks about (gathered by a first check against
            // nothing held) are looked up many to a statement; a key only
            // the second check asks about is looked up alone, as every key
            // is in SQLite's file in this process.
            let mut held_now = BTreeMap::new();
            if tx.dialect() == Dialect::Postgres {
                let asked = RefCell::new(Vec::new());
                let _ = check_listings(bytes, today, |key| {
                    asked.borrow_mut().push(key.clone());
                    None
                });
                let mut asked = asked.into_inner();
                asked.sort();
                asked.dedup();
                held_now = load_many(tx, self, &asked)?;
            }
            let changes = checked_against_held(
                |held| check_listings(bytes, today, held),
                |key| match held_now.get(key) {
                    Some(h) => Ok(h.as_ref().map(|h| h.listing.clone())),
                    None => Ok(load(tx, self, key)?.map(|h| h.listing)),
                },
            )?;
            // The net effect per listing: a file may add and withdraw the
            // same listing; only the final state counts.
            let mut finals: BTreeMap<ListingKey, Listing> = BTreeMap::new();
            for c in changes {
                match c {
                    Change::Added(l) | Change::Updated(l) | Change::Withdrawn(l) => {
                        finals.insert(l.key.clone(), l);
                    }
                    Change::Unchanged(k) => {
                        if let std::collections::btree_map::Entry::Vacant(e) = finals.entry(k) {
                            let h = match held_now.get(e.key()) {
                                Some(h) => h.as_ref().map(|h| h.listing.clone()),
                                None => load(tx, self, e.key())?.map(|h| h.listing),
                            };
                            if let Some(l) = h {
                                e.insert(l);
                            }
                        }
                    }
                }
            }
            let version = next_version(tx)?;
            let now = self.now();
            let total = finals.len() as u64;
            let mut summary = ImportSummary::default();
            let mut published_change = false;
            // Many rows to a statement: the keys in `finals` are distinct.
            let mut rows: Vec<Vec<Value>> = Vec::new();
            for (done, (key, l)) in finals.iter().enumerate() {
                if done % 1024 == 0 {
                    progress(done as u64, total);
                }
                if rows.len() >= UPSERT_CHUNK {
                    tx.insert_rows_then("listings", LISTING_COLUMNS, &rows, LISTING_UPSERT)?;
                    rows.clear();
                }
                // As held before this import: no key comes twice.
                let held = match held_now.remove(key) {
                    Some(h) => h,
                    None => load(tx, self, key)?,
                };
                // An empty name is an identity retention erased, carried
                // along (a withdrawal): it stays erased and keeps the
                // name terminals know.
                let erased = l.name.is_empty();
                let display_name = match &held {
                    Some(h) if erased => h.display_name.clone(),
                    _ => mask_name(key.kind, &l.name),
                };
                let changed_in = match &held {
                    Some(h) if h.listing == *l => {
                        summary.unchanged += 1;
                        continue;
                    }
                    Some(h) => {
                        if l.withdrawn && !h.listing.withdrawn {
                            summary.withdrawn += 1;
                        } else {
                            summary.updated += 1;
                        }
                        let same_projection = h.display_name == display_name
                            && h.listing.valid_until == l.valid_until
                            && h.listing.withdrawn == l.withdrawn;
                        if same_projection {
                            h.changed_in
                        } else {
                            published_change = true;
                            to_i64(version, "version")?
                        }
                    }
                    None => {
                        summary.added += 1;
                        published_change = true;
                        to_i64(version, "version")?
                    }
                };
                let kind = key.kind.as_str();
                let sub = self.k_pseudo().pseudonym(key.kind, &key.id_number);
                let (id_sealed, name_sealed, erased_at) = if erased {
                    let at = held.as_ref().and_then(|h| h.erased_at).unwrap_or(now.0);
                    (None, None, Some(at))
                } else {
                    let place = |field| Place::new(field, kind, sub.as_str());
                    (
                        Some(seal::seal(
                            self.identity(),
                            &key.id_number,
                            &place(Field::ListingId),
                        )?),
                        Some(seal::seal(
                            self.identity(),
                            &l.name,
                            &place(Field::ListingName),
                        )?),
                        None,
                    )
                };
                let withdrawn_on = match &held {
                    _ if !l.withdrawn => None,
                    Some(h) if h.listing.withdrawn => h.withdrawn_on.clone(),
                    _ => Some(today.to_string()),
                };
                let values: [&dyn crate::db::ToSql; 16] = [
                    &kind,
                    &sub.as_str(),
                    &key.category.code(),
                    &key.recognised_on.to_string(),
                    &id_sealed,
                    &name_sealed,
                    &l.honour,
                    &l.source,
                    &l.valid_until.to_string(),
                    &l.extension_ref,
                    &l.withdrawn,
                    &withdrawn_on,
                    &display_name,
                    &changed_in,
                    &now.0,
                    &erased_at,
                ];
                rows.push(
                    values
                        .iter()
                        .map(|v| Value::of(*v))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| HubError::Internal(format!("a listing's value: {e}")))?,
                );
            }
            tx.insert_rows_then("listings", LISTING_COLUMNS, &rows, LISTING_UPSERT)?;
            progress(total, total);
            let published = if published_change {
                self.publish_in(tx, version, &format!("listings import: {summary}"))?
            } else {
                unchanged(tx)?
            };
            Ok(ListingsImport { summary, published })
        })
    }

    /// Imports an exclusions file, all or nothing. A withdrawal
    /// (`action=withdraw`, with `repair_ref`) ends the exclusion today and
    /// reaches terminals in the next version, as a shortened exclusion.
    pub fn import_exclusions(&self, bytes: &[u8]) -> Result<ExclusionsImport, HubError> {
        let today = self.today();
        self.db().write(|tx| {
            let changes = checked_against_held(
                |held| check_exclusions(bytes, today, held),
                |key| load_exclusion(tx, self, key),
            )?;
            let summary = ImportSummary::of_exclusions(&changes);
            let version = next_version(tx)?;
            let now = self.now();
            let mut published_change = false;
            for c in &changes {
                match c {
                    ExclusionChange::Unchanged(_) => {}
                    ExclusionChange::Updated(e) => {
                        let sub = self.k_pseudo().pseudonym(e.kind, &e.id_number);
                        tx.execute(
                            "UPDATE exclusions SET reason = ?4, updated_at = ?5
                             WHERE kind = ?1 AND sub = ?2 AND recorded_on = ?3",
                            params![
                                e.kind.as_str(),
                                sub.as_str(),
                                e.recorded_on.to_string(),
                                e.reason,
                                now.0
                            ],
                        )?;
                    }
                    ExclusionChange::Withdrawn(e) => {
                        published_change = true;
                        let repair = e.withdrawn.as_ref();
                        let sub = self.k_pseudo().pseudonym(e.kind, &e.id_number);
                        tx.execute(
                            "UPDATE exclusions SET until = ?4, withdrawn_on = ?5, repair_ref = ?6,
                                 changed_in = ?7, updated_at = ?8
                             WHERE kind = ?1 AND sub = ?2 AND recorded_on = ?3",
                            params![
                                e.kind.as_str(),
                                sub.as_str(),
                                e.recorded_on.to_string(),
                                e.ends_on().to_string(),
                                repair.map(|r| r.on.to_string()),
                                repair.map(|r| r.reference.as_str()),
                                to_i64(version, "version")?,
                                now.0
                            ],
                        )?;
                    }
                    ExclusionChange::Added(e) => {
                        published_change = true;
                        let kind = e.kind.as_str();
                        let sub = self.k_pseudo().pseudonym(e.kind, &e.id_number);
                        let id_sealed = seal::seal(
                            self.identity(),
                            &e.id_number,
                            &Place::new(Field::ExclusionId, kind, sub.as_str()),
                        )?;
                        tx.execute(
                            "INSERT INTO exclusions (kind, sub, recorded_on, id_sealed, reason,
                                 until, changed_in, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            params![
                                kind,
                                sub.as_str(),
                                e.recorded_on.to_string(),
                                id_sealed,
                                e.reason,
                                e.ends_on().to_string(),
                                to_i64(version, "version")?,
                                now.0
                            ],
                        )?;
                    }
                }
            }
            let published = if published_change {
                self.publish_in(tx, version, &format!("exclusions import: {summary}"))?
            } else {
                unchanged(tx)?
            };
            Ok(ExclusionsImport { summary, published })
        })
    }

    /// Checks a listings file against the rows held, changing nothing:
    /// what an import would do per listing, or the rejection naming every
    /// bad row (`HubError::Rejected`).
    pub fn check_listings_file(&self, bytes: &[u8]) -> Result<ImportSummary, HubError> {
        let today = self.today();
        self.db().read(|tx| {
            let changes = checked_against_held(
                |held| check_listings(bytes, today, held),
                |key| Ok(load(tx, self, key)?.map(|h| h.listing)),
            )?;
            // The net effect per listing, as the import counts it.
            let mut last: BTreeMap<ListingKey, &Change> = BTreeMap::new();
            for c in &changes {
                let key = match c {
                    Change::Added(l) | Change::Updated(l) | Change::Withdrawn(l) => l.key.clone(),
                    Change::Unchanged(k) => k.clone(),
                };
                last.insert(key, c);
            }
            let mut summary = ImportSummary::default();
            for c in last.values() {
                match c {
                    Change::Added(_) => summary.added += 1,
                    Change::Updated(_) => summary.updated += 1,
                    Change::Withdrawn(_) => summary.withdrawn += 1,
                    Change::Unchanged(_) => summary.unchanged += 1,
                }
            }
            Ok(summary)
        })
    }

    /// Checks an exclusions file against the rows held, changing nothing.
    pub fn check_exclusions_file(&self, bytes: &[u8]) -> Result<ImportSummary, HubError> {
        let today = self.today();
        self.db().read(|tx| {
            let changes = checked_against_held(
                |held| check_exclusions(bytes, today, held),
                |key| load_exclusion(tx, self, key),
            )?;
            Ok(ImportSummary::of_exclusions(&changes))
        })
    }
}
