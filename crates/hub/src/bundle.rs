//! Sites with no network at all: data bundles and records files carried by
//! USB stick, with the same signatures, checks and exactly-once ingest as
//! the HTTP channel (`xinyi_core::wire::bundle`).

use xinyi_core::wire::bundle::{Bundle, parse_records};
use xinyi_core::wire::journal::{MAX_BATCH, encode_batch};
use xinyi_core::wire::receipt::UploadReceipt;

use crate::error::HubError;
use crate::hub::Hub;

/// How long a data bundle's metadata may be trusted: long enough to carry
/// it to the site; the site's max offline age still limits its data.
pub const BUNDLE_LIFETIME_S: i64 = 7 * 86_400;

impl Hub {
    /// A data bundle: signed metadata, the config and a full snapshot. For
    /// one terminal (`terminal`), the metadata also carries its standing
    /// and the records the hub holds from it, so the bundle confirms them.
    pub fn export_bundle(&self, terminal: Option<&str>) -> Result<Vec<u8>, HubError> {
        let t = match terminal {
            Some(id) => Some(self.terminal(id)?.ok_or_else(|| HubError::NotFound {
                what: "terminal",
                id: id.to_owned(),
                hint: " (see `xinyi-hub terminal list`)",
            })?),
            None => None,
        };
        let meta = self.metadata_with(t.as_ref(), 0, BUNDLE_LIFETIME_S)?;
        let missing = |what: &str| {
            HubError::Internal(format!(
                "the {what} artefact of the current version is missing"
            ))
        };
        let config = self
            .artefact(&meta.config.sha256)?
            .ok_or_else(|| missing("config"))?;
        let e = meta.eligibility.ok_or_else(|| missing("eligibility"))?;
        let eligibility = self
            .artefact(&e.artefact.sha256)?
            .ok_or_else(|| missing("eligibility"))?;
        Ok(Bundle {
            metadata: meta.seal(&self.registry_key()),
            config,
            eligibility,
        }
        .to_bytes())
    }

    /// Ingests a terminal's records file exactly as uploads, in batches of
    /// [`MAX_BATCH`]: a known, not revoked terminal, good signatures, an
    /// unbroken chain, each record stored once. The receipt adds up the
    /// batches.
    pub fn ingest_records(&self, bytes: &[u8]) -> Result<(String, UploadReceipt), HubError> {
        let (id, records) = parse_records(bytes).map_err(|e| HubError::Invalid(e.to_string()))?;
        let t = self.terminal(&id)?.ok_or_else(|| HubError::NotFound {
            what: "terminal",
            id: crate::admin::printable(&id),
            hint: " (the records file names a terminal this hub never enrolled)",
        })?;
        if t.revoked() {
            return Err(crate::error::AuthError::Revoked(t.id).into());
        }
        let mut total = self.upload_status(&t.id)?;
        for chunk in records.chunks(MAX_BATCH) {
            let r = self.upload(&t, &encode_batch(chunk))?;
            total = UploadReceipt {
                stored: total.stored + r.stored,
                duplicates: total.duplicates + r.duplicates,
                ..r
            };
        }
        Ok((id, total))
    }
}
