//! The terminal's command line, run as a user would, against a real demo
//! hub on 127.0.0.1: enroll, operators, sync, status, verify every demo
//! sample code with its expected verdict, confirm, records, void; a
//! reader that goes away; and the demo tour.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use xinyi_demo::seed::demo_hub;
use xinyi_hub::http::Server;

fn xinyi(dir: &Path, args: &[&str]) -> Output {
    typed(dir, args, "")
}

/// Runs xinyi with `input` typed on standard input (PINs, one a line).
fn typed(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xinyi"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xinyi runs");
    let mut stdin = child.stdin.take().unwrap();
    // A command that reads no PIN may exit before taking its input.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    child.wait_with_output().expect("xinyi finishes")
}

/// The demo hub's operators for these tests: a supervisor and a clerk.
const SUPERVISOR: (&str, &str) = ("9001", "900199");
const CLERK: (&str, &str) = ("1001", "1234");

fn pin_line(pin: &str) -> String {
    format!("{pin}\n")
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
    let fingerprint = hub.registry_fingerprint().to_string();
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
    assert_eq!(again.status.code(), Some(1));
    // Part of the fingerprint is not enough, nor the 64-bit key id.
    let short = xinyi(
        &tmp.path().join("other"),
        &[
            "enroll",
            "--hub",
            &server.url(),
            "--code",
            &code,
            "--fingerprint",
            &fingerprint[..23],
        ],
    );
    assert_eq!(short.status.code(), Some(1));
    assert!(stderr(&short).contains("40 digits"), "{}", stderr(&short));
    let o = xinyi(
        &tmp.path().join("other"),
        &[
            "enroll",
            "--hub",
            &server.url(),
            "--code",
            &code,
            "--fingerprint",
            &hub.registry_key_id(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only digits"), "{}", stderr(&o));

    // Operators: the first supervisor at set-up, then only with one's PIN.
    let o = typed(
        &dir,
        &[
            "operator",
            "add",
            SUPERVISOR.0,
            "--name",
            "李强",
            "--role",
            "supervisor",
        ],
        &pin_line(SUPERVISOR.1),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = typed(
        &dir,
        &["operator", "add", CLERK.0, "--name", "王丽"],
        &pin_line(CLERK.1),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("only a supervisor"), "{}", stderr(&o));
    let o = typed(
        &dir,
        &[
            "operator",
            "add",
            CLERK.0,
            "--name",
            "王丽",
            "--as",
            SUPERVISOR.0,
        ],
        &format!("{}{}", pin_line(SUPERVISOR.1), pin_line(CLERK.1)),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A supervisor's PIN has six digits or more.
    let o = typed(
        &dir,
        &[
            "operator",
            "add",
            "9002",
            "--name",
            "短",
            "--role",
            "supervisor",
            "--as",
            SUPERVISOR.0,
        ],
        &format!("{}12345\n", pin_line(SUPERVISOR.1)),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("6 to 12 digits"), "{}", stderr(&o));

    let o = xinyi(&dir, &["status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["site"], "demo-bus");
    assert!(st["data_version"].as_u64().unwrap() >= 1);
    assert!(st["fresh_for_s"].as_i64().unwrap() > 0);

    // Every demo code gets its expected verdict, with amounts for OK.
    let mut confirmed = Vec::new();
    // Minted once: a dynamic code minted a second later is another code.
    let codes = world.sample_codes(xinyi::terminal::now());
    // A printed card is confirmed only once the clerk checked its holder.
    let card = codes
        .iter()
        .find(|c| c.id == "card")
        .map(|c| c.text.clone());
    {
        let card = card.expect("the demo has a printed card");
        let o = typed(
            &dir,
            &[
                "verify",
                &card,
                "--measure",
                "XYX-BUS-TOPUP",
                "--amount",
                "1001",
                "--confirm",
                "--operator",
                CLERK.0,
            ],
            &pin_line(CLERK.1),
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("holder's ID document"),
            "{}",
            stderr(&o)
        );
    }
    for c in &codes {
        let o = typed(
            &dir,
            &[
                "verify",
                &c.text,
                "--measure",
                "XYX-BUS-TOPUP",
                "--amount",
                "1001",
                "--holder-checked",
                "--confirm",
                "--operator",
                CLERK.0,
                "--json",
            ],
            &pin_line(CLERK.1),
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}: {}", c.id, stderr(&o)));
        assert_eq!(v["verdict"], c.expect, "{}: {v}", c.id);
        if c.expect == "OK" {
            assert_eq!(o.status.code(), Some(0));
            assert_eq!(v["amounts"]["discount_fen"], 501, "{}", c.id);
            // The bus top-up has a limit: the hub was asked.
            assert_eq!(v["checked"], "online", "{}: {v}", c.id);
            assert_eq!(v["amounts"]["payable_fen"], 500, "{}", c.id);
            confirmed.push(v["record"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(o.status.code(), Some(3), "{}", c.id);
            let reference = v["reference"].as_str().unwrap();
            assert_eq!(reference.len(), 32, "{}: {v}", c.id);
            // Where the citizen can take it: the hub's pages, as the
            // kiosk's codes carry them.
            assert_eq!(
                v["complaint_url"],
                format!("{}/c/complaint?ref={reference}", server.url()),
                "{}",
                c.id
            );
            let objection = matches!(c.expect, "NOT_LISTED" | "LISTING_NOT_VALID");
            assert_eq!(v["objection_url"].is_string(), objection, "{}: {v}", c.id);
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

    // Confirming needs a signed-in operator here (not a self-service point).
    let card_text = &codes[1].text;
    let o = xinyi(
        &dir,
        &[
            "verify",
            card_text,
            "--measure",
            "XYX-BUS-TOPUP",
            "--amount",
            "100",
            "--confirm",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("sign in"), "{}", stderr(&o));

    // A void needs a supervisor who gives their PIN: any name will not do.
    let void = |who: &str, pin: &str, reason: &str| {
        typed(
            &dir,
            &[
                "void",
                &confirmed[0],
                "--supervisor",
                who,
                "--reason",
                reason,
            ],
            &pin_line(pin),
        )
    };
    let o = void("sup-1", "123456", "wrong amount typed");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("wrong id or PIN"), "{}", stderr(&o));
    let o = void(CLERK.0, CLERK.1, "wrong amount typed");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only a supervisor"), "{}", stderr(&o));
    // A supervisor voids one redemption; the hub's report no longer counts it.
    let o = void(SUPERVISOR.0, SUPERVISOR.1, "wrong amount typed");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = void(SUPERVISOR.0, SUPERVISOR.1, "again");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already voided"), "{}", stderr(&o));
    let o = xinyi(&dir, &["sync"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let usage = hub.usage_report().unwrap();
    assert_eq!(usage.iter().map(|r| r.redemptions).sum::<u64>(), 1);

    // Bad input: a clear error naming the fix, not a panic.
    let o = typed(
        &dir,
        &[
            "void",
            "not-hex",
            "--supervisor",
            SUPERVISOR.0,
            "--reason",
            "r",
        ],
        &pin_line(SUPERVISOR.1),
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
    let o = typed(
        &dir,
        &[
            "verify",
            &card.text,
            "--measure",
            "XYX-BUS-TOPUP",
            "--amount",
            "300",
            "--holder-checked",
            "--confirm",
            "--operator",
            CLERK.0,
        ],
        &pin_line(CLERK.1),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("not uploaded yet"), "{}", stderr(&o));
    let records = tmp.path().join("records.xyr");
    let o = xinyi(
        &dir,
        &["export-records", "--out", records.to_str().unwrap()],
    );
    // The refused confirmations above left refusal-free staff records
    // (failed sign-ins) too: count the redemption among what was written.
    assert!(
        stdout(&o).contains("record(s)"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let (_, receipt) = hub
        .ingest_records(&std::fs::read(&records).unwrap())
        .unwrap();
    assert!(receipt.stored >= 1, "{receipt:?}");
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

    // The void window is the registry's, not the counter's: the clerk
    // cannot raise it, and at 0 minutes (set for the site at the hub and
    // carried in signed data) nothing can be voided.
    let o = xinyi(&dir, &["settings", "set", "void-window-minutes", "1440"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown setting"), "{}", stderr(&o));
    let site = hub
        .sites()
        .unwrap()
        .into_iter()
        .find(|s| s.id == "demo-bus")
        .unwrap();
    hub.add_site(&xinyi_hub::SiteSpec {
        id: site.id.clone(),
        name: site.name.clone(),
        unit: site.unit.clone(),
        measures: site.measures.clone(),
        max_offline_hours: Some(site.max_offline_age_s / 3600),
        void_window_minutes: Some(0),
        unattended: false,
        online_deadline_ms: None,
        no_holder_check: false,
        ..Default::default()
    })
    .unwrap();
    let bundle = tmp.path().join("data2.xyb");
    std::fs::write(&bundle, hub.export_bundle(Some(&id)).unwrap()).unwrap();
    let o = xinyi(&dir, &["sync", "--from-file", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = xinyi(&dir, &["settings"]);
    assert!(
        stdout(&o).contains("void-window-minutes = 0"),
        "{}",
        stdout(&o)
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = typed(
        &dir,
        &[
            "void",
            &confirmed[1],
            "--supervisor",
            SUPERVISOR.0,
            "--reason",
            "late",
        ],
        &pin_line(SUPERVISOR.1),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only within 0 s"), "{}", stderr(&o));

    // A reader that goes away early ends the program quietly, not with a
    // panic: `xinyi records | head -1`.
    let mut child = Command::new(env!("CARGO_BIN_EXE_xinyi"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["records", "--limit", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_ne!(o.status.code(), Some(101), "{}", stderr(&o));
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
