//! Limits and replay hold for the citizen, not for the counter
//! (`measures.md`, "Limits hold for the subject, not for the counter"):
//! two terminals at two sites of one hub over real HTTP on 127.0.0.1. A
//! limited measure's uses at one count at the other through the online
//! check, and through the published usage once the hub is unreachable; a
//! dynamic code redeemed at one is REPLAYED at the other; a slow
//! hub gives the offline verdict; uses that slipped through while both were
//! offline show in the over-use report as `offline`; a printed card is
//! confirmed only with the clerk's tick on the holder.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::sync_loop::vector_hub;
use crate::terminal_support::{self, clerk};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use xinyi::counter::Counter as _;
use xinyi::terminal::{Scan, Terminal, TerminalError};
use xinyi_core::history::Basis;
use xinyi_core::measures::Measure;
use xinyi_core::{Approval, Fen, Reason, UnixTime};
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, ManualClock, SiteSpec};
use xinyi_testkit::{Citizen, catalogue, citizen_for, first_at, vectors};

/// The sample catalogue's measure with the largest count limit (the bus
/// top-up), so one citizen can use it at both counters.
fn limited_measure() -> Measure {
    catalogue()
        .measures()
        .iter()
        .filter(|m| m.limit.is_some_and(|l| l.count >= 2))
        .max_by_key(|m| m.limit.map(|l| l.count))
        .cloned()
        .expect("the sample catalogue has a measure allowing 2 uses or more")
}

struct City {
    _tmp: tempfile::TempDir,
    hub: Arc<Hub>,
    clock: Arc<ManualClock>,
    server: Option<Server>,
    addr: SocketAddr,
    t1: Terminal,
    t2: Terminal,
    measure: Measure,
    at: UnixTime,
}

/// A hub with the vectors' data, two sites applying `measure` and a
/// terminal enrolled and synced at each; terminals reach the hub at
/// `via(hub address)` (the hub itself, or a proxy in front of it).
async fn city(via: impl AsyncFnOnce(SocketAddr) -> String) -> City {
    let v = vectors();
    let tmp = tempfile::tempdir().unwrap();
    let (hub, clock) = vector_hub(&tmp.path().join("hub"), &v);
    let measure = limited_measure();
    for id in ["bus-a", "bus-b"] {
        hub.add_site(&SiteSpec {
            id: id.into(),
            name: format!("公交充值点 {id}"),
            unit: measure.unit.clone(),
            measures: vec![measure.id.to_string()],
            ..Default::default()
        })
        .unwrap();
    }
    let hub = Arc::new(hub);
    let server = Server::start(hub.clone()).await.unwrap();
    let addr = server.addr();
    let url = via(addr).await;
    let at = first_at(&v);
    clock.set(at);
    let mut ts = Vec::new();
    for (i, site) in ["bus-a", "bus-b"].into_iter().enumerate() {
        let dir = tmp.path().join(format!("terminal-{i}"));
        let mut t = terminal_support::enroll(&hub, site, &url, &dir, None, at).await;
        let (down, up) = t.sync(at).await.unwrap();
        down.unwrap();
        up.unwrap();
        ts.push(t);
    }
    let t2 = ts.pop().unwrap();
    let t1 = ts.pop().unwrap();
    City {
        _tmp: tmp,
        hub,
        clock,
        server: Some(server),
        addr,
        t1,
        t2,
        measure,
        at,
    }
}

fn scan(t: &mut Terminal, code: &str, m: &Measure, at: UnixTime) -> Scan {
    let by = clerk(t, at);
    t.scan(code, &m.id, by.id(), at).unwrap()
}

fn approved(s: Scan) -> Approval {
    match s {
        Scan::Ok(a) => a,
        Scan::Refused { refusal, .. } => panic!("refused: {refusal:?}"),
    }
}

fn refused(s: Scan) -> Reason {
    match s {
        Scan::Ok(a) => panic!("approved: {a:?}"),
        Scan::Refused { refusal, .. } => refusal.reason,
    }
}

/// Scans a fresh code of `c` at `t`, expects OK checked `basis`, confirms
/// it with the clerk; the approval.
fn redeem(t: &mut Terminal, c: &mut Citizen, m: &Measure, at: UnixTime, basis: Basis) -> Approval {
    redeem_code(t, &c.dynamic_code(at), m, at, basis)
}

/// Scans `code` at `t`, expects OK checked `basis`, confirms it with the
/// clerk; the approval.
fn redeem_code(t: &mut Terminal, code: &str, m: &Measure, at: UnixTime, basis: Basis) -> Approval {
    let a = approved(scan(t, code, m, at));
    assert_eq!(a.basis, basis, "{a:?}");
    let by = clerk(t, at);
    t.confirm(&a, Some(Fen(1000)), 0, false, &by, at).unwrap();
    a
}

impl City {
    fn tick(&mut self, s: i64) -> UnixTime {
        self.at = UnixTime(self.at.0 + s);
        self.clock.set(self.at);
        self.at
    }

    async fn sync_both(&mut self) {
        let at = self.at;
        for t in [&mut self.t1, &mut self.t2] {
            let (down, up) = t.sync(at).await.unwrap();
            down.unwrap();
            up.unwrap();
        }
    }

    async fn upload_both(&mut self) {
        let at = self.at;
        self.t1.upload(at).await.unwrap();
        self.t2.upload(at).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_holds_across_two_counters_online_and_what_slips_through_offline_is_reported() {
    let mut city = city(async |a| format!("http://{a}")).await;
    let v = vectors();
    let m = city.measure.clone();
    let limit = m.limit.unwrap().count;
    let mut citizen = citizen_for(&v, &m.id, city.at, 0);

    // limit − 1 uses at the first counter, uploaded as they are made.
    for i in 0..limit - 1 {
        let at = city.tick(60);
        let a = redeem(&mut city.t1, &mut citizen, &m, at, Basis::Online);
        assert_eq!(a.used.map(|(n, _)| n), Some(i));
        city.t1.upload(at).await.unwrap();
    }
    // The last one at the other counter, which counts the first one's.
    let at = city.tick(60);
    let a = redeem(&mut city.t2, &mut citizen, &m, at, Basis::Online);
    assert_eq!(a.used.map(|(n, _)| n), Some(limit - 1));
    city.t2.upload(at).await.unwrap();
    // One more: refused at either counter.
    let at = city.tick(60);
    let code = citizen.dynamic_code(at);
    assert_eq!(
        refused(scan(&mut city.t1, &code, &m, at)),
        Reason::LimitReached
    );
    assert_eq!(
        refused(scan(&mut city.t2, &code, &m, at)),
        Reason::LimitReached
    );

    // The hub publishes the usage; both counters sync, then lose the hub:
    // the limit still holds, from the synced data.
    assert!(city.hub.publish_usage().unwrap().new_version);
    city.sync_both().await;
    city.server.take().unwrap().stop().await.unwrap();
    let at = city.tick(60);
    for t in [&mut city.t1, &mut city.t2] {
        let code = citizen.dynamic_code(at);
        assert_eq!(refused(scan(t, &code, &m, at)), Reason::LimitReached);
        let last = t.journal(1).unwrap().remove(0);
        assert_eq!(last.record.body.basis(), Some(Basis::Offline));
    }

    // Still offline: another citizen uses the measure limit − 1 times at
    // one counter and twice at the other, which cannot know.
    let mut other = citizen_for(&v, &m.id, city.at, 1);
    for _ in 0..limit - 1 {
        let at = city.tick(60);
        redeem(&mut city.t1, &mut other, &m, at, Basis::Offline);
    }
    for _ in 0..2 {
        let at = city.tick(60);
        redeem(&mut city.t2, &mut other, &m, at, Basis::Offline);
    }
    // The hub is back: the records arrive, and the over-use report shows
    // that citizen once, as slipped through offline, and nobody else.
    city.server = Some(Server::bind(city.hub.clone(), city.addr).await.unwrap());
    city.upload_both().await;
    let report = city.hub.overuse_report().unwrap();
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].sub, other.sub.to_string());
    assert_eq!(report[0].count, u64::from(limit) + 1);
    assert_eq!(report[0].how, "offline");

    // The counters take the new usage as a delta (their set hash checked
    // on applying it)…
    assert!(city.hub.publish_usage().unwrap().new_version);
    city.sync_both().await;
    // …and once the period is over, its usage is removed and the measure
    // can be used again.
    let (_, end) = m.limit.unwrap().per.bounds(city.at);
    let at = city.tick(end.0 - city.at.0 + 60);
    assert!(city.hub.publish_usage().unwrap().new_version);
    city.sync_both().await;
    let a = redeem(&mut city.t2, &mut citizen, &m, at, Basis::Online);
    assert_eq!(a.used.map(|(n, _)| n), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_code_redeemed_at_one_counter_is_replayed_at_another() {
    let mut city = city(async |a| format!("http://{a}")).await;
    let m = city.measure.clone();
    let mut citizen = citizen_for(&vectors(), &m.id, city.at, 0);
    let at = city.tick(60);
    let code = citizen.dynamic_code(at);
    redeem_code(&mut city.t1, &code, &m, at, Basis::Online);
    city.t1.upload(at).await.unwrap();
    let at = city.tick(30);
    assert_eq!(refused(scan(&mut city.t2, &code, &m, at)), Reason::Replayed);
    // The refusal says it was decided online.
    let last = city.t2.journal(1).unwrap().remove(0);
    assert_eq!(last.record.body.basis(), Some(Basis::Online));
    assert_eq!(last.record.body.reason(), Some("REPLAYED"));
    // A fresh code of the same citizen is fine.
    let fresh = citizen.dynamic_code(at);
    let a = approved(scan(&mut city.t2, &fresh, &m, at));
    assert_eq!(a.basis, Basis::Online);
    assert_eq!(a.used.map(|(n, _)| n), Some(1));

    // Offline, from synced data: the code redeemed at the first counter
    // is published, the second syncs and loses the hub, and still refuses
    // it within its lifetime.
    assert!(city.hub.publish_usage().unwrap().new_version);
    city.sync_both().await;
    city.server.take().unwrap().stop().await.unwrap();
    let at = city.tick(30);
    assert_eq!(refused(scan(&mut city.t2, &code, &m, at)), Reason::Replayed);
    let last = city.t2.journal(1).unwrap().remove(0);
    assert_eq!(last.record.body.basis(), Some(Basis::Offline));
    let a = approved(scan(&mut city.t2, &fresh, &m, at));
    assert_eq!(a.basis, Basis::Offline);
}

/// A TCP proxy in front of the hub that, while `slow` is set, holds every
/// piece of the hub's answers for `delay` before passing it on.
struct SlowProxy {
    addr: SocketAddr,
    slow: Arc<AtomicBool>,
    held: Arc<AtomicUsize>,
}

async fn slow_proxy(upstream: SocketAddr, delay: Duration) -> SlowProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let slow = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicUsize::new(0));
    let (s, h) = (slow.clone(), held.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (s, h) = (s.clone(), h.clone());
            tokio::spawn(async move {
                let Ok(up) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut up_read, mut up_write) = up.into_split();
                let (mut client_read, mut client_write) = client.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut up_write).await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match up_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if s.load(Ordering::SeqCst) {
                        h.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                    }
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    SlowProxy { addr, slow, held }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_slower_than_the_deadline_gives_the_offline_verdict() {
    // The proxy's address is known only once the hub runs: start the hub
    // first, then the proxy in front of it, and enroll through the proxy.
    let mut proxy = None;
    let mut city = city(async |hub| {
        let sp = slow_proxy(hub, Duration::from_secs(2)).await;
        let url = format!("http://{}", sp.addr);
        proxy = Some(sp);
        url
    })
    .await;
    let guard = proxy.take().unwrap();
    let m = city.measure.clone();
    let mut citizen = citizen_for(&vectors(), &m.id, city.at, 0);
    let at = city.tick(60);
    // Through a prompt hub the check is online.
    redeem(&mut city.t1, &mut citizen, &m, at, Basis::Online);
    // The hub now answers only after 2 s; the site allows 300 ms.
    guard.slow.store(true, Ordering::SeqCst);
    let at = city.tick(60);
    let a = redeem(&mut city.t1, &mut citizen, &m, at, Basis::Offline);
    // Its own earlier use still counts.
    assert_eq!(a.used.map(|(n, _)| n), Some(1));
    assert!(
        guard.held.load(Ordering::SeqCst) >= 1,
        "the check went to the proxy"
    );
    let last = city.t1.journal(1).unwrap().remove(0);
    assert_eq!(last.record.body.basis(), Some(Basis::Offline));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printed_card_is_confirmed_only_once_the_clerk_checked_its_holder() {
    let mut city = city(async |a| format!("http://{a}")).await;
    let m = city.measure.clone();
    let mut citizen = citizen_for(&vectors(), &m.id, city.at, 0);
    let at = city.tick(60);
    let card = citizen.printed_card(at);
    let a = approved(scan(&mut city.t1, &card, &m, at));
    assert!(city.t1.snapshot().holder_check_needed(&a));
    let by = clerk(&mut city.t1, at);
    let e = city
        .t1
        .confirm(&a, Some(Fen(1000)), 0, false, &by, at)
        .unwrap_err();
    assert!(matches!(e, TerminalError::HolderNotChecked), "{e}");
    assert_eq!(
        city.t1
            .records(10)
            .unwrap()
            .iter()
            .filter(|r| r.body.kind() == "redemption")
            .count(),
        0
    );
    city.t1
        .confirm(&a, Some(Fen(1000)), 0, true, &by, at)
        .unwrap();
    let last = city.t1.journal(1).unwrap().remove(0);
    assert_eq!(last.record.body.holder_checked(), Some(true));
    assert_eq!(last.record.body.basis(), Some(Basis::Online));
    // The hub keeps both.
    city.t1.upload(at).await.unwrap();
    let usage = city.hub.usage_report().unwrap();
    assert_eq!(usage.iter().map(|u| u.redemptions).sum::<u64>(), 1);
}
