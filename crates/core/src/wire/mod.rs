//! Wire formats between the registry (hub) and terminals. Pure: encoding,
//! decoding, signing and checking only; moving bytes is the edges' job.
//!
//! The design follows TUF: everything the hub publishes is reachable only
//! through [`metadata::Metadata`], signed by the registry key that the
//! terminal pinned at enrollment, carrying a version (no rollback), an
//! expiry (no freeze) and the SHA-256 and length of every artefact it
//! names (no mix-and-match, no endless data). The eligibility artefact is a
//! compact binary stream ([`eligibility`]) whose content is proven after
//! applying by an order-independent set hash. Terminals upload their
//! journal as signed, hash-chained records ([`journal`]) and sign every
//! request ([`request`]).
//!
//! Every parser here faces untrusted bytes: it returns a [`WireError`]
//! naming what is wrong and never panics.

pub mod bundle;
pub mod config;
pub mod eligibility;
pub mod enroll;
pub mod envelope;
pub mod journal;
pub mod metadata;
pub mod request;

use std::fmt;

use sha2::{Digest, Sha256};

/// Why bytes from the channel were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("{what}: malformed: {why}")]
    Malformed { what: &'static str, why: String },
    #[error("{what}: signature does not verify with the pinned key {key}")]
    BadSignature { what: &'static str, key: String },
    #[error("{what}: signed by key {found}, but the pinned key is {pinned}")]
    WrongKey {
        what: &'static str,
        found: String,
        pinned: String,
    },
    #[error("{what}: SHA-256 {found} differs from {expected} pinned by the metadata")]
    HashMismatch {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("{what}: {found} bytes where the metadata allows {limit}")]
    TooLarge {
        what: &'static str,
        limit: u64,
        found: u64,
    },
}

impl WireError {
    pub fn malformed(what: &'static str, why: impl Into<String>) -> WireError {
        WireError::Malformed {
            what,
            why: why.into(),
        }
    }
}

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest32(pub [u8; 32]);

impl Digest32 {
    pub fn of(bytes: &[u8]) -> Digest32 {
        Digest32(Sha256::digest(bytes).into())
    }
    pub fn to_hex(self) -> String {
        crate::hex::encode(&self.0)
    }
    pub fn from_hex(s: &str) -> Result<Digest32, String> {
        crate::hex::decode_array(s).map(Digest32)
    }
}

impl fmt::Debug for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest32({})", self.to_hex())
    }
}

impl fmt::Display for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Digest32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest32, D::Error> {
        let s = String::deserialize(d)?;
        Digest32::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// The id of an Ed25519 key on the wire: the first 8 bytes of SHA-256 of the
/// raw public key, in hex (the same rule as issuer kids).
pub fn key_id(public_key: &[u8; 32]) -> String {
    crate::credential::Kid::of_public_key(public_key).to_hex()
}
