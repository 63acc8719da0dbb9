//! `xinyi-bench`: runs the benchmark sections and writes `BENCHMARKS.md`.
//! `bench/run` is the one command: it also runs the ZXing-C++ yardstick,
//! builds the release kiosk and starts a virtual display.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Parser;

use xinyi_bench::report::{self, Machine, Results};
use xinyi_bench::{Row, Scale, decode, hub, kiosk, store, sync, verdict};

const ALL: [&str; 6] = ["decode", "verdict", "store", "sync", "hub", "kiosk"];

#[derive(Debug, Parser)]
#[command(about = "Measure xinyi beside its yardsticks and write BENCHMARKS.md")]
struct Args {
    /// Sections to run, comma-separated (default: all of
    /// decode,verdict,store,sync,hub,kiosk).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Small sizes: checks the harness works; the figures mean little.
    #[arg(long)]
    quick: bool,
    /// The decode corpus (default: ../shared/corpus beside the project).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// ZXing-C++'s results on the corpus (bench/zxing_corpus.py).
    #[arg(long, value_name = "FILE")]
    zxing: Option<PathBuf>,
    /// The release kiosk binary, for the kiosk process figures.
    #[arg(long, value_name = "FILE")]
    xinyi: Option<PathBuf>,
    /// Splice the results into this Markdown file (BENCHMARKS.md).
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The command to reproduce, as recorded in the report.
    #[arg(long, default_value = "bench/run")]
    command: String,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xinyi-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let scale = if args.quick {
        Scale::Quick
    } else {
        Scale::Full
    };
    let sections: Vec<String> = if args.only.is_empty() {
        ALL.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.only.clone()
    };
    if let Some(bad) = sections.iter().find(|s| !ALL.contains(&s.as_str())) {
        bail!(
            "unknown section {bad:?}; the sections are {}",
            ALL.join(", ")
        );
    }
    let corpus = args
        .corpus
        .clone()
        .unwrap_or_else(|| xinyi_testkit::shared("corpus"));
    let mut rows: Vec<Row> = Vec::new();
    let mut details = Vec::new();
    for section in &sections {
        eprintln!("xinyi-bench: {section} …");
        let started = std::time::Instant::now();
        let new = match section.as_str() {
            "decode" => {
                let (r, d) = decode::run(scale, &corpus, args.zxing.as_deref())?;
                details.push(("decode".to_owned(), d));
                r
            }
            "verdict" => verdict::run(scale)?,
            "store" => store::run(scale)?,
            "sync" => sync::run(scale)?,
            "hub" => hub::run(scale)?,
            "kiosk" => {
                let process = args.xinyi.clone().map(|xinyi| kiosk::Process {
                    xinyi,
                    corpus: corpus.clone(),
                });
                kiosk::run(scale, process.as_ref())?
            }
            _ => Vec::new(),
        }
        .into_iter()
        .collect::<Vec<_>>();
        for r in &new {
            eprintln!(
                "  {:<60} {:>12} {:<12} {}",
                r.name,
                report::num(r.value),
                r.unit,
                match r.met {
                    Some(true) => "target met",
                    Some(false) => "TARGET MISSED",
                    None => "",
                }
            );
        }
        eprintln!(
            "xinyi-bench: {section} done in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        rows.extend(new);
    }
    let results = Results {
        machine: Machine::this(),
        command: args.command.clone(),
        rows,
        details,
    };
    let md = report::markdown(&results);
    if let Some(path) = &args.write {
        let existing = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, report::splice(&existing, &md))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("xinyi-bench: results written into {}", path.display());
    } else {
        println!("{md}");
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
