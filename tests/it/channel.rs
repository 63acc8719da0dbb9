//! The sync channel under attack and failure (TUF's threat model and
//! SQLite's atomic commit): a tampering proxy on 127.0.0.1 between a real
//! terminal and a real hub forges, replays, freezes, swaps, inflates and
//! cuts what the hub sends; each attack is refused with its own error
//! while the data held before stays intact and in use. Also: forged and
//! foreign receipts and standings, an impostor hub, an eavesdropper of the
//! enrollment, plain HTTP, endless error answers, the hub down for a
//! while, a hub that lost records, resumed downloads, retried uploads,
//! registry key rotation, a clock set back, remote revocation (real and
//! forged), and sneakernet (bundle and records files) giving the same
//! result as HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::terminal_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use ed25519_dalek::SigningKey;
use xinyi::counter::Counter as _;
use xinyi::sync::{Downloaded, SyncError};
use xinyi::terminal::{Paths, Scan, Staff, Terminal, TerminalError, now};
use xinyi_core::wire::WireError;
use xinyi_core::wire::envelope;
use xinyi_core::wire::metadata::MetadataError;
use xinyi_core::wire::plan::Refused;
use xinyi_core::{Fen, UnixTime};
use xinyi_demo::DemoWorld;
use xinyi_demo::seed::demo_hub;
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, ManualClock};

use terminal_support::CLERK;

/// What the proxy does to the hub's answers.
#[derive(Debug, Clone, Default)]
enum Tamper {
    #[default]
    Pass,
    /// Metadata re-signed by a key the terminal never pinned.
    ForgeMetadata,
    /// Metadata with its signature damaged.
    BreakSignature,
    /// These metadata bytes instead of the hub's (a replay).
    Replay(Vec<u8>),
    /// Artefacts with one byte changed, at either address.
    CorruptArtefact,
    /// Artefacts with one byte changed at their content address only (a
    /// cache serving bad bytes); the signed download is untouched.
    CorruptCacheable,
    /// The content address answered 404, as by a hub of an earlier
    /// version that serves artefacts only to signed requests.
    NoCacheable,
    /// Artefacts with extra bytes after them.
    InflateArtefact,
    /// Artefacts cut after this many bytes (the connection drops).
    CutArtefact(usize),
    /// Uploads reach the hub but the answer is lost.
    LoseUploadAnswer,
    /// Uploads never reach the hub; the proxy answers this body itself
    /// (a forged receipt).
    ForgeReceipt(Vec<u8>),
    /// Metadata answered with a 500 whose body goes on for this many bytes.
    HugeError(u64),
    /// Metadata answered as for a revoked terminal, with this notice.
    Revoke(Vec<u8>),
    /// Enrollment answered by an impostor hub: a grant for the terminal's
    /// key, signed with this key of its own.
    ImpostorGrant([u8; 32]),
}

#[derive(Debug, Default)]
struct ProxyState {
    upstream: String,
    tamper: Mutex<Tamper>,
    /// The last metadata the hub sent.
    last_metadata: Mutex<Vec<u8>>,
    /// Range headers seen on artefact requests.
    ranges: Mutex<Vec<String>>,
    /// The paths of artefact requests, in order.
    artefacts: Mutex<Vec<String>>,
    /// Enrollment request bodies seen (what an eavesdropper reads).
    enrollments: Mutex<Vec<Vec<u8>>>,
    /// Bytes of a huge error answer the client pulled.
    pulled: Arc<AtomicU64>,
}

struct Proxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream,
            ..Default::default()
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Proxy { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, t: Tamper) {
        *self.state.tamper.lock().unwrap() = t;
    }
}

/// Whether `path` asks for an artefact: by content address (cacheable)
/// or signed.
fn is_artefact(path: &str) -> bool {
    path.starts_with("/v1/a/") || path.starts_with("/v1/artefacts/")
}

async fn forward(State(p): State<Arc<ProxyState>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .unwrap();
    if path.starts_with("/v1/enroll") {
        p.enrollments.lock().unwrap().push(body.to_vec());
    }
    let tamper = p.tamper.lock().unwrap().clone();
    match &tamper {
        Tamper::ForgeReceipt(answer) if path.starts_with("/v1/records") => {
            return Response::builder()
                .status(200)
                .body(Body::from(answer.clone()))
                .unwrap();
        }
        Tamper::HugeError(n) if path.starts_with("/v1/metadata") => {
            // Generated as it is read: the test holds no such body.
            let (n, pulled) = (*n, p.pulled.clone());
            let stream = futures_util::stream::unfold(0u64, move |sent| {
                let pulled = pulled.clone();
                async move {
                    (sent < n).then(|| {
                        let chunk = vec![b'x'; 64 * 1024];
                        pulled.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        (Ok::<Vec<u8>, std::io::Error>(chunk), sent + 64 * 1024)
                    })
                }
            });
            return Response::builder()
                .status(500)
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Tamper::ImpostorGrant(seed) if path.starts_with("/v1/enroll") => {
            let req: xinyi_core::wire::enroll::EnrollRequest =
                serde_json::from_slice(&body).unwrap();
            let terminal: [u8; 32] = xinyi_core::hex::decode_array(&req.public_key).unwrap();
            let rogue = SigningKey::from_bytes(seed);
            let grant = xinyi_core::wire::enroll::EnrollGrant {
                terminal_id: xinyi_core::wire::key_id(&terminal),
                site: "demo-bus".into(),
                registry_key: xinyi_core::hex::encode(rogue.verifying_key().as_bytes()),
                issued_at: now().0,
            };
            return Response::builder()
                .status(200)
                .body(Body::from(grant.seal(&rogue)))
                .unwrap();
        }
        Tamper::NoCacheable if path.starts_with("/v1/a/") => {
            p.artefacts.lock().unwrap().push(path.clone());
            let body = serde_json::json!({
                "error": format!("no endpoint {path}"),
                "code": "not_found",
            });
            return Response::builder()
                .status(404)
                .body(Body::from(body.to_string()))
                .unwrap();
        }
        Tamper::Revoke(notice) if path.starts_with("/v1/metadata") => {
            let body = serde_json::json!({
                "error": "this terminal was revoked by the registry",
                "code": "terminal_revoked",
                "notice": String::from_utf8_lossy(notice),
            });
            return Response::builder()
                .status(403)
                .body(Body::from(body.to_string()))
                .unwrap();
        }
        _ => {}
    }
    if is_artefact(&path) {
        p.artefacts.lock().unwrap().push(path.clone());
    }
    if is_artefact(&path)
        && let Some(r) = headers.get("range")
    {
        p.ranges
            .lock()
            .unwrap()
            .push(r.to_str().unwrap_or("").to_owned());
    }
    let mut rb = reqwest::Client::new().request(method, format!("{}{path}", p.upstream));
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            rb = rb.header(k, v);
        }
    }
    let resp = rb.body(body.to_vec()).send().await.unwrap();
    let status = resp.status();
    let resp_headers = resp.headers().clone();
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    if path.starts_with("/v1/metadata") && status.is_success() {
        *p.last_metadata.lock().unwrap() = bytes.clone();
        match &tamper {
            Tamper::ForgeMetadata => {
                let payload = envelope::peek(&bytes).unwrap();
                let rogue = SigningKey::from_bytes(&[0x66; 32]);
                bytes = envelope::seal(&rogue, envelope::Purpose::Metadata, &payload);
            }
            Tamper::BreakSignature => {
                let text = String::from_utf8(bytes.clone()).unwrap();
                let i = text.find("\"sig\":\"").unwrap() + 8;
                let mut b = text.into_bytes();
                b[i] = if b[i] == b'0' { b'1' } else { b'0' };
                bytes = b;
            }
            Tamper::Replay(old) => bytes = old.clone(),
            _ => {}
        }
    }
    if is_artefact(&path) && status.is_success() {
        match tamper {
            Tamper::CorruptArtefact => {
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0x55;
            }
            Tamper::CorruptCacheable if path.starts_with("/v1/a/") => {
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0x55;
            }
            Tamper::InflateArtefact => bytes.extend_from_slice(&[0u8; 4096]),
            Tamper::CutArtefact(n) if n < bytes.len() => {
                let head = bytes[..n].to_vec();
                // The head goes out, then (once it has been flushed) the
                // connection drops mid-body.
                let stream = futures_util::stream::unfold(0u8, move |step| {
                    let head = head.clone();
                    async move {
                        match step {
                            0 => Some((Ok::<Vec<u8>, std::io::Error>(head), 1)),
                            1 => {
                                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                                Some((Err(std::io::Error::other("connection cut by the test")), 2))
                            }
                            _ => None,
                        }
                    }
                });
                return Response::builder()
                    .status(status)
                    .header("content-length", bytes.len().to_string())
                    .body(Body::from_stream(stream))
                    .unwrap();
            }
            _ => {}
        }
    }
    if path.starts_with("/v1/records") && matches!(tamper, Tamper::LoseUploadAnswer) {
        return Response::builder()
            .status(502)
            .body(Body::from("lost"))
            .unwrap();
    }
    let mut out = Response::builder().status(status);
    for (k, v) in &resp_headers {
        if k != "content-length" && k != "transfer-encoding" {
            out = out.header(k, v);
        }
    }
    out.body(Body::from(bytes)).unwrap()
}

/// A demo hub on a hand-set clock behind a tampering proxy, and a
/// terminal enrolled (through the proxy) and synced at the bus site.
struct Rig {
    hub: Arc<Hub>,
    clock: Arc<ManualClock>,
    world: DemoWorld,
    server: Server,
    proxy: Proxy,
    terminal: Terminal,
    _tmp: tempfile::TempDir,
}

async fn rig() -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::from_system());
    let (hub, world) = demo_hub(&tmp.path().join("hub"), now().date_utc8()).unwrap();
    let hub = Arc::new(hub.with_clock(clock.clone()));
    let server = Server::start(hub.clone()).await.unwrap();
    let proxy = Proxy::start(server.url()).await;
    let mut terminal = enroll(&hub, &proxy.url(), &tmp.path().join("terminal"), "bus").await;
    let (down, up) = terminal.sync(clock.now()).await.unwrap();
    down.unwrap();
    up.unwrap();
    Rig {
        hub,
        clock,
        world,
        server,
        proxy,
        terminal,
        _tmp: tmp,
    }
}

use xinyi_hub::Clock as _;

impl Rig {
    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    fn version(&self) -> u64 {
        terminal_support::held(&self.terminal)
            .data_state()
            .unwrap()
            .unwrap()
            .version
    }

    /// The printed demo card: reusable, so it shows whether the data held
    /// is still used.
    fn card_still_verifies(&mut self) {
        let at = self.now();
        let card = card(&self.world, at);
        match scan(&mut self.terminal, &card, at) {
            Scan::Ok(_) => {}
            Scan::Refused { refusal, .. } => panic!(
                "the held data is no longer used: {} {}",
                refusal.reason, refusal.detail
            ),
        }
    }

    /// Publishes a new version at the hub (a card revocation).
    fn publish_something(&self) {
        let mut cti = [0u8; 12];
        getrandom::fill(&mut cti).unwrap();
        self.hub
            .revoke_card(&xinyi_core::hex::encode(&cti), "test")
            .unwrap();
    }

    async fn sync_down(&mut self) -> Result<Downloaded, SyncError> {
        let at = self.now();
        self.terminal.sync(at).await.unwrap().0
    }
}

/// The measure every test scans at.
const TOPUP: &str = "XYX-BUS-TOPUP";
/// A terminal at the demo bus site of `hub`, enrolled through `url` (the
/// proxy or the hub), with a clerk.
async fn enroll(hub: &Hub, url: &str, dir: &Path, _label: &str) -> Terminal {
    terminal_support::enroll(hub, "demo-bus", url, dir, None, now()).await
}

/// The clerk, signed in.
fn clerk(t: &mut Terminal) -> Staff {
    terminal_support::clerk(t, now())
}

/// The printed demo card's code: reusable, so a test can present it again.
fn card(world: &DemoWorld, at: UnixTime) -> String {
    world
        .sample_codes(at)
        .into_iter()
        .find(|c| c.id == "card")
        .unwrap()
        .text
}

/// `code` scanned at the top-up counter at `at`.
fn scan(t: &mut Terminal, code: &str, at: UnixTime) -> Scan {
    t.scan(code, &terminal_support::measure(TOPUP), "op", at)
        .unwrap()
}

/// The refusal's reason code; `None` when the scan was approved.
fn refused(s: &Scan) -> Option<&'static str> {
    match s {
        Scan::Refused { refusal, .. } => Some(refusal.reason.code()),
        Scan::Ok(_) => None,
    }
}

/// Scans `code` at `at`, which must be approved, and confirms a top-up of
/// `fen`.
fn redeem(t: &mut Terminal, code: &str, fen: u64, at: UnixTime) {
    let Scan::Ok(a) = scan(t, code, at) else {
        panic!("the card was refused at {at:?}")
    };
    let by = clerk(t);
    t.confirm(&a, Some(Fen(fen)), 0, true, &by, at).unwrap();
}

fn wire_err(e: &SyncError) -> Option<&WireError> {
    match e {
        SyncError::Wire(w) | SyncError::Metadata(MetadataError::Wire(w)) => Some(w),
        SyncError::Client(xinyi::sync::client::ClientError::Wire(w)) => Some(w),
        SyncError::Store(xinyi::store::StoreError::Refused {
            reason: Refused::Metadata(MetadataError::Wire(w)),
            ..
        }) => Some(w),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_unsigned_metadata_are_refused_and_the_old_data_stays() {
    let mut r = rig().await;
    let held = r.version();
    r.publish_something();
    r.proxy.set(Tamper::ForgeMetadata);
    let e = r.sync_down().await.unwrap_err();
    assert!(
        matches!(wire_err(&e), Some(WireError::WrongKey { .. })),
        "{e}"
    );
    r.proxy.set(Tamper::BreakSignature);
    let e = r.sync_down().await.unwrap_err();
    assert!(
        matches!(wire_err(&e), Some(WireError::BadSignature { .. })),
        "{e}"
    );
    assert_eq!(r.version(), held);
    r.card_still_verifies();
    // Untampered, the new version arrives.
    r.proxy.set(Tamper::Pass);
    assert!(matches!(
        r.sync_down().await.unwrap(),
        Downloaded::Applied { .. }
    ));
    assert!(r.version() > held);
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_and_freeze_are_refused() {
    let mut r = rig().await;
    let old = r.proxy.state.last_metadata.lock().unwrap().clone();
    r.publish_something();
    r.sync_down().await.unwrap();
    let held = r.version();
    // Rollback: yesterday's signed metadata for an older version.
    r.proxy.set(Tamper::Replay(old.clone()));
    let e = r.sync_down().await.unwrap_err();
    assert!(
        matches!(e, SyncError::Metadata(MetadataError::Rollback { held: h, .. }) if h == held),
        "{e}"
    );
    assert_eq!(r.version(), held);
    r.card_still_verifies();
    // Freeze: the hub's latest metadata replayed after it expired.
    let current = r.proxy.state.last_metadata.lock().unwrap().clone();
    r.clock.advance(2 * 86_400);
    r.proxy.set(Tamper::Replay(current));
    let e = r.sync_down().await.unwrap_err();
    assert!(
        matches!(e, SyncError::Metadata(MetadataError::Expired { .. })),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("cannot be trusted until it is refreshed"),
        "{e}"
    );
    r.card_still_verifies();
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_and_endless_artefacts_are_refused() {
    let mut r = rig().await;
    let held = r.version();
    r.publish_something();
    r.proxy.set(Tamper::CorruptArtefact);
    let e = r.sync_down().await.unwrap_err();
    // The client fetches; the plan finds the bytes are not the ones pinned.
    assert!(
        matches!(
            &e,
            SyncError::Refused {
                reason: Refused::Hash { .. },
                ..
            }
        ),
        "{e}"
    );
    // Bad at the content address, then bad when signed: both were tried.
    let asked = r.proxy.state.artefacts.lock().unwrap().clone();
    let last = asked.last().unwrap().rsplit('/').next().unwrap().to_owned();
    assert!(asked.ends_with(&[format!("/v1/a/{last}"), format!("/v1/artefacts/{last}")]));
    r.proxy.set(Tamper::InflateArtefact);
    let e = r.sync_down().await.unwrap_err();
    assert!(
        matches!(
            &e,
            SyncError::Client(xinyi::sync::client::ClientError::TooLarge { .. })
        ),
        "{e}"
    );
    assert_eq!(r.version(), held);
    r.card_still_verifies();
    r.server.stop().await.unwrap();
}

/// A cache (or anything between) serving wrong bytes at the content
/// address: they are refused against the signed pin, and the artefact is
/// fetched with a signed request that no shared cache answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bytes_at_the_content_address_are_fetched_again_signed() {
    let mut r = rig().await;
    let held = r.version();
    r.publish_something();
    r.proxy.set(Tamper::CorruptCacheable);
    r.proxy.state.artefacts.lock().unwrap().clear();
    assert!(matches!(
        r.sync_down().await.unwrap(),
        Downloaded::Applied { .. }
    ));
    assert!(r.version() > held);
    // Each artefact: the content address, then the signed download.
    let asked = r.proxy.state.artefacts.lock().unwrap().clone();
    assert!(!asked.is_empty() && asked.len() % 2 == 0, "{asked:?}");
    for pair in asked.chunks(2) {
        let hash = pair[0].strip_prefix("/v1/a/").unwrap();
        assert_eq!(pair[1], format!("/v1/artefacts/{hash}"));
    }
    r.card_still_verifies();
    r.server.stop().await.unwrap();
}

/// A hub of an earlier version has no content addresses: its terminals
/// are served by the signed downloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_without_content_addresses_is_synced_from_signed_downloads() {
    let r = rig().await;
    r.proxy.set(Tamper::NoCacheable);
    r.proxy.state.artefacts.lock().unwrap().clear();
    let mut t = enroll(&r.hub, &r.proxy.url(), &r._tmp.path().join("old"), "old").await;
    let (down, _) = t.sync(r.now()).await.unwrap();
    assert!(matches!(down.unwrap(), Downloaded::Applied { from: 0, .. }));
    let asked = r.proxy.state.artefacts.lock().unwrap().clone();
    assert_eq!(asked.len(), 4, "{asked:?}");
    for pair in asked.chunks(2) {
        let hash = pair[0].strip_prefix("/v1/a/").unwrap();
        assert_eq!(pair[1], format!("/v1/artefacts/{hash}"));
    }
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_download_resumes_where_it_stopped() {
    let r = rig().await;
    // A new terminal needs the whole snapshot: cut it after 100 bytes.
    let dir = r._tmp.path().join("second");
    let mut t = enroll(&r.hub, &r.proxy.url(), &dir, "second").await;
    r.proxy.set(Tamper::CutArtefact(100));
    let (down, _) = t.sync(r.now()).await.unwrap();
    let e = down.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(terminal_support::held(&t).data_state().unwrap().is_none());
    r.proxy.set(Tamper::Pass);
    let (down, _) = t.sync(r.now()).await.unwrap();
    assert!(matches!(down.unwrap(), Downloaded::Applied { from: 0, .. }));
    let ranges = r.proxy.state.ranges.lock().unwrap().clone();
    assert!(
        ranges.iter().any(|h| h == "bytes=100-"),
        "no resumed request: {ranges:?}"
    );
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_upload_answer_is_retried_without_duplicates() {
    let mut r = rig().await;
    let at = r.now();
    redeem(&mut r.terminal, &card(&r.world, at), 1000, at);
    r.proxy.set(Tamper::LoseUploadAnswer);
    assert!(r.terminal.upload(at).await.is_err());
    assert_eq!(r.terminal.status(at).unwrap().unsent, 1);
    r.proxy.set(Tamper::Pass);
    let up = r.terminal.upload(at).await.unwrap();
    assert_eq!((up.stored, up.duplicates), (0, 1), "{up:?}");
    assert_eq!(r.terminal.status(at).unwrap().unsent, 0);
    assert_eq!(
        r.hub
            .usage_report()
            .unwrap()
            .iter()
            .map(|u| u.redemptions)
            .sum::<u64>(),
        1
    );
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_down_for_a_while_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, world) = demo_hub(&tmp.path().join("hub"), now().date_utc8()).unwrap();
    let hub = Arc::new(hub);
    let server = Server::start(hub.clone()).await.unwrap();
    let addr = server.addr();
    let mut t = enroll(&hub, &server.url(), &tmp.path().join("t"), "bus").await;
    t.sync(now()).await.unwrap().0.unwrap();
    server.stop().await.unwrap();
    // Offline: verdicts and redemptions go on; uploads fail and wait.
    let card = card(&world, now());
    for _ in 0..3 {
        redeem(&mut t, &card, 500, now());
        let err = t.upload(now()).await.unwrap_err();
        assert!(
            matches!(&err, TerminalError::Sync(e) if e.is_transient()),
            "{err}"
        );
    }
    assert_eq!(t.status(now()).unwrap().unsent, 3);
    // Back on the same address: the queue drains.
    let server = Server::bind(hub.clone(), addr).await.unwrap();
    let up = t.upload(now()).await.unwrap();
    assert_eq!(up.stored, 3);
    assert_eq!(t.status(now()).unwrap().unsent, 0);
    assert_eq!(
        hub.usage_report()
            .unwrap()
            .iter()
            .map(|u| u.redemptions)
            .sum::<u64>(),
        3
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_follow_a_rotated_registry_key_and_refuse_a_forged_one() {
    let mut r = rig().await;
    let before = r.terminal.identity().registry_key;
    let new_id = r.hub.rotate_registry_key().unwrap();
    r.publish_something();
    assert!(matches!(
        r.sync_down().await.unwrap(),
        Downloaded::Applied { .. }
    ));
    let after = r.terminal.identity().registry_key;
    assert_ne!(after, before);
    assert_eq!(xinyi_core::wire::key_id(&after), new_id);
    // Persisted: a reopened terminal pins the new key.
    assert_eq!(
        terminal_support::held(&r.terminal)
            .identity()
            .unwrap()
            .unwrap()
            .registry_key,
        after
    );
    // Twice more, and a terminal pinned two keys back still follows.
    r.hub.rotate_registry_key().unwrap();
    r.hub.rotate_registry_key().unwrap();
    r.publish_something();
    assert!(matches!(
        r.sync_down().await.unwrap(),
        Downloaded::Applied { .. }
    ));
    assert_eq!(
        xinyi_core::wire::key_id(&r.terminal.identity().registry_key),
        r.hub.registry_key_id()
    );
    // A rogue key with a made-up rotation chain is still refused.
    r.proxy.set(Tamper::ForgeMetadata);
    r.publish_something();
    assert!(r.sync_down().await.is_err());
    r.card_still_verifies();
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_set_back_makes_verdicts_clock_suspect() {
    let mut r = rig().await;
    let at = r.now();
    let card = card(&r.world, at);
    redeem(&mut r.terminal, &card, 100, at);
    // An hour back: behind the last record and the hub's signed time.
    let back = UnixTime(at.0 - 3600);
    match scan(&mut r.terminal, &card, back) {
        Scan::Refused { refusal, .. } => {
            assert_eq!(refusal.reason.code(), "CLOCK_SUSPECT", "{}", refusal.detail);
            let words = xinyi::reasons::words(refusal.reason);
            assert!(words.advice_zh.contains("时间"));
        }
        Scan::Ok(_) => panic!("a clock set back was not noticed"),
    }
    // A small step back (an NTP correction) is not suspect.
    assert_eq!(
        refused(&scan(&mut r.terminal, &card, UnixTime(at.0 - 30))),
        None
    );
    // The last record moves the floor as soon as it is made: after a
    // record two hours ahead, a scan one hour behind it is suspect too.
    let ahead = UnixTime(at.0 + 7200);
    redeem(&mut r.terminal, &card, 100, ahead);
    assert_eq!(
        refused(&scan(&mut r.terminal, &card, UnixTime(ahead.0 - 3600))),
        Some("CLOCK_SUSPECT"),
        "a scan behind the last record was not suspect"
    );
    // A reopened terminal remembers: the floor is in the store.
    let paths = r.terminal.paths().clone();
    let mut reopened = Terminal::open(&paths).unwrap();
    assert_eq!(
        refused(&scan(&mut reopened, &card, back)),
        Some("CLOCK_SUSPECT")
    );
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_terminal_wipes_its_list_and_stops_accepting() {
    let mut r = rig().await;
    let id = r.terminal.identity().terminal_id.clone();
    assert!(r.hub.revoke_terminal(&id).unwrap());
    let e = r.sync_down().await.unwrap_err();
    assert!(matches!(e, SyncError::Revoked), "{e}");
    let at = r.now();
    assert_eq!(
        refused(&scan(&mut r.terminal, &card(&r.world, at), at)),
        Some("STALE_DATA"),
        "a revoked terminal still accepts"
    );
    assert_eq!(
        terminal_support::held(&r.terminal)
            .listings_count()
            .unwrap(),
        0
    );
    r.server.stop().await.unwrap();
}

fn dir_of(t: &Terminal) -> &Path {
    &t.paths().dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sneakernet_round_trip_equals_http() {
    let mut r = rig().await;
    // A second terminal at a site with no network: enrolled once, then
    // only files move.
    let dir = r._tmp.path().join("offline");
    let mut off = enroll(&r.hub, &r.server.url(), &dir, "offline").await;
    assert!(dir_of(&off).exists());
    r.publish_something();
    r.sync_down().await.unwrap();
    let bundle = r
        .hub
        .export_bundle(Some(&off.identity().terminal_id.clone()))
        .unwrap();
    let d = off.import_bundle(&bundle, r.now()).unwrap();
    assert!(matches!(d, Downloaded::Applied { from: 0, .. }));
    let by_file = terminal_support::held(&off).data_state().unwrap().unwrap();
    let by_http = terminal_support::held(&r.terminal)
        .data_state()
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_file.version, by_file.set_hash),
        (by_http.version, by_http.set_hash)
    );

    // Records go the other way, exactly once however often they are carried.
    let at = r.now();
    redeem(&mut off, &card(&r.world, at), 800, at);
    // The redemption and the clerk's roster record.
    let (n, file) = off.export_records().unwrap();
    assert_eq!(n, 2);
    let (_, first) = r.hub.ingest_records(&file).unwrap();
    let (_, again) = r.hub.ingest_records(&file).unwrap();
    assert_eq!((first.stored, again.stored, again.duplicates), (2, 0, 2));
    // The next bundle for this terminal confirms them.
    let bundle = r
        .hub
        .export_bundle(Some(&off.identity().terminal_id.clone()))
        .unwrap();
    off.import_bundle(&bundle, r.now()).unwrap();
    assert_eq!(off.status(r.now()).unwrap().unsent, 0);

    // A tampered bundle is refused and the data stays.
    let held = terminal_support::held(&off).data_state().unwrap().unwrap();
    r.publish_something();
    let mut bad = r.hub.export_bundle(None).unwrap();
    let last = bad.len() - 10;
    bad[last] ^= 0xFF;
    let e = off.import_bundle(&bad, r.now()).unwrap_err();
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert_eq!(
        terminal_support::held(&off)
            .data_state()
            .unwrap()
            .unwrap()
            .version,
        held.version
    );
    // And a records file from a terminal the hub never enrolled is refused.
    let mut forged = file.clone();
    forged[6] ^= 0x01;
    assert!(r.hub.ingest_records(&forged).is_err());
    // Nor from a revoked one.
    assert!(r.hub.revoke_terminal(&off.identity().terminal_id).unwrap());
    let e = r.hub.ingest_records(&file).unwrap_err();
    assert!(e.to_string().contains("revoked"), "{e}");
    r.server.stop().await.unwrap();
}

/// How many of this terminal's records are not yet confirmed by the hub.
fn unsent(t: &Terminal, at: UnixTime) -> u64 {
    t.status(at).unwrap().unsent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_upload_receipt_marks_nothing_and_nothing_is_purged() {
    let mut r = rig().await;
    let at = r.now();
    redeem(&mut r.terminal, &card(&r.world, at), 1000, at);
    // A proxy drops the upload and answers the hub's receipt in plain JSON,
    // claiming everything: the records stay unsent.
    let plain = serde_json::json!({
        "terminal": r.terminal.identity().terminal_id,
        "stored": 1, "duplicates": 0, "held_through": 1_000_000,
        "held_hash": null, "issued_at": at.0,
    });
    r.proxy
        .set(Tamper::ForgeReceipt(plain.to_string().into_bytes()));
    let e = r.terminal.upload(at).await.unwrap_err();
    assert!(e.to_string().contains("signed envelope"), "{e}");
    assert_eq!(unsent(&r.terminal, at), 1);
    // A receipt signed by any key but the registry's: refused too.
    let rogue = SigningKey::from_bytes(&[0x66; 32]);
    let receipt = xinyi_core::wire::receipt::UploadReceipt {
        terminal: r.terminal.identity().terminal_id.clone(),
        stored: 1,
        duplicates: 0,
        held_through: 1_000_000,
        held_hash: None,
        issued_at: at.0,
    };
    r.proxy.set(Tamper::ForgeReceipt(receipt.seal(&rogue)));
    let e = r.terminal.upload(at).await.unwrap_err();
    assert!(
        matches!(&e, TerminalError::Sync(s) if matches!(wire_err(s), Some(WireError::WrongKey { .. }))),
        "{e}"
    );
    assert_eq!(unsent(&r.terminal, at), 1);
    // Syncing long after the retention period purges nothing the hub never
    // held.
    let held = r.terminal.records(100).unwrap().len();
    let later = UnixTime(at.0 + 400 * 86_400);
    let _ = r.terminal.upload(later).await;
    assert_eq!(r.terminal.records(100).unwrap().len(), held);
    assert_eq!(unsent(&r.terminal, at), 1);
    // The real hub gets it and signs for it; later uploads still work (the
    // chain was never broken by a receipt nobody signed).
    r.proxy.set(Tamper::Pass);
    let up = r.terminal.upload(at).await.unwrap();
    assert_eq!(up.stored, 1, "{up:?}");
    assert_eq!(unsent(&r.terminal, at), 0);
    redeem(&mut r.terminal, &card(&r.world, at), 500, at);
    assert_eq!(r.terminal.upload(at).await.unwrap().stored, 1);
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_a_restored_hub_lost_are_sent_again() {
    let mut r = rig().await;
    let addr = r.server.addr();
    let hub_dir = r.hub.dir().to_owned();
    // The credit office's last backup, taken now.
    let backup = r._tmp.path().join("hub-backup");
    copy_dir(&hub_dir, &backup);
    let at = r.now();
    for fen in [100, 200, 300] {
        redeem(&mut r.terminal, &card(&r.world, at), fen, at);
    }
    assert_eq!(r.terminal.upload(at).await.unwrap().stored, 3);
    assert_eq!(unsent(&r.terminal, at), 0);
    // The hub's disk dies; it is restored from the backup, which never had
    // the three records, and serves on the same address.
    let Rig { server, clock, .. } = r;
    server.stop().await.unwrap();
    let restored = Arc::new(Hub::open(&backup).unwrap().with_clock(clock.clone()));
    let server = Server::bind(restored.clone(), addr).await.unwrap();
    // Its signed standing says it holds less: the three are sent again.
    r.terminal.sync(clock.now()).await.unwrap().0.unwrap();
    assert_eq!(unsent(&r.terminal, clock.now()), 0);
    assert_eq!(redemptions(&restored), 3);
    server.stop().await.unwrap();
}

/// `xinyi-hub backup` taken while terminals upload, restored on the same
/// address: the terminals send again what the backup missed and the
/// restored hub holds every journal whole, with no gap and nothing twice;
/// the next uploads chain on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_terminals_upload_restores_with_no_gap_and_no_duplicate() {
    let mut r = rig().await;
    let addr = r.server.addr();
    let at = r.now();
    let mut terminals = vec![];
    for name in ["t2", "t3"] {
        let mut t = enroll(&r.hub, &r.server.url(), &r._tmp.path().join(name), name).await;
        t.sync(at).await.unwrap().0.unwrap();
        terminals.push(t);
    }
    let not_listed = r
        .world
        .sample_codes(at)
        .into_iter()
        .find(|c| c.id == "not-listed")
        .unwrap()
        .text;
    // Each round: every counter journals a redemption or a refusal and
    // uploads it. The card is redeemed at the first counter only: its
    // monthly limit holds across counters.
    let card = card(&r.world, at);
    let mut round = 0u64;
    let busy = |ts: &mut Vec<&mut Terminal>, round: u64| {
        for (i, t) in ts.iter_mut().enumerate() {
            if round < 3 && i == 0 {
                redeem(t, &card, 100 * (round + 1), at);
            } else {
                assert_eq!(refused(&scan(t, &not_listed, at)), Some("NOT_LISTED"));
            }
        }
    };
    let file = r._tmp.path().join("hub-backup.tar.gz");
    let taking = {
        let hub = r.hub.clone();
        let file = file.clone();
        std::thread::spawn(move || hub.backup(&file))
    };
    loop {
        let done = taking.is_finished();
        let mut all: Vec<&mut Terminal> = std::iter::once(&mut r.terminal)
            .chain(terminals.iter_mut())
            .collect();
        busy(&mut all, round);
        for t in all {
            assert!(t.upload(at).await.unwrap().stored >= 1);
        }
        round += 1;
        // At least one round after the backup was complete, so that the
        // restored hub misses some records.
        if done {
            break;
        }
    }
    let manifest = taking.join().unwrap().unwrap();
    let head = |t: &Terminal| terminal_support::held(t).journal_head().unwrap().0;
    let all_ids: Vec<String> = std::iter::once(&r.terminal)
        .chain(terminals.iter())
        .map(|t| t.identity().terminal_id.clone())
        .collect();
    let held_before: u64 = std::iter::once(&r.terminal)
        .chain(terminals.iter())
        .map(head)
        .sum();
    assert!(manifest.records < held_before, "the backup missed nothing");

    // The hub's disk is lost; the backup is restored into a new directory
    // and served on the same address.
    let Rig { server, clock, .. } = r;
    server.stop().await.unwrap();
    let restored_dir = r._tmp.path().join("restored");
    xinyi_hub::backup::restore(&file, &restored_dir).unwrap();
    let restored = Arc::new(Hub::open(&restored_dir).unwrap().with_clock(clock.clone()));
    assert_eq!(restored.status().unwrap().counts.records, manifest.records);
    let server = Server::bind(restored.clone(), addr).await.unwrap();

    // Each counter syncs (and sends again what the backup missed), then
    // carries on.
    let mut all: Vec<&mut Terminal> = std::iter::once(&mut r.terminal)
        .chain(terminals.iter_mut())
        .collect();
    for t in all.iter_mut() {
        let (down, up) = t.sync(clock.now()).await.unwrap();
        down.unwrap();
        up.unwrap();
    }
    busy(&mut all, round);
    for t in all.iter_mut() {
        t.upload(clock.now()).await.unwrap();
        assert_eq!(unsent(t, clock.now()), 0);
    }
    let heads: Vec<u64> = all.iter().map(|t| head(t)).collect();
    let integrity = restored.integrity_report().unwrap();
    for (id, head) in all_ids.iter().zip(&heads) {
        let row = integrity.iter().find(|row| &row.terminal == id).unwrap();
        assert_eq!(
            (row.records, row.held_through, row.max_seq, row.gaps),
            (*head, *head, *head, 0),
            "terminal {id}"
        );
        assert_eq!(restored.upload_status(id).unwrap().held_through, *head);
    }
    // Every redemption at the first counter, counted once.
    let rounds = round + 1;
    assert_eq!(redemptions(&restored), rounds.min(3));
    server.stop().await.unwrap();
}

/// Redemptions in the hub's usage report (voided ones left out).
fn redemptions(hub: &Hub) -> u64 {
    hub.usage_report()
        .unwrap()
        .iter()
        .map(|u| u.redemptions)
        .sum()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_about_another_terminal_is_refused() {
    let mut r = rig().await;
    let at = r.now();
    // A second terminal with records the hub holds.
    let mut other = enroll(&r.hub, &r.proxy.url(), &r._tmp.path().join("t2"), "t2").await;
    other.sync(at).await.unwrap().0.unwrap();
    for fen in [100, 200, 300] {
        redeem(&mut other, &card(&r.world, at), fen, at);
    }
    other.sync(at).await.unwrap().1.unwrap();
    other.sync(at).await.unwrap().0.unwrap();
    let others = r.proxy.state.last_metadata.lock().unwrap().clone();
    // This terminal has one record the hub has not got; a proxy answers
    // its metadata request with the other terminal's.
    redeem(&mut r.terminal, &card(&r.world, at), 100, at);
    r.proxy.set(Tamper::Replay(others));
    let (down, up) = r.terminal.sync(at).await.unwrap();
    let e = down.unwrap_err();
    assert!(matches!(e, SyncError::ForeignStanding { .. }), "{e}");
    // The record was not marked by the other terminal's standing: it was
    // uploaded, and the hub holds this terminal's whole journal.
    assert_eq!(up.unwrap().stored, 1);
    let (head, _) = terminal_support::held(&r.terminal).journal_head().unwrap();
    let id = r.terminal.identity().terminal_id.clone();
    assert_eq!(r.hub.upload_status(&id).unwrap().held_through, head);
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_made_for_another_terminal_applies_its_lists_and_nothing_else() {
    let mut r = rig().await;
    let at = r.now();
    // This terminal's records reach the hub; then it is revoked.
    redeem(&mut r.terminal, &card(&r.world, at), 100, at);
    r.terminal.upload(at).await.unwrap();
    let first = r.terminal.identity().terminal_id.clone();
    // A second terminal at a site with no network, with a record unsent.
    let mut off = enroll(&r.hub, &r.server.url(), &r._tmp.path().join("off"), "off").await;
    off.import_bundle(&r.hub.export_bundle(None).unwrap(), at)
        .unwrap();
    redeem(&mut off, &card(&r.world, at), 100, at);
    let pending = unsent(&off, at);
    assert!(r.hub.revoke_terminal(&first).unwrap());
    r.publish_something();
    // The first terminal's bundle, carried to the wrong counter.
    let wrong = r.hub.export_bundle(Some(&first)).unwrap();
    let d = off.import_bundle(&wrong, r.now()).unwrap();
    assert!(matches!(d, Downloaded::Applied { .. }), "{d:?}");
    assert_eq!(
        unsent(&off, at),
        pending,
        "another terminal's receipt marked records"
    );
    assert!(
        terminal_support::held(&off).listings_count().unwrap() > 0,
        "another terminal's revocation wiped this one"
    );
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_except_to_this_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, _) = demo_hub(&tmp.path().join("hub"), now().date_utc8()).unwrap();
    for url in [
        "http://192.0.2.7:8470",
        "http://credit.example.gov.cn",
        "ftp://127.0.0.1",
    ] {
        let code = hub.create_enrollment_code("demo-bus", None).unwrap().code;
        let e = Terminal::enroll(
            &Paths::new(tmp.path().join("t")),
            url,
            &code,
            "bus",
            &hub.registry_fingerprint(),
            None,
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("https://"), "{url}: {e}");
    }
    for ok in [
        "http://127.0.0.1:8470",
        "http://localhost:1/",
        "http://[::1]:8470",
        "https://credit.example.gov.cn",
    ] {
        assert!(xinyi::sync::client::normalize(ok).is_ok(), "{ok}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_hub_cannot_enroll_a_terminal_that_knows_the_fingerprint() {
    let tmp = tempfile::tempdir().unwrap();
    let (real, _) = demo_hub(&tmp.path().join("real"), now().date_utc8()).unwrap();
    let real = Arc::new(real);
    let server = Server::start(real.clone()).await.unwrap();
    // An impostor in the way answers the enrollment with a grant of its
    // own key; the technician has the real registry's fingerprint from the
    // credit office's letter.
    let proxy = Proxy::start(server.url()).await;
    proxy.set(Tamper::ImpostorGrant([0x77; 32]));
    let code = real.create_enrollment_code("demo-bus", None).unwrap().code;
    let paths = Paths::new(tmp.path().join("t"));
    let e = Terminal::enroll(
        &paths,
        &proxy.url(),
        &code,
        "bus",
        &real.registry_fingerprint(),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, TerminalError::Sync(s) if matches!(wire_err(s), Some(WireError::WrongKey { .. }))),
        "{e}"
    );
    // Nothing was pinned: the terminal is not enrolled, and enrolls with
    // the real hub once the impostor is gone (its code was never spent).
    let store = xinyi::store::Store::open(&paths.db).unwrap();
    assert!(store.identity().unwrap().is_none());
    drop(store);
    proxy.set(Tamper::Pass);
    let t = Terminal::enroll(
        &paths,
        &proxy.url(),
        &code,
        "bus",
        &real.registry_fingerprint(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        t.identity().registry_key,
        real.registry_public_key().to_bytes()
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eavesdropped_enrollment_enrolls_no_other_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, _) = demo_hub(&tmp.path().join("hub"), now().date_utc8()).unwrap();
    let hub = Arc::new(hub);
    let server = Server::start(hub.clone()).await.unwrap();
    let proxy = Proxy::start(server.url()).await;
    let code = hub.create_enrollment_code("demo-bus", None).unwrap().code;
    // The eavesdropper sees the request of a terminal that enrolls...
    let key = SigningKey::from_bytes(&[0x21; 32]);
    let thief = SigningKey::from_bytes(&[0x22; 32]);
    let seen = {
        let _ = xinyi::sync::client::enroll(
            &proxy.url(),
            &code,
            "bus",
            &key,
            &hub.registry_fingerprint(),
            None,
        )
        .await
        .unwrap();
        proxy.state.enrollments.lock().unwrap()[0].clone()
    };
    // ...which does not carry the code,
    let text = String::from_utf8(seen.clone()).unwrap();
    for part in code.split('-') {
        assert!(!text.contains(part), "the code crossed the wire: {text}");
    }
    // and does not enroll the eavesdropper's key, with its proof or anew.
    let mut req: serde_json::Value = serde_json::from_slice(&seen).unwrap();
    req["public_key"] =
        serde_json::json!(xinyi_core::hex::encode(thief.verifying_key().as_bytes()));
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/enroll", server.url()))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "{}", resp.text().await.unwrap());
    assert!(
        hub.terminal(&xinyi_core::wire::key_id(thief.verifying_key().as_bytes()))
            .unwrap()
            .is_none()
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_at_a_clock_set_back_does_not_lower_the_trusted_time() {
    let mut r = rig().await;
    let at = r.now();
    let card = card(&r.world, at);
    // The counter works on, two hours past the hub's last signed time.
    let ahead = UnixTime(at.0 + 7200);
    redeem(&mut r.terminal, &card, 100, ahead);
    // The clock is set back an hour: suspect, and it stays suspect for
    // every scan until the clock is right again, though each refusal is
    // journaled at the set-back time.
    let paths = r.terminal.paths().clone();
    let back = UnixTime(ahead.0 - 3600);
    for _ in 0..3 {
        // A fresh process each time: no monotonic carry helps.
        let mut t = Terminal::open(&paths).unwrap();
        assert_eq!(refused(&scan(&mut t, &card, back)), Some("CLOCK_SUSPECT"));
    }
    let mut t = Terminal::open(&paths).unwrap();
    assert_eq!(refused(&scan(&mut t, &card, UnixTime(ahead.0 + 60))), None);
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_error_answer_is_not_read() {
    let mut r = rig().await;
    // 256 MiB of error body: the terminal reads a line's worth and stops.
    r.proxy.set(Tamper::HugeError(256 << 20));
    let e = r.sync_down().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    let pulled = r.proxy.state.pulled.load(Ordering::Relaxed);
    assert!(
        pulled < 32 << 20,
        "the client pulled {pulled} bytes of an error answer"
    );
    r.card_still_verifies();
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_file_is_checked_before_the_rest_is_read() {
    let mut r = rig().await;
    r.publish_something();
    let dir = r._tmp.path();
    let bundle = r.hub.export_bundle(None).unwrap();
    // Padded with a gigabyte (sparse: the disk holds nothing): refused from
    // the signed sizes, before a byte past the metadata is read.
    let padded = dir.join("padded.xyb");
    std::fs::write(&padded, &bundle).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&padded)
        .unwrap()
        .set_len(bundle.len() as u64 + (1 << 30))
        .unwrap();
    let e = r.terminal.import_bundle_file(&padded, r.now()).unwrap_err();
    assert!(
        matches!(&e, TerminalError::Sync(SyncError::BundleSize { .. })),
        "{e}"
    );
    // A header claiming 4 GiB of metadata: refused from the header.
    let mut huge = bundle.clone();
    huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let path = dir.join("huge.xyb");
    std::fs::write(&path, &huge).unwrap();
    let e = r.terminal.import_bundle_file(&path, r.now()).unwrap_err();
    assert!(e.to_string().contains("allows"), "{e}");
    // The bundle itself applies.
    let good = dir.join("good.xyb");
    std::fs::write(&good, &bundle).unwrap();
    r.terminal.import_bundle_file(&good, r.now()).unwrap();
    r.card_still_verifies();
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_revocation_wipes_nothing_and_a_real_one_leaves_no_list_on_disk() {
    let mut r = rig().await;
    let id = r.terminal.identity().terminal_id.clone();
    // A notice for this terminal signed by another key, and one signed by
    // the registry for another terminal: neither wipes anything.
    let rogue = SigningKey::from_bytes(&[0x66; 32]);
    let notice = |terminal: &str| xinyi_core::wire::receipt::RevocationNotice {
        terminal: terminal.to_owned(),
        revoked_at: r.now().0,
        issued_at: r.now().0,
    };
    r.proxy.set(Tamper::Revoke(notice(&id).seal(&rogue)));
    assert!(!matches!(
        r.sync_down().await.unwrap_err(),
        SyncError::Revoked
    ));
    r.card_still_verifies();
    // The real thing.
    r.proxy.set(Tamper::Pass);
    let held: Vec<String> = r
        .world
        .registry
        .eligibility(&r.world.k_pseudo)
        .listings()
        .map(|l| l.sub.to_string())
        .collect();
    assert!(r.hub.revoke_terminal(&id).unwrap());
    assert!(matches!(
        r.sync_down().await.unwrap_err(),
        SyncError::Revoked
    ));
    // No listing's pseudonym is left in the terminal's files (the journal,
    // kept for upload, names only subjects it served: none here).
    let journal: Vec<String> = r
        .terminal
        .records(1000)
        .unwrap()
        .iter()
        .filter_map(|e| e.body.sub().map(str::to_owned))
        .collect();
    let mut bytes = std::fs::read(&r.terminal.paths().db).unwrap();
    if let Ok(wal) = std::fs::read(r.terminal.paths().db.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    for sub in held.iter().filter(|s| !journal.contains(s)) {
        assert!(
            !bytes.windows(sub.len()).any(|w| w == sub.as_bytes()),
            "pseudonym {sub} is still in the terminal's files"
        );
    }
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_enrolls_and_syncs_over_tls_with_the_registrys_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, world) = demo_hub(&tmp.path().join("hub"), now().date_utc8()).unwrap();
    let hub = Arc::new(hub);
    let cert = xinyi_hub::http::tls::self_signed(&[], &["127.0.0.1".parse().unwrap()], 30).unwrap();
    let server = Server::start_tls(
        hub.clone(),
        cert.cert_pem.as_bytes(),
        cert.key_pem.as_bytes(),
    )
    .await
    .unwrap();
    assert!(server.url().starts_with("https://"));
    // Without the credit office's certificate the system's roots do not
    // know it: refused, nothing enrolled.
    let code = hub.create_enrollment_code("demo-bus", None).unwrap().code;
    let paths = Paths::new(tmp.path().join("t"));
    let e = Terminal::enroll(
        &paths,
        &server.url(),
        &code,
        "bus",
        &hub.registry_fingerprint(),
        None,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("cannot reach the hub"), "{e}");
    // Pinned to it: enrolled, and every later sync uses it.
    let mut t = terminal_support::enroll(
        &hub,
        "demo-bus",
        &server.url(),
        paths.dir.as_path(),
        Some(&cert.cert_pem),
        now(),
    )
    .await;
    let reopened = Terminal::open(t.paths()).unwrap();
    assert_eq!(
        reopened.identity().hub_ca.as_deref(),
        Some(cert.cert_pem.as_str())
    );
    t.sync(now()).await.unwrap().0.unwrap();
    let at = now();
    redeem(&mut t, &card(&world, at), 100, at);
    assert_eq!(t.upload(at).await.unwrap().stored, 1);
    // Another certificate for the same address (an impostor in the
    // middle with its own) is refused.
    let other =
        xinyi_hub::http::tls::self_signed(&[], &["127.0.0.1".parse().unwrap()], 30).unwrap();
    let impostor = Server::start_tls(
        hub.clone(),
        other.cert_pem.as_bytes(),
        other.key_pem.as_bytes(),
    )
    .await
    .unwrap();
    let client = xinyi::sync::client::HubClient::new(
        &impostor.url(),
        terminal_support::signing_key(&t),
        Some(&cert.cert_pem),
    )
    .unwrap();
    assert!(client.metadata(0, 0, now()).await.is_err());
    impostor.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_lock_the_id_out_on_the_monotonic_clock_and_the_hub_hears_of_it() {
    use xinyi::terminal::SignIn;
    let mut r = rig().await;
    let at = r.now();
    let paths = r.terminal.paths().clone();
    // A known id with wrong PINs and an unknown one get the same answers.
    for id in [CLERK.0, "7777"] {
        for left in (1..xinyi::terminal::MAX_FAILURES).rev() {
            assert_eq!(
                r.terminal.authenticate(id, "0000", at).unwrap(),
                SignIn::Refused { tries_left: left },
                "{id}"
            );
        }
        let locked = r.terminal.authenticate(id, "0000", at).unwrap();
        assert_eq!(
            locked,
            SignIn::Locked {
                left_s: xinyi::terminal::lockout_s(1)
            },
            "{id}"
        );
    }
    // The right PIN waits too; a wall clock set a day forward does not end
    // the lockout, nor does a restart.
    assert!(matches!(
        r.terminal.authenticate(CLERK.0, CLERK.1, at).unwrap(),
        SignIn::Locked { .. }
    ));
    let tomorrow = UnixTime(at.0 + 86_400);
    assert!(matches!(
        r.terminal.authenticate(CLERK.0, CLERK.1, tomorrow).unwrap(),
        SignIn::Locked { .. }
    ));
    let mut restarted = Terminal::open(&paths).unwrap();
    assert!(matches!(
        restarted.authenticate(CLERK.0, CLERK.1, tomorrow).unwrap(),
        SignIn::Locked { .. }
    ));
    // Every failure and lockout is a record the hub receives.
    let staff: Vec<String> = r
        .terminal
        .records(100)
        .unwrap()
        .iter()
        .filter_map(|e| match &e.body {
            xinyi_core::wire::journal::Body::Staff { event, .. } => Some(event.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(staff.iter().filter(|e| *e == "sign_in_failed").count(), 10);
    assert_eq!(staff.iter().filter(|e| *e == "locked_out").count(), 2);
    r.terminal.upload(at).await.unwrap();
    let (head, _) = terminal_support::held(&r.terminal).journal_head().unwrap();
    let id = r.terminal.identity().terminal_id.clone();
    assert_eq!(r.hub.upload_status(&id).unwrap().held_through, head);
    r.server.stop().await.unwrap();
}
