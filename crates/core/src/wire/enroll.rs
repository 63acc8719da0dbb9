//! Enrollment: a terminal proves it holds a one-time code and presents its
//! new public key; the hub answers with a grant signed by the registry key,
//! which the terminal pins from then on — only after checking it against
//! the registry key's [`Fingerprint`], which the operator must give.
//!
//! The code never crosses the wire. The terminal sends a `code_id` that
//! names the code (a hash of it) and a `proof`: an HMAC, keyed by the
//! code, over the terminal's public key, the registry fingerprint the
//! operator typed and the label. Whoever reads the request — on a TLS
//! channel ended at a proxy, in a log, at an impostor hub — learns nothing
//! that enrolls any other key, and a hub whose key does not match the
//! fingerprint cannot use the proof at the real hub for anything but the
//! terminal's own key.

use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::envelope::{self, Purpose};
use super::{Digest32, Fingerprint, WireError};
use crate::ids::hmac_sha256;

/// Upper case without spaces and dashes: how codes are compared.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// What both sides derive from a one-time code: an id that names it and a
/// key that proves it is held. Neither gives the code back.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeSecrets {
    /// Names the code (the hub looks it up by this).
    pub id: Digest32,
    mac_key: [u8; 32],
}

impl std::fmt::Debug for CodeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeSecrets")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn labelled(label: &[u8], code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label);
    h.update(normalize_code(code).as_bytes());
    h.finalize().into()
}

fn proof_message(terminal_key: &[u8; 32], registry: &Fingerprint, label: &str) -> Vec<u8> {
    let mut m = b"xinyi/enroll/v1\0".to_vec();
    m.extend_from_slice(terminal_key);
    m.extend_from_slice(registry.to_string().as_bytes());
    m.push(0);
    m.extend_from_slice(label.as_bytes());
    m
}

impl CodeSecrets {
    /// Derives the id and key of a code as typed.
    pub fn derive(code: &str) -> CodeSecrets {
        CodeSecrets {
            id: Digest32(labelled(b"xinyi/enrollment-code/v1\0", code)),
            mac_key: labelled(b"xinyi/enrollment-code/key/v1\0", code),
        }
    }

    /// The parts as the hub stores them.
    pub fn from_parts(id: Digest32, mac_key: [u8; 32]) -> CodeSecrets {
        CodeSecrets { id, mac_key }
    }

    /// The key that proves the code is held (the hub stores it to check
    /// proofs; it never leaves the hub).
    pub fn mac_key(&self) -> &[u8; 32] {
        &self.mac_key
    }

    /// The proof for one terminal key, registry and label.
    pub fn proof(&self, terminal_key: &[u8; 32], registry: &Fingerprint, label: &str) -> [u8; 32] {
        let mut m = hmac_sha256(&self.mac_key);
        m.update(&proof_message(terminal_key, registry, label));
        m.finalize().into_bytes().into()
    }

    /// Checks a proof in constant time.
    pub fn verify(
        &self,
        proof: &[u8],
        terminal_key: &[u8; 32],
        registry: &Fingerprint,
        label: &str,
    ) -> bool {
        let mut m = hmac_sha256(&self.mac_key);
        m.update(&proof_message(terminal_key, registry, label));
        m.verify_slice(proof).is_ok()
    }
}

/// What the terminal sends to `/v1/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The code's id, hex ([`CodeSecrets::id`]).
    pub code_id: String,
    /// The proof of holding the code, hex ([`CodeSecrets::proof`]).
    pub proof: String,
    /// The terminal's Ed25519 public key, hex.
    pub public_key: String,
    /// A label for the registry's records, e.g. the counter's name.
    pub label: String,
}

impl EnrollRequest {
    /// The request of the terminal with `key`, holding `code`, that expects
    /// the registry key with fingerprint `registry`.
    pub fn new(
        code: &str,
        key: &VerifyingKey,
        registry: &Fingerprint,
        label: &str,
    ) -> EnrollRequest {
        let secrets = CodeSecrets::derive(code);
        EnrollRequest {
            code_id: secrets.id.to_hex(),
            proof: crate::hex::encode(&secrets.proof(key.as_bytes(), registry, label)),
            public_key: crate::hex::encode(key.as_bytes()),
            label: label.to_owned(),
        }
    }
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

    /// Opens a grant: the key it names must have the `fingerprint` the
    /// operator gave, and the envelope must be signed by that key.
    pub fn open(
        bytes: &[u8],
        fingerprint: &Fingerprint,
    ) -> Result<(EnrollGrant, VerifyingKey), WireError> {
        let what = "enrollment grant";
        let payload = envelope::peek(bytes)?;
        let claimed: EnrollGrant = serde_json::from_slice(&payload)
            .map_err(|e| WireError::malformed(what, e.to_string()))?;
        let raw: [u8; 32] = crate::hex::decode_array(&claimed.registry_key)
            .map_err(|e| WireError::malformed(what, e.to_string()))?;
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|_| WireError::malformed(what, "registry key is not an Ed25519 key"))?;
        let found = Fingerprint::of(&raw);
        if found != *fingerprint {
            return Err(WireError::WrongKey {
                what,
                found: found.to_string(),
                pinned: fingerprint.to_string(),
            });
        }
        let verified = envelope::open(bytes, Purpose::Enrollment, &key)?;
        let grant = serde_json::from_slice(&verified)
            .map_err(|e| WireError::malformed(what, e.to_string()))?;
        Ok((grant, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_opens_only_with_the_right_fingerprint() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let g = EnrollGrant {
            terminal_id: "abc".into(),
            site: "bus-1".into(),
            registry_key: crate::hex::encode(k.verifying_key().as_bytes()),
            issued_at: 5,
        };
        let sealed = g.seal(&k);
        let fp = Fingerprint::of(k.verifying_key().as_bytes());
        assert_eq!(EnrollGrant::open(&sealed, &fp).unwrap().0, g);
        let other = SigningKey::from_bytes(&[5; 32]);
        let other_fp = Fingerprint::of(other.verifying_key().as_bytes());
        assert!(matches!(
            EnrollGrant::open(&sealed, &other_fp),
            Err(WireError::WrongKey { .. })
        ));
        // A grant naming one key but signed by another is refused.
        assert!(EnrollGrant::open(&g.seal(&other), &fp).is_err());
    }

    #[test]
    fn a_proof_binds_the_code_to_one_key_registry_and_label() {
        let terminal = SigningKey::from_bytes(&[6; 32]).verifying_key();
        let thief = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let registry = Fingerprint::of(&[8; 32]);
        let impostor = Fingerprint::of(&[9; 32]);
        let req = EnrollRequest::new("k7q2-m9xd 4pla", &terminal, &registry, "bus 1");
        // The hub derives the same secrets from the code it issued.
        let hub = CodeSecrets::derive("K7Q2-M9XD-4PLA");
        assert_eq!(req.code_id, hub.id.to_hex());
        let proof = crate::hex::decode(&req.proof).unwrap();
        assert!(hub.verify(&proof, terminal.as_bytes(), &registry, "bus 1"));
        // Replayed for another key, another registry or another label: no.
        assert!(!hub.verify(&proof, thief.as_bytes(), &registry, "bus 1"));
        assert!(!hub.verify(&proof, terminal.as_bytes(), &impostor, "bus 1"));
        assert!(!hub.verify(&proof, terminal.as_bytes(), &registry, "bus 2"));
        // Neither the request nor the id reveals the code.
        let json = serde_json::to_string(&req).unwrap();
        assert!(!json.contains("K7Q2") && !json.contains("k7q2"));
        // Another code does not verify.
        let wrong = CodeSecrets::derive("K7Q2-M9XD-4PLB");
        assert!(!wrong.verify(&proof, terminal.as_bytes(), &registry, "bus 1"));
    }
}
