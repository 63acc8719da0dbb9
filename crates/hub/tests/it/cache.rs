//! Artefacts by content address for HTTP caches (`/v1/a/{sha256}`): the
//! headers that let any cache keep them for a year, conditional and range
//! requests, HEAD; only stored artefacts at their exact address, and a
//! flood from one address refused; metadata kept out of shared caches.
//! Then through a real cache (Debian's nginx with `proxy_cache` on
//! 127.0.0.1, a relay in front of the hub counting what reaches it): a
//! second terminal's downloads are served from the cache without reaching
//! the hub, ranges too, while every metadata request reaches the hub.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use common::*;
use reqwest::{Method, StatusCode};
use xinyi_core::wire::Digest32;
use xinyi_core::wire::metadata::{ArtefactRef, Metadata};
use xinyi_hub::Hub;
use xinyi_hub::http::Server;
use xinyi_testkit::nginx::{CACHE_STATUS, Door, Nginx};

/// What the content address's answers say to caches.
const FOREVER: &str = "public, max-age=31536000, immutable";

fn address(pin: &ArtefactRef) -> String {
    format!("/v1/a/{}", pin.sha256.to_hex())
}

fn etag(pin: &ArtefactRef) -> String {
    format!("\"{}\"", pin.sha256.to_hex())
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A served hub, a terminal enrolled with it through `via` (the hub or a
/// cache in front of it) and the metadata it got.
async fn enrolled(hub: &Hub, via: &str) -> (Terminal, Metadata) {
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let t = Terminal::new(hub, via);
    let (_, registry) = t.enroll(&code.code).await;
    let m = t.metadata(0, &registry).await;
    (t, m)
}

/// The artefacts a new terminal fetches: the config and the snapshot.
fn pins(m: &Metadata) -> [ArtefactRef; 2] {
    [m.config, m.eligibility.unwrap().artefact]
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    request(Method::GET, url, headers).await
}

async fn request(method: Method, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = reqwest::Client::new().request(method, url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap()
}

/// A refusal: its status, JSON `code` and `error`, and that no cache may
/// keep it.
async fn refusal(resp: reqwest::Response) -> (StatusCode, String, String) {
    let status = resp.status();
    assert_eq!(header(&resp, "cache-control"), "no-store", "{status}");
    let v: serde_json::Value = resp.json().await.unwrap();
    (
        status,
        v["code"].as_str().unwrap().to_owned(),
        v["error"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn artefacts_by_address_are_cacheable_forever() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let (t, m) = enrolled(&hub, &server.url()).await;
    for pin in pins(&m) {
        let url = format!("{}{}", server.url(), address(&pin));
        // Unsigned: the address is the proof.
        let resp = get(&url, &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "cache-control"), FOREVER);
        assert_eq!(header(&resp, "etag"), etag(&pin));
        assert_eq!(header(&resp, "accept-ranges"), "bytes");
        assert_eq!(header(&resp, "content-type"), "application/octet-stream");
        assert_eq!(header(&resp, "content-length"), pin.length.to_string());
        assert!(header(&resp, "vary").is_empty());
        let whole = resp.bytes().await.unwrap();
        assert_eq!(ArtefactRef::of(&whole), pin);
        // The same bytes as the signed download of earlier terminals.
        assert_eq!(t.artefact(pin).await, whole);

        let resp = request(Method::HEAD, &url, &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "content-length"), pin.length.to_string());
        assert_eq!(header(&resp, "etag"), etag(&pin));
        assert!(resp.bytes().await.unwrap().is_empty());

        // Conditional: the tag (strong, weak, among others) gives 304.
        let tag = etag(&pin);
        for inm in [tag.clone(), format!("W/{tag}"), format!("\"x\", {tag}")] {
            let resp = get(&url, &[("if-none-match", &inm)]).await;
            assert_eq!(resp.status(), 304, "{inm}");
            assert_eq!(header(&resp, "etag"), tag);
            assert_eq!(header(&resp, "cache-control"), FOREVER);
            assert!(resp.bytes().await.unwrap().is_empty());
        }
        let resp = get(&url, &[("if-none-match", "\"another\"")]).await;
        assert_eq!(resp.status(), 200);

        // Ranges: to the end, a span, past the end.
        let len = whole.len();
        let resp = get(&url, &[("range", "bytes=10-")]).await;
        assert_eq!(resp.status(), 206);
        assert_eq!(
            header(&resp, "content-range"),
            format!("bytes 10-{}/{len}", len - 1)
        );
        assert_eq!(header(&resp, "cache-control"), FOREVER);
        assert_eq!(&resp.bytes().await.unwrap()[..], &whole[10..]);
        let resp = get(&url, &[("range", "bytes=3-7")]).await;
        assert_eq!(resp.status(), 206);
        assert_eq!(header(&resp, "content-range"), format!("bytes 3-7/{len}"));
        assert_eq!(&resp.bytes().await.unwrap()[..], &whole[3..=7]);
        let resp = get(&url, &[("range", &format!("bytes={len}-"))]).await;
        assert_eq!(header(&resp, "content-range"), format!("bytes */{len}"));
        let (status, code, _) = refusal(resp).await;
        assert_eq!((status.as_u16(), code.as_str()), (416, "bad_range"));
        // A range for other bytes than these (If-Range): the whole.
        let resp = get(&url, &[("range", "bytes=10-"), ("if-range", "\"other\"")]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap(), whole);
        let resp = get(&url, &[("range", "bytes=10-"), ("if-range", &tag)]).await;
        assert_eq!(resp.status(), 206);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn only_stored_artefacts_at_their_exact_address() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let (_, m) = enrolled(&hub, &server.url()).await;
    let known = m.config.sha256.to_hex();
    let base = server.url();
    // A well-formed address the hub holds nothing at.
    let unknown = Digest32::of(b"bytes the hub never published").to_hex();
    let resp = get(&format!("{base}/v1/a/{unknown}"), &[]).await;
    let (status, code, error) = refusal(resp).await;
    assert_eq!((status.as_u16(), code.as_str()), (404, "not_found"));
    assert!(
        error.contains(&unknown) && error.contains("holds none"),
        "{error}"
    );
    // Anything but 64 lowercase hex digits is no address, whatever it
    // points at; nothing but the artefacts table is read.
    for bad in [
        known.to_uppercase(),
        known[..63].to_owned(),
        format!("{known}0"),
        format!("{}%00", &known[..61]),
        "..%2F..%2Fhub.db".to_owned(),
        "x".repeat(5000),
    ] {
        let resp = get(&format!("{base}/v1/a/{bad}"), &[]).await;
        let (status, code, error) = refusal(resp).await;
        assert_eq!(
            (status.as_u16(), code.as_str()),
            (404, "not_found"),
            "{bad}"
        );
        assert!(error.contains("64 lowercase hex digits"), "{error}");
        assert!(error.chars().count() < 300, "{error}");
    }
    // Paths as a client may send them, not as a URL library tidies them.
    for raw in [
        "/v1/a/%2e%2e".to_owned(),
        "/v1/a/../../hub.db".to_owned(),
        format!("/v1/a/{known}/.."),
        format!("/v1/a//{known}"),
    ] {
        let (status, head) = raw_get(server.addr(), &raw).await;
        assert_eq!(status, 404, "{raw}: {head}");
        assert!(head.contains("\"code\":\"not_found\""), "{raw}: {head}");
    }
    // No query string: one address, one cache entry.
    let resp = get(&format!("{base}/v1/a/{known}?v=2"), &[]).await;
    let (status, code, error) = refusal(resp).await;
    assert_eq!((status.as_u16(), code.as_str()), (400, "bad_request"));
    assert!(error.contains("query"), "{error}");
    // No body.
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/a/{known}"))
        .body(vec![b'x'; 1024])
        .send()
        .await
        .unwrap();
    let (status, code, _) = refusal(resp).await;
    assert_eq!((status.as_u16(), code.as_str()), (413, "too_large"));
    // Only GET and HEAD.
    let resp = request(Method::POST, &format!("{base}/v1/a/{known}"), &[]).await;
    assert_eq!(resp.status(), 405);
    // The hub is still well and serves the real address.
    let resp = get(&format!("{base}/v1/a/{known}"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(ArtefactRef::of(&resp.bytes().await.unwrap()), m.config);
    server.stop().await.unwrap();
}

/// `GET path` sent as it is, byte for byte: the status and the whole answer.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}

/// Unsigned downloads are counted per client address (behind a proxy on
/// the hub's machine, the address it forwarded for) before anything is
/// read: one address flooding is refused with 429 and `Retry-After`,
/// another is not, and enrolled terminals keep their signed downloads.
#[tokio::test]
async fn a_flood_from_one_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let (t, m) = enrolled(&hub, &server.url()).await;
    let url = format!("{}{}", server.url(), address(&m.config));
    let flooder = [("x-forwarded-for", "203.0.113.9")];
    let mut served_before = 0;
    let limited = loop {
        let resp = get(&url, &flooder).await;
        if resp.status() == 429 {
            break resp;
        }
        assert_eq!(resp.status(), 200);
        served_before += 1;
        assert!(served_before < 10_000, "never limited");
    };
    assert!(served_before > 0);
    let retry: u64 = header(&limited, "retry-after").parse().unwrap();
    assert!(retry >= 1);
    let (_, code, error) = refusal(limited).await;
    assert_eq!(code, "rate_limited");
    assert!(error.contains("this address"), "{error}");
    // Malformed addresses are counted too: still refused, not read.
    let resp = get(&format!("{}/v1/a/zz", server.url()), &flooder).await;
    assert_eq!(resp.status(), 429);
    // Another address is served.
    let resp = get(&url, &[("x-forwarded-for", "198.51.100.4")]).await;
    assert_eq!(resp.status(), 200);
    // The terminal's signed download has its own allowance.
    assert_eq!(ArtefactRef::of(&t.artefact(m.config).await), m.config);
    server.stop().await.unwrap();
}

/// Metadata is signed for one terminal and fresh for each request: no
/// shared cache may keep it, and it varies with the signature's headers.
#[tokio::test]
async fn metadata_is_for_one_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(dir.path()).await;
    let (t, m) = enrolled(&hub, &server.url()).await;
    let resp = t.get("/v1/metadata?have=0").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control"), "private, no-store");
    let vary = header(&resp, "vary");
    for h in [
        xinyi_core::wire::request::HEADER_TERMINAL,
        xinyi_core::wire::request::HEADER_SIGNATURE,
    ] {
        assert!(vary.contains(h), "{vary}");
    }
    // The signed download is this terminal's too.
    let resp = t
        .get(&format!("/v1/artefacts/{}", m.config.sha256.to_hex()))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control"), "private, no-store");
    // Refusals are kept by no one.
    let resp = get(&format!("{}/v1/metadata?have=0", server.url()), &[]).await;
    let (status, _, _) = refusal(resp).await;
    assert_eq!(status, 401);
    server.stop().await.unwrap();
}

/// A hub behind a relay that counts what reaches it, behind nginx.
struct Cached {
    hub: Arc<Hub>,
    server: Server,
    door: Door,
    nginx: Nginx,
    _dir: tempfile::TempDir,
}

async fn cached(test: &str) -> Option<Cached> {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server) = served(&dir.path().join("hub")).await;
    let door = Door::open(server.addr());
    let nginx = Nginx::caching(&dir.path().join("nginx"), &door.addr().to_string(), test)?;
    Some(Cached {
        hub,
        server,
        door,
        nginx,
        _dir: dir,
    })
}

/// Two terminals, each with its own key, sync the same data through
/// nginx: the first one's downloads fill the cache, the second one's are
/// served from it (HIT) without reaching the hub, a range and a HEAD too;
/// every metadata request reaches the hub and none is a HIT.
#[tokio::test]
async fn a_second_terminal_downloads_from_the_cache() {
    let Some(c) = cached("a_second_terminal_downloads_from_the_cache").await else {
        return;
    };
    let via = c.nginx.url();
    let (first, m1) = enrolled(&c.hub, &via).await;
    let (second, m2) = enrolled(&c.hub, &via).await;
    assert_ne!(first.id, second.id);
    assert_eq!(pins(&m1), pins(&m2));
    let reached = |prefix: &str| c.door.count("GET", prefix);
    assert_eq!(reached("/v1/metadata"), 2, "{:?}", c.door.requests());

    for pin in pins(&m1) {
        let resp = get(&format!("{via}{}", address(&pin)), &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, CACHE_STATUS), "MISS");
        assert_eq!(ArtefactRef::of(&resp.bytes().await.unwrap()), pin);
    }
    assert_eq!(reached("/v1/a/"), 2, "{:?}", c.door.requests());

    for pin in pins(&m2) {
        let resp = get(&format!("{via}{}", address(&pin)), &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, CACHE_STATUS), "HIT");
        assert_eq!(header(&resp, "etag"), etag(&pin));
        let whole = resp.bytes().await.unwrap();
        assert_eq!(ArtefactRef::of(&whole), pin);
        // A resumed download, from the cache.
        let resp = get(
            &format!("{via}{}", address(&pin)),
            &[("range", "bytes=10-")],
        )
        .await;
        assert_eq!(resp.status(), 206);
        assert_eq!(header(&resp, CACHE_STATUS), "HIT");
        assert_eq!(
            header(&resp, "content-range"),
            format!("bytes 10-{}/{}", whole.len() - 1, whole.len())
        );
        assert_eq!(&resp.bytes().await.unwrap()[..], &whole[10..]);
        let resp = request(Method::HEAD, &format!("{via}{}", address(&pin)), &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, CACHE_STATUS), "HIT");
        assert_eq!(header(&resp, "content-length"), pin.length.to_string());
    }
    // Nothing more reached the hub for them.
    assert_eq!(reached("/v1/a/"), 2, "{:?}", c.door.requests());

    // Metadata: each request goes to the hub, whatever the cache holds.
    for t in [&first, &second, &first] {
        let resp = t.get("/v1/metadata?have=0").await;
        assert_eq!(resp.status(), 200);
        assert_ne!(header(&resp, CACHE_STATUS), "HIT");
        let m = Metadata::open(&resp.bytes().await.unwrap(), &t.registry).unwrap();
        assert_eq!(m.terminal.unwrap().id, t.id);
    }
    assert_eq!(reached("/v1/metadata"), 5, "{:?}", c.door.requests());
    assert!(
        c.nginx.cache_file("/v1/metadata?have=0").is_none(),
        "nginx kept metadata"
    );
    c.server.stop().await.unwrap();
}
