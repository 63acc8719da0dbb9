//! A signed envelope: `{"key": kid, "payload": hex, "sig": hex}` in JSON.
//! The signature covers a context label and the payload bytes exactly, so
//! nothing is re-serialised before checking, and a signature made for one
//! purpose cannot be replayed for another.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{WireError, key_id};

/// What a signature is for; part of the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Published metadata.
    Metadata,
    /// The hub's answer to an enrollment.
    Enrollment,
    /// A registry key rotation: the old key signs the new one.
    KeyRotation,
    /// An offline data bundle's manifest.
    Bundle,
    /// The hub's receipt for an upload: which of a terminal's records it holds.
    Receipt,
    /// The hub's notice to a revoked terminal.
    Revocation,
    /// The hub's answer to an online check of a subject's uses.
    Check,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Metadata => b"xinyi/metadata/v1\0",
            Purpose::Enrollment => b"xinyi/enrollment/v1\0",
            Purpose::KeyRotation => b"xinyi/key-rotation/v1\0",
            Purpose::Bundle => b"xinyi/bundle/v1\0",
            Purpose::Receipt => b"xinyi/receipt/v1\0",
            Purpose::Revocation => b"xinyi/revocation/v1\0",
            Purpose::Check => b"xinyi/check/v1\0",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    key: String,
    payload: String,
    sig: String,
}

fn message(purpose: Purpose, payload: &[u8]) -> Vec<u8> {
    let mut m = purpose.label().to_vec();
    m.extend_from_slice(payload);
    m
}

/// Signs `payload` for `purpose`; returns the envelope's JSON bytes.
pub fn seal(key: &SigningKey, purpose: Purpose, payload: &[u8]) -> Vec<u8> {
    let sig = key.sign(&message(purpose, payload));
    let raw = Raw {
        key: key_id(key.verifying_key().as_bytes()),
        payload: crate::hex::encode(payload),
        sig: crate::hex::encode(&sig.to_bytes()),
    };
    serde_json::to_vec(&raw).unwrap_or_default()
}

/// Opens an envelope signed for `purpose` by `pinned`; returns the payload.
pub fn open(bytes: &[u8], purpose: Purpose, pinned: &VerifyingKey) -> Result<Vec<u8>, WireError> {
    let what = "signed envelope";
    let raw: Raw =
        serde_json::from_slice(bytes).map_err(|e| WireError::malformed(what, e.to_string()))?;
    let pinned_id = key_id(pinned.as_bytes());
    if raw.key != pinned_id {
        return Err(WireError::WrongKey {
            what,
            found: raw.key,
            pinned: pinned_id,
        });
    }
    let payload = crate::hex::decode(&raw.payload)
        .map_err(|e| WireError::malformed(what, format!("payload: {e}")))?;
    let sig: [u8; 64] = crate::hex::decode_array(&raw.sig)
        .map_err(|e| WireError::malformed(what, format!("sig: {e}")))?;
    pinned
        .verify_strict(&message(purpose, &payload), &Signature::from_bytes(&sig))
        .map_err(|_| WireError::BadSignature {
            what,
            key: pinned_id,
        })?;
    Ok(payload)
}

/// The payload of an envelope without checking its signature: only to
/// find which keys to check it with (a rotation chain), never to use.
pub fn peek(bytes: &[u8]) -> Result<Vec<u8>, WireError> {
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|e| WireError::malformed("signed envelope", e.to_string()))?;
    crate::hex::decode(&raw.payload)
        .map_err(|e| WireError::malformed("signed envelope", format!("payload: {e}")))
}

/// The key id an envelope claims, without checking anything (to tell a
/// rotated key from a forgery in error messages).
pub fn claimed_key(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<Raw>(bytes).ok().map(|r| r.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refusals() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let other = SigningKey::from_bytes(&[2; 32]);
        let sealed = seal(&k, Purpose::Metadata, b"hello");
        assert_eq!(
            open(&sealed, Purpose::Metadata, &k.verifying_key()).unwrap(),
            b"hello"
        );
        assert!(matches!(
            open(&sealed, Purpose::Bundle, &k.verifying_key()),
            Err(WireError::BadSignature { .. })
        ));
        assert!(matches!(
            open(&sealed, Purpose::Metadata, &other.verifying_key()),
            Err(WireError::WrongKey { .. })
        ));
        let tampered = String::from_utf8(sealed)
            .unwrap()
            .replace(&crate::hex::encode(b"hello"), &crate::hex::encode(b"hellp"));
        assert!(matches!(
            open(tampered.as_bytes(), Purpose::Metadata, &k.verifying_key()),
            Err(WireError::BadSignature { .. })
        ));
        assert!(matches!(
            open(b"{}", Purpose::Metadata, &k.verifying_key()),
            Err(WireError::Malformed { .. })
        ));
    }
}
