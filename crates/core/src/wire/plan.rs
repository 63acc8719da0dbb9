//! Accepting a version of the hub's data: one pure decision over plain
//! data (`design.md`, "Sync").
//!
//! [`plan`] takes metadata already opened with the pinned registry key,
//! what the terminal holds and what was fetched for that version, and says
//! what to do — fetch artefacts first, refresh the hub's signed time of the
//! version held, or apply a config and a snapshot or a delta — or why the
//! version is [`Refused`]. Every check on the metadata (format, rollback,
//! expiry, consistency), on the artefacts as transferred (pinned length
//! and SHA-256), decompressed (declared size) and on the eligibility
//! artefact's header (target version, snapshot or delta, the base a delta
//! applies to) happens here, once, whether the bytes came over HTTP or in
//! a bundle. The edges only fetch bytes and execute the plan; what can
//! only be known while executing — a delta removing what is not held, a
//! snapshot naming a key twice, the set hash after applying — is judged by
//! [`Apply::prove`] and the item refusals below, so the reasons stay one
//! type.

use std::borrow::Cow;

use super::config::{Config, ParsedConfig};
use super::eligibility::{ArtefactKind, Header, Reader};
use super::metadata::{ArtefactRef, EligibilityRef, Metadata, MetadataError};
use super::{Digest32, WireError};
use crate::category::Category;
use crate::credential::{Cti, Kid};
use crate::ids::SubjectId;
use crate::measures::MeasureId;
use crate::time::{Date, UnixTime};

/// What the terminal holds, as recorded when it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub version: u64,
    /// The set hash of the listings and exclusions held, as proven.
    pub set_hash: Digest32,
    pub listings: u64,
    pub exclusions: u64,
    /// The SHA-256 of the config artefact held.
    pub config_sha256: Digest32,
    /// The hub's signed time of the latest metadata naming this version.
    pub hub_issued_at: UnixTime,
}

/// What was fetched for the version the metadata describes: nothing yet
/// ([`Fetched::NOTHING`]), or the artefacts exactly as transferred.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetched<'a> {
    /// The config artefact (JSON), as transferred.
    pub config: Option<&'a [u8]>,
    /// The eligibility artefact, as transferred (compressed over the
    /// channel; as is for [`uncompressed`]).
    pub eligibility: Option<&'a [u8]>,
}

impl Fetched<'_> {
    /// Nothing fetched yet: [`plan`] says what to fetch.
    pub const NOTHING: Fetched<'static> = Fetched {
        config: None,
        eligibility: None,
    };
}

/// The decompressor [`plan`] takes for artefacts transferred as they are,
/// uncompressed.
pub fn uncompressed(bytes: &[u8], _raw_length: u64) -> Result<Cow<'_, [u8]>, WireError> {
    Ok(Cow::Borrowed(bytes))
}

/// What to do with a version.
#[derive(Debug, Clone)]
pub enum ApplyPlan<'a> {
    /// The held version is still the hub's: record the hub's signed time.
    UpToDate(Refresh),
    /// These artefacts must be fetched first; then plan again with them.
    Fetch(Wanted),
    /// Apply in one transaction, then [`Apply::prove`] before committing.
    Apply(Box<Apply<'a>>),
}

/// The held version confirmed by the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refresh {
    /// What the plan was made against.
    pub held: Held,
    /// The hub's signed time and the metadata's expiry.
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    /// False when the metadata is older than the one already recorded (a
    /// replay): nothing is to be recorded.
    pub newer: bool,
}

/// The artefacts to fetch, pinned by the metadata: the fetcher reads no
/// more than these lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// `None` when the config held is the one pinned.
    pub config: Option<ArtefactRef>,
    pub eligibility: Option<EligibilityRef>,
}

/// A version to apply.
#[derive(Debug, Clone)]
pub struct Apply<'a> {
    /// The metadata the version is applied under (what is recorded).
    pub meta: &'a Metadata,
    /// What the plan was made against: the executor checks it is still
    /// what it holds inside its transaction.
    pub held: Option<Held>,
    /// A new config artefact to replace the held one.
    pub config: Option<NewConfig<'a>>,
    /// The listings and exclusions.
    pub eligibility: Eligibility<'a>,
}

/// A config artefact that matched its pin and parsed.
#[derive(Debug, Clone)]
pub struct NewConfig<'a> {
    /// As published, for the catalogue text kept beside the parsed form.
    pub published: Config,
    pub parsed: ParsedConfig,
    /// The bytes as transferred.
    pub bytes: &'a [u8],
}

/// An eligibility artefact that matched its pin, its size and the header
/// the metadata announces.
#[derive(Debug, Clone)]
pub struct Eligibility<'a> {
    pub header: Header,
    /// Decompressed.
    pub raw: Cow<'a, [u8]>,
}

impl Eligibility<'_> {
    /// The items, read strictly (an item may still be malformed).
    pub fn items(&self) -> Result<Reader<'_>, WireError> {
        Reader::new(&self.raw)
    }

    pub fn kind(&self) -> ArtefactKind {
        self.header.kind
    }
}

/// The set held once the items are applied: its hash and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub set_hash: Digest32,
    pub listings: u64,
    pub exclusions: u64,
}

impl Apply<'_> {
    /// What applying starts from: the held set for a delta, the empty
    /// set for a snapshot.
    pub fn start(&self) -> Outcome {
        match (self.eligibility.kind(), self.held) {
            (ArtefactKind::Delta, Some(h)) => Outcome {
                set_hash: h.set_hash,
                listings: h.listings,
                exclusions: h.exclusions,
            },
            _ => Outcome {
                set_hash: Digest32::default(),
                listings: 0,
                exclusions: 0,
            },
        }
    }

    /// The proof: the set held after applying is the set the hub signed.
    pub fn prove(&self, found: Outcome) -> Result<(), Refused> {
        if found.set_hash != self.meta.set_hash {
            return Err(Refused::SetHash {
                found: found.set_hash,
                published: self.meta.set_hash,
            });
        }
        if (found.listings, found.exclusions) != (self.meta.listings, self.meta.exclusions) {
            return Err(Refused::Counts {
                listings: found.listings,
                exclusions: found.exclusions,
                published_listings: self.meta.listings,
                published_exclusions: self.meta.exclusions,
            });
        }
        Ok(())
    }
}

/// Which artefact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Config,
    Eligibility,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Config => "config artefact",
            Part::Eligibility => "eligibility artefact",
        })
    }
}

/// How a version describes its eligibility artefact: a snapshot, or a
/// delta from a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Snapshot,
    DeltaFrom(u64),
}

impl Shape {
    fn announced(from: u64) -> Shape {
        if from == 0 {
            Shape::Snapshot
        } else {
            Shape::DeltaFrom(from)
        }
    }

    fn of(h: Header) -> Shape {
        match h.kind {
            ArtefactKind::Snapshot => Shape::Snapshot,
            ArtefactKind::Delta => Shape::DeltaFrom(h.from),
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Snapshot => f.write_str("a snapshot"),
            Shape::DeltaFrom(v) => write!(f, "a delta from version {v}"),
        }
    }
}

fn given_text(config: bool, eligibility: bool) -> &'static str {
    match (config, eligibility) {
        (true, true) => "the config and the eligibility artefact",
        (true, false) => "the config artefact",
        _ => "the eligibility artefact",
    }
}

fn held_text(held: Option<u64>) -> String {
    held.map_or_else(
        || "no data is held".to_owned(),
        |v| format!("version {v} is held"),
    )
}

/// Why a version of the hub's data is not applied. The data held before
/// stays in use, whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The eligibility artefact cannot be decompressed or read.
    #[error("the eligibility artefact is unreadable: {0}")]
    Artefact(#[source] WireError),
    #[error("the {part} is {found} bytes, the metadata pins {pinned}")]
    Length { part: Part, pinned: u64, found: u64 },
    #[error("the {part}'s SHA-256 {found} differs from {pinned} pinned by the metadata")]
    Hash {
        part: Part,
        pinned: Digest32,
        found: Digest32,
    },
    #[error("the config artefact is not valid: {0}")]
    Config(#[source] WireError),
    #[error("the config artefact's trust list names key {kid} twice")]
    DuplicateTrustKey { kid: Kid },
    #[error("the config artefact names site {site} twice")]
    DuplicateSite { site: String },
    #[error("the eligibility artefact decompresses to {found} bytes, the metadata says {declared}")]
    RawLength { declared: u64, found: u64 },
    #[error("the metadata names no eligibility artefact and no data is held")]
    NothingToApply,
    #[error("an eligibility artefact was given, but the metadata names none")]
    UnexpectedEligibility,
    #[error("the artefact leads to version {artefact}, the metadata to version {metadata}")]
    WrongTarget { artefact: u64, metadata: u64 },
    #[error("the metadata announces {announced}, the artefact is {found}")]
    WrongShape { announced: Shape, found: Shape },
    #[error("the metadata pins {} that {} not given", given_text(*.config, *.eligibility), if *.config && *.eligibility { "were" } else { "was" })]
    NotGiven { config: bool, eligibility: bool },
    #[error("it is version {version}, not the held version {held}: it must be applied")]
    NotHeld { version: u64, held: u64 },
    #[error("the hub describes the held version {version} with different content")]
    HeldDiffers { version: u64 },
    #[error(
        "the data held changed while the version was fetched (planned against {}, now {})",
        held_text(*.planned),
        held_text(*.found)
    )]
    HeldChanged {
        planned: Option<u64>,
        found: Option<u64>,
    },
    #[error("the delta removes listing {sub} {category} from {valid_from}, which is not held")]
    RemovesUnheldListing {
        sub: SubjectId,
        category: Category,
        valid_from: Date,
    },
    #[error("the delta removes exclusion {sub} from {from}, which is not held")]
    RemovesUnheldExclusion { sub: SubjectId, from: Date },
    #[error(
        "the delta removes the usage of {measure} by {sub} in the period from {}, which is not held",
        period_start.display_utc8()
    )]
    RemovesUnheldUsage {
        sub: SubjectId,
        measure: MeasureId,
        period_start: UnixTime,
    },
    #[error("the delta removes redeemed code {cti}, which is not held")]
    RemovesUnheldRedeemed { cti: Cti },
    #[error("the snapshot holds listing {sub} {category} from {valid_from} twice")]
    DuplicateListing {
        sub: SubjectId,
        category: Category,
        valid_from: Date,
    },
    #[error("the snapshot holds exclusion {sub} from {from} twice")]
    DuplicateExclusion { sub: SubjectId, from: Date },
    #[error(
        "after applying, the set hash is {found} but the hub published {published}: the lists here would differ from the registry's"
    )]
    SetHash {
        found: Digest32,
        published: Digest32,
    },
    #[error(
        "after applying, {listings} listings and {exclusions} exclusions are held, the hub published {published_listings} and {published_exclusions}"
    )]
    Counts {
        listings: u64,
        exclusions: u64,
        published_listings: u64,
        published_exclusions: u64,
    },
}

/// Checks bytes as transferred against their pin.
fn pinned(part: Part, bytes: &[u8], pin: ArtefactRef) -> Result<(), Refused> {
    if bytes.len() as u64 != pin.length {
        return Err(Refused::Length {
            part,
            pinned: pin.length,
            found: bytes.len() as u64,
        });
    }
    let found = Digest32::of(bytes);
    if found != pin.sha256 {
        return Err(Refused::Hash {
            part,
            pinned: pin.sha256,
            found,
        });
    }
    Ok(())
}

/// Decides what to do with the version `meta` describes; see the module
/// doc. `meta` must already be opened with the pinned registry key; `now`
/// is the terminal's clock. `inflate` decompresses the eligibility
/// artefact, given the transferred bytes and the size they must decompress
/// to (the core links no zlib, so the edge passes one in): it is called
/// only once those bytes match their pin, and must stop one byte past that
/// size.
pub fn plan<'a>(
    meta: &'a Metadata,
    held: Option<&Held>,
    now: UnixTime,
    fetched: Fetched<'a>,
    inflate: impl FnOnce(&'a [u8], u64) -> Result<Cow<'a, [u8]>, WireError>,
) -> Result<ApplyPlan<'a>, Refused> {
    let held_version = held.map(|h| h.version);
    meta.check(held_version.unwrap_or(0), now)?;
    if meta.eligibility.is_none() && fetched.eligibility.is_some() {
        return Err(Refused::UnexpectedEligibility);
    }
    if let Some(h) = held.filter(|h| h.version == meta.version) {
        // The version held, confirmed: the same content, or a lie.
        let same = (
            meta.set_hash,
            meta.listings,
            meta.exclusions,
            meta.config.sha256,
        ) == (h.set_hash, h.listings, h.exclusions, h.config_sha256);
        if !same {
            return Err(Refused::HeldDiffers { version: h.version });
        }
        return Ok(ApplyPlan::UpToDate(Refresh {
            held: *h,
            issued_at: UnixTime(meta.issued_at),
            expires_at: UnixTime(meta.expires_at),
            newer: meta.issued_at >= h.hub_issued_at.0,
        }));
    }
    // The metadata's check leaves a version without an eligibility
    // artefact only for version 0 with nothing held: nothing to apply.
    let Some(announced) = meta.eligibility else {
        return Err(Refused::NothingToApply);
    };

    let config_new = held.is_none_or(|h| h.config_sha256 != meta.config.sha256);
    let wanted = Wanted {
        config: (config_new && fetched.config.is_none()).then_some(meta.config),
        eligibility: fetched.eligibility.is_none().then_some(announced),
    };
    let Some(bytes) = fetched.eligibility.filter(|_| wanted.config.is_none()) else {
        return Ok(ApplyPlan::Fetch(wanted));
    };

    let config = match fetched.config {
        Some(bytes) => {
            pinned(Part::Config, bytes, meta.config)?;
            let published: Config = serde_json::from_slice(bytes)
                .map_err(|e| Refused::Config(WireError::malformed("config", e.to_string())))?;
            let parsed = Config::parse(bytes).map_err(Refused::Config)?;
            check_unique(&parsed)?;
            Some(NewConfig {
                published,
                parsed,
                bytes,
            })
        }
        None => None,
    };

    pinned(Part::Eligibility, bytes, announced.artefact)?;
    let raw = inflate(bytes, announced.raw_length).map_err(Refused::Artefact)?;
    if raw.len() as u64 != announced.raw_length {
        return Err(Refused::RawLength {
            declared: announced.raw_length,
            found: raw.len() as u64,
        });
    }
    let header = Reader::new(&raw).map_err(Refused::Artefact)?.header();
    check_header(header, meta.version, announced.from)?;
    Ok(ApplyPlan::Apply(Box::new(Apply {
        meta,
        held: held.copied(),
        config,
        eligibility: Eligibility { header, raw },
    })))
}

/// A config's trust list names each key once and its sites each id once
/// (the terminal keys both by them).
fn check_unique(config: &ParsedConfig) -> Result<(), Refused> {
    let mut kids = std::collections::BTreeSet::new();
    if let Some(k) = config.trust.iter().find(|k| !kids.insert(k.kid)) {
        return Err(Refused::DuplicateTrustKey { kid: k.kid });
    }
    let mut sites = std::collections::BTreeSet::new();
    if let Some(s) = config.sites.iter().find(|s| !sites.insert(s.id.as_str())) {
        return Err(Refused::DuplicateSite { site: s.id.clone() });
    }
    Ok(())
}

/// Checks the eligibility artefact's header against the metadata. That a
/// delta's base is the version held follows: the metadata's own check
/// holds the delta it announces to the version held.
fn check_header(h: Header, to: u64, announced_from: u64) -> Result<(), Refused> {
    if h.to != to {
        return Err(Refused::WrongTarget {
            artefact: h.to,
            metadata: to,
        });
    }
    let (announced, found) = (Shape::announced(announced_from), Shape::of(h));
    if announced != found {
        return Err(Refused::WrongShape { announced, found });
    }
    Ok(())
}
