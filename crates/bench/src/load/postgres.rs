//! A PostgreSQL server for the load section, started like the test kit's
//! (`xinyi_testkit::pg`: Debian's `initdb` and `postgres` in a directory
//! of its own, trust authentication on a free loopback port, the
//! `postgres` user when this process is root) but durable: every commit
//! is flushed to disk (`fsync`, `synchronous_commit` and
//! `full_page_writes` on), as a registry's database must be. A watchdog
//! shell stops the server and deletes its directory when this process
//! ends, however it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use xinyi_testkit::pg::{as_server_user, bin_dir, running_as_root};

/// The server's settings beyond the defaults, as passed to `postgres`.
pub fn settings() -> Vec<(&'static str, String)> {
    let fixed = |k: &'static str, v: &str| (k, v.to_owned());
    vec![
        fixed("fsync", "on"),
        fixed("synchronous_commit", "on"),
        fixed("full_page_writes", "on"),
        // A quarter of the machine's memory, as PostgreSQL's guide
        // suggests for a dedicated server: the records' indexes stay in
        // PostgreSQL's own buffers instead of being copied in and out of
        // the kernel's.
        ("shared_buffers", format!("{}MB", memory_mb() / 4)),
        fixed("max_connections", "200"),
        // Fewer checkpoints while millions of records arrive, so fewer
        // whole pages written again into the WAL after each, and those
        // compressed; durability is the WAL's, flushed at every commit.
        fixed("max_wal_size", "8GB"),
        fixed("checkpoint_timeout", "15min"),
        fixed("wal_compression", "lz4"),
        // How long each WAL flush takes, for the report (pg_stat_wal).
        fixed("track_wal_io_timing", "on"),
        fixed("listen_addresses", "127.0.0.1"),
        fixed("log_min_messages", "warning"),
    ]
}

/// The machine's memory in MiB (2 GiB if `/proc/meminfo` does not say).
fn memory_mb() -> u64 {
    crate::report::memory_kib().map_or(2048, |kb| kb / 1024)
}

/// The settings in words, for the report.
pub fn settings_note() -> String {
    settings()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                *k,
                "listen_addresses" | "log_min_messages" | "track_wal_io_timing"
            )
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A running server; dropping it stops it and deletes its files.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    postmaster: u32,
    watchdog: Child,
    version: String,
}

/// A free port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Single-quotes `s` for the shell.
fn quoted(s: &Path) -> String {
    format!("'{}'", s.display().to_string().replace('\'', r"'\''"))
}

impl Postgres {
    /// Makes a cluster in a new directory under the system's temporary
    /// directory and starts the server.
    pub fn start() -> anyhow::Result<Postgres> {
        let Some(bin) = bin_dir() else {
            bail!(
                "PostgreSQL's initdb was not found on the PATH nor in /usr/lib/postgresql/*/bin: install Debian's postgresql package"
            );
        };
        let root = running_as_root();
        let dir = std::env::temp_dir().join(format!("xinyi-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                bail!("cannot give {} to the postgres user", dir.display());
            }
        }
        let data = dir.join("data");
        let out = as_server_user(&bin.join("initdb"), root)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_port()?;
        let postgres = bin.join("postgres");
        let launcher = if root {
            format!(
                "setpriv --reuid=postgres --regid=postgres --init-groups --reset-env {}",
                quoted(&postgres)
            )
        } else {
            quoted(&postgres)
        };
        let options: String = settings()
            .iter()
            .map(|(k, v)| format!(" -c {k}={v}"))
            .collect();
        // The server runs under a shell that waits for this process (or
        // the server) to end, then stops it (fast shutdown) and deletes
        // its files.
        let script = format!(
            "{launcher} -D {data} -p {port} -k {dir}{options} >{log} 2>&1 & pg=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
            data = quoted(&data),
            dir = quoted(&dir),
            log = quoted(&dir.join("log")),
            parent = std::process::id(),
        );
        // In a session of its own: it outlives a signal to this process's
        // group, so the server is stopped and its files deleted anyway.
        let watchdog = Command::new("setsid")
            .args(["sh", "-c"])
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting PostgreSQL")?;
        let mut server = Postgres {
            port,
            dir,
            bin,
            postmaster: 0,
            watchdog,
            version: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match server.psql("postgres", "SHOW server_version") {
                Ok(v) => {
                    server.version = v.trim().to_owned();
                    break;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => bail!(
                    "PostgreSQL did not start: {e}; its log: {}",
                    std::fs::read_to_string(server.dir.join("log")).unwrap_or_default()
                ),
            }
        }
        // The postmaster's process id is the first line of its pid file.
        server.postmaster = std::fs::read_to_string(data.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
            .context("reading PostgreSQL's postmaster.pid")?;
        for (k, v) in settings() {
            if matches!(k, "fsync" | "synchronous_commit" | "full_page_writes") {
                let shown = server
                    .psql("postgres", &format!("SHOW {k}"))
                    .map_err(|e| anyhow::anyhow!("SHOW {k}: {e}"))?;
                if shown.trim() != v {
                    bail!("PostgreSQL runs with {k}={}, not {v}", shown.trim());
                }
            }
        }
        Ok(server)
    }

    /// The address of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's version, as it says.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The postmaster's process id.
    pub fn postmaster(&self) -> u32 {
        self.postmaster
    }

    /// A new, empty database `name`; its address.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .map_err(|e| anyhow::anyhow!("creating database {name}: {e}"))?;
        Ok(self.url(name))
    }

    /// Drops database `name` and everything in it.
    pub fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        self.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .map_err(|e| anyhow::anyhow!("dropping database {name}: {e}"))?;
        Ok(())
    }

    /// Runs `sql` in database `db` with `psql`: what it printed (tuples
    /// only, unaligned), or what went wrong.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .arg("-c")
            .arg(sql)
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// CPU seconds the server's processes used so far: the postmaster and
    /// the children it reaped, and those still running.
    pub fn cpu_s(&self) -> f64 {
        crate::load::process::tree_cpu_s(self.postmaster)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // A fast shutdown; the watchdog then deletes the files and ends.
        let _ = Command::new("kill")
            .args(["-INT", &self.postmaster.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.watchdog.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
