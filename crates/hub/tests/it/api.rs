//! The HTTP API over a real socket (design.md "Sync"): enrollment with
//! one-time codes, signed and fresh metadata, snapshots and deltas proven
//! by the set hash, resumable artefact downloads, exactly-once journal
//! uploads, refusals of unknown, revoked and replaying terminals, and the
//! reports over what was uploaded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use common::*;
use reqwest::Method;
use xinyi_core::wire::eligibility::ArtefactKind;
use xinyi_core::wire::journal::Body;
use xinyi_core::wire::metadata::Metadata;
use xinyi_core::wire::receipt::UploadReceipt;
use xinyi_hub::ManualClock;
use xinyi_hub::http::Server;

async fn error_code(resp: reqwest::Response) -> String {
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(v["error"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    v["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn health_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let v: serde_json::Value = reqwest::get(format!("{}/v1/health", server.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true);
    let current = hub.current_version().unwrap().unwrap();
    assert_eq!(v["version"].as_u64(), Some(current.version));
    assert_eq!(v["data_version"].as_u64(), Some(current.version));
    assert_eq!(v["published_at"].as_i64(), Some(current.published_at.0));
    assert_eq!(v["software"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        v["schema"].as_u64(),
        Some(xinyi_hub::db::MIGRATIONS.len() as u64)
    );
    assert_eq!(v["database"], "ok");
    let resp = reqwest::get(format!("{}/v1/nowhere", server.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "not_found");
    server.stop().await.unwrap();
}

/// A database the build does not match (here: another program set its
/// schema back) makes the health check fail with 503 and say why, so a
/// load balancer takes the process out.
#[tokio::test]
async fn health_fails_when_the_database_does_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    common::behind_the_back(
        dir.path(),
        "PRAGMA user_version = 1",
        "UPDATE xinyi_schema SET version = 1",
    )
    .unwrap();
    let resp = reqwest::get(format!("{}/v1/health", server.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["database"].as_str().unwrap().contains("schema 1"), "{v}");
    assert!(!hub.status().unwrap().ok);
    server.stop().await.unwrap();
}

/// A good code enrolls once; the grant is signed by the registry key; a
/// used code is refused for another key; a malformed request is 400.
#[tokio::test]
async fn enrollment_codes_are_single_use() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let t = Terminal::new(&hub, &server.url());
    let (grant, registry) = t.enroll(&code.code).await;
    assert_eq!(registry, hub.registry_public_key());
    assert_eq!(grant.terminal_id, t.id);
    assert_eq!(grant.site, SITE);
    // The same key again (its answer lost): the same grant.
    let (again, _) = t.enroll(&code.code.to_lowercase()).await;
    assert_eq!(again.terminal_id, t.id);
    // Another key with the spent code: refused.
    let other = Terminal::new(&hub, &server.url());
    let resp = other.enroll_raw(&code.code).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "enrollment_refused");
    let resp = other.enroll_raw("AAAA-BBBB-CCCC").await;
    assert_eq!(resp.status(), 403);
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/enroll", server.url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "bad_request");
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/enroll", server.url()))
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(hub.terminals().unwrap().len(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn expired_codes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::from_system());
    let hub = Arc::new(hub(dir.path()).with_clock(clock.clone()));
    let server = Server::start(Arc::clone(&hub)).await.unwrap();
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    clock.advance(7 * 86_400 + 1);
    let t = Terminal::new(&hub, &server.url());
    let resp = t.enroll_raw(&code.code).await;
    assert_eq!(resp.status(), 403);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("expired"), "{v}");
    assert!(hub.terminals().unwrap().is_empty());
    server.stop().await.unwrap();
}

/// Metadata is signed by the registry key and fresh; have=0 gets a
/// snapshot whose set hash matches; after a withdrawal, have=V gets a
/// delta that, applied to the held set, gives the new set hash.
#[tokio::test]
async fn metadata_snapshot_then_delta() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let t = Terminal::new(&hub, &server.url());
    let (_, registry) = t.enroll(&code.code).await;

    let m = t.metadata(0, &registry).await;
    m.check(0, xinyi_core::UnixTime(now())).unwrap();
    assert_eq!(m.terminal.as_ref().unwrap().id, t.id);
    assert_eq!(m.terminal.as_ref().unwrap().site, SITE);
    assert!(!m.terminal.as_ref().unwrap().revoked);
    assert_eq!(m.expires_at - m.issued_at, 24 * 3600);
    let e = m.eligibility.unwrap();
    assert_eq!(e.from, 0);
    let raw = inflate(&t.artefact(e.artefact).await);
    assert_eq!(raw.len() as u64, e.raw_length);
    let (header, items0) = items(&raw);
    assert_eq!(header.kind, ArtefactKind::Snapshot);
    assert_eq!(header.to, m.version);
    let mut set = Set::default();
    set.apply(&items0);
    assert_eq!(set.hash(), m.set_hash);
    assert_eq!(set.listings.len() as u64, m.listings);
    assert_eq!(set.exclusions.len() as u64, m.exclusions);
    let config = t.artefact(m.config).await;
    let parsed = xinyi_core::wire::config::Config::parse(&config).unwrap();
    assert_eq!(parsed.sites[0].id, SITE);

    // Up to date: no eligibility artefact.
    let same = t.metadata(m.version, &registry).await;
    assert!(same.eligibility.is_none());
    same.check(m.version, xinyi_core::UnixTime(now())).unwrap();

    // A withdrawal: a delta from the held version.
    let (wd, rows) = xinyi_testkit::withdrawal_of(&xinyi_testkit::first_listed_id_number());
    hub.import_listings(wd.as_bytes()).unwrap();
    let m2 = t.metadata(m.version, &registry).await;
    m2.check(m.version, xinyi_core::UnixTime(now())).unwrap();
    assert_eq!(m2.version, m.version + 1);
    let d = m2.eligibility.unwrap();
    assert_eq!(d.from, m.version);
    let (header, items1) = items(&inflate(&t.artefact(d.artefact).await));
    assert_eq!(header.kind, ArtefactKind::Delta);
    assert_eq!((header.from, header.to), (m.version, m2.version));
    assert_eq!(items1.len(), rows);
    set.apply(&items1);
    assert_eq!(set.hash(), m2.set_hash);
    assert_ne!(m2.set_hash, m.set_hash);

    // Signed by the registry key and nothing else.
    let resp = t.get("/v1/metadata?have=0").await;
    let bytes = resp.bytes().await.unwrap();
    let stranger = random_key();
    assert!(Metadata::open(&bytes, &stranger.verifying_key()).is_err());
    let resp = t.get("/v1/metadata?have=banana").await;
    assert_eq!(resp.status(), 400);
    server.stop().await.unwrap();
}

/// What a terminal says of itself in its signed metadata request reaches
/// the fleet view: the version it holds, its journal's last sequence
/// number, its program's version and its clock's offset; a malformed
/// report is refused and changes nothing; an older terminal's request
/// without one still works.
#[tokio::test]
async fn a_terminal_reports_its_state_with_its_metadata_request() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let t = Terminal::new(&hub, &server.url());
    let (_, registry) = t.enroll(&code.code).await;
    let m = t.metadata(0, &registry).await;
    let info = hub.terminal(&t.id).unwrap().unwrap();
    assert_eq!(info.data_version, Some(0));
    assert_eq!(
        (info.journal_head, info.app_version.as_deref()),
        (None, None)
    );
    assert!(info.clock_offset_s.is_some_and(|o| o.abs() <= 5));

    let path = format!("/v1/metadata?have={}&head=7&app=1.2.3-rc.1", m.version);
    assert_eq!(t.get(&path).await.status(), 200);
    let info = hub.terminal(&t.id).unwrap().unwrap();
    assert_eq!(info.data_version, Some(m.version));
    assert_eq!(info.journal_head, Some(7));
    assert_eq!(info.app_version.as_deref(), Some("1.2.3-rc.1"));
    // None of its records has reached the hub.
    assert_eq!(info.not_uploaded(), Some(7));

    for bad in ["head=-1", "head=x", "app=%3Cscript%3E", "app="] {
        let resp = t.get(&format!("/v1/metadata?have=0&{bad}")).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }
    let long = "9".repeat(33);
    let resp = t.get(&format!("/v1/metadata?have=0&app={long}")).await;
    assert_eq!(resp.status(), 400);
    let info = hub.terminal(&t.id).unwrap().unwrap();
    assert_eq!(info.data_version, Some(m.version));
    assert_eq!(info.app_version.as_deref(), Some("1.2.3-rc.1"));

    // A revoked terminal gets its notice; what it says is not kept.
    assert!(hub.revoke_terminal(&t.id).unwrap());
    let resp = t.get("/v1/metadata?have=0&head=9&app=9.9.9").await;
    assert_eq!(resp.status(), 403);
    let info = hub.terminal(&t.id).unwrap().unwrap();
    assert_eq!(
        (
            info.data_version,
            info.journal_head,
            info.app_version.as_deref()
        ),
        (Some(m.version), Some(7), Some("1.2.3-rc.1"))
    );
    server.stop().await.unwrap();
}

/// Resumable downloads: `Range: bytes=N-` gives 206 with the rest.
#[tokio::test]
async fn artefact_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let t = Terminal::new(&hub, &server.url());
    let (_, registry) = t.enroll(&code.code).await;
    let m = t.metadata(0, &registry).await;
    let pin = m.eligibility.unwrap().artefact;
    let whole = t.artefact(pin).await;
    let path = format!("/v1/artefacts/{}", pin.sha256.to_hex());

    let resp = t
        .signed(Method::GET, &path, Vec::new())
        .header("range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    let len = whole.len();
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        format!("bytes 10-{}/{len}", len - 1)
    );
    let rest = resp.bytes().await.unwrap();
    assert_eq!(&rest[..], &whole[10..]);

    let resp = t
        .signed(Method::GET, &path, Vec::new())
        .header("range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{len}")
    );

    let resp = t.get(&format!("/v1/artefacts/{}", "ab".repeat(32))).await;
    assert_eq!(resp.status(), 404);
    // Unsigned: refused.
    let resp = reqwest::get(format!("{}{path}", server.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "unauthenticated");
    server.stop().await.unwrap();
}

/// Journal uploads: the same batch twice is stored once; a broken chain
/// or a bad signature is refused (422) with nothing stored; a held seq
/// with another hash is a conflict (409).
#[tokio::test]
async fn records_are_stored_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    t.enroll(&code.code).await;
    let at = now() - 3600;
    let sub = &vector_subject();
    let batch: Vec<_> = (0..3)
        .map(|i| t.redemption(at + i, sub, 10_000).1)
        .collect();
    let r = t.upload(&batch).await;
    assert_eq!((r.stored, r.duplicates, r.held_through), (3, 0, 3));
    assert_eq!(r.held_hash, Some(batch[2].hash()));
    let r = t.upload(&batch).await;
    assert_eq!((r.stored, r.duplicates, r.held_through), (0, 3, 3));

    // A resend overlapping new records: the old ones are duplicates.
    let (_, s4) = t.redemption(at + 10, sub, 2_000);
    let r = t.upload(&[batch[2].clone(), s4.clone()]).await;
    assert_eq!((r.stored, r.duplicates, r.held_through), (1, 1, 4));

    // A gap: seq 6 without 5.
    let (_, s5) = t.redemption(at + 20, sub, 1_000);
    let (_, s6) = t.redemption(at + 30, sub, 1_000);
    let resp = t.upload_raw(std::slice::from_ref(&s6)).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(resp).await, "broken_chain");

    // A bad signature anywhere refuses the whole batch.
    let mut forged = s6.clone();
    forged.sig[0] ^= 1;
    let resp = t.upload_raw(&[s5.clone(), forged]).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(resp).await, "bad_record_signature");
    let status = t.get("/v1/records/status").await.bytes().await.unwrap();
    let status = UploadReceipt::open(&status, &t.registry).unwrap();
    assert_eq!(status.held_through, 4);

    // A different record under a held seq: a conflict.
    let mut fork = Terminal {
        key: t.key.clone(),
        id: t.id.clone(),
        base: t.base.clone(),
        http: reqwest::Client::new(),
        seq: 0,
        prev: Default::default(),
        registry: t.registry,
        data_version: t.data_version,
        clock: None,
    };
    let (_, other1) = fork.redemption(at, sub, 99);
    let resp = t.upload_raw(&[other1]).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "conflict");

    // Garbage is a 400.
    let resp = t
        .signed(Method::POST, "/v1/records", b"not cbor".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let r = t.upload(&[s5, s6]).await;
    assert_eq!((r.stored, r.held_through), (2, 6));

    let integrity = hub.integrity_report().unwrap();
    let row = integrity.iter().find(|r| r.terminal == t.id).unwrap();
    assert_eq!((row.records, row.held_through, row.gaps), (6, 6, 0));
    assert_eq!(row.rejected_broken_chain, 1);
    assert_eq!(row.rejected_bad_signature, 1);
    assert_eq!(row.rejected_conflict, 1);
    assert_eq!(row.rejected_malformed, 1);
    server.stop().await.unwrap();
}

/// A receipt counts only the records stored after the terminal's mark
/// (what the last receipt found held), not its whole journal: a record
/// lost below the mark (a damaged database) does not hold receipts back,
/// and the integrity report, which counts everything, shows the gap.
/// Retention recounts every journal in full (daily) and moves a mark
/// past a gap back to it; without a mark (a registry upgraded from
/// before them) the journal is counted in full as well.
#[tokio::test]
async fn a_receipt_counts_from_the_terminals_mark() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    t.enroll(&code.code).await;
    let id = t.id.clone();
    let marked = || {
        count_behind_the_back(
            dir.path(),
            &format!("SELECT COALESCE(MAX(through), 0) FROM records_held WHERE terminal = '{id}'"),
        )
    };
    let sub = vector_subject();
    let at = now() - 3600;
    let batch: Vec<_> = (0..4)
        .map(|i| t.redemption(at + i, &sub, 1_000).1)
        .collect();
    let r = t.upload(&batch).await;
    assert_eq!((r.stored, r.held_through), (4, 4));
    assert_eq!(marked(), 4);

    // Seq 2 lost behind the hub's back, below the mark.
    let lose = format!("DELETE FROM records WHERE terminal = '{id}' AND seq = 2");
    behind_the_back(dir.path(), &lose, &lose).unwrap();
    let (_, s5) = t.redemption(at + 10, &sub, 1_000);
    let r = t.upload(std::slice::from_ref(&s5)).await;
    assert_eq!((r.stored, r.held_through), (1, 5));
    assert_eq!(r.held_hash, Some(s5.hash()));
    assert_eq!(marked(), 5);
    let integrity = integrity_row(&hub, &id);
    assert_eq!(
        (integrity.records, integrity.held_through, integrity.gaps),
        (4, 1, 1),
        "{integrity:?}"
    );

    // Retention counts every journal in full before it deletes anything:
    // the mark goes back to the gap, and receipts stop there again.
    hub.apply_retention().unwrap();
    assert_eq!(marked(), 1);
    let status = hub.upload_status(&id).unwrap();
    assert_eq!(
        (status.held_through, status.held_hash),
        (1, Some(batch[0].hash()))
    );
    assert_eq!(integrity_row(&hub, &id).records, 4);

    // Without its mark (a registry upgraded from before marks) the
    // journal is counted in full too.
    let forget = format!("DELETE FROM records_held WHERE terminal = '{id}'");
    behind_the_back(dir.path(), &forget, &forget).unwrap();
    let status = hub.upload_status(&id).unwrap();
    assert_eq!(status.held_through, 1);
    server.stop().await.unwrap();
}

/// Unknown terminals and bad signatures are 401, replayed nonces and
/// stale times are 401, revoked terminals may not upload (403) but still
/// get metadata saying they are revoked.
#[tokio::test]
async fn requests_are_authenticated() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let stranger = Terminal::new(&hub, &server.url());
    let resp = stranger.get("/v1/metadata?have=0").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "unknown_terminal");

    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    let (_, registry) = t.enroll(&code.code).await;

    // Replay: the same nonce twice.
    let nonce = [9u8; 16];
    let time = now();
    let first = t
        .request(Method::GET, "/v1/records/status", Vec::new(), time, nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let replay = t
        .request(Method::GET, "/v1/records/status", Vec::new(), time, nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(error_code(replay).await, "replay");

    // A clock far off.
    let stale = t
        .request(
            Method::GET,
            "/v1/records/status",
            Vec::new(),
            now() - 3600,
            [1; 16],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    assert_eq!(error_code(stale).await, "clock_skew");

    // Signed for another path.
    let auth = xinyi_core::wire::request::RequestAuth::sign(
        &t.key,
        &t.id,
        "GET",
        "/v1/records/status",
        now(),
        [2; 16],
        b"",
    );
    let mut rb = reqwest::Client::new().get(format!("{}/v1/metadata?have=0", server.url()));
    for (n, v) in auth.headers() {
        rb = rb.header(n, v);
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "bad_signature");

    // Revoked: uploads refused; instead of metadata (nothing is built for
    // it), a small notice signed by the registry that names it.
    assert!(hub.revoke_terminal(&t.id).unwrap());
    let (_, s1) = t.redemption(now(), &vector_subject(), 100);
    let resp = t.upload_raw(&[s1]).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "terminal_revoked");
    let resp = t.get("/v1/metadata?have=0").await;
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "terminal_revoked");
    let notice = xinyi_core::wire::receipt::RevocationNotice::open(
        body["notice"].as_str().unwrap().as_bytes(),
        &registry,
    )
    .unwrap();
    assert_eq!(notice.terminal, t.id);
    assert!(body.to_string().len() < 2048, "{body}");
    assert_eq!(hub.upload_status(&t.id).unwrap().held_through, 0);
    server.stop().await.unwrap();
}

/// Reports (per measure/unit/day, over-use across terminals, integrity)
/// show the uploaded redemptions; a voided redemption is left out.
#[tokio::test]
async fn reports_show_uploads() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-03-10 09:30 UTC+8 and later that month: the bus limit is 4 a month.
    let day = 1_773_106_200;
    let clock = Arc::new(ManualClock::new(xinyi_core::UnixTime(day - 3600)));
    let (hub, server) = served_at(dir.path(), clock.clone()).await;
    let mut terminals = Vec::new();
    for _ in 0..2 {
        let code = hub.create_enrollment_code(SITE, None).unwrap();
        let mut t = Terminal::new(&hub, &server.url());
        t.clock = Some(clock.clone());
        t.enroll(&code.code).await;
        terminals.push(t);
    }
    clock.set(xinyi_core::UnixTime(day + 3 * 86_400));
    let sub = &vector_subject();
    let mut a = terminals[0].roster(day - 60);
    for i in 0..3 {
        a.push(terminals[0].redemption(day + i * 60, sub, 10_000).1);
    }
    let (target, s) = terminals[0].redemption(day + 600, sub, 4_000);
    a.push(s);
    a.push(
        terminals[0]
            .record(
                day + 660,
                Body::Void {
                    target: target.id,
                    reason: "wrong amount".into(),
                    supervisor: SUPERVISOR.into(),
                },
            )
            .1,
    );
    a.push(
        terminals[0]
            .record(
                day + 700,
                Body::Refusal {
                    reason: "NOT_LISTED".into(),
                    measure: MEASURE.into(),
                    sub: None,
                    cti: None,
                    detail: String::new(),
                    basis: None,
                },
            )
            .1,
    );
    let t0 = &terminals[0];
    assert_eq!(t0.upload(&a).await.stored, 8);
    let mut b = terminals[1].roster(day);
    for i in 0..2 {
        b.push(
            terminals[1]
                .redemption(day + 86_400 * (i + 1), sub, 1_001)
                .1,
        );
    }
    assert_eq!(terminals[1].upload(&b).await.stored, 4);
    assert!(
        hub.flagged_report().unwrap().is_empty(),
        "{:?}",
        hub.flagged_report()
    );

    let usage = hub.usage_report().unwrap();
    assert_eq!(usage.len(), 3, "{usage:?}");
    assert_eq!(usage[0].day, "2026-03-10");
    assert_eq!(usage[0].measure, MEASURE);
    assert_eq!(usage[0].unit, "阳江市公共交通有限公司");
    assert_eq!(usage[0].redemptions, 3, "the voided one is left out");
    assert_eq!(usage[0].total_original, 30_000);
    assert_eq!(usage[0].total_discount, 15_000);
    assert_eq!(usage[1].day, "2026-03-11");
    assert_eq!(usage[1].redemptions, 1);

    // 3 + 2 = 5 confirmed redemptions in March across two terminals > 4.
    let over = hub.overuse_report().unwrap();
    assert_eq!(over.len(), 1, "{over:?}");
    assert_eq!(&over[0].sub, sub);
    assert_eq!(over[0].per, "month");
    assert_eq!(over[0].period_start, "2026-03-01");
    assert_eq!((over[0].count, over[0].limit), (5, 4));
    assert_eq!(over[0].terminals.len(), 2);

    let mut csv = Vec::new();
    hub.write_report(xinyi_hub::ReportKind::Usage, &mut csv)
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("day,measure,unit,redemptions,"), "{csv}");
    assert!(
        csv.contains("2026-03-10,XYX-BUS-TOPUP,阳江市公共交通有限公司,3,30000,15000,15000"),
        "{csv}"
    );
    let mut csv = Vec::new();
    hub.write_report(xinyi_hub::ReportKind::Integrity, &mut csv)
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    server.stop().await.unwrap();
}

/// A hostile (or broken) terminal signs whatever it likes. Such records
/// are kept — they are signed, chained evidence, and refusing one would
/// leave a hole the terminal's chain can never cross — but flagged with
/// why, left out of the usage report's money, and listed by the flagged
/// report; a flagged void cancels nothing. The CSV a spreadsheet opens
/// holds no live formula, and no sum overflows.
#[tokio::test]
async fn implausible_records_are_kept_flagged_and_left_out_of_the_money() {
    let dir = tempfile::tempdir().unwrap();
    let at = now() - 86_400;
    let clock = Arc::new(ManualClock::new(xinyi_core::UnixTime(at - 600)));
    let (hub, server) = served_at(dir.path(), clock.clone()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    t.clock = Some(clock.clone());
    t.enroll(&code.code).await;
    // The hub's clock reads four hours after the first records.
    clock.set(xinyi_core::UnixTime(at + 4 * 3600));
    let sub = &vector_subject();
    let redemption = |measure: &str, original: u64, discount: u64, payable: u64| Body::Redemption {
        measure: measure.into(),
        sub: sub.into(),
        cti: vec![7; 12],
        form: 1,
        categories: vec!["P02".into()],
        original,
        discount,
        payable,
        companions: 0,
        checked: None,
    };
    let mut batch = t.roster(at - 60);
    // A plausible one, to be counted.
    let (good, s) = t.record(at, redemption(MEASURE, 1000, 500, 500));
    batch.push(s);
    // A measure this site does not apply.
    batch.push(
        t.record(at, redemption("XYY-SCENIC-FREE", 1000, 500, 500))
            .1,
    );
    // More discount than amount.
    batch.push(t.record(at, redemption(MEASURE, 100, 5000, 0)).1);
    // Amounts no measure allows (they overflowed the sums before).
    for _ in 0..3 {
        batch.push(
            t.record(
                at,
                redemption(MEASURE, u64::MAX, u64::MAX / 2, u64::MAX - u64::MAX / 2),
            )
            .1,
        );
    }
    // Dated a day after the hub's clock.
    batch.push(t.record(at + 86_400, redemption(MEASURE, 1000, 500, 500)).1);
    // Confirmed by someone not on the roster, whose id is a formula.
    let mut formula = t.record(at, redemption(MEASURE, 1000, 500, 500));
    formula.0.operator = "=HYPERLINK(\"http://x.example/\",\"ok\")".into();
    let formula = formula.0.sign(&t.key);
    t.prev = formula.hash();
    batch.push(formula);
    // A void by a clerk, and a void after the window: both flagged, and
    // the redemption they name stays counted.
    let void = |supervisor: &str| Body::Void {
        target: good.id,
        reason: "x".into(),
        supervisor: supervisor.into(),
    };
    batch.push(t.record(at + 10, void(OPERATOR)).1);
    batch.push(t.record(at + 3 * 3600, void(SUPERVISOR)).1);
    let r = t.upload(&batch).await;
    assert_eq!(r.stored, batch.len() as u64, "every record is kept");

    let flagged = hub.flagged_report().unwrap();
    assert_eq!(flagged.len(), 9, "{flagged:#?}");
    let why: Vec<&str> = flagged.iter().map(|f| f.why.as_str()).collect();
    for expected in [
        "is not applied at site",
        "more than the original",
        "more than any measure allows",
        "after the hub's clock",
        "not on the terminal's roster",
        "not a supervisor",
        "void window",
    ] {
        assert!(
            why.iter().any(|w| w.contains(expected)),
            "{expected}: {why:#?}"
        );
    }
    // Only the plausible redemption is counted, and the sums work.
    let usage = hub.usage_report().unwrap();
    assert_eq!(usage.iter().map(|u| u.redemptions).sum::<u64>(), 1);
    assert_eq!(usage.iter().map(|u| u.total_original).sum::<u64>(), 1000);
    let integrity = hub.integrity_report().unwrap();
    assert_eq!(
        integrity
            .iter()
            .find(|i| i.terminal == t.id)
            .unwrap()
            .flagged,
        9
    );
    // The CSV holds the formula as text.
    let mut csv = Vec::new();
    hub.write_report(xinyi_hub::ReportKind::Flagged, &mut csv)
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(
        !csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"),
        "{csv}"
    );
    server.stop().await.unwrap();
}

/// A terminal retrying a refused upload adds to one count per reason, not
/// a row per attempt; a batch declaring more records than allowed is
/// refused from its first bytes.
#[tokio::test]
async fn refused_uploads_are_counted_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    t.enroll(&code.code).await;
    let (_, s1) = t.redemption(now(), &vector_subject(), 100);
    let (_, s2) = t.redemption(now(), &vector_subject(), 100);
    for _ in 0..20 {
        let resp = t.upload_raw(std::slice::from_ref(&s2)).await;
        assert_eq!(resp.status(), 422);
    }
    // A head that declares a million records, and nothing after it.
    let mut head = vec![0x9A];
    head.extend_from_slice(&1_000_000u32.to_be_bytes());
    let resp = t
        .signed(Method::POST, "/v1/records", head)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let row = integrity_row(&hub, &t.id);
    assert_eq!(row.rejected_broken_chain, 20);
    assert_eq!(row.rejected_malformed, 1);
    assert_eq!(t.upload(&[s1, s2]).await.stored, 2);
    server.stop().await.unwrap();
}

/// The one-time code never crosses the wire: the terminal proves it holds
/// it, for its own key and the registry key it expects. A proof made for
/// another key, another registry or with another code is refused.
#[tokio::test]
async fn enrollment_takes_a_proof_of_the_code_not_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap().code;
    let t = Terminal::new(&hub, &server.url());
    let post = |req: serde_json::Value| {
        let http = t.http.clone();
        let url = format!("{}/v1/enroll", server.url());
        async move { http.post(url).json(&req).send().await.unwrap() }
    };
    let key = t.key.verifying_key();
    let wrong_registry = xinyi_core::wire::Fingerprint::of(&[9; 32]);
    let as_json = |r: xinyi_core::wire::enroll::EnrollRequest| serde_json::to_value(r).unwrap();
    // The code in the clear, as older terminals sent it: not understood.
    let resp = post(serde_json::json!({
        "code": code,
        "public_key": xinyi_core::hex::encode(key.as_bytes()),
        "label": "x",
    }))
    .await;
    assert_eq!(resp.status(), 400);
    // A proof for another registry key.
    let req = xinyi_core::wire::enroll::EnrollRequest::new(&code, &key, &wrong_registry, "x");
    assert_eq!(post(as_json(req)).await.status(), 403);
    // Another code.
    let req = xinyi_core::wire::enroll::EnrollRequest::new(
        "AAAA-BBBB-CCCC-DDDD",
        &key,
        &t.fingerprint(),
        "x",
    );
    assert_eq!(post(as_json(req)).await.status(), 403);
    // The right one, still unspent after the refusals.
    let (grant, registry) = t.enroll(&code).await;
    assert_eq!(grant.terminal_id, t.id);
    assert_eq!(registry, hub.registry_public_key());
    server.stop().await.unwrap();
}
