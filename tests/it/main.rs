//! The terminal's integration tests, one binary with a module per topic.
//! Topics that run a demo hub or the demo world need the `demo` feature
//! (on by default); the crash tests are their own binary (`tests/crash.rs`)
//! because they kill child processes at random points.

mod build_graph;
mod scanner;
mod store;
mod store_schema;
mod store_support;

#[cfg(feature = "demo")]
mod cache;
#[cfg(feature = "demo")]
mod camera;
#[cfg(feature = "demo")]
mod channel;
#[cfg(feature = "demo")]
mod channel_citywide;
#[cfg(feature = "demo")]
mod citizen_browser;
#[cfg(feature = "demo")]
mod cli;
#[cfg(feature = "demo")]
mod console_browser;
#[cfg(feature = "demo")]
mod sync_loop;
#[cfg(feature = "demo")]
mod terminal_support;
#[cfg(feature = "demo")]
mod ui;
#[cfg(feature = "demo")]
mod worker;

#[cfg(not(feature = "demo"))]
mod no_demo;
