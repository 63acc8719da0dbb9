//! `xinyi-bench`: runs the benchmark sections and writes `BENCHMARKS.md`.
//! `bench/run` is the one command: it also runs the ZXing-C++ yardstick,
//! builds the release kiosk and starts a virtual display.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Parser;

use xinyi_bench::load::{self, Backend};
use xinyi_bench::report::{self, Machine, Results};
use xinyi_bench::{Row, Scale, decode, hub, kiosk, store, sync, verdict};

const ALL: [&str; 7] = ["decode", "verdict", "store", "sync", "hub", "kiosk", "load"];

#[derive(Debug, Parser)]
#[command(about = "Measure xinyi beside its yardsticks and write BENCHMARKS.md")]
struct Args {
    /// Sections to run, comma-separated (default: all of
    /// decode,verdict,store,sync,hub,kiosk,load).
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
    /// The release hub binary, for the load section (default: xinyi-hub
    /// beside this program).
    #[arg(long, value_name = "FILE")]
    xinyi_hub: Option<PathBuf>,
    /// Load: the terminals of each cadence run, comma-separated (full
    /// scale: 1000,10000).
    #[arg(long, value_delimiter = ',', value_name = "N,…")]
    load_terminals: Vec<usize>,
    /// Load: the hub processes of each cadence run (default: 1,2).
    #[arg(long, value_delimiter = ',', value_name = "N,…")]
    load_processes: Vec<usize>,
    /// Load: the backends, comma-separated (default: sqlite,postgres).
    #[arg(long, value_delimiter = ',', value_name = "NAME,…")]
    load_backends: Vec<String>,
    /// Load: seconds of each cadence run's measured window (full: 60).
    #[arg(long, value_name = "S")]
    load_window: Option<u64>,
    /// Load: listings of the import figure (full: 1000000; 0: none).
    #[arg(long, value_name = "N")]
    load_import: Option<usize>,
    /// Load: records ingested on PostgreSQL (full: 10000000; 0: none).
    #[arg(long, value_name = "N")]
    load_ingest: Option<usize>,
    /// Load: records ingested on SQLite (full: 0, none).
    #[arg(long, value_name = "N")]
    load_sqlite_ingest: Option<usize>,
    /// Load: the longest wait, in seconds, for other processes to leave
    /// the cores before each measurement (default: 300; 0: no wait).
    #[arg(long, value_name = "S")]
    load_quiet_wait: Option<u64>,
    /// Load: hub processes of the ingest on PostgreSQL (default: 2).
    #[arg(long, value_name = "N")]
    load_ingest_processes: Option<usize>,
    /// The command to reproduce, as recorded in the report (default:
    /// bench/run with this run's options).
    #[arg(long)]
    command: Option<String>,
}

impl Args {
    /// `bench/run` with the options that change what is measured.
    fn reproduce(&self) -> String {
        let mut c = String::from("bench/run");
        if !self.only.is_empty() {
            c.push_str(&format!(" --only {}", self.only.join(",")));
        }
        if self.quick {
            c.push_str(" --quick");
        }
        let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        if !self.load_terminals.is_empty() {
            c.push_str(&format!(" --load-terminals {}", list(&self.load_terminals)));
        }
        if !self.load_processes.is_empty() {
            c.push_str(&format!(" --load-processes {}", list(&self.load_processes)));
        }
        if !self.load_backends.is_empty() {
            c.push_str(&format!(
                " --load-backends {}",
                self.load_backends.join(",")
            ));
        }
        for (flag, v) in [
            ("--load-window", self.load_window.map(|v| v as usize)),
            ("--load-import", self.load_import),
            ("--load-ingest", self.load_ingest),
            ("--load-sqlite-ingest", self.load_sqlite_ingest),
            ("--load-ingest-processes", self.load_ingest_processes),
        ] {
            if let Some(v) = v {
                c.push_str(&format!(" {flag} {v}"));
            }
        }
        c
    }

    /// The load section's options: the scale's, changed by the flags.
    fn load_options(&self, scale: Scale) -> Result<load::Options> {
        let bin = self.xinyi_hub.clone().unwrap_or_else(load::default_hub_bin);
        let mut o = load::Options::new(scale, bin);
        if !self.load_terminals.is_empty() {
            o.terminals = self.load_terminals.clone();
        }
        if !self.load_processes.is_empty() {
            o.processes = self.load_processes.clone();
        }
        if !self.load_backends.is_empty() {
            o.backends = self
                .load_backends
                .iter()
                .map(|b| {
                    Backend::parse(b).with_context(|| {
                        format!("unknown backend {b:?}; the backends are sqlite, postgres")
                    })
                })
                .collect::<Result<_>>()?;
        }
        if o.terminals.contains(&0) || o.processes.contains(&0) {
            bail!("--load-terminals and --load-processes take numbers above 0");
        }
        if let Some(w) = self.load_window {
            if w == 0 {
                bail!("--load-window takes seconds above 0");
            }
            o.window_s = w;
        }
        if let Some(n) = self.load_import {
            o.import = n;
        }
        if let Some(n) = self.load_ingest {
            o.ingest = n;
        }
        if let Some(n) = self.load_sqlite_ingest {
            o.sqlite_ingest = n;
        }
        if let Some(s) = self.load_quiet_wait {
            o.quiet_wait = std::time::Duration::from_secs(s);
        }
        if let Some(n) = self.load_ingest_processes {
            if n == 0 {
                bail!("--load-ingest-processes takes a number above 0");
            }
            o.ingest_processes = n;
        }
        Ok(o)
    }
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
            "load" => {
                let (r, d) = load::run(&args.load_options(scale)?)?;
                details.push(("load".to_owned(), d));
                r
            }
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
    let mut results = Results {
        machine: Machine::this(),
        command: args.command.clone().unwrap_or_else(|| args.reproduce()),
        rows,
        details,
        earlier: Vec::new(),
    };
    if let Some(path) = &args.write {
        let existing = std::fs::read_to_string(path).unwrap_or_default();
        // A run of some sections keeps the others' results.
        results.keep_earlier(&existing);
        let md = report::markdown(&results);
        std::fs::write(path, report::splice(&existing, &md))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("xinyi-bench: results written into {}", path.display());
    } else {
        println!("{}", report::markdown(&results));
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
