//! The subject's history that a verdict needs: confirmed uses per period
//! and credential ids already redeemed. The terminal's SQLite store
//! implements the same trait; [`MemoryHistory`] serves tests and the demo.
//!
//! A limit holds for the subject across the programme (`measures.md`,
//! "Limits hold for the subject, not for the counter"): what the registry
//! confirmed online about one subject and measure ([`Confirmed`]) is added
//! to a terminal's own history by [`WithRegistry`], each use counted once
//! by its record id.

use std::collections::BTreeSet;

use crate::credential::Cti;
use crate::ids::SubjectId;
use crate::measures::MeasureId;
use crate::time::UnixTime;

/// A failure of the store behind a verdict (not a refusal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("local data could not be read: {0}")]
pub struct DataError(pub String);

/// Confirmed redemptions, as the verdict sees them.
pub trait History {
    /// Confirmed, not voided uses of `measure` by `sub` at `from ≤ t < until`.
    fn uses_between(
        &self,
        sub: &SubjectId,
        measure: &MeasureId,
        from: UnixTime,
        until: UnixTime,
    ) -> Result<u32, DataError>;

    /// Whether a confirmed, not voided redemption known here used `cti`.
    fn cti_redeemed(&self, cti: &Cti) -> Result<bool, DataError>;

    /// Whether the redemption `record` is one this history already
    /// accounts for, voided or not: a use the registry reports that is
    /// known here is counted (or not, when voided) by this history alone.
    fn holds_use(&self, record: &RecordId) -> Result<bool, DataError>;
}

/// A journal record's 128-bit random id.
pub type RecordId = [u8; 16];

/// One confirmed use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The redemption record's id.
    pub record: RecordId,
    pub sub: SubjectId,
    pub measure: MeasureId,
    pub at: UnixTime,
    pub cti: Cti,
}

/// How a verdict's uses and redeemed codes were known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Basis {
    /// From the terminal's own records and its synced data.
    #[default]
    Offline,
    /// The registry answered for the subject at the time of the scan.
    Online,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Offline => "offline",
            Basis::Online => "online",
        }
    }
}

/// What the registry confirmed, at the time of a scan, about one subject's
/// uses of one measure in one period and about one code: confirmed, not
/// voided redemptions anywhere in the programme, by record id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub sub: SubjectId,
    pub measure: MeasureId,
    /// The period asked about, `from ≤ t < until`; `None` when the measure
    /// has no limit.
    pub period: Option<(UnixTime, UnixTime)>,
    /// Uses of the measure by the subject in the period.
    pub uses: BTreeSet<RecordId>,
    /// The code asked about (dynamic codes only).
    pub cti: Option<Cti>,
    /// Redemptions that used that code.
    pub cti_redeemed_by: BTreeSet<RecordId>,
}

/// A terminal's own history with what the registry confirmed added: a use
/// the terminal holds itself is counted by it alone (it knows its own voids
/// before the registry does), every other use the registry knows is added
/// once.
#[derive(Debug, Clone, Copy)]
pub struct WithRegistry<'a, H> {
    pub own: &'a H,
    pub registry: &'a Confirmed,
}

impl<H: History> WithRegistry<'_, H> {
    /// The registry's records in `ids` that the terminal does not hold.
    fn others(&self, ids: &BTreeSet<RecordId>) -> Result<u32, DataError> {
        let mut n = 0u32;
        for id in ids {
            if !self.own.holds_use(id)? {
                n = n.saturating_add(1);
            }
        }
        Ok(n)
    }
}

impl<H: History> History for WithRegistry<'_, H> {
    fn uses_between(
        &self,
        sub: &SubjectId,
        measure: &MeasureId,
        from: UnixTime,
        until: UnixTime,
    ) -> Result<u32, DataError> {
        let own = self.own.uses_between(sub, measure, from, until)?;
        let r = self.registry;
        if &r.sub != sub || &r.measure != measure || r.period != Some((from, until)) {
            return Ok(own);
        }
        Ok(own.saturating_add(self.others(&r.uses)?))
    }

    fn cti_redeemed(&self, cti: &Cti) -> Result<bool, DataError> {
        if self.own.cti_redeemed(cti)? {
            return Ok(true);
        }
        if self.registry.cti.as_ref() != Some(cti) {
            return Ok(false);
        }
        Ok(self.others(&self.registry.cti_redeemed_by)? > 0)
    }

    fn holds_use(&self, record: &RecordId) -> Result<bool, DataError> {
        Ok(self.own.holds_use(record)? || self.registry.uses.contains(record))
    }
}

/// History in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryHistory {
    uses: Vec<Use>,
}

impl MemoryHistory {
    pub fn new() -> MemoryHistory {
        MemoryHistory::default()
    }

    /// Records a confirmed redemption.
    pub fn record(&mut self, u: Use) {
        self.uses.push(u);
    }

    pub fn uses(&self) -> &[Use] {
        &self.uses
    }
}

impl History for MemoryHistory {
    fn uses_between(
        &self,
        sub: &SubjectId,
        measure: &MeasureId,
        from: UnixTime,
        until: UnixTime,
    ) -> Result<u32, DataError> {
        let n = self
            .uses
            .iter()
            .filter(|u| &u.sub == sub && &u.measure == measure && from <= u.at && u.at < until)
            .count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn cti_redeemed(&self, cti: &Cti) -> Result<bool, DataError> {
        Ok(self.uses.iter().any(|u| &u.cti == cti))
    }

    fn holds_use(&self, record: &RecordId) -> Result<bool, DataError> {
        Ok(self.uses.iter().any(|u| &u.record == record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(s: &str) -> SubjectId {
        SubjectId::parse(s).unwrap()
    }

    #[test]
    fn the_registry_adds_each_use_it_knows_once_and_never_one_voided_here() {
        let s = SubjectId::from_bytes(&[1; 16]);
        let m = MeasureId::parse("XYX-BUS-TOPUP").unwrap();
        let cti = Cti::new(vec![1; 12]).unwrap();
        let mut own = MemoryHistory::new();
        // One use made here, already uploaded (the registry lists it too).
        own.record(Use {
            record: [1; 16],
            sub: s.clone(),
            measure: m.clone(),
            at: UnixTime(150),
            cti: Cti::new(vec![9; 12]).unwrap(),
        });
        let period = (UnixTime(100), UnixTime(200));
        let registry = Confirmed {
            sub: s.clone(),
            measure: m.clone(),
            period: Some(period),
            uses: [[1; 16], [2; 16], [3; 16]].into_iter().collect(),
            cti: Some(cti.clone()),
            cti_redeemed_by: [[3; 16]].into_iter().collect(),
        };
        let h = WithRegistry {
            own: &own,
            registry: &registry,
        };
        assert_eq!(h.uses_between(&s, &m, period.0, period.1), Ok(3));
        // Another period or subject: the registry's answer says nothing.
        assert_eq!(h.uses_between(&s, &m, UnixTime(100), UnixTime(300)), Ok(1));
        let other = sub("AAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(h.uses_between(&other, &m, period.0, period.1), Ok(0));
        assert_eq!(h.cti_redeemed(&cti), Ok(true));
        assert_eq!(h.cti_redeemed(&Cti::new(vec![2; 12]).unwrap()), Ok(false));

        // A code the registry saw redeemed by a record this terminal holds
        // (and so has voided, since it does not count it): not replayed.
        let registry = Confirmed {
            cti_redeemed_by: [[1; 16]].into_iter().collect(),
            ..registry
        };
        let h = WithRegistry {
            own: &MemoryHistory {
                uses: vec![Use {
                    cti: Cti::new(vec![8; 12]).unwrap(),
                    ..own.uses()[0].clone()
                }],
            },
            registry: &registry,
        };
        assert_eq!(h.cti_redeemed(&cti), Ok(false));
    }
}
