//! `xinyi-hub` — the credit registry's command line. Parses arguments,
//! calls the library, prints results and owns the exit codes: 0 done,
//! 1 error, 2 a file was rejected (its report is printed).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use xinyi_core::listing::{check_exclusions, check_listings};
use xinyi_core::{Catalogue, UnixTime};
use xinyi_hub::accounts::{NewUser, Role};
use xinyi_hub::audit::{Actor, AuditCheck, AuditQuery};
use xinyi_hub::reports::csv_field;
use xinyi_hub::{
    Hub, HubConfig, HubError, InitOptions, NewIssuerKey, Published, ReportKind, SiteSpec,
    parse_instant,
};

/// Writes a line to standard output; a reader that went away
/// (`xinyi-hub issuer list | head`) ends the program quietly instead of a
/// panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|()| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("xinyi-hub: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }};
}

/// Standard output for a report: a reader that went away
/// (`xinyi-hub report usage | head`) ends the program quietly.
struct QuietPipe<W>(W);

impl<W: std::io::Write> std::io::Write for QuietPipe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).inspect_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "xinyi-hub",
    version,
    about = "xinyi-hub: the credit registry for credit-incentive (守信激励) lists"
)]
struct Args {
    /// The hub's data directory.
    #[arg(
        long,
        global = true,
        env = "XINYI_HUB_DIR",
        default_value = "./xinyi-hub-data"
    )]
    data_dir: PathBuf,
    /// A settings file to use instead of DATA_DIR/hub.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a hub: keys, database and a settings file.
    Init {
        /// A file holding K_pseudo (64 hex digits), shared with the issuers.
        #[arg(long)]
        k_pseudo_file: Option<PathBuf>,
    },
    /// Serve the HTTP API for terminals (HTTPS with tls_cert/tls_key in
    /// hub.toml) and, on its own address, the web console.
    Serve {
        /// Address and port, e.g. 0.0.0.0:8470 (default from hub.toml).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// The web console's address and port, or "off" (default from
        /// hub.toml: 127.0.0.1:8471).
        #[arg(long)]
        console_listen: Option<String>,
    },
    /// TLS certificates for `serve`.
    Tls {
        #[command(subcommand)]
        what: TlsCmd,
    },
    /// Manage the issuer keys of the trust list.
    Issuer {
        #[command(subcommand)]
        what: Issuer,
    },
    /// Import a department's file (all or nothing).
    Import {
        #[command(subcommand)]
        what: Import,
    },
    /// The measures catalogue.
    Catalogue {
        #[command(subcommand)]
        what: CatalogueCmd,
    },
    /// Printed cards.
    Cards {
        #[command(subcommand)]
        what: Cards,
    },
    /// Sites (an implementing unit's counters).
    Site {
        #[command(subcommand)]
        what: SiteCmd,
    },
    /// Make a one-time enrollment code for a terminal.
    EnrollCode {
        /// The site the terminal will serve.
        #[arg(long)]
        site: String,
        /// Days the code stays usable.
        #[arg(long, default_value_t = 7)]
        valid_days: i64,
    },
    /// The web console's accounts.
    User {
        #[command(subcommand)]
        what: UserCmd,
    },
    /// The audit log: who did what, and who looked up whom.
    Audit {
        #[command(subcommand)]
        what: AuditCmd,
    },
    /// Enrolled terminals.
    Terminal {
        #[command(subcommand)]
        what: TerminalCmd,
    },
    /// Provincial platforms (粤省事, 粤商通) that ask whether their users are
    /// listed and file cases for them.
    Platform {
        #[command(subcommand)]
        what: PlatformCmd,
    },
    /// Publish a new version if anything changed (changes publish by themselves).
    Publish {
        /// Publish a new version even if nothing changed.
        #[arg(long)]
        force: bool,
    },
    /// Rotate the registry key (terminals follow: the current key signs the new one).
    RotateKey,
    /// Write a data bundle for a site with no network (`xinyi sync --from-file`).
    Bundle {
        #[command(subcommand)]
        what: BundleCmd,
    },
    /// Ingest a terminal's records file (`xinyi export-records`).
    Ingest { file: PathBuf },
    /// Reports as CSV.
    Report {
        #[command(subcommand)]
        what: Report,
    },
    /// Check a file against the standards without importing it.
    Check {
        #[command(subcommand)]
        what: Check,
    },
    /// Version, data version, database check and what the registry holds.
    Status {
        /// As JSON (the same fields `GET /v1/health` gives, and more).
        #[arg(long)]
        json: bool,
    },
    /// Write a backup (database snapshot, keys, settings) to a new file;
    /// safe while `serve` runs. The file holds the signing keys, and the
    /// identity key unless hub.toml keeps it elsewhere: keep it as safe as
    /// the data directory.
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into DATA_DIR, which must not exist or be empty.
    /// If its settings (or --config) name a PostgreSQL database, the
    /// registry goes into it, which must be empty.
    Restore { file: PathBuf },
    /// Move this SQLite registry into an empty PostgreSQL database, verify
    /// the copy (every table's rows, the published version and set hash)
    /// and point hub.toml at it. Stop `serve` first. The keys stay, so
    /// terminals notice nothing; hub.db is left as it was.
    Migrate {
        /// The PostgreSQL database, e.g. postgres://xinyi@db.example/xinyi
        #[arg(long, value_name = "URL")]
        to: String,
        /// The PEM file of the CA that signed the PostgreSQL server's
        /// certificate (database_ca in hub.toml): TLS is then required
        #[arg(long, value_name = "FILE")]
        database_ca: Option<PathBuf>,
    },
    /// Apply the retention settings now (`serve` does it daily): erase the
    /// ID numbers and names of listings and exclusions that ended long
    /// enough ago, delete old records; print what went.
    Retention,
}

#[derive(Debug, Subcommand)]
enum TlsCmd {
    /// Make a self-signed certificate and key (cert.pem, key.pem) for a
    /// small deployment; terminals must trust the certificate.
    SelfSigned {
        /// A DNS name terminals reach the hub by (repeatable).
        #[arg(long = "name")]
        names: Vec<String>,
        /// An IP address terminals reach the hub by (repeatable).
        #[arg(long = "ip")]
        ips: Vec<std::net::IpAddr>,
        /// The folder to write cert.pem and key.pem to (made if missing).
        #[arg(long)]
        out_dir: PathBuf,
        /// Days the certificate stays valid.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
}

#[derive(Debug, Subcommand)]
enum BundleCmd {
    /// Write the current data as a bundle file.
    Export {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// For one terminal: also confirms the records the hub holds from it.
        #[arg(long)]
        terminal: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Issuer {
    /// Add a key.
    Add {
        /// GD-YSS (粤省事) or GD-YST (粤商通).
        #[arg(long)]
        iss: String,
        /// The Ed25519 public key, 64 hex digits.
        #[arg(long)]
        public_key: String,
        /// Unix seconds or YYYY-MM-DD (start of that day, UTC+8).
        #[arg(long)]
        not_before: String,
        /// Unix seconds or YYYY-MM-DD (end of that day, UTC+8).
        #[arg(long)]
        not_after: String,
        /// The kid to expect (checked against the key).
        #[arg(long)]
        kid: Option<String>,
    },
    /// Retire a key: it vouches only for credentials issued until NOT_AFTER.
    Retire {
        kid: String,
        /// Unix seconds or YYYY-MM-DD (end of that day); default now.
        #[arg(long)]
        not_after: Option<String>,
    },
    /// Revoke a key: nothing it signed is accepted any more.
    Revoke { kid: String },
    /// List the keys.
    List,
}

#[derive(Debug, Subcommand)]
enum Import {
    /// A listings CSV (list-standard.md).
    Listings { file: PathBuf },
    /// An exclusions CSV (serious dishonesty records).
    Exclusions { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum CatalogueCmd {
    /// Publish a measures catalogue TOML (measures.md).
    Publish { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum Cards {
    /// Revoke a printed card by its cti (hex).
    Revoke {
        cti: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List the revoked cards.
    List,
}

#[derive(Debug, Subcommand)]
enum SiteCmd {
    /// Add a site, or replace the site with this id.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        unit: String,
        /// Measure ids, comma separated.
        #[arg(long, value_delimiter = ',', required = true)]
        measures: Vec<String>,
        /// Past this age of its data a terminal refuses (default 72).
        #[arg(long)]
        max_offline_hours: Option<i64>,
        /// How long after a redemption a supervisor may void it (default 30,
        /// at most 1440). Terminals receive it as signed data.
        #[arg(long)]
        void_window_minutes: Option<i64>,
        /// A self-service point: redemptions may be confirmed with nobody
        /// signed in (recorded as `unattended`).
        #[arg(long)]
        unattended: bool,
        /// How long a terminal waits for the registry's online check of
        /// limits and replays before deciding from its own data (default
        /// 300, at most 2000; 0: never asks).
        #[arg(long)]
        online_deadline_ms: Option<u32>,
        /// Clerks need not tick that the holder of a printed card matches
        /// the masked name on their ID document.
        #[arg(long)]
        no_holder_check: bool,
        /// Where the terminals' objection code (名单异议) points, instead
        /// of public_url/c/objection; the record's reference is appended.
        #[arg(long)]
        objection_url: Option<String>,
        /// Where the terminals' complaint code (投诉建议) points, instead
        /// of public_url/c/complaint.
        #[arg(long)]
        complaint_url: Option<String>,
    },
    /// List the sites, with the channel addresses their terminals get.
    List,
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create an account; its password is read from standard input (one
    /// line, at least 12 characters).
    Add {
        name: String,
        /// admin, reviewer, submitter, operator or auditor.
        #[arg(long)]
        role: String,
        /// The department a submitter submits for (the lists' `source`),
        /// or the unit an operator runs (the sites' unit).
        #[arg(long)]
        scope: Option<String>,
    },
    /// Set an account's password (read from standard input); opens a
    /// shut account and ends its sessions.
    Password { name: String },
    /// Disable an account and end its sessions.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
    /// List the accounts.
    List,
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// The newest entries.
    Show {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Every entry as CSV, oldest first.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the log's hash chain from its first entry.
    Verify,
}

#[derive(Debug, Subcommand)]
enum TerminalCmd {
    /// List the terminals.
    List,
    /// Revoke a terminal.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum PlatformCmd {
    /// Register a platform by the Ed25519 public key it signs requests with.
    Add {
        name: String,
        /// Its public key, 64 hexadecimal digits.
        #[arg(long)]
        public_key: String,
        /// Whom it may ask about: person, enterprise, or both (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "person")]
        kinds: Vec<String>,
        /// Requests a minute it may make.
        #[arg(long)]
        rate: Option<u32>,
    },
    /// List the platforms.
    List,
    /// Revoke a platform (by id or name).
    Revoke { which: String },
}

#[derive(Debug, Subcommand)]
enum Report {
    /// Redemptions per measure, unit and day (UTC+8).
    Usage {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Subjects over a measure's use limit across terminals.
    Overuse {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Each terminal's journal integrity.
    Integrity {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Records kept as evidence but flagged as implausible, with why.
    Flagged {
        #[arg(long)]
        out: Option<PathBuf>,
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
    let args = Args::parse();
    // The server logs its requests; admin commands print their results
    // and log only problems.
    let default_filter = match args.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            if let Some(HubError::Rejected(report)) = e.downcast_ref::<HubError>() {
                eprint!("{report}");
                return ExitCode::from(2);
            }
            eprintln!("xinyi-hub: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The largest file a command reads: a province's list, a records file
/// from a site offline for months, fit well within it.
const MAX_INPUT_FILE: u64 = 2 << 30;

/// Reads a file given on the command line, refusing one larger than
/// [`MAX_INPUT_FILE`] before reading it.
fn read(f: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(f).with_context(|| format!("cannot read {}", f.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot read {}", f.display()))?
        .len();
    if size > MAX_INPUT_FILE {
        bail!(
            "{} is {size} bytes, more than the {MAX_INPUT_FILE} a registry file may be",
            f.display()
        );
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_INPUT_FILE)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", f.display()))?;
    Ok(bytes)
}

/// Records an administrator's command in the audit log.
fn audited(hub: &Hub, action: &str, target: &str, detail: &str) -> Result<()> {
    hub.audit(&Actor::cli(), action, target, detail)
        .context("the change was made but could not be written to the audit log")
}

/// A password: the first line of standard input.
fn password_from_stdin() -> Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!(
            "password (at least {} characters): ",
            xinyi_hub::accounts::MIN_PASSWORD_CHARS
        );
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if let Some(why) = xinyi_hub::accounts::password_problem(&password) {
        bail!("{why}");
    }
    Ok(password)
}

fn open(args: &Args) -> Result<Hub> {
    let hub = match &args.config {
        Some(path) => Hub::open_with_config(&args.data_dir, HubConfig::load(path)?)?,
        None => Hub::open(&args.data_dir)?,
    };
    Ok(hub)
}

fn print_status(s: &xinyi_hub::Status) {
    let h = &s.health;
    let c = &s.counts;
    say!("xinyi-hub {}  ({})", h.software, s.data_dir);
    say!(
        "database:     {} (schema {}; page check: {})",
        h.database,
        h.schema,
        s.integrity
    );
    match h.published_at {
        Some(at) => say!(
            "data version: {} published {}",
            h.data_version,
            UnixTime(at).display_utc8()
        ),
        None => say!("data version: none published yet"),
    }
    say!("registry key: {}", s.registry_fingerprint);
    say!(
        "serve speaks: {}",
        if s.tls {
            "HTTPS"
        } else {
            "plain HTTP (loopback or behind a TLS proxy)"
        }
    );
    say!(
        "holds:        {} listings, {} exclusions, {} sites",
        c.listings,
        c.exclusions,
        c.sites
    );
    say!(
        "terminals:    {} enrolled ({} heard from in 24 h), {} revoked",
        c.terminals,
        c.terminals_seen_24h,
        c.terminals_revoked
    );
    say!(
        "records:      {} ({} flagged as implausible)",
        c.records,
        c.flagged
    );
    say!("status:       {}", if s.ok { "ok" } else { "NOT OK" });
}

fn said(p: Published) -> String {
    if p.new_version {
        format!("published version {}", p.version)
    } else {
        format!("nothing changed; version {} stays current", p.version)
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message("checking every row");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Writes settings text to `path` (kept private: it may hold a database
/// password) through a temporary file, so a crash leaves the old or the
/// new file, never half of one.
fn write_settings(path: &std::path::Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write beside {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn run(args: Args) -> Result<ExitCode> {
    match &args.command {
        Command::Status { json } => {
            let hub = open(&args)?;
            let status = hub.status()?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            if !status.ok {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Backup { out } => {
            let hub = open(&args)?;
            let m = hub.backup(out)?;
            let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
            say!(
                "wrote {} ({bytes} bytes): data version {}, {} records, {} files",
                out.display(),
                m.data_version,
                m.records,
                m.files.len()
            );
            say!("  it holds the registry's signing key: keep it as safe as the data directory");
            if hub.identity_key_is_apart() {
                say!(
                    "  the identity key {} is kept outside the data directory, so the backup does not hold it: \
                     keep a copy of it apart from the backups; a restored registry needs it there (or where \
                     identity_key in hub.toml says) to open",
                    hub.identity_key_path().display()
                );
            }
            if let Some(config) = &args.config {
                say!(
                    "  the settings file {} is outside the data directory: back it up too",
                    config.display()
                );
            }
        }
        Command::Migrate { to, database_ca } => {
            let hub = open(&args)?;
            // Absolute, as the settings will name it.
            let database_ca = database_ca
                .as_deref()
                .map(|p| {
                    std::path::absolute(p).with_context(|| format!("--database-ca {}", p.display()))
                })
                .transpose()?;
            let report = hub.migrate_to(to, database_ca.as_deref())?;
            let total: u64 = report.rows.values().sum();
            say!(
                "copied {total} rows into {} and verified them: data version {}, set hash {}, {} records",
                xinyi_hub::db::pg::redact(to),
                report.data_version,
                if report.set_hash.is_empty() {
                    "(none yet)"
                } else {
                    &report.set_hash
                },
                report.rows_of("records"),
            );
            let settings = args
                .config
                .clone()
                .unwrap_or_else(|| args.data_dir.join(xinyi_hub::config::CONFIG_FILE));
            let mut text = std::fs::read_to_string(&settings).unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "\n# The registry moved to PostgreSQL on {} (xinyi-hub migrate).\ndatabase = {}\n",
                hub.today(),
                toml::Value::String(to.clone())
            ));
            if let Some(ca) = &database_ca {
                text.push_str(&format!(
                    "database_ca = {}\n",
                    toml::Value::String(ca.to_string_lossy().into_owned())
                ));
            }
            write_settings(&settings, &text)?;
            say!(
                "  {} now names it: start `serve` again; {} is no longer used (keep it until you are sure)",
                settings.display(),
                hub.dir().join(xinyi_hub::db::DB_FILE).display()
            );
        }
        Command::Restore { file } => {
            let restored = match &args.config {
                Some(path) => xinyi_hub::backup::restore_with_config(
                    file,
                    &args.data_dir,
                    Some(HubConfig::load(path)?),
                )?,
                None => xinyi_hub::backup::restore(file, &args.data_dir)?,
            };
            let m = &restored.manifest;
            say!(
                "restored {} into {}: data version {}, {} records, taken at {} by xinyi-hub {}",
                file.display(),
                args.data_dir.display(),
                m.data_version,
                m.records,
                UnixTime(m.created_at).display_utc8(),
                m.software
            );
            if restored.schema != m.schema {
                say!(
                    "  its database was upgraded from schema {} to {}",
                    m.schema,
                    restored.schema
                );
            }
            say!(
                "  terminals send again whatever they uploaded after the backup was taken, at their next sync"
            );
        }
        Command::Init { k_pseudo_file } => {
            let k_pseudo = k_pseudo_file
                .as_deref()
                .map(|f| -> Result<[u8; 32]> {
                    let text = String::from_utf8(read(f)?)
                        .with_context(|| format!("{} is not text", f.display()))?;
                    xinyi_hub::keys::parse_32(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
                })
                .transpose()?;
            let opts = InitOptions { k_pseudo };
            let hub = match &args.config {
                Some(path) => Hub::init_with_config(&args.data_dir, opts, HubConfig::load(path)?)?,
                None => Hub::init(&args.data_dir, opts)?,
            };
            say!("created a hub in {}", args.data_dir.display());
            say!(
                "identity key (seals ID numbers and names; the hub does not open without it): {}",
                hub.identity_key_path().display()
            );
            say!("registry key fingerprint: {}", hub.registry_fingerprint());
            say!("  (give it to whoever enrolls a counter: `xinyi enroll --fingerprint \"…\"`)");
            say!(
                "next: `xinyi-hub catalogue publish FILE`, `xinyi-hub import listings FILE`, `xinyi-hub site add ...`"
            );
        }
        Command::Serve {
            listen,
            console_listen,
        } => {
            let hub = open(&args)?;
            let addr = listen.unwrap_or(hub.config().listen);
            let console_at = match console_listen.as_deref().map(str::trim) {
                None => hub.config().console_listen,
                Some("off") => None,
                Some(a) => Some(a.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "--console-listen: {a:?} is not an address and port, nor \"off\""
                    )
                })?),
            };
            let tls = hub.config().tls.clone();
            // Refused before a socket is opened: plain HTTP to the network.
            xinyi_hub::http::server::check_listen(addr, tls.is_some(), hub.config())?;
            if let Some(at) = console_at {
                xinyi_hub::http::server::check_listen(at, tls.is_some(), hub.config())?;
            }
            if let Some(files) = &tls {
                // A bad certificate is named before anything listens.
                xinyi_hub::http::tls::load(files)?;
            }
            let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            rt.block_on(async move {
                // Listened for before anything else, so that a stop
                // asked for while starting is an orderly one.
                let shutdown = xinyi_hub::http::shutdown_signal();
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?;
                let addr = listener.local_addr().unwrap_or(addr);
                tracing::info!(
                    %addr,
                    scheme = if tls.is_some() { "https" } else { "http" },
                    registry_key = %hub.registry_key_id(),
                    "xinyi-hub serving"
                );
                let console = match console_at {
                    Some(at) => {
                        let l = tokio::net::TcpListener::bind(at)
                            .await
                            .with_context(|| format!("cannot listen on {at} for the console (console_listen in hub.toml; \"off\" turns it off)"))?;
                        tracing::info!(addr = %l.local_addr().unwrap_or(at), "web console serving");
                        Some(l)
                    }
                    None => None,
                };
                xinyi_hub::http::serve_all(listener, console, Arc::new(hub), shutdown).await?;
                anyhow::Ok(())
            })?;
        }
        Command::Tls {
            what:
                TlsCmd::SelfSigned {
                    names,
                    ips,
                    out_dir,
                    days,
                },
        } => self_signed(names, ips, out_dir, *days)?,
        Command::Issuer { what } => {
            let hub = open(&args)?;
            match what {
                Issuer::Add {
                    iss,
                    public_key,
                    not_before,
                    not_after,
                    kid,
                } => {
                    let k = NewIssuerKey {
                        iss: iss.clone(),
                        public_key: public_key.clone(),
                        not_before: parse_instant(not_before, false)
                            .map_err(|e| anyhow::anyhow!("--not-before: {e}"))?,
                        not_after: parse_instant(not_after, true)
                            .map_err(|e| anyhow::anyhow!("--not-after: {e}"))?,
                        kid: kid.clone(),
                    };
                    let (entry, p) = hub.add_issuer_key(&k)?;
                    audited(&hub, "issuer.add", &entry.kid, &entry.iss)?;
                    say!(
                        "added issuer key {} ({}); {}",
                        entry.kid,
                        entry.iss,
                        said(p)
                    );
                }
                Issuer::Retire { kid, not_after } => {
                    let at = not_after
                        .as_deref()
                        .map(|s| parse_instant(s, true))
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("--not-after: {e}"))?;
                    let p = hub.retire_issuer_key(kid, at)?;
                    audited(&hub, "issuer.retire", kid, "")?;
                    say!("retired issuer key {kid}; {}", said(p));
                }
                Issuer::Revoke { kid } => {
                    let p = hub.revoke_issuer_key(kid)?;
                    audited(&hub, "issuer.revoke", kid, "")?;
                    say!("revoked issuer key {kid}; {}", said(p));
                }
                Issuer::List => {
                    say!("kid,iss,public_key,not_before,not_after,revoked");
                    for k in hub.issuer_keys()? {
                        say!(
                            "{},{},{},{},{},{}",
                            k.kid,
                            k.iss,
                            k.public_key,
                            UnixTime(k.not_before).display_utc8(),
                            UnixTime(k.not_after).display_utc8(),
                            k.revoked
                        );
                    }
                }
            }
        }
        Command::Import { what } => {
            let hub = open(&args)?;
            match what {
                Import::Listings { file } => {
                    let bytes = read(file)?;
                    let bar = progress_bar();
                    let result = hub.import_listings_with_progress(&bytes, &|done, total| {
                        if bar.length() != Some(total) {
                            bar.set_style(ProgressStyle::default_bar());
                            bar.set_length(total);
                            bar.set_message("writing");
                        }
                        bar.set_position(done);
                    });
                    bar.finish_and_clear();
                    match result {
                        Ok(r) => {
                            audited(
                                &hub,
                                "listings.imported",
                                &file.display().to_string(),
                                &format!("{}; {}", r.summary, said(r.published)),
                            )?;
                            say!("{}: {}; {}", file.display(), r.summary, said(r.published))
                        }
                        Err(HubError::Rejected(report)) => {
                            eprint!("{}: {report}", file.display());
                            return Ok(ExitCode::from(2));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Import::Exclusions { file } => match hub.import_exclusions(&read(file)?) {
                    Ok(r) => {
                        audited(
                            &hub,
                            "exclusions.imported",
                            &file.display().to_string(),
                            &format!("{}; {}", r.summary, said(r.published)),
                        )?;
                        say!("{}: {}; {}", file.display(), r.summary, said(r.published))
                    }
                    Err(HubError::Rejected(report)) => {
                        eprint!("{}: {report}", file.display());
                        return Ok(ExitCode::from(2));
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Command::Catalogue {
            what: CatalogueCmd::Publish { file },
        } => {
            let hub = open(&args)?;
            let text = String::from_utf8(read(file)?)
                .with_context(|| format!("{} is not UTF-8", file.display()))?;
            let next =
                Catalogue::from_toml(&text).with_context(|| format!("{}", file.display()))?;
            let withdrawals = hub.withdrawals_in(&next)?;
            let p = hub
                .publish_catalogue(&text)
                .with_context(|| format!("{}", file.display()))?;
            audited(
                &hub,
                "catalogue.publish",
                &file.display().to_string(),
                &said(p),
            )?;
            say!("catalogue {}: {}", file.display(), said(p));
            for w in next.warnings() {
                say!("warning: {w}");
            }
            for w in withdrawals {
                say!(
                    "warning: measure {} is withdrawn from {}: it ends the eligibility through it of {} listed citizens and enterprises",
                    w.measure,
                    w.on,
                    w.holders
                );
            }
        }
        Command::Cards { what } => {
            let hub = open(&args)?;
            match what {
                Cards::Revoke { cti, reason } => {
                    let p = hub.revoke_card(cti, reason)?;
                    audited(&hub, "card.revoke", cti, reason)?;
                    say!("card {cti} revoked; {}", said(p));
                }
                Cards::List => {
                    say!("cti,reason,revoked_at");
                    for c in hub.revoked_cards()? {
                        say!("{},{},{}", c.cti, c.reason, c.revoked_at.display_utc8());
                    }
                }
            }
        }
        Command::Site { what } => {
            let hub = open(&args)?;
            match what {
                SiteCmd::Add {
                    id,
                    name,
                    unit,
                    measures,
                    max_offline_hours,
                    void_window_minutes,
                    unattended,
                    online_deadline_ms,
                    no_holder_check,
                    objection_url,
                    complaint_url,
                } => {
                    let spec = SiteSpec {
                        id: id.clone(),
                        name: name.clone(),
                        unit: unit.clone(),
                        measures: measures.clone(),
                        max_offline_hours: *max_offline_hours,
                        void_window_minutes: *void_window_minutes,
                        unattended: *unattended,
                        online_deadline_ms: *online_deadline_ms,
                        no_holder_check: *no_holder_check,
                        objection_url: objection_url.clone(),
                        complaint_url: complaint_url.clone(),
                    };
                    let p = hub.add_site(&spec)?;
                    audited(
                        &hub,
                        "site.set",
                        id,
                        &format!(
                            "{name}, {unit}, measures {}{}",
                            measures.join(" "),
                            spec.channels_note()
                        ),
                    )?;
                    say!("site {id}: {}", said(p));
                }
                SiteCmd::List => {
                    say!("id,name,unit,measures,max_offline_hours,objection_url,complaint_url");
                    let public = hub.public_url();
                    for s in hub.sites()? {
                        let s = xinyi_hub::channels::published(s, public.as_deref());
                        say!(
                            "{},{},{},{},{},{},{}",
                            s.id,
                            s.name,
                            s.unit,
                            s.measures.join(" "),
                            s.max_offline_age_s / 3600,
                            csv_field(s.objection_url.as_deref().unwrap_or_default()),
                            csv_field(s.complaint_url.as_deref().unwrap_or_default()),
                        );
                    }
                }
            }
        }
        Command::EnrollCode { site, valid_days } => {
            let hub = open(&args)?;
            if *valid_days < 1 {
                bail!("--valid-days must be 1 or more");
            }
            let code = hub.create_enrollment_code(site, Some(valid_days.saturating_mul(86_400)))?;
            audited(
                &hub,
                "enroll.code",
                site,
                &format!(
                    "a one-time code, valid until {}",
                    code.expires_at.display_utc8()
                ),
            )?;
            say!("{}", code.code);
            eprintln!(
                "one-time code for site {}, valid until {} (UTC+8)",
                code.site,
                code.expires_at.display_utc8(),
            );
            eprintln!(
                "registry key fingerprint (also needed to enroll): {}",
                hub.registry_fingerprint()
            );
        }
        Command::User { what } => {
            let hub = open(&args)?;
            let by = Actor::cli();
            match what {
                UserCmd::Add { name, role, scope } => {
                    let role: Role = role
                        .parse()
                        .map_err(|e: String| anyhow::anyhow!("--role: {e}"))?;
                    let password = password_from_stdin()?;
                    hub.add_user(
                        &NewUser {
                            name,
                            role,
                            scope: scope.as_deref(),
                            password: &password,
                        },
                        &by,
                    )?;
                    say!("account {name} created ({role})");
                }
                UserCmd::Password { name } => {
                    let password = password_from_stdin()?;
                    hub.set_password(name, &password, &by)?;
                    say!("password of {name} set; its sessions ended");
                }
                UserCmd::Disable { name } => {
                    hub.set_user_disabled(name, true, &by)?;
                    say!("account {name} disabled");
                }
                UserCmd::Enable { name } => {
                    hub.set_user_disabled(name, false, &by)?;
                    say!("account {name} enabled");
                }
                UserCmd::List => {
                    say!("name,role,scope,disabled,locked_until");
                    for u in hub.users()? {
                        say!(
                            "{},{},{},{},{}",
                            u.name,
                            u.role,
                            xinyi_hub::reports::csv_field(&u.scope.unwrap_or_default()),
                            u.disabled,
                            u.locked_until.map(|t| t.display_utc8()).unwrap_or_default()
                        );
                    }
                }
            }
        }
        Command::Audit { what } => {
            let hub = open(&args)?;
            match what {
                AuditCmd::Show { limit } => {
                    for e in hub.audit_log(&AuditQuery {
                        limit: *limit,
                        ..AuditQuery::default()
                    })? {
                        say!(
                            "{:>6}  {}  {}  {}  {}  {}",
                            e.seq,
                            e.at.display_utc8(),
                            e.actor,
                            e.action,
                            e.target,
                            e.detail
                        );
                    }
                }
                AuditCmd::Export { out } => {
                    audited(&hub, "audit.export", "audit_log", "")?;
                    let mut all = Vec::new();
                    let mut before = None;
                    loop {
                        let page = hub.audit_log(&AuditQuery {
                            before,
                            action: None,
                            limit: xinyi_hub::audit::MAX_AUDIT_PAGE,
                        })?;
                        let Some(last) = page.last() else { break };
                        before = Some(last.seq);
                        all.extend(page);
                    }
                    all.reverse();
                    let mut text = String::from("seq,at,actor,action,target,detail,hash\n");
                    for e in all {
                        let fields = [
                            e.seq.to_string(),
                            e.at.0.to_string(),
                            e.actor,
                            e.action,
                            e.target,
                            e.detail,
                            e.hash,
                        ];
                        let l: Vec<String> = fields
                            .iter()
                            .map(|f| xinyi_hub::reports::csv_field(f))
                            .collect();
                        text.push_str(&l.join(","));
                        text.push('\n');
                    }
                    match out {
                        Some(path) => std::fs::write(path, text)
                            .with_context(|| format!("cannot write {}", path.display()))?,
                        None => print!("{text}"),
                    }
                }
                AuditCmd::Verify => match hub.verify_audit_log()? {
                    AuditCheck::Intact(n) => say!("the audit log's chain is intact: {n} entries"),
                    AuditCheck::BrokenAt { seq, why } => {
                        eprintln!("the audit log's chain breaks at entry {seq}: {why}");
                        return Ok(ExitCode::from(3));
                    }
                },
            }
        }
        Command::Platform { what } => {
            let hub = open(&args)?;
            match what {
                PlatformCmd::Add {
                    name,
                    public_key,
                    kinds,
                    rate,
                } => {
                    let kinds = kinds
                        .iter()
                        .map(|k| {
                            k.trim().parse().map_err(|_| {
                                HubError::Invalid(format!(
                                    "--kinds: {k:?} is not person or enterprise"
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    let p = hub.add_platform(name, public_key, &kinds, *rate, &Actor::cli())?;
                    say!("platform {} added: key id {}", p.name, p.id);
                }
                PlatformCmd::List => {
                    say!("id,name,kinds,requests_per_minute,added_at,revoked,last_seen");
                    for p in hub.platforms()? {
                        say!(
                            "{},{},{},{},{},{},{}",
                            p.id,
                            xinyi_hub::reports::csv_field(&p.name),
                            p.kinds
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(" "),
                            p.requests_per_minute,
                            p.added_at.display_utc8(),
                            p.revoked(),
                            p.last_seen_at.map(|t| t.display_utc8()).unwrap_or_default()
                        );
                    }
                }
                PlatformCmd::Revoke { which } => {
                    if hub.revoke_platform(which, &Actor::cli())? {
                        say!("platform {which} revoked");
                    } else {
                        say!("platform {which} was already revoked");
                    }
                }
            }
        }
        Command::Terminal { what } => {
            let hub = open(&args)?;
            match what {
                TerminalCmd::List => {
                    say!("id,site,label,enrolled_at,revoked,last_seen");
                    for t in hub.terminals()? {
                        say!(
                            "{},{},{},{},{},{}",
                            t.id,
                            t.site,
                            xinyi_hub::reports::csv_field(&xinyi_hub::admin::printable(&t.label)),
                            t.enrolled_at.display_utc8(),
                            t.revoked(),
                            t.last_seen_at.map(|t| t.display_utc8()).unwrap_or_default()
                        );
                    }
                }
                TerminalCmd::Revoke { id } => {
                    if hub.revoke_terminal(id)? {
                        audited(&hub, "terminal.revoke", id, "")?;
                        say!("terminal {id} revoked");
                    } else {
                        say!("terminal {id} was already revoked");
                    }
                }
            }
        }
        Command::RotateKey => {
            let hub = open(&args)?;
            let id = hub.rotate_registry_key()?;
            say!(
                "the registry key is now {id}; terminals follow at their next sync (a running `xinyi-hub serve` picks it up by itself)"
            );
        }
        Command::Bundle {
            what: BundleCmd::Export { out, terminal },
        } => {
            let hub = open(&args)?;
            let bytes = hub.export_bundle(terminal.as_deref())?;
            std::fs::write(out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            say!(
                "wrote {} ({} bytes); on the terminal: `xinyi sync --from-file FILE`",
                out.display(),
                bytes.len()
            );
        }
        Command::Ingest { file } => {
            let hub = open(&args)?;
            let (id, r) = hub.ingest_records(&read(file)?)?;
            say!(
                "terminal {id}: {} new record(s), {} already held; the hub holds its records through seq {}",
                r.stored,
                r.duplicates,
                r.held_through
            );
        }
        Command::Publish { force } => {
            let hub = open(&args)?;
            say!("{}", said(hub.publish(*force)?));
        }
        Command::Report { what } => {
            let hub = open(&args)?;
            let (kind, out) = match what {
                Report::Usage { out } => (ReportKind::Usage, out),
                Report::Overuse { out } => (ReportKind::Overuse, out),
                Report::Integrity { out } => (ReportKind::Integrity, out),
                Report::Flagged { out } => (ReportKind::Flagged, out),
            };
            match out {
                Some(path) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("cannot create {}", path.display()))?,
                    );
                    let n = hub.write_report(kind, &mut f)?;
                    f.flush()
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("{n} rows written to {}", path.display());
                }
                None => {
                    let mut stdout = QuietPipe(std::io::stdout().lock());
                    hub.write_report(kind, &mut stdout)?;
                }
            }
        }
        Command::Check { what } => return check(what),
        Command::Retention => {
            let hub = open(&args)?;
            let r = hub.apply_retention()?;
            say!(
                "erased the ID numbers and names of {} listings: those that ended or were withdrawn on or before {}",
                r.listing_identities_erased,
                r.listings_ended_by
            );
            say!(
                "erased the ID numbers of {} exclusions: those that ended on or before {}",
                r.exclusion_identities_erased,
                r.exclusions_ended_by
            );
            say!(
                "deleted {} records of {} terminals made before {} (each terminal's newest record and the staff records of its current operators are kept)",
                r.records_deleted,
                r.terminals,
                r.records_before.display_utc8()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tls self-signed`: writes cert.pem and key.pem (mode 0600), refusing
/// to overwrite either.
fn self_signed(
    names: &[String],
    ips: &[std::net::IpAddr],
    out_dir: &Path,
    days: u32,
) -> Result<()> {
    let made = xinyi_hub::http::tls::self_signed(names, ips, days)?;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let cert = out_dir.join("cert.pem");
    let key = out_dir.join("key.pem");
    for f in [&cert, &key] {
        if f.exists() {
            bail!(
                "{} already exists; refusing to overwrite it: remove it or use another --out-dir",
                f.display()
            );
        }
    }
    write_new(&key, made.key_pem.as_bytes(), 0o600)?;
    write_new(&cert, made.cert_pem.as_bytes(), 0o644)?;
    say!("wrote {} and {}", cert.display(), key.display());
    say!("SHA-256 fingerprint: {}", made.sha256);
    say!(
        "next: in hub.toml set tls_cert = \"{}\" and tls_key = \"{}\"; install cert.pem as a trusted certificate on each terminal and compare the fingerprint",
        cert.display(),
        key.display()
    );
    Ok(())
}

/// Creates `path` (never replacing a file) with `mode` on Unix.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn check(what: &Check) -> Result<ExitCode> {
    let today = xinyi_hub::Clock::now(&xinyi_hub::SystemClock).date_utc8();
    let verdict = match what {
        Check::Listings { file } => check_listings(&read(file)?, today, |_| None)
            .map(|changes| format!("{}: {} rows are valid", file.display(), changes.len()))
            .map_err(|r| format!("{}: {r}", file.display())),
        Check::Exclusions { file } => check_exclusions(&read(file)?, today, |_| None)
            .map(|rows| format!("{}: {} rows are valid", file.display(), rows.len()))
            .map_err(|r| format!("{}: {r}", file.display())),
        Check::Catalogue { file } => {
            let text = String::from_utf8(read(file)?)
                .with_context(|| format!("{} is not UTF-8", file.display()))?;
            Catalogue::from_toml(&text)
                .map(|c| {
                    let mut said = format!(
                        "{}: {} measures are valid",
                        file.display(),
                        c.measures().len()
                    );
                    for w in c.warnings() {
                        said.push_str(&format!("\nwarning: {w}"));
                    }
                    said
                })
                .map_err(|e| format!("{}: {e}", file.display()))
        }
    };
    match verdict {
        Ok(msg) => {
            say!("{msg}");
            Ok(ExitCode::SUCCESS)
        }
        Err(msg) => {
            eprint!("{msg}");
            Ok(ExitCode::from(2))
        }
    }
}
