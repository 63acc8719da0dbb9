//! The terminal's command line: enrollment, sync, status, verification,
//! records and voids on an enrolled terminal, and the demo.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use xinyi_core::wire::config::Channel;
use xinyi_core::wire::journal::Body;
use xinyi_core::{Amounts, Approval, Fen, Refusal};

use crate::counter::{Counter as _, Freshness, Recorded};
use crate::reasons;
use crate::settings::Adjustable;
use crate::store::JournalEntry;
use crate::terminal::{Paths, Scan, Staff, Supervisor, Terminal, now, record_id};

/// Exit code of a refused verdict (0 is OK, 1 an error).
const EXIT_REFUSED: u8 = 3;
/// The largest CA certificate file read at enrollment.
const MAX_CA_FILE: u64 = 256 * 1024;

/// Writes a line to standard output. A reader that went away
/// (`xinyi records | head`) ends the program quietly, as command-line
/// tools do, instead of a panic; any other failure to write is an error.
macro_rules! say {
    () => { $crate::cli::say_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::say_line(format_args!($($arg)*)) };
}

#[doc(hidden)]
pub fn say_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("xinyi: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "xinyi",
    version,
    about = "Offline verification terminal for credit-incentive (守信激励) measures"
)]
pub struct Args {
    /// Where the terminal keeps its database and key
    /// (default: $XINYI_DATA_DIR, else ~/.local/share/xinyi).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    kiosk: KioskArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How the kiosk window opens (`xinyi`, `xinyi kiosk`).
#[derive(Debug, Clone, Default, clap::Args)]
struct KioskArgs {
    /// Full screen, for a dedicated counter screen.
    #[arg(long, global = true)]
    kiosk: bool,
    /// A picture of a QR code to present when the kiosk opens.
    #[arg(long, global = true, value_name = "FILE")]
    image: Option<PathBuf>,
    /// Demo mode (an embedded registry with sample codes) even when this
    /// terminal is enrolled.
    #[arg(long, global = true)]
    demo: bool,
    /// Play the pictures (PNG, JPEG) in this folder as the camera's frames,
    /// 15 a second, looped: the camera path without a camera.
    #[arg(long, global = true, value_name = "DIR")]
    frames: Option<PathBuf>,
    /// Write the UI thread's timings to this file (for the benchmarks).
    #[arg(long, global = true, value_name = "FILE", hide = true)]
    ui_timings: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the counter's kiosk window (also what `xinyi` alone does).
    Kiosk,
    /// Manage the operators who sign in at the kiosk with a PIN.
    Operator {
        #[command(subcommand)]
        what: OperatorCommand,
    },
    /// Enroll this terminal with the registry hub using a one-time code.
    Enroll {
        /// The hub's address, e.g. https://credit.example.gov.cn
        #[arg(long)]
        hub: String,
        /// The one-time enrollment code from the credit office.
        #[arg(long)]
        code: String,
        /// A name for this counter in the registry's records.
        #[arg(long, default_value = "")]
        label: String,
        /// The registry key's fingerprint, as the credit office gave it:
        /// eight groups of five digits (`xinyi-hub init` prints it). The
        /// hub is trusted only if its key matches.
        #[arg(long)]
        fingerprint: String,
        /// The certificate (PEM) the hub's TLS certificate must chain to,
        /// when the credit office runs its own CA or a self-signed
        /// certificate (`xinyi-hub tls self-signed`). Without it, the
        /// system's trusted roots.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
    /// Show the data version, its age, the offline countdown and unsent records.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Download new data from the hub and upload the journal now.
    Sync {
        /// Keep syncing in the foreground (every 5 min down, every 60 s up,
        /// backing off while the hub is away) until interrupted.
        #[arg(long, conflicts_with = "from_file")]
        watch: bool,
        /// Apply a data bundle carried by hand (`xinyi-hub bundle export`) instead
        /// of the network; the same signatures and checks apply.
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
    },
    /// Write the records not yet confirmed by the hub to a file for
    /// `xinyi-hub ingest` (sites without a network).
    ExportRecords {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify a scanned code for a measure.
    Verify {
        /// The QR text, e.g. `XY1:…` (scanner prefixes are removed).
        code: String,
        /// The measure to apply, e.g. XYX-BUS-TOPUP.
        #[arg(long)]
        measure: String,
        /// The amount the clerk typed, in fen (top-up, ticket price, deposit).
        #[arg(long)]
        amount: Option<u64>,
        /// Accompanying family members (free-entry measures).
        #[arg(long, default_value_t = 0)]
        companions: u32,
        /// The clerk compared the holder's ID document with the masked
        /// name: needed to confirm a printed card where the site checks
        /// holders (the default).
        #[arg(long)]
        holder_checked: bool,
        /// Record the redemption (the clerk's confirm) when the verdict is OK.
        #[arg(long)]
        confirm: bool,
        /// The operator who confirms (their PIN is read from standard
        /// input). Needed unless the site is a self-service point.
        #[arg(long)]
        operator: Option<String>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the latest journal records.
    Records {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Void a redemption (a supervisor, within the site's void window).
    Void {
        /// The record id, as `xinyi records` shows it.
        id: String,
        /// The supervisor's id; their PIN is read from standard input.
        #[arg(long)]
        supervisor: String,
        #[arg(long)]
        reason: String,
    },
    /// Show or change this terminal's settings.
    Settings {
        #[command(subcommand)]
        what: Option<SettingsCommand>,
    },
    /// Demo material: sample codes for every kind of verdict.
    #[cfg(feature = "demo")]
    Demo {
        #[command(subcommand)]
        what: DemoCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SettingsCommand {
    /// Set one: retention-days (90). The void window is the registry's.
    Set { key: String, value: String },
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Add an operator, or replace the name, role and PIN of one. Once a
    /// supervisor exists, a supervisor signs for it (--as); PINs are read
    /// from standard input, one line each: the supervisor's first, then
    /// the new one (unless --pin gives it).
    Add {
        /// The staff number, e.g. 1001.
        id: String,
        #[arg(long)]
        name: String,
        /// clerk (verifies and confirms) or supervisor (also voids).
        #[arg(long, default_value = "clerk")]
        role: String,
        /// 4–12 digits, 6–12 for a supervisor (avoid: it stays in the
        /// shell's history).
        #[arg(long)]
        pin: Option<String>,
        /// The supervisor making the change.
        #[arg(long = "as", value_name = "SUPERVISOR")]
        by: Option<String>,
    },
    /// List the operators.
    List,
    /// Remove an operator (a supervisor signs for it with --as).
    Remove {
        id: String,
        #[arg(long = "as", value_name = "SUPERVISOR")]
        by: Option<String>,
    },
}

#[cfg(feature = "demo")]
#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Print the sample codes, one per line: id, expected verdict, text.
    Codes {
        /// Also write each code as a QR picture, DIR/<id>.png, to show
        /// from a phone or to a webcam.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Walk through every sample code at the demo bus top-up counter.
    Tour,
}

#[cfg(feature = "demo")]
mod demo;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")
}

pub fn run(args: Args) -> Result<ExitCode> {
    let paths = Paths::resolve(args.data_dir.as_deref());
    match args.command {
        None if !has_display() => {
            // No screen to open the kiosk on (a server, CI): the text tour.
            no_display()
        }
        None | Some(Command::Kiosk) => kiosk(&paths, args.kiosk),
        Some(Command::Operator { what }) => operator(&paths, what),
        #[cfg(feature = "demo")]
        Some(Command::Demo { what }) => demo::run(what),
        Some(Command::Enroll {
            hub,
            code,
            label,
            fingerprint,
            ca,
        }) => {
            let label = if label.is_empty() { hostname() } else { label };
            let fingerprint = xinyi_core::wire::Fingerprint::parse(&fingerprint)
                .map_err(|e| anyhow::anyhow!("--fingerprint: {e}"))?;
            let ca = ca.as_deref().map(read_ca).transpose()?;
            let rt = runtime()?;
            let mut t = rt.block_on(Terminal::enroll(
                &paths,
                &hub,
                &code,
                &label,
                &fingerprint,
                ca.as_deref(),
            ))?;
            say!(
                "enrolled: terminal {} at site {}",
                t.identity().terminal_id,
                t.identity().site_id
            );
            say!("data dir: {}", paths.dir.display());
            let (down, up) = rt.block_on(t.sync(now()))?;
            report_sync(&down, &up);
            Ok(if down.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Command::Sync {
            from_file: Some(file),
            ..
        }) => {
            let mut t = Terminal::open(&paths)?;
            let d = t.import_bundle_file(&file, now())?;
            report_sync(&Ok(d), &Ok(crate::sync::Uploaded::default()));
            say!(
                "records: {} not yet confirmed by the hub (`xinyi export-records --out FILE`)",
                t.status(now())?.unsent
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::ExportRecords { out }) => {
            let t = Terminal::open(&paths)?;
            let (n, bytes) = t.export_records()?;
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            say!(
                "wrote {n} record(s) to {}; at the registry: `xinyi-hub ingest FILE`",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Sync { watch: true, .. }) => watch(&paths),
        Some(Command::Sync { watch: false, .. }) => {
            let mut t = Terminal::open(&paths)?;
            let (down, up) = runtime()?.block_on(t.sync(now()))?;
            report_sync(&down, &up);
            Ok(if down.is_ok() && up.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Command::Status { json }) => status(&paths, json),
        Some(Command::Verify {
            code,
            measure,
            amount,
            companions,
            holder_checked,
            confirm,
            operator,
            json,
        }) => verify(
            &paths,
            &code,
            &measure,
            Typed {
                amount: amount.map(Fen),
                companions,
                holder_checked,
            },
            confirm.then_some(operator),
            json,
        ),
        Some(Command::Records { limit, json }) => records(&paths, limit, json),
        Some(Command::Settings { what }) => settings(&paths, what),
        Some(Command::Void {
            id,
            supervisor,
            reason,
        }) => {
            let mut t = Terminal::open(&paths)?;
            let sup = supervisor_signs(&mut t, &supervisor, "void a redemption")?;
            let e = t.void(&record_id(&id)?, &sup, &reason, now())?;
            say!(
                "voided {id}: void record {} (seq {})",
                xinyi_core::hex::encode(&e.id),
                e.seq
            );
            try_upload(&mut t);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether a graphical session is there to open a window on.
fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

impl From<KioskArgs> for crate::ui::KioskOptions {
    fn from(args: KioskArgs) -> Self {
        crate::ui::KioskOptions {
            fullscreen: args.kiosk,
            image: args.image,
            demo: args.demo,
            frames: args.frames,
            measure: args.ui_timings,
        }
    }
}

/// Opens the kiosk window: the enrolled terminal, or the demo when this
/// machine is not enrolled (or with --demo).
fn kiosk(paths: &Paths, args: KioskArgs) -> Result<ExitCode> {
    crate::ui::run(paths, args.into())?;
    Ok(ExitCode::SUCCESS)
}

/// Reads one line (a PIN) from standard input, after a prompt on stderr.
fn read_pin(prompt: &str) -> Result<String> {
    eprintln!("{prompt}, then Enter:");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading a PIN from standard input")?;
    Ok(line.trim().to_owned())
}

/// Signs `id` in with the PIN read from standard input.
fn sign_in(t: &mut Terminal, id: &str) -> Result<Staff> {
    let pin = read_pin(&format!("PIN for {id}"))?;
    Ok(t.sign_in(id, &pin, now())?)
}

/// Signs a supervisor in to `what`.
fn supervisor_signs(t: &mut Terminal, id: &str, what: &'static str) -> Result<Supervisor> {
    sign_in(t, id)?
        .supervisor()
        .ok_or_else(|| crate::terminal::TerminalError::NotSupervisor(what).into())
}

/// Reads the hub's CA certificate file given at enrollment.
fn read_ca(path: &std::path::Path) -> Result<String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut text = String::new();
    f.take(MAX_CA_FILE + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{} is not a PEM text file", path.display()))?;
    if text.len() as u64 > MAX_CA_FILE {
        bail!(
            "{} is larger than a certificate file ({MAX_CA_FILE} bytes)",
            path.display()
        );
    }
    Ok(text)
}

fn operator(paths: &Paths, what: OperatorCommand) -> Result<ExitCode> {
    let mut t = Terminal::open(paths)?;
    match what {
        OperatorCommand::Add {
            id,
            name,
            role,
            pin,
            by,
        } => {
            let role = crate::store::Role::parse(&role)
                .with_context(|| format!("role must be clerk or supervisor, not {role:?}"))?;
            let by = by
                .map(|s| supervisor_signs(&mut t, &s, "change the operators"))
                .transpose()?;
            let pin = match pin {
                Some(p) => p,
                None => read_pin(&format!("PIN for {id} ({}–12 digits)", role.min_pin()))?,
            };
            t.put_operator(
                &crate::store::NewOperator {
                    id: &id,
                    name: &name,
                    role,
                    pin: &pin,
                },
                by.as_ref(),
                now(),
            )?;
            say!("operator {id} ({name}, {}) saved", role.as_str());
        }
        OperatorCommand::List => {
            let ops = t.operators()?;
            if ops.is_empty() {
                say!("no operators yet: add one with `xinyi operator add ID --name NAME`");
            }
            let locked = t.lockouts()?;
            for o in ops {
                let lock = locked
                    .iter()
                    .find(|(id, _)| *id == o.id)
                    .map(|(_, s)| format!("  locked for {} min more", s.div_ceil(60)))
                    .unwrap_or_default();
                say!("{}\t{}\t{}{lock}", o.id, o.role.as_str(), o.name);
            }
        }
        OperatorCommand::Remove { id, by } => {
            let by = by
                .map(|s| supervisor_signs(&mut t, &s, "change the operators"))
                .transpose()?;
            if !t.remove_operator(&id, by.as_ref(), now())? {
                bail!("no operator {id}");
            }
            say!("operator {id} removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the sync worker in the foreground until Ctrl-C.
fn watch(paths: &Paths) -> Result<ExitCode> {
    let t = Terminal::open(paths)?;
    let cfg = t
        .worker_config()
        .context("this terminal syncs by file only: it has no hub address")?;
    let hub = cfg.hub_url.clone();
    drop(t);
    say!("syncing with {hub}; Ctrl-C stops");
    let handle = crate::sync::worker::spawn(
        cfg,
        Box::new(|s| {
            let at = now().display_utc8();
            match (&s.last_error, &s.last_download, &s.last_upload) {
                (Some(e), _, _) => eprintln!("{at}  {e} (attempt {})", s.failures),
                (None, d, u) => say!(
                    "{at}  online; data {}; records {}",
                    d.as_ref().map_or("-".into(), |(_, d)| format!("{d:?}")),
                    u.as_ref().map_or("-".into(), |(_, u)| format!(
                        "{} sent, hub holds through {}",
                        u.sent, u.held_through
                    ))
                ),
            }
        }),
    )?;
    runtime()?
        .block_on(tokio::signal::ctrl_c())
        .context("waiting for Ctrl-C")?;
    handle.stop();
    Ok(ExitCode::SUCCESS)
}

fn settings(paths: &Paths, what: Option<SettingsCommand>) -> Result<ExitCode> {
    let mut t = Terminal::open(paths)?;
    let mut settings = t.settings();
    if let Some(SettingsCommand::Set { key, value }) = what {
        let Some(setting) = Adjustable::find(&key) else {
            let names: Vec<&str> = Adjustable::ALL.iter().map(|a| a.name()).collect();
            bail!("unknown setting {key:?}; settings are {}", names.join(", "));
        };
        setting.set(&mut settings, &value)?;
        t.save_settings(&settings)?;
    }
    for a in Adjustable::ALL {
        say!("{} = {}", a.name(), a.get(&settings));
    }
    say!(
        "void-window-minutes = {} (set by the registry for this site)",
        t.snapshot().void_window_s() / 60
    );
    Ok(ExitCode::SUCCESS)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn report_sync(
    down: &Result<crate::sync::Downloaded, crate::sync::SyncError>,
    up: &Result<crate::sync::Uploaded, crate::sync::SyncError>,
) {
    match down {
        Ok(crate::sync::Downloaded::UpToDate { version }) => {
            say!("data: up to date (version {version})")
        }
        Ok(crate::sync::Downloaded::Applied {
            from,
            to,
            delta,
            listings,
        }) => say!(
            "data: version {from} → {to} ({}, {listings} listings held)",
            if *delta { "delta" } else { "snapshot" }
        ),
        Err(e) => eprintln!("data: {e}"),
    }
    match up {
        Ok(u) if u.sent == 0 => say!("records: nothing to upload"),
        Ok(u) => say!(
            "records: {} sent, {} new at the hub, hub holds through seq {}",
            u.sent,
            u.stored,
            u.held_through
        ),
        Err(e) => eprintln!("records: {e}"),
    }
}

/// "3 h 05 min"
fn duration(s: i64) -> String {
    let s = s.max(0);
    if s < 3600 {
        format!("{} min", s / 60)
    } else {
        format!("{} h {:02} min", s / 3600, s % 3600 / 60)
    }
}

fn status(paths: &Paths, as_json: bool) -> Result<ExitCode> {
    let t = Terminal::open(paths)?;
    let at = now();
    let st = t.status(at)?;
    let site = t.snapshot();
    let fresh_left = st.freshness.left_s();
    if as_json {
        say!(
            "{}",
            json!({
                "terminal": t.identity().terminal_id,
                "site": t.identity().site_id,
                "hub": t.identity().hub_url,
                "data_version": site.version,
                "published_at": site.published_at.map(|p| p.0),
                "age_s": st.age_s,
                "since_hub_s": st.since_hub_s,
                "max_offline_age_s": site.max_offline_age_s,
                "fresh_for_s": fresh_left,
                "metadata_expired": st.metadata_expired,
                "unsent": st.unsent,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    let id = t.identity();
    let site_name = site
        .site
        .as_ref()
        .map(|s| format!(" ({} · {})", s.name, s.unit))
        .unwrap_or_default();
    say!("terminal  {}", id.terminal_id);
    say!("site      {}{site_name}", id.site_id);
    say!(
        "hub       {}",
        id.hub_url.as_deref().unwrap_or("none (file sync)")
    );
    match (site.version.zip(site.published_at), st.freshness) {
        (Some((version, published_at)), fresh) if fresh != Freshness::NoData => {
            say!(
                "data      version {}, published {} ({} ago); hub last confirmed it {} ago",
                version,
                published_at.display_utc8(),
                duration(st.age_s.unwrap_or(0)),
                duration(st.since_hub_s.unwrap_or(0))
            );
            match fresh {
                Freshness::Fresh { left_s } | Freshness::Expiring { left_s } => say!(
                    "offline   verdicts stay valid for {} more (max offline age {})",
                    duration(left_s),
                    duration(site.max_offline_age_s)
                ),
                _ => say!(
                    "offline   STALE: every verdict is refused until the terminal syncs: run `xinyi sync`"
                ),
            }
        }
        _ => say!("data      none yet: run `xinyi sync`"),
    }
    if !site.measures.is_empty() {
        let ms: Vec<String> = site
            .measures
            .iter()
            .map(|m| format!("{} {}", m.id, m.name_zh))
            .collect();
        say!("measures  {}", ms.join("; "));
    }
    match st.oldest_unsent_at {
        Some(o) => say!(
            "records   {} not yet uploaded (oldest {})",
            st.unsent,
            o.display_utc8()
        ),
        None => say!("records   all uploaded"),
    }
    if st.metadata_expired {
        say!(
            "hub       the hub's signed metadata has expired: new data cannot be trusted until the terminal reaches the hub (`xinyi sync`)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Uploads right after a redemption; offline is fine (the worker or the
/// next `xinyi sync` sends it), so this only reports.
fn try_upload(t: &mut Terminal) {
    let result = runtime()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(t.upload(now())).map_err(|e| e.to_string()));
    if let Err(e) = result {
        eprintln!("(not uploaded yet: {e})");
    }
}

/// `confirm`: `None` to verify only; `Some(Some(operator))` to record the
/// redemption, confirmed by that operator (PIN from standard input);
/// `Some(None)` to record it unattended, where the site allows that.
/// What the clerk typed or ticked for a redemption.
struct Typed {
    amount: Option<Fen>,
    companions: u32,
    holder_checked: bool,
}

fn verify(
    paths: &Paths,
    code: &str,
    measure: &str,
    typed: Typed,
    confirm: Option<Option<String>>,
    as_json: bool,
) -> Result<ExitCode> {
    let Typed {
        amount,
        companions,
        holder_checked,
    } = typed;
    let mut t = Terminal::open(paths)?;
    // Whoever confirms signs in before the scan, so a refusal names them.
    let by = match &confirm {
        Some(Some(op)) => Some(sign_in(&mut t, op)?),
        Some(None) => Some(t.unattended()?),
        None => None,
    };
    let operator = by.as_ref().map_or("cli".to_owned(), |s| s.id().to_owned());
    let at = now();
    let measure = xinyi_core::MeasureId::parse(measure).map_err(anyhow::Error::msg)?;
    match t.scan(code, &measure, &operator, at)? {
        Scan::Refused { refusal, record } => {
            // Where the citizen can take it, as the kiosk's codes say.
            let reference = xinyi_core::hex::encode(&record.id);
            let site = t.snapshot();
            let objection = reasons::objection_applies(refusal.reason)
                .then(|| site.channel_link(Channel::Objection, &reference))
                .flatten();
            let complaint = site.channel_link(Channel::Complaint, &reference);
            if as_json {
                let mut v = refused_json(&refusal, Some(&record));
                v["objection_url"] = json!(objection);
                v["complaint_url"] = json!(complaint);
                say!("{v}");
            } else {
                print_refusal(&refusal);
                say!("    reference: {reference}");
                for (what, url) in [("objection", objection), ("complaint", complaint)] {
                    if let Some(url) = url {
                        say!("    {what}: {url}");
                    }
                }
            }
            try_upload(&mut t);
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Scan::Ok(approval) => {
            if approval.measure.benefit.takes_amount() && amount.is_none() && by.is_some() {
                bail!("this measure needs the amount: give --amount FEN");
            }
            let amounts = match amount {
                Some(a) => Some(approval.amounts(a, companions)?),
                None if !approval.measure.benefit.takes_amount() => {
                    Some(approval.amounts(Fen::ZERO, 0)?)
                }
                None => None,
            };
            let record = match &by {
                Some(by) => Some(
                    t.confirm(&approval, amount, companions, holder_checked, by, at)?
                        .record,
                ),
                None => None,
            };
            if as_json {
                say!("{}", ok_json(&approval, amounts.as_ref(), record.as_ref()));
            } else {
                print_approval(&approval, amounts.as_ref());
                match &record {
                    Some(r) => say!(
                        "    confirmed: record {} (seq {})",
                        xinyi_core::hex::encode(&r.id),
                        r.seq
                    ),
                    None => say!("    not recorded: add --confirm to record the redemption"),
                }
            }
            if record.is_some() {
                try_upload(&mut t);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn records(paths: &Paths, limit: usize, as_json: bool) -> Result<ExitCode> {
    let t = Terminal::open(paths)?;
    let entries = t.journal(limit)?;
    if as_json {
        let rows: Vec<serde_json::Value> = entries.iter().map(record_json).collect();
        say!("{}", serde_json::Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        say!("no records yet");
    }
    for e in &entries {
        let r = &e.record;
        let what = match &r.body {
            Body::Redemption {
                measure,
                discount,
                payable,
                ..
            } => {
                format!(
                    "redemption {measure} discount {} payable {}{}",
                    Fen(*discount),
                    Fen(*payable),
                    if e.voided { " (voided)" } else { "" }
                )
            }
            Body::Refusal {
                reason, measure, ..
            } => format!("refusal    {measure} {reason}"),
            Body::Void { target, reason, .. } => format!(
                "void       of {} ({reason})",
                xinyi_core::hex::encode(target)
            ),
            Body::Staff { event, staff, role } => format!(
                "staff      {} {staff}{}",
                event.as_str(),
                role.as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        };
        let sent = if e.uploaded_at.is_some() {
            "uploaded"
        } else {
            "unsent"
        };
        say!(
            "{:>5}  {}  {}  {}  {what}  [{sent}]",
            e.seq,
            r.at.display_utc8(),
            xinyi_core::hex::encode(&e.id),
            r.operator
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn record_json(e: &JournalEntry) -> serde_json::Value {
    let r = &e.record;
    let mut v = json!({
        "id": xinyi_core::hex::encode(&e.id),
        "seq": e.seq,
        "at": r.at.0,
        "kind": r.body.kind(),
        "operator": r.operator,
        "uploaded": e.uploaded_at.is_some(),
        "voided": e.voided,
    });
    match &r.body {
        Body::Redemption {
            measure,
            original,
            discount,
            payable,
            companions,
            ..
        } => {
            v["measure"] = json!(measure);
            v["original_fen"] = json!(original);
            v["discount_fen"] = json!(discount);
            v["payable_fen"] = json!(payable);
            v["companions"] = json!(companions);
        }
        Body::Refusal {
            reason, measure, ..
        } => {
            v["measure"] = json!(measure);
            v["reason"] = json!(reason);
        }
        Body::Void { target, reason, .. } => {
            v["target"] = json!(xinyi_core::hex::encode(target));
            v["reason"] = json!(reason);
        }
        Body::Staff { event, staff, role } => {
            v["event"] = json!(event.as_str());
            v["staff"] = json!(staff);
            v["role"] = json!(role);
        }
    }
    v
}

fn ok_json(
    a: &Approval,
    amounts: Option<&Amounts>,
    record: Option<&Recorded>,
) -> serde_json::Value {
    json!({
        "verdict": "OK",
        "measure": a.measure.id.as_str(),
        "name": a.claims.name,
        "kind": a.claims.kind.as_str(),
        "categories": a.categories.iter().map(|c| c.code()).collect::<Vec<_>>(),
        "form": a.claims.form.as_str(),
        "checked": a.basis.as_str(),
        "amounts": amounts.map(|m| json!({
            "original_fen": m.original.0,
            "discount_fen": m.discount.0,
            "payable_fen": m.payable.0,
            "companions": m.companions,
        })),
        "record": record.map(|r| xinyi_core::hex::encode(&r.id)),
    })
}

fn refused_json(r: &Refusal, record: Option<&Recorded>) -> serde_json::Value {
    let w = reasons::words(r.reason);
    json!({
        "verdict": r.reason.code(),
        "detail": r.detail,
        "message_zh": w.title_zh,
        "message_en": w.title_en,
        "advice_zh": w.advice_zh,
        "advice_en": w.advice_en,
        "reference": record.map(|e| xinyi_core::hex::encode(&e.id)),
    })
}

fn print_approval(a: &Approval, amounts: Option<&Amounts>) {
    let cats: Vec<String> = a
        .categories
        .iter()
        .map(|c| format!("{c} {}", c.name_zh()))
        .collect();
    say!("OK  {} ({})", a.measure.name_zh, a.measure.id);
    say!(
        "    {} · {} · {}",
        a.claims.name,
        a.claims.kind,
        cats.join(", ")
    );
    match (&a.measure.benefit, amounts) {
        (xinyi_core::Benefit::Privilege { what }, _) => say!("    {what}"),
        (_, Some(m)) => say!(
            "    original {}  discount {}  payable {}",
            m.original,
            m.discount,
            m.payable
        ),
        (_, None) => say!("    (give --amount FEN to compute what the citizen pays)"),
    }
    if let Some((used, limit)) = a.used {
        say!(
            "    uses this {}: {used} of {}",
            limit.per.as_str(),
            limit.count
        );
    }
    say!(
        "    checked {}",
        match a.basis {
            xinyi_core::history::Basis::Online => "online with the registry",
            xinyi_core::history::Basis::Offline => "offline, from this terminal's data",
        }
    );
}

/// With no screen to open the kiosk on (a server, CI).
#[cfg(feature = "demo")]
fn no_display() -> Result<ExitCode> {
    eprintln!(
        "xinyi: no display found; showing the text demo tour (`xinyi kiosk` opens the window)"
    );
    demo::tour()
}

#[cfg(not(feature = "demo"))]
fn no_display() -> Result<ExitCode> {
    eprintln!(
        "xinyi: no display found to open the kiosk on; `xinyi status` shows this terminal, `xinyi --help` what else it does"
    );
    Ok(ExitCode::from(2))
}

fn print_refusal(r: &Refusal) {
    let w = reasons::words(r.reason);
    say!("REFUSED  {}  {} / {}", r.reason, w.title_zh, w.title_en);
    say!("    {}", w.advice_zh);
    say!("    detail: {}", r.detail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn options(argv: &[&str]) -> crate::ui::KioskOptions {
        let args = Args::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"));
        args.kiosk.into()
    }

    #[test]
    fn kiosk_flags_reach_the_kiosk_options_before_or_after_the_command() {
        let o = options(&[
            "xinyi", "--kiosk", "--image", "code.png", "--frames", "frames", "--demo",
        ]);
        assert!(o.fullscreen && o.demo);
        assert_eq!(o.image.as_deref(), Some(Path::new("code.png")));
        assert_eq!(o.frames.as_deref(), Some(Path::new("frames")));
        assert_eq!(o.measure, None);
        let o = options(&["xinyi", "kiosk", "--ui-timings", "t.jsonl"]);
        assert!(!o.fullscreen && o.image.is_none());
        assert_eq!(o.measure.as_deref(), Some(Path::new("t.jsonl")));
        // A command's own flag of the same word is not taken for a kiosk one.
        assert!(Args::try_parse_from(["xinyi", "verify", "XY1:x", "--measure", "M"]).is_ok());
    }
}
