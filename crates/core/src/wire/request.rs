//! Signed requests: every call a terminal makes carries its id, the time,
//! a fresh nonce and an Ed25519 signature over the method, path, time,
//! nonce and body hash. The hub refuses unknown or revoked terminals, stale
//! times and nonces it has seen.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::{Digest32, WireError};

pub const HEADER_TERMINAL: &str = "x-xinyi-terminal";
pub const HEADER_TIME: &str = "x-xinyi-time";
pub const HEADER_NONCE: &str = "x-xinyi-nonce";
pub const HEADER_SIGNATURE: &str = "x-xinyi-signature";
/// How far a request's time may be from the hub's clock.
pub const MAX_REQUEST_SKEW_S: i64 = 300;

/// The authentication a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    pub terminal: String,
    pub time: i64,
    pub nonce: [u8; 16],
    pub sig: [u8; 64],
}

fn message(method: &str, path: &str, time: i64, nonce: &[u8; 16], body: &[u8]) -> Vec<u8> {
    format!(
        "xinyi/request/v1\n{}\n{path}\n{time}\n{}\n{}",
        method.to_ascii_uppercase(),
        crate::hex::encode(nonce),
        Digest32::of(body).to_hex()
    )
    .into_bytes()
}

impl RequestAuth {
    /// Signs a request; `path` includes the query string.
    pub fn sign(
        key: &SigningKey,
        terminal: &str,
        method: &str,
        path: &str,
        time: i64,
        nonce: [u8; 16],
        body: &[u8],
    ) -> RequestAuth {
        let sig = key
            .sign(&message(method, path, time, &nonce, body))
            .to_bytes();
        RequestAuth {
            terminal: terminal.to_owned(),
            time,
            nonce,
            sig,
        }
    }

    /// The header values, in the order of the `HEADER_*` names.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_TERMINAL, self.terminal.clone()),
            (HEADER_TIME, self.time.to_string()),
            (HEADER_NONCE, crate::hex::encode(&self.nonce)),
            (HEADER_SIGNATURE, crate::hex::encode(&self.sig)),
        ]
    }

    /// Reads the headers (given by a lookup function).
    pub fn from_headers<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<RequestAuth, WireError> {
        let what = "request authentication";
        let need = |h: &str| {
            get(h).ok_or_else(|| WireError::malformed(what, format!("missing header {h}")))
        };
        let terminal = need(HEADER_TERMINAL)?.to_owned();
        let time = need(HEADER_TIME)?
            .parse::<i64>()
            .map_err(|_| WireError::malformed(what, "bad time"))?;
        let nonce = crate::hex::decode_array(need(HEADER_NONCE)?)
            .map_err(|e| WireError::malformed(what, format!("nonce: {e}")))?;
        let sig = crate::hex::decode_array(need(HEADER_SIGNATURE)?)
            .map_err(|e| WireError::malformed(what, format!("signature: {e}")))?;
        Ok(RequestAuth {
            terminal,
            time,
            nonce,
            sig,
        })
    }

    /// Verifies the signature with the terminal's registered key.
    pub fn verify(
        &self,
        key: &VerifyingKey,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(), WireError> {
        key.verify_strict(
            &message(method, path, self.time, &self.nonce, body),
            &Signature::from_bytes(&self.sig),
        )
        .map_err(|_| WireError::BadSignature {
            what: "request",
            key: super::key_id(key.as_bytes()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let a = RequestAuth::sign(&k, "t", "post", "/v1/records", 100, [1; 16], b"body");
        let headers = a.headers();
        let b = RequestAuth::from_headers(|h| {
            headers
                .iter()
                .find(|(n, _)| *n == h)
                .map(|(_, v)| v.as_str())
        })
        .unwrap();
        assert_eq!(a, b);
        assert!(
            b.verify(&k.verifying_key(), "POST", "/v1/records", b"body")
                .is_ok()
        );
        assert!(
            b.verify(&k.verifying_key(), "POST", "/v1/records", b"bodx")
                .is_err()
        );
        assert!(
            b.verify(&k.verifying_key(), "POST", "/v1/records?x=1", b"body")
                .is_err()
        );
        assert!(RequestAuth::from_headers(|_| None).is_err());
    }
}
