//! Warnings about refused requests and connections, rate limited so a
//! flood cannot fill the disk or drown the log: for each reason at most
//! [`PER_WINDOW`] lines a minute, then one line saying how many more were
//! left out. Whatever a client sent (a claimed terminal id, a forwarded
//! address) is escaped before it reaches the log, so control characters
//! cannot forge lines or drive the operator's terminal.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines written for one reason in one window before the rest are counted.
pub(crate) const PER_WINDOW: u32 = 5;
/// The window.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// The most characters of a client's text that reach the log.
const MAX_SHOWN: usize = 80;

/// Client text made safe for a log line: quoted, control and other
/// unprintable characters escaped (`\t`, `\u{1b}`, `\u{202e}`), cut short.
pub(crate) struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(MAX_SHOWN) {
            write!(f, "{}", c.escape_debug())?;
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        f.write_str("\"")
    }
}

/// Who sent a request: the connection's peer and, behind a reverse
/// proxy, the address the proxy says it forwarded for (unverified).
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub peer: SocketAddr,
    pub forwarded_for: Option<String>,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.forwarded_for {
            Some(x) => write!(f, "{} (forwarded for {})", self.peer, Escaped(x)),
            None => write!(f, "{}", self.peer),
        }
    }
}

#[derive(Debug)]
struct Window {
    start: Instant,
    written: u32,
    left_out: u64,
}

/// The rate-limited warning log of one server.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    windows: Mutex<HashMap<&'static str, Window>>,
}

impl Warnings {
    /// Whether a warning for `reason` may be written now; counts it if not.
    fn admit(&self, reason: &'static str, now: Instant) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        let w = windows.entry(reason).or_insert(Window {
            start: now,
            written: 0,
            left_out: 0,
        });
        if now.duration_since(w.start) >= WINDOW {
            summarise(reason, w);
            *w = Window {
                start: now,
                written: 0,
                left_out: 0,
            };
        }
        if w.written < PER_WINDOW {
            w.written += 1;
            true
        } else {
            w.left_out += 1;
            false
        }
    }

    /// A refused request: `what` was refused for `reason` (the error code
    /// the client got), from `who`, naming `terminal` if it claimed one.
    pub(crate) fn refused(
        &self,
        what: &'static str,
        reason: &'static str,
        who: &Who,
        terminal: Option<&str>,
    ) {
        if !self.admit(reason, Instant::now()) {
            return;
        }
        match terminal {
            Some(t) => tracing::warn!(
                reason,
                peer = %who,
                terminal = %Escaped(t),
                "{what} refused"
            ),
            None => tracing::warn!(reason, peer = %who, "{what} refused"),
        }
    }

    /// A connection closed as it arrived (`reason`: which cap was full).
    pub(crate) fn connection_refused(&self, reason: &'static str, peer: SocketAddr, why: &str) {
        if self.admit(reason, Instant::now()) {
            tracing::warn!(reason, %peer, "connection closed: {why}");
        }
    }

    /// A failure of the server itself, such as `accept` failing.
    pub(crate) fn server_trouble(&self, reason: &'static str, error: &dyn fmt::Display) {
        if self.admit(reason, Instant::now()) {
            tracing::warn!(reason, "{error}");
        }
    }

    /// Writes the "left out" line of every window that has ended, or of
    /// every window when `all` (the server is stopping).
    pub(crate) fn flush(&self, all: bool) {
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        windows.retain(|reason, w| {
            let ended = now.duration_since(w.start) >= WINDOW;
            if ended || all {
                summarise(reason, w);
                w.left_out = 0;
            }
            !ended
        });
    }
}

fn summarise(reason: &str, w: &Window) {
    if w.left_out > 0 {
        tracing::warn!(
            reason,
            suppressed = w.left_out,
            "suppressed {} more `{reason}` warnings of the last minute",
            w.left_out
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_clients_send() {
        let s = Escaped("a\tb\u{1b}[31m\nc\u{202e}\"").to_string();
        assert_eq!(s, r#""a\tb\u{1b}[31m\nc\u{202e}\"""#);
        assert!(!s.chars().any(char::is_control), "{s}");
        let long = "x".repeat(500);
        let s = Escaped(&long).to_string();
        assert_eq!(s.chars().count(), MAX_SHOWN + 3);
    }

    #[test]
    fn a_few_lines_per_reason_per_window() {
        let w = Warnings::default();
        let t0 = Instant::now();
        let admitted = (0..100).filter(|_| w.admit("bad_signature", t0)).count();
        assert_eq!(admitted, PER_WINDOW as usize);
        // Another reason has its own allowance.
        assert!(w.admit("replay", t0));
        // A new window starts after a minute.
        assert!(w.admit("bad_signature", t0 + WINDOW));
        let windows = w.windows.lock().unwrap();
        assert_eq!(windows["bad_signature"].written, 1);
        assert_eq!(windows["bad_signature"].left_out, 0);
    }
}
