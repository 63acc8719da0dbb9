//! The registry's integration tests, one binary with a module per topic:
//! the HTTP API in-process, and `xinyi-hub` as a real process (its command
//! line, TLS, limits under abuse, backups, two processes upgrading at once).

mod common;
mod daemon;

mod api;
mod backup;
mod cache;
mod cases;
mod channels;
mod cli;
mod console;
mod gate;
mod import;
mod limits;
mod measures;
mod platform;
mod postgres;
mod privacy;
mod refusal_log;
mod retention;
mod tls;
mod upgrade;
mod usage;
