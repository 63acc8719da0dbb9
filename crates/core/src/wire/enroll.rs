//! Enrollment: a terminal presents a one-time code and its new public key;
//! the hub answers with a grant signed by the registry key, which the
//! terminal pins from then on (checked against a fingerprint when the
//! operator gives one). Also the upload receipt.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::envelope::{self, Purpose};
use super::{WireError, key_id};

/// What the terminal sends to `/v1/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub code: String,
    /// The terminal's Ed25519 public key, hex.
    pub public_key: String,
    /// A label for the registry's records, e.g. the counter's name.
    pub label: String,
}

/// The hub's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollGrant {
    pub terminal_id: String,
    pub site: String,
    /// The registry's public key, hex: pinned by the terminal.
    pub registry_key: String,
    /// The hub's time when it granted.
    pub issued_at: i64,
}

impl EnrollGrant {
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(
            key,
            Purpose::Enrollment,
            &serde_json::to_vec(self).unwrap_or_default(),
        )
    }

    /// Opens a grant: the envelope must be signed by the key the grant
    /// names, and that key must match `fingerprint` (its key id) if given.
    pub fn open(
        bytes: &[u8],
        fingerprint: Option<&str>,
    ) -> Result<(EnrollGrant, VerifyingKey), WireError> {
        let what = "enrollment grant";
        #[derive(Deserialize)]
        struct Peek {
            payload: String,
        }
        let peek: Peek =
            serde_json::from_slice(bytes).map_err(|e| WireError::malformed(what, e.to_string()))?;
        let payload =
            crate::hex::decode(&peek.payload).map_err(|e| WireError::malformed(what, e))?;
        let claimed: EnrollGrant = serde_json::from_slice(&payload)
            .map_err(|e| WireError::malformed(what, e.to_string()))?;
        let raw: [u8; 32] = crate::hex::decode_array(&claimed.registry_key)
            .map_err(|e| WireError::malformed(what, e))?;
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|_| WireError::malformed(what, "registry key is not an Ed25519 key"))?;
        if let Some(fp) = fingerprint
            && !fp.eq_ignore_ascii_case(&key_id(&raw))
        {
            return Err(WireError::WrongKey {
                what,
                found: key_id(&raw),
                pinned: fp.to_owned(),
            });
        }
        let verified = envelope::open(bytes, Purpose::Enrollment, &key)?;
        let grant = serde_json::from_slice(&verified)
            .map_err(|e| WireError::malformed(what, e.to_string()))?;
        Ok((grant, key))
    }
}

/// The hub's answer to an upload: what it now holds for the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceipt {
    /// Records new to the hub in this upload.
    pub stored: u64,
    /// Records it already held.
    pub duplicates: u64,
    /// The highest seq it holds with no gap before it.
    pub held_through: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_round_trip_and_fingerprint() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let g = EnrollGrant {
            terminal_id: "abc".into(),
            site: "bus-1".into(),
            registry_key: crate::hex::encode(k.verifying_key().as_bytes()),
            issued_at: 5,
        };
        let sealed = g.seal(&k);
        let fp = key_id(k.verifying_key().as_bytes());
        assert_eq!(EnrollGrant::open(&sealed, Some(&fp)).unwrap().0, g);
        assert_eq!(
            EnrollGrant::open(&sealed, None).unwrap().1,
            k.verifying_key()
        );
        assert!(matches!(
            EnrollGrant::open(&sealed, Some("0000000000000000")),
            Err(WireError::WrongKey { .. })
        ));
        // A grant naming one key but signed by another is refused.
        let other = SigningKey::from_bytes(&[5; 32]);
        assert!(EnrollGrant::open(&g.seal(&other), None).is_err());
    }
}
