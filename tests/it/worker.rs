//! The sync worker on its own thread: it uploads right after a redemption
//! when asked, downloads on request, reports status, and reports the hub
//! as unreachable when it is gone, without touching the data held.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::terminal_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use xinyi::counter::Counter as _;
use xinyi::sync::worker::{self, SyncStatus, WorkerConfig};
use xinyi::terminal::{Paths, Scan, now};
use xinyi_core::Fen;
use xinyi_demo::seed::demo_hub;
use xinyi_hub::http::Server;

/// Waits (bounded) for the worker's status to satisfy `ok`.
fn wait_for(
    handle: &worker::SyncHandle,
    what: &str,
    ok: impl Fn(&SyncStatus) -> bool,
) -> SyncStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = handle.status();
        if ok(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "worker never reached: {what}; last status {s:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_uploads_after_a_redemption_and_notices_the_hub_going_away() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, world) = demo_hub(&tmp.path().join("hub"), now().date_utc8()).unwrap();
    let hub = Arc::new(hub);
    let server = Server::start(hub.clone()).await.unwrap();
    let paths = Paths::new(tmp.path().join("terminal"));
    let mut t =
        terminal_support::enroll(&hub, "demo-bus", &server.url(), &paths.dir, None, now()).await;
    // Uploaded records are kept no time at all: the worker purges them.
    let mut settings = t.settings();
    settings.retention_s = 0;
    t.save_settings(&settings).unwrap();

    let mut cfg = WorkerConfig::new(
        paths.db.clone(),
        paths.downloads.clone(),
        server.url(),
        terminal_support::signing_key(&t),
    );
    // Long timers: everything below happens because it was asked for.
    cfg.download_every = Duration::from_secs(3600);
    cfg.upload_every = Duration::from_secs(3600);
    let handle = worker::spawn(cfg, Box::new(|_| {})).unwrap();
    // The first round syncs at start.
    // (The round's outcome is reported after its download.)
    let s = wait_for(&handle, "first round", |s| {
        s.last_download.is_some() && s.online.is_some()
    });
    assert_eq!(s.online, Some(true), "{s:?}");
    // The worker applied the data on its own connection; the counter takes
    // the new site when told, as the kiosk does on each worker report.
    assert!(t.refresh().unwrap(), "the new data was not noticed");

    let person = &world.sample_codes(now())[0];
    let Scan::Ok(a) = t
        .scan(
            &person.text,
            &terminal_support::measure("XYX-BUS-TOPUP"),
            "op",
            now(),
        )
        .unwrap()
    else {
        panic!("demo code refused")
    };
    let by = terminal_support::clerk(&mut t, now());
    let made = t
        .confirm(&a, Some(Fen(2000)), 0, true, &by, now())
        .unwrap()
        .record;
    assert_eq!(t.status(now()).unwrap().unsent, 1);
    // A second, so the redemption is not the last record (which stays).
    let card = &world.sample_codes(now())[1];
    let Scan::Ok(b) = t
        .scan(
            &card.text,
            &terminal_support::measure("XYX-BUS-TOPUP"),
            "op",
            now(),
        )
        .unwrap()
    else {
        panic!("demo card refused")
    };
    t.confirm(&b, Some(Fen(100)), 0, true, &by, now()).unwrap();
    handle.upload_now();
    wait_for(&handle, "upload of the redemptions", |s| {
        s.last_upload.is_some_and(|(_, u)| u.stored == 2)
    });
    assert_eq!(t.status(now()).unwrap().unsent, 0);
    // The worker purges what the hub confirmed (the kiosk never runs the
    // command line's sync) once the retention has passed: here, the next
    // second.
    let since = Instant::now();
    while terminal_support::held(&t)
        .entry(&made.id)
        .unwrap()
        .is_some()
    {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "the worker never purged"
        );
        handle.upload_now();
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        hub.usage_report()
            .unwrap()
            .iter()
            .map(|r| r.redemptions)
            .sum::<u64>(),
        2
    );

    // The hub goes away: the worker says so and the data stays.
    let version = terminal_support::held(&t)
        .data_state()
        .unwrap()
        .unwrap()
        .version;
    server.stop().await.unwrap();
    handle.sync_now();
    let s = wait_for(&handle, "offline", |s| s.online == Some(false));
    assert!(s.failures >= 1);
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot reach the hub")),
        "{s:?}"
    );
    assert_eq!(
        terminal_support::held(&t)
            .data_state()
            .unwrap()
            .unwrap()
            .version,
        version
    );
    // Verdicts go on offline.
    let card = &world.sample_codes(now())[1];
    assert!(matches!(
        t.scan(
            &card.text,
            &terminal_support::measure("XYX-BUS-TOPUP"),
            "op",
            now()
        )
        .unwrap(),
        Scan::Ok(_)
    ));
    handle.stop();
}
