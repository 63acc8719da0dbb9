//! The keyboard-wedge parser fed synthetic key timings: a scanner's burst
//! is a scan whatever the prefixes and input method; people typing are not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use xinyi::scanner::{Fed, Key, MAX_GAP_MS, WedgeParser};

/// Feeds `text` one character every `step` ms from `t0`, then Enter
/// `enter_after` ms after the last character; returns what came out.
fn typed(p: &mut WedgeParser, text: &str, t0: u64, step: u64, enter_after: u64) -> Vec<Fed> {
    let mut out = Vec::new();
    let mut t = t0;
    for (i, c) in text.chars().enumerate() {
        if i > 0 {
            t += step;
        }
        out.extend(p.feed_text(&c.to_string(), t));
    }
    out.extend(p.feed_text("\n", t + enter_after));
    out
}

const CODE: &str = "XY1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE";

#[test]
fn a_scanner_burst_is_one_scan() {
    let mut p = WedgeParser::new();
    assert_eq!(typed(&mut p, CODE, 0, 4, 4), vec![Fed::Scan(CODE.into())]);
    // The next burst is read as well.
    assert_eq!(
        typed(&mut p, CODE, 10_000, 12, 30),
        vec![Fed::Scan(CODE.into())]
    );
}

#[test]
fn human_typing_is_not_a_scan() {
    let mut p = WedgeParser::new();
    // 120 ms a key: a fast typist.
    assert_eq!(typed(&mut p, CODE, 0, 120, 120), vec![Fed::Typed]);
    // Fast but short: a word typed in a hurry.
    assert_eq!(typed(&mut p, "1234", 5_000, 10, 10), vec![Fed::Typed]);
    // A burst whose Enter comes a second later was not the scanner's.
    assert_eq!(typed(&mut p, CODE, 9_000, 5, 1_000), vec![Fed::Typed]);
}

#[test]
fn typing_then_a_burst_keeps_only_the_burst() {
    let mut p = WedgeParser::new();
    let mut t = 0;
    for c in "abc".chars() {
        p.feed(Key::Char(c), t);
        t += 300;
    }
    // The burst starts more than MAX_GAP_MS after the last typed key.
    let out = typed(&mut p, CODE, t + MAX_GAP_MS + 100, 6, 6);
    assert_eq!(out, vec![Fed::Scan(CODE.into())]);
}

#[test]
fn a_pause_inside_a_burst_breaks_it() {
    let mut p = WedgeParser::new();
    let (a, b) = CODE.split_at(20);
    let mut out = Vec::new();
    for (i, c) in a.chars().enumerate() {
        out.extend(p.feed_text(&c.to_string(), i as u64 * 5));
    }
    // 200 ms pause: what follows is a new burst (the tail alone).
    let start = 20 * 5 + 200;
    for (i, c) in b.chars().enumerate() {
        out.extend(p.feed_text(&c.to_string(), start + i as u64 * 5));
    }
    out.extend(p.feed_text("\n", start + b.len() as u64 * 5));
    assert_eq!(out, vec![Fed::Scan(b.into())]);
}

#[test]
fn aim_and_eci_prefixes_are_stripped() {
    let mut p = WedgeParser::new();
    let with_aim = format!("]Q1{CODE}");
    assert_eq!(
        typed(&mut p, &with_aim, 0, 5, 5),
        vec![Fed::Scan(CODE.into())]
    );
    let with_eci = format!("]Q2\\000026{CODE}");
    assert_eq!(
        typed(&mut p, &with_eci, 1_000, 5, 5),
        vec![Fed::Scan(CODE.into())]
    );
}

#[test]
fn modifier_keys_inside_a_burst_are_ignored() {
    let mut p = WedgeParser::new();
    let mut out = Vec::new();
    let mut t = 0;
    for c in CODE.chars() {
        if c.is_ascii_uppercase() {
            // Shift, as toolkits report it: a private-use character.
            out.extend(p.feed_text("\u{F700}", t));
            t += 2;
        }
        out.extend(p.feed_text(&c.to_string(), t));
        t += 4;
    }
    out.extend(p.feed_text("\r", t));
    assert_eq!(out, vec![Fed::Scan(CODE.into())]);
}

#[test]
fn an_input_method_in_full_width_mode_or_committing_at_once_still_scans() {
    // Full-width forms, as a Chinese input method types them.
    let full: String = CODE
        .chars()
        .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap())
        .collect();
    let mut p = WedgeParser::new();
    assert_eq!(typed(&mut p, &full, 0, 5, 5), vec![Fed::Scan(CODE.into())]);
    // The whole burst committed in one event, then Enter.
    let mut p = WedgeParser::new();
    let mut out = p.feed_text(CODE, 100);
    out.extend(p.feed_text("\n", 104));
    assert_eq!(out, vec![Fed::Scan(CODE.into())]);
}

#[test]
fn enter_alone_or_garbage_gives_no_scan() {
    let mut p = WedgeParser::new();
    assert!(p.feed_text("\n", 0).is_empty());
    // Only a prefix and whitespace: nothing left after cleaning.
    assert_eq!(typed(&mut p, "]Q1      ", 100, 3, 3), vec![Fed::Typed]);
}
