//! Sync with the registry hub: download, verify and apply data; upload the
//! journal.
//!
//! [`client`] moves bytes; this module opens the metadata with the registry
//! key pinned at enrollment, fetches what the core's pure
//! [`plan`](xinyi_core::wire::plan::plan) asks for and hands the plan to
//! the store to execute. The plan is where the version is judged — no
//! older than what is held and not expired, artefacts matching the hashes
//! and sizes the metadata pins, the header announced — for HTTP and
//! bundles alike; the store applies it in one transaction and proves it by
//! the set hash before it commits. What the registry says
//! about this terminal — the records it holds, that it is revoked — is
//! acted on only when signed by the registry key and naming this terminal:
//! a standing for another terminal (a bundle made for another counter) is
//! ignored, an unsigned receipt is refused. After an upload the records
//! confirmed long enough ago are purged. [`worker`] runs all of it on its
//! own thread with its own tokio runtime, on a timer and right after a
//! redemption, backing off with jitter while the hub is unreachable.

pub mod client;
pub mod online;
pub mod worker;

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use flate2::read::ZlibDecoder;
use xinyi_core::UnixTime;
use xinyi_core::wire::WireError;
use xinyi_core::wire::bundle::{BUNDLE_HEAD, Bundle, records_to_bytes};
use xinyi_core::wire::eligibility::ArtefactKind;
use xinyi_core::wire::metadata::{Metadata, MetadataError, TerminalStanding};
use xinyi_core::wire::plan::{ApplyPlan, Fetched, Held, Refused, Wanted, plan, uncompressed};
use xinyi_core::wire::receipt::{RevocationNotice, UploadReceipt};

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
        "version {version} of the hub's data was refused, the data held before stays in use: {reason}"
    )]
    Refused {
        version: u64,
        #[source]
        reason: Refused,
    },
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

/// [`inflate`] for the plan: called only once the artefact matched its pin.
fn inflating(bytes: &[u8], raw_length: u64) -> Result<Cow<'_, [u8]>, WireError> {
    inflate(bytes, raw_length).map(Cow::Owned)
}

/// A refusal of the plan, as a sync error.
fn refusal(version: u64, reason: Refused) -> SyncError {
    match reason {
        Refused::Metadata(e) => SyncError::Metadata(e),
        Refused::Artefact(e) => SyncError::Wire(e),
        reason => SyncError::Refused { version, reason },
    }
}

/// Where metadata came from: an answer to this terminal's own signed
/// request must be about this terminal; a bundle carried by hand may have
/// been made for another terminal (its list data still applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Hub,
    Bundle,
}

/// Metadata opened with the pinned key, with this terminal's own standing
/// (`None` when it carries none, or one for another terminal in a bundle).
struct Opened {
    meta: Metadata,
    rotated: Option<VerifyingKey>,
    standing: Option<TerminalStanding>,
}

/// Opens metadata with the pinned registry key (or a key it signed over),
/// plans it against what is held — the first step of every sync, over HTTP
/// or from a file — and only then reads this terminal's standing: one that
/// revokes it wipes its list data. The plan says what to fetch.
fn open_metadata(
    store: &mut Store,
    bytes: &[u8],
    now: UnixTime,
    source: Source,
) -> Result<(Opened, Option<Held>, Wanted), SyncError> {
    let identity = store.identity()?.ok_or(SyncError::NotEnrolled)?;
    let pinned = identity.registry_verifying_key()?;
    let (meta, rotated) = Metadata::open_following(bytes, &pinned)?;
    let held = store.held()?;
    let wanted = match plan(&meta, held.as_ref(), now, Fetched::NOTHING, uncompressed) {
        Ok(ApplyPlan::Fetch(wanted)) => wanted,
        Ok(_) => Wanted {
            config: None,
            eligibility: None,
        },
        Err(r) => return Err(refusal(meta.version, r)),
    };
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
    Ok((
        Opened {
            meta,
            rotated,
            standing,
        },
        held,
        wanted,
    ))
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

/// The last step of every sync, over HTTP or from a file: plan again with
/// what was fetched, execute the plan (apply the version, or only record
/// the hub's signed time), then settle the key and the record receipt.
fn finish(
    store: &mut Store,
    opened: &Opened,
    held: Option<&Held>,
    fetched: Fetched<'_>,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let meta = &opened.meta;
    let step = plan(meta, held, now, fetched, inflating).map_err(|r| refusal(meta.version, r))?;
    let outcome = match step {
        ApplyPlan::UpToDate(refresh) => {
            store.refresh(&refresh, now)?;
            Downloaded::UpToDate {
                version: meta.version,
            }
        }
        ApplyPlan::Apply(apply) => {
            let done = store.execute(&apply, now)?;
            Downloaded::Applied {
                from: done.from,
                to: done.to,
                delta: apply.eligibility.kind() == ArtefactKind::Delta,
                listings: done.listings,
            }
        }
        // Everything wanted was fetched; a plan that still wants more is
        // a hub whose answers disagree.
        ApplyPlan::Fetch(_) => {
            return Err(SyncError::Wire(WireError::malformed(
                "metadata",
                "pins artefacts that the fetched ones do not provide",
            )));
        }
    };
    settle(store, opened, now)?;
    Ok(outcome)
}

/// Downloads and applies what the hub publishes, if it is newer: the plan
/// says which artefacts to fetch, the client fetches no more than their
/// pinned lengths, and the plan checks them before the store applies them.
pub async fn download(
    store: &mut Store,
    client: &HubClient,
    downloads: &Path,
    now: UnixTime,
) -> Result<Downloaded, SyncError> {
    let held_before = store.data_state()?.map_or(0, |s| s.version);
    let (head, _) = store.journal_head()?;
    let meta_bytes = match client.metadata(held_before, head, now).await {
        Err(ClientError::Revoked { notice }) => return Err(revoked(store, &notice)),
        other => other?,
    };
    let (opened, held, wanted) = open_metadata(store, &meta_bytes, now, Source::Hub)?;
    let config = match wanted.config {
        Some(pin) => Some(client.artefact(pin, downloads, now).await?),
        None => None,
    };
    let packed = match wanted.eligibility {
        Some(e) => Some(client.artefact(e.artefact, downloads, now).await?),
        None => None,
    };
    let fetched = Fetched {
        config: config.as_deref(),
        eligibility: packed.as_deref(),
    };
    finish(store, &opened, held.as_ref(), fetched, now)
}

/// Applies a data bundle carried by hand (`xinyi-hub bundle export`): the
/// same plan as over HTTP — pinned key, version, expiry, pinned hashes and
/// sizes, set hash. The metadata is read and planned first, and the rest
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
    let (opened, held, wanted) = open_metadata(store, &metadata, now, Source::Bundle)?;
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
    let fetched = Fetched {
        config: wanted.config.map(|_| parsed.config.as_slice()),
        eligibility: wanted.eligibility.map(|_| parsed.eligibility.as_slice()),
    };
    finish(store, &opened, held.as_ref(), fetched, now)
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
