//! The sync channel under attack and failure (TUF's threat model and
//! SQLite's atomic commit): a tampering proxy on 127.0.0.1 between a real
//! terminal and a real hub forges, replays, freezes, swaps, inflates and
//! cuts what the hub sends; each attack is refused with its own error
//! while the data held before stays intact and in use. Also: the hub down
//! for a while, resumed downloads, retried uploads, registry key rotation,
//! a clock set back, remote revocation, and sneakernet (bundle and records
//! files) giving the same result as HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use ed25519_dalek::SigningKey;
use xinyi::sync::{Downloaded, SyncError};
use xinyi::terminal::{Paths, Scan, Terminal, TerminalError, now};
use xinyi_core::wire::WireError;
use xinyi_core::wire::envelope;
use xinyi_core::wire::metadata::MetadataError;
use xinyi_core::{Fen, UnixTime};
use xinyi_hub::demo::DemoWorld;
use xinyi_hub::http::Server;
use xinyi_hub::seed::demo_hub;
use xinyi_hub::{Hub, ManualClock};

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
    /// Artefacts with one byte changed.
    CorruptArtefact,
    /// Artefacts with extra bytes after them.
    InflateArtefact,
    /// Artefacts cut after this many bytes (the connection drops).
    CutArtefact(usize),
    /// Uploads reach the hub but the answer is lost.
    LoseUploadAnswer,
}

#[derive(Debug, Default)]
struct ProxyState {
    upstream: String,
    tamper: Mutex<Tamper>,
    /// The last metadata the hub sent.
    last_metadata: Mutex<Vec<u8>>,
    /// Range headers seen on artefact requests.
    ranges: Mutex<Vec<String>>,
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
    if path.starts_with("/v1/artefacts/")
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
    let tamper = p.tamper.lock().unwrap().clone();
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
    if path.starts_with("/v1/artefacts/") && status.is_success() {
        match tamper {
            Tamper::CorruptArtefact => {
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
    let code = hub.create_enrollment_code("demo-bus", None).unwrap().code;
    let mut terminal = Terminal::enroll(
        &Paths::new(tmp.path().join("terminal")),
        &proxy.url(),
        &code,
        "bus",
        None,
    )
    .await
    .unwrap();
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
        self.terminal.store().data_state().unwrap().unwrap().version
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
    t.scan(code, TOPUP, "op", at).unwrap()
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
    t.confirm(&a, Some(Fen(fen)), 0, "op", at).unwrap();
}

fn wire_err(e: &SyncError) -> Option<&WireError> {
    match e {
        SyncError::Wire(w) | SyncError::Metadata(MetadataError::Wire(w)) => Some(w),
        SyncError::Client(xinyi::sync::client::ClientError::Wire(w)) => Some(w),
        SyncError::Store(xinyi::store::StoreError::Metadata(MetadataError::Wire(w))) => Some(w),
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
    assert!(
        matches!(wire_err(&e), Some(WireError::HashMismatch { .. })),
        "{e}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_download_resumes_where_it_stopped() {
    let r = rig().await;
    // A new terminal needs the whole snapshot: cut it after 100 bytes.
    let code = r.hub.create_enrollment_code("demo-bus", None).unwrap().code;
    let dir = r._tmp.path().join("second");
    let mut t = Terminal::enroll(&Paths::new(&dir), &r.proxy.url(), &code, "second", None)
        .await
        .unwrap();
    r.proxy.set(Tamper::CutArtefact(100));
    let (down, _) = t.sync(r.now()).await.unwrap();
    let e = down.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(t.store().data_state().unwrap().is_none());
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
    let code = hub.create_enrollment_code("demo-bus", None).unwrap().code;
    let mut t = Terminal::enroll(
        &Paths::new(tmp.path().join("t")),
        &server.url(),
        &code,
        "bus",
        None,
    )
    .await
    .unwrap();
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
        r.terminal.store().identity().unwrap().unwrap().registry_key,
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
    assert_eq!(r.terminal.store().listings_count().unwrap(), 0);
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
    let code = r.hub.create_enrollment_code("demo-bus", None).unwrap().code;
    let dir = r._tmp.path().join("offline");
    let mut off = Terminal::enroll(&Paths::new(&dir), &r.server.url(), &code, "offline", None)
        .await
        .unwrap();
    assert!(dir_of(&off).exists());
    r.publish_something();
    r.sync_down().await.unwrap();
    let bundle = r
        .hub
        .export_bundle(Some(&off.identity().terminal_id.clone()))
        .unwrap();
    let d = off.import_bundle(&bundle, r.now()).unwrap();
    assert!(matches!(d, Downloaded::Applied { from: 0, .. }));
    let by_file = off.store().data_state().unwrap().unwrap();
    let by_http = r.terminal.store().data_state().unwrap().unwrap();
    assert_eq!(
        (by_file.version, by_file.set_hash),
        (by_http.version, by_http.set_hash)
    );

    // Records go the other way, exactly once however often they are carried.
    let at = r.now();
    redeem(&mut off, &card(&r.world, at), 800, at);
    let (n, file) = off.export_records().unwrap();
    assert_eq!(n, 1);
    let (_, first) = r.hub.ingest_records(&file).unwrap();
    let (_, again) = r.hub.ingest_records(&file).unwrap();
    assert_eq!((first.stored, again.stored, again.duplicates), (1, 0, 1));
    // The next bundle for this terminal confirms them.
    let bundle = r
        .hub
        .export_bundle(Some(&off.identity().terminal_id.clone()))
        .unwrap();
    off.import_bundle(&bundle, r.now()).unwrap();
    assert_eq!(off.status(r.now()).unwrap().unsent, 0);

    // A tampered bundle is refused and the data stays.
    let held = off.store().data_state().unwrap().unwrap();
    r.publish_something();
    let mut bad = r.hub.export_bundle(None).unwrap();
    let last = bad.len() - 10;
    bad[last] ^= 0xFF;
    let e = off.import_bundle(&bad, r.now()).unwrap_err();
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert_eq!(
        off.store().data_state().unwrap().unwrap().version,
        held.version
    );
    // And a records file from a terminal the hub never enrolled is refused.
    let mut forged = file.clone();
    forged[6] ^= 0x01;
    assert!(r.hub.ingest_records(&forged).is_err());
    r.server.stop().await.unwrap();
}
