//! A small, strict CBOR (RFC 8949) reader and writer for the credential's
//! COSE_Sign1 and CWT claims.
//!
//! Why not a general CBOR crate: the decoder faces untrusted QR text, so it
//! must never allocate from a length it has not checked against the input,
//! must bound nesting, and must say precisely where and why input is bad
//! (the MALFORMED details in `credential.md`). Both definite and indefinite
//! lengths are accepted; duplicate map keys are rejected by the callers that
//! care (COSE headers, claims).

use std::fmt;

/// Deepest nesting accepted. A credential needs three levels.
const MAX_DEPTH: usize = 16;

/// A decoded CBOR data item.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unsigned(u64),
    /// A negative integer `-1 - n`, stored as `n`.
    Negative(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Tag(u64, Box<Value>),
    Bool(bool),
    Null,
    Undefined,
    /// Any float, kept as its f64 bit pattern (only skipped, never used).
    Float(u64),
    /// Other simple values.
    Simple(u8),
}

impl Value {
    /// The integer value if this is an integer.
    pub fn as_int(&self) -> Option<i128> {
        match *self {
            Value::Unsigned(n) => Some(i128::from(n)),
            Value::Negative(n) => Some(-1 - i128::from(n)),
            _ => None,
        }
    }

    /// A short name of the item's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Unsigned(_) => "unsigned integer",
            Value::Negative(_) => "negative integer",
            Value::Bytes(_) => "byte string",
            Value::Text(_) => "text string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Tag(..) => "tag",
            Value::Bool(_) => "boolean",
            Value::Null => "null",
            Value::Undefined => "undefined",
            Value::Float(_) => "float",
            Value::Simple(_) => "simple value",
        }
    }

    /// An integer value from an `i128` (used by the writer for claim keys).
    pub fn int(n: i128) -> Value {
        if n >= 0 {
            Value::Unsigned(u64::try_from(n).unwrap_or(u64::MAX))
        } else {
            Value::Negative(u64::try_from(-1 - n).unwrap_or(u64::MAX))
        }
    }
}

/// Why bytes are not a well-formed CBOR item, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CborError {
    /// Byte offset where the problem was found.
    pub offset: usize,
    pub kind: CborErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CborErrorKind {
    /// The input ended inside an item.
    Truncated,
    /// Additional information 28–30 is reserved.
    ReservedAdditionalInfo(u8),
    /// A length that cannot fit in the remaining input.
    LengthTooLarge(u64),
    /// Nesting deeper than the limit.
    TooDeep,
    /// A text string that is not UTF-8.
    InvalidUtf8,
    /// A chunk of an indefinite string of another type.
    BadChunk,
    /// A "break" byte where no indefinite item is open.
    UnexpectedBreak,
    /// An indefinite length on a major type that does not allow it.
    BadIndefinite,
    /// Bytes left over after the item.
    TrailingBytes(usize),
    /// An array was expected (see [`array_head`]).
    NotAnArray,
}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match &self.kind {
            CborErrorKind::Truncated => write!(f, "CBOR ends early at byte {at}"),
            CborErrorKind::ReservedAdditionalInfo(ai) => {
                write!(f, "reserved CBOR additional information {ai} at byte {at}")
            }
            CborErrorKind::LengthTooLarge(n) => {
                write!(f, "CBOR length {n} at byte {at} exceeds the input")
            }
            CborErrorKind::TooDeep => write!(f, "CBOR nested deeper than {MAX_DEPTH} at byte {at}"),
            CborErrorKind::InvalidUtf8 => write!(f, "CBOR text at byte {at} is not UTF-8"),
            CborErrorKind::BadChunk => {
                write!(f, "bad chunk in indefinite CBOR string at byte {at}")
            }
            CborErrorKind::UnexpectedBreak => write!(f, "unexpected CBOR break at byte {at}"),
            CborErrorKind::BadIndefinite => write!(f, "indefinite length not allowed at byte {at}"),
            CborErrorKind::TrailingBytes(n) => {
                write!(f, "{n} byte(s) after the CBOR item, from byte {at}")
            }
            CborErrorKind::NotAnArray => write!(f, "a CBOR array was expected at byte {at}"),
        }
    }
}

impl std::error::Error for CborError {}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Head {
    Len(u64),
    Indefinite,
}

impl<'a> Reader<'a> {
    fn err(&self, kind: CborErrorKind) -> CborError {
        CborError {
            offset: self.pos,
            kind,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err(CborErrorKind::Truncated))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        if n > self.remaining() {
            return Err(self.err(CborErrorKind::Truncated));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn uint(&mut self, ai: u8) -> Result<Head, CborError> {
        Ok(match ai {
            0..=23 => Head::Len(u64::from(ai)),
            24 => Head::Len(u64::from(self.byte()?)),
            25 => Head::Len(u64::from(u16::from_be_bytes(self.array()?))),
            26 => Head::Len(u64::from(u32::from_be_bytes(self.array()?))),
            27 => Head::Len(u64::from_be_bytes(self.array()?)),
            31 => Head::Indefinite,
            _ => return Err(self.err(CborErrorKind::ReservedAdditionalInfo(ai))),
        })
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A length that must fit in the remaining input (each element or byte
    /// takes at least one byte), so no allocation exceeds the input size.
    fn checked_len(&self, n: u64) -> Result<usize, CborError> {
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(self.err(CborErrorKind::LengthTooLarge(n))),
        }
    }

    fn at_break(&self) -> bool {
        self.buf.get(self.pos) == Some(&0xFF)
    }

    fn string(&mut self, major: u8, head: Head) -> Result<Vec<u8>, CborError> {
        match head {
            Head::Len(n) => {
                let n = self.checked_len(n)?;
                Ok(self.take(n)?.to_vec())
            }
            Head::Indefinite => {
                let mut out = Vec::new();
                loop {
                    if self.at_break() {
                        self.pos += 1;
                        return Ok(out);
                    }
                    let start = self.pos;
                    let ib = self.byte()?;
                    if ib >> 5 != major || ib & 0x1F == 31 {
                        self.pos = start;
                        return Err(self.err(CborErrorKind::BadChunk));
                    }
                    let n = match self.uint(ib & 0x1F)? {
                        Head::Len(n) => self.checked_len(n)?,
                        Head::Indefinite => return Err(self.err(CborErrorKind::BadChunk)),
                    };
                    out.extend_from_slice(self.take(n)?);
                }
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(self.err(CborErrorKind::TooDeep));
        }
        let start = self.pos;
        let ib = self.byte()?;
        let major = ib >> 5;
        let ai = ib & 0x1F;
        if major == 7 {
            return self.simple(start, ai);
        }
        let head = self.uint(ai)?;
        match major {
            0 | 1 | 6 => {
                let Head::Len(n) = head else {
                    self.pos = start;
                    return Err(self.err(CborErrorKind::BadIndefinite));
                };
                Ok(match major {
                    0 => Value::Unsigned(n),
                    1 => Value::Negative(n),
                    _ => Value::Tag(n, Box::new(self.value(depth + 1)?)),
                })
            }
            2 => Ok(Value::Bytes(self.string(2, head)?)),
            3 => {
                let text_at = self.pos;
                let raw = self.string(3, head)?;
                String::from_utf8(raw)
                    .map(Value::Text)
                    .map_err(|_| CborError {
                        offset: text_at,
                        kind: CborErrorKind::InvalidUtf8,
                    })
            }
            4 => {
                let mut items = Vec::new();
                match head {
                    Head::Len(n) => {
                        let n = self.checked_len(n)?;
                        items.reserve(n);
                        for _ in 0..n {
                            items.push(self.value(depth + 1)?);
                        }
                    }
                    Head::Indefinite => loop {
                        if self.at_break() {
                            self.pos += 1;
                            break;
                        }
                        items.push(self.value(depth + 1)?);
                    },
                }
                Ok(Value::Array(items))
            }
            _ => {
                let mut pairs = Vec::new();
                match head {
                    Head::Len(n) => {
                        let n = self.checked_len(n)?;
                        pairs.reserve(n);
                        for _ in 0..n {
                            let k = self.value(depth + 1)?;
                            let v = self.value(depth + 1)?;
                            pairs.push((k, v));
                        }
                    }
                    Head::Indefinite => loop {
                        if self.at_break() {
                            self.pos += 1;
                            break;
                        }
                        let k = self.value(depth + 1)?;
                        let v = self.value(depth + 1)?;
                        pairs.push((k, v));
                    },
                }
                Ok(Value::Map(pairs))
            }
        }
    }

    fn simple(&mut self, start: usize, ai: u8) -> Result<Value, CborError> {
        Ok(match ai {
            20 => Value::Bool(false),
            21 => Value::Bool(true),
            22 => Value::Null,
            23 => Value::Undefined,
            0..=19 => Value::Simple(ai),
            24 => Value::Simple(self.byte()?),
            25 => Value::Float(u64::from(u16::from_be_bytes(self.array()?))),
            26 => Value::Float(f64::from(f32::from_be_bytes(self.array()?)).to_bits()),
            27 => Value::Float(u64::from_be_bytes(self.array()?)),
            31 => {
                self.pos = start;
                return Err(self.err(CborErrorKind::UnexpectedBreak));
            }
            _ => return Err(self.err(CborErrorKind::ReservedAdditionalInfo(ai))),
        })
    }
}

/// Decodes exactly one CBOR item that fills `bytes` completely.
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = r.value(0)?;
    if r.remaining() > 0 {
        return Err(r.err(CborErrorKind::TrailingBytes(r.remaining())));
    }
    Ok(v)
}

/// The number of items an array declares in its head, read without
/// decoding anything after it: `Some(n)`, or `None` for an array of
/// indefinite length. An error when `bytes` does not start with an array.
pub fn array_head(bytes: &[u8]) -> Result<Option<u64>, CborError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let ib = r.byte()?;
    if ib >> 5 != 4 {
        return Err(CborError {
            offset: 0,
            kind: CborErrorKind::NotAnArray,
        });
    }
    Ok(match r.uint(ib & 0x1F)? {
        Head::Len(n) => Some(n),
        Head::Indefinite => None,
    })
}

/// Appends the preferred (shortest) head of major type `major` with `n`.
pub fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= 0xFF {
        out.push(m | 24);
        out.push(n as u8);
    } else if n <= 0xFFFF {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= 0xFFFF_FFFF {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends the preferred (shortest, definite-length) encoding of `v`.
pub fn encode_into(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Unsigned(n) => write_head(out, 0, *n),
        Value::Negative(n) => write_head(out, 1, *n),
        Value::Bytes(b) => {
            write_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(t) => {
            write_head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Array(items) => {
            write_head(out, 4, items.len() as u64);
            for i in items {
                encode_into(out, i);
            }
        }
        Value::Map(pairs) => {
            write_head(out, 5, pairs.len() as u64);
            for (k, v) in pairs {
                encode_into(out, k);
                encode_into(out, v);
            }
        }
        Value::Tag(t, inner) => {
            write_head(out, 6, *t);
            encode_into(out, inner);
        }
        Value::Bool(b) => out.push(if *b { 0xF5 } else { 0xF4 }),
        Value::Null => out.push(0xF6),
        Value::Undefined => out.push(0xF7),
        Value::Float(bits) => {
            out.push(0xFB);
            out.extend_from_slice(&bits.to_be_bytes());
        }
        Value::Simple(s) => {
            if *s < 24 {
                out.push(0xE0 | s);
            } else {
                out.push(0xF8);
                out.push(*s);
            }
        }
    }
}

/// The preferred encoding of `v`.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 8949 appendix A examples.
    #[test]
    fn rfc8949_examples_round_trip() {
        for (h, v) in [
            ("00", Value::Unsigned(0)),
            ("1864", Value::Unsigned(100)),
            ("1b000000e8d4a51000", Value::Unsigned(1_000_000_000_000)),
            ("3903e7", Value::int(-1000)),
            ("3a00010000", Value::int(-65537)),
            ("4401020304", Value::Bytes(vec![1, 2, 3, 4])),
            ("6449455446", Value::Text("IETF".into())),
            (
                "83010203",
                Value::Array(vec![
                    Value::Unsigned(1),
                    Value::Unsigned(2),
                    Value::Unsigned(3),
                ]),
            ),
            (
                "a201020304",
                Value::Map(vec![
                    (Value::Unsigned(1), Value::Unsigned(2)),
                    (Value::Unsigned(3), Value::Unsigned(4)),
                ]),
            ),
            ("d24100", Value::Tag(18, Box::new(Value::Bytes(vec![0])))),
        ] {
            let bytes = hex(h);
            assert_eq!(decode(&bytes).unwrap(), v, "{h}");
            assert_eq!(encode(&v), bytes, "{h}");
        }
    }

    #[test]
    fn indefinite_lengths() {
        // (_ h'0102', h'030405') and [_ 1, [2, 3]] and {_ "a": 1}
        assert_eq!(
            decode(&hex("5f42010243030405ff")).unwrap(),
            Value::Bytes(vec![1, 2, 3, 4, 5])
        );
        assert_eq!(
            decode(&hex("9f01820203ff")).unwrap(),
            Value::Array(vec![
                Value::Unsigned(1),
                Value::Array(vec![Value::Unsigned(2), Value::Unsigned(3)])
            ])
        );
        assert_eq!(
            decode(&hex("bf616101ff")).unwrap(),
            Value::Map(vec![(Value::Text("a".into()), Value::Unsigned(1))])
        );
    }

    #[test]
    fn errors_name_their_offset() {
        assert_eq!(
            decode(&hex("5affffffff")).unwrap_err().kind,
            CborErrorKind::LengthTooLarge(0xFFFF_FFFF)
        );
        assert_eq!(
            decode(&hex("9bffffffffffffffff")).unwrap_err().kind,
            CborErrorKind::LengthTooLarge(u64::MAX)
        );
        assert_eq!(
            decode(&hex("8118")).unwrap_err(),
            CborError {
                offset: 2,
                kind: CborErrorKind::Truncated
            }
        );
        assert_eq!(
            decode(&hex("8301")).unwrap_err(),
            CborError {
                offset: 1,
                kind: CborErrorKind::LengthTooLarge(3)
            }
        );
        assert_eq!(
            decode(&hex("0000")).unwrap_err(),
            CborError {
                offset: 1,
                kind: CborErrorKind::TrailingBytes(1)
            }
        );
        assert_eq!(
            decode(&hex("62c328")).unwrap_err().kind,
            CborErrorKind::InvalidUtf8
        );
        assert_eq!(
            decode(&hex("ff")).unwrap_err().kind,
            CborErrorKind::UnexpectedBreak
        );
        assert_eq!(
            decode(&hex("1c")).unwrap_err().kind,
            CborErrorKind::ReservedAdditionalInfo(28)
        );
        assert_eq!(
            decode(&hex("1f")).unwrap_err().kind,
            CborErrorKind::BadIndefinite
        );
        assert_eq!(
            decode(&hex("5f6161ff")).unwrap_err().kind,
            CborErrorKind::BadChunk
        );
        assert_eq!(
            decode(&[0x81; 40]).unwrap_err().kind,
            CborErrorKind::TooDeep
        );
    }
}
