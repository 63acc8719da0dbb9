//! The registry's bulk figures: a province's listings imported with the
//! real `xinyi-hub import listings` command, millions of terminals'
//! records ingested over HTTP by hub processes, and the usage report over
//! them with `xinyi-hub report usage`.
//!
//! The records are those of many terminals catching up: each enrolled
//! over HTTP with a key of its own, its journal (its clerk's roster, then
//! redemptions) signed and chained before the clock starts (signing is the
//! terminals' work, done on their own machines), then uploaded in batches
//! of 500 by several terminals at once, each batch's receipt checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use xinyi::sync::UPLOAD_BATCH;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::journal::{SignedRecord, check_all, encode_batch};
use xinyi_testkit::Rng;

use super::cadence::{RAMP_CONCURRENCY, ramp};
use super::process::{self, Hubs, LogSummary};
use super::terminal::{Endpoint, Net, Sim, Tally};
use super::waits::{Sampler, Waits};
use super::{Backend, Cpu, Env, Registry};
use crate::hub::{SITE, redemption};
use crate::store::now;

/// A listings file of `n` rows, written once per run into `dir`.
pub fn listings_file(dir: &Path, n: usize) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("listings-{n}.csv"));
    if !path.exists() {
        let text = crate::sync::csv((0..n).map(|i| (i, "add")), now().date_utc8());
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(path)
}

/// `n` listings imported into a new registry by the real command.
#[derive(Debug)]
pub struct Import {
    pub backend: Backend,
    pub listings: usize,
    pub seconds: f64,
    /// The file's size, bytes.
    pub bytes: u64,
}

/// Imports `n` listings into a new registry on `backend`; the registry
/// is kept for the ingest.
pub fn import(
    env: &Env,
    backend: Backend,
    n: usize,
    rng: &mut Rng,
) -> anyhow::Result<(Registry, Import)> {
    let file = listings_file(&env.root, n)?;
    let bytes = std::fs::metadata(&file)?.len();
    let reg = Registry::new(env, backend, &format!("bulk_{}", backend.key()), rng)?;
    let measured = (|| {
        let path = file.to_string_lossy().into_owned();
        let t = Instant::now();
        let said = process::cli(&env.hub_bin, &reg.dir, &["import", "listings", &path])?;
        let seconds = t.elapsed().as_secs_f64();
        let held = reg.open()?.current_version()?.map_or(0, |v| v.listings);
        if held != n as u64 {
            bail!("the registry holds {held} listings after importing {n}: {said}");
        }
        Ok(Import {
            backend,
            listings: n,
            seconds,
            bytes,
        })
    })();
    match measured {
        Ok(i) => Ok((reg, i)),
        Err(e) => {
            let _ = reg.remove(env);
            Err(e)
        }
    }
}

/// One upload batch, ready to send.
#[derive(Debug)]
struct Batch {
    bytes: Vec<u8>,
    count: u64,
    head: (u64, Digest32),
}

/// What an ingest measured.
#[derive(Debug)]
pub struct Ingest {
    pub backend: Backend,
    pub processes: usize,
    pub terminals: usize,
    pub records: u64,
    pub seconds: f64,
    /// Seconds the terminals took to sign their journals (not timed).
    pub sign_s: f64,
    /// Bytes of the signed batches.
    pub batch_bytes: u64,
    /// One core's check of a record's signature, as the hub checks an
    /// upload's, µs.
    pub verify_us: f64,
    pub uploads: Tally,
    pub enrolls: Tally,
    pub cpu: Cpu,
    pub waits: Option<Waits>,
    pub memory: Vec<(f64, f64)>,
    pub log: LogSummary,
    /// Seconds of each run of the usage report, and the redemptions it
    /// counted.
    pub report_s: Vec<f64>,
    pub report_redemptions: u64,
    /// The report's rows.
    pub report_rows: usize,
    /// Seconds waited for a quiet machine, and whether it became quiet.
    pub quiet: (f64, bool),
}

impl Ingest {
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }

    pub fn errors(&self) -> u64 {
        self.uploads.all_errors() + self.enrolls.all_errors() + self.log.errors as u64
    }
}

/// Signs each terminal's journal of `per_terminal` records (its roster,
/// then redemptions dated through the last few minutes) into batches,
/// on every core.
fn sign_journals(sims: Vec<Sim>, per_terminal: usize) -> anyhow::Result<Vec<(Sim, Vec<Batch>)>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut parts: Vec<Vec<Sim>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, s) in sims.into_iter().enumerate() {
        parts[i % threads].push(s);
    }
    let base = now().0 - 500;
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|mut sim| {
                            let mut batches = Vec::new();
                            let mut records: Vec<SignedRecord> = Vec::with_capacity(UPLOAD_BATCH);
                            for k in 0..per_terminal {
                                let at = base + (k * 500 / per_terminal.max(1)) as i64;
                                let r = if k == 0 {
                                    sim.roster(at)
                                } else {
                                    let body = redemption(&mut sim.rng);
                                    sim.record(at, body)
                                };
                                records.push(r);
                                if records.len() == UPLOAD_BATCH || k + 1 == per_terminal {
                                    batches.push(Batch {
                                        bytes: encode_batch(&records),
                                        count: records.len() as u64,
                                        head: sim.head(),
                                    });
                                    records.clear();
                                }
                            }
                            (sim, batches)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a signing thread failed"))?,
            );
        }
        Ok(out)
    })
}

/// One core's time to check one record's signature as the hub does
/// (`check_all` over an upload of [`UPLOAD_BATCH`] records of one
/// terminal), µs: the median of 5 rounds over `n` records.
fn verify_cost(n: usize, rng: &mut Rng) -> anyhow::Result<f64> {
    let mut sim = Sim::new(Rng::from_seed(rng.next_u64()), 0);
    let key = sim.verifying_key();
    let records: Vec<SignedRecord> = (0..n)
        .map(|k| {
            let body = redemption(&mut sim.rng);
            sim.record(now().0 - k as i64, body)
        })
        .collect();
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for upload in records.chunks(UPLOAD_BATCH) {
            check_all(upload, &key, rand_core::UnwrapErr(getrandom::SysRng))
                .map_err(|(i, e)| anyhow::anyhow!("record {i} of an upload: {e}"))?;
        }
        rounds.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    Ok(crate::stats::median(&rounds))
}

/// Ingests `total` records into the registry `reg` through `processes`
/// hub processes, from `terminals` terminals, then times the usage report.
pub fn ingest(
    env: &Env,
    reg: &Registry,
    total: usize,
    terminals: usize,
    processes: usize,
    rng: &mut Rng,
) -> anyhow::Result<Ingest> {
    let backend = reg.backend;
    let per_terminal = total / terminals;
    if per_terminal == 0 {
        bail!("{total} records cannot be shared by {terminals} terminals");
    }
    let total = per_terminal * terminals;
    let hub = reg.open()?;
    let codes = (0..terminals)
        .map(|_| hub.create_enrollment_code(SITE, None).map(|c| c.code))
        .collect::<Result<Vec<_>, _>>()?;
    let registry = hub.registry_public_key();
    let version = hub.current_version()?.map_or(0, |v| v.version);
    drop(hub);
    let verify_us = verify_cost(5_000, rng)?;

    let dirs = reg.dirs(processes)?;
    let mut hubs = Hubs::start(&env.hub_bin, &dirs)?;
    let sims: Vec<Sim> = (0..terminals)
        .map(|i| {
            let mut s = Sim::new(Rng::from_seed(rng.next_u64()), i % processes);
            s.have = version;
            s
        })
        .collect();
    let net = env.rt.block_on(async {
        hubs.ready().await?;
        anyhow::Ok(Arc::new(Net::new(hubs.urls.clone(), registry)?))
    })?;
    let (sims, enrolls) = env
        .rt
        .block_on(ramp(sims, codes, &net, RAMP_CONCURRENCY, false))?;
    if enrolls.all_errors() > 0 {
        bail!("enrollments failed: {:?}", enrolls.first_errors);
    }
    eprintln!("  load: signing {total} records of {terminals} terminals …");
    let t = Instant::now();
    let journals = sign_journals(sims, per_terminal)?;
    let sign_s = t.elapsed().as_secs_f64();
    let batch_bytes: u64 = journals
        .iter()
        .flat_map(|(_, b)| b.iter().map(|x| x.bytes.len() as u64))
        .sum();
    // Several terminals upload at once: as many as the processes hold
    // upload bodies in memory at once (4 each by default).
    let streams = 4 * processes;
    let mut lanes: Vec<Vec<(Sim, Vec<Batch>)>> = (0..streams).map(|_| Vec::new()).collect();
    for (i, j) in journals.into_iter().enumerate() {
        lanes[i % streams].push(j);
    }
    eprintln!(
        "  load: {total} records signed in {sign_s:.0} s ({:.0} MB of batches); uploading …",
        batch_bytes as f64 / 1e6
    );
    let measured = env.rt.block_on(async {
        let quiet = env.quiet(&hubs).await;
        let sampler = match (backend, &env.pg) {
            (Backend::Postgres, Some(pg)) => {
                Some(Sampler::start(&pg.url("postgres"), &reg.database_name()).await?)
            }
            _ => None,
        };
        let stored = Arc::new(AtomicU64::new(0));
        let cpu0 = env.cpu(&hubs);
        let start = Instant::now();
        let progress = {
            let stored = Arc::clone(&stored);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    let n = stored.load(Ordering::Relaxed);
                    let s = start.elapsed().as_secs_f64();
                    eprintln!(
                        "  load: {n} of {total} records stored in {s:.0} s ({:.0} records/s)",
                        n as f64 / s
                    );
                }
            })
        };
        let tasks: Vec<_> = lanes
            .into_iter()
            .map(|lane| {
                let net = Arc::clone(&net);
                let stored = Arc::clone(&stored);
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    for (sim, batches) in lane {
                        for b in batches {
                            match sim.upload_encoded(&net, b.bytes, b.count, b.head).await {
                                Ok(ms) => {
                                    tally.answered(Endpoint::Upload, ms);
                                    tally.records += b.count;
                                    stored.fetch_add(b.count, Ordering::Relaxed);
                                }
                                Err(e) => {
                                    // The rest of this journal cannot
                                    // continue a broken chain.
                                    tally.failed(Endpoint::Upload, e);
                                    break;
                                }
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        let mut uploads = Tally::default();
        for t in tasks {
            uploads.merge(&t.await?);
        }
        let seconds = start.elapsed().as_secs_f64();
        progress.abort();
        let cpu = env.cpu(&hubs).since(&cpu0);
        let waits = match sampler {
            Some(s) => Some(s.finish().await?),
            None => None,
        };
        hubs.check_alive()?;
        anyhow::Ok((uploads, seconds, cpu, waits, hubs.memory_mb(), quiet))
    })?;
    let (uploads, seconds, cpu, waits, memory, quiet) = measured;
    let log = hubs.stop()?;
    eprintln!(
        "  load: {} records stored in {seconds:.0} s; the usage report …",
        uploads.records
    );

    // The usage report, three times: the first reads what the ingest left
    // in memory, as an office would right after.
    let out = reg.dir.with_file_name("usage.csv");
    let out_arg = out.to_string_lossy().into_owned();
    let mut report_s = Vec::new();
    let mut redemptions = 0u64;
    let mut rows = 0usize;
    for _ in 0..3 {
        let t = Instant::now();
        process::cli(
            &env.hub_bin,
            &reg.dir,
            &["report", "usage", "--out", &out_arg],
        )?;
        report_s.push(t.elapsed().as_secs_f64());
        let text = std::fs::read_to_string(&out)?;
        rows = text.lines().skip(1).count();
        redemptions = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(3).and_then(|v| v.parse::<u64>().ok()))
            .sum();
    }
    let _ = std::fs::remove_file(&out);
    Ok(Ingest {
        backend,
        processes,
        terminals,
        records: uploads.records,
        seconds,
        sign_s,
        batch_bytes,
        verify_us,
        uploads,
        enrolls,
        cpu,
        waits,
        memory,
        log,
        report_s,
        report_redemptions: redemptions,
        report_rows: rows,
        quiet,
    })
}
