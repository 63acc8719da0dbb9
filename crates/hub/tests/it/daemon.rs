//! `xinyi-hub serve` as a real process, for tests that need one: its
//! resident memory, its open files, its log, its start-up refusals. The
//! hub's data directory is made in-process first (see `common::hub`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A generous guard: only a hang reaches it.
pub const GUARD: Duration = Duration::from_secs(30);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_xinyi-hub")
}

/// A running `xinyi-hub serve`.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

/// Appends `settings` to the hub.toml of `dir`.
pub fn configure(dir: &Path, settings: &str) {
    let path = dir.join("hub.toml");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push('\n');
    text.push_str(settings);
    std::fs::write(path, text).unwrap();
}

impl Daemon {
    /// Serves the hub in `dir` on an ephemeral port of 127.0.0.1 with
    /// `settings` added to its hub.toml. The process starts with a soft
    /// open-file limit of 1024 (the usual default), whatever the test
    /// process has, so what the hub does about the limit is what is tested.
    pub fn start(dir: &Path, settings: &str) -> Daemon {
        configure(dir, settings);
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -S -n 1024 && exec \"$0\" \"$@\"")
            .arg(bin())
            .arg("--data-dir")
            .arg(dir)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--console-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("xinyi-hub serving") {
                        let _ = tx.send(line.clone());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let line = match rx.recv_timeout(GUARD) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the hub did not start; its log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line:?}"))
            .parse()
            .unwrap();
        Daemon { child, addr, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of /proc/PID/status in kB (VmRSS, VmHWM).
    pub fn status_kb(&self, key: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc status"))
    }

    /// How many files (sockets included) the hub has open.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// The soft open-file limit in force in the hub.
    pub fn open_file_limit(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/limits", self.pid())).unwrap();
        let line = s.lines().find(|l| l.starts_with("Max open files")).unwrap();
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then waits for the exit; returns the whole log.
    pub fn stop(mut self) -> Vec<String> {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .expect("SIGTERM to the hub");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the hub exited with {status}");
                break;
            }
            if start.elapsed() > GUARD {
                let _ = self.child.kill();
                panic!("the hub did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(200));
        self.log()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` on a new connection and reads until the server closes
/// it (the request should say `Connection: close`), within the guard.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("no complete answer within {GUARD:?}: {e}"));
    String::from_utf8_lossy(&out).into_owned()
}

/// GET /v1/health on a new connection.
pub fn health(addr: SocketAddr) -> String {
    exchange(
        addr,
        b"GET /v1/health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n",
    )
}

/// GET /v1/health, or None if the connection fails or closes unanswered.
pub fn try_health(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(GUARD)).ok()?;
    s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    Some(String::from_utf8_lossy(&out).into_owned()).filter(|a| !a.is_empty())
}

/// Waits until `stream` is closed by the other side (EOF or reset),
/// writing `trickle` one byte at a time every 100 ms meanwhile if given.
/// Returns how long it took; panics past the guard.
pub fn wait_closed(stream: &mut TcpStream, trickle: Option<&[u8]>) -> Duration {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut bytes = trickle.unwrap_or_default().iter().cycle();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            start.elapsed() < GUARD,
            "the connection is still open after {GUARD:?}"
        );
        if trickle.is_some() {
            let b = bytes.next().copied().unwrap_or(b'x');
            if stream.write_all(&[b]).is_err() {
                return start.elapsed();
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return start.elapsed(),
        }
    }
}

/// A temporary folder holding a hub made by `common::hub`.
pub fn hub_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    drop(crate::common::hub(&dir));
    (tmp, dir)
}
