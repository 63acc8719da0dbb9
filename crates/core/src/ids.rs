//! Identifiers: subject kinds, the subject pseudonym (`credential.md`,
//! "Subject pseudonym"), resident ID card numbers (GB 11643) and unified
//! social credit codes (GB 32100), and display-name masking.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::time::Date;

/// Person (粤省事) or enterprise (粤商通).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Person,
    Enterprise,
}

impl Kind {
    /// The letter that prefixes the id in the pseudonym input.
    pub fn letter(self) -> char {
        match self {
            Kind::Person => 'P',
            Kind::Enterprise => 'E',
        }
    }
    /// The CSV/TOML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Enterprise => "enterprise",
        }
    }
    /// The credential's `kind` claim value.
    pub fn claim(self) -> u64 {
        match self {
            Kind::Person => 0,
            Kind::Enterprise => 1,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown subject kind (holds the text as given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kind must be `person` or `enterprise`, not {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Kind, UnknownKind> {
        match s {
            "person" => Ok(Kind::Person),
            "enterprise" => Ok(Kind::Enterprise),
            other => Err(UnknownKind(other.to_owned())),
        }
    }
}

/// The 32-byte pseudonymisation secret `K_pseudo` (hub and issuer only).
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    pub fn from_bytes(bytes: [u8; 32]) -> PseudonymKey {
        PseudonymKey(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `base32_nopad_upper(HMAC-SHA256(K, letter ":" normalized_id)[0..16])`.
    /// The id is normalised (trimmed, upper-cased) here.
    pub fn pseudonym(&self, kind: Kind, id: &str) -> SubjectId {
        let mut mac = hmac_sha256(&self.0);
        let normalized = normalize_id(id);
        mac.update(&[kind.letter() as u8, b':']);
        mac.update(normalized.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&tag[..16]);
        SubjectId::from_bytes(&raw)
    }
}

/// HMAC-SHA256 keyed with 32 bytes.
pub(crate) fn hmac_sha256(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac())
}

// HMAC accepts keys of any length; this cannot happen.
#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    #[allow(clippy::panic)]
    {
        panic!("HMAC-SHA256 rejected a 32-byte key")
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// Upper-case with surrounding spaces removed, as the pseudonym rule says.
pub fn normalize_id(id: &str) -> String {
    id.trim().to_ascii_uppercase()
}

/// Why a subject pseudonym was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubjectIdError {
    #[error("pseudonym must be 26 characters, got {0}")]
    Length(usize),
    #[error("pseudonym has {0:?}, outside the base32 alphabet A–Z 2–7")]
    BadChar(char),
}

/// A subject pseudonym: 26 characters of the RFC 4648 base32 alphabet.
///
/// Held inline (no heap string): pseudonyms are compared on every lookup
/// of a listing, and an inline key orders like the text it spells.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectId([u8; SubjectId::LEN]);

impl SubjectId {
    /// Characters in a pseudonym.
    pub const LEN: usize = 26;

    /// Accepts exactly 26 characters of `A–Z2–7` that a 16-byte value
    /// encodes to (the last character carries 3 bits: padding bits zero).
    pub fn parse(s: &str) -> Result<SubjectId, SubjectIdError> {
        if s.len() != SubjectId::LEN {
            return Err(SubjectIdError::Length(s.chars().count()));
        }
        if let Some(c) = s.chars().find(|c| !matches!(c, 'A'..='Z' | '2'..='7')) {
            return Err(SubjectIdError::BadChar(c));
        }
        let mut id = [0u8; SubjectId::LEN];
        id.copy_from_slice(s.as_bytes());
        Ok(SubjectId(id))
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The pseudonym of 16 raw bytes.
    pub fn from_bytes(bytes: &[u8; 16]) -> SubjectId {
        let mut id = [0u8; SubjectId::LEN];
        for (slot, c) in id.iter_mut().zip(base32_nopad(bytes).bytes()) {
            *slot = c;
        }
        SubjectId(id)
    }

    /// The 16 bytes this pseudonym encodes, when it is in canonical form
    /// (the two padding bits zero), as every derived pseudonym is.
    pub fn to_bytes(&self) -> Option<[u8; 16]> {
        let mut out = [0u8; 16];
        let (mut acc, mut bits, mut i) = (0u32, 0u32, 0usize);
        for &c in &self.0 {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'2'..=b'7' => c - b'2' + 26,
                _ => return None,
            };
            acc = (acc << 5) | u32::from(v);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                *out.get_mut(i)? = (acc >> bits) as u8;
                i += 1;
            }
            acc &= (1 << bits) - 1;
        }
        (i == 16 && acc == 0).then_some(out)
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SubjectId").field(&self.as_str()).finish()
    }
}

/// RFC 4648 base32, upper case, no padding.
pub fn base32_nopad(data: &[u8]) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(A[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(A[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Why an identity number is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be 18 characters, got {0}")]
    Length(usize),
    #[error("character {ch:?} at position {pos} is not allowed here")]
    BadCharacter { pos: usize, ch: char },
    #[error("birth date {0} is not a real date")]
    BadBirthDate(String),
    #[error("birth date {0} is in the future")]
    FutureBirthDate(String),
    #[error("check character is {found:?} but should be {expected:?}")]
    CheckDigit { expected: char, found: char },
}

/// Validates an 18-character resident ID card number (GB 11643-1999):
/// 17 digits, a real birth date (positions 7–14) not after `today`, and the
/// ISO 7064 MOD 11-2 check character (`X` for 10).
pub fn validate_resident_id(id: &str, today: Date) -> Result<(), IdError> {
    let id = normalize_id(id);
    let chars: Vec<char> = id.chars().collect();
    if chars.len() != 18 {
        return Err(IdError::Length(chars.len()));
    }
    for (pos, &ch) in chars[..17].iter().enumerate() {
        if !ch.is_ascii_digit() {
            return Err(IdError::BadCharacter { pos: pos + 1, ch });
        }
    }
    if !(chars[17].is_ascii_digit() || chars[17] == 'X') {
        return Err(IdError::BadCharacter {
            pos: 18,
            ch: chars[17],
        });
    }
    let birth = &id[6..14];
    let y: i32 = birth[0..4].parse().unwrap_or(0);
    let m: u8 = birth[4..6].parse().unwrap_or(0);
    let d: u8 = birth[6..8].parse().unwrap_or(0);
    let date = Date::new(y, m, d)
        .filter(|_| y >= 1900)
        .ok_or_else(|| IdError::BadBirthDate(birth.to_owned()))?;
    if date > today {
        return Err(IdError::FutureBirthDate(date.to_string()));
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = chars[..17]
        .iter()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let expected = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
    if chars[17] != expected {
        return Err(IdError::CheckDigit {
            expected,
            found: chars[17],
        });
    }
    Ok(())
}

/// Validates an 18-character unified social credit code (GB 32100-2015):
/// characters from `0-9A-Z` without I, O, Z, S, V, and the MOD 31 check
/// character in the last place.
pub fn validate_uscc(code: &str) -> Result<(), IdError> {
    const CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let code = normalize_id(code);
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(IdError::Length(chars.len()));
    }
    let mut values = [0usize; 18];
    for (pos, &ch) in chars.iter().enumerate() {
        values[pos] = CHARSET
            .find(ch)
            .ok_or(IdError::BadCharacter { pos: pos + 1, ch })?;
    }
    let sum: usize = values[..17].iter().zip(W).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    let expected = CHARSET.as_bytes()[check] as char;
    if chars[17] != expected {
        return Err(IdError::CheckDigit {
            expected,
            found: chars[17],
        });
    }
    Ok(())
}

/// Validates an identity number of the given kind.
pub fn validate_id(kind: Kind, id: &str, today: Date) -> Result<(), IdError> {
    match kind {
        Kind::Person => validate_resident_id(id, today),
        Kind::Enterprise => validate_uscc(id),
    }
}

/// The name terminals may show: persons masked as `张*明` (first and last
/// character kept, two-character names as `王*`); enterprise names are
/// public and kept whole.
pub fn mask_name(kind: Kind, name: &str) -> String {
    let name = name.trim();
    if kind == Kind::Enterprise {
        return name.to_owned();
    }
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 3, 10).unwrap()
    }

    #[test]
    fn pseudonyms_read_back_as_text_and_order_like_it() {
        let a = SubjectId::from_bytes(&[0x00; 16]);
        let b = SubjectId::from_bytes(&[0xA7; 16]);
        assert_eq!(a.as_str(), base32_nopad(&[0x00; 16]));
        assert_eq!(b.as_str(), base32_nopad(&[0xA7; 16]));
        assert_eq!(SubjectId::parse(b.as_str()), Ok(b.clone()));
        assert_eq!(b.to_bytes(), Some([0xA7; 16]));
        assert_eq!(a.cmp(&b), a.as_str().cmp(b.as_str()));
        assert_eq!(format!("{b:?}"), format!("SubjectId({:?})", b.as_str()));
        assert_eq!(SubjectId::parse("ABC"), Err(SubjectIdError::Length(3)));
        assert_eq!(
            SubjectId::parse("AAAAAAAAAAAAAAAAAAAAAAAAA1"),
            Err(SubjectIdError::BadChar('1'))
        );
    }

    #[test]
    fn base32_rfc4648_vectors() {
        assert_eq!(base32_nopad(b""), "");
        assert_eq!(base32_nopad(b"f"), "MY");
        assert_eq!(base32_nopad(b"fo"), "MZXQ");
        assert_eq!(base32_nopad(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_nopad(&[0u8; 16]).len(), 26);
    }

    #[test]
    fn subject_bytes_round_trip() {
        let b = [0xA5u8; 16];
        let s = SubjectId::from_bytes(&b);
        assert_eq!(s.to_bytes(), Some(b));
        // The last character carries two padding bits; non-zero is not canonical.
        let mut text = s.as_str().to_owned();
        text.pop();
        text.push('7');
        assert_eq!(SubjectId::parse(&text).unwrap().to_bytes(), None);
    }

    #[test]
    fn resident_ids() {
        assert_eq!(validate_resident_id("11010519491231002X", today()), Ok(()));
        assert_eq!(validate_resident_id("11010519491231002x", today()), Ok(()));
        assert_eq!(
            validate_resident_id("110105194912310021", today()),
            Err(IdError::CheckDigit {
                expected: 'X',
                found: '1'
            })
        );
        assert_eq!(
            validate_resident_id("1101051949123100", today()),
            Err(IdError::Length(16))
        );
        assert!(matches!(
            validate_resident_id("110105194902300020", today()),
            Err(IdError::BadBirthDate(_))
        ));
        assert!(matches!(
            validate_resident_id("11010520300101002X", today()),
            Err(IdError::FutureBirthDate(_))
        ));
        assert!(matches!(
            validate_resident_id("1101051949A231002X", today()),
            Err(IdError::BadCharacter { pos: 11, ch: 'A' })
        ));
    }

    #[test]
    fn social_credit_codes() {
        assert_eq!(validate_uscc("91350100M000100Y43"), Ok(()));
        assert!(matches!(
            validate_uscc("91350100M000100Y44"),
            Err(IdError::CheckDigit { .. })
        ));
        assert!(matches!(
            validate_uscc("9135010OM000100Y43"),
            Err(IdError::BadCharacter { pos: 8, ch: 'O' })
        ));
    }

    #[test]
    fn masks() {
        assert_eq!(mask_name(Kind::Person, "张三明"), "张*明");
        assert_eq!(mask_name(Kind::Person, "王伟"), "王*");
        assert_eq!(mask_name(Kind::Person, "欧阳建国"), "欧**国");
        assert_eq!(mask_name(Kind::Enterprise, "阳江市某公司"), "阳江市某公司");
    }
}
