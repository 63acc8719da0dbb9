//! The terminal as an application: one enrolled terminal's store, key and
//! identity, and the operations a counter performs — scan, confirm, void,
//! sync, status. The command line and the kiosk both call this; it holds
//! no UI types.
//!
//! Who may do what is decided here, once, for every path: confirming needs
//! a [`Staff`] (an operator who gave their PIN, or the site's unattended
//! marker where the registry allows it), voiding a [`Supervisor`]; only
//! [`Terminal::authenticate`] and [`Terminal::unattended`] make them.
//! Wrong PINs lock the id typed out for longer each time, counted on the
//! monotonic clock, and every failure is journaled.
//!
//! The terminal holds its store privately: the counter's operations are
//! the [`Counter`] port, the rest (enrollment, sync, the roster, export)
//! are methods here. Nothing outside reaches the database through it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use xinyi_core::history::DataError;
use xinyi_core::history::{Basis, Confirmed as RegistryConfirmed, WithRegistry};
use xinyi_core::money::AmountError;
use xinyi_core::verdict::DEFAULT_SKEW_S;
use xinyi_core::wire::Fingerprint;
use xinyi_core::wire::check::{CheckAnswer, CheckRequest};
use xinyi_core::wire::config::UNATTENDED;
use xinyi_core::wire::journal::{Checked, RecordId, StaffEvent};
use xinyi_core::{Approval, Fen, Form, MeasureId, UnixTime, Verdict, decide};

pub use crate::counter::Scan;
use crate::counter::{
    Confirmed, Counter, CounterStatus, RecordSummary, Recorded, Shift, SiteSnapshot,
};
use crate::keys::{KeyError, TerminalKey};
use crate::settings::Settings;
use crate::store::{
    Failures, Identity, JournalEntry, NewOperator, Role, SETUP, Store, StoreError, typed_id,
};
use crate::sync::client::{self, HubClient};
use crate::sync::online::{Asked, Online};
use crate::sync::worker::WorkerConfig;
use crate::sync::{Downloaded, SyncError, Uploaded};

/// Wrong PINs in a row before the id typed is locked out.
pub const MAX_FAILURES: u32 = 5;
/// The first lockout; each one after it in a row lasts three times longer.
pub const LOCKOUT_S: u64 = 5 * 60;
/// The longest lockout.
pub const MAX_LOCKOUT_S: u64 = 24 * 3600;

/// The lockout after the `n`th lockout in a row (1, 2, …).
pub fn lockout_s(n: u32) -> u64 {
    let mut s = LOCKOUT_S;
    // Past the sixteenth the cap was reached long ago.
    for _ in 1..n.min(16) {
        s = s.saturating_mul(3).min(MAX_LOCKOUT_S);
    }
    s.min(MAX_LOCKOUT_S)
}

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
    #[error(
        "a redemption is confirmed by a signed-in operator: sign in first (this site is not a self-service point)"
    )]
    NotSignedIn,
    #[error(
        "a printed card is confirmed only after checking that its holder's ID document matches the name shown: tick the check first"
    )]
    HolderNotChecked,
    #[error("only a supervisor may {0}")]
    NotSupervisor(&'static str),
    #[error("sign-in refused: {0}")]
    SignIn(SignIn),
}

/// The terminal's clock.
pub fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// Someone the terminal let in to confirm: an operator who gave their PIN,
/// or — at a site the registry made a self-service point — nobody, recorded
/// as `unattended`. Only [`Terminal::authenticate`] and
/// [`Terminal::unattended`] make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    id: String,
    name: String,
    role: Option<Role>,
}

impl Staff {
    /// Someone let in. Only the [`Counter`] implementations call this,
    /// from a PIN checked or the registry's self-service marker.
    pub(crate) fn admitted(id: String, name: String, role: Option<Role>) -> Staff {
        Staff { id, name, role }
    }

    /// The id written in the records this staff member makes.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `None` for the unattended marker.
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// The authority to void and to change the roster, if this is a
    /// supervisor.
    pub fn supervisor(&self) -> Option<Supervisor> {
        (self.role == Some(Role::Supervisor)).then(|| Supervisor {
            id: self.id.clone(),
        })
    }
}

/// A supervisor who gave their PIN: what voids and roster changes need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervisor {
    id: String,
}

impl Supervisor {
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The outcome of a sign-in. An unknown id is answered exactly like a
/// wrong PIN (and locked out like one), so ids cannot be probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Ok(Staff),
    /// Wrong id or PIN; this many tries are left before the lockout.
    Refused {
        tries_left: u32,
    },
    /// Too many wrong PINs: sign-in for this id is refused for this long.
    Locked {
        left_s: u64,
    },
}

impl std::fmt::Display for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignIn::Ok(s) => write!(f, "signed in as {}", s.id),
            SignIn::Refused { tries_left } => write!(
                f,
                "wrong id or PIN ({tries_left} tries left before a lockout)"
            ),
            SignIn::Locked { left_s } => write!(
                f,
                "too many wrong PINs: locked for {} min {:02} s more",
                left_s / 60,
                left_s % 60
            ),
        }
    }
}

/// One enrolled terminal.
#[derive(Debug)]
pub struct Terminal {
    paths: Paths,
    store: Store,
    key: TerminalKey,
    identity: Identity,
    /// The site as the held data describes it, made once per data version
    /// and signed hub time ([`Counter::refresh`]).
    site: Arc<SiteSnapshot>,
    /// The latest time already trusted (the hub's signed time, this
    /// terminal's last record) and the monotonic instant it was taken: it
    /// is carried forward by the monotonic clock while this process runs,
    /// so a wall clock set back shows. Raised by every record written here.
    anchor: Option<(UnixTime, Instant)>,
    settings: Settings,
    /// Ids locked out, and when (monotonic) their lockout ends.
    locks: HashMap<String, Instant>,
    /// The thread that asks the hub's online check, once a scan needed it.
    online: Option<Online>,
}

impl Terminal {
    /// Opens an enrolled terminal.
    pub fn open(paths: &Paths) -> Result<Terminal, TerminalError> {
        let key = TerminalKey::load(&paths.key)?;
        let mut store = Store::open(&paths.db)?;
        let identity = store.require_identity()?;
        // Operators added before roster changes were journaled.
        store.journal_roster(key.signing_key(), now())?;
        Terminal::assemble(paths, store, key, identity)
    }

    fn assemble(
        paths: &Paths,
        store: Store,
        key: TerminalKey,
        identity: Identity,
    ) -> Result<Terminal, TerminalError> {
        let site = Arc::new(read_snapshot(&store, &identity)?);
        let settings = Settings::load(&store)?;
        let mut t = Terminal {
            paths: paths.clone(),
            store,
            key,
            identity,
            site,
            anchor: None,
            settings,
            locks: HashMap::new(),
            online: None,
        };
        t.reanchor()?;
        Ok(t)
    }

    /// Takes the trusted-time floor from the store again.
    fn reanchor(&mut self) -> Result<(), TerminalError> {
        self.anchor = self.store.clock_floor()?.map(|f| (f, Instant::now()));
        Ok(())
    }

    /// A record was written at `at`: the floor is at least that.
    fn raise_floor(&mut self, at: UnixTime) {
        if self.clock_floor().is_none_or(|f| at > f) {
            self.anchor = Some((at, Instant::now()));
        }
    }

    /// The latest time already trusted, carried forward by the monotonic
    /// clock.
    fn clock_floor(&self) -> Option<UnixTime> {
        self.anchor
            .map(|(f, since)| UnixTime(f.0.saturating_add(since.elapsed().as_secs() as i64)))
    }

    /// After data was applied through this terminal.
    fn data_applied(&mut self) -> Result<(), TerminalError> {
        // A rotation may have re-pinned the registry key.
        self.identity = self.store.require_identity()?;
        self.refresh()?;
        Ok(())
    }

    /// Enrolls this machine with a hub: makes the terminal key, proves it
    /// holds the one-time code and pins the registry key, which must have
    /// the `fingerprint` the credit office gave. `ca` (PEM) is the
    /// certificate the hub's TLS certificate must chain to, when the credit
    /// office runs its own; it is kept for every later sync. The caller
    /// syncs next.
    pub async fn enroll(
        paths: &Paths,
        hub_url: &str,
        code: &str,
        label: &str,
        fingerprint: &Fingerprint,
        ca: Option<&str>,
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
            client::enroll(hub_url, code, label, key.signing_key(), fingerprint, ca)
                .await
                .map_err(SyncError::from)?;
        let identity = Identity {
            terminal_id: grant.terminal_id,
            site_id: grant.site,
            registry_key: registry_key.to_bytes(),
            hub_url: Some(client::normalize(hub_url).map_err(SyncError::from)?),
            hub_ca: ca.map(str::to_owned),
        };
        store.set_identity(&identity)?;
        Terminal::assemble(paths, store, key, identity)
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// What the background sync worker needs to sync this terminal on its
    /// own connection; `None` for a terminal that syncs by file only.
    pub fn worker_config(&self) -> Option<WorkerConfig> {
        let hub = self.identity.hub_url.clone()?;
        let mut cfg = WorkerConfig::new(
            self.paths.db.clone(),
            self.paths.downloads.clone(),
            hub,
            self.key.signing_key().clone(),
        );
        cfg.hub_ca = self.identity.hub_ca.clone();
        Some(cfg)
    }

    /// Checks an operator's PIN. A wrong PIN and an unknown id get the same
    /// answer and count towards the same lockout, which lasts three times
    /// longer with each one in a row and is served on the monotonic clock
    /// (a restart serves what was left of it again; the wall clock does
    /// not matter). Every failure and lockout is journaled for the
    /// registry.
    fn check_pin(&mut self, id: &str, pin: &str, at: UnixTime) -> Result<SignIn, TerminalError> {
        let typed = typed_id(id);
        let mut f = self.store.failures(&typed)?;
        if f.lock_left_s > 0 {
            let now = Instant::now();
            let ends = *self
                .locks
                .entry(typed.clone())
                .or_insert_with(|| now + Duration::from_secs(f.lock_left_s));
            let left = ends.saturating_duration_since(now).as_secs();
            if left > 0 {
                f.lock_left_s = left;
                self.store.set_failures(&typed, f, at)?;
                return Ok(SignIn::Locked { left_s: left });
            }
            self.locks.remove(&typed);
            f.lock_left_s = 0;
            f.failed = 0;
            self.store.set_failures(&typed, f, at)?;
        }
        if let Some(op) = self.store.check_pin(id.trim(), pin)? {
            self.store.set_failures(&typed, Failures::default(), at)?;
            return Ok(SignIn::Ok(Staff::admitted(op.id, op.name, Some(op.role))));
        }
        let key = self.key.signing_key();
        self.store
            .record_staff(key, &typed, at, StaffEvent::SignInFailed, &typed, None)?;
        self.raise_floor(at);
        f.failed += 1;
        if f.failed < MAX_FAILURES {
            self.store.set_failures(&typed, f, at)?;
            return Ok(SignIn::Refused {
                tries_left: MAX_FAILURES - f.failed,
            });
        }
        f.failed = 0;
        f.lockouts = f.lockouts.saturating_add(1);
        f.lock_left_s = lockout_s(f.lockouts);
        self.locks.insert(
            typed.clone(),
            Instant::now() + Duration::from_secs(f.lock_left_s),
        );
        self.store.set_failures(&typed, f, at)?;
        self.store.record_staff(
            self.key.signing_key(),
            &typed,
            at,
            StaffEvent::LockedOut,
            &typed,
            None,
        )?;
        tracing::warn!(id = %typed, lockout_s = f.lock_left_s, "operator sign-in locked out");
        Ok(SignIn::Locked {
            left_s: f.lock_left_s,
        })
    }

    /// [`Terminal::authenticate`] where only success will do.
    pub fn sign_in(&mut self, id: &str, pin: &str, at: UnixTime) -> Result<Staff, TerminalError> {
        match self.check_pin(id, pin, at)? {
            SignIn::Ok(s) => Ok(s),
            other => Err(TerminalError::SignIn(other)),
        }
    }

    /// Adds an operator or changes one. Once the roster has a supervisor,
    /// only a supervisor may change it; the first operators are added at
    /// set-up. Journaled either way.
    pub fn put_operator(
        &mut self,
        op: &NewOperator<'_>,
        by: Option<&Supervisor>,
        at: UnixTime,
    ) -> Result<(), TerminalError> {
        let by = self.roster_authority(by)?;
        Ok(self
            .store
            .put_operator(self.key.signing_key(), op, &by, at)?)
    }

    /// Removes an operator (as [`Terminal::put_operator`]); whether one was.
    pub fn remove_operator(
        &mut self,
        id: &str,
        by: Option<&Supervisor>,
        at: UnixTime,
    ) -> Result<bool, TerminalError> {
        let by = self.roster_authority(by)?;
        Ok(self
            .store
            .remove_operator(self.key.signing_key(), id, &by, at)?)
    }

    fn roster_authority(&self, by: Option<&Supervisor>) -> Result<String, TerminalError> {
        match by {
            Some(s) => Ok(s.id.clone()),
            None if !self.store.has_supervisor()? => Ok(SETUP.to_owned()),
            None => Err(TerminalError::NotSupervisor("change the operators")),
        }
    }

    /// The operators.
    pub fn operators(&self) -> Result<Vec<crate::store::Operator>, TerminalError> {
        Ok(self.store.operators()?)
    }

    /// Ids locked out after wrong PINs, with the seconds still to serve.
    pub fn lockouts(&self) -> Result<Vec<(String, u64)>, TerminalError> {
        Ok(self.store.lockouts()?)
    }

    /// The latest journal records in full (signed bytes included), newest
    /// first.
    pub fn journal(&self, limit: usize) -> Result<Vec<JournalEntry>, TerminalError> {
        Ok(self.store.recent(limit)?)
    }

    /// What the registry confirms about an approved scan's subject and
    /// code, when the measure has a limit or the code is dynamic and the
    /// hub answers within the site's deadline; `None` otherwise (the
    /// verdict stands as decided offline).
    fn check_online(&mut self, a: &Approval, at: UnixTime) -> Option<RegistryConfirmed> {
        let deadline = self.site.online_deadline();
        let period = a.used.map(|(_, limit)| limit.per.bounds(at));
        let cti = (a.claims.form == Form::Dynamic).then_some(&a.claims.cti);
        if deadline.is_zero() || (period.is_none() && cti.is_none()) {
            return None;
        }
        if self.online.is_none() {
            self.online = Online::start(self.client().ok()?).ok();
        }
        let request = CheckRequest::new(&a.claims.sub, &a.measure.id, period, cti);
        let pinned = self.identity.registry_verifying_key().ok()?;
        match self.online.as_ref()?.ask(request.clone(), at, deadline) {
            Asked::Answer { sealed, nonce } => CheckAnswer::open(
                &sealed,
                &pinned,
                &self.identity.terminal_id,
                &nonce,
                &request,
            )
            .ok()
            .map(|(confirmed, _)| confirmed),
            Asked::Failed(_) | Asked::TimedOut => None,
        }
    }

    fn client(&self) -> Result<HubClient, TerminalError> {
        let url = self
            .identity
            .hub_url
            .as_deref()
            .ok_or(TerminalError::NoHub)?;
        Ok(HubClient::new(
            url,
            self.key.signing_key().clone(),
            self.identity.hub_ca.as_deref(),
        )
        .map_err(SyncError::from)?)
    }

    /// Downloads and applies new data, then uploads the journal. Each half
    /// reports on its own: records still leave when the download is refused.
    pub async fn sync(
        &mut self,
        at: UnixTime,
    ) -> Result<(Result<Downloaded, SyncError>, Result<Uploaded, SyncError>), TerminalError> {
        let client = self.client()?;
        let down = crate::sync::download(&mut self.store, &client, &self.paths.downloads, at).await;
        self.data_applied()?;
        let up = crate::sync::upload(&mut self.store, &client, at).await;
        Ok((down, up))
    }

    /// Applies a data bundle carried by hand (sites without a network).
    pub fn import_bundle(
        &mut self,
        bytes: &[u8],
        at: UnixTime,
    ) -> Result<Downloaded, TerminalError> {
        let d = crate::sync::import_bundle(&mut self.store, bytes, bytes.len() as u64, at)?;
        self.data_applied()?;
        Ok(d)
    }

    /// Applies a data bundle from a file: its signed metadata is read and
    /// checked before the rest, which is read only if its size is what the
    /// metadata describes.
    pub fn import_bundle_file(
        &mut self,
        path: &Path,
        at: UnixTime,
    ) -> Result<Downloaded, TerminalError> {
        let d = crate::sync::import_bundle_file(&mut self.store, path, at)?;
        self.data_applied()?;
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

/// The site as the store's data describes it.
fn read_snapshot(store: &Store, identity: &Identity) -> Result<SiteSnapshot, TerminalError> {
    let c = store.site_context()?;
    Ok(SiteSnapshot {
        terminal_id: identity.terminal_id.clone(),
        site_id: identity.site_id.clone(),
        site: c.site,
        measures: c.measures,
        max_offline_age_s: c.max_offline_age_s,
        data_as_of: c.data_as_of,
        published_at: c.published_at,
        version: c.version,
        hub_url: identity.hub_url.clone(),
    })
}

fn recorded(e: &JournalEntry) -> Recorded {
    Recorded {
        id: e.id,
        seq: e.seq,
    }
}

impl Counter for Terminal {
    fn snapshot(&self) -> Arc<SiteSnapshot> {
        self.site.clone()
    }

    fn refresh(&mut self) -> Result<bool, TerminalError> {
        let state = self.store.data_state()?;
        let version = state.as_ref().map(|s| s.version);
        let as_of = state.map(|s| s.hub_issued_at.max(s.published_at));
        let floor = self.store.clock_floor()?;
        if floor > self.clock_floor() {
            self.reanchor()?;
        }
        if version == self.site.version && as_of == self.site.data_as_of {
            return Ok(false);
        }
        self.site = Arc::new(read_snapshot(&self.store, &self.identity)?);
        Ok(true)
    }

    fn scan(
        &mut self,
        text: &str,
        measure: &MeasureId,
        operator: &str,
        at: UnixTime,
    ) -> Result<Scan, TerminalError> {
        let site = self.site.clone();
        let ctx = site.context(DEFAULT_SKEW_S, self.clock_floor());
        let mut verdict = decide(&ctx, &self.store, &self.store, text, measure, at)?;
        let mut basis = Basis::Offline;
        if let Verdict::Ok(a) = &verdict
            && let Some(confirmed) = self.check_online(a, at)
        {
            // The same checks again, with every use the registry knows.
            let with = WithRegistry {
                own: &self.store,
                registry: &confirmed,
            };
            verdict = decide(&ctx, &self.store, &with, text, measure, at)?;
            basis = Basis::Online;
        }
        Ok(match verdict {
            Verdict::Ok(a) => Scan::Ok(Approval { basis, ..a }),
            Verdict::Refused(refusal) => {
                let record = self.store.record_refusal(
                    self.key.signing_key(),
                    operator,
                    at,
                    measure,
                    &refusal,
                    basis,
                )?;
                self.raise_floor(at);
                Scan::Refused {
                    refusal,
                    record: recorded(&record),
                }
            }
        })
    }

    fn authenticate(&mut self, id: &str, pin: &str, at: UnixTime) -> Result<SignIn, TerminalError> {
        self.check_pin(id, pin, at)
    }

    fn unattended(&mut self) -> Result<Staff, TerminalError> {
        if !self.site.unattended() {
            return Err(TerminalError::NotSignedIn);
        }
        Ok(Staff::admitted(UNATTENDED.to_owned(), String::new(), None))
    }

    fn confirm(
        &mut self,
        approval: &Approval,
        amount: Option<Fen>,
        companions: u32,
        holder_checked: bool,
        by: &Staff,
        at: UnixTime,
    ) -> Result<Confirmed, TerminalError> {
        if self.site.holder_check_needed(approval) && !holder_checked {
            return Err(TerminalError::HolderNotChecked);
        }
        let amounts = approval.amounts(amount.unwrap_or(Fen::ZERO), companions)?;
        let checked = Checked {
            basis: approval.basis,
            holder: holder_checked,
        };
        let entry = self.store.redeem(
            self.key.signing_key(),
            &by.id,
            at,
            approval,
            &amounts,
            checked,
        )?;
        self.raise_floor(at);
        Ok(Confirmed {
            record: recorded(&entry),
            amounts,
        })
    }

    fn void(
        &mut self,
        record: &RecordId,
        by: &Supervisor,
        reason: &str,
        at: UnixTime,
    ) -> Result<Recorded, TerminalError> {
        let window = self.site.void_window_s();
        let entry = self
            .store
            .void(self.key.signing_key(), &by.id, *record, reason, at, window)?;
        self.raise_floor(at);
        Ok(recorded(&entry))
    }

    fn records(&self, limit: usize) -> Result<Vec<RecordSummary>, TerminalError> {
        Ok(self
            .store
            .recent(limit)?
            .into_iter()
            .map(|e| RecordSummary {
                id: e.id,
                seq: e.seq,
                at: e.record.at,
                uploaded: e.uploaded_at.is_some(),
                voided: e.voided,
                body: e.record.body,
            })
            .collect())
    }

    fn shift(&self, from: UnixTime, until: UnixTime) -> Result<Shift, TerminalError> {
        Ok(Shift {
            by_measure: self.store.shift_by_measure(None, from, until)?,
            totals: self.store.shift_totals(None, from, until)?,
        })
    }

    fn status(&self, at: UnixTime) -> Result<CounterStatus, TerminalError> {
        let st = self.store.status(at)?;
        Ok(CounterStatus {
            freshness: self.site.freshness(at),
            age_s: st.age_s,
            since_hub_s: st.since_hub_s,
            metadata_expired: st.metadata_expired,
            unsent: st.unsent,
            oldest_unsent_at: st.oldest_unsent_at,
        })
    }

    fn settings(&self) -> Settings {
        self.settings.clone()
    }

    fn save_settings(&mut self, settings: &Settings) -> Result<(), TerminalError> {
        settings.save(&self.settings, &mut self.store)?;
        self.settings = settings.clone();
        Ok(())
    }
}

/// Parses a record id as `xinyi records` shows it (32 hex digits).
pub fn record_id(hex: &str) -> Result<RecordId, TerminalError> {
    xinyi_core::hex::decode_array(hex.trim())
        .map_err(|_| TerminalError::BadRecordId(hex.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lockout_in_a_row_lasts_three_times_longer_up_to_a_day() {
        assert_eq!(lockout_s(1), LOCKOUT_S);
        assert_eq!(lockout_s(2), 3 * LOCKOUT_S);
        assert_eq!(lockout_s(3), 9 * LOCKOUT_S);
        assert_eq!(lockout_s(6), 243 * LOCKOUT_S);
        assert_eq!(lockout_s(7), MAX_LOCKOUT_S);
        assert_eq!(lockout_s(u32::MAX), MAX_LOCKOUT_S);
    }
}
