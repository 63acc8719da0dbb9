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
pub mod check;
pub mod config;
pub mod eligibility;
pub mod enroll;
pub mod envelope;
pub mod journal;
pub mod metadata;
pub mod plan;
pub mod receipt;
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
    pub fn from_hex(s: &str) -> Result<Digest32, crate::hex::HexError> {
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

/// The registry key's fingerprint as people read it aloud and type it: 40
/// digits in eight groups of five, e.g. `30497 11852 90211 …`. Each group
/// is four bytes of SHA-256 over the key taken modulo 100,000, so the
/// whole carries 132 bits: a key made to match it is out of reach, where
/// the 64-bit [`key_id`] is not. Digits, because a technician enrolling a
/// counter reads them off the credit office's letter or hears them on the
/// phone, in Chinese or in English, with nothing to mistake.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u32; Fingerprint::GROUPS]);

impl Fingerprint {
    /// Groups of five digits.
    pub const GROUPS: usize = 8;
    /// Digits in all.
    pub const DIGITS: usize = 5 * Fingerprint::GROUPS;

    /// The fingerprint of an Ed25519 public key.
    pub fn of(public_key: &[u8; 32]) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(b"xinyi/registry-fingerprint/v1\0");
        h.update(public_key);
        let d: [u8; 32] = h.finalize().into();
        let mut groups = [0u32; Fingerprint::GROUPS];
        for (g, chunk) in groups.iter_mut().zip(d.chunks_exact(4)) {
            let mut b = [0u8; 4];
            b.copy_from_slice(chunk);
            *g = u32::from_be_bytes(b) % 100_000;
        }
        Fingerprint(groups)
    }

    /// Reads a fingerprint as typed: 40 digits; spaces, dashes and dots
    /// between them are ignored.
    pub fn parse(s: &str) -> Result<Fingerprint, FingerprintError> {
        let mut digits = Vec::with_capacity(Fingerprint::DIGITS);
        for c in s.chars() {
            match c {
                '0'..='9' => digits.push(c as u32 - '0' as u32),
                ' ' | '-' | '.' | '\t' | '\u{3000}' => {}
                other => return Err(FingerprintError::NotADigit(other)),
            }
        }
        if digits.len() != Fingerprint::DIGITS {
            return Err(FingerprintError::DigitCount(digits.len()));
        }
        let mut groups = [0u32; Fingerprint::GROUPS];
        for (g, five) in groups.iter_mut().zip(digits.chunks_exact(5)) {
            *g = five.iter().fold(0, |acc, d| acc * 10 + d);
        }
        Ok(Fingerprint(groups))
    }
}

/// Why a typed registry fingerprint was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error("a registry fingerprint has only digits (and spaces between groups), not {0:?}")]
    NotADigit(char),
    #[error(
        "a registry fingerprint has {expected} digits, {0} were given: copy all eight groups of five as `xinyi-hub init` printed them",
        expected = Fingerprint::DIGITS
    )]
    DigitCount(usize),
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{g:05}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The id of an Ed25519 key on the wire: the first 8 bytes of SHA-256 of the
/// raw public key, in hex (the same rule as issuer kids).
pub fn key_id(public_key: &[u8; 32]) -> String {
    crate::credential::Kid::of_public_key(public_key).to_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_back_and_tell_keys_apart() {
        let a = Fingerprint::of(&[1; 32]);
        let b = Fingerprint::of(&[2; 32]);
        assert_ne!(a, b);
        let shown = a.to_string();
        assert_eq!(shown.len(), Fingerprint::DIGITS + Fingerprint::GROUPS - 1);
        assert_eq!(Fingerprint::parse(&shown), Ok(a));
        assert_eq!(Fingerprint::parse(&shown.replace(' ', "-")), Ok(a));
        assert_eq!(Fingerprint::parse(&shown.replace(' ', "")), Ok(a));
        // One group short, one digit wrong, a letter.
        assert_eq!(
            Fingerprint::parse(&shown[6..]),
            Err(FingerprintError::DigitCount(Fingerprint::DIGITS - 5))
        );
        let mut wrong = shown.clone().into_bytes();
        wrong[0] = if wrong[0] == b'9' { b'8' } else { wrong[0] + 1 };
        assert_ne!(
            Fingerprint::parse(std::str::from_utf8(&wrong).unwrap()),
            Ok(a)
        );
        assert_eq!(
            Fingerprint::parse(&format!("O{}", &shown[1..])),
            Err(FingerprintError::NotADigit('O'))
        );
    }
}
