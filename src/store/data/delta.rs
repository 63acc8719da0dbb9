//! Applying a delta: each key's old row is read once — its member leaves
//! the set hash — then the row is updated in place, inserted or deleted.
//! An item equal to the row held is not written at all.

use rusqlite::{OptionalExtension, Statement, Transaction, params};
use xinyi_core::category::Category;
use xinyi_core::eligibility::{EligibilityEntry, ExclusionEntry};
use xinyi_core::history::RecordId;
use xinyi_core::ids::SubjectId;
use xinyi_core::measures::MeasureId;
use xinyi_core::wire::WireError;
use xinyi_core::wire::eligibility::{Item, UsageEntry};
use xinyi_core::wire::plan::Refused;
use xinyi_core::{Date, UnixTime};

use super::super::StoreError;
use super::apply::{ItemError, LISTING_COLUMNS, REDEEMED_PUT, Tally, USAGE_INSERT};
use super::lookup::{ListingRest, listing_entry};
use super::{corrupt, date};

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
    get_usage: Statement<'t>,
    insert_usage: Statement<'t>,
    delete_usage: Statement<'t>,
    get_redeemed: Statement<'t>,
    put_redeemed: Statement<'t>,
    delete_redeemed: Statement<'t>,
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
            get_usage: tx.prepare(
                "SELECT record_id FROM published_uses
                 WHERE sub = ?1 AND measure = ?2 AND period_start = ?3 ORDER BY record_id",
            )?,
            insert_usage: tx.prepare(USAGE_INSERT)?,
            delete_usage: tx.prepare(
                "DELETE FROM published_uses WHERE sub = ?1 AND measure = ?2 AND period_start = ?3",
            )?,
            get_redeemed: tx.prepare("SELECT until FROM published_cti WHERE cti = ?1")?,
            put_redeemed: tx.prepare(REDEEMED_PUT)?,
            delete_redeemed: tx.prepare("DELETE FROM published_cti WHERE cti = ?1")?,
        })
    }

    /// The usage held for a key (`None`: none).
    fn old_usage(
        &mut self,
        sub: &SubjectId,
        measure: &MeasureId,
        period_start: UnixTime,
    ) -> Result<Option<UsageEntry>, StoreError> {
        let uses = self
            .get_usage
            .query_map(
                params![sub.as_str(), measure.as_str(), period_start.0],
                |r| r.get::<_, Vec<u8>>(0),
            )?
            .map(|id| {
                let id = id?;
                RecordId::try_from(id.as_slice())
                    .map_err(|_| corrupt(format!("a published use of {sub} has a bad record id")))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((!uses.is_empty()).then(|| UsageEntry {
            sub: sub.clone(),
            measure: measure.clone(),
            period_start,
            uses,
        }))
    }

    fn put_usage(&mut self, u: &UsageEntry) -> Result<(), StoreError> {
        for id in &u.uses {
            self.insert_usage.execute(params![
                u.sub.as_str(),
                u.measure.as_str(),
                u.period_start.0,
                id.as_slice()
            ])?;
        }
        Ok(())
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
            Item::Usage(u) => {
                match self.old_usage(&u.sub, &u.measure, u.period_start)? {
                    Some(old) if old == *u => return Ok(()),
                    Some(old) => {
                        self.delete_usage.execute(params![
                            u.sub.as_str(),
                            u.measure.as_str(),
                            u.period_start.0
                        ])?;
                        t.hash.remove(&Item::Usage(old));
                    }
                    None => {}
                }
                self.put_usage(u)?;
            }
            Item::RemoveUsage {
                sub,
                measure,
                period_start,
            } => {
                let Some(old) = self.old_usage(sub, measure, *period_start)? else {
                    return Err(ItemError::Refused(Refused::RemovesUnheldUsage {
                        sub: sub.clone(),
                        measure: measure.clone(),
                        period_start: *period_start,
                    }));
                };
                self.delete_usage.execute(params![
                    sub.as_str(),
                    measure.as_str(),
                    period_start.0
                ])?;
                t.hash.remove(&Item::Usage(old));
                return Ok(());
            }
            Item::Redeemed { cti, until } => {
                let old: Option<i64> = self
                    .get_redeemed
                    .query_row([cti.as_bytes()], |r| r.get(0))
                    .optional()?;
                match old {
                    Some(u) if u == until.0 => return Ok(()),
                    Some(u) => t.hash.remove(&Item::Redeemed {
                        cti: cti.clone(),
                        until: UnixTime(u),
                    }),
                    None => {}
                }
                self.put_redeemed
                    .execute(params![cti.as_bytes(), until.0])?;
            }
            Item::RemoveRedeemed { cti } => {
                let old: Option<i64> = self
                    .get_redeemed
                    .query_row([cti.as_bytes()], |r| r.get(0))
                    .optional()?;
                let Some(u) = old else {
                    return Err(ItemError::Refused(Refused::RemovesUnheldRedeemed {
                        cti: cti.clone(),
                    }));
                };
                self.delete_redeemed.execute([cti.as_bytes()])?;
                t.hash.remove(&Item::Redeemed {
                    cti: cti.clone(),
                    until: UnixTime(u),
                });
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

/// A delta patches what is held, item by item.
pub(super) fn delta<'r>(
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
