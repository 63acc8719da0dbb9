//! # xinyi — the counter terminal
//!
//! Adapters and wiring around the pure [`xinyi_core`]: the local SQLite
//! store and journal ([`store`]), the terminal's own key ([`keys`]), sync
//! with the registry ([`sync`]), the command line ([`cli`]) and the words
//! people read ([`reasons`]).

pub mod cli;
pub mod keys;
pub mod reasons;
pub mod store;
pub mod sync;
pub mod terminal;
