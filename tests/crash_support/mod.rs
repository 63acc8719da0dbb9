//! Plumbing for the crash tests: the test binary re-runs itself as a
//! child process (selected by `XINYI_CRASH_CHILD`), the child reports
//! progress as `@…` lines on stdout, and the parent kills it with SIGKILL
//! (`Child::kill`) at a random moment drawn from a printed seed.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Names the role a re-run test binary plays; unset in the parent.
pub const CHILD_ENV: &str = "XINYI_CRASH_CHILD";
/// Rounds per scenario (default 20).
pub const ROUNDS_ENV: &str = "XINYI_CRASH_ROUNDS";
/// Repeats the random draws of an earlier run.
pub const SEED_ENV: &str = "XINYI_CRASH_SEED";

/// The role this process plays, when it is a child.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ENV).ok().filter(|r| !r.is_empty())
}

/// An environment variable a child needs.
pub fn child_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("crash child: {name} is not set"))
}

/// Rounds per scenario: `XINYI_CRASH_ROUNDS`, else 20.
pub fn rounds() -> usize {
    std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(20usize)
        .max(1)
}

pub use xinyi_testkit::Rng;

/// A generator seeded from `XINYI_CRASH_SEED` to repeat a run's draws, or
/// from the OS; prints the seed. Kill moments also depend on timing, so a
/// repeat is close, not exact.
pub fn scenario_rng(name: &str) -> Rng {
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| getrandom::u64().expect("OS randomness"));
    println!("[{name}] seed {seed} (repeat with {SEED_ENV}={seed})");
    Rng::from_seed(seed)
}

/// A delay uniform in `0..=max`, at microsecond resolution.
pub fn delay(rng: &mut Rng, max: Duration) -> Duration {
    let us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rng.below(us.saturating_add(1)))
}

// ---------------------------------------------------------------- child side

/// In a child: exits when the parent goes away (its end of stdin closes),
/// so a crashed parent leaves no process behind.
pub fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 64];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(3),
                Ok(_) => {}
            }
        }
    });
}

/// In a child: one progress line for the parent, written and flushed
/// before returning (one `write` of a short line to a pipe is atomic).
/// It starts on a line of its own: the test harness may have left
/// `test NAME ... ` unfinished on stdout.
pub fn emit(line: impl std::fmt::Display) {
    let text = format!("\n@{line}\n");
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(4);
    }
}

/// In a child: reports a failure the parent must see, and stops.
pub fn fail(what: impl std::fmt::Display) -> ! {
    emit(format_args!("error {what}"));
    eprintln!("crash child failed: {what}");
    std::process::exit(1);
}

// --------------------------------------------------------------- parent side

/// A progress line from a child and when the parent read it.
#[derive(Debug, Clone)]
pub struct Line {
    /// Since the child was spawned.
    pub at: Duration,
    /// Without the leading `@`.
    pub text: String,
}

/// A child process running one role of this test binary.
#[derive(Debug)]
pub struct Proc {
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    pub spawned: Instant,
    lines: Receiver<Line>,
    reader: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<String>>,
    /// Lines taken so far.
    pub seen: Vec<Line>,
}

/// What a killed child left behind.
#[derive(Debug)]
pub struct Killed {
    /// Every progress line, in order (complete lines only).
    pub lines: Vec<Line>,
    /// How long after the spawn the kill was sent.
    pub killed_at: Duration,
    pub stderr: String,
}

impl Proc {
    /// Re-runs this test binary with only `test` selected, as `role`.
    pub fn spawn(test: &str, role: &str, envs: &[(&str, String)]) -> Proc {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut cmd = Command::new(exe);
        cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, role)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let spawned = Instant::now();
        let mut child = cmd.spawn().expect("the test binary runs again as a child");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                // A line cut by the kill has no newline: it was not
                // written whole, so it does not count.
                if buf.last() != Some(&b'\n') {
                    return;
                }
                let text = String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned();
                if let Some(text) = text.strip_prefix('@') {
                    let line = Line {
                        at: spawned.elapsed(),
                        text: text.to_owned(),
                    };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                sink.lock().unwrap().push_str(&s);
            });
        }
        let stdin = child.stdin.take();
        Proc {
            child,
            stdin,
            spawned,
            lines,
            reader: Some(reader),
            stderr,
            seen: Vec::new(),
        }
    }

    /// The next progress line, waiting up to `timeout`. Panics (with the
    /// child's stderr) if the child reports an error or dies.
    pub fn next_line(&mut self, timeout: Duration) -> Option<Line> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                if line.text.starts_with("error ") {
                    let stderr = self.stderr_now();
                    panic!("the child failed: {}\n{stderr}", line.text);
                }
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                std::thread::sleep(Duration::from_millis(50));
                panic!(
                    "the child exited by itself ({status:?}):\n{}",
                    self.stderr_now()
                );
            }
        }
    }

    /// Waits (up to `timeout`) for a line that `want` accepts.
    pub fn wait_for(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> Line {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(l) if want(&l.text) => return l,
                Some(_) => {}
                None => panic!(
                    "no awaited line from the child within {timeout:?}; lines so far: {:?}\n{}",
                    self.seen.iter().rev().take(5).collect::<Vec<_>>(),
                    self.stderr_now()
                ),
            }
        }
    }

    fn stderr_now(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Whether the child is still running.
    pub fn running(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("child status")
    }

    /// Sleeps until `at` after the spawn (or not at all if it has passed),
    /// then kills the child.
    pub fn kill_at(self, at: Duration) -> Killed {
        let left = at.saturating_sub(self.spawned.elapsed());
        std::thread::sleep(left);
        self.kill()
    }

    /// SIGKILLs the child (it must still be running: a child that stopped
    /// by itself failed) and collects every line it wrote.
    pub fn kill(mut self) -> Killed {
        if let Some(status) = self.running() {
            std::thread::sleep(Duration::from_millis(50));
            let lines: Vec<String> = self.lines.try_iter().map(|l| l.text).collect();
            panic!(
                "the child stopped by itself before the kill ({status}); last lines {:?}\n{}",
                lines.iter().rev().take(5).collect::<Vec<_>>(),
                self.stderr_now()
            );
        }
        // `Child::kill` sends SIGKILL on Unix: no destructor, no flush,
        // no rollback runs in the child.
        self.child.kill().expect("SIGKILL the child");
        let killed_at = self.spawned.elapsed();
        self.child.wait().expect("reap the child");
        drop(self.stdin.take());
        if let Some(r) = self.reader.take() {
            r.join().expect("stdout reader");
        }
        let mut lines = std::mem::take(&mut self.seen);
        lines.extend(self.lines.try_iter());
        if let Some(bad) = lines.iter().find(|l| l.text.starts_with("error ")) {
            panic!("the child failed: {}\n{}", bad.text, self.stderr_now());
        }
        Killed {
            lines,
            killed_at,
            stderr: self.stderr_now(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A failing parent must not leave its child running.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
