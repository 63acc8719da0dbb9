//! What the clerk types on the touch keypads: an amount in yuan and fen,
//! and an operator id or PIN. Plain state machines, fed key names.

use xinyi_core::Fen;
use xinyi_core::money::MAX_AMOUNT;

/// The amount pad: digits, one decimal point, at most two fen digits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmountEntry {
    text: String,
}

impl AmountEntry {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Applies a key: "0"–"9", ".", "back" or "clear". Keys that would
    /// make an invalid or too large amount are ignored.
    pub fn key(&mut self, key: &str) {
        match key {
            "back" => {
                self.text.pop();
            }
            "clear" => self.text.clear(),
            "." if !self.text.contains('.') => {
                if self.text.is_empty() {
                    self.text.push('0');
                }
                self.text.push('.');
            }
            d if d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()) => {
                if let Some((_, frac)) = self.text.split_once('.')
                    && frac.len() >= 2
                {
                    return;
                }
                let mut next = if self.text == "0" {
                    String::new()
                } else {
                    self.text.clone()
                };
                next.push_str(d);
                if parse(&next).is_some_and(|f| f <= MAX_AMOUNT) {
                    self.text = next;
                }
            }
            _ => {}
        }
    }

    /// Replaces the amount with whole yuan (the quick-amount buttons).
    pub fn set_yuan(&mut self, yuan: &str) {
        if parse(yuan).is_some() {
            self.text = yuan.trim().to_owned();
        }
    }

    /// The amount typed; `None` while empty.
    pub fn fen(&self) -> Option<Fen> {
        parse(&self.text)
    }
}

fn parse(s: &str) -> Option<Fen> {
    if s.is_empty() {
        return None;
    }
    // "12." is on its way to "12.5": worth 12 yuan meanwhile.
    Fen::parse_yuan(s.strip_suffix('.').unwrap_or(s)).ok()
}

/// A digits-only field for operator ids and PINs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigitEntry {
    text: String,
}

impl DigitEntry {
    /// The longest id or PIN.
    pub const MAX: usize = 12;

    pub fn text(&self) -> &str {
        &self.text
    }

    /// One dot per digit, for PINs.
    pub fn dots(&self) -> String {
        "●".repeat(self.text.chars().count())
    }

    pub fn key(&mut self, key: &str) {
        match key {
            "back" => {
                self.text.pop();
            }
            "clear" => self.text.clear(),
            d if d.len() == 1
                && d.bytes().all(|b| b.is_ascii_digit())
                && self.text.len() < Self::MAX =>
            {
                self.text.push_str(d);
            }
            _ => {}
        }
    }

    pub fn clear(&mut self) {
        self.text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(keys: &[&str]) -> AmountEntry {
        let mut a = AmountEntry::default();
        for k in keys {
            a.key(k);
        }
        a
    }

    #[test]
    fn the_amount_pad_takes_yuan_and_fen() {
        assert_eq!(typed(&["1", "0", "0"]).fen(), Some(Fen(10_000)));
        assert_eq!(typed(&["1", "2", ".", "5"]).fen(), Some(Fen(1250)));
        assert_eq!(typed(&[".", "0", "7"]).text(), "0.07");
        // A third fen digit, a second point, leading zeros: ignored.
        assert_eq!(typed(&["1", ".", "2", "3", "4"]).text(), "1.23");
        assert_eq!(typed(&["1", ".", ".", "5"]).text(), "1.5");
        assert_eq!(typed(&["0", "0", "7"]).text(), "7");
        // The largest amount is ¥10,000,000: an eighth nine is refused.
        assert_eq!(typed(&["9"; 12]).text(), "9999999");
        assert_eq!(typed(&["1", "2", "back"]).text(), "1");
        assert_eq!(typed(&["1", "2", "clear"]).fen(), None);
        assert_eq!(typed(&["1", "2", "."]).fen(), Some(Fen(1200)));
    }

    #[test]
    fn digit_entry_caps_and_masks() {
        let mut d = DigitEntry::default();
        for _ in 0..20 {
            d.key("7");
        }
        d.key("x");
        assert_eq!(d.text().len(), DigitEntry::MAX);
        d.clear();
        d.key("1");
        d.key("2");
        assert_eq!(d.dots(), "●●");
    }
}
