//! The decode and kiosk sections and the report, at the quick scale: the
//! harness still runs end to end and says what it measured. Speed is never
//! asserted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_arithmetic
)]

use xinyi_bench::report::{BEGIN, END};
use xinyi_bench::{Scale, decode, kiosk};

#[test]
fn decode_reads_the_quick_corpus_and_reports_each_size_and_condition() {
    let corpus = xinyi_testkit::shared("corpus");
    let (rows, detail) = decode::run(Scale::Quick, &corpus, None).unwrap();
    let read = rows
        .iter()
        .find(|r| r.name.starts_with("640x480: frames read"))
        .unwrap_or_else(|| panic!("{rows:#?}"));
    // Most of the 640×480 frames carry a readable code.
    assert!(read.value >= 20.0, "{read:?}");
    assert!(read.note.contains("wrong texts: pipeline 0"), "{read:?}");
    // Without the ZXing-C++ results there is no yardstick and nothing to
    // judge against it; only the camera's own budgets (the decoder's frame
    // time and the camera thread's share of a core) are judged.
    assert!(rows.iter().all(|r| r.yardstick.is_none()), "{rows:#?}");
    for r in &rows {
        let budget = r.name.contains("camera thread") || r.name.contains("camera decoder");
        assert_eq!(r.met.is_some(), budget, "{r:?}");
    }
    assert!(
        rows.iter().any(|r| r.name.contains("camera thread")),
        "the camera thread's idle cost is measured: {rows:#?}"
    );
    assert!(detail.contains("| 640x480 | clean |"), "{detail}");
    assert!(detail.contains("Which step of the cascade"), "{detail}");
}

#[test]
fn kiosk_times_a_frame_to_the_verdict_on_screen() {
    let rows = kiosk::run(Scale::Quick, None).unwrap();
    for size in ["640x480", "1280x720"] {
        let r = rows
            .iter()
            .find(|r| r.name.starts_with(size))
            .unwrap_or_else(|| panic!("{rows:#?}"));
        assert!(r.value.is_finite() && r.value > 0.0, "{r:?}");
        assert!(r.note.contains("software render"), "{r:?}");
    }
}

#[test]
fn the_command_splices_its_table_into_the_markdown_file_and_keeps_the_prose() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("BENCHMARKS.md");
    let json = dir.path().join("results.json");
    std::fs::write(&md, "# Benchmarks\n\nWhy the numbers are what they are.\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xinyi-bench"))
        .args(["--quick", "--only", "verdict", "--write"])
        .arg(&md)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("# Benchmarks\n\nWhy the numbers"),
        "{text}"
    );
    assert!(text.contains(BEGIN) && text.contains(END), "{text}");
    assert!(text.contains("### Verdict"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["rows"][0]["section"], "verdict");

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_xinyi-bench"))
        .args(["--quick", "--only", "decode,speed"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown section \"speed\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
