//! The citizen credential (守信激励码), exactly per `credential.md`:
//! `"XY1:" + base45(COSE_Sign1)` with CWT claims, signed with Ed25519.
//!
//! Decoding is split from verification: [`decode`] checks the envelope and
//! the claims (everything that makes a code MALFORMED) and returns the parts
//! that the verdict then checks against trusted keys (`verdict.rs`). Every
//! MALFORMED case carries a [`Malformed`] detail naming the field and the
//! fault, for logs and for staff; the verdict code stays `MALFORMED`.

use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::base45::{self, Base45Error};
use crate::cbor::{self, CborError, Value};
use crate::hex::HexError;
use crate::ids::{Kind, SubjectId};
use crate::time::UnixTime;

/// The envelope's prefix.
pub const PREFIX: &str = "XY1:";
/// The longest QR text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 1200;
/// CBOR tag of COSE_Sign1 (optional on the wire).
pub const COSE_SIGN1_TAG: u64 = 18;
/// COSE algorithm label of EdDSA.
pub const ALG_EDDSA: i128 = -8;
/// Longest dynamic-code lifetime, `exp - iat`, in seconds.
pub const MAX_DYNAMIC_LIFETIME_S: i64 = 300;
/// Longest display name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// CWT claim keys.
pub mod claim {
    pub const ISS: i128 = 1;
    pub const SUB: i128 = 2;
    pub const EXP: i128 = 4;
    pub const IAT: i128 = 6;
    pub const CTI: i128 = 7;
    pub const KIND: i128 = -65537;
    pub const NAME: i128 = -65538;
    pub const FORM: i128 = -65539;
}

/// An 8-byte key id: the first 8 bytes of SHA-256 of the raw public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kid(pub [u8; 8]);

impl Kid {
    /// The kid of a raw 32-byte Ed25519 public key.
    pub fn of_public_key(key: &[u8; 32]) -> Kid {
        let digest = Sha256::digest(key);
        let mut kid = [0u8; 8];
        kid.copy_from_slice(&digest[..8]);
        Kid(kid)
    }
    pub fn to_hex(self) -> String {
        crate::hex::encode(&self.0)
    }
    pub fn from_hex(s: &str) -> Result<Kid, KidError> {
        let bytes = crate::hex::decode(s)?;
        let arr: [u8; 8] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KidError::Length(b.len()))?;
        Ok(Kid(arr))
    }
}

/// Why a kid was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KidError {
    #[error("kid is not hex: {0}")]
    Hex(#[from] HexError),
    #[error("kid must be 8 bytes, got {0}")]
    Length(usize),
}

/// Why a credential id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CtiError {
    #[error("cti is not hex: {0}")]
    Hex(#[from] HexError),
    #[error("cti must be 8–16 bytes, got {0}")]
    Length(usize),
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.to_hex())
    }
}
impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A credential id (`cti`), 8–16 bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cti(Vec<u8>);

impl Cti {
    pub fn new(bytes: Vec<u8>) -> Result<Cti, CtiError> {
        if (8..=16).contains(&bytes.len()) {
            Ok(Cti(bytes))
        } else {
            Err(CtiError::Length(bytes.len()))
        }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }
    pub fn from_hex(s: &str) -> Result<Cti, CtiError> {
        Cti::new(crate::hex::decode(s)?)
    }
}

impl fmt::Debug for Cti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cti({})", self.to_hex())
    }
}
impl fmt::Display for Cti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The issuing platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Iss {
    /// 粤省事, persons.
    Yss,
    /// 粤商通, enterprises.
    Yst,
}

impl Iss {
    pub fn as_str(self) -> &'static str {
        match self {
            Iss::Yss => "GD-YSS",
            Iss::Yst => "GD-YST",
        }
    }
    pub fn parse(s: &str) -> Option<Iss> {
        match s {
            "GD-YSS" => Some(Iss::Yss),
            "GD-YST" => Some(Iss::Yst),
            _ => None,
        }
    }
    /// The subject kind this issuer serves.
    pub fn kind(self) -> Kind {
        match self {
            Iss::Yss => Kind::Person,
            Iss::Yst => Kind::Enterprise,
        }
    }
}

impl fmt::Display for Iss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Dynamic app code or printed card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    Dynamic,
    PrintedCard,
}

impl Form {
    pub fn claim(self) -> u64 {
        match self {
            Form::Dynamic => 0,
            Form::PrintedCard => 1,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Dynamic => "dynamic",
            Form::PrintedCard => "printed card",
        }
    }
}

/// The CWT claims of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub iss: Iss,
    pub sub: SubjectId,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub cti: Cti,
    pub kind: Kind,
    /// Display name, already masked by the issuer.
    pub name: String,
    pub form: Form,
}

/// A well-formed credential whose signature is not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedCredential {
    pub kid: Kid,
    pub claims: Claims,
    /// Whether the COSE_Sign1 carried CBOR tag 18.
    pub tagged: bool,
    protected: Vec<u8>,
    payload: Vec<u8>,
    signature: [u8; 64],
}

impl DecodedCredential {
    /// The bytes that were signed: `["Signature1", protected, h'', payload]`.
    pub fn sig_structure(&self) -> Vec<u8> {
        sig_structure(&self.protected, &self.payload)
    }

    /// Strict Ed25519 verification (rejects non-canonical S and small-order
    /// keys) of the signature over the Sig_structure.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let sig = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.sig_structure(), &sig).is_ok()
    }
}

/// The COSE Sig_structure for COSE_Sign1 with empty external_aad:
/// the preferred encoding of `["Signature1", protected, h'', payload]`,
/// written straight into one buffer (it is built on every verification).
pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    const CONTEXT: &str = "Signature1";
    let mut out = Vec::with_capacity(32 + protected.len() + payload.len());
    cbor::write_head(&mut out, 4, 4);
    cbor::write_head(&mut out, 3, CONTEXT.len() as u64);
    out.extend_from_slice(CONTEXT.as_bytes());
    cbor::write_head(&mut out, 2, protected.len() as u64);
    out.extend_from_slice(protected);
    cbor::write_head(&mut out, 2, 0);
    cbor::write_head(&mut out, 2, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// Which part of the credential a fault is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Envelope,
    ProtectedHeader,
    Payload,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Envelope => "COSE_Sign1",
            Part::ProtectedHeader => "protected header",
            Part::Payload => "payload",
        })
    }
}

/// Why a QR text is MALFORMED: the precise internal detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the code is empty")]
    Empty,
    #[error("the code is {0} characters, above the limit of {MAX_TEXT_CHARS}")]
    TooLong(usize),
    #[error("the code does not start with \"XY1:\" (it starts with {0:?})")]
    BadPrefix(String),
    #[error("base45: {0}")]
    Base45(Base45Error),
    #[error("{part} is not valid CBOR: {error}")]
    Cbor { part: Part, error: CborError },
    #[error("CBOR tag {0} where only COSE_Sign1's tag 18 is allowed")]
    WrongTag(u64),
    #[error("COSE_Sign1 must be an array of 4 items, got {0}")]
    NotSign1(String),
    #[error("COSE_Sign1 {field} must be a {expected}, got a {found}")]
    FieldType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{part} must be a CBOR map, got a {found}")]
    NotAMap { part: Part, found: &'static str },
    #[error("{part} has the key {key} twice")]
    DuplicateKey { part: Part, key: String },
    #[error("protected header has no algorithm (label 1)")]
    MissingAlg,
    #[error("algorithm is {0}, only EdDSA (-8) is allowed")]
    WrongAlg(String),
    #[error("protected header has a crit header (label 2)")]
    Crit,
    #[error("protected header has no kid (label 4)")]
    MissingKid,
    #[error("kid must be an 8-byte byte string, got {0}")]
    BadKid(String),
    #[error("unprotected header carries label {0} (alg and kid must be protected)")]
    UnprotectedLabel(i128),
    #[error("payload is detached (nil); it must be embedded")]
    DetachedPayload,
    #[error("signature must be 64 bytes, got {0}")]
    SignatureLength(usize),
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    #[error("claim {claim} must be a {expected}, got a {found}")]
    ClaimType {
        claim: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("claim {claim}: {why}")]
    ClaimValue { claim: &'static str, why: String },
    #[error("kind {kind} does not match issuer {iss}")]
    KindMismatch { kind: Kind, iss: Iss },
}

impl Malformed {
    /// The field the fault is in, for staff ("which field").
    pub fn field(&self) -> &'static str {
        match self {
            Malformed::Empty | Malformed::TooLong(_) | Malformed::BadPrefix(_) => "text",
            Malformed::Base45(_) => "base45",
            Malformed::Cbor {
                part: Part::Payload,
                ..
            }
            | Malformed::NotAMap {
                part: Part::Payload,
                ..
            }
            | Malformed::DuplicateKey {
                part: Part::Payload,
                ..
            } => "payload",
            Malformed::Cbor {
                part: Part::ProtectedHeader,
                ..
            }
            | Malformed::NotAMap {
                part: Part::ProtectedHeader,
                ..
            }
            | Malformed::DuplicateKey {
                part: Part::ProtectedHeader,
                ..
            }
            | Malformed::MissingAlg
            | Malformed::WrongAlg(_)
            | Malformed::Crit
            | Malformed::MissingKid
            | Malformed::BadKid(_) => "protected header",
            Malformed::UnprotectedLabel(_) => "unprotected header",
            Malformed::SignatureLength(_) => "signature",
            Malformed::MissingClaim(c)
            | Malformed::ClaimType { claim: c, .. }
            | Malformed::ClaimValue { claim: c, .. } => c,
            Malformed::KindMismatch { .. } => "kind",
            _ => "COSE_Sign1",
        }
    }
}

/// Removes what hardware scanners add around the text: surrounding
/// whitespace and CR/LF, an AIM symbology identifier (`]Q1`, `]Q3` …) and
/// ECI escapes (`\000026` …).
///
/// Trimming is safe for base45: a valid base45 text never ends with a space
/// (a final group with a space as its most significant digit overflows) and
/// the text starts with `XY1:`.
pub fn clean_scanned(text: &str) -> String {
    let junk = |c: char| c.is_whitespace() || c.is_control() || c == '\u{FEFF}';
    // ECI escapes: a backslash and six digits, anywhere (base45 has no `\`).
    let mut no_eci = String::with_capacity(text.len());
    let mut rest = text.trim_matches(junk);
    while let Some(i) = rest.find('\\') {
        no_eci.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if after.len() >= 6 && after.as_bytes()[..6].iter().all(u8::is_ascii_digit) {
            rest = &after[6..];
        } else {
            no_eci.push('\\');
            rest = after;
        }
    }
    no_eci.push_str(rest);
    // AIM symbology identifier: "]" + code character + modifier, at the start.
    let mut s = no_eci.trim_matches(junk);
    if let Some(rest) = s.strip_prefix(']') {
        let mut it = rest.chars();
        if let (Some(c), Some(m)) = (it.next(), it.next())
            && c.is_ascii_alphabetic()
            && m.is_ascii_alphanumeric()
        {
            s = &rest[2..];
        }
    }
    s.trim_matches(junk).to_owned()
}

/// Decodes raw bytes (e.g. from a QR decoder that yields bytes).
pub fn decode_bytes(bytes: &[u8]) -> Result<DecodedCredential, Malformed> {
    match std::str::from_utf8(bytes) {
        Ok(s) => decode(s),
        Err(_) if bytes.len() > MAX_TEXT_CHARS * 4 => Err(Malformed::TooLong(bytes.len())),
        Err(e) => Err(Malformed::BadPrefix(format!(
            "not UTF-8 text at byte {}",
            e.valid_up_to()
        ))),
    }
}

/// Decodes a scanned QR text into a well-formed, not yet verified credential.
pub fn decode(scanned: &str) -> Result<DecodedCredential, Malformed> {
    // Bound the work before cleaning: a text far over the cap is refused
    // without looking further.
    if scanned.len() > MAX_TEXT_CHARS * 8 {
        return Err(Malformed::TooLong(scanned.chars().count()));
    }
    let text = clean_scanned(scanned);
    let chars = text.chars().count();
    if chars == 0 {
        return Err(Malformed::Empty);
    }
    if chars > MAX_TEXT_CHARS {
        return Err(Malformed::TooLong(chars));
    }
    let Some(body) = text.strip_prefix(PREFIX) else {
        return Err(Malformed::BadPrefix(text.chars().take(4).collect()));
    };
    let raw = base45::decode(body).map_err(Malformed::Base45)?;
    let cose = cbor::decode(&raw).map_err(|error| Malformed::Cbor {
        part: Part::Envelope,
        error,
    })?;
    let (tagged, cose) = match cose {
        Value::Tag(COSE_SIGN1_TAG, inner) => (true, *inner),
        Value::Tag(t, _) => return Err(Malformed::WrongTag(t)),
        other => (false, other),
    };
    let items = match cose {
        Value::Array(items) if items.len() == 4 => items,
        Value::Array(items) => return Err(Malformed::NotSign1(format!("{} items", items.len()))),
        other => return Err(Malformed::NotSign1(format!("a {}", other.type_name()))),
    };
    let mut items = items.into_iter();
    let (Some(protected), Some(unprotected), Some(payload), Some(signature)) =
        (items.next(), items.next(), items.next(), items.next())
    else {
        return Err(Malformed::NotSign1("too few items".into()));
    };
    let protected = match protected {
        Value::Bytes(b) => b,
        other => return Err(field_type("protected", "byte string", &other)),
    };
    let kid = check_protected(&protected)?;
    match unprotected {
        Value::Map(pairs) => check_unprotected(&pairs)?,
        other => return Err(field_type("unprotected", "map", &other)),
    }
    let payload = match payload {
        Value::Bytes(b) => b,
        Value::Null => return Err(Malformed::DetachedPayload),
        other => return Err(field_type("payload", "byte string", &other)),
    };
    let signature: [u8; 64] = match signature {
        Value::Bytes(b) => b
            .try_into()
            .map_err(|b: Vec<u8>| Malformed::SignatureLength(b.len()))?,
        other => return Err(field_type("signature", "byte string", &other)),
    };
    let claims = parse_claims(&payload)?;
    Ok(DecodedCredential {
        kid,
        claims,
        tagged,
        protected,
        payload,
        signature,
    })
}

fn field_type(field: &'static str, expected: &'static str, found: &Value) -> Malformed {
    Malformed::FieldType {
        field,
        expected,
        found: found.type_name(),
    }
}

fn key_name(k: &Value) -> String {
    match (k.as_int(), k) {
        (Some(n), _) => n.to_string(),
        (None, Value::Text(t)) => format!("{t:?}"),
        (None, other) => format!("<{}>", other.type_name()),
    }
}

/// Decodes a map and refuses duplicate keys.
fn decode_map(bytes: &[u8], part: Part) -> Result<Vec<(Value, Value)>, Malformed> {
    let v = cbor::decode(bytes).map_err(|error| Malformed::Cbor { part, error })?;
    let Value::Map(pairs) = v else {
        return Err(Malformed::NotAMap {
            part,
            found: v.type_name(),
        });
    };
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(Malformed::DuplicateKey {
                part,
                key: key_name(k),
            });
        }
    }
    Ok(pairs)
}

fn lookup(pairs: &[(Value, Value)], key: i128) -> Option<&Value> {
    pairs
        .iter()
        .find(|(k, _)| k.as_int() == Some(key))
        .map(|(_, v)| v)
}

fn check_protected(bytes: &[u8]) -> Result<Kid, Malformed> {
    // An empty bstr stands for an empty map (RFC 9052 §3).
    let pairs = if bytes.is_empty() {
        Vec::new()
    } else {
        decode_map(bytes, Part::ProtectedHeader)?
    };
    if lookup(&pairs, 2).is_some() {
        return Err(Malformed::Crit);
    }
    match lookup(&pairs, 1) {
        None => return Err(Malformed::MissingAlg),
        Some(v) if v.as_int() == Some(ALG_EDDSA) => {}
        Some(v) => return Err(Malformed::WrongAlg(key_name(v))),
    }
    match lookup(&pairs, 4) {
        None => Err(Malformed::MissingKid),
        Some(Value::Bytes(b)) => <[u8; 8]>::try_from(b.as_slice())
            .map(Kid)
            .map_err(|_| Malformed::BadKid(format!("{} bytes", b.len()))),
        Some(other) => Err(Malformed::BadKid(format!("a {}", other.type_name()))),
    }
}

fn check_unprotected(pairs: &[(Value, Value)]) -> Result<(), Malformed> {
    for label in [1, 4] {
        if lookup(pairs, label).is_some() {
            return Err(Malformed::UnprotectedLabel(label));
        }
    }
    Ok(())
}

fn parse_claims(payload: &[u8]) -> Result<Claims, Malformed> {
    let pairs = decode_map(payload, Part::Payload)?;
    let get =
        |key: i128, name: &'static str| lookup(&pairs, key).ok_or(Malformed::MissingClaim(name));
    let text = |key, name: &'static str| -> Result<&str, Malformed> {
        match get(key, name)? {
            Value::Text(t) => Ok(t.as_str()),
            other => Err(Malformed::ClaimType {
                claim: name,
                expected: "text string",
                found: other.type_name(),
            }),
        }
    };
    let uint = |key, name: &'static str| -> Result<u64, Malformed> {
        match get(key, name)? {
            Value::Unsigned(n) => Ok(*n),
            other => Err(Malformed::ClaimType {
                claim: name,
                expected: "unsigned integer",
                found: other.type_name(),
            }),
        }
    };
    let time = |key, name: &'static str| -> Result<UnixTime, Malformed> {
        let n = uint(key, name)?;
        i64::try_from(n)
            .map(UnixTime)
            .map_err(|_| Malformed::ClaimValue {
                claim: name,
                why: format!("{n} is out of range"),
            })
    };

    let iss_text = text(claim::ISS, "iss")?;
    let iss = Iss::parse(iss_text).ok_or_else(|| Malformed::ClaimValue {
        claim: "iss",
        why: format!("{iss_text:?} is not GD-YSS or GD-YST"),
    })?;
    let sub = SubjectId::parse(text(claim::SUB, "sub")?).map_err(|why| Malformed::ClaimValue {
        claim: "sub",
        why: why.to_string(),
    })?;
    let exp = time(claim::EXP, "exp")?;
    let iat = time(claim::IAT, "iat")?;
    let cti = match get(claim::CTI, "cti")? {
        Value::Bytes(b) => Cti::new(b.clone()).map_err(|why| Malformed::ClaimValue {
            claim: "cti",
            why: why.to_string(),
        })?,
        other => {
            return Err(Malformed::ClaimType {
                claim: "cti",
                expected: "byte string",
                found: other.type_name(),
            });
        }
    };
    let kind = match uint(claim::KIND, "kind")? {
        0 => Kind::Person,
        1 => Kind::Enterprise,
        n => {
            return Err(Malformed::ClaimValue {
                claim: "kind",
                why: format!("{n} is not 0 (person) or 1 (enterprise)"),
            });
        }
    };
    let name = text(claim::NAME, "name")?;
    if name.len() > MAX_NAME_BYTES {
        return Err(Malformed::ClaimValue {
            claim: "name",
            why: format!("{} bytes, above the limit of {MAX_NAME_BYTES}", name.len()),
        });
    }
    let form = match uint(claim::FORM, "form")? {
        0 => Form::Dynamic,
        1 => Form::PrintedCard,
        n => {
            return Err(Malformed::ClaimValue {
                claim: "form",
                why: format!("{n} is not 0 (dynamic) or 1 (printed card)"),
            });
        }
    };
    if iss.kind() != kind {
        return Err(Malformed::KindMismatch { kind, iss });
    }
    Ok(Claims {
        iss,
        sub,
        exp,
        iat,
        cti,
        kind,
        name: name.to_owned(),
        form,
    })
}

/// Builds the claims map in the order of the spec's table.
pub(crate) fn claims_value(c: &Claims) -> Value {
    let t = |n: i64| Value::Unsigned(u64::try_from(n).unwrap_or(0));
    Value::Map(vec![
        (Value::int(claim::ISS), Value::Text(c.iss.as_str().into())),
        (Value::int(claim::SUB), Value::Text(c.sub.as_str().into())),
        (Value::int(claim::EXP), t(c.exp.0)),
        (Value::int(claim::IAT), t(c.iat.0)),
        (
            Value::int(claim::CTI),
            Value::Bytes(c.cti.as_bytes().to_vec()),
        ),
        (Value::int(claim::KIND), Value::Unsigned(c.kind.claim())),
        (Value::int(claim::NAME), Value::Text(c.name.clone())),
        (Value::int(claim::FORM), Value::Unsigned(c.form.claim())),
    ])
}

/// The protected header `{1: -8, 4: kid}`.
pub(crate) fn protected_header(kid: Kid) -> Vec<u8> {
    cbor::encode(&Value::Map(vec![
        (Value::Unsigned(1), Value::int(ALG_EDDSA)),
        (Value::Unsigned(4), Value::Bytes(kid.0.to_vec())),
    ]))
}

/// Wraps already-made parts into the QR text.
pub(crate) fn envelope(
    protected: Vec<u8>,
    payload: Vec<u8>,
    signature: [u8; 64],
    tagged: bool,
) -> String {
    let sign1 = Value::Array(vec![
        Value::Bytes(protected),
        Value::Map(Vec::new()),
        Value::Bytes(payload),
        Value::Bytes(signature.to_vec()),
    ]);
    let v = if tagged {
        Value::Tag(COSE_SIGN1_TAG, Box::new(sign1))
    } else {
        sign1
    };
    format!("{PREFIX}{}", base45::encode(&cbor::encode(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_scanner_additions() {
        assert_eq!(clean_scanned("  XY1:ABC\r\n"), "XY1:ABC");
        assert_eq!(clean_scanned("]Q1XY1:ABC"), "XY1:ABC");
        assert_eq!(clean_scanned("]Q3\\000026XY1:ABC\n"), "XY1:ABC");
        assert_eq!(clean_scanned("\\000026]Q1XY1:A\\000026BC"), "XY1:ABC");
        assert_eq!(clean_scanned("\u{feff}XY1:A B\t"), "XY1:A B");
        assert_eq!(clean_scanned("XY1:A\\B"), "XY1:A\\B");
    }

    #[test]
    fn malformed_details_name_the_field() {
        assert_eq!(decode(""), Err(Malformed::Empty));
        assert_eq!(decode(" \r\n"), Err(Malformed::Empty));
        assert_eq!(decode("HC1:NCF"), Err(Malformed::BadPrefix("HC1:".into())));
        assert!(matches!(decode("XY1:AB%%"), Err(Malformed::Base45(_))));
        assert_eq!(decode(&"X".repeat(1201)), Err(Malformed::TooLong(1201)));
        // An array of 3: h'', {}, h''
        let text = format!("XY1:{}", base45::encode(&[0x83, 0x40, 0xA0, 0x40]));
        assert_eq!(decode(&text), Err(Malformed::NotSign1("3 items".into())));
        assert_eq!(Malformed::MissingClaim("exp").field(), "exp");
    }

    #[test]
    fn sig_structure_is_the_generic_encoding() {
        // Lengths on each side of the one- and two-byte CBOR heads.
        for (p, q) in [
            (0, 0),
            (3, 23),
            (23, 24),
            (24, 255),
            (255, 256),
            (300, 70_000),
        ] {
            let protected = vec![0xA1; p];
            let payload = vec![0x5C; q];
            let generic = cbor::encode(&Value::Array(vec![
                Value::Text("Signature1".into()),
                Value::Bytes(protected.clone()),
                Value::Bytes(Vec::new()),
                Value::Bytes(payload.clone()),
            ]));
            assert_eq!(sig_structure(&protected, &payload), generic, "{p} {q}");
        }
    }
}
