//! The hub's errors: one enum for the library, whose messages say what to
//! do about them. The HTTP layer ([`crate::http`]) maps them to status codes
//! and keeps internal details (database, files) away from clients.

use std::path::PathBuf;

use xinyi_core::listing::ImportReport;
use xinyi_core::measures::CatalogueError;
use xinyi_core::trust::TrustError;
use xinyi_core::wire::WireError;
use xinyi_core::wire::journal::ChainError;

use crate::config::ConfigError;

impl From<rusqlite::Error> for HubError {
    fn from(e: rusqlite::Error) -> HubError {
        HubError::Db(e.into())
    }
}

/// Everything that can go wrong in the hub.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("no hub in {}: run `xinyi-hub init --data-dir {}`", .dir.display(), .dir.display())]
    NoHub { dir: PathBuf },
    #[error(
        "a hub already exists in {} ({what} is there); refusing to overwrite it: use another --data-dir",
        .dir.display()
    )]
    AlreadyExists { dir: PathBuf, what: String },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {}: {why}", .path.display())]
    KeyFile { path: PathBuf, why: String },
    #[error(
        "identity key {} is not the key this registry's ID numbers and names are sealed with: \
         use the identity key made with this database (the one its backup holds, or the file \
         identity_key in hub.toml named before); nothing was changed",
        .path.display()
    )]
    WrongIdentityKey { path: PathBuf },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    #[error(
        "the database has schema version {found}, newer than this xinyi-hub knows ({known}): upgrade xinyi-hub"
    )]
    SchemaTooNew { found: i64, known: usize },
    #[error("the database holds a bad value: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Rejected(ImportReport),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("no measures catalogue yet: run `xinyi-hub catalogue publish FILE` first")]
    NoCatalogue,
    #[error("issuer key: {0}")]
    Trust(#[from] TrustError),
    #[error("{0}")]
    Invalid(String),
    #[error("no {what} {id:?}{hint}")]
    NotFound {
        what: &'static str,
        id: String,
        hint: &'static str,
    },
    #[error("enrollment refused: {0}")]
    Enroll(#[from] EnrollError),
    #[error("request refused: {0}")]
    Auth(#[from] AuthError),
    #[error("upload refused: {0}")]
    Upload(#[from] UploadError),
    #[error(
        "nothing is published yet: import lists and publish a measures catalogue on the hub first"
    )]
    NotPublished,
    /// The usage of the next version is being folded in: an artefact
    /// built now would hold some of it, and match no published version.
    #[error("the registry is publishing a version: ask again in a minute")]
    Publishing,
    #[error("online check refused: {0}")]
    Check(String),
    #[error(
        "measure {measure} is not applied at site {site}: a terminal asks only about its site's measures"
    )]
    NotAtSite { measure: String, site: String },
    #[error("internal: {0}")]
    Internal(String),
}

impl HubError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> HubError {
        let path = path.into();
        move |source| HubError::Io { path, source }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> HubError {
        HubError::Corrupt(what.to_string())
    }
}

/// Why an enrollment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollError {
    #[error("unknown enrollment code: check it, or ask the registry for a new one")]
    UnknownCode,
    #[error(
        "the enrollment code does not match this terminal's request: check the code and the registry fingerprint (`xinyi-hub init` and `enroll-code` print it)"
    )]
    BadProof,
    #[error(
        "this enrollment code was made by an older xinyi-hub that kept no proof key: ask the registry for a new one"
    )]
    OldCode,
    #[error("this enrollment code was already used: ask the registry for a new one")]
    UsedCode,
    #[error("this enrollment code expired: ask the registry for a new one")]
    ExpiredCode,
    #[error("bad public key: {0}")]
    BadKey(String),
    #[error("this terminal key was revoked: make a new key and enroll again with a new code")]
    KeyRevoked,
    #[error("this terminal key is already enrolled (terminal {0})")]
    AlreadyEnrolled(String),
    #[error("bad request: {0}")]
    Malformed(String),
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing or malformed request signature headers: {0}")]
    Missing(String),
    #[error("unknown terminal {0}: enroll it first")]
    UnknownTerminal(String),
    #[error("the request signature does not verify with terminal {0}'s key")]
    BadSignature(String),
    #[error(
        "the request time is {offset_s} s away from the hub's clock (at most {max_s} s allowed): set the terminal's clock"
    )]
    ClockSkew { offset_s: i64, max_s: i64 },
    #[error("replayed request: this nonce was already used")]
    Replay,
    #[error("terminal {0} is revoked")]
    Revoked(String),
}

/// Why a record upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("malformed upload: {0}")]
    Malformed(WireError),
    #[error("the batch has {found} records, at most {limit} are allowed")]
    TooLarge { limit: u64, found: u64 },
    #[error("record #{index} (seq {seq:?}) has a bad signature; nothing was stored")]
    BadSignature { index: usize, seq: Option<u64> },
    #[error("broken chain: {0}; nothing was stored")]
    BrokenChain(ChainError),
    #[error(
        "record seq {seq} differs from the record seq {seq} already held (hash {held}, uploaded {uploaded}); nothing was stored"
    )]
    Conflict {
        seq: u64,
        held: String,
        uploaded: String,
    },
}

impl UploadError {
    /// The reason recorded for the integrity report.
    pub fn reason(&self) -> &'static str {
        match self {
            UploadError::Malformed(_) | UploadError::TooLarge { .. } => "malformed",
            UploadError::BadSignature { .. } => "bad_signature",
            UploadError::BrokenChain(_) => "broken_chain",
            UploadError::Conflict { .. } => "conflict",
        }
    }
}
