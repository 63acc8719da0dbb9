//! Who this terminal is — its id, its site, the registry key pinned at
//! enrollment, the hub's URL — and the operator's settings, kept as
//! key → value rows of the `settings` table.

use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use xinyi_core::hex;

use super::{Store, StoreError};

/// Settings keys under this prefix belong to the enrollment and can only
/// be written through [`Store::set_identity`].
const IDENTITY_PREFIX: &str = "identity.";
const TERMINAL_ID: &str = "identity.terminal_id";
const SITE_ID: &str = "identity.site_id";
const REGISTRY_KEY: &str = "identity.registry_key";
const HUB_URL: &str = "identity.hub_url";
const HUB_CA: &str = "identity.hub_ca";
/// The retention of uploaded records, in seconds (an operator setting).
pub const SETTING_RETENTION: &str = "retention_s";

/// What enrollment established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The id the registry knows this terminal by; written in every
    /// journal record.
    pub terminal_id: String,
    /// The site (counter setting) whose measures this terminal applies.
    pub site_id: String,
    /// The registry's Ed25519 public key, pinned at enrollment: everything
    /// the hub publishes must be signed by it.
    pub registry_key: [u8; 32],
    /// Where the hub is; `None` for sites that sync by file only.
    pub hub_url: Option<String>,
    /// The certificate (PEM) the hub's TLS certificate must chain to, when
    /// the credit office gave one at enrollment; else the system's roots.
    pub hub_ca: Option<String>,
}

impl Identity {
    /// The pinned registry key, ready to verify with.
    pub fn registry_verifying_key(&self) -> Result<VerifyingKey, StoreError> {
        VerifyingKey::from_bytes(&self.registry_key).map_err(|_| {
            StoreError::Corrupt("the pinned registry key is not an Ed25519 key".into())
        })
    }
}

/// The enrolled terminal id, read inside a caller's transaction.
pub(super) fn terminal_id(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([TERMINAL_ID], |r| r.get(0))
        .optional()?)
}

impl Store {
    /// The enrollment, or `None` before the terminal is enrolled.
    pub fn identity(&self) -> Result<Option<Identity>, StoreError> {
        let terminal_id = self.setting(TERMINAL_ID)?;
        let site_id = self.setting(SITE_ID)?;
        let registry_key = self.setting(REGISTRY_KEY)?;
        let hub_url = self.setting(HUB_URL)?;
        let hub_ca = self.setting(HUB_CA)?;
        match (terminal_id, site_id, registry_key) {
            (None, None, None) => Ok(None),
            (Some(terminal_id), Some(site_id), Some(key)) => {
                let registry_key = hex::decode_array(&key).map_err(|e| {
                    StoreError::Corrupt(format!("the pinned registry key is not 32 hex bytes: {e}"))
                })?;
                Ok(Some(Identity {
                    terminal_id,
                    site_id,
                    registry_key,
                    hub_url,
                    hub_ca,
                }))
            }
            _ => Err(StoreError::Corrupt(
                "the enrollment is incomplete; enroll again".into(),
            )),
        }
    }

    /// The enrollment, or [`StoreError::NotEnrolled`].
    pub fn require_identity(&self) -> Result<Identity, StoreError> {
        self.identity()?.ok_or(StoreError::NotEnrolled)
    }

    /// Records an enrollment, replacing any earlier one, in one transaction.
    pub fn set_identity(&mut self, id: &Identity) -> Result<(), StoreError> {
        if id.terminal_id.trim().is_empty() || id.site_id.trim().is_empty() {
            return Err(StoreError::Invalid(
                "an enrollment needs a terminal id and a site id".into(),
            ));
        }
        if VerifyingKey::from_bytes(&id.registry_key).is_err() {
            return Err(StoreError::Invalid(
                "the registry key is not an Ed25519 public key".into(),
            ));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put =
                tx.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)")?;
            put.execute(params![TERMINAL_ID, id.terminal_id])?;
            put.execute(params![SITE_ID, id.site_id])?;
            put.execute(params![REGISTRY_KEY, hex::encode(&id.registry_key)])?;
            for (key, value) in [(HUB_URL, &id.hub_url), (HUB_CA, &id.hub_ca)] {
                match value {
                    Some(v) => {
                        put.execute(params![key, v])?;
                    }
                    None => {
                        tx.execute("DELETE FROM settings WHERE key = ?1", [key])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// An operator setting (language, camera, …), if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// How long uploaded records are kept before they are purged.
    pub fn retention_s(&self) -> Result<i64, StoreError> {
        Ok(self
            .setting(SETTING_RETENTION)?
            .and_then(|v| v.parse().ok())
            .filter(|v: &i64| *v >= 0)
            .unwrap_or(super::DEFAULT_RETENTION_S))
    }

    /// Sets an operator setting. Enrollment keys (`identity.*`) are refused:
    /// they change only through [`Store::set_identity`].
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        check_setting_key(key)?;
        self.conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// Removes an operator setting; true if it was set.
    pub fn remove_setting(&mut self, key: &str) -> Result<bool, StoreError> {
        check_setting_key(key)?;
        Ok(self
            .conn
            .execute("DELETE FROM settings WHERE key = ?1", [key])?
            > 0)
    }
}

fn check_setting_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::Invalid("a setting needs a name".into()));
    }
    if key.starts_with(IDENTITY_PREFIX) {
        return Err(StoreError::Invalid(format!(
            "{key} is part of the enrollment: run `xinyi enroll --hub URL --code CODE` to change it"
        )));
    }
    Ok(())
}
