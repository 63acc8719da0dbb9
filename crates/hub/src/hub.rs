//! The registry itself: a data directory holding the database, the key
//! files and the optional settings file, and the handle ([`Hub`]) through
//! which the admin commands, the publisher and the HTTP API reach them.
//!
//! The identity key, which seals ID numbers and names in the database
//! ([`crate::identity`]), is in the data directory unless `hub.toml` keeps
//! it elsewhere (`identity_key`); a hub does not open without it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::{SigningKey, VerifyingKey};
use xinyi_core::{Date, PseudonymKey, UnixTime};

use crate::clock::{Clock, SystemClock};
use crate::config::{CONFIG_FILE, HubConfig, SAMPLE};
use crate::db::{DB_FILE, Db, Location};
use crate::error::HubError;
use crate::identity::{self, IDENTITY_KEY_FILE, IdentityKey};
use crate::keys::{self, PSEUDONYM_KEY_FILE, REGISTRY_KEY_FILE};

/// How to create a hub.
#[derive(Clone, Default)]
pub struct InitOptions {
    /// K_pseudo to use (it must match the issuers'); a random one if None.
    pub k_pseudo: Option<[u8; 32]>,
}

impl fmt::Debug for InitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitOptions")
            .field("k_pseudo", &self.k_pseudo.map(|_| ".."))
            .finish()
    }
}

/// An open hub. Cheap to share behind an `Arc`; every method is safe to
/// call from several threads (SQLite serialises the writers).
pub struct Hub {
    dir: PathBuf,
    config: HubConfig,
    /// The current registry key and how many rotations led to it; reloaded
    /// when another process (the admin command line) rotates the key.
    registry_key: std::sync::RwLock<(usize, SigningKey)>,
    k_pseudo: PseudonymKey,
    /// Seals and opens ID numbers and names.
    identity: IdentityKey,
    identity_key_path: PathBuf,
    db: Db,
    clock: Arc<dyn Clock>,
    /// The address this process serves the API at (an ephemeral port in
    /// tests and the demo), which the citizens' channels default to when
    /// hub.toml names no `public_url`.
    served_at: std::sync::OnceLock<String>,
    /// Demo mode's code source (`/c/demo`), set only on a demo hub.
    pub(crate) demo: std::sync::OnceLock<Arc<dyn crate::demo_codes::DemoCodes>>,
    /// Held while this process builds an eligibility artefact: terminals
    /// asking for one not stored yet wait for the build under way and
    /// then find it stored, instead of each building the same one.
    pub(crate) eligibility_builds: std::sync::Mutex<()>,
}

/// `s` as a TOML string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("registry_key_id", &self.registry_key_id())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Creates a hub in `dir` (made if missing): keys, database and a
    /// commented settings file. Refuses if a hub is already there. The
    /// identity key goes where `dir`'s `hub.toml` says, if it exists.
    pub fn init(dir: &Path, opts: InitOptions) -> Result<Hub, HubError> {
        let config = HubConfig::for_dir(dir)?;
        Hub::init_with_config(dir, opts, config)
    }

    /// [`Hub::init`] with the given settings (`--config`): the identity
    /// key is made where they say.
    pub fn init_with_config(
        dir: &Path,
        opts: InitOptions,
        config: HubConfig,
    ) -> Result<Hub, HubError> {
        for what in [
            DB_FILE,
            REGISTRY_KEY_FILE,
            PSEUDONYM_KEY_FILE,
            IDENTITY_KEY_FILE,
        ] {
            if dir.join(what).exists() {
                return Err(HubError::AlreadyExists {
                    dir: dir.to_owned(),
                    what: what.to_owned(),
                });
            }
        }
        let location = config.database_at(dir);
        if let Location::Postgres { url, .. } = &location
            && Db::exists_at(&location)?
        {
            return Err(HubError::Invalid(format!(
                "database {} already holds a registry; refusing to make new keys for it: \
                 copy the data directory of a hub that uses it, or name an empty database",
                crate::db::pg::redact(url)
            )));
        }
        let identity_path = config.identity_key_path(dir);
        if identity_path.exists() {
            return Err(HubError::KeyFile {
                path: identity_path,
                why: "already exists; refusing to overwrite it (it may seal another registry's \
                      data): move it away, or set identity_key in hub.toml to a new file"
                    .into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(HubError::io(dir))?;
        let k_pseudo = match opts.k_pseudo {
            Some(k) => k,
            None => keys::random_32()?,
        };
        keys::write_new(&dir.join(REGISTRY_KEY_FILE), &keys::random_32()?)?;
        keys::write_new(&dir.join(PSEUDONYM_KEY_FILE), &k_pseudo)?;
        identity::create_key(&identity_path)?;
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.exists() {
            std::fs::write(&config_path, SAMPLE).map_err(HubError::io(&config_path))?;
        }
        Db::open_at(&location)?;
        Hub::open_with_config(dir, config)
    }

    /// Opens the hub in `dir` with its `hub.toml` (or the defaults).
    pub fn open(dir: &Path) -> Result<Hub, HubError> {
        let config = HubConfig::for_dir(dir)?;
        Hub::open_with_config(dir, config)
    }

    /// Opens the hub in `dir` with the given settings.
    pub fn open_with_config(dir: &Path, config: HubConfig) -> Result<Hub, HubError> {
        // A hub's data directory holds its keys, and its database unless
        // the database is PostgreSQL's.
        let location = config.database_at(dir);
        let made = match &location {
            Location::Sqlite(path) => path.exists(),
            Location::Postgres { .. } => dir.join(REGISTRY_KEY_FILE).exists(),
        };
        if !made {
            return Err(HubError::NoHub {
                dir: dir.to_owned(),
            });
        }
        let k_pseudo = keys::pseudonym_key(dir)?;
        let db = Db::open_at(&location)?;
        crate::rotation::finish_pending(dir, &db)?;
        let identity_key_path = config.identity_key_path(dir);
        let identity =
            crate::seal::open_seal(&db, &identity_key_path, &k_pseudo, SystemClock.now())?;
        let (rotations, registry_key) = crate::rotation::current_key(dir, &db, &identity)?;
        Ok(Hub {
            dir: dir.to_owned(),
            config,
            registry_key: std::sync::RwLock::new((rotations, registry_key)),
            k_pseudo,
            identity,
            identity_key_path,
            db,
            clock: Arc::new(SystemClock),
            served_at: std::sync::OnceLock::new(),
            eligibility_builds: std::sync::Mutex::new(()),
            demo: std::sync::OnceLock::new(),
        })
    }

    /// The same hub reading time from `clock` (tests use a manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Hub {
        self.clock = clock;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The identity key file this hub opened with.
    pub fn identity_key_path(&self) -> &Path {
        &self.identity_key_path
    }

    /// Whether the identity key is kept outside the data directory (then
    /// backups do not hold it).
    pub fn identity_key_is_apart(&self) -> bool {
        let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
        !real(&self.identity_key_path).starts_with(real(&self.dir))
    }

    /// The hub's current time.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Today in UTC+8, the people's calendar.
    pub fn today(&self) -> Date {
        self.now().date_utc8()
    }

    /// The registry's public key, which terminals pin at enrollment.
    pub fn registry_public_key(&self) -> VerifyingKey {
        self.registry_key().verifying_key()
    }

    /// The registry key's id (its fingerprint for `xinyi enroll`).
    pub fn registry_key_id(&self) -> String {
        xinyi_core::wire::key_id(self.registry_key().verifying_key().as_bytes())
    }

    /// The current registry signing key. If the key was rotated since it
    /// was loaded (by this or another process), the new one is loaded
    /// ([`crate::rotation::current_key`]).
    pub(crate) fn registry_key(&self) -> SigningKey {
        match crate::rotation::count(&self.db) {
            Ok(n) => self.registry_key_after(n),
            Err(_) => self.loaded_registry_key().1,
        }
    }

    /// The key loaded, and the rotations it follows.
    fn loaded_registry_key(&self) -> (usize, SigningKey) {
        match self.registry_key.read() {
            Ok(g) => (g.0, g.1.clone()),
            Err(p) => (p.get_ref().0, p.get_ref().1.clone()),
        }
    }

    /// The registry signing key after `rotations` rotations (as a
    /// transaction just counted them, [`crate::rotation::count_in`]):
    /// the key loaded, or the new one if that count differs.
    pub(crate) fn registry_key_after(&self, rotations: usize) -> SigningKey {
        let (loaded, key) = self.loaded_registry_key();
        if rotations == loaded {
            return key;
        }
        match crate::rotation::current_key(&self.dir, &self.db, &self.identity) {
            Ok((n, new)) => {
                if let Ok(mut g) = self.registry_key.write() {
                    *g = (n, new.clone());
                }
                new
            }
            Err(e) => {
                tracing::error!("the registry key was rotated but cannot be read: {e}");
                key
            }
        }
    }

    /// The hub's public address, under which the citizens' pages are:
    /// `public_url` from hub.toml; else the address this process serves
    /// at; else one made from `listen`; none if `listen` names no address
    /// a phone can reach.
    pub fn public_url(&self) -> Option<String> {
        if let Some(u) = &self.config.public_url {
            return Some(u.clone());
        }
        self.served_at
            .get()
            .cloned()
            .or_else(|| self.config.effective_public_url())
    }

    /// Notes the address this process serves at (the first one).
    pub(crate) fn note_served_at(&self, url: String) {
        let _ = self.served_at.set(url);
    }

    pub(crate) fn k_pseudo(&self) -> &PseudonymKey {
        &self.k_pseudo
    }

    pub(crate) fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    /// Copies this SQLite registry into the empty PostgreSQL database at
    /// `url` (over TLS checked against the CA file `ca`, if given) and
    /// verifies the copy ([`crate::migrate::copy`]); SQLite's write lock
    /// is held throughout, so no write is lost meanwhile. The settings
    /// are left for the caller to change.
    pub fn migrate_to(
        &self,
        url: &str,
        ca: Option<&Path>,
    ) -> Result<crate::migrate::CopyReport, HubError> {
        if self.db.dialect() != crate::db::Dialect::Sqlite {
            return Err(HubError::Invalid(format!(
                "this registry is already in PostgreSQL ({})",
                self.db.describe()
            )));
        }
        let mut settings = format!("database = {}", toml_string(url));
        if let Some(ca) = ca {
            settings.push_str(&format!(
                "\ndatabase_ca = {}",
                toml_string(&ca.to_string_lossy())
            ));
        }
        let mut target = HubConfig::parse(&settings, Path::new("--to"))?.database_at(self.dir());
        if let Location::Postgres { pool, .. } = &mut target {
            *pool = 2;
        }
        let target = Db::open_at(&target)?;
        crate::migrate::copy_locked(&self.db, &target)
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
}
