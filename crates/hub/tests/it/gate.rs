//! Signed requests are judged on their headers before their bodies are
//! read: an upload from an unknown, revoked or unsigned terminal, with a
//! stale time, too large or of unknown length is answered before the
//! client sends a byte of its body, and the connection is closed. Past
//! its burst a terminal gets 429 with Retry-After; strangers using its id
//! do not spend its allowance.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use reqwest::Method;
use xinyi_core::wire::request::RequestAuth;
use xinyi_hub::Hub;
use xinyi_hub::http::Server;

const GUARD: Duration = Duration::from_secs(30);

/// A hub with `settings`, its lists imported, served on 127.0.0.1:0.
async fn served_with(dir: &Path, settings: &str) -> (Arc<Hub>, Server) {
    let hub = common::hub(dir);
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    drop(hub);
    let config = common::settings(dir, settings);
    let hub = Arc::new(Hub::open_with_config(dir, config).unwrap());
    let server = Server::start(Arc::clone(&hub)).await.unwrap();
    (hub, server)
}

/// The head of an upload for `terminal` signed with `key` at `time`.
fn upload_head(
    key: &ed25519_dalek::SigningKey,
    terminal: &str,
    time: i64,
    length: Option<usize>,
) -> String {
    let auth = RequestAuth::sign(key, terminal, "POST", "/v1/records", time, [3; 16], b"");
    let mut head = String::from("POST /v1/records HTTP/1.1\r\nHost: hub\r\n");
    match length {
        Some(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
        None => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    for (n, v) in auth.headers() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Sends only `head` and reads the answer to the end: the server must
/// answer and close without any of the body.
fn answered_before_body(addr: SocketAddr, head: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap_or_else(|e| {
        panic!(
            "no answer (and close) within {GUARD:?} before the body was sent: {e}; got {:?}",
            String::from_utf8_lossy(&out)
        )
    });
    let text = String::from_utf8_lossy(&out).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    let status = headers[9..12].parse().unwrap();
    assert!(
        headers.to_ascii_lowercase().contains("connection: close"),
        "{headers}"
    );
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(!v["error"].as_str().unwrap().is_empty());
    (
        status,
        v["code"].as_str().unwrap().to_owned(),
        headers.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_judged_on_their_headers_before_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served_with(dir.path(), "").await;
    let addr = server.addr();
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let t = Terminal::new(&hub, &server.url());
    t.enroll(&code.code).await;
    let eight_mib = Some(8 * 1024 * 1024);

    let check = move |head: String| {
        std::thread::spawn(move || answered_before_body(addr, &head))
            .join()
            .unwrap()
    };
    // Unknown terminal.
    let stranger = random_key();
    let (status, code, _) = check(upload_head(&stranger, "0123456789abcdef", now(), eight_mib));
    assert_eq!((status, code.as_str()), (401, "unknown_terminal"));
    // No signature headers at all.
    let (status, code, _) = check(format!(
        "POST /v1/records HTTP/1.1\r\nHost: hub\r\nContent-Length: {}\r\n\r\n",
        8 << 20
    ));
    assert_eq!((status, code.as_str()), (401, "unauthenticated"));
    // A known terminal, but a time far off.
    let (status, code, _) = check(upload_head(&t.key, &t.id, now() - 3600, eight_mib));
    assert_eq!((status, code.as_str()), (401, "clock_skew"));
    // More than max_upload_bytes.
    let (status, code, _) = check(upload_head(&t.key, &t.id, now(), Some((8 << 20) + 1)));
    assert_eq!((status, code.as_str()), (413, "too_large"));
    // No Content-Length.
    let (status, code, _) = check(upload_head(&t.key, &t.id, now(), None));
    assert_eq!((status, code.as_str()), (411, "length_required"));
    // Revoked.
    let code2 = hub.create_enrollment_code(SITE, None).unwrap();
    let r = Terminal::new(&hub, &server.url());
    r.enroll(&code2.code).await;
    hub.revoke_terminal(&r.id).unwrap();
    let (status, code, _) = check(upload_head(&r.key, &r.id, now(), eight_mib));
    assert_eq!((status, code.as_str()), (403, "terminal_revoked"));

    // A good head with a body the signature does not cover: read, then refused.
    let resp = t
        .request(
            Method::POST,
            "/v1/records",
            b"one body".to_vec(),
            now(),
            [5; 16],
        )
        .body(b"another".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "bad_signature");

    // The terminal itself still uploads.
    let mut t = t;
    let (_, rec) = t.redemption(now() - 60, &vector_subject(), 1_000);
    assert_eq!(t.upload(&[rec]).await.stored, 1);
    server.stop().await.unwrap();
}

/// A client that sends its whole 8 MiB body without waiting still reads
/// the refusal: the hub drains what it did not read before closing, so
/// the kernel does not reset the connection over the unread input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_sent_whole_still_gets_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, server) = served_with(dir.path(), "").await;
    let addr = server.addr();
    let answer = std::thread::spawn(move || {
        let head = upload_head(&random_key(), "0123456789abcdef", now(), Some(8 << 20));
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(GUARD)).unwrap();
        s.set_write_timeout(Some(GUARD)).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&vec![0x5A; 8 << 20])
            .expect("the hub reset the connection while the body was sent");
        let mut out = Vec::new();
        s.read_to_end(&mut out)
            .expect("the hub reset the connection before its answer was read");
        String::from_utf8_lossy(&out).into_owned()
    })
    .join()
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("unknown_terminal"), "{answer}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_past_the_burst() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served_with(
        dir.path(),
        "terminal_request_burst = 5\nterminal_requests_per_minute = 1\n",
    )
    .await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let t = Terminal::new(&hub, &server.url());
    t.enroll(&code.code).await;

    // A stranger using the terminal's id, without its key, spends nothing.
    let forger = Terminal {
        key: random_key(),
        id: t.id.clone(),
        base: server.url(),
        http: reqwest::Client::new(),
        seq: 0,
        prev: Default::default(),
        registry: t.registry,
        data_version: t.data_version,
        clock: None,
    };
    for _ in 0..20 {
        let resp = forger.get("/v1/records/status").await;
        assert_eq!(resp.status(), 401);
    }
    for i in 0..5 {
        let resp = t.get("/v1/records/status").await;
        assert_eq!(resp.status(), 200, "request {i} of the burst");
    }
    let resp = t.get("/v1/records/status").await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "rate_limited");
    assert!(v["error"].as_str().unwrap().contains("try again"), "{v}");
    // Uploads are refused too, before their body is read.
    let resp = t.upload_raw(&[]).await;
    assert_eq!(resp.status(), 429);

    // Another terminal has its own allowance.
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let other = Terminal::new(&hub, &server.url());
    other.enroll(&code.code).await;
    assert_eq!(other.get("/v1/records/status").await.status(), 200);
    server.stop().await.unwrap();
}
