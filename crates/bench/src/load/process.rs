//! Hub processes: the release `xinyi-hub serve` binary started on free
//! loopback ports, its log in a file, its memory and CPU time read from
//! `/proc`, stopped with SIGTERM as a service manager stops it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::postgres::free_port;

/// Clock ticks per second, as `/proc/PID/stat` counts CPU time.
fn ticks_per_s() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The fields of `/proc/PID/stat` after the command name: state, ppid, …
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// (utime + stime, cutime + cstime) of a process, in seconds.
fn cpu_of(pid: &str) -> Option<(f64, f64)> {
    let f = stat_fields(pid)?;
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let t = ticks_per_s();
    Some(((n(11) + n(12)) / t, (n(13) + n(14)) / t))
}

/// CPU seconds the whole machine spent busy so far (every core, every
/// process and the kernel: `/proc/stat`).
pub fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let f: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let busy: f64 = f
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / ticks_per_s()
}

/// CPU seconds of process `pid` so far (its own, not its children's).
pub fn cpu_s(pid: u32) -> f64 {
    cpu_of(&pid.to_string()).map_or(0.0, |(own, _)| own)
}

/// CPU seconds of this process so far.
pub fn self_cpu_s() -> f64 {
    cpu_of("self").map_or(0.0, |(own, _)| own)
}

/// CPU seconds of `pid`, the children it reaped, and its children still
/// running (PostgreSQL's backends are the postmaster's children).
pub fn tree_cpu_s(pid: u32) -> f64 {
    let (own, reaped) = cpu_of(&pid.to_string()).unwrap_or((0.0, 0.0));
    let parent = pid.to_string();
    let live: f64 = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|name| name.chars().all(|c| c.is_ascii_digit()))
                .filter_map(|name| {
                    let f = stat_fields(&name)?;
                    (f.get(1)? == &parent).then(|| cpu_of(&name).map_or(0.0, |(o, _)| o))
                })
                .sum()
        })
        .unwrap_or(0.0);
    own + reaped + live
}

/// (VmHWM, VmRSS) of a process, in MB.
pub fn memory_mb(pid: u32) -> Option<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some((kb("VmHWM:")? / 1024.0, kb("VmRSS:")? / 1024.0))
}

/// What a stopped hub process logged that was not routine.
#[derive(Debug, Clone, Default)]
pub struct LogSummary {
    pub errors: usize,
    pub warnings: usize,
    /// The first few such lines.
    pub lines: Vec<String>,
}

/// Hub processes serving one registry.
#[derive(Debug)]
pub struct Hubs {
    children: Vec<Child>,
    /// Each process's API address, `http://127.0.0.1:PORT`.
    pub urls: Vec<String>,
    logs: Vec<PathBuf>,
}

impl Hubs {
    /// Starts `xinyi-hub serve` once per data directory in `dirs` (each a
    /// copy of the registry's directory, or the same one), on free ports,
    /// without the console, and waits until each answers its health check.
    ///
    /// Call from the thread that outlives the processes (the main thread):
    /// each is told to end with SIGTERM when that thread ends.
    pub fn start(bin: &Path, dirs: &[PathBuf]) -> anyhow::Result<Hubs> {
        let mut hubs = Hubs {
            children: Vec::new(),
            urls: Vec::new(),
            logs: Vec::new(),
        };
        for (i, dir) in dirs.iter().enumerate() {
            let port = free_port()?;
            let log = dir.with_file_name(format!(
                "{}-serve-{i}.log",
                dir.file_name().and_then(|n| n.to_str()).unwrap_or("hub")
            ));
            let child = Command::new("setpriv")
                .args(["--pdeathsig", "TERM", "--"])
                .arg(bin)
                .arg("--data-dir")
                .arg(dir)
                .args(["serve", "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["--console-listen", "off"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&log).with_context(|| format!("creating {}", log.display()))?)
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            hubs.children.push(child);
            hubs.urls.push(format!("http://127.0.0.1:{port}"));
            hubs.logs.push(log);
        }
        Ok(hubs)
    }

    /// Waits until every process answers `GET /v1/health` with 200.
    pub async fn ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(120);
        for i in 0..self.urls.len() {
            loop {
                if let Some(status) = self.children[i].try_wait()? {
                    bail!(
                        "hub process {i} ended ({status}) before it served; its log: {}",
                        tail(&self.logs[i])
                    );
                }
                let ok = http
                    .get(format!("{}/v1/health", self.urls[i]))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "hub process {i} did not answer its health check within 120 s; its log: {}",
                        tail(&self.logs[i])
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The processes' ids.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Fails if a process has ended.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for (i, c) in self.children.iter_mut().enumerate() {
            if let Some(status) = c.try_wait()? {
                bail!(
                    "hub process {i} ended ({status}); its log: {}",
                    tail(&self.logs[i])
                );
            }
        }
        Ok(())
    }

    /// Each process's CPU seconds so far.
    pub fn cpu_s(&self) -> f64 {
        self.pids().into_iter().map(cpu_s).sum()
    }

    /// Each process's (VmHWM, VmRSS) in MB.
    pub fn memory_mb(&self) -> Vec<(f64, f64)> {
        self.pids()
            .into_iter()
            .map(|p| memory_mb(p).unwrap_or((0.0, 0.0)))
            .collect()
    }

    /// Stops every process with SIGTERM (killed if it has not ended within
    /// 30 s) and reads what each logged at WARN or ERROR.
    pub fn stop(mut self) -> anyhow::Result<LogSummary> {
        self.terminate();
        let mut summary = LogSummary::default();
        for (i, log) in self.logs.iter().enumerate() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            for line in text.lines() {
                let error = line.contains(" ERROR ");
                let warning = line.contains(" WARN ");
                if error {
                    summary.errors += 1;
                }
                if warning {
                    summary.warnings += 1;
                }
                if (error || warning) && summary.lines.len() < 3 {
                    summary.lines.push(format!("process {i}: {}", line.trim()));
                }
            }
        }
        Ok(summary)
    }

    fn terminate(&mut self) {
        for c in &mut self.children {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .args(["-TERM", &c.id().to_string()])
                    .status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for c in &mut self.children {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Ok(None) => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                }
            }
        }
    }
}

impl Drop for Hubs {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Runs `xinyi-hub --data-dir DIR ARGS…` to its end: its standard output,
/// or an error with what it printed.
pub fn cli(bin: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "xinyi-hub {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
