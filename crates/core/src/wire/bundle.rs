//! Files for sites with no network at all, carried by USB stick.
//!
//! A data bundle holds exactly what the HTTP channel would deliver — the
//! signed metadata, the config artefact and a compressed eligibility
//! snapshot — so the terminal applies it with the same checks (pinned key,
//! version, expiry, pinned hashes and sizes, set hash). A records file
//! holds a terminal's signed, chained records; the hub ingests it exactly
//! as an upload.
//!
//! ```text
//! bundle  = "XYB1" len:u32 metadata  len:u32 config  len:u64 eligibility
//! records = "XYR1" len:u16 terminal-id  len:u64 batch (see journal.rs)
//! ```

use super::WireError;
use super::journal::{SignedRecord, decode_records, encode_batch};

const BUNDLE_MAGIC: &[u8; 4] = b"XYB1";
const RECORDS_MAGIC: &[u8; 4] = b"XYR1";
/// The most a bundle's metadata may be: it is a few kilobytes.
pub const MAX_BUNDLE_METADATA: u32 = 256 * 1024;
/// The most records one records file may carry (a site offline for months).
pub const MAX_FILE_RECORDS: usize = 1_000_000;
/// The bytes before a bundle's metadata: the magic and its length.
pub const BUNDLE_HEAD: usize = 8;

/// The parts of a data bundle, still to be checked against the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The signed metadata envelope.
    pub metadata: Vec<u8>,
    /// The config artefact.
    pub config: Vec<u8>,
    /// The compressed eligibility artefact.
    pub eligibility: Vec<u8>,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, part: &str) -> Result<&'a [u8], WireError> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(WireError::malformed(
                self.what,
                format!("{part}: {n} bytes declared, {left} left"),
            ));
        }
        let n = n as usize;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn len<const N: usize>(&mut self, part: &str) -> Result<u64, WireError> {
        let b = self.take(N as u64, part)?;
        Ok(b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
    }
    fn finish(&self) -> Result<(), WireError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(WireError::malformed(
                self.what,
                format!("{} bytes after the end", self.buf.len() - self.pos),
            ))
        }
    }
}

impl Bundle {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            24 + self.metadata.len() + self.config.len() + self.eligibility.len(),
        );
        out.extend_from_slice(BUNDLE_MAGIC);
        out.extend_from_slice(&(self.metadata.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.metadata);
        out.extend_from_slice(&(self.config.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.config);
        out.extend_from_slice(&(self.eligibility.len() as u64).to_be_bytes());
        out.extend_from_slice(&self.eligibility);
        out
    }

    /// The metadata's length, from a bundle's first [`BUNDLE_HEAD`] bytes:
    /// what to read (and check) before anything else of the bundle.
    pub fn metadata_len(head: &[u8]) -> Result<u32, WireError> {
        let what = "data bundle";
        if head.len() < BUNDLE_HEAD || &head[..4] != BUNDLE_MAGIC {
            return Err(WireError::malformed(
                what,
                "not a xinyi data bundle (no XYB1 header)",
            ));
        }
        let n = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if n > MAX_BUNDLE_METADATA {
            return Err(WireError::TooLarge {
                what: "data bundle metadata",
                limit: u64::from(MAX_BUNDLE_METADATA),
                found: u64::from(n),
            });
        }
        Ok(n)
    }

    /// The size of a whole bundle with metadata of `metadata` bytes and
    /// artefacts of the lengths its metadata pins: a file of any other
    /// size is not that bundle, and is refused before it is read.
    pub fn size(metadata: u64, config: u64, eligibility: u64) -> u64 {
        (BUNDLE_HEAD as u64)
            .saturating_add(metadata)
            .saturating_add(4)
            .saturating_add(config)
            .saturating_add(8)
            .saturating_add(eligibility)
    }

    pub fn parse(bytes: &[u8]) -> Result<Bundle, WireError> {
        let mut c = Cursor {
            buf: bytes,
            pos: 0,
            what: "data bundle",
        };
        if c.take(4, "header")? != BUNDLE_MAGIC {
            return Err(WireError::malformed(
                "data bundle",
                "not a xinyi data bundle (no XYB1 header)",
            ));
        }
        let n = c.len::<4>("metadata length")?;
        if n > u64::from(MAX_BUNDLE_METADATA) {
            return Err(WireError::TooLarge {
                what: "data bundle metadata",
                limit: u64::from(MAX_BUNDLE_METADATA),
                found: n,
            });
        }
        let metadata = c.take(n, "metadata")?.to_vec();
        let n = c.len::<4>("config length")?;
        let config = c.take(n, "config")?.to_vec();
        let n = c.len::<8>("eligibility length")?;
        let eligibility = c.take(n, "eligibility")?.to_vec();
        c.finish()?;
        Ok(Bundle {
            metadata,
            config,
            eligibility,
        })
    }
}

/// Encodes a terminal's records for the hub.
pub fn records_to_bytes(terminal: &str, records: &[SignedRecord]) -> Vec<u8> {
    let batch = encode_batch(records);
    let id = terminal.as_bytes();
    let mut out = Vec::with_capacity(16 + id.len() + batch.len());
    out.extend_from_slice(RECORDS_MAGIC);
    out.extend_from_slice(&(id.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(&id[..id.len().min(u16::MAX as usize)]);
    out.extend_from_slice(&(batch.len() as u64).to_be_bytes());
    out.extend_from_slice(&batch);
    out
}

/// Parses a records file: the terminal id it names and its records
/// (signatures and chain are checked by the hub, as for an upload).
pub fn parse_records(bytes: &[u8]) -> Result<(String, Vec<SignedRecord>), WireError> {
    let what = "records file";
    let mut c = Cursor {
        buf: bytes,
        pos: 0,
        what,
    };
    if c.take(4, "header")? != RECORDS_MAGIC {
        return Err(WireError::malformed(
            what,
            "not a xinyi records file (no XYR1 header)",
        ));
    }
    let n = c.len::<2>("terminal id length")?;
    let id = std::str::from_utf8(c.take(n, "terminal id")?)
        .map_err(|_| WireError::malformed(what, "the terminal id is not text"))?
        .to_owned();
    let n = c.len::<8>("batch length")?;
    let records = decode_records(c.take(n, "records")?, MAX_FILE_RECORDS)?;
    c.finish()?;
    Ok((id, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_round_trip_and_truncation() {
        let b = Bundle {
            metadata: b"m".to_vec(),
            config: b"cc".to_vec(),
            eligibility: b"eee".to_vec(),
        };
        let bytes = b.to_bytes();
        assert_eq!(Bundle::parse(&bytes).unwrap(), b);
        for cut in 0..bytes.len() {
            assert!(Bundle::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Bundle::parse(&extra).is_err());
        assert!(Bundle::parse(b"XYR1").is_err());
        assert_eq!(Bundle::metadata_len(&bytes), Ok(1));
        assert_eq!(
            Bundle::size(1, 2, 3),
            bytes.len() as u64,
            "size() must agree with to_bytes()"
        );
        assert!(Bundle::metadata_len(b"XYB1").is_err());
        let mut huge = bytes.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Bundle::metadata_len(&huge),
            Err(WireError::TooLarge { .. })
        ));
        assert!(matches!(
            Bundle::parse(&huge),
            Err(WireError::TooLarge { .. })
        ));
    }

    #[test]
    fn records_round_trip() {
        let r = SignedRecord {
            bytes: vec![0x80],
            sig: [7; 64],
        };
        let bytes = records_to_bytes("t-1", std::slice::from_ref(&r));
        assert_eq!(parse_records(&bytes).unwrap(), ("t-1".to_owned(), vec![r]));
        assert!(parse_records(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse_records(b"XYB1").is_err());
    }
}
