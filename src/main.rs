//! `xinyi` — the counter terminal. `main` parses the command line, runs the
//! command and owns exit codes and error printing.

use std::process::ExitCode;

use clap::Parser;
use xinyi::cli;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xinyi: {e:#}");
            ExitCode::from(1)
        }
    }
}
