//! Applying a snapshot: every item staged in temporary tables in arrival
//! order, then copied into place sorted by key. Inserting a million rows
//! in random key order straight into the B-tree costs several times more,
//! and the hub's order is not part of the format. A key staged twice is
//! the hub's error, named in the refusal.

use rusqlite::{OptionalExtension, Statement, Transaction, params};
use xinyi_core::ids::SubjectId;
use xinyi_core::wire::WireError;
use xinyi_core::wire::eligibility::Item;
use xinyi_core::wire::plan::Refused;

use super::super::StoreError;
use super::apply::{ItemError, LISTING_COLUMNS, REDEEMED_PUT, Tally, USAGE_INSERT};
use super::{corrupt, date, is_constraint};

/// A snapshot's statements: appends to the staging tables.
struct Stager<'t> {
    listing: Statement<'t>,
    exclusion: Statement<'t>,
    usage: Statement<'t>,
    redeemed: Statement<'t>,
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
            usage: tx.prepare(USAGE_INSERT)?,
            redeemed: tx.prepare(REDEEMED_PUT)?,
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
            Item::Usage(u) => {
                for id in &u.uses {
                    self.usage.execute(params![
                        u.sub.as_str(),
                        u.measure.as_str(),
                        u.period_start.0,
                        id.as_slice()
                    ])?;
                }
            }
            Item::Redeemed { cti, until } => {
                self.redeemed.execute(params![cti.as_bytes(), until.0])?;
            }
            // The reader refuses removals in a snapshot.
            Item::RemoveListing { .. }
            | Item::RemoveExclusion { .. }
            | Item::RemoveUsage { .. }
            | Item::RemoveRedeemed { .. } => {
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

/// A snapshot replaces everything: staged, then copied sorted.
pub(super) fn snapshot<'r>(
    tx: &Transaction<'_>,
    items: impl Iterator<Item = Result<Item, WireError>> + 'r,
    tally: &mut Tally,
) -> Result<(), ItemError> {
    tx.execute("DELETE FROM listings", [])?;
    tx.execute("DELETE FROM exclusions", [])?;
    tx.execute("DELETE FROM published_uses", [])?;
    tx.execute("DELETE FROM published_cti", [])?;
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
