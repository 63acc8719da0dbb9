//! One cadence run: a fresh registry on one backend, served by one or
//! more `xinyi-hub serve` processes, and N simulated terminals that enroll
//! (the ramp), then poll metadata every 5 minutes and upload every 60 s
//! through a measured window, spread round robin over the processes.
//!
//! What is compressed, and what is not:
//!
//! - The cadence is real time: each terminal's first upload falls at a
//!   random moment of the window's first minute and its metadata poll at a
//!   random moment of a 5-minute cycle, so the window starts in the steady
//!   state (N/60 uploads and N/300 polls a second) instead of after a
//!   5-minute warm-up, and lasts less than a polling cycle: it samples the
//!   cycle at its true rate.
//! - The roll-out is compressed: every terminal enrolls and sends its first
//!   record (its clerk's roster) back to back before the window, at a fixed
//!   concurrency, instead of over weeks; one terminal downloads the full
//!   snapshot and the others start from the version it reached (their
//!   snapshot downloads happen at enrollment in life, not in the cadence).
//! - A day of registry work happens within the window: the credit office
//!   imports a change to the lists (the real `xinyi-hub import listings`
//!   command, a fifth of the way in), so polls after it download a delta.
//! - A minute of counter work is made at each upload: the redemptions the
//!   counter confirmed since the last upload, signed and chained then, dated
//!   through the past minute.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use xinyi_core::wire::journal::SignedRecord;
use xinyi_testkit::Rng;

use super::process::{self, Hubs, LogSummary};
use super::terminal::{Endpoint, Net, Shared, Sim, Tally, note};
use super::waits::{Sampler, Waits};
use super::{Backend, Cpu, Env, Registry};
use crate::hub::{SITE, redemption};
use crate::store::now;

/// Enrollments (each with its roster upload) in flight at once in the ramp.
pub const RAMP_CONCURRENCY: usize = 4;
/// Seconds between a terminal's uploads.
pub const UPLOAD_EVERY_S: u64 = 60;
/// Seconds between its metadata polls.
pub const METADATA_EVERY_S: u64 = 300;

/// What one run measured.
#[derive(Debug)]
pub struct CadenceRun {
    pub backend: Backend,
    pub processes: usize,
    pub terminals: usize,
    pub window_s: f64,
    /// Seconds from the window's start to the last answer of a request
    /// made in it: the window, or longer when the hubs fell behind.
    pub span_s: f64,
    pub records_per_upload: usize,
    /// The ramp: enrollments, roster uploads, the one snapshot sync.
    pub ramp: Tally,
    pub ramp_s: f64,
    /// The window.
    pub window: Tally,
    /// Setup not timed: the registry made, its listings imported, the
    /// enrollment codes made.
    pub setup_s: f64,
    /// The change imported during the window: when the command started
    /// and ended, and the rows it changed.
    pub change: (Instant, Instant, usize),
    /// (VmHWM, VmRSS) of each hub process at the window's end, MB.
    pub memory: Vec<(f64, f64)>,
    pub cpu: Cpu,
    pub log: LogSummary,
    pub waits: Option<Waits>,
    /// Bytes of the one snapshot downloaded in the ramp.
    pub snapshot_bytes: u64,
    /// Seconds waited for a quiet machine before the window, and whether
    /// it became quiet.
    pub quiet: (f64, bool),
}

impl CadenceRun {
    /// Errors of every kind: requests of the ramp and the window, and
    /// what the hubs logged as errors.
    pub fn errors(&self) -> u64 {
        self.ramp.all_errors() + self.window.all_errors() + self.log.errors as u64
    }
}

/// The ramp: each terminal enrolls with its code and, with `roster`,
/// uploads its first record; `concurrency` at a time.
pub async fn ramp(
    sims: Vec<Sim>,
    codes: Vec<String>,
    net: &Arc<Net>,
    concurrency: usize,
    roster: bool,
) -> anyhow::Result<(Vec<Sim>, Tally)> {
    let tally: Shared = Arc::new(Mutex::new(Tally::default()));
    let mut groups: Vec<Vec<(Sim, String)>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, pair) in sims.into_iter().zip(codes).enumerate() {
        groups[i % concurrency].push(pair);
    }
    let mut tasks = Vec::new();
    for group in groups {
        let net = Arc::clone(net);
        let tally = Arc::clone(&tally);
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::with_capacity(group.len());
            for (mut sim, code) in group {
                let label = format!("load {}", &sim.id[..8.min(sim.id.len())]);
                match sim.enroll(&net, &code, &label).await {
                    Ok(ms) => note(&tally, |t| t.answered(Endpoint::Enroll, ms)),
                    Err(e) => note(&tally, |t| t.failed(Endpoint::Enroll, e)),
                }
                if roster {
                    let first = sim.roster(now().0);
                    match sim.upload(&net, &[first]).await {
                        Ok(ms) => note(&tally, |t| {
                            t.answered(Endpoint::Upload, ms);
                            t.records += 1;
                        }),
                        Err(e) => note(&tally, |t| t.failed(Endpoint::Upload, e)),
                    }
                }
                done.push(sim);
            }
            done
        }));
    }
    let mut sims = Vec::new();
    for t in tasks {
        sims.extend(t.await?);
    }
    let tally = tally
        .lock()
        .map(|t| t.clone())
        .map_err(|_| anyhow::anyhow!("the ramp's tally was poisoned"))?;
    Ok((sims, tally))
}

/// One terminal through the window.
async fn cadence(
    mut sim: Sim,
    net: Arc<Net>,
    tally: Shared,
    start: tokio::time::Instant,
    end: tokio::time::Instant,
    per_upload: usize,
) {
    let mut next_up = start + Duration::from_millis(sim.rng.below(UPLOAD_EVERY_S * 1000));
    let mut next_meta = start + Duration::from_millis(sim.rng.below(METADATA_EVERY_S * 1000));
    // Records not yet stored: a failed upload is sent again with the next.
    let mut pending: Vec<SignedRecord> = Vec::new();
    loop {
        let next = next_up.min(next_meta);
        if next >= end {
            break;
        }
        tokio::time::sleep_until(next).await;
        if next == next_up {
            let t = now().0;
            let k = per_upload as i64;
            for j in 0..k {
                let at = t - (k - j) * UPLOAD_EVERY_S as i64 / k;
                let body = redemption(&mut sim.rng);
                pending.push(sim.record(at, body));
            }
            match sim.upload(&net, &pending).await {
                Ok(ms) => {
                    let n = pending.len() as u64;
                    pending.clear();
                    note(&tally, |t| {
                        t.answered(Endpoint::Upload, ms);
                        t.records += n;
                    });
                }
                Err(e) => note(&tally, |t| t.failed(Endpoint::Upload, e)),
            }
            next_up += Duration::from_secs(UPLOAD_EVERY_S);
        } else {
            sim.sync(&net, &tally).await;
            next_meta += Duration::from_secs(METADATA_EVERY_S);
        }
    }
}

/// The settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub backend: Backend,
    pub processes: usize,
    pub terminals: usize,
    pub window_s: u64,
    pub records_per_upload: usize,
    /// Listings the registry holds.
    pub listings: usize,
    /// Listings changed by the import during the window.
    pub changes: usize,
}

pub fn run(env: &Env, plan: Plan, rng: &mut Rng) -> anyhow::Result<CadenceRun> {
    let Plan {
        backend,
        processes,
        terminals,
        window_s,
        records_per_upload,
        listings,
        changes,
    } = plan;
    let name = format!("cadence_{}_{processes}_{terminals}", backend.key());
    let setup = Instant::now();
    let reg = Registry::new(env, backend, &name, rng)?;
    let result = (|| {
        let hub = reg.open()?;
        let today = now().date_utc8();
        let listings_csv = crate::sync::csv((0..listings).map(|i| (i, "add")), today);
        let imported = hub.import_listings(listings_csv.as_bytes())?;
        if imported.summary.added != listings {
            bail!(
                "the registry imported {} of {listings} listings",
                imported.summary.added
            );
        }
        drop(listings_csv);
        let codes = (0..terminals)
            .map(|_| hub.create_enrollment_code(SITE, None).map(|c| c.code))
            .collect::<Result<Vec<_>, _>>()?;
        let registry = hub.registry_public_key();
        drop(hub);
        // The change imported during the window: half of it withdrawals
        // of held listings, half new listings.
        let withdrawn = changes / 2;
        let stride = (listings / withdrawn.max(1)).max(1);
        let change_rows = (0..withdrawn)
            .map(|k| (k * stride, "withdraw"))
            .chain((listings..listings + (changes - withdrawn)).map(|i| (i, "add")));
        let change_file = reg.dir.with_file_name(format!("{name}-change.csv"));
        std::fs::write(&change_file, crate::sync::csv(change_rows, today))?;
        let setup_s = setup.elapsed().as_secs_f64();

        let dirs = reg.dirs(processes)?;
        let mut hubs = Hubs::start(&env.hub_bin, &dirs)?;
        let sims: Vec<Sim> = (0..terminals)
            .map(|i| Sim::new(Rng::from_seed(rng.next_u64()), i % processes))
            .collect();
        let measured = env.rt.block_on(async {
            hubs.ready().await?;
            let net = Arc::new(Net::new(hubs.urls.clone(), registry)?);
            let ramp_start = Instant::now();
            let (mut sims, mut ramp_tally) =
                ramp(sims, codes, &net, RAMP_CONCURRENCY, true).await?;
            // One terminal syncs the snapshot; the others start where it is.
            let shared: Shared = Arc::new(Mutex::new(Tally::default()));
            let Some(first) = sims.first_mut() else {
                bail!("no terminal");
            };
            let synced = first.sync(&net, &shared).await;
            let (have, config) = (first.have, first.config);
            let first_sync = shared
                .lock()
                .map(|t| t.clone())
                .map_err(|_| anyhow::anyhow!("poisoned tally"))?;
            for e in [Endpoint::Metadata, Endpoint::Artefact] {
                for ms in first_sync.samples(e) {
                    ramp_tally.answered(e, *ms);
                }
            }
            if !synced || first_sync.all_errors() > 0 {
                bail!(
                    "the first terminal's snapshot sync failed: {:?}",
                    first_sync.first_errors
                );
            }
            for s in &mut sims {
                s.have = have;
                s.config = config;
            }
            let ramp_s = ramp_start.elapsed().as_secs_f64();
            hubs.check_alive()?;

            // The window, on a machine as quiet as it gets.
            let quiet = env.quiet(&hubs).await;
            let tally: Shared = Arc::new(Mutex::new(Tally::default()));
            let sampler = match (backend, &env.pg) {
                (Backend::Postgres, Some(pg)) => {
                    Some(Sampler::start(&pg.url("postgres"), &reg.database_name()).await?)
                }
                _ => None,
            };
            let cpu0 = env.cpu(&hubs);
            let start = tokio::time::Instant::now() + Duration::from_millis(200);
            let end = start + Duration::from_secs(window_s);
            let change = {
                let bin = env.hub_bin.clone();
                let dir = reg.dir.clone();
                let file = change_file.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(start + Duration::from_secs(window_s) / 5).await;
                    tokio::task::spawn_blocking(move || {
                        let t = Instant::now();
                        let path = file.to_string_lossy().into_owned();
                        process::cli(&bin, &dir, &["import", "listings", &path])
                            .map(|_| (t, Instant::now()))
                    })
                    .await
                })
            };
            let tasks: Vec<_> = sims
                .into_iter()
                .map(|sim| {
                    tokio::spawn(cadence(
                        sim,
                        Arc::clone(&net),
                        Arc::clone(&tally),
                        start,
                        end,
                        records_per_upload,
                    ))
                })
                .collect();
            for t in tasks {
                t.await?;
            }
            // The window, or longer if the last answer came after it.
            let span_s = start.elapsed().as_secs_f64().max(window_s as f64);
            let cpu = env.cpu(&hubs).since(&cpu0);
            let change_s = change.await???;
            let waits = match sampler {
                Some(s) => Some(s.finish().await?),
                None => None,
            };
            let window = tally
                .lock()
                .map(|t| t.clone())
                .map_err(|_| anyhow::anyhow!("poisoned tally"))?;
            hubs.check_alive()?;
            let memory = hubs.memory_mb();
            anyhow::Ok((
                ramp_tally, ramp_s, window, span_s, cpu, change_s, waits, memory, first_sync, quiet,
            ))
        })?;
        let (ramp_tally, ramp_s, window, span_s, cpu, change_s, waits, memory, first_sync, quiet) =
            measured;
        let log = hubs.stop()?;
        let _ = std::fs::remove_file(&change_file);
        Ok(CadenceRun {
            backend,
            processes,
            terminals,
            window_s: window_s as f64,
            span_s,
            records_per_upload,
            ramp: ramp_tally,
            ramp_s,
            window,
            setup_s,
            change: (change_s.0, change_s.1, changes),
            memory,
            cpu,
            log,
            waits,
            snapshot_bytes: first_sync.bytes_down,
            quiet,
        })
    })();
    reg.remove(env)
        .with_context(|| format!("removing the registry of run {name}"))?;
    result
}

/// The data directories of `processes` hub processes for the registry in
/// `dir`: the same one for SQLite (the processes share its file), copies
/// of it (keys and hub.toml) for PostgreSQL.
pub fn copies(
    dir: &std::path::Path,
    backend: Backend,
    processes: usize,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = vec![dir.to_owned()];
    for i in 1..processes {
        match backend {
            Backend::Sqlite => dirs.push(dir.to_owned()),
            Backend::Postgres => {
                let copy = dir.with_file_name(format!(
                    "{}-copy{i}",
                    dir.file_name().and_then(|n| n.to_str()).unwrap_or("hub")
                ));
                let ok = std::process::Command::new("cp")
                    .arg("-a")
                    .arg(dir)
                    .arg(&copy)
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    bail!("cannot copy {} to {}", dir.display(), copy.display());
                }
                dirs.push(copy);
            }
        }
    }
    Ok(dirs)
}
