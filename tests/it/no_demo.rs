//! A counter built without the demo (`--no-default-features --features
//! camera`): on a machine that holds no enrolled terminal it opens the
//! error window, never a demo, and never an empty kiosk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use xinyi::terminal::Paths;
use xinyi::ui::app::{KioskOptions, Opened, open_terminal};

fn broken(dir: &std::path::Path, opts: &KioskOptions) -> String {
    match open_terminal(&Paths::new(dir), opts).unwrap() {
        Opened::Broken(e) => format!("{e:#}"),
        Opened::Terminal(..) => panic!("an unenrolled counter without the demo opened a terminal"),
    }
}

#[test]
fn an_unenrolled_counter_shows_why_it_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let why = broken(dir.path(), &KioskOptions::default());
    assert!(why.contains("not enrolled"), "{why}");
    assert!(why.contains("xinyi enroll"), "{why}");
    assert!(why.contains("no demo"), "{why}");
}

/// `--demo` cannot bring up a demo this build does not hold.
#[test]
fn asking_for_the_demo_shows_the_same_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = KioskOptions {
        demo: true,
        ..KioskOptions::default()
    };
    let why = broken(dir.path(), &opts);
    assert!(why.contains("not enrolled"), "{why}");
}
