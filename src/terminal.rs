//! The terminal as an application: one enrolled terminal's store, key and
//! identity, and the operations a counter performs — scan, confirm, void,
//! sync, status. The command line and the kiosk both call this; it holds
//! no UI types.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use xinyi_core::history::DataError;
use xinyi_core::money::AmountError;
use xinyi_core::verdict::DEFAULT_SKEW_S;
use xinyi_core::{Amounts, Approval, Fen, Refusal, UnixTime, Verdict, decide};

use crate::keys::{KeyError, TerminalKey};
use crate::store::{
    DEFAULT_RETENTION_S, Identity, JournalEntry, SiteContext, Status, Store, StoreError,
};
use crate::sync::client::{self, HubClient};
use crate::sync::{Downloaded, SyncError, Uploaded};

/// Default window in which a supervisor may void a redemption.
pub const DEFAULT_VOID_WINDOW_S: i64 = 30 * 60;
/// Settings keys.
pub const SETTING_VOID_WINDOW: &str = "void_window_s";
pub const SETTING_RETENTION: &str = "retention_s";

/// Where a terminal keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub key: PathBuf,
    pub downloads: PathBuf,
}

impl Paths {
    pub fn new(dir: impl Into<PathBuf>) -> Paths {
        let dir = dir.into();
        Paths {
            db: dir.join("terminal.db"),
            key: dir.join("terminal.key"),
            downloads: dir.join("downloads"),
            dir,
        }
    }

    /// `--data-dir`, else `$XINYI_DATA_DIR`, else `$XDG_DATA_HOME/xinyi`,
    /// else `~/.local/share/xinyi`.
    pub fn resolve(arg: Option<&Path>) -> Paths {
        if let Some(d) = arg {
            return Paths::new(d);
        }
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dir = env("XINYI_DATA_DIR")
            .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("xinyi")))
            .or_else(|| env("HOME").map(|h| h.join(".local/share/xinyi")))
            .unwrap_or_else(|| PathBuf::from("xinyi-data"));
        Paths::new(dir)
    }
}

/// Why an operation failed (a refused scan is not a failure).
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("amount: {0}")]
    Amount(#[from] AmountError),
    #[error("this terminal is already enrolled (terminal {0}); it keeps its key and records")]
    AlreadyEnrolled(String),
    #[error("cannot create {}: {source}", .path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0:?} is not a record id (32 hex digits, as `xinyi records` shows)")]
    BadRecordId(String),
    #[error("this terminal syncs by file only: it was enrolled without a hub address")]
    NoHub,
}

/// The terminal's clock.
pub fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// The result of a scan.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Scan {
    /// Eligible: waits for the clerk to confirm with the amount.
    Ok(Approval),
    /// Refused: already recorded in the journal.
    Refused {
        refusal: Refusal,
        record: JournalEntry,
    },
}

/// One enrolled terminal.
#[derive(Debug)]
pub struct Terminal {
    paths: Paths,
    store: Store,
    key: TerminalKey,
    identity: Identity,
    /// The site's verdict setting, parsed once per data version (the
    /// catalogue is not re-read on every scan).
    site: Option<(Option<u64>, SiteContext)>,
    /// The hub's signed time at the last sync and the monotonic instant it
    /// arrived: a wall clock set back while running shows against it.
    anchor: Option<(UnixTime, std::time::Instant)>,
}

impl Terminal {
    /// Opens an enrolled terminal.
    pub fn open(paths: &Paths) -> Result<Terminal, TerminalError> {
        let key = TerminalKey::load(&paths.key)?;
        let store = Store::open(&paths.db)?;
        let identity = store.require_identity()?;
        Ok(Terminal::assemble(paths, store, key, identity))
    }

    fn assemble(paths: &Paths, store: Store, key: TerminalKey, identity: Identity) -> Terminal {
        Terminal {
            paths: paths.clone(),
            store,
            key,
            identity,
            site: None,
            anchor: None,
        }
    }

    /// Enrolls this machine with a hub: makes the terminal key, presents the
    /// one-time code and pins the registry key. The caller syncs next.
    pub async fn enroll(
        paths: &Paths,
        hub_url: &str,
        code: &str,
        label: &str,
        fingerprint: Option<&str>,
    ) -> Result<Terminal, TerminalError> {
        std::fs::create_dir_all(&paths.dir).map_err(|source| TerminalError::Dir {
            path: paths.dir.clone(),
            source,
        })?;
        let mut store = Store::open(&paths.db)?;
        if let Some(id) = store.identity()? {
            return Err(TerminalError::AlreadyEnrolled(id.terminal_id));
        }
        // A key left by an enrollment that failed half-way is reused, so
        // retrying with a fresh code works.
        let key = match TerminalKey::load(&paths.key) {
            Ok(k) => k,
            Err(KeyError::NotEnrolled(_)) => TerminalKey::generate_at(&paths.key)?,
            Err(e) => return Err(e.into()),
        };
        let (grant, registry_key) =
            client::enroll(hub_url, code, label, key.signing_key(), fingerprint)
                .await
                .map_err(SyncError::from)?;
        let identity = Identity {
            terminal_id: grant.terminal_id,
            site_id: grant.site,
            registry_key: registry_key.to_bytes(),
            hub_url: Some(hub_url.trim().trim_end_matches('/').to_owned()),
        };
        store.set_identity(&identity)?;
        Ok(Terminal::assemble(paths, store, key, identity))
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn key(&self) -> &TerminalKey {
        &self.key
    }

    /// A numeric setting, or its default when unset.
    pub fn setting_i64(&self, key: &str, default: i64) -> Result<i64, TerminalError> {
        Ok(self
            .store
            .setting(key)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(default))
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), TerminalError> {
        Ok(self.store.set_setting(key, value)?)
    }

    /// Decides on a scanned text for `measure`. A refusal is recorded in
    /// the journal (committed) before this returns.
    pub fn scan(
        &mut self,
        text: &str,
        measure: &str,
        operator: &str,
        at: UnixTime,
    ) -> Result<Scan, TerminalError> {
        let site = self.site_context()?;
        let mut ctx = site.context(DEFAULT_SKEW_S);
        ctx.clock_floor = self.clock_floor(&site)?;
        let verdict = decide(&ctx, &self.store, &self.store, text, measure, at)?;
        Ok(match verdict {
            Verdict::Ok(a) => Scan::Ok(a),
            Verdict::Refused(refusal) => {
                let record = self.store.record_refusal(
                    self.key.signing_key(),
                    operator,
                    at,
                    measure,
                    &refusal,
                )?;
                Scan::Refused { refusal, record }
            }
        })
    }

    /// The site's setting for verdicts, re-read when the data version or
    /// the hub's signed time changes.
    pub fn site_context(&mut self) -> Result<SiteContext, TerminalError> {
        let state = self.store.data_state()?;
        let key = state.as_ref().map(|s| s.version);
        let fresh_as_of = state.map(|s| s.hub_issued_at.max(s.published_at));
        match &self.site {
            Some((v, ctx)) if *v == key && ctx.data_as_of == fresh_as_of => Ok(ctx.clone()),
            _ => {
                let ctx = self.store.site_context()?;
                self.site = Some((key, ctx.clone()));
                Ok(ctx)
            }
        }
    }

    /// The latest time already trusted: the hub's signed time (from the
    /// site setting, re-read when it changes), the last record (read on
    /// every scan: it moves with each one), and, while this process runs,
    /// the hub's time carried forward by the monotonic clock since the
    /// last sync.
    pub fn clock_floor(&self, site: &SiteContext) -> Result<Option<UnixTime>, TerminalError> {
        let carried = self
            .anchor
            .map(|(hub, since)| UnixTime(hub.0.saturating_add(since.elapsed().as_secs() as i64)));
        Ok(site
            .clock_floor
            .max(self.store.last_record_at()?)
            .max(carried))
    }

    /// Records the clerk's confirmation; committed before it returns.
    pub fn confirm(
        &mut self,
        approval: &Approval,
        amount: Option<Fen>,
        companions: u32,
        operator: &str,
        at: UnixTime,
    ) -> Result<(JournalEntry, Amounts), TerminalError> {
        let amounts = approval.amounts(amount.unwrap_or(Fen::ZERO), companions)?;
        let entry = self
            .store
            .redeem(self.key.signing_key(), operator, at, approval, &amounts)?;
        Ok((entry, amounts))
    }

    /// Voids a redemption (by its record id in hex) within the window.
    pub fn void(
        &mut self,
        id_hex: &str,
        supervisor: &str,
        reason: &str,
        at: UnixTime,
    ) -> Result<JournalEntry, TerminalError> {
        let id: [u8; 16] = xinyi_core::hex::decode_array(id_hex.trim())
            .map_err(|_| TerminalError::BadRecordId(id_hex.to_owned()))?;
        let window = self.setting_i64(SETTING_VOID_WINDOW, DEFAULT_VOID_WINDOW_S)?;
        Ok(self
            .store
            .void(self.key.signing_key(), supervisor, id, reason, at, window)?)
    }

    pub fn status(&self, at: UnixTime) -> Result<Status, TerminalError> {
        Ok(self.store.status(at)?)
    }

    pub fn records(&self, limit: usize) -> Result<Vec<JournalEntry>, TerminalError> {
        Ok(self.store.recent(limit)?)
    }

    fn client(&self) -> Result<HubClient, TerminalError> {
        let url = self
            .identity
            .hub_url
            .as_deref()
            .ok_or(TerminalError::NoHub)?;
        Ok(HubClient::new(url, self.key.signing_key().clone()).map_err(SyncError::from)?)
    }

    /// Downloads and applies new data, then uploads the journal. Each half
    /// reports on its own: records still leave when the download is refused.
    pub async fn sync(
        &mut self,
        at: UnixTime,
    ) -> Result<(Result<Downloaded, SyncError>, Result<Uploaded, SyncError>), TerminalError> {
        let client = self.client()?;
        let down = crate::sync::download(&mut self.store, &client, &self.paths.downloads, at).await;
        // A rotation may have re-pinned the registry key.
        self.identity = self.store.require_identity()?;
        let up = crate::sync::upload(&mut self.store, &client, at).await;
        if up.is_ok() {
            let retention = self.setting_i64(SETTING_RETENTION, DEFAULT_RETENTION_S)?;
            self.store.purge(at, retention)?;
        }
        Ok((down, up))
    }

    /// Applies a data bundle carried by hand (sites without a network).
    pub fn import_bundle(
        &mut self,
        bytes: &[u8],
        at: UnixTime,
    ) -> Result<Downloaded, TerminalError> {
        let d = crate::sync::import_bundle(&mut self.store, bytes, at)?;
        self.identity = self.store.require_identity()?;
        if let Some(state) = self.store.data_state()? {
            self.anchor = Some((state.hub_issued_at, std::time::Instant::now()));
        }
        Ok(d)
    }

    /// Every record not yet confirmed by the hub, as a records file.
    pub fn export_records(&self) -> Result<(usize, Vec<u8>), TerminalError> {
        Ok(crate::sync::export_records(&self.store)?)
    }

    /// Uploads the journal only (right after a redemption).
    pub async fn upload(&mut self, at: UnixTime) -> Result<Uploaded, TerminalError> {
        let client = self.client()?;
        Ok(crate::sync::upload(&mut self.store, &client, at).await?)
    }
}
