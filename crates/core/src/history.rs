//! The subject's history that a verdict needs: confirmed uses per period
//! and credential ids already redeemed. The terminal's SQLite store
//! implements the same trait; [`MemoryHistory`] serves tests and the demo.

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

    /// Whether a confirmed redemption at this terminal used `cti`.
    fn cti_redeemed(&self, cti: &Cti) -> Result<bool, DataError>;
}

/// One confirmed use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub sub: SubjectId,
    pub measure: MeasureId,
    pub at: UnixTime,
    pub cti: Cti,
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
}
