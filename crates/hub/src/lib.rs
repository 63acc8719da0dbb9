//! # xinyi-hub — the credit registry
//!
//! Imports the departments' lists (all-or-nothing, per-row reports),
//! exclusions, the measures catalogue, issuer keys and card revocations,
//! and publishes pseudonymous data to terminals.
//!
//! [`demo`] is the demo world (issuer keys, lists, catalogue, sample codes)
//! that the kiosk's demo mode and the tests use.

pub mod demo;
