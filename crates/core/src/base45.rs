//! Base45 (RFC 9285), the QR-alphanumeric-friendly encoding of the credential
//! envelope (`credential.md`, "Envelope").

use thiserror::Error;

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a string is not valid base45.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base45Error {
    #[error("character {ch:?} at position {pos} is not in the base45 alphabet")]
    BadCharacter { pos: usize, ch: char },
    #[error("length {len} leaves a dangling single character (length mod 3 must not be 1)")]
    DanglingCharacter { len: usize },
    #[error("group at position {pos} encodes {value}, above the maximum of {max}")]
    GroupOverflow { pos: usize, value: u32, max: u32 },
}

fn value_of(ch: u8) -> Option<u32> {
    match ch {
        b'0'..=b'9' => Some(u32::from(ch - b'0')),
        b'A'..=b'Z' => Some(u32::from(ch - b'A') + 10),
        b' ' => Some(36),
        b'$' => Some(37),
        b'%' => Some(38),
        b'*' => Some(39),
        b'+' => Some(40),
        b'-' => Some(41),
        b'.' => Some(42),
        b'/' => Some(43),
        b':' => Some(44),
        _ => None,
    }
}

/// Encodes bytes as base45 text.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(2) * 3);
    let mut push = |v: u32| out.push(char::from(ALPHABET[(v % 45) as usize]));
    for chunk in data.chunks(2) {
        match *chunk {
            [a, b] => {
                let n = u32::from(a) * 256 + u32::from(b);
                push(n);
                push(n / 45);
                push(n / (45 * 45));
            }
            [a] => {
                let n = u32::from(a);
                push(n);
                push(n / 45);
            }
            _ => {}
        }
    }
    out
}

/// Decodes base45 text. Every error names the offending position.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let bytes = text.as_bytes();
    if bytes.len() % 3 == 1 {
        return Err(Base45Error::DanglingCharacter { len: bytes.len() });
    }
    let mut out = Vec::with_capacity(bytes.len() / 3 * 2 + 1);
    for (i, group) in bytes.chunks(3).enumerate() {
        let pos = i * 3;
        let mut digits = [0u32; 3];
        for (j, &c) in group.iter().enumerate() {
            digits[j] = value_of(c).ok_or_else(|| Base45Error::BadCharacter {
                pos: pos + j,
                // Report the real character, even when it is multi-byte.
                ch: text[pos + j..].chars().next().unwrap_or('\u{FFFD}'),
            })?;
        }
        if group.len() == 3 {
            let n = digits[0] + digits[1] * 45 + digits[2] * 45 * 45;
            if n > 0xFFFF {
                return Err(Base45Error::GroupOverflow {
                    pos,
                    value: n,
                    max: 0xFFFF,
                });
            }
            out.push((n >> 8) as u8);
            out.push((n & 0xFF) as u8);
        } else {
            let n = digits[0] + digits[1] * 45;
            if n > 0xFF {
                return Err(Base45Error::GroupOverflow {
                    pos,
                    value: n,
                    max: 0xFF,
                });
            }
            out.push(n as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 9285 section 4.3 examples.
    #[test]
    fn rfc9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
    }

    #[test]
    fn rejects_bad_input_with_position() {
        assert_eq!(
            decode("GGW"),
            Err(Base45Error::GroupOverflow {
                pos: 0,
                value: 65536,
                max: 65535
            })
        );
        assert!(matches!(
            decode("ZZZ"),
            Err(Base45Error::GroupOverflow { pos: 0, .. })
        ));
        assert_eq!(decode("A0"), Ok(vec![10]));
        assert!(matches!(
            decode("AB"),
            Err(Base45Error::GroupOverflow {
                pos: 0,
                value: 505,
                max: 255
            })
        ));
        assert!(matches!(
            decode("A"),
            Err(Base45Error::DanglingCharacter { len: 1 })
        ));
        assert!(matches!(
            decode("AAAa"),
            Err(Base45Error::DanglingCharacter { .. })
        ));
        assert!(matches!(
            decode("AAAab"),
            Err(Base45Error::BadCharacter { pos: 3, ch: 'a' })
        ));
        assert!(matches!(
            decode("AB码"),
            Err(Base45Error::BadCharacter { pos: 2, ch: '码' })
        ));
    }
}
