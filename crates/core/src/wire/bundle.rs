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
use super::journal::{SignedRecord, decode_batch, encode_batch};

const BUNDLE_MAGIC: &[u8; 4] = b"XYB1";
const RECORDS_MAGIC: &[u8; 4] = b"XYR1";

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
    let records = decode_batch(c.take(n, "records")?)?;
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
