//! What a terminal knows about subjects: pseudonymous listing entries and
//! exclusions (`list-standard.md`, "Whose records"). No ID number and no
//! full name of a person is ever part of it.

use std::collections::BTreeMap;

use crate::category::Category;
use crate::ids::{Kind, PseudonymKey, SubjectId, mask_name};
use crate::listing::{Exclusion, Listing};
use crate::time::Date;

/// One listing as terminals see it. Expired and withdrawn listings are
/// kept so a terminal can tell LISTING_NOT_VALID from NOT_LISTED.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EligibilityEntry {
    pub sub: SubjectId,
    pub kind: Kind,
    pub category: Category,
    pub valid_from: Date,
    pub valid_until: Date,
    pub withdrawn: bool,
    /// Masked for persons (`张*明`); enterprise names are public.
    pub display_name: String,
}

impl EligibilityEntry {
    /// The terminal's view of a registry listing.
    pub fn of_listing(key: &PseudonymKey, l: &Listing) -> EligibilityEntry {
        EligibilityEntry {
            sub: key.pseudonym(l.key.kind, &l.key.id_number),
            kind: l.key.kind,
            category: l.key.category,
            valid_from: l.key.recognised_on,
            valid_until: l.valid_until,
            withdrawn: l.withdrawn,
            display_name: mask_name(l.key.kind, &l.name),
        }
    }

    /// In force on `day`: inside its window and not withdrawn.
    pub fn in_force(&self, day: Date) -> bool {
        !self.withdrawn && self.valid_from <= day && day <= self.valid_until
    }
}

/// A subject excluded for serious dishonesty on the days `from ≤ d < until`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExclusionEntry {
    pub sub: SubjectId,
    pub from: Date,
    pub until: Date,
}

impl ExclusionEntry {
    pub fn of_exclusion(key: &PseudonymKey, e: &Exclusion) -> ExclusionEntry {
        ExclusionEntry {
            sub: key.pseudonym(e.kind, &e.id_number),
            from: e.recorded_on,
            until: e.ends_on(),
        }
    }

    pub fn applies_on(&self, day: Date) -> bool {
        self.from <= day && day < self.until
    }
}

/// All entries of one data version, indexed by subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EligibilitySet {
    listings: BTreeMap<SubjectId, Vec<EligibilityEntry>>,
    exclusions: BTreeMap<SubjectId, Vec<ExclusionEntry>>,
}

impl EligibilitySet {
    pub fn new(listings: Vec<EligibilityEntry>, exclusions: Vec<ExclusionEntry>) -> EligibilitySet {
        let mut set = EligibilitySet::default();
        for l in listings {
            set.listings.entry(l.sub.clone()).or_default().push(l);
        }
        for e in exclusions {
            set.exclusions.entry(e.sub.clone()).or_default().push(e);
        }
        set
    }

    pub fn listings_of(&self, sub: &SubjectId) -> &[EligibilityEntry] {
        self.listings.get(sub).map_or(&[], Vec::as_slice)
    }

    pub fn exclusions_of(&self, sub: &SubjectId) -> &[ExclusionEntry] {
        self.exclusions.get(sub).map_or(&[], Vec::as_slice)
    }

    pub fn listings(&self) -> impl Iterator<Item = &EligibilityEntry> {
        self.listings.values().flatten()
    }

    pub fn exclusions(&self) -> impl Iterator<Item = &ExclusionEntry> {
        self.exclusions.values().flatten()
    }
}
