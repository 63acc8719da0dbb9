//! Sync with the registry hub: download, verify and apply data; upload the
//! journal.
//!
//! [`client`] moves bytes; this module decides what to trust. Metadata must
//! be signed by the registry key pinned at enrollment, no older than what
//! is held and not expired; artefacts must match the hashes and sizes the
//! metadata pins; the eligibility artefact is applied in one transaction
//! and proven by the set hash before it commits. What the registry says
//! about this terminal — the records it holds, that it is revoked — is
//! acted on only when signed by the registry key and naming this terminal:
//! a standing for another terminal (a bundle made for another counter) is
//! ignored, an unsigned receipt is refused. After an upload the records
//! confirmed long enough ago are purged. [`worker`] runs all of it on its
//! own thread with its own tokio runtime, on a timer and right after a
//! redemption, backing off with jitter while the hub is unreachable.

pub mod client;
pub mod worker;

use std::io::Read;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use flate2::read::ZlibDecoder;
use xinyi_core::UnixTime;
use xinyi_core::wire::bundle::{BUNDLE_HEAD, Bundle, records_to_bytes};
use xinyi_core::wire::config::Config;
use xinyi_core::wire::metadata::{ArtefactRef, Metadata, MetadataError, TerminalStanding};
use xinyi_core::wire::receipt::{RevocationNotice, UploadReceipt};
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
    #[error(
        "the hub's metadata is about terminal {names}, not this terminal ({this}): refused (a man in the middle, or a misconfigured hub)"
    )]
    ForeignStanding { names: String, this: String },
    #[error("the hub's answer about this terminal is for terminal {names}, not {this}: refused")]
    ForeignReceipt { names: String, this: String },
    #[error("cannot read the data bundle {}: {source}", .path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the data bundle is {found} bytes, but its signed metadata describes one of {expected}: refused"
    )]
    BundleSize { expected: u64, found: u64 },
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

/// Where metadata came from: an answer to this terminal's own signed
/// request must be about this terminal; a bundle carried by hand may have
/// been made for another terminal (its list data still applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Hub,
    Bundle,
}

/// Metadata opened with the pinned key and checked, with this terminal's
/// own standing (`None` when it carries none, or one for another terminal
/// in a bundle).
struct Opened {
    meta: Metadata,
    held: u64,
    rotated: Option<VerifyingKey>,
    standing: Option<TerminalStanding>,
}

/// Opens metadata with the pinned registry key (or a key it signed over)
/// and checks it against what is held: the first step of every sync,
/// over HTTP or from a file. A standing that revokes this terminal wipes
/// its list data.
fn open_metadata(
    store: &mut Store,
    bytes: &[u8],
    now: UnixTime,
    source: Source,
) -> Result<Opened, SyncError> {
    let identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
    let pinned = identity.registry_verifying_key()?;
    let (meta, rotated) = Metadata::open_following(bytes, &pinned)?;
    let held = store.data_state()?.map_or(0, |s| s.version);
    meta.check(held, now)?;
    let standing = match &meta.terminal {
        Some(t) if t.id == identity.terminal_id => Some(t.clone()),
        Some(t) if source == Source::Hub => {
            return Err(SyncError::ForeignStanding {
                names: t.id.clone(),
                this: identity.terminal_id,
            });
        }
        Some(t) => {
            tracing::warn!(
                bundle_for = %t.id,
                "the data bundle was made for another terminal: its list data applies, its standing is ignored"
            );
            None
        }
        None => None,
    };
    if standing.as_ref().is_some_and(|t| t.revoked) {
        store.wipe_eligibility()?;
        return Err(SyncError::Revoked);
    }
    Ok(Opened {
        meta,
        held,
        rotated,
        standing,
    })
}

/// The hub answered a revoked terminal with a notice: wipe only when it is
/// signed by the registry key and names this terminal.
fn revoked(store: &mut Store, notice: &[u8]) -> SyncError {
    let check = || -> Result<(), SyncError> {
        let identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
        let n = RevocationNotice::open(notice, &identity.registry_verifying_key()?)?;
        if n.terminal != identity.terminal_id {
            return Err(SyncError::ForeignReceipt {
                names: n.terminal,
                this: identity.terminal_id,
            });
        }
        Ok(())
    };
    match check() {
        Ok(()) => match store.wipe_eligibility() {
            Ok(()) => SyncError::Revoked,
            Err(e) => e.into(),
        },
        Err(e) => e,
    }
}

/// After the metadata was used: pin a rotated registry key, and take the
/// registry's signed word for the records it holds of this terminal.
fn settle(store: &mut Store, opened: &Opened, now: UnixTime) -> Result<(), SyncError> {
    if let Some(new) = opened.rotated {
        let mut identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
        tracing::info!(new_key = %xinyi_core::wire::key_id(new.as_bytes()), "following the registry's key rotation");
        identity.registry_key = new.to_bytes();
        store.set_identity(&identity)?;
    }
    if let Some(h) = opened
        .standing
        .as_ref()
        .and_then(|t| t.holding(opened.meta.issued_at))
    {
        let id = store.require_identity()?.terminal_id;
        store.settle_holding(&h, &id, now)?;
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
    opened: &Opened,
    artefacts: Option<(Option<Vec<u8>>, &[u8])>,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let (meta, held) = (&opened.meta, opened.held);
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
    settle(store, opened, now)?;
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
    let meta_bytes = match client.metadata(held_before, now).await {
        Err(ClientError::Revoked { notice }) => return Err(revoked(store, &notice)),
        other => other?,
    };
    let opened = open_metadata(store, &meta_bytes, now, Source::Hub)?;
    let Some(elig) = opened.meta.eligibility else {
        return finish(store, &opened, None, now);
    };
    let config = if config_needed(store, &opened.meta)? {
        Some(client.artefact(opened.meta.config, downloads, now).await?)
    } else {
        None
    };
    let packed = client.artefact(elig.artefact, downloads, now).await?;
    finish(store, &opened, Some((config, &packed)), now)
}

/// Applies a data bundle carried by hand (`xinyi-hub bundle export`): the
/// same checks as over HTTP — pinned key, version, expiry, pinned hashes and
/// sizes, set hash. The metadata is read and checked first, and the rest
/// only when the bundle's size is what that signed metadata describes: a
/// file of any other size is refused before it is read.
pub fn import_bundle(
    store: &mut Store,
    mut bundle: impl Read,
    size: u64,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let io = |source| SyncError::File {
        path: "(bundle)".into(),
        source,
    };
    let mut head = [0u8; BUNDLE_HEAD];
    bundle
        .read_exact(&mut head)
        .map_err(|_| WireError::malformed("data bundle", "shorter than a bundle's header"))?;
    let meta_len = Bundle::metadata_len(&head)?;
    let mut metadata = vec![0u8; meta_len as usize];
    bundle
        .read_exact(&mut metadata)
        .map_err(|_| WireError::malformed("data bundle", "ends inside its metadata"))?;
    let opened = open_metadata(store, &metadata, now, Source::Bundle)?;
    let expected = Bundle::size(
        u64::from(meta_len),
        opened.meta.config.length,
        opened.meta.eligibility.map_or(0, |e| e.artefact.length),
    );
    if size != expected {
        return Err(SyncError::BundleSize {
            expected,
            found: size,
        });
    }
    let mut whole = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    whole.extend_from_slice(&head);
    whole.extend_from_slice(&metadata);
    bundle
        .take(expected - whole.len() as u64)
        .read_to_end(&mut whole)
        .map_err(io)?;
    let parsed = Bundle::parse(&whole)?;
    if opened.meta.version == opened.held {
        return finish(store, &opened, None, now);
    }
    let config = if config_needed(store, &opened.meta)? {
        Some(parsed.config)
    } else {
        None
    };
    finish(store, &opened, Some((config, &parsed.eligibility)), now)
}

/// [`import_bundle`] from a file.
pub fn import_bundle_file(
    store: &mut Store,
    path: &Path,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let io = |source| SyncError::File {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    import_bundle(store, std::io::BufReader::new(file), size, now)
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

/// Opens an upload receipt: signed by the pinned registry key and about
/// this terminal, or refused.
fn open_receipt(store: &Store, bytes: &[u8]) -> Result<UploadReceipt, SyncError> {
    let identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
    let receipt = UploadReceipt::open(bytes, &identity.registry_verifying_key()?)?;
    if receipt.terminal != identity.terminal_id {
        return Err(SyncError::ForeignReceipt {
            names: receipt.terminal,
            this: identity.terminal_id,
        });
    }
    Ok(receipt)
}

/// Uploads every record not yet confirmed by the hub, in batches, marking
/// them by the registry's signed receipts; then purges what was confirmed
/// longer ago than the retention period.
pub async fn upload(
    store: &mut Store,
    client: &HubClient,
    now: UnixTime,
) -> Result<Uploaded, SyncError> {
    let mut total = Uploaded::default();
    loop {
        let batch = store.unsent(UPLOAD_BATCH)?;
        if batch.is_empty() {
            break;
        }
        let receipt = open_receipt(store, &client.upload(&batch, now).await?)?;
        total.sent += batch.len();
        total.stored += receipt.stored;
        total.duplicates += receipt.duplicates;
        total.held_through = receipt.held_through;
        let before = store.unsent_count()?;
        let id = store.require_identity()?.terminal_id;
        store.settle_holding(&receipt.holding(), &id, now)?;
        if store.unsent_count()? >= before {
            // The hub holds less than we sent and nothing moved: stop
            // rather than loop; the next round tries again.
            break;
        }
    }
    let retention = store.retention_s()?;
    store.purge(now, retention)?;
    Ok(total)
}
