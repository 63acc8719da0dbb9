//! `xinyi` — the counter terminal. `main` parses the command line, runs the
//! command and owns exit codes and error printing.

use std::process::ExitCode;

use clap::Parser;
use xinyi::cli;

fn main() -> ExitCode {
    // Log lines (sync refusals, rotations) on stderr; `XINYI_LOG=info` for more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XINYI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xinyi: {e:#}");
            ExitCode::from(1)
        }
    }
}
