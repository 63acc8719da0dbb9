//! The sync worker: its own thread, its own tokio runtime and its own
//! database connection, so the UI and the counter never wait on the
//! network. It downloads every 5 minutes, uploads every 60 s and right
//! after a redemption, and backs off with jitter while the hub is away.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use tokio::sync::mpsc;
use xinyi_core::UnixTime;

use super::client::HubClient;
use super::{Downloaded, SyncError, Uploaded, download, upload};
use crate::store::Store;

/// What the worker needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub db_path: PathBuf,
    pub downloads: PathBuf,
    pub hub_url: String,
    /// The hub's CA certificate (PEM), when enrollment gave one.
    pub hub_ca: Option<String>,
    pub key: SigningKey,
    pub download_every: Duration,
    pub upload_every: Duration,
    /// The longest wait between attempts while the hub is unreachable.
    pub max_backoff: Duration,
}

impl WorkerConfig {
    pub fn new(
        db_path: PathBuf,
        downloads: PathBuf,
        hub_url: String,
        key: SigningKey,
    ) -> WorkerConfig {
        WorkerConfig {
            db_path,
            downloads,
            hub_url,
            hub_ca: None,
            key,
            download_every: Duration::from_secs(300),
            upload_every: Duration::from_secs(60),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// The worker's view of the channel, for the status bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// Whether the last contact with the hub worked (None before the first).
    pub online: Option<bool>,
    pub last_download: Option<(UnixTime, Downloaded)>,
    pub last_upload: Option<(UnixTime, Uploaded)>,
    /// The last failure, in words, while it lasts.
    pub last_error: Option<String>,
    /// Consecutive failures (drives the backoff).
    pub failures: u32,
}

enum Command {
    SyncNow,
    UploadNow,
    Stop,
}

/// A running worker. Dropping it stops the worker.
#[derive(Debug)]
pub struct SyncHandle {
    tx: mpsc::UnboundedSender<Command>,
    status: Arc<Mutex<SyncStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl SyncHandle {
    /// Download and upload now (the staff's "sync now").
    pub fn sync_now(&self) {
        let _ = self.tx.send(Command::SyncNow);
    }

    /// Upload soon (after a redemption).
    pub fn upload_now(&self) {
        let _ = self.tx.send(Command::UploadNow);
    }

    pub fn status(&self) -> SyncStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops the worker and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// The wait after `failures` consecutive failures: doubling from 5 s up to
/// `max`, times a random factor in [0.5, 1.5) so that many terminals coming
/// back at once do not hit the hub together.
pub fn backoff(failures: u32, max: Duration, jitter_per_mille: u32) -> Duration {
    let base = Duration::from_secs(5)
        .saturating_mul(1u32 << failures.min(16))
        .min(max);
    base.saturating_mul(500 + jitter_per_mille % 1000) / 1000
}

fn jitter() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

/// Starts the worker. `on_change` is called (on the worker thread) after
/// every attempt, e.g. to post the new status to the UI's event loop.
pub fn spawn(
    cfg: WorkerConfig,
    on_change: Box<dyn Fn(&SyncStatus) + Send>,
) -> std::io::Result<SyncHandle> {
    let (tx, rx) = mpsc::unbounded_channel();
    let status = Arc::new(Mutex::new(SyncStatus::default()));
    let shared = status.clone();
    let thread = std::thread::Builder::new()
        .name("xinyi-sync".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("sync worker cannot start its runtime: {e}");
                    return;
                }
            };
            rt.block_on(run(cfg, rx, shared, on_change));
        })?;
    Ok(SyncHandle {
        tx,
        status,
        thread: Some(thread),
    })
}

async fn run(
    cfg: WorkerConfig,
    mut rx: mpsc::UnboundedReceiver<Command>,
    status: Arc<Mutex<SyncStatus>>,
    on_change: Box<dyn Fn(&SyncStatus) + Send>,
) {
    let client = match HubClient::new(&cfg.hub_url, cfg.key.clone(), cfg.hub_ca.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("sync worker: {e}");
            return;
        }
    };
    let mut next_down = tokio::time::Instant::now();
    let mut next_up = next_down;
    loop {
        let wake = next_down.min(next_up);
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::SyncNow) => { next_down = tokio::time::Instant::now(); next_up = next_down; }
                Some(Command::UploadNow) => next_up = tokio::time::Instant::now(),
                Some(Command::Stop) | None => return,
            },
            () = tokio::time::sleep_until(wake) => {}
        }
        let t = tokio::time::Instant::now();
        if t < next_down && t < next_up {
            continue;
        }
        // A fresh connection per round keeps the worker independent of
        // whatever the counter is doing with its own connection.
        let mut store = match Store::open(&cfg.db_path) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("sync worker cannot open the store: {e}");
                next_down = t + cfg.max_backoff;
                next_up = next_down;
                continue;
            }
        };
        let mut result: Result<(), SyncError> = Ok(());
        if t >= next_down {
            match download(&mut store, &client, &cfg.downloads, now()).await {
                Ok(d) => {
                    tracing::info!("sync: {d:?}");
                    if let Ok(mut s) = status.lock() {
                        s.last_download = Some((now(), d));
                    }
                    next_down = t + cfg.download_every;
                }
                Err(e) => {
                    tracing::warn!("sync download: {e}");
                    result = Err(e);
                }
            }
        }
        if t >= next_up && may_upload(&result) {
            match upload(&mut store, &client, now()).await {
                Ok(u) => {
                    if let Ok(mut s) = status.lock() {
                        s.last_upload = Some((now(), u));
                    }
                    next_up = t + cfg.upload_every;
                }
                Err(e) => {
                    tracing::warn!("sync upload: {e}");
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        let snapshot = {
            let Ok(mut s) = status.lock() else { return };
            match &result {
                Ok(()) => {
                    s.online = Some(true);
                    s.failures = 0;
                    s.last_error = None;
                }
                Err(e) => {
                    s.online = Some(!e.is_transient());
                    s.failures = s.failures.saturating_add(1);
                    s.last_error = Some(e.to_string());
                    let wait = backoff(s.failures, cfg.max_backoff, jitter());
                    if next_down <= t {
                        next_down = t + wait;
                    }
                    if next_up <= t {
                        next_up = t + wait;
                    }
                }
            }
            s.clone()
        };
        on_change(&snapshot);
    }
}

/// Upload even when the download was refused for a reason that is not the
/// network: records should leave as soon as the hub can take them.
fn may_upload(download: &Result<(), SyncError>) -> bool {
    match download {
        Ok(()) => true,
        Err(e) => !e.is_transient(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let max = Duration::from_secs(300);
        assert_eq!(backoff(0, max, 500), Duration::from_secs(5));
        assert_eq!(backoff(1, max, 500), Duration::from_secs(10));
        assert_eq!(backoff(10, max, 500), max);
        assert_eq!(backoff(1, max, 0), Duration::from_secs(5));
        assert_eq!(backoff(1, max, 999), Duration::from_millis(14_990));
    }
}
