//! The eligibility artefact: a snapshot of every listing and exclusion at a
//! version, or a delta between two versions, as a compact binary stream,
//! and the order-independent set hash that proves what a terminal holds.
//!
//! Layout (big-endian):
//!
//! ```text
//! header   "XYE1" kind:u8 (0 snapshot, 1 delta) from:u64 to:u64 items:u64
//! listing  0x01 sub[16] category:u8 valid_from:i32 valid_until:i32 flags:u8 name_len:u8 name
//! exclusion 0x02 sub[16] from:i32 until:i32
//! remove listing   0x03 sub[16] category:u8 valid_from:i32
//! remove exclusion 0x04 sub[16] from:i32
//! usage     0x05 sub[16] measure_len:u8 measure period_start:i64 n:u16 record_id[16]×n
//! remove usage     0x06 sub[16] measure_len:u8 measure period_start:i64
//! redeemed  0x07 cti_len:u8 cti until:i64
//! remove redeemed  0x08 cti_len:u8 cti
//! ```
//!
//! Dates are days since 1970-01-01; a category byte is its number, plus 0x80
//! for enterprise categories (so it also carries the subject's kind); flag
//! bit 0 is "withdrawn". A listing is identified by (sub, category,
//! valid_from), an exclusion by (sub, from).
//!
//! Usage (`measures.md`, "Limits hold for the subject, not for the
//! counter") is the registry's confirmed, not voided uses of a limited
//! measure by a subject in the period starting at `period_start` (Unix
//! seconds), as the ids of the redemption records, in ascending order, so
//! a terminal counts a use it also holds itself once. It is identified by
//! (sub, measure, period_start); the registry removes it once the period
//! has ended.
//!
//! A redeemed code (`credential.md`, REPLAYED) is the `cti` of a dynamic
//! code that a confirmed, not voided redemption used somewhere, kept while
//! the code could still pass the EXPIRED check (`until`); identified by
//! its cti.

use sha2::{Digest, Sha256};

use super::{Digest32, WireError};
use crate::category::Category;
use crate::credential::Cti;
use crate::eligibility::{EligibilityEntry, ExclusionEntry};
use crate::history::RecordId;
use crate::ids::{Kind, SubjectId};
use crate::measures::MeasureId;
use crate::time::{Date, UnixTime};

const MAGIC: &[u8; 4] = b"XYE1";
const HEADER_LEN: usize = 4 + 1 + 8 + 8 + 8;
const WHAT: &str = "eligibility artefact";
const MAX_NAME: usize = 255;

/// Snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtefactKind {
    Snapshot,
    Delta,
}

/// The artefact's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: ArtefactKind,
    /// The version a delta applies to (0 for a snapshot).
    pub from: u64,
    /// The version the terminal holds after applying.
    pub to: u64,
    /// How many items follow.
    pub items: u64,
}

/// One item of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Insert or replace the listing with this key.
    Listing(EligibilityEntry),
    /// Insert or replace the exclusion with this key.
    Exclusion(ExclusionEntry),
    RemoveListing {
        sub: SubjectId,
        category: Category,
        valid_from: Date,
    },
    RemoveExclusion {
        sub: SubjectId,
        from: Date,
    },
    /// Insert or replace the usage with this key.
    Usage(UsageEntry),
    RemoveUsage {
        sub: SubjectId,
        measure: MeasureId,
        period_start: UnixTime,
    },
    /// Insert or replace the redeemed code with this cti.
    Redeemed {
        cti: Cti,
        until: UnixTime,
    },
    RemoveRedeemed {
        cti: Cti,
    },
}

/// The registry's confirmed uses of a limited measure by one subject in
/// one period, by record id (ascending, each once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEntry {
    pub sub: SubjectId,
    pub measure: MeasureId,
    pub period_start: UnixTime,
    pub uses: Vec<RecordId>,
}

/// The most uses one usage item lists.
pub const MAX_USES: usize = u16::MAX as usize;

impl Item {
    /// Whether the item removes a member rather than being one.
    pub fn is_removal(&self) -> bool {
        matches!(
            self,
            Item::RemoveListing { .. }
                | Item::RemoveExclusion { .. }
                | Item::RemoveUsage { .. }
                | Item::RemoveRedeemed { .. }
        )
    }
}

fn cti_bytes(out: &mut Vec<u8>, cti: &Cti) {
    // A cti is 8–16 bytes.
    let b = cti.as_bytes();
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

fn measure_bytes(out: &mut Vec<u8>, m: &MeasureId) {
    // Measure ids are 1–64 ASCII characters.
    let b = m.as_str().as_bytes();
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

fn category_byte(c: Category) -> u8 {
    match c.kind() {
        Kind::Person => c.number(),
        Kind::Enterprise => 0x80 | c.number(),
    }
}

fn category_of(b: u8) -> Option<Category> {
    if b & 0x80 != 0 {
        Category::from_parts(Kind::Enterprise, b & 0x7F)
    } else {
        Category::from_parts(Kind::Person, b)
    }
}

fn days(d: Date) -> [u8; 4] {
    (d.to_days() as i32).to_be_bytes()
}

fn sub_bytes(s: &SubjectId) -> [u8; 16] {
    // Pseudonyms made by the registry are canonical; anything else encodes
    // as zeros and can never match a credential.
    s.to_bytes().unwrap_or([0; 16])
}

/// Appends an item's encoding.
pub fn encode_item(out: &mut Vec<u8>, item: &Item) {
    match item {
        Item::Listing(l) => {
            out.push(0x01);
            out.extend_from_slice(&sub_bytes(&l.sub));
            out.push(category_byte(l.category));
            out.extend_from_slice(&days(l.valid_from));
            out.extend_from_slice(&days(l.valid_until));
            out.push(u8::from(l.withdrawn));
            let name = truncate(&l.display_name, MAX_NAME);
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
        Item::Exclusion(x) => {
            out.push(0x02);
            out.extend_from_slice(&sub_bytes(&x.sub));
            out.extend_from_slice(&days(x.from));
            out.extend_from_slice(&days(x.until));
        }
        Item::RemoveListing {
            sub,
            category,
            valid_from,
        } => {
            out.push(0x03);
            out.extend_from_slice(&sub_bytes(sub));
            out.push(category_byte(*category));
            out.extend_from_slice(&days(*valid_from));
        }
        Item::RemoveExclusion { sub, from } => {
            out.push(0x04);
            out.extend_from_slice(&sub_bytes(sub));
            out.extend_from_slice(&days(*from));
        }
        Item::Usage(u) => {
            out.push(0x05);
            out.extend_from_slice(&sub_bytes(&u.sub));
            measure_bytes(out, &u.measure);
            out.extend_from_slice(&u.period_start.0.to_be_bytes());
            let n = u.uses.len().min(MAX_USES);
            out.extend_from_slice(&(n as u16).to_be_bytes());
            for id in &u.uses[..n] {
                out.extend_from_slice(id);
            }
        }
        Item::RemoveUsage {
            sub,
            measure,
            period_start,
        } => {
            out.push(0x06);
            out.extend_from_slice(&sub_bytes(sub));
            measure_bytes(out, measure);
            out.extend_from_slice(&period_start.0.to_be_bytes());
        }
        Item::Redeemed { cti, until } => {
            out.push(0x07);
            cti_bytes(out, cti);
            out.extend_from_slice(&until.0.to_be_bytes());
        }
        Item::RemoveRedeemed { cti } => {
            out.push(0x08);
            cti_bytes(out, cti);
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes on a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Encodes a whole artefact.
pub fn encode(header: Header, items: &[Item]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + items.len() * 40);
    write_header(
        &mut out,
        Header {
            items: items.len() as u64,
            ..header
        },
    );
    for i in items {
        encode_item(&mut out, i);
    }
    out
}

/// Writes a header (for writers that stream items after it).
pub fn write_header(out: &mut Vec<u8>, h: Header) {
    out.extend_from_slice(MAGIC);
    out.push(match h.kind {
        ArtefactKind::Snapshot => 0,
        ArtefactKind::Delta => 1,
    });
    out.extend_from_slice(&h.from.to_be_bytes());
    out.extend_from_slice(&h.to.to_be_bytes());
    out.extend_from_slice(&h.items.to_be_bytes());
}

/// A strict streaming reader: the header, then items until the declared
/// count, then the end of the input.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    header: Header,
    read: u64,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Reader<'a>, WireError> {
        if buf.len() < HEADER_LEN || &buf[..4] != MAGIC {
            return Err(WireError::malformed(WHAT, "missing XYE1 header"));
        }
        let kind = match buf[4] {
            0 => ArtefactKind::Snapshot,
            1 => ArtefactKind::Delta,
            k => return Err(WireError::malformed(WHAT, format!("unknown kind {k}"))),
        };
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&buf[i..i + 8]);
            u64::from_be_bytes(a)
        };
        let header = Header {
            kind,
            from: u64_at(5),
            to: u64_at(13),
            items: u64_at(21),
        };
        if kind == ArtefactKind::Snapshot && header.from != 0 {
            return Err(WireError::malformed(WHAT, "a snapshot must have from = 0"));
        }
        if kind == ArtefactKind::Delta && header.from >= header.to {
            return Err(WireError::malformed(
                WHAT,
                format!("delta from {} to {} goes backwards", header.from, header.to),
            ));
        }
        // Each item takes at least 10 bytes (a redeemed code's removal):
        // a count beyond that is a lie.
        if header.items > (buf.len() - HEADER_LEN) as u64 / 10 {
            return Err(WireError::malformed(
                WHAT,
                format!("declares {} items, more than its size allows", header.items),
            ));
        }
        Ok(Reader {
            buf,
            pos: HEADER_LEN,
            header,
            read: 0,
        })
    }

    pub fn header(&self) -> Header {
        self.header
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() - self.pos < n {
            return Err(WireError::malformed(
                WHAT,
                format!("truncated at byte {}", self.pos),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn sub(&mut self) -> Result<SubjectId, WireError> {
        let mut a = [0u8; 16];
        a.copy_from_slice(self.take(16)?);
        Ok(SubjectId::from_bytes(&a))
    }

    fn date(&mut self) -> Result<Date, WireError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        let n = i64::from(i32::from_be_bytes(a));
        // Years 1..=9999 only.
        if !(-719_162..=2_932_896).contains(&n) {
            return Err(WireError::malformed(
                WHAT,
                format!("date {n} out of range at byte {}", self.pos - 4),
            ));
        }
        Ok(Date::from_days(n))
    }

    fn cti(&mut self) -> Result<Cti, WireError> {
        let len = usize::from(self.take(1)?[0]);
        let at = self.pos;
        Cti::new(self.take(len)?.to_vec())
            .map_err(|e| WireError::malformed(WHAT, format!("cti at byte {at}: {e}")))
    }

    fn measure(&mut self) -> Result<MeasureId, WireError> {
        let len = usize::from(self.take(1)?[0]);
        let at = self.pos;
        let raw = self.take(len)?;
        std::str::from_utf8(raw)
            .ok()
            .and_then(|s| MeasureId::parse(s).ok())
            .ok_or_else(|| WireError::malformed(WHAT, format!("bad measure id at byte {at}")))
    }

    fn time(&mut self) -> Result<UnixTime, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(UnixTime(i64::from_be_bytes(a)))
    }

    fn category(&mut self) -> Result<Category, WireError> {
        let b = self.take(1)?[0];
        category_of(b).ok_or_else(|| {
            WireError::malformed(
                WHAT,
                format!("unknown category byte {b:#04x} at byte {}", self.pos - 1),
            )
        })
    }

    fn item(&mut self) -> Result<Item, WireError> {
        let at = self.pos;
        let tag = self.take(1)?[0];
        Ok(match tag {
            0x01 => {
                let sub = self.sub()?;
                let category = self.category()?;
                let valid_from = self.date()?;
                let valid_until = self.date()?;
                let flags = self.take(1)?[0];
                if flags > 1 {
                    return Err(WireError::malformed(
                        WHAT,
                        format!("unknown flags {flags:#04x} at byte {}", self.pos - 1),
                    ));
                }
                let len = usize::from(self.take(1)?[0]);
                let name = std::str::from_utf8(self.take(len)?).map_err(|_| {
                    WireError::malformed(
                        WHAT,
                        format!("name at byte {} is not UTF-8", self.pos - len),
                    )
                })?;
                Item::Listing(EligibilityEntry {
                    sub,
                    kind: category.kind(),
                    category,
                    valid_from,
                    valid_until,
                    withdrawn: flags == 1,
                    display_name: name.to_owned(),
                })
            }
            0x02 => Item::Exclusion(ExclusionEntry {
                sub: self.sub()?,
                from: self.date()?,
                until: self.date()?,
            }),
            0x03 => Item::RemoveListing {
                sub: self.sub()?,
                category: self.category()?,
                valid_from: self.date()?,
            },
            0x04 => Item::RemoveExclusion {
                sub: self.sub()?,
                from: self.date()?,
            },
            0x05 => {
                let sub = self.sub()?;
                let measure = self.measure()?;
                let period_start = self.time()?;
                let mut n = [0u8; 2];
                n.copy_from_slice(self.take(2)?);
                let n = usize::from(u16::from_be_bytes(n));
                if n == 0 {
                    return Err(WireError::malformed(
                        WHAT,
                        format!("usage item at byte {at} lists no use"),
                    ));
                }
                let mut uses: Vec<RecordId> = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    let mut id = [0u8; 16];
                    id.copy_from_slice(self.take(16)?);
                    if uses.last().is_some_and(|last| *last >= id) {
                        return Err(WireError::malformed(
                            WHAT,
                            format!(
                                "usage item at byte {at}: record ids must be ascending, each once"
                            ),
                        ));
                    }
                    uses.push(id);
                }
                Item::Usage(UsageEntry {
                    sub,
                    measure,
                    period_start,
                    uses,
                })
            }
            0x06 => Item::RemoveUsage {
                sub: self.sub()?,
                measure: self.measure()?,
                period_start: self.time()?,
            },
            0x07 => Item::Redeemed {
                cti: self.cti()?,
                until: self.time()?,
            },
            0x08 => Item::RemoveRedeemed { cti: self.cti()? },
            t => {
                return Err(WireError::malformed(
                    WHAT,
                    format!("unknown item tag {t:#04x} at byte {at}"),
                ));
            }
        })
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Item, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.read == self.header.items {
            if self.pos != self.buf.len() {
                self.read = u64::MAX;
                return Some(Err(WireError::malformed(
                    WHAT,
                    format!("{} bytes after the last item", self.buf.len() - self.pos),
                )));
            }
            return None;
        }
        if self.read == u64::MAX {
            return None;
        }
        let r = self.item();
        match r {
            Ok(_) => self.read += 1,
            Err(_) => self.read = u64::MAX,
        }
        if self.header.kind == ArtefactKind::Snapshot && r.as_ref().is_ok_and(Item::is_removal) {
            self.read = u64::MAX;
            return Some(Err(WireError::malformed(
                WHAT,
                "a snapshot cannot remove items",
            )));
        }
        Some(r)
    }
}

/// An order-independent hash of a set of listings and exclusions: the sum
/// modulo 2^256 of the SHA-256 of each member's encoding. Adding and
/// removing members in any order gives the same value, so a terminal can
/// keep it up to date while applying a delta and compare it with the one
/// the metadata publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetHash([u8; 32]);

fn member_digest(item: &Item) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(64);
    encode_item(&mut bytes, item);
    Sha256::digest(&bytes).into()
}

impl SetHash {
    pub fn new() -> SetHash {
        SetHash::default()
    }

    /// Adds a member (a listing or an exclusion).
    pub fn add(&mut self, item: &Item) {
        let d = member_digest(item);
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let s = u16::from(self.0[i]) + u16::from(d[i]) + carry;
            self.0[i] = s as u8;
            carry = s >> 8;
        }
    }

    /// Removes a member that was added.
    pub fn remove(&mut self, item: &Item) {
        let d = member_digest(item);
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let s = i16::from(self.0[i]) - i16::from(d[i]) - borrow;
            self.0[i] = s.rem_euclid(256) as u8;
            borrow = i16::from(s < 0);
        }
    }

    pub fn digest(self) -> Digest32 {
        Digest32(self.0)
    }

    pub fn from_digest(d: Digest32) -> SetHash {
        SetHash(d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(n: u8, withdrawn: bool) -> Item {
        Item::Listing(EligibilityEntry {
            sub: SubjectId::from_bytes(&[n; 16]),
            kind: Kind::Person,
            category: "P02".parse().unwrap(),
            valid_from: Date::new(2025, 5, 1).unwrap(),
            valid_until: Date::new(2027, 5, 1).unwrap(),
            withdrawn,
            display_name: "陈*华".into(),
        })
    }

    #[test]
    fn round_trip() {
        let items = vec![
            listing(1, false),
            Item::Exclusion(ExclusionEntry {
                sub: SubjectId::from_bytes(&[2; 16]),
                from: Date::new(2025, 1, 1).unwrap(),
                until: Date::new(2028, 1, 1).unwrap(),
            }),
            Item::RemoveListing {
                sub: SubjectId::from_bytes(&[3; 16]),
                category: "E04".parse().unwrap(),
                valid_from: Date::new(2024, 2, 29).unwrap(),
            },
            Item::RemoveExclusion {
                sub: SubjectId::from_bytes(&[4; 16]),
                from: Date::new(2020, 1, 1).unwrap(),
            },
            Item::Usage(UsageEntry {
                sub: SubjectId::from_bytes(&[5; 16]),
                measure: MeasureId::parse("XYX-BUS-TOPUP").unwrap(),
                period_start: UnixTime(1_772_294_400),
                uses: vec![[1; 16], [2; 16]],
            }),
            Item::RemoveUsage {
                sub: SubjectId::from_bytes(&[6; 16]),
                measure: MeasureId::parse("XYX-BUS-TOPUP").unwrap(),
                period_start: UnixTime(1_769_875_200),
            },
            Item::Redeemed {
                cti: Cti::new(vec![7; 12]).unwrap(),
                until: UnixTime(1_772_294_820),
            },
            Item::RemoveRedeemed {
                cti: Cti::new(vec![8; 8]).unwrap(),
            },
        ];
        let h = Header {
            kind: ArtefactKind::Delta,
            from: 3,
            to: 4,
            items: 0,
        };
        let bytes = encode(h, &items);
        let r = Reader::new(&bytes).unwrap();
        assert_eq!(r.header(), Header { items: 8, ..h });
        let back: Vec<Item> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!(back, items);
    }

    #[test]
    fn strict_reader() {
        let snap = Header {
            kind: ArtefactKind::Snapshot,
            from: 0,
            to: 1,
            items: 0,
        };
        let bytes = encode(snap, &[listing(1, false)]);
        // Truncated, extra bytes, bad magic, a removal in a snapshot.
        assert!(
            Reader::new(&bytes[..bytes.len() - 1])
                .unwrap()
                .any(|r| r.is_err())
        );
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Reader::new(&extra).unwrap().any(|r| r.is_err()));
        assert!(Reader::new(b"XYE2").is_err());
        let rm = encode(
            snap,
            &[Item::RemoveExclusion {
                sub: SubjectId::from_bytes(&[4; 16]),
                from: Date::new(2020, 1, 1).unwrap(),
            }],
        );
        assert!(Reader::new(&rm).unwrap().any(|r| r.is_err()));
        // Usage ids out of order, and a usage removal in a snapshot.
        let usage = |uses: Vec<[u8; 16]>| {
            Item::Usage(UsageEntry {
                sub: SubjectId::from_bytes(&[5; 16]),
                measure: MeasureId::parse("XYX-BUS-TOPUP").unwrap(),
                period_start: UnixTime(0),
                uses,
            })
        };
        assert!(
            Reader::new(&encode(snap, &[usage(vec![[1; 16], [2; 16]])]))
                .unwrap()
                .all(|r| r.is_ok())
        );
        let e = Reader::new(&encode(snap, &[usage(vec![[2; 16], [1; 16]])]))
            .unwrap()
            .find_map(Result::err)
            .unwrap()
            .to_string();
        assert!(e.contains("ascending"), "{e}");
        let rm = encode(
            snap,
            &[Item::RemoveUsage {
                sub: SubjectId::from_bytes(&[5; 16]),
                measure: MeasureId::parse("XYX-BUS-TOPUP").unwrap(),
                period_start: UnixTime(0),
            }],
        );
        assert!(Reader::new(&rm).unwrap().any(|r| r.is_err()));
        // A count the size cannot hold.
        let mut lie = bytes.clone();
        lie[21..29].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(Reader::new(&lie).is_err());
    }

    #[test]
    fn set_hash_is_order_independent_and_removable() {
        let (a, b, c) = (listing(1, false), listing(2, false), listing(3, true));
        let mut x = SetHash::new();
        for i in [&a, &b, &c] {
            x.add(i);
        }
        let mut y = SetHash::new();
        for i in [&c, &a, &b] {
            y.add(i);
        }
        assert_eq!(x, y);
        y.remove(&c);
        let mut z = SetHash::new();
        z.add(&b);
        z.add(&a);
        assert_eq!(y, z);
        assert_ne!(x, z);
        z.remove(&a);
        z.remove(&b);
        assert_eq!(z, SetHash::new());
    }
}
