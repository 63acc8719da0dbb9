//! Sync with the registry hub: download, verify and apply data; upload the
//! journal.
//!
//! [`client`] moves bytes; this module decides what to trust. Metadata must
//! be signed by the registry key pinned at enrollment, no older than what
//! is held and not expired; artefacts must match the hashes and sizes the
//! metadata pins; the eligibility artefact is applied in one transaction
//! and proven by the set hash before it commits. [`worker`] runs all of it
//! on its own thread with its own tokio runtime, on a timer and right after
//! a redemption, backing off with jitter while the hub is unreachable.

pub mod client;
pub mod worker;

use std::io::Read;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use flate2::read::ZlibDecoder;
use xinyi_core::UnixTime;
use xinyi_core::wire::bundle::{Bundle, records_to_bytes};
use xinyi_core::wire::config::Config;
use xinyi_core::wire::metadata::{ArtefactRef, Metadata, MetadataError};
use xinyi_core::wire::{Digest32, WireError};

use crate::store::{Store, StoreError};
use client::{ClientError, HubClient};

/// Records per upload request.
pub const UPLOAD_BATCH: usize = 500;

/// Why a sync did not complete. The data held before it stays in use.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the hub's data was refused: {0}")]
    Metadata(#[from] MetadataError),
    #[error("the hub's data was refused: {0}")]
    Wire(#[from] WireError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "this terminal has been revoked by the registry; its list data was wiped. Ask the credit office to enroll it again"
    )]
    Revoked,
    #[error("not enrolled: run `xinyi enroll --hub URL --code CODE`")]
    NotEnrolled,
}

impl SyncError {
    /// Whether retrying later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Client(c) if c.is_transient())
    }
}

/// What a download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Downloaded {
    /// Already at the hub's version; the hub's signed time was refreshed.
    UpToDate { version: u64 },
    /// A new version was applied.
    Applied {
        from: u64,
        to: u64,
        delta: bool,
        listings: u64,
    },
}

/// What an upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Uploaded {
    pub sent: usize,
    pub stored: u64,
    pub duplicates: u64,
    pub held_through: u64,
}

/// Decompresses an artefact, refusing more than `raw_length` bytes.
pub fn inflate(bytes: &[u8], raw_length: u64) -> Result<Vec<u8>, WireError> {
    let what = "eligibility artefact";
    let mut out = Vec::with_capacity(raw_length.min(64 << 20) as usize);
    ZlibDecoder::new(bytes)
        .take(raw_length.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| WireError::malformed(what, format!("cannot decompress: {e}")))?;
    if out.len() as u64 != raw_length {
        return Err(WireError::TooLarge {
            what,
            limit: raw_length,
            found: out.len() as u64,
        });
    }
    Ok(out)
}

/// Checks bytes against the hash and size the metadata pins.
fn pinned(what: &'static str, bytes: &[u8], pin: ArtefactRef) -> Result<(), WireError> {
    if bytes.len() as u64 != pin.length {
        return Err(WireError::TooLarge {
            what,
            limit: pin.length,
            found: bytes.len() as u64,
        });
    }
    let found = Digest32::of(bytes);
    if found != pin.sha256 {
        return Err(WireError::HashMismatch {
            what,
            expected: pin.sha256.to_hex(),
            found: found.to_hex(),
        });
    }
    Ok(())
}

/// Opens metadata with the pinned registry key (or a key it signed over)
/// and checks it against what is held: the first step of every sync,
/// over HTTP or from a file.
fn open_metadata(
    store: &mut Store,
    bytes: &[u8],
    now: UnixTime,
) -> Result<(Metadata, u64, Option<VerifyingKey>), SyncError> {
    let identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
    let pinned = identity.registry_verifying_key()?;
    let (meta, rotated) = Metadata::open_following(bytes, &pinned)?;
    let held = store.data_state()?.map_or(0, |s| s.version);
    meta.check(held, now)?;
    if meta.terminal.as_ref().is_some_and(|t| t.revoked) {
        store.wipe_eligibility()?;
        return Err(SyncError::Revoked);
    }
    Ok((meta, held, rotated))
}

/// After the metadata was used: pin a rotated registry key, and take the
/// hub's word for the records it holds.
fn settle(
    store: &mut Store,
    meta: &Metadata,
    rotated: Option<VerifyingKey>,
    now: UnixTime,
) -> Result<(), SyncError> {
    if let Some(new) = rotated {
        let mut identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
        tracing::info!(new_key = %xinyi_core::wire::key_id(new.as_bytes()), "following the registry's key rotation");
        identity.registry_key = new.to_bytes();
        store.set_identity(&identity)?;
    }
    if let Some(through) = meta.terminal.as_ref().and_then(|t| t.held_through) {
        store.mark_uploaded(through, now)?;
    }
    Ok(())
}

/// Checks, decompresses and applies one version's artefacts.
fn accept(
    store: &mut Store,
    meta: &Metadata,
    config: Option<Vec<u8>>,
    eligibility: &[u8],
    now: UnixTime,
) -> Result<(), SyncError> {
    let Some(elig) = meta.eligibility else {
        return Err(SyncError::Wire(WireError::malformed(
            "metadata",
            "names no eligibility artefact",
        )));
    };
    pinned("eligibility artefact", eligibility, elig.artefact)?;
    let config = match config {
        Some(bytes) => {
            pinned("config artefact", &bytes, meta.config)?;
            let parsed = Config::parse(&bytes)?;
            Some((bytes, parsed))
        }
        None => None,
    };
    let raw = inflate(eligibility, elig.raw_length)?;
    store.apply(
        meta,
        config.as_ref().map(|(b, c)| (b.as_slice(), c)),
        Some(&raw),
        now,
    )?;
    Ok(())
}

/// Whether the config artefact the metadata names differs from the one held.
fn config_needed(store: &Store, meta: &Metadata) -> Result<bool, SyncError> {
    Ok(store
        .data_state()?
        .is_none_or(|s| s.config_sha256 != meta.config.sha256))
}

/// The last step of every sync, over HTTP or from a file: apply the
/// artefacts (or, with none, only refresh the hub's signed time), then
/// settle the key and the record receipt.
fn finish(
    store: &mut Store,
    meta: &Metadata,
    rotated: Option<VerifyingKey>,
    held: u64,
    artefacts: Option<(Option<Vec<u8>>, &[u8])>,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let outcome = match artefacts {
        None => {
            store.record_hub_contact(meta, now)?;
            Downloaded::UpToDate {
                version: meta.version,
            }
        }
        Some((config, eligibility)) => {
            accept(store, meta, config, eligibility, now)?;
            Downloaded::Applied {
                from: held,
                to: meta.version,
                delta: meta.eligibility.is_some_and(|e| e.from != 0),
                listings: meta.listings,
            }
        }
    };
    settle(store, meta, rotated, now)?;
    Ok(outcome)
}

/// Downloads and applies what the hub publishes, if it is newer.
pub async fn download(
    store: &mut Store,
    client: &HubClient,
    downloads: &Path,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let held_before = store.data_state()?.map_or(0, |s| s.version);
    let meta_bytes = client.metadata(held_before, now).await?;
    let (meta, held, rotated) = open_metadata(store, &meta_bytes, now)?;
    let Some(elig) = meta.eligibility else {
        return finish(store, &meta, rotated, held, None, now);
    };
    let config = if config_needed(store, &meta)? {
        Some(client.artefact(meta.config, downloads, now).await?)
    } else {
        None
    };
    let packed = client.artefact(elig.artefact, downloads, now).await?;
    finish(store, &meta, rotated, held, Some((config, &packed)), now)
}

/// Applies a data bundle carried by hand (`xinyi-hub bundle export`): the
/// same checks as over HTTP — pinned key, version, expiry, pinned hashes and
/// sizes, set hash.
pub fn import_bundle(
    store: &mut Store,
    bytes: &[u8],
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let bundle = Bundle::parse(bytes)?;
    let (meta, held, rotated) = open_metadata(store, &bundle.metadata, now)?;
    if meta.version == held {
        return finish(store, &meta, rotated, held, None, now);
    }
    let config = if config_needed(store, &meta)? {
        Some(bundle.config)
    } else {
        None
    };
    finish(
        store,
        &meta,
        rotated,
        held,
        Some((config, &bundle.eligibility)),
        now,
    )
}

/// Every record not yet confirmed by the hub, as a records file for
/// `xinyi-hub ingest`. They stay unconfirmed until the hub's answer comes
/// back (over HTTP or in a bundle made for this terminal).
pub fn export_records(store: &Store) -> Result<(usize, Vec<u8>), SyncError> {
    let identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
    let records = store.unsent(usize::MAX)?;
    Ok((
        records.len(),
        records_to_bytes(&identity.terminal_id, &records),
    ))
}

/// Uploads every record not yet confirmed by the hub, in batches.
pub async fn upload(
    store: &mut Store,
    client: &HubClient,
    now: UnixTime,
) -> Result<Uploaded, SyncError> {
    let mut total = Uploaded::default();
    loop {
        let batch = store.unsent(UPLOAD_BATCH)?;
        if batch.is_empty() {
            return Ok(total);
        }
        let receipt = client.upload(&batch, now).await?;
        total.sent += batch.len();
        total.stored += receipt.stored;
        total.duplicates += receipt.duplicates;
        total.held_through = receipt.held_through;
        let before = store.unsent_count()?;
        store.mark_uploaded(receipt.held_through, now)?;
        if store.unsent_count()? == before {
            // The hub holds less than we sent and nothing moved: stop
            // rather than loop; the next round tries again.
            return Ok(total);
        }
    }
}
