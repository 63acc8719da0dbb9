//! What the registry tells a terminal about its own records, signed by the
//! registry key: the receipt for an upload, and the notice that the
//! terminal was revoked. A terminal acts on neither unless it opens with
//! the pinned key and names the terminal itself: a receipt marks records
//! as held by the registry (and so, after the retention period, lets the
//! terminal purge them), a revocation wipes the terminal's list data.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::envelope::{self, Purpose};
use super::{Digest32, WireError};

/// What the registry holds of one terminal's journal, as of a signed
/// instant: every record through `through` with no gap, the last of them
/// hashing to `hash`. Carried by upload receipts and by the terminal's
/// standing in metadata (over HTTP or in a bundle made for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// The terminal the statement is about.
    pub terminal: String,
    /// The highest seq held with no gap before it (0: none).
    pub through: u64,
    /// The chain hash of record `through`, when one is held.
    pub hash: Option<Digest32>,
    /// The hub's signed time of the statement: a later statement replaces
    /// an earlier one, an earlier one changes nothing.
    pub as_of: i64,
}

/// The hub's answer to an upload (and to a status request): what it now
/// holds from the terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadReceipt {
    /// The terminal the receipt is for.
    pub terminal: String,
    /// Records new to the hub in this upload.
    pub stored: u64,
    /// Records it already held.
    pub duplicates: u64,
    /// The highest seq it holds with no gap before it.
    pub held_through: u64,
    /// The chain hash of record `held_through`, if any is held.
    pub held_hash: Option<Digest32>,
    /// The hub's time when it answered.
    pub issued_at: i64,
}

impl UploadReceipt {
    /// Signs the receipt with the registry key.
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(
            key,
            Purpose::Receipt,
            &serde_json::to_vec(self).unwrap_or_default(),
        )
    }

    /// Opens a receipt signed by the pinned registry key.
    pub fn open(bytes: &[u8], pinned: &VerifyingKey) -> Result<UploadReceipt, WireError> {
        let payload = envelope::open(bytes, Purpose::Receipt, pinned)?;
        serde_json::from_slice(&payload)
            .map_err(|e| WireError::malformed("upload receipt", e.to_string()))
    }

    /// The statement the receipt makes.
    pub fn holding(&self) -> Holding {
        Holding {
            terminal: self.terminal.clone(),
            through: self.held_through,
            hash: self.held_hash,
            as_of: self.issued_at,
        }
    }
}

/// The hub's answer to a revoked terminal, in place of metadata: signed,
/// small, and the same whatever the terminal asked, so a revoked terminal
/// costs the hub no artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationNotice {
    pub terminal: String,
    pub revoked_at: i64,
    pub issued_at: i64,
}

impl RevocationNotice {
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(
            key,
            Purpose::Revocation,
            &serde_json::to_vec(self).unwrap_or_default(),
        )
    }

    /// Opens a notice signed by the pinned registry key.
    pub fn open(bytes: &[u8], pinned: &VerifyingKey) -> Result<RevocationNotice, WireError> {
        let payload = envelope::open(bytes, Purpose::Revocation, pinned)?;
        serde_json::from_slice(&payload)
            .map_err(|e| WireError::malformed("revocation notice", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_and_notices_open_only_with_the_registry_key_and_purpose() {
        let registry = SigningKey::from_bytes(&[4; 32]);
        let rogue = SigningKey::from_bytes(&[5; 32]);
        let r = UploadReceipt {
            terminal: "t1".into(),
            stored: 2,
            duplicates: 1,
            held_through: 3,
            held_hash: Some(Digest32::of(b"r3")),
            issued_at: 100,
        };
        let sealed = r.seal(&registry);
        assert_eq!(
            UploadReceipt::open(&sealed, &registry.verifying_key()),
            Ok(r.clone())
        );
        assert_eq!(r.holding().through, 3);
        assert!(matches!(
            UploadReceipt::open(&r.seal(&rogue), &registry.verifying_key()),
            Err(WireError::WrongKey { .. })
        ));
        // Plain JSON, as an impostor would answer, is not a receipt.
        let plain = serde_json::to_vec(&r).unwrap();
        assert!(UploadReceipt::open(&plain, &registry.verifying_key()).is_err());
        // A notice is not a receipt, nor the other way round.
        let n = RevocationNotice {
            terminal: "t1".into(),
            revoked_at: 90,
            issued_at: 100,
        };
        let notice = n.seal(&registry);
        assert_eq!(
            RevocationNotice::open(&notice, &registry.verifying_key()),
            Ok(n)
        );
        assert!(matches!(
            UploadReceipt::open(&notice, &registry.verifying_key()),
            Err(WireError::BadSignature { .. })
        ));
        assert!(RevocationNotice::open(&sealed, &registry.verifying_key()).is_err());
    }
}
