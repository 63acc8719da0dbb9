//! Sync end to end: a real hub on 127.0.0.1 holding the listings, a
//! terminal enrolled over HTTP, and `Terminal::sync` — signed metadata,
//! the config and the compressed eligibility artefact downloaded, their
//! pinned hashes checked, the artefact inflated and applied in one
//! transaction proven by the set hash — first for the whole snapshot,
//! then for a delta after the registry imports changes.
//!
//! Bytes on the wire are counted by a relay on 127.0.0.1 between the
//! terminal and the hub: every byte of TCP payload in both directions
//! (HTTP headers and bodies; not the TCP/IP headers).
//!
//! The listings reach the hub the way departments send them: a CSV file
//! in the list standard's format (valid resident ID numbers and unified
//! social credit codes, check characters computed), imported by
//! `Hub::import_listings`. The import, and the hub building and caching
//! the artefact (once, for every terminal), are setup; their times are in
//! the notes.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{anyhow, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use xinyi::sync::Downloaded;
use xinyi::terminal::{Paths, Terminal};
use xinyi_core::Date;
use xinyi_hub::Hub;
use xinyi_hub::http::Server;

use crate::hub::{SITE, bench_hub, runtime};
use xinyi_testkit::Rng;

use crate::store::{count_label, now};
use crate::{Row, Scale};

const SECTION: &str = "sync";

const HEADER: &str =
    "kind,id_number,name,category,honour,source,recognised_on,valid_until,extension_ref,action\n";
const SURNAMES: [&str; 12] = [
    "陈", "林", "黄", "梁", "何", "许", "邓", "李", "张", "王", "刘", "冯",
];
const GIVEN: [&str; 12] = [
    "华", "明", "兰", "芳", "强", "英", "玲", "军", "燕", "伟", "秀", "志",
];
const USCC_CHARSET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// A resident ID number (GB 11643): 17 digits and the MOD 11-2 check.
fn resident_id(body: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = body
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize])
}

/// A unified social credit code (GB 32100): 17 characters and the MOD 31
/// check character.
fn uscc(body: &[u8; 17]) -> String {
    const W: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let value = |c: u8| USCC_CHARSET.iter().position(|&x| x == c).unwrap_or(0);
    let sum: usize = body.iter().zip(W).map(|(&c, w)| value(c) * w).sum();
    let check = USCC_CHARSET[(31 - sum % 31) % 31];
    let mut s: String = body.iter().map(|&c| char::from(c)).collect();
    s.push(char::from(check));
    s
}

/// Row `i` of the registry's listings, the same every time it is asked
/// for: one subject per row, one in ten an enterprise.
fn csv_row(out: &mut String, i: usize, today: Date, action: &str) {
    let mut rng = Rng::from_seed(0x5359_4e43 ^ (i as u64).wrapping_mul(0x9E37_79B9));
    let recognised = today.add_days(-(rng.index(700) as i64));
    if i % 10 == 9 {
        let mut body = *b"914417020000000000";
        let mut n = i;
        for c in body[8..17].iter_mut().rev() {
            *c = USCC_CHARSET[n % 31];
            n /= 31;
        }
        let mut body17 = [0u8; 17];
        body17.copy_from_slice(&body[..17]);
        let _ = writeln!(
            out,
            "enterprise,{},阳江市{}{}实业有限公司,E{:02},A级纳税人,市税务局,{recognised},,,{action}",
            uscc(&body17),
            GIVEN[rng.index(12)],
            i,
            1 + rng.index(9),
        );
    } else {
        let birth = Date::new(1950, 1, 1)
            .unwrap_or(today)
            .add_days((i / 999) as i64);
        let body = format!(
            "441702{:04}{:02}{:02}{:03}",
            birth.year(),
            birth.month(),
            birth.day(),
            i % 999 + 1
        );
        let _ = writeln!(
            out,
            "person,{},{}{}{},P{:02},2025年度荣誉,市文明办,{recognised},,,{action}",
            resident_id(&body),
            SURNAMES[rng.index(12)],
            GIVEN[rng.index(12)],
            GIVEN[rng.index(12)],
            1 + rng.index(13),
        );
    }
}

/// A listings file of rows `rows`, each with `action`.
pub(crate) fn csv(rows: impl Iterator<Item = (usize, &'static str)>, today: Date) -> String {
    let mut out = String::from(HEADER);
    for (i, action) in rows {
        csv_row(&mut out, i, today, action);
    }
    out
}

/// Counts the bytes relayed between the terminal and the hub.
struct Relay {
    addr: SocketAddr,
    down: Arc<AtomicU64>,
    up: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, count: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

impl Relay {
    async fn start(target: SocketAddr) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let down = Arc::new(AtomicU64::new(0));
        let up = Arc::new(AtomicU64::new(0));
        let (d, u) = (Arc::clone(&down), Arc::clone(&up));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (d, u) = (Arc::clone(&d), Arc::clone(&u));
                tokio::spawn(async move {
                    let Ok(hub) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = hub.set_nodelay(true);
                    let (client_r, client_w) = client.into_split();
                    let (hub_r, hub_w) = hub.into_split();
                    let upward = tokio::spawn(pump(client_r, hub_w, u));
                    pump(hub_r, client_w, d).await;
                    let _ = upward.await;
                });
            }
        });
        Ok(Relay {
            addr,
            down,
            up,
            task,
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (down, up) since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.down.swap(0, Ordering::Relaxed),
            self.up.swap(0, Ordering::Relaxed),
        )
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds and caches the artefact a terminal holding `have` will ask for;
/// returns the seconds it took.
fn warm(hub: &Hub, have: u64) -> anyhow::Result<f64> {
    let t = Instant::now();
    hub.eligibility_for(have)?
        .ok_or_else(|| anyhow!("the hub has nothing new for version {have}"))?;
    Ok(t.elapsed().as_secs_f64())
}

pub fn run(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let n = scale.pick(1_000_000, 10_000);
    let changes = scale.pick(10_000, 500);
    let dir = tempfile::tempdir()?;
    let today = now().date_utc8();
    let mut rng = Rng::from_seed(0x5359_4e43);
    let hub = bench_hub(&dir.path().join("hub"), today, &mut rng)?;

    let file = csv((0..n).map(|i| (i, "add")), today);
    let t = Instant::now();
    let imported = hub.import_listings(file.as_bytes())?;
    let import_s = t.elapsed().as_secs_f64();
    if imported.summary.added != n {
        bail!(
            "the hub imported {} of {n} listings",
            imported.summary.added
        );
    }
    drop(file);
    let snapshot_build_s = warm(&hub, 0)?;
    let setup = Setup {
        n,
        changes,
        today,
        import_s,
        snapshot_build_s,
    };
    runtime()?.block_on(measure(&Arc::new(hub), dir.path(), &setup))
}

/// What the sync measurement needs from the setup.
struct Setup {
    n: usize,
    changes: usize,
    today: Date,
    import_s: f64,
    snapshot_build_s: f64,
}

async fn measure(hub: &Arc<Hub>, dir: &Path, setup: &Setup) -> anyhow::Result<Vec<Row>> {
    let Setup {
        n,
        changes,
        today,
        import_s,
        snapshot_build_s,
    } = *setup;
    let label = count_label(n);
    let change_label = count_label(changes);
    let server = Server::start(Arc::clone(hub)).await?;
    let relay = Relay::start(server.addr()).await?;
    let paths = Paths::new(dir.join("terminal"));
    let code = hub.create_enrollment_code(SITE, None)?.code;
    let mut terminal = Terminal::enroll(
        &paths,
        &relay.url(),
        &code,
        "bench counter",
        &hub.registry_fingerprint(),
        None,
    )
    .await?;
    relay.take();

    // The snapshot.
    let t = Instant::now();
    let (down, up) = terminal.sync(now()).await?;
    let snapshot_s = t.elapsed().as_secs_f64();
    let (snap_down, snap_up) = relay.take();
    up?;
    match down? {
        Downloaded::Applied {
            from: 0,
            delta: false,
            listings,
            ..
        } if listings == n as u64 => {}
        other => bail!("the first sync did not apply the {label} snapshot: {other:?}"),
    }
    // Checked on a connection of its own, as an auditor would.
    let store = xinyi::store::Store::open(&terminal.paths().db)?;
    if store.listings_count()? != n as u64 {
        bail!("the terminal does not hold {n} listings");
    }
    let held = store.data_state()?.map_or(0, |s| s.version);
    drop(store);

    // The registry imports changes: half withdrawals of held listings,
    // half new listings.
    let withdrawn = changes / 2;
    let added = changes - withdrawn;
    let stride = (n / withdrawn.max(1)).max(1);
    let rows = (0..withdrawn)
        .map(|k| (k * stride, "withdraw"))
        .chain((n..n + added).map(|i| (i, "add")));
    let file = csv(rows, today);
    let t = Instant::now();
    let imported = hub.import_listings(file.as_bytes())?;
    let change_import_s = t.elapsed().as_secs_f64();
    if imported.summary.added != added || imported.summary.withdrawn != withdrawn {
        bail!(
            "the change import did not apply as planned: {}",
            imported.summary
        );
    }
    let delta_build_s = warm(hub, held)?;

    let t = Instant::now();
    let (down, up) = terminal.sync(now()).await?;
    let delta_s = t.elapsed().as_secs_f64();
    let (delta_down, delta_up) = relay.take();
    up?;
    match down? {
        Downloaded::Applied {
            delta: true,
            listings,
            ..
        } if listings == (n + added) as u64 => {}
        other => bail!("the second sync did not apply the delta: {other:?}"),
    }
    drop(relay);
    server.stop().await?;

    let snap_bytes = (snap_down + snap_up) as f64;
    let delta_bytes = (delta_down + delta_up) as f64;
    let per_listing = snap_bytes / n as f64;
    let per_change = delta_bytes / changes as f64;
    Ok(vec![
            Row::new(
                SECTION,
                &format!("{label}-listing snapshot sync, end to end"),
                snapshot_s,
                "s",
            )
            .note(format!(
                "a freshly enrolled terminal's Terminal::sync against a real hub on 127.0.0.1: signed metadata, config and zlib artefact downloaded, hashes checked, inflated, Store::apply proven by the set hash, committed; setup not timed: CSV import of {label} rows into the hub {import_s:.1} s, the hub building and caching the snapshot artefact {snapshot_build_s:.1} s"
            )),
            Row::new(
                SECTION,
                "snapshot sync rate",
                n as f64 / snapshot_s,
                "listings/s",
            )
            .note("listings held after the sync over its wall-clock time"),
            Row::new(
                SECTION,
                "snapshot bytes on the wire per listing",
                per_listing,
                "B/listing",
            )
            .note(format!(
                "{:.1} MB down and {:.1} kB up for {label} listings, TCP payload through a counting relay (HTTP headers and bodies)",
                snap_down as f64 / 1e6,
                snap_up as f64 / 1e3
            )),
            Row::new(
                SECTION,
                &format!("{change_label}-change delta sync, end to end"),
                delta_s * 1000.0,
                "ms",
            )
            .against("snapshot sync", snapshot_s * 1000.0)
            .note(format!(
                "after the registry imported {withdrawn} withdrawals and {added} new listings (import {change_import_s:.1} s, delta artefact built and cached {delta_build_s:.2} s, not timed); the same Terminal::sync, applying a delta on top of {label} listings"
            )),
            Row::new(
                SECTION,
                "delta bytes on the wire per changed listing",
                per_change,
                "B/listing",
            )
            .against("snapshot bytes per listing", per_listing)
            .note(format!(
                "{:.1} kB down and {:.1} kB up for {changes} changed listings",
                delta_down as f64 / 1e3,
                delta_up as f64 / 1e3
            )),
        ])
}
