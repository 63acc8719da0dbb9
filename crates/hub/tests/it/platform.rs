//! The provincial platforms' API over real HTTP on 127.0.0.1: only signed
//! requests of a registered platform are answered; a listed subject's
//! answer (categories, validity, the measures that apply today), an
//! unlisted one's; a replayed request, an unknown key, a revoked platform
//! and a kind the platform may not ask about are refused; its rate is
//! enforced; every question is audited with the ID number masked; a case
//! filed through it reaches the queue.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use xinyi_core::ids::{Kind, validate_resident_id};
use xinyi_core::{MeasureId, UnixTime};
use xinyi_hub::audit::Actor;
use xinyi_hub::{Clock as _, Hub, ManualClock};

use crate::common::{MEASURE, Terminal, served_at};
use crate::console::audit_entries;

const PATH: &str = "/v1/platform/identity";

/// A platform client: a key registered with the hub as `name`.
fn platform(hub: &Hub, base: &str, clock: &Arc<ManualClock>, name: &str, rate: u32) -> Terminal {
    let mut p = Terminal::new(hub, base);
    p.clock = Some(clock.clone());
    let kinds: BTreeSet<Kind> = [Kind::Person].into_iter().collect();
    let key = xinyi_core::hex::encode(p.key.verifying_key().as_bytes());
    let info = hub
        .add_platform(name, &key, &kinds, Some(rate), &Actor::Cli("test".into()))
        .unwrap();
    assert_eq!(info.id, p.id);
    p
}

async fn ask(p: &Terminal, kind: &str, id: &str) -> (StatusCode, Value) {
    let body = serde_json::to_vec(&json!({ "kind": kind, "id_number": id })).unwrap();
    let res = p.signed(Method::POST, PATH, body).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The credit code of the vectors' first listed enterprise.
fn first_enterprise() -> String {
    let recs = xinyi_core::csv::records(&xinyi_testkit::read("vectors/listings.csv")).unwrap();
    let col = |name: &str| {
        recs[0]
            .fields
            .iter()
            .position(|f| f.as_slice() == name.as_bytes())
            .unwrap()
    };
    let (kind, id) = (col("kind"), col("id_number"));
    recs[1..]
        .iter()
        .find(|r| r.fields[kind] == b"enterprise")
        .map(|r| String::from_utf8(r.fields[id].clone()).unwrap())
        .expect("the vectors list an enterprise")
}

/// A valid resident ID number the vectors do not list: a listed one with
/// its sequence changed and its check digit made right again.
fn unlisted_id(listed: &str, today: xinyi_core::Date) -> String {
    let mut chars: Vec<char> = listed.chars().collect();
    let d = chars[15].to_digit(10).unwrap();
    chars[15] = char::from_digit((d + 5) % 10, 10).unwrap();
    "0123456789X"
        .chars()
        .map(|c| {
            chars[17] = c;
            chars.iter().collect::<String>()
        })
        .find(|id| validate_resident_id(id, today).is_ok())
        .unwrap()
}

#[tokio::test]
async fn a_platform_asks_whether_its_user_is_listed() {
    let v = xinyi_testkit::vectors();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(xinyi_testkit::first_at(&v)));
    let (hub, server) = served_at(dir.path(), clock.clone()).await;
    let p = platform(&hub, &server.url(), &clock, "粤省事", 600);

    // A listed person: listed, its listings, the measures that apply.
    let person =
        xinyi_testkit::citizen_for(&v, &MeasureId::parse(MEASURE).unwrap(), clock.now(), 0);
    let id = xinyi_testkit::id_number_of(&v, person.sub.as_str());
    let (status, answer) = ask(&p, "person", &id).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["listed"], true, "{answer}");
    assert_eq!(answer["excluded"], false);
    let subject = hub.subject("person", &id).unwrap();
    let held: BTreeSet<String> = subject
        .listings
        .iter()
        .filter(|l| !l.withdrawn)
        .map(|l| l.category.clone())
        .collect();
    let told: BTreeSet<String> = answer["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["category"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(told, held);
    let today = hub.today();
    let catalogue = hub.catalogue().unwrap().unwrap();
    let expected: BTreeSet<String> = catalogue
        .measures()
        .iter()
        .filter(|m| {
            m.in_force(today)
                && subject.listings.iter().any(|l| {
                    l.in_force_on(today) && m.covers(Kind::Person, l.category.parse().unwrap())
                })
        })
        .map(|m| m.id.to_string())
        .collect();
    let measures: BTreeSet<String> = answer["measures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(measures.contains(MEASURE));
    assert_eq!(measures, expected);
    // Nothing about anyone else: the answer names no other subject.
    let text = answer.to_string();
    assert!(
        !text.contains(&id),
        "the answer does not repeat the ID number"
    );

    // An unlisted person.
    let stranger = unlisted_id(&id, today);
    assert!(
        hub.subject("person", &stranger)
            .unwrap()
            .listings
            .is_empty()
    );
    let (status, answer) = ask(&p, "person", &stranger).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["listed"], false);
    assert!(answer["listings"].as_array().unwrap().is_empty());
    assert!(answer["measures"].as_array().unwrap().is_empty());

    // Excluded on a day it is also listed: not listed, no measure.
    let excluded = xinyi_testkit::excluded_step(&v);
    clock.set(excluded.at);
    let (status, answer) = ask(&p, "person", &excluded.id_number).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["excluded"], true, "{answer}");
    assert_eq!(answer["listed"], false, "{answer}");
    assert!(
        answer["listings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["in_force"] == true)
    );
    assert!(answer["measures"].as_array().unwrap().is_empty());

    // A kind this platform may not ask about; a malformed ID number.
    let (status, _) = ask(&p, "enterprise", &first_enterprise()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = ask(&p, "person", "12345").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Every question is audited, by the platform, the ID number masked.
    let checks = audit_entries(&hub, "identity.check");
    assert_eq!(checks.len(), 3);
    assert!(checks.iter().all(|e| e.actor == "platform:粤省事"));
    assert!(
        checks
            .iter()
            .any(|e| e.target == xinyi_hub::audit::mask_id_number(&id))
    );
    assert!(checks.iter().all(|e| !e.target.contains(&id)));
}

#[tokio::test]
async fn only_fresh_signed_requests_of_a_registered_platform_are_answered() {
    let v = xinyi_testkit::vectors();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(xinyi_testkit::first_at(&v)));
    let (hub, server) = served_at(dir.path(), clock.clone()).await;
    let p = platform(&hub, &server.url(), &clock, "粤省事", 3);
    let id = xinyi_testkit::first_listed_id_number();
    let body = serde_json::to_vec(&json!({ "kind": "person", "id_number": id })).unwrap();

    // Unsigned.
    let res = reqwest::Client::new()
        .post(format!("{}{PATH}", server.url()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A key the hub does not know (a terminal-like stranger).
    let stranger = Terminal::new(&hub, &server.url());
    let res = stranger
        .signed(Method::POST, PATH, body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Signed over another body.
    let nonce = [7u8; 16];
    let res = p
        .request(Method::POST, PATH, body.clone(), clock.now().0, nonce)
        .body(b"{\"kind\":\"person\",\"id_number\":\"x\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Replayed: the same request twice.
    let nonce = [8u8; 16];
    let first = p
        .request(Method::POST, PATH, body.clone(), clock.now().0, nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let again = p
        .request(Method::POST, PATH, body.clone(), clock.now().0, nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let e: Value = again.json().await.unwrap();
    assert_eq!(e["code"], "replay", "{e}");
    // Its rate: 3 a minute, one spent above.
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(ask(&p, "person", &id).await.0);
    }
    assert_eq!(codes[..2], [StatusCode::OK, StatusCode::OK]);
    assert_eq!(codes[2], StatusCode::TOO_MANY_REQUESTS);
    // Revoked: refused.
    assert!(
        hub.revoke_platform("粤省事", &Actor::Cli("test".into()))
            .unwrap()
    );
    clock.set(UnixTime(clock.now().0 + 120));
    let (status, _) = ask(&p, "person", &id).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_platform_files_a_case_for_its_user() {
    let v = xinyi_testkit::vectors();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(xinyi_testkit::first_at(&v)));
    let (hub, server) = served_at(dir.path(), clock.clone()).await;
    let p = platform(&hub, &server.url(), &clock, "粤省事", 600);
    let id = xinyi_testkit::first_listed_id_number();
    let body = serde_json::to_vec(&json!({
        "kind": "objection",
        "phone": "13800138000",
        "text": "我的荣誉称号未列入",
        "id_kind": "person",
        "id_number": id,
    }))
    .unwrap();
    let res = p
        .signed(Method::POST, "/v1/platform/cases", body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let filed: Value = res.json().await.unwrap();
    let number = filed["number"].as_str().unwrap();
    let queue = hub
        .cases(&xinyi_hub::cases::CaseQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].number, number);
    assert_eq!(queue[0].channel, "platform:粤省事");
    assert_eq!(
        filed["due"],
        hub.case_due(clock.now()).date_utc8().to_string()
    );
    // A filing with an unknown field is refused whole.
    let body = serde_json::to_vec(&json!({
        "kind": "complaint", "phone": "13800138000", "text": "x", "sitee": "bus-1"
    }))
    .unwrap();
    let res = p
        .signed(Method::POST, "/v1/platform/cases", body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// `xinyi-hub platform add|list|revoke`, the real binary.
#[test]
fn platforms_are_managed_at_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    drop(crate::common::hub(&dir));
    let key = crate::common::random_key();
    let public = xinyi_core::hex::encode(key.verifying_key().as_bytes());
    let id = xinyi_core::wire::key_id(key.verifying_key().as_bytes());
    let out = crate::common::ok(&crate::common::cli(
        &dir,
        &[
            "platform",
            "add",
            "粤商通",
            "--public-key",
            &public,
            "--kinds",
            "enterprise",
            "--rate",
            "60",
        ],
    ));
    assert!(out.contains(&id), "{out}");
    let list = crate::common::ok(&crate::common::cli(&dir, &["platform", "list"]));
    let line = list.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("粤商通,enterprise,60,"), "{line}");
    assert!(line.contains(",false,"), "{line}");
    // A bad key and a bad kind are named.
    let bad = crate::common::cli(&dir, &["platform", "add", "x", "--public-key", "00"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("public key"));
    let bad = crate::common::cli(
        &dir,
        &[
            "platform",
            "add",
            "x",
            "--public-key",
            &public,
            "--kinds",
            "robot",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("robot"));
    crate::common::ok(&crate::common::cli(&dir, &["platform", "revoke", "粤商通"]));
    let list = crate::common::ok(&crate::common::cli(&dir, &["platform", "list"]));
    assert!(
        list.lines()
            .find(|l| l.starts_with(&id))
            .unwrap()
            .contains(",true,")
    );
    let hub = Hub::open(&dir).unwrap();
    assert!(audit_entries(&hub, "platform.").len() >= 2);
}

/// The credit office registers and revokes a platform in the console; an
/// auditor reads the list and cannot change it; the registered platform's
/// signed requests are answered until it is revoked.
#[tokio::test]
async fn the_console_registers_and_revokes_a_platform() {
    use crate::console::{Client, hidden, served_world};
    let (w, server) = served_world().await;
    let mut p = Terminal::new(&w.hub, &server.url());
    p.clock = Some(w.clock.clone());
    let key = xinyi_core::hex::encode(p.key.verifying_key().as_bytes());
    let mut admin = Client::signed_in(&w, "admin").await;
    let page = admin.get("/platforms").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    // Without the session's token, nothing.
    let res = admin
        .post(
            "/platforms",
            &[
                ("csrf", "x"),
                ("name", "粤商通"),
                ("public_key", &key),
                ("enterprise", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = admin
        .post(
            "/platforms",
            &[
                ("csrf", &csrf),
                ("name", "粤商通"),
                ("public_key", "abc"),
                ("enterprise", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin
        .post(
            "/platforms",
            &[
                ("csrf", csrf.as_str()),
                ("name", "粤商通"),
                ("public_key", key.as_str()),
                ("enterprise", "1"),
                ("rate", "60"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("id=\"platform-{}\"", p.id))
    );
    let info = w.hub.platform(&p.id).unwrap().unwrap();
    assert_eq!(info.kinds, [Kind::Enterprise].into_iter().collect());
    assert_eq!(info.requests_per_minute, 60);
    assert_eq!(audit_entries(&w.hub, "platform.add")[0].actor, "user:admin");

    // Its users are enterprises: a person is not its to ask about.
    let (status, _) = ask(&p, "person", &xinyi_testkit::first_listed_id_number()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let mut auditor = Client::signed_in(&w, "auditor").await;
    let page = auditor.get("/platforms").await.text().await.unwrap();
    assert!(page.contains(&p.id) && !page.contains("id=\"new-platform\""));
    let res = auditor
        .post(
            &format!("/platforms/{}/revoke", p.id),
            &[("csrf", &hidden(&page, "csrf"))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut unit = Client::signed_in(&w, "unit").await;
    assert_eq!(unit.get("/platforms").await.status(), StatusCode::FORBIDDEN);

    let res = admin
        .post(&format!("/platforms/{}/revoke", p.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(w.hub.platform(&p.id).unwrap().unwrap().revoked());
    let (status, _) = ask(&p, "enterprise", &first_enterprise()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
