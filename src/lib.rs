//! # xinyi — the counter terminal
//!
//! Adapters and wiring around the pure [`xinyi_core`]: the local SQLite
//! store and journal ([`store`]), the terminal's own key ([`keys`]), sync
//! with the registry ([`sync`]), the command line ([`cli`]) and the words
//! people read ([`reasons`]); the kiosk GUI ([`ui`]) with its inputs, the
//! camera ([`camera`]) and the USB scanner ([`scanner`]).

pub mod camera;
pub mod cli;
pub mod keys;
pub mod reasons;
pub mod scanner;
pub mod store;
pub mod sync;
pub mod terminal;
pub mod ui;
