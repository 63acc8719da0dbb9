//! Trusted issuer keys (`credential.md`, "Trusted issuer keys") and the
//! card revocation list.

use ed25519_dalek::VerifyingKey;

use crate::credential::{Iss, Kid};
use crate::time::UnixTime;

/// An issuer key from the synced trust list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub kid: Kid,
    pub iss: Iss,
    pub public_key: VerifyingKey,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    pub revoked: bool,
}

/// Why a trust-list entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("public key is not a valid Ed25519 point")]
    BadKey,
    #[error("public key is a weak (small-order) Ed25519 key")]
    WeakKey,
    #[error("kid {given} does not match the key, whose kid is {computed}")]
    KidMismatch { given: Kid, computed: Kid },
    #[error("not_after {not_after} is before not_before {not_before}")]
    BadWindow { not_before: i64, not_after: i64 },
}

impl TrustedKey {
    /// Builds an entry, checking the key and, when given, its kid.
    pub fn new(
        iss: Iss,
        public_key: [u8; 32],
        not_before: UnixTime,
        not_after: UnixTime,
        revoked: bool,
        kid: Option<Kid>,
    ) -> Result<TrustedKey, TrustError> {
        let key = VerifyingKey::from_bytes(&public_key).map_err(|_| TrustError::BadKey)?;
        if key.is_weak() {
            return Err(TrustError::WeakKey);
        }
        let computed = Kid::of_public_key(&public_key);
        if let Some(given) = kid
            && given != computed
        {
            return Err(TrustError::KidMismatch { given, computed });
        }
        if not_after < not_before {
            return Err(TrustError::BadWindow {
                not_before: not_before.0,
                not_after: not_after.0,
            });
        }
        Ok(TrustedKey {
            kid: computed,
            iss,
            public_key: key,
            not_before,
            not_after,
            revoked,
        })
    }

    /// Whether the key may vouch for a credential of `iss` issued at `iat`.
    pub fn valid_for(&self, iss: Iss, iat: UnixTime) -> Result<(), KeyNotValid> {
        if self.revoked {
            return Err(KeyNotValid::Revoked { kid: self.kid });
        }
        if self.iss != iss {
            return Err(KeyNotValid::OtherIssuer {
                kid: self.kid,
                key_iss: self.iss,
                iss,
            });
        }
        if iat < self.not_before || iat > self.not_after {
            return Err(KeyNotValid::OutsideWindow {
                iat,
                not_before: self.not_before,
                not_after: self.not_after,
            });
        }
        Ok(())
    }
}

/// Why a trusted key may not vouch for a credential (KEY_NOT_VALID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyNotValid {
    #[error("key {kid} is revoked")]
    Revoked { kid: Kid },
    #[error("key {kid} belongs to {key_iss}, not {iss}")]
    OtherIssuer { kid: Kid, key_iss: Iss, iss: Iss },
    #[error(
        "credential issued {} outside the key's window {} – {}",
        .iat.display_utc8(),
        .not_before.display_utc8(),
        .not_after.display_utc8()
    )]
    OutsideWindow {
        iat: UnixTime,
        not_before: UnixTime,
        not_after: UnixTime,
    },
}
