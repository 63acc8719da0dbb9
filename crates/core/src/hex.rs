//! Lower-case hexadecimal, for ids in logs, files and wire formats.

/// Why a hex text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("hex text has odd length {0}")]
    OddLength(usize),
    #[error("{digit:?} at position {position} is not a hex digit")]
    NotADigit { digit: char, position: usize },
    #[error("expected {expected} bytes of hex, got {got}")]
    Length { expected: usize, got: usize },
}

/// Encodes bytes as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(D[usize::from(b >> 4)]));
        s.push(char::from(D[usize::from(b & 15)]));
    }
    s
}

/// Decodes hex (either case); the error names the fault.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    if !s.len().is_multiple_of(2) {
        return Err(HexError::OddLength(s.len()));
    }
    let b = s.as_bytes();
    // Bytes are checked in order, so the first bad one starts a character.
    let nibble = |i: usize| -> Result<u8, HexError> {
        let c = b[i];
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(HexError::NotADigit {
                digit: s
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER),
                position: i,
            }),
        }
    };
    (0..b.len())
        .step_by(2)
        .map(|i| Ok(nibble(i)? << 4 | nibble(i + 1)?))
        .collect()
}

/// Decodes exactly `N` bytes of hex.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let v = decode(s)?;
    let got = v.len();
    v.try_into()
        .map_err(|_| HexError::Length { expected: N, got })
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_errors() {
        assert_eq!(super::encode(&[0, 0xAB, 0x10]), "00ab10");
        assert_eq!(super::decode("00AB10").unwrap(), vec![0, 0xAB, 0x10]);
        assert!(super::decode("abc").is_err());
        assert!(
            super::decode("zz")
                .unwrap_err()
                .to_string()
                .contains("position 0")
        );
        assert_eq!(
            super::decode("00é00"),
            Err(super::HexError::NotADigit {
                digit: 'é',
                position: 2
            })
        );
        assert_eq!(
            super::decode_array::<2>("0011aa"),
            Err(super::HexError::Length {
                expected: 2,
                got: 3
            })
        );
    }
}
