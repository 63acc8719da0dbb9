//! The online check: a terminal that reached an `OK` asks, in a signed
//! request, for the subject's confirmed uses of the measure in the limit
//! period and for the redemptions of a dynamic code, across every
//! terminal (`measures.md`, "Limits hold for the subject, not for the
//! counter"). The answer is signed with the registry key for that terminal
//! and that request ([`CheckAnswer`]).
//!
//! A terminal asks only about measures its site applies: the hub answers
//! nothing else, so a stolen terminal key cannot read the usage of every
//! measure. Record ids, not counts, go back, so the terminal counts a use
//! it also holds itself once.

use crate::db::{OptionalExtension as _, params};
use xinyi_core::hex;
use xinyi_core::history::RecordId;
use xinyi_core::wire::check::{CheckAnswer, MAX_IDS, Question};

use crate::admin::TerminalInfo;
use crate::error::HubError;
use crate::hub::Hub;

fn record_ids(rows: Vec<String>) -> Result<Vec<RecordId>, HubError> {
    rows.iter()
        .map(|h| hex::decode_array(h).map_err(HubError::corrupt))
        .collect()
}

impl Hub {
    /// Answers `terminal`'s online check made with `nonce`; the signed
    /// answer's bytes.
    pub fn check(
        &self,
        terminal: &TerminalInfo,
        nonce: &[u8; 16],
        q: &Question,
    ) -> Result<Vec<u8>, HubError> {
        let (uses, redeemed) = self.db().read(|tx| {
            let measures: Option<String> = tx
                .query_row(
                    "SELECT measures FROM sites WHERE id = ?1",
                    [&terminal.site],
                    |r| r.get(0),
                )
                .optional()?;
            let applies = match measures {
                Some(json) => serde_json::from_str::<Vec<String>>(&json)
                    .map_err(HubError::corrupt)?
                    .iter()
                    .any(|m| m == q.measure.as_str()),
                None => false,
            };
            if !applies {
                return Err(HubError::NotAtSite {
                    measure: q.measure.to_string(),
                    site: terminal.site.clone(),
                });
            }
            let limit = i64::try_from(MAX_IDS).unwrap_or(i64::MAX);
            let uses = match q.period {
                Some((from, until)) => tx
                    .prepare_cached(
                        "SELECT id FROM records
                         WHERE kind = 'redemption' AND sub = ?1 AND measure = ?2
                           AND at >= ?3 AND at < ?4 AND voided_by IS NULL
                         ORDER BY at LIMIT ?5",
                    )?
                    .query_map(
                        params![q.sub.as_str(), q.measure.as_str(), from.0, until.0, limit],
                        |r| r.get(0),
                    )?
                    .collect::<Result<Vec<String>, _>>()?,
                None => Vec::new(),
            };
            let redeemed = match &q.cti {
                Some(cti) => tx
                    .prepare_cached(REDEEMED_QUERY)?
                    .query_map(params![cti.to_hex(), limit], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?,
                None => Vec::new(),
            };
            Ok((record_ids(uses)?, record_ids(redeemed)?))
        })?;
        let answer = CheckAnswer::new(&terminal.id, nonce, q, &uses, &redeemed, self.now());
        Ok(answer.seal(&self.registry_key()))
    }
}

/// The not voided redemptions of dynamic code `?1` (its cti, hex), at
/// most `?2`.
pub(crate) const REDEEMED_QUERY: &str = "SELECT id FROM records
     WHERE kind = 'redemption' AND cti = ?1 AND form = 0 AND voided_by IS NULL
     LIMIT ?2";
