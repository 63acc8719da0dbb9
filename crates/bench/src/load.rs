//! The hub at a province's scale: real `xinyi-hub serve` processes on
//! 127.0.0.1, on SQLite and on a durable PostgreSQL, and thousands of
//! simulated counter terminals, each with its own Ed25519 key, on the
//! kiosk's cadence (metadata every 5 minutes, uploads every 60 s); then a
//! province's bulk work: a million listings imported, ten million records
//! ingested, the usage report over them.
//!
//! [`cadence`] says what one run does and exactly what it compresses;
//! [`ingest`] the bulk figures; [`terminal`] the simulated terminal;
//! [`postgres`] the server; [`process`] the hub processes; [`waits`] what
//! PostgreSQL's sessions wait for.

pub mod cadence;
pub mod commit;
pub mod ingest;
pub mod postgres;
pub mod process;
pub mod terminal;
pub mod waits;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use xinyi::sync::UPLOAD_BATCH;
use xinyi_hub::Hub;
use xinyi_testkit::Rng;

use self::cadence::{CadenceRun, METADATA_EVERY_S, Plan, RAMP_CONCURRENCY, UPLOAD_EVERY_S};
use self::ingest::{Import, Ingest};
use self::postgres::Postgres;
use self::process::Hubs;
use self::terminal::Endpoint;
use crate::report::num;
use crate::stats::{median, percentile};
use crate::store::{count_label, now};
use crate::{Row, Scale};

const SECTION: &str = "load";
/// The target of the cadence runs with this many terminals or more.
const TARGET_TERMINALS: usize = 10_000;
/// The cadence target: p99 per endpoint.
const TARGET_P99_MS: f64 = 100.0;
/// The ingest target on PostgreSQL.
const TARGET_INGEST: f64 = 20_000.0;
/// The usage report target.
const TARGET_REPORT_S: f64 = 5.0;

/// A registry's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn key(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    pub fn parse(s: &str) -> Option<Backend> {
        match s.trim() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// What the load section runs; [`Options::new`] gives a scale's sizes,
/// which the command line may change.
#[derive(Debug, Clone)]
pub struct Options {
    /// The release `xinyi-hub` binary.
    pub hub_bin: PathBuf,
    /// Terminals of each cadence run.
    pub terminals: Vec<usize>,
    /// Hub processes of each cadence run.
    pub processes: Vec<usize>,
    pub backends: Vec<Backend>,
    /// Seconds of each cadence run's measured window.
    pub window_s: u64,
    /// Records a terminal uploads each minute.
    pub records_per_upload: usize,
    /// Listings the cadence runs' registries hold.
    pub listings: usize,
    /// Listings changed by the import during each window.
    pub changes: usize,
    /// Listings of the import figure (0: none).
    pub import: usize,
    /// Records ingested on PostgreSQL (0: none).
    pub ingest: usize,
    /// Records ingested on SQLite (0: none).
    pub sqlite_ingest: usize,
    /// Terminals whose records the ingest carries.
    pub ingest_terminals: usize,
    /// Hub processes of the ingest on PostgreSQL (SQLite's is one).
    pub ingest_processes: usize,
    /// The longest wait for a quiet machine before each measurement.
    pub quiet_wait: std::time::Duration,
}

impl Options {
    /// The sizes of `scale`, with the hub binary beside this program.
    pub fn new(scale: Scale, hub_bin: PathBuf) -> Options {
        Options {
            hub_bin,
            terminals: match scale {
                Scale::Full => vec![1_000, 10_000],
                Scale::Quick => vec![30, 100],
            },
            processes: vec![1, 2],
            backends: vec![Backend::Sqlite, Backend::Postgres],
            window_s: scale.pick(60, 8) as u64,
            records_per_upload: 2,
            listings: scale.pick(100_000, 2_000),
            changes: scale.pick(1_000, 100),
            import: scale.pick(1_000_000, 5_000),
            ingest: scale.pick(10_000_000, 20_000),
            sqlite_ingest: scale.pick(0, 20_000),
            ingest_terminals: scale.pick(1_000, 20),
            ingest_processes: 2,
            quiet_wait: std::time::Duration::from_secs(300),
        }
    }

    /// The options in words, for the report.
    pub fn describe(&self) -> String {
        let list = |v: &[usize]| {
            v.iter()
                .map(|n| count_label(*n))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let backends: Vec<&str> = self.backends.iter().map(|b| b.name()).collect();
        let mut s = format!(
            "cadence runs of {} terminals against {} hub process(es) on {}, {} s windows, {} records per upload, {} listings held ({} changed in each window); ",
            list(&self.terminals),
            self.processes
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" and "),
            backends.join(" and "),
            self.window_s,
            self.records_per_upload,
            count_label(self.listings),
            count_label(self.changes),
        );
        let _ = write!(
            s,
            "import of {} listings; ingest of {} records on PostgreSQL ({} hub processes) and {} on SQLite, from {} terminals",
            count_label(self.import),
            count_label(self.ingest),
            self.ingest_processes,
            if self.sqlite_ingest == 0 {
                "none".to_owned()
            } else {
                count_label(self.sqlite_ingest)
            },
            count_label(self.ingest_terminals),
        );
        s
    }
}

/// Where the section runs: the hub binary, a directory deleted at the
/// end, the PostgreSQL server, and the terminals' runtime.
#[derive(Debug)]
pub struct Env {
    pub hub_bin: PathBuf,
    pub root: PathBuf,
    pub pg: Option<Postgres>,
    pub rt: tokio::runtime::Runtime,
    /// The longest wait for a quiet machine.
    pub quiet_wait: std::time::Duration,
    /// Deletes the directory if this process ends without doing it.
    watchdog: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        // The directory goes with `_dir`; the watchdog is not needed.
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// CPU seconds used, by whom, over a wall-clock span.
#[derive(Debug, Clone, Copy)]
pub struct Cpu {
    pub hubs: f64,
    pub postgres: f64,
    /// This process: the simulated terminals.
    pub load: f64,
    /// Every process of the machine, these included.
    pub machine: f64,
    pub wall: f64,
    at: Instant,
}

impl Cpu {
    /// What was used between `earlier` and this reading.
    pub fn since(&self, earlier: &Cpu) -> Cpu {
        Cpu {
            hubs: self.hubs - earlier.hubs,
            postgres: self.postgres - earlier.postgres,
            load: self.load - earlier.load,
            machine: self.machine - earlier.machine,
            wall: self.at.duration_since(earlier.at).as_secs_f64(),
            at: self.at,
        }
    }

    /// The shares of the machine's cores, in words.
    pub fn note(&self) -> String {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let pct = |s: f64| s * 100.0 / (self.wall * cores).max(f64::MIN_POSITIVE);
        let mut s = format!(
            "CPU of the machine's {cores:.0} cores over {:.0} s: hub processes {:.0}%",
            self.wall,
            pct(self.hubs)
        );
        if self.postgres > 0.0 {
            let _ = write!(s, ", PostgreSQL {:.0}%", pct(self.postgres));
        }
        let _ = write!(
            s,
            ", simulated terminals {:.0}%, other processes and the kernel {:.0}%",
            pct(self.load),
            pct(self.others())
        );
        s
    }

    /// CPU seconds of the machine's other processes (and its kernel).
    pub fn others(&self) -> f64 {
        (self.machine - self.hubs - self.postgres - self.load).max(0.0)
    }
}

impl Env {
    fn new(opts: &Options) -> anyhow::Result<Env> {
        if !opts.hub_bin.is_file() {
            bail!(
                "the hub binary {} is missing: build it with `cargo build --release -p xinyi-hub --bin xinyi-hub`, or name it with --xinyi-hub",
                opts.hub_bin.display()
            );
        }
        let dir = tempfile::Builder::new().prefix("xinyi-load-").tempdir()?;
        // Registries of millions of records are gigabytes: deleted when
        // this process ends, however it ends.
        let watchdog = std::process::Command::new("setsid")
            .args(["sh", "-c"])
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; rm -rf '{}'",
                std::process::id(),
                dir.path().display().to_string().replace('\'', r"'\''")
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting the directory's watchdog")?;
        let needs_pg = opts.backends.contains(&Backend::Postgres) || opts.ingest > 0;
        let pg = if needs_pg {
            Some(Postgres::start()?)
        } else {
            None
        };
        Ok(Env {
            hub_bin: opts.hub_bin.clone(),
            root: dir.path().to_owned(),
            pg,
            rt: crate::hub::runtime()?,
            quiet_wait: opts.quiet_wait,
            watchdog,
            _dir: dir,
        })
    }

    /// Waits, up to the options' `quiet_wait`, until the machine's other processes leave its
    /// cores nearly idle (under a fifth of a core over 3 s; the machine
    /// may be shared), so that a measurement starts on a quiet machine.
    /// Returns the seconds waited and whether it became quiet.
    pub async fn quiet(&self, hubs: &Hubs) -> (f64, bool) {
        let max = self.quiet_wait;
        let start = Instant::now();
        if max.is_zero() {
            return (0.0, false);
        }
        loop {
            let before = self.cpu(hubs);
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            let used = self.cpu(hubs).since(&before);
            if used.others() < 0.2 * used.wall {
                return (start.elapsed().as_secs_f64(), true);
            }
            if start.elapsed() >= max {
                return (start.elapsed().as_secs_f64(), false);
            }
            eprintln!(
                "  load: other processes use {:.0}% of a core; waiting for a quiet machine …",
                used.others() * 100.0 / used.wall
            );
        }
    }

    /// A reading of the CPU used so far.
    pub fn cpu(&self, hubs: &Hubs) -> Cpu {
        Cpu {
            hubs: hubs.cpu_s(),
            postgres: self.pg.as_ref().map_or(0.0, Postgres::cpu_s),
            load: process::self_cpu_s(),
            machine: process::machine_busy_s(),
            wall: 0.0,
            at: Instant::now(),
        }
    }
}

/// The address in front of a registry's hub processes.
const PUBLIC_URL: &str = "https://xyjl.example.gov.cn";

/// A registry made for one figure: its data directory under the
/// section's directory and, on PostgreSQL, a database of its own.
#[derive(Debug)]
pub struct Registry {
    pub backend: Backend,
    pub dir: PathBuf,
    name: String,
}

impl Registry {
    /// A new registry `name` (letters, digits and `_`) with the demo
    /// catalogue, an issuer key and the bench site.
    pub fn new(env: &Env, backend: Backend, name: &str, rng: &mut Rng) -> anyhow::Result<Registry> {
        let dir = env.root.join(name);
        std::fs::create_dir_all(&dir)?;
        let reg = Registry {
            backend,
            dir,
            name: name.to_owned(),
        };
        let made = (|| {
            // Behind one address, as processes behind a load balancer
            // are: otherwise each publishes the channel addresses of its
            // own port when it starts.
            let mut settings = format!("public_url = \"{PUBLIC_URL}\"\n");
            if backend == Backend::Postgres {
                let Some(pg) = &env.pg else {
                    bail!("no PostgreSQL server");
                };
                let url = pg.create_database(name)?;
                settings.push_str(&format!("database = \"{url}\"\n"));
            }
            std::fs::write(reg.dir.join("hub.toml"), settings)?;
            drop(crate::hub::bench_hub(&reg.dir, now().date_utc8(), rng)?);
            Ok(())
        })();
        match made {
            Ok(()) => Ok(reg),
            Err(e) => {
                let _ = reg.remove(env);
                Err(e)
            }
        }
    }

    pub fn open(&self) -> anyhow::Result<Hub> {
        Hub::open(&self.dir)
            .with_context(|| format!("opening the registry in {}", self.dir.display()))
    }

    pub fn database_name(&self) -> String {
        self.name.clone()
    }

    /// The data directories of `processes` hub processes.
    pub fn dirs(&self, processes: usize) -> anyhow::Result<Vec<PathBuf>> {
        cadence::copies(&self.dir, self.backend, processes)
    }

    /// Deletes the registry: its database, its directory, its copies and
    /// logs.
    pub fn remove(&self, env: &Env) -> anyhow::Result<()> {
        if self.backend == Backend::Postgres
            && let Some(pg) = &env.pg
        {
            pg.drop_database(&self.name)?;
        }
        let prefix = format!("{}-", self.name);
        for entry in std::fs::read_dir(&env.root)?.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == self.name || name.starts_with(&prefix) {
                let path = entry.path();
                if path.is_dir() {
                    std::fs::remove_dir_all(&path)?;
                } else {
                    std::fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }
}

/// The hub binary beside this program (`target/release/xinyi-hub` for
/// the release harness).
pub fn default_hub_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("xinyi-hub")))
        .unwrap_or_else(|| PathBuf::from("xinyi-hub"))
}

fn processes_label(p: usize) -> String {
    if p == 1 {
        "1 hub process".into()
    } else {
        format!("{p} hub processes")
    }
}

fn run_label(backend: Backend, processes: usize, terminals: usize) -> String {
    format!(
        "{} terminals, {}, {}",
        count_label(terminals),
        backend.name(),
        processes_label(processes)
    )
}

/// How the measurement started, in words.
fn quiet_words((waited, quiet): (f64, bool)) -> String {
    if waited == 0.0 && !quiet {
        "started without waiting for a quiet machine".into()
    } else if quiet {
        format!("started once other processes used under a fifth of a core (waited {waited:.0} s)")
    } else {
        format!("other processes still busy after {waited:.0} s of waiting: started anyway")
    }
}

/// Runs the section: rows, and the Markdown table of the cadence runs.
pub fn run(opts: &Options) -> anyhow::Result<(Vec<Row>, String)> {
    let env = Env::new(opts)?;
    let mut rng = Rng::from_seed(0x4c4f_4144);
    let mut rows = commit_rows(&env)?;
    let mut runs: Vec<CadenceRun> = Vec::new();
    for &backend in &opts.backends {
        for &processes in &opts.processes {
            for &terminals in &opts.terminals {
                let label = run_label(backend, processes, terminals);
                eprintln!("  load: {label} …");
                let plan = Plan {
                    backend,
                    processes,
                    terminals,
                    window_s: opts.window_s,
                    records_per_upload: opts.records_per_upload,
                    listings: opts.listings,
                    changes: opts.changes,
                };
                match cadence::run(&env, plan, &mut rng) {
                    Ok(r) => {
                        eprintln!("  load: {}", summary(&r));
                        rows.extend(cadence_rows(&r));
                        runs.push(r);
                    }
                    Err(e) => {
                        eprintln!("  load: {label} FAILED: {e:#}");
                        rows.push(
                            Row::new(SECTION, &format!("{label}: errors"), 1.0, "errors")
                                .target("0", false)
                                .note(format!("the run failed: {e:#}")),
                        );
                    }
                }
            }
        }
    }
    let mut imports: Vec<Import> = Vec::new();
    let mut ingests: Vec<Ingest> = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (records, processes) = match backend {
            Backend::Sqlite => (opts.sqlite_ingest, 1),
            Backend::Postgres => (opts.ingest, opts.ingest_processes),
        };
        let import_here = opts.import > 0 && opts.backends.contains(&backend);
        if !import_here && records == 0 {
            continue;
        }
        eprintln!(
            "  load: import of {} listings, {} …",
            count_label(opts.import),
            backend.name()
        );
        let (reg, import) = ingest::import(&env, backend, opts.import.max(1), &mut rng)?;
        eprintln!("  load: imported in {:.1} s", import.seconds);
        if import_here {
            rows.push(import_row(&import));
        }
        imports.push(import);
        if records > 0 {
            let label = format!(
                "{} records ingested, {}, {}",
                count_label(records),
                backend.name(),
                processes_label(processes)
            );
            eprintln!("  load: {label} …");
            let result = ingest::ingest(
                &env,
                &reg,
                records,
                opts.ingest_terminals,
                processes,
                &mut rng,
            );
            reg.remove(&env)?;
            match result {
                Ok(i) => {
                    rows.extend(ingest_rows(&i));
                    ingests.push(i);
                }
                Err(e) => {
                    eprintln!("  load: {label} FAILED: {e:#}");
                    rows.push(
                        Row::new(SECTION, &format!("{label}: errors"), 1.0, "errors")
                            .target("0", false)
                            .note(format!("the ingest failed: {e:#}")),
                    );
                }
            }
        } else {
            reg.remove(&env)?;
        }
    }
    let details = details(opts, &env, &runs);
    Ok((rows, details))
}

/// Commits one after another, each alone.
const PROBE_COMMITS: usize = 300;

/// What one durable commit costs here, on each backend.
fn commit_rows(env: &Env) -> anyhow::Result<Vec<Row>> {
    let row = |name: &str, ms: &[f64], how: &str| {
        let p50 = median(ms);
        Row::new(SECTION, name, p50, "ms").note(format!(
            "p50 of {PROBE_COMMITS} single-row INSERTs, each its own transaction, one after another ({how}); p99 {} ms; at most {} such commits/s in a row: the floor under every write of a hub, which commits at least once per signed request (its nonce)",
            num(percentile(ms, 99.0)),
            num(1000.0 / p50.max(f64::MIN_POSITIVE))
        ))
    };
    let mut rows = vec![row(
        "a durable commit, SQLite",
        &commit::sqlite(&env.root, PROBE_COMMITS)?,
        "a new file beside the registries, the hub's pragmas: WAL, synchronous=FULL",
    )];
    if let Some(pg) = &env.pg {
        let ms = env.rt.block_on(commit::postgres(pg, PROBE_COMMITS))?;
        rows.push(row(
            "a durable commit, PostgreSQL",
            &ms,
            "the server below, synchronous_commit=on, over a connection on 127.0.0.1",
        ));
    }
    Ok(rows)
}

/// One line for the console.
fn summary(r: &CadenceRun) -> String {
    let w = &r.window;
    let p = |e| percentile(w.samples(e), 99.0);
    format!(
        "{:.0} of {:.0} requests/s served; p99 metadata {:.1} ms, artefact {:.1} ms, upload {:.1} ms; {} errors; ramp {:.0} s",
        w.all_requests() as f64 / r.span_s,
        w.all_requests() as f64 / r.window_s,
        p(Endpoint::Metadata),
        p(Endpoint::Artefact),
        p(Endpoint::Upload),
        r.errors(),
        r.ramp_s
    )
}

fn cadence_rows(r: &CadenceRun) -> Vec<Row> {
    let label = run_label(r.backend, r.processes, r.terminals);
    let w = &r.window;
    let n = r.terminals as f64;
    let targeted = r.terminals >= TARGET_TERMINALS;
    let cadence = n / UPLOAD_EVERY_S as f64 + n / METADATA_EVERY_S as f64;
    let mut rows = vec![
        Row::new(
            SECTION,
            &format!("{label}: requests/s"),
            w.all_requests() as f64 / r.span_s,
            "requests/s",
        )
        .against("asked by the terminals", w.all_requests() as f64 / r.window_s)
        .note(format!(
            "{} uploads, {} metadata polls and {} artefact downloads asked in a {:.0} s window, all answered {:.0} s after it opened (served rate: requests over that time); the cadence asks {cadence:.0} requests/s (an upload a minute and a poll every 5 minutes per terminal) plus the downloads after a poll that finds a new version; {}",
            w.requests(Endpoint::Upload),
            w.requests(Endpoint::Metadata),
            w.requests(Endpoint::Artefact),
            r.window_s,
            r.span_s,
            r.cpu.note(),
        ) + "; " + &quiet_words(r.quiet)),
    ];
    let (import_start, import_end, changed) = r.change;
    let import_s = import_end.duration_since(import_start).as_secs_f64();
    for e in [Endpoint::Metadata, Endpoint::Artefact, Endpoint::Upload] {
        let s = w.samples(e);
        let p99 = percentile(s, 99.0);
        let (clear, during) = w.split(e, import_start, import_end);
        let mut row = Row::new(SECTION, &format!("{label}: {} p99", e.name()), p99, "ms").note(
            format!(
                "{}: p50 {} ms, max {} ms over {} answered requests; {} failed. The list import ({changed} listings, {import_s:.1} s of the window): p99 {} ms over the {} requests clear of it, {} ms over the {} that overlapped it",
                e.request(),
                num(median(s)),
                num(percentile(s, 100.0)),
                s.len(),
                w.errors(e),
                num(percentile(&clear, 99.0)),
                clear.len(),
                num(percentile(&during, 99.0)),
                during.len(),
            ),
        );
        if targeted {
            row = row.target(
                "< 100 ms, no error",
                !s.is_empty() && p99 < TARGET_P99_MS && w.errors(e) == 0,
            );
        }
        rows.push(row);
    }
    let enroll = r.ramp.samples(Endpoint::Enroll);
    rows.push(
        Row::new(
            SECTION,
            &format!("{label}: enroll p99"),
            percentile(enroll, 99.0),
            "ms",
        )
        .note(format!(
            "POST /v1/enroll in the ramp before the window, {RAMP_CONCURRENCY} terminals at a time, each enrollment followed by the terminal's first upload (its roster): p50 {} ms over {} enrollments, {} failed; the ramp took {:.0} s ({:.0} terminals/s); setup not timed (the registry, its listings, the enrollment codes) {:.0} s",
            num(median(enroll)),
            enroll.len(),
            r.ramp.errors(Endpoint::Enroll),
            r.ramp_s,
            n / r.ramp_s.max(f64::MIN_POSITIVE),
            r.setup_s
        )),
    );
    rows.push(
        Row::new(
            SECTION,
            &format!("{label}: records ingested/s"),
            w.records as f64 / r.span_s,
            "records/s",
        )
        .note(format!(
            "{} signed, chained redemptions stored in the window ({} per upload: what a counter confirmed in the minute before), each receipt checked",
            w.records, r.records_per_upload
        )),
    );
    let mut errs = Vec::new();
    for e in Endpoint::ALL {
        let k = r.ramp.errors(e) + w.errors(e);
        if k > 0 {
            errs.push(format!("{} {k}", e.name()));
        }
    }
    let first: Vec<String> = r
        .ramp
        .first_errors
        .iter()
        .chain(&w.first_errors)
        .take(3)
        .cloned()
        .chain(r.log.lines.iter().cloned())
        .collect();
    rows.push(
        Row::new(SECTION, &format!("{label}: errors"), r.errors() as f64, "errors")
            .target("0", r.errors() == 0)
            .note(format!(
                "failed requests in the ramp and the window ({}); the hub processes logged {} errors and {} warnings{}",
                if errs.is_empty() {
                    "none".to_owned()
                } else {
                    errs.join(", ")
                },
                r.log.errors,
                r.log.warnings,
                if first.is_empty() {
                    String::new()
                } else {
                    format!("; first: {}", first.join(" / "))
                }
            )),
    );
    let peak = r.memory.iter().map(|m| m.0).fold(0.0, f64::max);
    let each: Vec<String> = r
        .memory
        .iter()
        .enumerate()
        .map(|(i, (hwm, rss))| format!("process {i}: VmHWM {hwm:.0} MB, VmRSS {rss:.0} MB"))
        .collect();
    rows.push(
        Row::new(SECTION, &format!("{label}: hub RSS peak"), peak, "MB").note(format!(
            "the largest VmHWM of the hub processes (/proc/PID/status) at the window's end; {}",
            each.join("; ")
        )),
    );
    rows
}

fn import_row(i: &Import) -> Row {
    Row::new(
        SECTION,
        &format!("{}-listing import, {}", count_label(i.listings), i.backend.name()),
        i.seconds,
        "s",
    )
    .note(format!(
        "`xinyi-hub import listings` of a {:.0} MB list-standard CSV (valid ID numbers and credit codes, one subject per row) into a new registry: checked, sealed, stored, a version published; {} listings/s",
        i.bytes as f64 / 1e6,
        num(i.listings as f64 / i.seconds)
    ))
}

fn ingest_rows(i: &Ingest) -> Vec<Row> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let label = format!(
        "{} records ingested, {}, {}",
        count_label(i.records as usize),
        i.backend.name(),
        processes_label(i.processes)
    );
    let ups = i.uploads.samples(Endpoint::Upload);
    let hub_us = i.cpu.hubs * 1e6 / (i.records as f64).max(1.0);
    let pg_us = i.cpu.postgres * 1e6 / (i.records as f64).max(1.0);
    let mut note = format!(
        "{} terminals enrolled over HTTP, each uploading its journal of {} records (roster first, then redemptions; {:.0} MB signed before the clock in {:.0} s) in batches of 500, {} at once; {:.0} s in all; upload p50 {} ms, p99 {} ms; {} failed requests, {} hub log errors; {}; per record the hubs used {hub_us:.0} µs of CPU, of which checking its signature (with its upload's, at once) takes {:.1} µs on one core",
        i.terminals,
        i.records / i.terminals.max(1) as u64,
        i.batch_bytes as f64 / 1e6,
        i.sign_s,
        4 * i.processes,
        i.seconds,
        num(median(ups)),
        num(percentile(ups, 99.0)),
        i.uploads.all_errors() + i.enrolls.all_errors(),
        i.log.errors,
        i.cpu.note(),
        i.verify_us
    );
    if i.backend == Backend::Postgres {
        let _ = write!(note, ", PostgreSQL {pg_us:.0} µs");
    }
    if let Some(w) = &i.waits {
        let _ = write!(note, "; PostgreSQL sessions: {}", w.summary());
    }
    let _ = write!(note, "; {}", quiet_words(i.quiet));
    if let Some(e) = i.uploads.first_errors.first() {
        let _ = write!(note, "; first error: {e}");
    }
    let mut rate = Row::new(SECTION, &label, i.rate(), "records/s")
        .against(
            &format!(
                "the signature checks alone, {UPLOAD_BATCH} to an upload, on {cores:.0} cores"
            ),
            cores * 1e6 / i.verify_us,
        )
        .note(note);
    if i.backend == Backend::Postgres {
        rate = rate.target(
            "≥ 20,000 records/s, no error",
            i.rate() >= TARGET_INGEST && i.errors() == 0,
        );
    }
    let expected = i.records - i.terminals as u64;
    let report = median(&i.report_s);
    vec![
        rate,
        Row::new(
            SECTION,
            &format!(
                "usage report over {} records, {}",
                count_label(i.records as usize),
                i.backend.name()
            ),
            report,
            "s",
        )
        .target(
            "< 5 s",
            report < TARGET_REPORT_S && i.report_redemptions == expected,
        )
        .note(format!(
            "`xinyi-hub report usage --out FILE` right after the ingest (the hubs stopped), median of 3 runs ({}); {} rows counting {} redemptions, {expected} expected",
            i.report_s
                .iter()
                .map(|s| format!("{s:.2} s"))
                .collect::<Vec<_>>()
                .join(", "),
            i.report_rows,
            i.report_redemptions
        )),
    ]
}

/// The scale, the server, and the cadence runs side by side.
fn details(opts: &Options, env: &Env, runs: &[CadenceRun]) -> String {
    let mut md = format!("Scale: {}.", opts.describe());
    if let Some(pg) = &env.pg {
        let _ = write!(
            md,
            " PostgreSQL {} on the same machine, durable: {}.",
            pg.version(),
            postgres::settings_note()
        );
    }
    md.push_str("\n\n");
    if runs.is_empty() {
        return md;
    }
    md.push_str(
        "Each cadence run, p50 / p99 in ms (enroll: the ramp's burst, before the window):\n\n",
    );
    md.push_str("| Run | Requests/s served / asked | Enroll | Metadata | Artefact | Upload | Records/s | Errors | Hub RSS peak | CPU: hubs / PostgreSQL / terminals / others |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    for r in runs {
        let w = &r.window;
        let pp = |s: &[f64]| {
            if s.is_empty() {
                "—".to_owned()
            } else {
                format!("{} / {}", num(median(s)), num(percentile(s, 99.0)))
            }
        };
        let (from, to, _) = r.change;
        let pc = |e: Endpoint| {
            let s = w.samples(e);
            let (clear, _) = w.split(e, from, to);
            if s.is_empty() {
                "—".to_owned()
            } else {
                format!("{} ({})", pp(s), num(percentile(&clear, 99.0)))
            }
        };
        let pct = |x: f64| x * 100.0 / (r.cpu.wall * cores).max(f64::MIN_POSITIVE);
        let _ = writeln!(
            md,
            "| {} | {} / {} | {} | {} | {} | {} | {} | {} | {:.0} MB | {:.0}% / {:.0}% / {:.0}% / {:.0}% |",
            run_label(r.backend, r.processes, r.terminals),
            num(w.all_requests() as f64 / r.span_s),
            num(w.all_requests() as f64 / r.window_s),
            pp(r.ramp.samples(Endpoint::Enroll)),
            pc(Endpoint::Metadata),
            pc(Endpoint::Artefact),
            pc(Endpoint::Upload),
            num(w.records as f64 / r.span_s),
            r.errors(),
            r.memory.iter().map(|m| m.0).fold(0.0, f64::max),
            pct(r.cpu.hubs),
            pct(r.cpu.postgres),
            pct(r.cpu.load),
            pct(r.cpu.others()),
        );
    }
    let waits: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            r.waits.as_ref().map(|w| {
                format!(
                    "- {}: {}",
                    run_label(r.backend, r.processes, r.terminals),
                    w.summary()
                )
            })
        })
        .collect();
    if !waits.is_empty() {
        md.push_str("\nPostgreSQL's sessions during each window (pg_stat_activity):\n\n");
        md.push_str(&waits.join("\n"));
        md.push('\n');
    }
    md
}
