//! What verdicts read: one subject's listings and exclusions, a trusted
//! key, whether a printed card is revoked — through the same
//! [`VerifierData`] trait the conformance tests implement in memory.

use rusqlite::OptionalExtension;
use xinyi_core::category::Category;
use xinyi_core::credential::{Cti, Iss, Kid};
use xinyi_core::eligibility::{EligibilityEntry, ExclusionEntry};
use xinyi_core::history::DataError;
use xinyi_core::ids::SubjectId;
use xinyi_core::trust::TrustedKey;
use xinyi_core::verdict::VerifierData;
use xinyi_core::{Date, UnixTime};

use super::super::{Store, StoreError, from_sql_int};
use super::{corrupt, date};

/// A listing's columns other than its key.
pub(super) struct ListingRest {
    pub(super) valid_until: String,
    pub(super) withdrawn: bool,
    pub(super) display_name: String,
}

pub(super) fn listing_entry(
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

impl Store {
    /// How many listings are held (all states).
    pub fn listings_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM listings", [], |r| r.get(0))?;
        from_sql_int(n, "the listings count")
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
