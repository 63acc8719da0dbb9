//! What the registry holds about people and enterprises, with their
//! identities opened: every listing and exclusion (admin views, tests),
//! and one subject's, found by kind and ID number through its pseudonym
//! (the console's people page) without reading any other row.
//!
//! A row whose identity retention erased is still returned, with empty
//! ID number and name and `identity_erased` set: its pseudonymous part
//! stays for the published data.

use crate::db::{Row, Tx, params};
use xinyi_core::ids::{Kind, normalize_id, validate_id};
use xinyi_core::{Date, UnixTime};

use crate::audit::{Actor, mask_id_number};
use crate::error::HubError;
use crate::hub::Hub;
use crate::identity::{Field, Place};
use crate::seal;

/// One listing as the registry holds it, for admin views and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldListing {
    pub kind: String,
    /// Empty if retention erased it.
    pub id_number: String,
    pub category: String,
    pub recognised_on: String,
    /// The full name; empty if retention erased it.
    pub name: String,
    pub valid_until: String,
    pub withdrawn: bool,
    /// The published pseudonym.
    pub sub: String,
    /// The published (masked) name.
    pub display_name: String,
    pub changed_in: i64,
    pub honour: String,
    pub source: String,
    pub extension_ref: Option<String>,
    /// The day (UTC+8) it was withdrawn, if it was.
    pub withdrawn_on: Option<String>,
    /// Retention erased its ID number and name.
    pub identity_erased: bool,
}

impl HeldListing {
    /// Whether it is in force on `day`: recognised, not past its validity,
    /// not withdrawn.
    pub fn in_force_on(&self, day: Date) -> bool {
        let day = day.to_string();
        !self.withdrawn && self.recognised_on <= day && day <= self.valid_until
    }
}

/// One exclusion (serious dishonesty record) as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldExclusion {
    pub kind: String,
    /// Empty if retention erased it.
    pub id_number: String,
    pub recorded_on: String,
    pub reason: String,
    /// The first day the subject is no longer excluded.
    pub until: String,
    /// The day a withdrawal (credit repair, reversal) took effect.
    pub withdrawn_on: Option<String>,
    /// The withdrawal decision's reference.
    pub repair_ref: Option<String>,
    /// The published pseudonym.
    pub sub: String,
    pub changed_in: i64,
    /// Retention erased its ID number.
    pub identity_erased: bool,
}

impl HeldExclusion {
    /// Whether it excludes the subject on `day`.
    pub fn applies_on(&self, day: Date) -> bool {
        let day = day.to_string();
        self.recorded_on <= day && day < self.until
    }
}

/// Everything the registry holds about one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: String,
    /// As asked, normalised (trimmed, upper case).
    pub id_number: String,
    /// Its pseudonym.
    pub sub: String,
    /// Its listings, by category and recognition day.
    pub listings: Vec<HeldListing>,
    /// Its exclusions, oldest first.
    pub exclusions: Vec<HeldExclusion>,
}

const LISTING_COLUMNS: &str = "kind, sub, category, recognised_on, id_sealed, name_sealed, \
     valid_until, withdrawn, display_name, changed_in, honour, source, extension_ref, withdrawn_on";

const EXCLUSION_COLUMNS: &str =
    "kind, sub, recorded_on, id_sealed, reason, until, withdrawn_on, repair_ref, changed_in";

/// A listing row as read, its identity still sealed.
struct SealedListing {
    held: HeldListing,
    id_sealed: Option<Vec<u8>>,
    name_sealed: Option<Vec<u8>>,
}

fn sealed_listing(r: &Row<'_>) -> Result<SealedListing, crate::db::DbError> {
    let id_sealed: Option<Vec<u8>> = r.get(4)?;
    Ok(SealedListing {
        held: HeldListing {
            kind: r.get(0)?,
            sub: r.get(1)?,
            category: r.get(2)?,
            recognised_on: r.get(3)?,
            id_number: String::new(),
            name: String::new(),
            valid_until: r.get(6)?,
            withdrawn: r.get(7)?,
            display_name: r.get(8)?,
            changed_in: r.get(9)?,
            honour: r.get(10)?,
            source: r.get(11)?,
            extension_ref: r.get(12)?,
            withdrawn_on: r.get(13)?,
            identity_erased: id_sealed.is_none(),
        },
        id_sealed,
        name_sealed: r.get(5)?,
    })
}

struct SealedExclusion {
    held: HeldExclusion,
    id_sealed: Option<Vec<u8>>,
}

fn sealed_exclusion(r: &Row<'_>) -> Result<SealedExclusion, crate::db::DbError> {
    let id_sealed: Option<Vec<u8>> = r.get(3)?;
    Ok(SealedExclusion {
        held: HeldExclusion {
            kind: r.get(0)?,
            sub: r.get(1)?,
            recorded_on: r.get(2)?,
            id_number: String::new(),
            reason: r.get(4)?,
            until: r.get(5)?,
            withdrawn_on: r.get(6)?,
            repair_ref: r.get(7)?,
            changed_in: r.get(8)?,
            identity_erased: id_sealed.is_none(),
        },
        id_sealed,
    })
}

impl Hub {
    /// Opens a listing's identity.
    fn open_listing(&self, s: SealedListing) -> Result<HeldListing, HubError> {
        let mut l = s.held;
        let row = |l: &HeldListing| {
            format!(
                "listing {} {} {} recognised {}",
                l.kind, l.sub, l.category, l.recognised_on
            )
        };
        match (s.id_sealed, s.name_sealed) {
            (Some(id), Some(name)) => {
                let place = |field| Place::new(field, &l.kind, &l.sub);
                let id_number =
                    seal::open(self.identity(), &id, &place(Field::ListingId), || row(&l))?;
                let name = seal::open(self.identity(), &name, &place(Field::ListingName), || {
                    row(&l)
                })?;
                l.id_number = id_number;
                l.name = name;
            }
            (None, None) => {}
            _ => {
                return Err(HubError::corrupt(format!(
                    "{}: an ID number without a name or a name without an ID number",
                    row(&l)
                )));
            }
        }
        Ok(l)
    }

    /// Opens an exclusion's identity.
    fn open_exclusion(&self, s: SealedExclusion) -> Result<HeldExclusion, HubError> {
        let mut x = s.held;
        if let Some(id) = s.id_sealed {
            let place = Place::new(Field::ExclusionId, &x.kind, &x.sub);
            x.id_number = seal::open(self.identity(), &id, &place, || {
                format!("exclusion {} {} recorded {}", x.kind, x.sub, x.recorded_on)
            })?;
        }
        Ok(x)
    }

    fn read_listings(
        &self,
        tx: &Tx<'_>,
        filter: &str,
        params: &[&dyn crate::db::ToSql],
    ) -> Result<Vec<HeldListing>, HubError> {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {LISTING_COLUMNS} FROM listings {filter} ORDER BY category, recognised_on"
        ))?;
        let rows = stmt
            .query_map(params, sealed_listing)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|s| self.open_listing(s)).collect()
    }

    fn read_exclusions(
        &self,
        tx: &Tx<'_>,
        filter: &str,
        params: &[&dyn crate::db::ToSql],
    ) -> Result<Vec<HeldExclusion>, HubError> {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {EXCLUSION_COLUMNS} FROM exclusions {filter} ORDER BY recorded_on"
        ))?;
        let rows = stmt
            .query_map(params, sealed_exclusion)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|s| self.open_exclusion(s)).collect()
    }

    /// Every listing held, with its full identity and its pseudonym
    /// (registry side only; never published as such), ordered by kind, ID
    /// number, category and recognition day.
    pub fn listings(&self) -> Result<Vec<HeldListing>, HubError> {
        let mut all = self.db().read(|tx| self.read_listings(tx, "", &[]))?;
        all.sort_by(|a, b| {
            (&a.kind, &a.id_number, &a.category, &a.recognised_on).cmp(&(
                &b.kind,
                &b.id_number,
                &b.category,
                &b.recognised_on,
            ))
        });
        Ok(all)
    }

    /// Every exclusion held, with its ID number, ordered by kind, ID
    /// number and recording day.
    pub fn exclusions(&self) -> Result<Vec<HeldExclusion>, HubError> {
        let mut all = self.db().read(|tx| self.read_exclusions(tx, "", &[]))?;
        all.sort_by(|a, b| {
            (&a.kind, &a.id_number, &a.recorded_on).cmp(&(&b.kind, &b.id_number, &b.recorded_on))
        });
        Ok(all)
    }

    /// What the registry holds about the subject of `kind` (`person` or
    /// `enterprise`) with `id_number`: its listings and exclusions, found
    /// through its pseudonym (an index look-up, not a scan). A subject
    /// the registry does not know has none. A malformed kind or ID number
    /// is an error saying what is wrong.
    pub fn subject(&self, kind: &str, id_number: &str) -> Result<Subject, HubError> {
        let k: Kind = kind.trim().parse().map_err(|_| {
            HubError::Invalid(format!(
                "kind {kind:?}: must be \"person\" or \"enterprise\""
            ))
        })?;
        let id = normalize_id(id_number);
        // The same check an import makes (a person is born by today).
        validate_id(k, &id, self.today()).map_err(|e| {
            let what = match k {
                Kind::Person => "resident ID number",
                Kind::Enterprise => "unified social credit code",
            };
            HubError::Invalid(format!("not a valid {what}: {e}"))
        })?;
        let sub = self.k_pseudo().pseudonym(k, &id);
        let filter = "WHERE kind = ?1 AND sub = ?2";
        let (listings, exclusions) = self.db().read(|tx| {
            let params: [&dyn crate::db::ToSql; 2] = [&k.as_str(), &sub.as_str()];
            Ok((
                self.read_listings(tx, filter, &params)?,
                self.read_exclusions(tx, filter, &params)?,
            ))
        })?;
        Ok(Subject {
            kind: k.as_str().to_owned(),
            id_number: id,
            sub: sub.as_str().to_owned(),
            listings,
            exclusions,
        })
    }
}

/// The largest number of a subject's single records a look-up returns
/// (newest first); the per-measure totals count them all.
pub const MAX_SUBJECT_RECORDS: u32 = 200;

/// The longest stated purpose of a look-up.
pub const MAX_PURPOSE_CHARS: usize = 200;

/// One measure's confirmed uses by one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureUses {
    pub measure: String,
    /// Redemptions neither voided nor flagged.
    pub uses: u64,
    /// Their benefit, in fen.
    pub discount_fen: u64,
    /// The latest of them.
    pub last: UnixTime,
}

/// One of a subject's records at a counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRecord {
    pub at: UnixTime,
    /// `redemption` or `refusal`.
    pub kind: String,
    pub measure: Option<String>,
    pub site: String,
    pub unit: String,
    pub terminal: String,
    pub discount_fen: Option<u64>,
    /// Why a counter refused.
    pub reason: Option<String>,
    /// The void that cancelled it, if one did.
    pub voided_by: Option<String>,
    /// Why the hub flagged it, if it did.
    pub flag: Option<String>,
}

/// What the counters recorded about one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub per_measure: Vec<MeasureUses>,
    /// Newest first, at most [`MAX_SUBJECT_RECORDS`].
    pub records: Vec<SubjectRecord>,
    /// Whether there were more than those.
    pub more: bool,
}

/// A person or enterprise looked up, and why.
#[derive(Debug, Clone)]
pub struct LookUp<'a> {
    pub kind: &'a str,
    pub id_number: &'a str,
    /// Why: a case, an objection or complaint number. Required.
    pub purpose: &'a str,
    /// The full name and ID number are shown, not only masked.
    pub reveal: bool,
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

impl Hub {
    /// The counters' records about the subject with pseudonym `sub`.
    pub fn activity(&self, sub: &str) -> Result<Activity, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT measure, COUNT(*), COALESCE(SUM(discount), 0), MAX(at) FROM records
                 WHERE kind = 'redemption' AND sub = ?1 AND voided_by IS NULL AND flag IS NULL
                 GROUP BY measure ORDER BY measure",
            )?;
            let per_measure = stmt
                .query_map([sub], |r| {
                    Ok(MeasureUses {
                        measure: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        uses: opt_u64(r.get(1)?).unwrap_or(0),
                        discount_fen: opt_u64(r.get(2)?).unwrap_or(0),
                        last: UnixTime(r.get(3)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut stmt = tx.prepare_cached(
                "SELECT at, kind, measure, site, unit, terminal, discount, reason, voided_by, flag
                 FROM records WHERE sub = ?1 AND kind IN ('redemption', 'refusal')
                 ORDER BY at DESC, terminal, seq LIMIT ?2",
            )?;
            let mut records = stmt
                .query_map(params![sub, i64::from(MAX_SUBJECT_RECORDS) + 1], |r| {
                    Ok(SubjectRecord {
                        at: UnixTime(r.get(0)?),
                        kind: r.get(1)?,
                        measure: r.get(2)?,
                        site: r.get(3)?,
                        unit: r.get(4)?,
                        terminal: r.get(5)?,
                        discount_fen: opt_u64(r.get(6)?),
                        reason: r.get(7)?,
                        voided_by: r.get(8)?,
                        flag: r.get(9)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = records.len() > MAX_SUBJECT_RECORDS as usize;
            records.truncate(MAX_SUBJECT_RECORDS as usize);
            Ok(Activity {
                per_measure,
                records,
                more,
            })
        })
    }

    /// Looks a subject up by ID number for `by`, who said why: what
    /// [`Hub::subject`] and [`Hub::activity`] give, with the look-up in
    /// the audit log first (its target the kind, the masked ID number and
    /// the pseudonym; never the full ID number). A look-up without a
    /// purpose is refused and not made.
    pub fn look_up(&self, by: &Actor, q: &LookUp<'_>) -> Result<(Subject, Activity), HubError> {
        let purpose = q.purpose.trim();
        if purpose.is_empty() {
            return Err(HubError::Invalid(
                "say why you look this person up (a case, objection or complaint number)".into(),
            ));
        }
        if purpose.chars().count() > MAX_PURPOSE_CHARS || purpose.chars().any(char::is_control) {
            return Err(HubError::Invalid(format!(
                "the purpose must be one line of at most {MAX_PURPOSE_CHARS} characters"
            )));
        }
        let subject = self.subject(q.kind, q.id_number)?;
        let action = if q.reveal {
            "subject.reveal"
        } else {
            "subject.lookup"
        };
        self.audit(
            by,
            action,
            &format!(
                "{} {} {}",
                subject.kind,
                mask_id_number(&subject.id_number),
                subject.sub
            ),
            &format!(
                "purpose: {purpose}; listings {}, exclusions {}",
                subject.listings.len(),
                subject.exclusions.len()
            ),
        )?;
        let activity = self.activity(&subject.sub)?;
        Ok((subject, activity))
    }
}
