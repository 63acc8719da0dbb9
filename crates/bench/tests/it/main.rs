//! The benchmark harness's integration tests: it runs end to end at the
//! quick scale and reports what it measured. Speed is never asserted.

mod harness;
mod sections;
