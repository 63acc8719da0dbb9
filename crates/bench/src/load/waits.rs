//! What PostgreSQL's sessions of a database are doing, sampled every
//! 100 ms from `pg_stat_activity` while a load runs: running on a CPU,
//! waiting for the WAL to reach the disk, for a lock, or idle inside a
//! transaction while the hub works. The shares say what dominates a
//! database-bound figure, measured rather than guessed.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Samples taken, and the server's counters over the same time.
#[derive(Debug, Default, Clone)]
pub struct Waits {
    /// Session samples per state.
    counts: HashMap<String, u64>,
    /// Sampling rounds.
    ticks: u64,
    /// Seconds sampled.
    pub seconds: f64,
    /// Transactions committed in the database (`pg_stat_database`).
    pub commits: i64,
    /// WAL flushes to disk and the milliseconds they took, server-wide
    /// (`pg_stat_wal`, with `track_wal_io_timing`).
    pub wal_syncs: i64,
    pub wal_sync_ms: f64,
}

/// The counters read at the start and end.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    commits: i64,
    wal_syncs: i64,
    wal_sync_ms: f64,
}

async fn counters(client: &tokio_postgres::Client, db: &str) -> anyhow::Result<Counters> {
    let c = client
        .query_one(
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = $1),
                    wal_sync, wal_sync_time FROM pg_stat_wal",
            &[&db],
        )
        .await?;
    Ok(Counters {
        commits: c.try_get::<_, Option<i64>>(0)?.unwrap_or(0),
        wal_syncs: c.try_get(1)?,
        wal_sync_ms: c.try_get(2)?,
    })
}

impl Waits {
    /// Busy sessions on average, and the shares of their states, largest
    /// first (at most five), in words.
    pub fn summary(&self) -> String {
        let busy: u64 = self.counts.values().sum();
        if self.ticks == 0 || busy == 0 {
            return "no busy session sampled".into();
        }
        let mut by: Vec<(&String, &u64)> = self.counts.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shares: Vec<String> = by
            .iter()
            .take(5)
            .map(|(k, n)| format!("{k} {:.0}%", **n as f64 * 100.0 / busy as f64))
            .collect();
        format!(
            "{:.1} sessions busy on average ({} samples 100 ms apart): {}; {}",
            busy as f64 / self.ticks as f64,
            self.ticks,
            shares.join(", "),
            self.flushes()
        )
    }

    /// Commits and WAL flushes over the time sampled, in words.
    pub fn flushes(&self) -> String {
        let per_s = |n: i64| n as f64 / self.seconds.max(f64::MIN_POSITIVE);
        format!(
            "{:.0} commits/s, {:.0} WAL flushes/s averaging {:.2} ms (flushing the WAL {:.0}% of the time)",
            per_s(self.commits),
            per_s(self.wal_syncs),
            self.wal_sync_ms / (self.wal_syncs.max(1)) as f64,
            self.wal_sync_ms / 10.0 / self.seconds.max(f64::MIN_POSITIVE)
        )
    }

    /// The share (0–1) of busy session samples in `state`.
    pub fn share(&self, state: &str) -> f64 {
        let busy: u64 = self.counts.values().sum();
        if busy == 0 {
            return 0.0;
        }
        self.counts.get(state).copied().unwrap_or(0) as f64 / busy as f64
    }
}

/// The state of one session, in words; `None` for one idle outside a
/// transaction (a pooled connection at rest).
fn state(state: Option<&str>, kind: Option<&str>, event: Option<&str>) -> Option<String> {
    match (state, kind, event) {
        (Some("idle"), _, _) | (None, _, _) => None,
        (Some("idle in transaction"), _, _) => {
            Some("idle in a transaction (the hub's turn)".into())
        }
        (Some("active"), None, _) => Some("running on a CPU".into()),
        (Some(_), Some(k), Some(e)) => Some(format!("waiting {k}:{e}")),
        (Some(s), _, _) => Some(s.to_owned()),
    }
}

/// A sampler running until [`Sampler::finish`].
#[derive(Debug)]
pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<Waits>>,
}

impl Sampler {
    /// Starts sampling the sessions of database `db`, connecting to the
    /// server's `postgres` database at `admin_url`.
    pub async fn start(admin_url: &str, db: &str) -> anyhow::Result<Sampler> {
        let (client, connection) =
            tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let (stop, mut stopped) = watch::channel(false);
        let db = db.to_owned();
        let before = counters(&client, &db).await?;
        let started = std::time::Instant::now();
        let task = tokio::spawn(async move {
            let query = client
                .prepare(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity
                     WHERE datname = $1 AND backend_type = 'client backend'
                       AND pid <> pg_backend_pid()",
                )
                .await?;
            let mut waits = Waits::default();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tick.tick() => {}
                }
                let rows = client.query(&query, &[&db]).await?;
                waits.ticks += 1;
                for r in rows {
                    let s: Option<String> = r.try_get(0)?;
                    let k: Option<String> = r.try_get(1)?;
                    let e: Option<String> = r.try_get(2)?;
                    if let Some(label) = state(s.as_deref(), k.as_deref(), e.as_deref()) {
                        *waits.counts.entry(label).or_default() += 1;
                    }
                }
            }
            let after = counters(&client, &db).await?;
            waits.seconds = started.elapsed().as_secs_f64();
            waits.commits = after.commits - before.commits;
            waits.wal_syncs = after.wal_syncs - before.wal_syncs;
            waits.wal_sync_ms = after.wal_sync_ms - before.wal_sync_ms;
            Ok(waits)
        });
        Ok(Sampler { stop, task })
    }

    /// Stops sampling; what was sampled.
    pub async fn finish(self) -> anyhow::Result<Waits> {
        let _ = self.stop.send(true);
        self.task.await?
    }
}
