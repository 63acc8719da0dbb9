//! The USB scanner as a keyboard wedge: a handheld scanner "types" the QR
//! text as a burst of keystrokes ending in Enter. [`WedgeParser`] tells
//! such a burst from a person typing by the time between keys, whatever
//! element has focus, and hands back the cleaned text.
//!
//! It is a plain struct fed `(key, timestamp)` events so it can be tested
//! with synthetic timings; the kiosk feeds it raw key events from a
//! `capture-key-pressed` handler at the window root. Raw key events still
//! arrive while a Chinese input method is switched on (the input method
//! only composes text for a focused text field), but an input method in
//! full-width mode turns `XY1:` into `ＸＹ１：`, and some deliver a burst
//! as one multi-character event: both are handled here.

use xinyi_core::credential::clean_scanned;

/// The longest pause between two keys of one scanner burst. Scanners type
/// a key every 1–20 ms; people rarely type two keys within 50 ms, and never
/// eight in a row.
pub const MAX_GAP_MS: u64 = 50;
/// Enter may follow the last character a little later than the characters
/// follow each other (some scanners pause before the suffix).
pub const MAX_ENTER_GAP_MS: u64 = 150;
/// The shortest burst taken as a scan: every credential is far longer,
/// and people type short words fast now and then.
pub const MIN_SCAN_CHARS: usize = 8;
/// The longest text kept: the spec caps credentials at 1,200 characters.
const MAX_CHARS: usize = 4096;

/// One key event as the parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A key that types text (possibly several characters at once).
    Char(char),
    /// Enter or Return: the scanner's suffix.
    Enter,
    /// A key that types nothing (Shift, arrows, function keys): ignored,
    /// so a scanner that presses Shift for capitals still counts as a burst.
    Other,
}

impl Key {
    /// Classifies the text of a key event as a UI toolkit reports it:
    /// `"\n"` or `"\r"` is Enter; a control or private-use character (how
    /// toolkits spell Shift, arrows, F-keys) is [`Key::Other`].
    pub fn from_text(text: &str) -> Vec<Key> {
        if text == "\n" || text == "\r" || text == "\r\n" {
            return vec![Key::Enter];
        }
        let keys: Vec<Key> = text
            .chars()
            .map(|c| match c {
                '\n' | '\r' => Key::Enter,
                c if c.is_control() || is_private_use(c) => Key::Other,
                c => Key::Char(c),
            })
            .collect();
        if keys.is_empty() {
            vec![Key::Other]
        } else {
            keys
        }
    }
}

fn is_private_use(c: char) -> bool {
    matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

/// Folds full-width ASCII (what an input method in full-width mode types)
/// and the ideographic space back to ASCII.
fn half_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// What one key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fed {
    /// Nothing complete yet.
    Pending,
    /// A scanner burst ended: the cleaned text (AIM and ECI prefixes gone).
    Scan(String),
    /// Enter ended something a person typed (too slow or too short).
    Typed,
}

/// Splits keystrokes into scanner bursts and human typing.
#[derive(Debug, Clone, Default)]
pub struct WedgeParser {
    buf: String,
    chars: usize,
    last_ms: Option<u64>,
    /// Whether every gap in `buf` so far was scanner-fast.
    fast: bool,
}

impl WedgeParser {
    pub fn new() -> WedgeParser {
        WedgeParser::default()
    }

    /// Whether a burst is being collected (the kiosk may swallow its keys
    /// so they do not land in a focused text field).
    pub fn in_burst(&self) -> bool {
        self.fast && self.chars >= 2
    }

    /// Feeds one key pressed at `t_ms` (any monotonic milliseconds).
    pub fn feed(&mut self, key: Key, t_ms: u64) -> Fed {
        let gap = self.last_ms.map(|l| t_ms.saturating_sub(l));
        match key {
            Key::Other => {
                // Modifiers type nothing and keep the burst's timing.
                if self.chars > 0 {
                    self.last_ms = Some(t_ms);
                }
                Fed::Pending
            }
            Key::Char(c) => {
                let c = half_width(c);
                match gap {
                    Some(g) if self.chars > 0 && g <= MAX_GAP_MS => {}
                    _ => {
                        // A slow key starts over: what came before was typed.
                        self.buf.clear();
                        self.chars = 0;
                        self.fast = true;
                    }
                }
                if self.chars < MAX_CHARS {
                    self.buf.push(c);
                    self.chars += 1;
                }
                self.last_ms = Some(t_ms);
                Fed::Pending
            }
            Key::Enter => {
                let done = self.fast
                    && self.chars >= MIN_SCAN_CHARS
                    && gap.is_some_and(|g| g <= MAX_ENTER_GAP_MS);
                let text = std::mem::take(&mut self.buf);
                let had = self.chars > 0;
                self.chars = 0;
                self.last_ms = None;
                self.fast = false;
                if done {
                    let cleaned = clean_scanned(&text);
                    if cleaned.is_empty() {
                        Fed::Typed
                    } else {
                        Fed::Scan(cleaned)
                    }
                } else if had {
                    Fed::Typed
                } else {
                    Fed::Pending
                }
            }
        }
    }

    /// Feeds a key event's text (one event may carry several characters,
    /// as an input method's commit does; they arrive at the same instant).
    pub fn feed_text(&mut self, text: &str, t_ms: u64) -> Vec<Fed> {
        Key::from_text(text)
            .into_iter()
            .map(|k| self.feed(k, t_ms))
            .filter(|f| *f != Fed::Pending)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(p: &mut WedgeParser, text: &str, start: u64, step: u64) -> (Vec<Fed>, u64) {
        let mut t = start;
        let mut out = Vec::new();
        for c in text.chars() {
            out.extend(p.feed_text(&c.to_string(), t));
            t += step;
        }
        out.extend(p.feed_text("\n", t));
        (out, t)
    }

    #[test]
    fn a_fast_burst_is_a_scan() {
        let mut p = WedgeParser::new();
        let (out, _) = burst(&mut p, "XY1:ABCDEF123", 1000, 8);
        assert_eq!(out, vec![Fed::Scan("XY1:ABCDEF123".into())]);
    }

    #[test]
    fn slow_typing_is_not_a_scan() {
        let mut p = WedgeParser::new();
        let (out, _) = burst(&mut p, "XY1:ABCDEF123", 1000, 120);
        assert_eq!(out, vec![Fed::Typed]);
    }
}
