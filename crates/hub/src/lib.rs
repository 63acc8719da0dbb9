//! # xinyi-hub — the credit registry
//!
//! Imports the departments' lists (all-or-nothing, per-row reports),
//! exclusions, the measures catalogue, issuer keys and card revocations;
//! derives pseudonyms; publishes signed, versioned data to terminals;
//! enrolls terminals; ingests their signed journals exactly once; and
//! reports usage, over-use and journal integrity.
//!
//! | module | what it holds |
//! |---|---|
//! | [`hub`] | [`Hub`]: the data directory (database, keys, settings), `init` and `open` |
//! | [`config`] | `hub.toml` settings |
//! | [`db`] | the database seam: SQLite or PostgreSQL, migrations, pools, locks |
//! | [`migrate`] | copying a registry between databases, verified |
//! | [`keys`] | the registry key and K_pseudo files |
//! | [`identity`] | the identity key: ID numbers and names sealed at rest |
//! | [`import`] | listings and exclusions imports |
//! | [`people`] | listings and exclusions read back, one subject's by ID number |
//! | [`retention`] | erasing ended identities, deleting old records |
//! | [`accounts`] | the console's accounts, roles and sessions |
//! | [`audit`] | the append-only, hash-chained audit log |
//! | [`offers`] | measures created, changed and withdrawn; units' requests decided |
//! | [`admin`] | issuer keys, cards, catalogue, sites, enrollment codes, terminals |
//! | [`publish`] | versions, config artefact, eligibility snapshots and deltas |
//! | [`sync`] | enrollment, request authentication, signed metadata |
//! | [`records`] | journal uploads |
//! | [`bundle`] | data bundles and records files for sites without a network |
//! | [`reports`] | usage, over-use and integrity reports |
//! | [`rotation`] | registry key rotation |
//! | [`http`] | the axum API, the web console ([`http::console`]) and the server |
//! | [`clock`] | system and manual clocks |
//!
//! Setting up a hub from Rust (as tests do):
//!
//! ```no_run
//! # async fn f() -> Result<(), xinyi_hub::HubError> {
//! use std::sync::Arc;
//! use xinyi_hub::{Hub, InitOptions, SiteSpec, http::Server};
//! let hub = Hub::init("/tmp/hub".as_ref(), InitOptions::default())?;
//! hub.publish_catalogue(&std::fs::read_to_string("measures.toml").unwrap_or_default())?;
//! hub.add_site(&SiteSpec {
//!     id: "bus-1".into(),
//!     name: "Bus kiosk 1".into(),
//!     unit: "公交公司".into(),
//!     measures: vec!["XYX-BUS-TOPUP".into()],
//!     max_offline_hours: None,
//!     ..Default::default()
//! })?;
//! let code = hub.create_enrollment_code("bus-1", None)?;
//! let server = Server::start(Arc::new(hub)).await?;
//! println!("enroll at {} with {}", server.url(), code.code);
//! server.stop().await?;
//! # Ok(()) }
//! ```

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod bundle;
pub mod cases;
pub mod channels;
pub mod check;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo_codes;
pub mod error;
pub mod health;
pub mod http;
pub mod hub;
pub mod identity;
pub mod import;
pub mod keys;
pub mod migrate;
pub mod notice;
pub mod offers;
pub mod people;
pub mod platforms;
pub mod publish;
pub mod records;
pub mod reports;
pub mod retention;
pub mod rotation;
mod seal;
pub mod staff;
pub mod sync;
pub mod usage;

pub use admin::{EnrollmentCode, NewIssuerKey, RevokedCard, SiteSpec, TerminalInfo, parse_instant};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, HubConfig};
pub use error::{AuthError, EnrollError, HubError, UploadError};
pub use health::{Health, Status};
pub use hub::{Hub, InitOptions};
pub use import::{ExclusionsImport, ListingsImport};
pub use people::{HeldExclusion, HeldListing, Subject};
pub use publish::{Published, VersionInfo};
pub use reports::{IntegrityRow, OveruseRow, ReportKind, UsageRow};
pub use retention::RetentionReport;
