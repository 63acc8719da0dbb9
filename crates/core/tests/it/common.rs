//! Shared helpers for the conformance tests: the vectors in `../shared`
//! (read in place, never copied) and the state they describe.

pub use xinyi_testkit::{catalogue, import_day, k_pseudo, read, registry, trust_list, vectors};
