//! `xinyi-hub` — the credit registry's command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use xinyi_core::listing::{check_exclusions, check_listings};
use xinyi_core::{Catalogue, UnixTime};

#[derive(Debug, Parser)]
#[command(
    name = "xinyi-hub",
    version,
    about = "xinyi-hub: the credit registry for credit-incentive (守信激励) lists"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a file against the standards without importing it.
    Check {
        #[command(subcommand)]
        what: Check,
    },
}

#[derive(Debug, Subcommand)]
enum Check {
    /// A listings CSV (list-standard.md).
    Listings { file: PathBuf },
    /// An exclusions CSV (serious dishonesty records).
    Exclusions { file: PathBuf },
    /// A measures catalogue TOML (measures.md).
    Catalogue { file: PathBuf },
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xinyi-hub: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    let today = UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
    .date_utc8();
    let read =
        |f: &PathBuf| std::fs::read(f).with_context(|| format!("cannot read {}", f.display()));
    let Command::Check { what } = args.command;
    let verdict = match &what {
        Check::Listings { file } => check_listings(&read(file)?, today, |_| None)
            .map(|changes| format!("{}: {} rows are valid", file.display(), changes.len()))
            .map_err(|r| format!("{}: {r}", file.display())),
        Check::Exclusions { file } => check_exclusions(&read(file)?, today)
            .map(|rows| format!("{}: {} rows are valid", file.display(), rows.len()))
            .map_err(|r| format!("{}: {r}", file.display())),
        Check::Catalogue { file } => {
            let text = String::from_utf8(read(file)?)
                .with_context(|| format!("{} is not UTF-8", file.display()))?;
            Catalogue::from_toml(&text)
                .map(|c| {
                    format!(
                        "{}: {} measures are valid",
                        file.display(),
                        c.measures().len()
                    )
                })
                .map_err(|e| format!("{}: {e}", file.display()))
        }
    };
    match verdict {
        Ok(msg) => {
            println!("{msg}");
            Ok(ExitCode::SUCCESS)
        }
        Err(msg) => {
            eprint!("{msg}");
            Ok(ExitCode::from(2))
        }
    }
}
