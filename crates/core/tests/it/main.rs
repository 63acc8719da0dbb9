//! The core's integration tests, one binary with a module per topic: the
//! conformance vectors, each credential rule, the data plan, the sites'
//! channel addresses, properties, golden bytes, and the core's freedom
//! from IO crates.

mod common;

mod channels;
mod credential_cases;
mod golden;
mod plan_cases;
mod properties;
mod purity;
mod vectors;
