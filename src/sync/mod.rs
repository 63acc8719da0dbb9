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
use xinyi_core::wire::WireError;
use xinyi_core::wire::config::Config;
use xinyi_core::wire::metadata::{Metadata, MetadataError};

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

/// Downloads and applies what the hub publishes, if it is newer.
pub async fn download(
    store: &mut Store,
    client: &HubClient,
    registry_key: &VerifyingKey,
    downloads: &Path,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let held = store.data_state()?.map_or(0, |s| s.version);
    let meta_bytes = client.metadata(held).await?;
    let meta = Metadata::open(&meta_bytes, registry_key)?;
    meta.check(held, now)?;
    if meta.terminal.as_ref().is_some_and(|t| t.revoked) {
        store.wipe_eligibility()?;
        return Err(SyncError::Revoked);
    }
    let Some(elig) = meta.eligibility else {
        store.record_hub_contact(&meta, now)?;
        return Ok(Downloaded::UpToDate {
            version: meta.version,
        });
    };
    let config_bytes = if store
        .data_state()?
        .is_some_and(|s| s.config_sha256 == meta.config.sha256)
    {
        None
    } else {
        Some(client.artefact(meta.config, downloads).await?)
    };
    let config = match &config_bytes {
        Some(b) => Some((b.as_slice(), Config::parse(b)?)),
        None => None,
    };
    let packed = client.artefact(elig.artefact, downloads).await?;
    let raw = inflate(&packed, elig.raw_length)?;
    store.apply(
        &meta,
        config.as_ref().map(|(b, c)| (*b, c)),
        Some(&raw),
        now,
    )?;
    Ok(Downloaded::Applied {
        from: held,
        to: meta.version,
        delta: elig.from != 0,
        listings: meta.listings,
    })
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
        let receipt = client.upload(&batch).await?;
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
