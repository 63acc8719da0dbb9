//! # xinyi-core — the pure domain of xinyi
//!
//! Everything a verdict needs, and nothing that touches the world: no
//! filesystem, network, database, screen or clock. Time comes in as a
//! parameter ([`time::UnixTime`]); storage comes in through small traits
//! ([`verdict::VerifierData`], [`history::History`]) that the terminal's
//! SQLite store implements and that tests implement in memory.
//!
//! Map from the specs to modules:
//!
//! | spec clause | module |
//! |---|---|
//! | credential.md "Envelope" (base45, COSE_Sign1, Sig_structure) | [`base45`], [`cbor`], [`credential`] |
//! | credential.md "Payload", kid, 1,200-character cap, scanner clean-up | [`credential`] |
//! | credential.md "Subject pseudonym" | [`ids`] |
//! | credential.md "Trusted issuer keys" | [`trust`] |
//! | credential.md "Verdict reason codes" | [`verdict`] |
//! | credential.md "Clock" (skew, UTC+8) | [`verdict`], [`time`] |
//! | list-standard.md (CSV, checks, validity, exclusions) | [`csv`], [`listing`], [`eligibility`], [`ids`] |
//! | list-standard.md "Categories" | [`category`] |
//! | measures.md (catalogue, limits) | [`measures`] |
//! | measures.md "Benefits" (fen, rounding) | [`money`] |
//! | demo issuer (mint and sign) | [`issue`] |
//!
//! No IO crate may be added here; a test over `cargo metadata` enforces it.

pub mod base45;
pub mod category;
pub mod cbor;
pub mod credential;
pub mod csv;
pub mod eligibility;
pub mod hex;
pub mod history;
pub mod ids;
pub mod issue;
pub mod listing;
pub mod measures;
pub mod money;
pub mod time;
pub mod trust;
pub mod verdict;
pub mod wire;

pub use credential::{Claims, Cti, Form, Iss, Kid, Malformed};
pub use ids::{Kind, PseudonymKey, SubjectId};
pub use measures::{Benefit, Catalogue, Measure, MeasureId};
pub use money::{Amounts, Fen};
pub use time::{Date, UnixTime};
pub use verdict::{Approval, Context, Reason, Refusal, Verdict, decide};
