//! Credential encoding and signing: the demo issuer and tests stand in for
//! 粤省事/粤商通 with this. What it makes round-trips through
//! [`credential::decode`](crate::credential::decode).

use ed25519_dalek::{Signer, SigningKey};

use crate::cbor::{self, Value};
use crate::credential::{self, Claims, Iss, Kid};

/// An issuer's signing key.
#[derive(Debug, Clone)]
pub struct IssuerKey {
    pub iss: Iss,
    signing: SigningKey,
    kid: Kid,
}

impl IssuerKey {
    /// A key from its 32-byte secret seed.
    pub fn from_seed(iss: Iss, seed: [u8; 32]) -> IssuerKey {
        let signing = SigningKey::from_bytes(&seed);
        let kid = Kid::of_public_key(signing.verifying_key().as_bytes());
        IssuerKey { iss, signing, kid }
    }

    pub fn kid(&self) -> Kid {
        self.kid
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// Signs claims into a QR text (tagged COSE_Sign1 unless `tagged` is false).
    pub fn mint(&self, claims: &Claims, tagged: bool) -> String {
        let protected = credential::protected_header(self.kid);
        let payload = cbor::encode(&credential::claims_value(claims));
        let signature = self.sign(&protected, &payload);
        credential::envelope(protected, payload, signature, tagged)
    }

    /// Signs with this key but labels the credential with another `kid`:
    /// a forgery, for tests and the demo.
    pub fn mint_as(&self, kid: Kid, claims: &Claims, tagged: bool) -> String {
        let protected = credential::protected_header(kid);
        let payload = cbor::encode(&credential::claims_value(claims));
        let signature = self.sign(&protected, &payload);
        credential::envelope(protected, payload, signature, tagged)
    }

    /// Signs arbitrary protected-header and payload bytes, for tests that
    /// need credentials the normal path would never make.
    pub fn sign(&self, protected: &[u8], payload: &[u8]) -> [u8; 64] {
        self.signing
            .sign(&credential::sig_structure(protected, payload))
            .to_bytes()
    }

    /// Builds a QR text from hand-made parts (any CBOR values), signed
    /// over the given protected bytes and payload bytes.
    pub fn mint_raw(
        &self,
        protected: Vec<u8>,
        unprotected: Value,
        payload: Vec<u8>,
        tagged: bool,
    ) -> String {
        let signature = self.sign(&protected, &payload);
        let sign1 = Value::Array(vec![
            Value::Bytes(protected),
            unprotected,
            Value::Bytes(payload),
            Value::Bytes(signature.to_vec()),
        ]);
        let v = if tagged {
            Value::Tag(credential::COSE_SIGN1_TAG, Box::new(sign1))
        } else {
            sign1
        };
        format!(
            "{}{}",
            credential::PREFIX,
            crate::base45::encode(&cbor::encode(&v))
        )
    }
}
