//! The terminal's command line, run as a user would, against a real demo
//! hub on 127.0.0.1: enroll, sync, status, verify every demo sample code
//! with its expected verdict, confirm, records, void; and the demo tour.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use xinyi_hub::http::Server;
use xinyi_hub::seed::demo_hub;

fn xinyi(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xinyi"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("xinyi runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_sync_verify_confirm_records_void() {
    let tmp = tempfile::tempdir().unwrap();
    let today = xinyi::terminal::now().date_utc8();
    let (hub, world) = demo_hub(&tmp.path().join("hub"), today).unwrap();
    let code = hub.create_enrollment_code("demo-bus", None).unwrap().code;
    let fingerprint = hub.registry_key_id();
    let hub = Arc::new(hub);
    let server = Server::start(hub.clone()).await.unwrap();
    let dir = tmp.path().join("terminal");

    // Before enrollment every command says how to enroll.
    let o = xinyi(&dir, &["status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("xinyi enroll --hub"), "{}", stderr(&o));

    let o = xinyi(
        &dir,
        &[
            "enroll",
            "--hub",
            &server.url(),
            "--code",
            &code,
            "--fingerprint",
            &fingerprint,
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("site demo-bus"), "{}", stdout(&o));
    assert!(stdout(&o).contains("snapshot"), "{}", stdout(&o));
    // The code is spent.
    let again = xinyi(
        &tmp.path().join("other"),
        &["enroll", "--hub", &server.url(), "--code", &code],
    );
    assert_eq!(again.status.code(), Some(1));

    let o = xinyi(&dir, &["status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["site"], "demo-bus");
    assert!(st["data_version"].as_u64().unwrap() >= 1);
    assert!(st["fresh_for_s"].as_i64().unwrap() > 0);

    // Every demo code gets its expected verdict, with amounts for OK.
    let mut confirmed = Vec::new();
    // Minted once: a dynamic code minted a second later is another code.
    let codes = world.sample_codes(xinyi::terminal::now());
    for c in &codes {
        let o = xinyi(
            &dir,
            &[
                "verify",
                &c.text,
                "--measure",
                "XYX-BUS-TOPUP",
                "--amount",
                "1001",
                "--confirm",
                "--json",
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}: {}", c.id, stderr(&o)));
        assert_eq!(v["verdict"], c.expect, "{}: {v}", c.id);
        if c.expect == "OK" {
            assert_eq!(o.status.code(), Some(0));
            assert_eq!(v["amounts"]["discount_fen"], 501, "{}", c.id);
            assert_eq!(v["amounts"]["payable_fen"], 500, "{}", c.id);
            confirmed.push(v["record"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(o.status.code(), Some(3), "{}", c.id);
            assert!(
                v["reference"].as_str().is_some_and(|r| r.len() == 32),
                "{}: {v}",
                c.id
            );
        }
    }
    assert_eq!(confirmed.len(), 2);

    // The dynamic code again: replayed.
    let person = &codes[0];
    let o = xinyi(
        &dir,
        &[
            "verify",
            &person.text,
            "--measure",
            "XYX-BUS-TOPUP",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "REPLAYED", "{v}");

    // Records list them, uploaded right after each verdict.
    let o = xinyi(&dir, &["records", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(rows.len() >= 8);
    assert!(rows.iter().all(|r| r["uploaded"] == true), "{rows:?}");

    // A supervisor voids one redemption; the hub's report no longer counts it.
    let o = xinyi(
        &dir,
        &[
            "void",
            &confirmed[0],
            "--supervisor",
            "sup-1",
            "--reason",
            "wrong amount typed",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = xinyi(
        &dir,
        &[
            "void",
            &confirmed[0],
            "--supervisor",
            "sup-1",
            "--reason",
            "again",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already voided"), "{}", stderr(&o));
    let o = xinyi(&dir, &["sync"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let usage = hub.usage_report().unwrap();
    assert_eq!(usage.iter().map(|r| r.redemptions).sum::<u64>(), 1);

    // Bad input: a clear error naming the fix, not a panic.
    let o = xinyi(
        &dir,
        &["void", "not-hex", "--supervisor", "s", "--reason", "r"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("record id"), "{}", stderr(&o));
    let o = xinyi(&dir, &["verify", "XY1:AB%%", "--measure", "XYX-BUS-TOPUP"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).contains("MALFORMED") && stdout(&o).contains("base45"),
        "{}",
        stdout(&o)
    );

    let o = xinyi(&dir, &["status"]);
    assert!(stdout(&o).contains("all uploaded"), "{}", stdout(&o));

    // Sneakernet through the command line: records out by file, data in by
    // a bundle that also confirms them.
    server.stop().await.unwrap();
    let card = &world.sample_codes(xinyi::terminal::now())[1];
    let o = xinyi(
        &dir,
        &[
            "verify",
            &card.text,
            "--measure",
            "XYX-BUS-TOPUP",
            "--amount",
            "300",
            "--confirm",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("not uploaded yet"), "{}", stderr(&o));
    let records = tmp.path().join("records.xyr");
    let o = xinyi(
        &dir,
        &["export-records", "--out", records.to_str().unwrap()],
    );
    assert!(
        stdout(&o).contains("wrote 1 record"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let (_, receipt) = hub
        .ingest_records(&std::fs::read(&records).unwrap())
        .unwrap();
    assert_eq!(receipt.stored, 1);
    let id =
        serde_json::from_slice::<serde_json::Value>(&xinyi(&dir, &["status", "--json"]).stdout)
            .unwrap()["terminal"]
            .as_str()
            .unwrap()
            .to_owned();
    let bundle = tmp.path().join("data.xyb");
    std::fs::write(&bundle, hub.export_bundle(Some(&id)).unwrap()).unwrap();
    let o = xinyi(&dir, &["sync", "--from-file", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 not yet confirmed"), "{}", stdout(&o));
    let o = xinyi(&dir, &["sync", "--from-file", records.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a xinyi data bundle"),
        "{}",
        stderr(&o)
    );

    // The void window is a setting: at 0 minutes nothing can be voided.
    let o = xinyi(&dir, &["settings", "set", "void-window-minutes", "0"]);
    assert!(
        stdout(&o).contains("void-window-minutes = 0"),
        "{}",
        stderr(&o)
    );
    let o = xinyi(&dir, &["settings", "set", "void-window-minutes", "2000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("from 0 to 1440"), "{}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = xinyi(
        &dir,
        &[
            "void",
            &confirmed[1],
            "--supervisor",
            "sup-1",
            "--reason",
            "late",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only within 0 s"), "{}", stderr(&o));
}

#[test]
fn the_demo_tour_presents_every_case_and_a_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let o = xinyi(tmp.path(), &["demo", "tour"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for code in [
        "OK",
        "EXPIRED",
        "BAD_SIGNATURE",
        "NOT_LISTED",
        "LISTING_NOT_VALID",
        "CARD_REVOKED",
        "REPLAYED",
    ] {
        assert!(text.contains(code), "{code} missing from\n{text}");
    }
    assert!(text.matches("confirmed").count() >= 2, "{text}");
}
