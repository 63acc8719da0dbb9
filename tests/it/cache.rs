//! Terminals behind a real HTTP cache: Debian's nginx with `proxy_cache`
//! on 127.0.0.1 in front of a real hub (through a relay that counts what
//! reaches the hub). Two terminals, each with its own key, sync the
//! vectors' data through it: the second one's artefacts, snapshot and
//! then delta, come from the cache without reaching the hub, while every
//! metadata request does. A damaged cache entry is caught by the hash the
//! signed metadata pins: those bytes are refused and the artefact is
//! fetched with a signed request, which no cache answers.
//!
//! Without nginx the tests say they did not run, unless
//! `XINYI_REQUIRE_NGINX` is set (as CI sets it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use xinyi::counter::Counter as _;
use xinyi::sync::Downloaded;
use xinyi::terminal::{Scan, Terminal};
use xinyi_core::UnixTime;
use xinyi_core::wire::metadata::ArtefactRef;
use xinyi_hub::http::Server;
use xinyi_hub::{Clock as _, Hub, ManualClock};
use xinyi_testkit::nginx::{Door, Nginx};
use xinyi_testkit::{first_at, id_number_of, vectors, withdrawal_of};

use crate::sync_loop::vector_hub;
use crate::terminal_support;

/// The vectors' hub behind a counting relay behind nginx.
struct Rig {
    hub: Arc<Hub>,
    clock: Arc<ManualClock>,
    server: Server,
    door: Door,
    nginx: Nginx,
    tmp: tempfile::TempDir,
}

async fn rig(test: &str) -> Option<Rig> {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, clock) = vector_hub(&tmp.path().join("hub"), &vectors());
    clock.set(first_at(&vectors()));
    let hub = Arc::new(hub);
    let server = Server::start(hub.clone()).await.unwrap();
    let door = Door::open(server.addr());
    let nginx = Nginx::caching(&tmp.path().join("nginx"), &door.addr().to_string(), test)?;
    Some(Rig {
        hub,
        clock,
        server,
        door,
        nginx,
        tmp,
    })
}

impl Rig {
    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// A terminal enrolled through the cache.
    async fn terminal(&self, name: &str) -> Terminal {
        let dir = self.tmp.path().join(name);
        terminal_support::enroll(
            &self.hub,
            "counter",
            &self.nginx.url(),
            &dir,
            None,
            self.now(),
        )
        .await
    }

    /// Requests for `prefix` that reached the hub.
    fn reached(&self, prefix: &str) -> usize {
        self.door.count("GET", prefix)
    }

    /// Syncs `t`, which must apply a new version.
    async fn sync(&self, t: &mut Terminal) -> Downloaded {
        let (down, up) = t.sync(self.now()).await.unwrap();
        up.unwrap();
        let down = down.unwrap();
        assert!(matches!(down, Downloaded::Applied { .. }), "{down:?}");
        down
    }
}

/// What `t` holds is what the hub published last.
fn holds_the_hubs_data(t: &Terminal, hub: &Hub) {
    let held = terminal_support::held(t).data_state().unwrap().unwrap();
    let published = hub.current_version().unwrap().unwrap();
    assert_eq!(
        (held.version, held.set_hash),
        (published.version, published.set_hash)
    );
}

fn is_delta(d: &Downloaded) -> bool {
    matches!(d, Downloaded::Applied { delta: true, .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_sync_through_an_http_cache() {
    let Some(r) = rig("terminals_sync_through_an_http_cache").await else {
        return;
    };
    let mut first = r.terminal("first").await;
    let mut second = r.terminal("second").await;
    assert_ne!(
        terminal_support::signing_key(&first).verifying_key(),
        terminal_support::signing_key(&second).verifying_key()
    );

    // The first terminal's config and snapshot fill the cache…
    r.sync(&mut first).await;
    holds_the_hubs_data(&first, &r.hub);
    assert_eq!(r.reached("/v1/a/"), 2, "{:?}", r.door.requests());
    // …and the second one's come from it.
    r.sync(&mut second).await;
    holds_the_hubs_data(&second, &r.hub);
    assert_eq!(r.reached("/v1/a/"), 2, "{:?}", r.door.requests());
    assert_eq!(r.reached("/v1/artefacts/"), 0);
    assert_eq!(r.reached("/v1/metadata"), 2);

    // A listing of the vectors is withdrawn: a delta, fetched once.
    let v = vectors();
    let qr = v["scenarios"][0]["steps"][0]["qr"].as_str().unwrap();
    let sub = xinyi_core::credential::decode(qr).unwrap().claims.sub;
    let (withdraw, _) = withdrawal_of(&id_number_of(&v, sub.as_str()));
    r.hub.import_listings(withdraw.as_bytes()).unwrap();
    let d = r.sync(&mut first).await;
    assert!(is_delta(&d), "{d:?}");
    assert_eq!(r.reached("/v1/a/"), 3, "{:?}", r.door.requests());
    let d = r.sync(&mut second).await;
    assert!(is_delta(&d), "{d:?}");
    assert_eq!(r.reached("/v1/a/"), 3, "{:?}", r.door.requests());
    holds_the_hubs_data(&second, &r.hub);
    // The cached delta is applied: the withdrawn listing is refused.
    let measure = terminal_support::measure("XYX-BUS-TOPUP");
    match second.scan(qr, &measure, "op", r.now()).unwrap() {
        Scan::Refused { refusal, .. } => assert_eq!(refusal.reason.code(), "LISTING_NOT_VALID"),
        Scan::Ok(_) => panic!("a withdrawn listing still verified"),
    }

    // Every metadata request reached the hub, none was kept.
    assert_eq!(r.reached("/v1/metadata"), 4);
    let (down, _) = second.sync(r.now()).await.unwrap();
    assert!(matches!(down.unwrap(), Downloaded::UpToDate { .. }));
    assert_eq!(r.reached("/v1/metadata"), 5);
    assert_eq!(r.reached("/v1/artefacts/"), 0);
    r.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_cache_entry_is_refused() {
    let Some(r) = rig("a_damaged_cache_entry_is_refused").await else {
        return;
    };
    let mut first = r.terminal("first").await;
    r.sync(&mut first).await;
    let snapshot = r.hub.eligibility_for(0).unwrap().unwrap().artefact;
    let address = format!("/v1/a/{}", snapshot.sha256.to_hex());

    // The cache's copy of the snapshot goes bad: it still serves it.
    r.nginx.damage(&address);
    let resp = reqwest::get(format!("{}{address}", r.nginx.url()))
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-cache-status"], "HIT");
    let served = ArtefactRef::of(&resp.bytes().await.unwrap());
    assert_eq!(served.length, snapshot.length);
    assert_ne!(served.sha256, snapshot.sha256);

    // A new terminal gets the bad bytes from the cache, refuses them
    // against the signed pin and fetches the snapshot signed, from the hub.
    let before = r.door.requests().len();
    let mut second = r.terminal("second").await;
    r.sync(&mut second).await;
    holds_the_hubs_data(&second, &r.hub);
    let signed = format!("/v1/artefacts/{}", snapshot.sha256.to_hex());
    let after: Vec<String> = r.door.requests().split_off(before);
    assert!(
        after
            .iter()
            .any(|l| l.starts_with(&format!("GET {signed} "))),
        "{after:?}"
    );
    assert!(
        !after.iter().any(|l| l.contains(&address)),
        "the cache did not serve the snapshot: {after:?}"
    );
    // Nothing of the download is left behind.
    let downloads = second.paths().downloads.clone();
    assert!(no_files(&downloads), "left in {}", downloads.display());
    r.server.stop().await.unwrap();
}

fn no_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}
