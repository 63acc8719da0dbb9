//! Signed metadata: the root of everything a terminal accepts (TUF-like).
//! Fresh metadata is signed for each request, so it also carries the
//! hub's signed time.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::envelope::{self, Purpose};
use super::{Digest32, WireError};
use crate::time::UnixTime;

/// The metadata format this code speaks.
pub const SPEC: u32 = 1;

/// An artefact pinned by hash and size (as transferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactRef {
    pub sha256: Digest32,
    pub length: u64,
}

impl ArtefactRef {
    /// The reference pinning `bytes`.
    pub fn of(bytes: &[u8]) -> ArtefactRef {
        ArtefactRef {
            sha256: Digest32::of(bytes),
            length: bytes.len() as u64,
        }
    }
}

/// The eligibility artefact for this terminal: a snapshot, or a delta
/// from the version the terminal said it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityRef {
    /// Compressed bytes, as transferred.
    pub artefact: ArtefactRef,
    /// 0 for a snapshot, else the version the delta applies to.
    pub from: u64,
    /// Size once decompressed: decompression stops beyond it.
    pub raw_length: u64,
}

/// This terminal's standing with the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalStanding {
    pub id: String,
    pub site: String,
    pub revoked: bool,
    /// The highest record seq the hub holds from this terminal with no gap
    /// before it (so a data bundle carried by hand also confirms records).
    #[serde(default)]
    pub held_through: Option<u64>,
    /// The chain hash of record `held_through`, when one is held.
    #[serde(default)]
    pub held_hash: Option<Digest32>,
}

impl TerminalStanding {
    /// What the standing says the hub holds, as of the metadata's signed
    /// time `as_of`.
    pub fn holding(&self, as_of: i64) -> Option<super::receipt::Holding> {
        self.held_through.map(|through| super::receipt::Holding {
            terminal: self.id.clone(),
            through,
            hash: self.held_hash,
            as_of,
        })
    }
}

/// The registry's key rotations, oldest first: each envelope (purpose key
/// rotation) is signed by one key and carries the next key's 32 bytes, so
/// a terminal pinned to any earlier key can walk to the current one, and
/// follows a new key only when the key it trusts signed it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Rotation {
    pub chain: Vec<String>,
}

/// The metadata of one version, for one terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub spec: u32,
    pub version: u64,
    /// When the version was published.
    pub published_at: i64,
    /// When this metadata was signed: the hub's signed time.
    pub issued_at: i64,
    /// Not to be trusted after this instant (freeze protection).
    pub expires_at: i64,
    /// The order-independent hash of the eligibility set at `version`.
    pub set_hash: Digest32,
    pub listings: u64,
    pub exclusions: u64,
    pub config: ArtefactRef,
    /// Absent when the terminal already holds `version`.
    pub eligibility: Option<EligibilityRef>,
    pub terminal: Option<TerminalStanding>,
    /// Set while the registry is moving to a new key.
    #[serde(default)]
    pub rotation: Option<Rotation>,
}

/// Why metadata must not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("metadata format {0} is not supported (this terminal speaks {SPEC})")]
    Spec(u32),
    #[error("rollback: the hub offers version {offered}, older than version {held} held here")]
    Rollback { offered: u64, held: u64 },
    #[error(
        "metadata expired at {expired}, it is now {now}: the hub's data cannot be trusted until it is refreshed"
    )]
    Expired { expired: String, now: String },
    #[error("metadata is inconsistent: {0}")]
    Inconsistent(String),
}

impl Metadata {
    /// Signs the metadata with the registry key.
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(
            key,
            Purpose::Metadata,
            &serde_json::to_vec(self).unwrap_or_default(),
        )
    }

    /// Opens metadata signed by the pinned registry key.
    pub fn open(bytes: &[u8], pinned: &VerifyingKey) -> Result<Metadata, WireError> {
        let payload = envelope::open(bytes, Purpose::Metadata, pinned)?;
        serde_json::from_slice(&payload)
            .map_err(|e| WireError::malformed("metadata", e.to_string()))
    }

    /// Opens metadata signed by the pinned key or by a key the pinned key
    /// signed over (through the rotation chain the metadata carries).
    /// Returns the metadata and, when the registry has rotated, the new key
    /// to pin once the metadata has been checked and used.
    pub fn open_following(
        bytes: &[u8],
        pinned: &VerifyingKey,
    ) -> Result<(Metadata, Option<VerifyingKey>), WireError> {
        let refused = match Metadata::open(bytes, pinned) {
            Ok(m) => return Ok((m, None)),
            Err(e @ WireError::WrongKey { .. }) => e,
            Err(e) => return Err(e),
        };
        let Some(signer) = envelope::claimed_key(bytes) else {
            return Err(refused);
        };
        // Read the chain without trusting it: each link is verified below.
        let Ok(unverified) = envelope::peek(bytes) else {
            return Err(refused);
        };
        let Ok(claimed) = serde_json::from_slice::<Metadata>(&unverified) else {
            return Err(refused);
        };
        let chain = claimed.rotation.map(|r| r.chain).unwrap_or_default();
        let mut current = *pinned;
        for _ in 0..chain.len() {
            let id = super::key_id(current.as_bytes());
            let Some(link) = chain
                .iter()
                .find(|l| envelope::claimed_key(l.as_bytes()).as_deref() == Some(id.as_str()))
            else {
                break;
            };
            let next = envelope::open(link.as_bytes(), Purpose::KeyRotation, &current)?;
            let next: [u8; 32] = next
                .try_into()
                .map_err(|_| WireError::malformed("key rotation", "the new key is not 32 bytes"))?;
            current = VerifyingKey::from_bytes(&next).map_err(|_| {
                WireError::malformed("key rotation", "the new key is not an Ed25519 key")
            })?;
            if super::key_id(current.as_bytes()) == signer {
                return Ok((Metadata::open(bytes, &current)?, Some(current)));
            }
        }
        Err(refused)
    }

    /// Checks metadata against what the terminal holds and its clock.
    pub fn check(&self, held_version: u64, now: UnixTime) -> Result<(), MetadataError> {
        if self.spec != SPEC {
            return Err(MetadataError::Spec(self.spec));
        }
        if self.version < held_version {
            return Err(MetadataError::Rollback {
                offered: self.version,
                held: held_version,
            });
        }
        if self.expires_at < now.0 {
            return Err(MetadataError::Expired {
                expired: UnixTime(self.expires_at).display_utc8(),
                now: now.display_utc8(),
            });
        }
        if self.issued_at > self.expires_at || self.published_at > self.issued_at {
            return Err(MetadataError::Inconsistent(
                "published, issued and expiry times out of order".into(),
            ));
        }
        match self.eligibility {
            None if self.version != held_version => Err(MetadataError::Inconsistent(format!(
                "no eligibility artefact, but version {} differs from the held {held_version}",
                self.version
            ))),
            Some(e) if e.from != 0 && e.from != held_version => {
                Err(MetadataError::Inconsistent(format!(
                    "delta from version {}, but version {held_version} is held",
                    e.from
                )))
            }
            Some(e) if e.from >= self.version && e.from != 0 => Err(MetadataError::Inconsistent(
                format!("delta from {} to {}", e.from, self.version),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            spec: SPEC,
            version: 5,
            published_at: 100,
            issued_at: 200,
            expires_at: 1000,
            set_hash: Digest32::default(),
            listings: 1,
            exclusions: 0,
            config: ArtefactRef::of(b"c"),
            eligibility: Some(EligibilityRef {
                artefact: ArtefactRef::of(b"e"),
                from: 4,
                raw_length: 10,
            }),
            terminal: None,
            rotation: None,
        }
    }

    #[test]
    fn follows_a_rotation_signed_by_the_pinned_key_only() {
        let k1 = SigningKey::from_bytes(&[1; 32]);
        let k2 = SigningKey::from_bytes(&[2; 32]);
        let k3 = SigningKey::from_bytes(&[3; 32]);
        let link = |from: &SigningKey, to: &SigningKey| {
            String::from_utf8(envelope::seal(
                from,
                Purpose::KeyRotation,
                to.verifying_key().as_bytes(),
            ))
            .unwrap()
        };
        let chain = Rotation {
            chain: vec![link(&k1, &k2), link(&k2, &k3)],
        };
        let m = Metadata {
            rotation: Some(chain),
            ..meta()
        };
        let sealed = m.seal(&k3);
        // Pinned to k1: walks k1 → k2 → k3.
        let (opened, new) = Metadata::open_following(&sealed, &k1.verifying_key()).unwrap();
        assert_eq!(opened, m);
        assert_eq!(new, Some(k3.verifying_key()));
        // Pinned to k3 already: no rotation.
        assert_eq!(
            Metadata::open_following(&sealed, &k3.verifying_key())
                .unwrap()
                .1,
            None
        );
        // A chain not signed by the pinned key is refused.
        let rogue = SigningKey::from_bytes(&[9; 32]);
        let forged = Metadata {
            rotation: Some(Rotation {
                chain: vec![link(&rogue, &k3)],
            }),
            ..meta()
        }
        .seal(&k3);
        assert!(matches!(
            Metadata::open_following(&forged, &k1.verifying_key()),
            Err(WireError::WrongKey { .. })
        ));
        // A link that claims the pinned key but is signed by another: bad signature.
        let mut bad = link(&rogue, &k3);
        bad = bad.replace(
            &super::super::key_id(rogue.verifying_key().as_bytes()),
            &super::super::key_id(k1.verifying_key().as_bytes()),
        );
        let forged = Metadata {
            rotation: Some(Rotation { chain: vec![bad] }),
            ..meta()
        }
        .seal(&k3);
        assert!(matches!(
            Metadata::open_following(&forged, &k1.verifying_key()),
            Err(WireError::BadSignature { .. })
        ));
    }

    #[test]
    fn checks() {
        let k = SigningKey::from_bytes(&[9; 32]);
        let m = Metadata::open(&meta().seal(&k), &k.verifying_key()).unwrap();
        assert_eq!(m, meta());
        assert_eq!(m.check(4, UnixTime(500)), Ok(()));
        assert!(matches!(
            m.check(6, UnixTime(500)),
            Err(MetadataError::Rollback {
                offered: 5,
                held: 6
            })
        ));
        assert!(matches!(
            m.check(4, UnixTime(1001)),
            Err(MetadataError::Expired { .. })
        ));
        assert!(matches!(
            m.check(3, UnixTime(500)),
            Err(MetadataError::Inconsistent(_))
        ));
        let up_to_date = Metadata {
            eligibility: None,
            ..meta()
        };
        assert_eq!(up_to_date.check(5, UnixTime(500)), Ok(()));
        assert!(up_to_date.check(4, UnixTime(500)).is_err());
    }
}
