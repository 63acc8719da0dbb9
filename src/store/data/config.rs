//! The config artefact held — trust list, card revocations, measures
//! catalogue and sites — written when a plan brings a new one, and read
//! back for a verdict's site context and the record list.

use rusqlite::{OptionalExtension, Transaction, params};
use xinyi_core::Catalogue;
use xinyi_core::verdict::DEFAULT_MAX_OFFLINE_AGE_S;
use xinyi_core::wire::config::Site;
use xinyi_core::wire::plan::{NewConfig, Refused};

use super::super::{Store, StoreError};
use super::{SiteContext, corrupt, is_constraint, is_duplicate};

/// Replaces the trust list, revocations, catalogue and sites with those of
/// a config artefact the plan accepted, for data version `version`; content
/// SQLite's constraints catch (a key or site named twice) refuses it.
pub(super) fn replace_config(
    tx: &Transaction<'_>,
    config: &NewConfig<'_>,
    version: u64,
) -> Result<(), StoreError> {
    let refuse = |reason| StoreError::Refused { version, reason };
    let parsed = &config.parsed;
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
                if is_duplicate(&e) {
                    refuse(Refused::DuplicateTrustKey { kid: k.kid })
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
                unattended, online_deadline_ms, check_holder, objection_url, complaint_url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for s in &parsed.sites {
            let measures = serde_json::to_string(&s.measures)
                .map_err(|e| StoreError::Invalid(format!("site {}'s measures: {e}", s.id)))?;
            put.execute(params![
                s.id,
                s.name,
                s.unit,
                measures,
                s.max_offline_age_s,
                s.void_window_s,
                s.unattended,
                s.online_deadline_ms,
                s.check_holder,
                s.objection_url,
                s.complaint_url
            ])
            .map_err(|e| {
                if is_duplicate(&e) {
                    refuse(Refused::DuplicateSite { site: s.id.clone() })
                } else if is_constraint(&e) {
                    StoreError::Invalid(format!("site {} is not valid here: {e}", s.id))
                } else {
                    e.into()
                }
            })?;
        }
    }
    tx.execute(
        "INSERT OR REPLACE INTO catalogue (id, toml) VALUES (1, ?1)",
        [config.published.catalogue.as_str()],
    )?;
    Ok(())
}

impl Store {
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

    /// A site from the synced config.
    pub fn site(&self, id: &str) -> Result<Option<Site>, StoreError> {
        let row: Option<(Site, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, name, unit, measures, max_offline_age_s, void_window_s, unattended,
                    online_deadline_ms, check_holder, objection_url, complaint_url
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
                        online_deadline_ms: r.get(7)?,
                        check_holder: r.get(8)?,
                        objection_url: r.get(9)?,
                        complaint_url: r.get(10)?,
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
}
