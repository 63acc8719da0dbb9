//! The terminal's command line, run as a user would: every demo sample code
//! through `xinyi verify`, with its expected verdict, amounts and exit code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn xinyi(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xinyi"))
        .args(args)
        .output()
        .expect("xinyi runs")
}

#[test]
fn every_demo_code_gets_its_expected_verdict() {
    let out = xinyi(&["demo", "codes"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut seen = 0;
    for line in text.lines() {
        let [id, expect, code] = line.splitn(3, '\t').collect::<Vec<_>>()[..] else {
            panic!("bad line {line:?}")
        };
        let out = xinyi(&[
            "verify",
            code,
            "--measure",
            "XYX-BUS-TOPUP",
            "--amount",
            "1001",
            "--json",
        ]);
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(v["verdict"], expect, "{id}: {v}");
        if expect == "OK" {
            assert_eq!(out.status.code(), Some(0));
            assert_eq!(v["amounts"]["discount_fen"], 501, "{id}");
            assert_eq!(v["amounts"]["payable_fen"], 500, "{id}");
        } else {
            assert_eq!(out.status.code(), Some(3), "{id}");
            assert!(!v["message_zh"].as_str().unwrap().is_empty());
        }
        seen += 1;
    }
    assert!(seen >= 7, "only {seen} sample codes");
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let out = xinyi(&["verify", "XY1:AB%%", "--measure", "XYX-BUS-TOPUP"]);
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("MALFORMED") && stdout.contains("base45"),
        "{stdout}"
    );

    let out = xinyi(&["verify", "XY1:", "--measure", "NO-SUCH-MEASURE"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("unknown measure") && stderr.contains("XYX-BUS-TOPUP"),
        "{stderr}"
    );
}

#[test]
fn the_tour_presents_a_replay() {
    let out = xinyi(&[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("REPLAYED"), "{text}");
    assert!(text.matches("confirmed").count() >= 2, "{text}");
}
