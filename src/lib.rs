//! # xinyi — the counter terminal
//!
//! Adapters and wiring around the pure [`xinyi_core`]. The counter's
//! operations are one port, [`counter::Counter`], which [`terminal::Terminal`]
//! implements; the kiosk and the command line drive it. Below it: the local SQLite
//! store and journal ([`store`]), the terminal's own key ([`keys`]), sync
//! with the registry ([`sync`]), the command line ([`cli`]) and the words
//! people read ([`reasons`]); the kiosk GUI ([`ui`]) with its inputs, the
//! camera ([`camera`]) and the USB scanner ([`scanner`]).

pub mod camera;
pub mod cli;
pub mod counter;
pub mod keys;
pub mod reasons;
pub mod scanner;
pub mod settings;
pub mod store;
pub mod sync;
pub mod terminal;
pub mod ui;
