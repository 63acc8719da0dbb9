//! The config artefact: the trust list, card revocations, the measures
//! catalogue and the sites, as JSON. Small, so every version carries it
//! whole; the metadata pins it by hash.

use serde::{Deserialize, Serialize};

use super::WireError;
use crate::credential::{Cti, Iss, Kid, KidError};
use crate::hex::HexError;
use crate::measures::Catalogue;
use crate::time::UnixTime;
use crate::trust::{TrustError, TrustedKey};
use crate::verdict::DEFAULT_MAX_OFFLINE_AGE_S;

const WHAT: &str = "config artefact";

/// An issuer key as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustEntry {
    pub kid: String,
    pub iss: String,
    pub public_key: String,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked: bool,
}

impl TrustEntry {
    pub fn of(k: &TrustedKey) -> TrustEntry {
        TrustEntry {
            kid: k.kid.to_hex(),
            iss: k.iss.as_str().to_owned(),
            public_key: crate::hex::encode(k.public_key.as_bytes()),
            not_before: k.not_before.0,
            not_after: k.not_after.0,
            revoked: k.revoked,
        }
    }

    pub fn to_key(&self) -> Result<TrustedKey, TrustEntryError> {
        let iss = Iss::parse(&self.iss)
            .ok_or_else(|| TrustEntryError::UnknownIssuer(self.iss.clone()))?;
        let pk = crate::hex::decode_array(&self.public_key).map_err(TrustEntryError::PublicKey)?;
        let kid = Kid::from_hex(&self.kid)?;
        Ok(TrustedKey::new(
            iss,
            pk,
            UnixTime(self.not_before),
            UnixTime(self.not_after),
            self.revoked,
            Some(kid),
        )?)
    }
}

/// Why a published trust-list entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustEntryError {
    #[error("unknown issuer {0:?}")]
    UnknownIssuer(String),
    #[error("public key: {0}")]
    PublicKey(HexError),
    #[error(transparent)]
    Kid(#[from] KidError),
    #[error(transparent)]
    Key(#[from] TrustError),
}

/// A site (an implementing unit's counter setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub unit: String,
    /// The measures this site applies.
    pub measures: Vec<String>,
    /// Past this age of its data every verdict is STALE_DATA.
    #[serde(default = "default_max_age")]
    pub max_offline_age_s: i64,
    /// How long after a redemption a supervisor may void it. Set by the
    /// registry, not at the counter; the registry checks voids against it.
    #[serde(default = "default_void_window")]
    pub void_window_s: i64,
    /// Whether redemptions may be confirmed with nobody signed in (a
    /// self-service point); they are recorded as [`UNATTENDED`].
    #[serde(default)]
    pub unattended: bool,
    /// How long a scan waits for the registry's online check before it
    /// decides from the terminal's own data (milliseconds).
    #[serde(default = "default_online_deadline")]
    pub online_deadline_ms: u32,
    /// Whether the clerk must tick that the holder of a printed card
    /// matches the masked name on their ID document before confirming.
    #[serde(default = "default_true")]
    pub check_holder: bool,
}

/// The operator recorded for a redemption confirmed at an unattended site.
pub const UNATTENDED: &str = "unattended";
/// The void window unless the registry sets another: 30 minutes.
pub const DEFAULT_VOID_WINDOW_S: i64 = 30 * 60;
/// The longest void window a site may have: a day.
pub const MAX_VOID_WINDOW_S: i64 = 86_400;

fn default_max_age() -> i64 {
    DEFAULT_MAX_OFFLINE_AGE_S
}

fn default_void_window() -> i64 {
    DEFAULT_VOID_WINDOW_S
}

/// The online check's deadline unless the registry sets another: short
/// enough that a clerk does not notice the wait when the hub is away.
pub const DEFAULT_ONLINE_DEADLINE_MS: u32 = 300;
/// The longest online deadline a site may have.
pub const MAX_ONLINE_DEADLINE_MS: u32 = 2000;

fn default_online_deadline() -> u32 {
    DEFAULT_ONLINE_DEADLINE_MS
}

fn default_true() -> bool {
    true
}

/// The artefact as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub trust: Vec<TrustEntry>,
    /// Revoked printed cards' cti, hex.
    pub revoked_cards: Vec<String>,
    /// The measures catalogue, as TOML text.
    pub catalogue: String,
    pub sites: Vec<Site>,
}

/// The artefact, checked and parsed.
#[derive(Debug, Clone)]
pub struct ParsedConfig {
    pub trust: Vec<TrustedKey>,
    pub revoked_cards: Vec<Cti>,
    pub catalogue: Catalogue,
    pub sites: Vec<Site>,
}

impl Config {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks everything: keys, ctis, the catalogue, and that
    /// every site's measures are in the catalogue.
    pub fn parse(bytes: &[u8]) -> Result<ParsedConfig, WireError> {
        let c: Config =
            serde_json::from_slice(bytes).map_err(|e| WireError::malformed(WHAT, e.to_string()))?;
        let trust = c
            .trust
            .iter()
            .map(|t| {
                t.to_key()
                    .map_err(|e| WireError::malformed(WHAT, format!("trust entry {}: {e}", t.kid)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let revoked_cards = c
            .revoked_cards
            .iter()
            .map(|h| {
                Cti::from_hex(h)
                    .map_err(|e| WireError::malformed(WHAT, format!("revoked card {h:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let catalogue = Catalogue::from_toml(&c.catalogue)
            .map_err(|e| WireError::malformed(WHAT, e.to_string()))?;
        for s in &c.sites {
            if let Some(m) = s.measures.iter().find(|m| catalogue.get(m).is_none()) {
                return Err(WireError::malformed(
                    WHAT,
                    format!(
                        "site {} names measure {m}, which is not in the catalogue",
                        s.id
                    ),
                ));
            }
            if !(0..=MAX_VOID_WINDOW_S).contains(&s.void_window_s) {
                return Err(WireError::malformed(
                    WHAT,
                    format!("site {} has void_window_s {}", s.id, s.void_window_s),
                ));
            }
            if s.online_deadline_ms > MAX_ONLINE_DEADLINE_MS {
                return Err(WireError::malformed(
                    WHAT,
                    format!(
                        "site {} has online_deadline_ms {}, at most {MAX_ONLINE_DEADLINE_MS}",
                        s.id, s.online_deadline_ms
                    ),
                ));
            }
            if s.max_offline_age_s <= 0 {
                return Err(WireError::malformed(
                    WHAT,
                    format!(
                        "site {} has max_offline_age_s {}",
                        s.id, s.max_offline_age_s
                    ),
                ));
            }
        }
        Ok(ParsedConfig {
            trust,
            revoked_cards,
            catalogue,
            sites: c.sites,
        })
    }
}
