//! Metadata signed by a test registry, opened again with its public key
//! as a terminal opens it: one way for every test and benchmark to seal
//! the data they apply.

use ed25519_dalek::SigningKey;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::metadata::{ArtefactRef, EligibilityRef, Metadata, SPEC};

/// What a test registry publishes for one data version.
#[derive(Debug, Clone, Copy)]
pub struct Publication<'a> {
    pub version: u64,
    /// Signed hub time; the data was published ten minutes earlier.
    pub issued_at: i64,
    pub expires_at: i64,
    pub set_hash: Digest32,
    pub listings: u64,
    pub exclusions: u64,
    /// The site configuration artefact's bytes.
    pub config: &'a [u8],
    /// The decompressed eligibility artefact and the version it applies
    /// from (0: a snapshot), if the version has one.
    pub eligibility: Option<(u64, &'a [u8])>,
}

impl Publication<'_> {
    /// The metadata, sealed with `key` and opened with its public half.
    pub fn sealed(&self, key: &SigningKey) -> Metadata {
        let meta = Metadata {
            spec: SPEC,
            version: self.version,
            published_at: self.issued_at - 600,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            set_hash: self.set_hash,
            listings: self.listings,
            exclusions: self.exclusions,
            config: ArtefactRef::of(self.config),
            eligibility: self.eligibility.map(|(from, raw)| EligibilityRef {
                artefact: ArtefactRef::of(raw),
                from,
                raw_length: raw.len() as u64,
            }),
            terminal: None,
            rotation: None,
        };
        Metadata::open(&meta.seal(key), &key.verifying_key())
            .expect("metadata opens with the key that sealed it")
    }
}
