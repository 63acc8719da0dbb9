//! Lower-case hexadecimal, for ids in logs, files and wire formats.

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
pub fn decode(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("hex text has odd length {}", s.len()));
    }
    let nibble = |c: u8, i: usize| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!(
                "{:?} at position {i} is not a hex digit",
                char::from(c)
            )),
        }
    };
    let b = s.as_bytes();
    (0..b.len())
        .step_by(2)
        .map(|i| Ok(nibble(b[i], i)? << 4 | nibble(b[i + 1], i + 1)?))
        .collect()
}

/// Decodes exactly `N` bytes of hex.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], String> {
    let v = decode(s)?;
    let len = v.len();
    v.try_into()
        .map_err(|_| format!("expected {N} bytes of hex, got {len}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_errors() {
        assert_eq!(super::encode(&[0, 0xAB, 0x10]), "00ab10");
        assert_eq!(super::decode("00AB10").unwrap(), vec![0, 0xAB, 0x10]);
        assert!(super::decode("abc").is_err());
        assert!(super::decode("zz").unwrap_err().contains("position 0"));
        assert!(super::decode_array::<2>("0011aa").is_err());
    }
}
