//! Crash safety under SIGKILL (`design.md`, "Reliability" and "Sync"):
//! killing the terminal or the hub at any moment loses no confirmed
//! record and leaves no half-applied data.
//!
//! Each scenario re-runs this test binary as a child process and kills it
//! with SIGKILL at a random moment, then opens what it left on disk:
//!
//! 1. **Terminal while applying data.** The child applies a big snapshot
//!    (built with the core encoder, metadata signed by a test registry
//!    key) and then deltas, snapshot again, … for ever. After each kill
//!    the database passes `PRAGMA integrity_check`, its data version is the
//!    one held before the interrupted apply or the one it was applying,
//!    and the listings and exclusions actually held recompute to exactly
//!    the set hash of that version.
//! 2. **Terminal while appending records.** The child appends signed
//!    records and reports each seq on stdout once `append` has returned
//!    (committed), uploading now and then to a hub on 127.0.0.1. After
//!    each kill every reported seq is held, seqs have no gaps, the chain
//!    links and every signature verifies; then the parent uploads and the
//!    hub holds every record exactly once, also when batches are resent.
//! 3. **Hub while ingesting.** The child serves a hub; the parent uploads
//!    batches (new ones and resent ones) and the child is killed during
//!    the uploads, then restarted on the same data directory. After each
//!    kill the hub's database is intact, no acknowledged record is lost,
//!    and it holds each record once, as the terminal signed it, without
//!    gaps; at the end it holds all of them.
//! 4. **Hub while publishing.** The child revokes cards (each a new
//!    version) and now and then publishes every list again, reporting
//!    each version once made. After each kill every reported version is
//!    there, versions run 1, 2, 3… with none twice or missing, the latest
//!    is what the tables hold (publishing again finds nothing new), and a
//!    snapshot from nothing can be served.
//!
//! Scenarios 3 and 4 run twice: on SQLite, and with the registry in a
//! PostgreSQL database (the tests' own server, started from Debian's
//! `postgresql`; without it those two say they did not run).
//!
//! Every scenario runs 20 rounds by default; a separate command runs
//! hundreds:
//!
//! ```text
//! XINYI_CRASH_ROUNDS=500 cargo test --release --test crash -- --nocapture
//! ```
//!
//! `XINYI_CRASH_SEED` repeats a run's random draws (each scenario prints
//! its seed, and every round its kill delay), and `XINYI_CRASH_LISTINGS`
//! sizes the snapshot (50 000 listings in debug builds, 200 000 in
//! release builds). Nothing here asserts speed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod crash_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crash_support::{
    Killed, Proc, Rng, child_env, child_role, delay, emit, exit_with_parent, fail, scenario_rng,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rusqlite::Connection;
use xinyi::store::{Identity, Store};
use xinyi::sync::client::HubClient;
use xinyi::terminal::now;
use xinyi_core::category::Category;
use xinyi_core::eligibility::{EligibilityEntry, ExclusionEntry};
use xinyi_core::history::Basis;
use xinyi_core::ids::SubjectId;
use xinyi_core::verdict::VerifierData;
use xinyi_core::wire::config::{Config, Site};
use xinyi_core::wire::eligibility::{ArtefactKind, Header, Item, SetHash, encode};
use xinyi_core::wire::enroll::EnrollRequest;
use xinyi_core::wire::journal::{Body, Checked, Record, check_chain};
use xinyi_core::wire::metadata::Metadata;
use xinyi_core::wire::{Digest32, key_id};
use xinyi_core::{Date, hex};
use xinyi_demo::seed::demo_hub;
use xinyi_hub::Hub;
use xinyi_hub::http::Server;

const APPLY_TEST: &str = "terminal_killed_while_applying_data";
const JOURNAL_TEST: &str = "terminal_killed_while_appending_records";
const HUB_TEST: &str = "hub_killed_while_ingesting_uploads";
const HUB_PG_TEST: &str = "hub_on_postgres_killed_while_ingesting_uploads";
const PUBLISH_TEST: &str = "hub_killed_while_publishing";
const PUBLISH_PG_TEST: &str = "hub_on_postgres_killed_while_publishing";

/// How long the parent waits for a line a healthy child must write.
const PATIENCE: Duration = Duration::from_secs(300);

/// A child runs its role until it is killed; it never returns.
fn child_main(role: &str) -> ! {
    exit_with_parent();
    match role {
        "apply" => apply_child(),
        "journal" => journal_child(),
        "hub" => hub_child(),
        "publish" => publish_child(),
        other => fail(format_args!("unknown crash child role {other:?}")),
    }
}

fn integrity_ok(path: &Path) -> Connection {
    let conn = Connection::open(path)
        .unwrap_or_else(|e| panic!("{} does not open after the kill: {e}", path.display()));
    let check: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        check,
        ["ok"],
        "{} is damaged after the kill",
        path.display()
    );
    let fk: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0, "{}: foreign keys broken", path.display());
    conn
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn ms(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{} ms", us / 1000, us % 1000 / 100)
}

// ====================================================== 1. apply under kill

/// Versions cycle through this many contents.
const CLASSES: u64 = 5;
/// Version v is a snapshot when v % SNAPSHOT_EVERY == 1, else a delta.
const SNAPSHOT_EVERY: u64 = 4;
/// Listing i is withdrawn in class c when i % MODULUS == c, and absent
/// when i % MODULUS == ABSENT + c.
const MODULUS: u64 = 100;
const ABSENT: u64 = 50;

fn listing_count() -> u64 {
    std::env::var("XINYI_CRASH_LISTINGS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            50_000
        } else {
            200_000
        })
        .max(MODULUS)
}

fn exclusion_count(listings: u64) -> u64 {
    (listings / 100).max(10)
}

fn class_of(version: u64) -> u64 {
    version % CLASSES
}

fn subject(i: u64) -> SubjectId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(b"xinyi-cr");
    b[8..].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    SubjectId::from_bytes(&b)
}

fn day0() -> Date {
    Date::new(2025, 1, 1).unwrap()
}

fn listing(i: u64, withdrawn: bool) -> EligibilityEntry {
    let category = Category::all().nth((i % 22) as usize).unwrap();
    let valid_from = day0().add_days((i % 365) as i64);
    EligibilityEntry {
        sub: subject(i),
        kind: category.kind(),
        category,
        valid_from,
        valid_until: valid_from.add_years(2),
        withdrawn,
        display_name: format!("陈*{}", i % 10),
    }
}

fn exclusion_sub(j: u64) -> SubjectId {
    subject(j * 7)
}

fn exclusion_from(j: u64) -> Date {
    day0().add_days((j % 3) as i64)
}

fn exclusion(j: u64, class: u64) -> ExclusionEntry {
    let until = if j % CLASSES == (class + 1) % CLASSES {
        Date::new(2029, 1, 1).unwrap()
    } else {
        Date::new(2028, 1, 1).unwrap()
    };
    ExclusionEntry {
        sub: exclusion_sub(j),
        from: exclusion_from(j),
        until,
    }
}

/// Every member of the set a version of class `c` holds.
fn content(n: u64, c: u64) -> Vec<Item> {
    let mut items = Vec::with_capacity(n as usize);
    for i in 0..n {
        let r = i % MODULUS;
        if r != ABSENT + c {
            items.push(Item::Listing(listing(i, r == c)));
        }
    }
    for j in 0..exclusion_count(n) {
        if j % CLASSES != c {
            items.push(Item::Exclusion(exclusion(j, c)));
        }
    }
    items
}

/// The delta from class `a` to class `b` = a + 1: upserts, removals,
/// re-additions, changed and unchanged exclusions.
fn delta_items(n: u64, a: u64, b: u64) -> Vec<Item> {
    assert_eq!(b, (a + 1) % CLASSES);
    let mut items = Vec::new();
    for i in 0..n {
        let r = i % MODULUS;
        if r == a || r == ABSENT + a {
            items.push(Item::Listing(listing(i, false)));
        } else if r == b {
            items.push(Item::Listing(listing(i, true)));
        } else if r == ABSENT + b {
            let l = listing(i, false);
            items.push(Item::RemoveListing {
                sub: l.sub,
                category: l.category,
                valid_from: l.valid_from,
            });
        }
    }
    for j in 0..exclusion_count(n) {
        let r = j % CLASSES;
        if r == a || r == (b + 1) % CLASSES || r == (b + 2) % CLASSES {
            // Added, changed (until), or sent again unchanged.
            items.push(Item::Exclusion(exclusion(j, b)));
        } else if r == b {
            items.push(Item::RemoveExclusion {
                sub: exclusion_sub(j),
                from: exclusion_from(j),
            });
        }
    }
    items
}

/// What a version of one class holds: the set hash and the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClassSet {
    hash: Digest32,
    listings: u64,
    exclusions: u64,
}

fn class_set(items: &[Item]) -> ClassSet {
    let mut h = SetHash::new();
    let (mut listings, mut exclusions) = (0, 0);
    for i in items {
        h.add(i);
        match i {
            Item::Listing(_) => listings += 1,
            Item::Exclusion(_) => exclusions += 1,
            _ => unreachable!("a set holds no removals"),
        }
    }
    ClassSet {
        hash: h.digest(),
        listings,
        exclusions,
    }
}

fn encode_classes(c: &[ClassSet]) -> String {
    c.iter()
        .map(|s| format!("{}:{}:{}", s.hash.to_hex(), s.listings, s.exclusions))
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_classes(s: &str) -> Vec<ClassSet> {
    s.split(',')
        .map(|c| {
            let mut p = c.split(':');
            ClassSet {
                hash: Digest32::from_hex(p.next().unwrap()).unwrap(),
                listings: p.next().unwrap().parse().unwrap(),
                exclusions: p.next().unwrap().parse().unwrap(),
            }
        })
        .collect()
}

/// The test registry's key (the terminal would have pinned its public
/// half at enrollment).
fn registry_key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}

fn config_bytes() -> Vec<u8> {
    Config {
        trust: Vec::new(),
        revoked_cards: Vec::new(),
        catalogue: xinyi_demo::catalogue_toml(Date::new(2026, 3, 10).unwrap()),
        sites: vec![Site {
            id: "crash-bus".into(),
            name: "crash test counter".into(),
            unit: "测试单位".into(),
            measures: vec!["XYX-BUS-TOPUP".into()],
            max_offline_age_s: 400 * 86_400,
            void_window_s: xinyi_core::wire::config::DEFAULT_VOID_WINDOW_S,
            unattended: false,
            online_deadline_ms: xinyi_core::wire::config::DEFAULT_ONLINE_DEADLINE_MS,
            check_holder: true,
            objection_url: None,
            complaint_url: None,
        }],
    }
    .to_bytes()
}

/// Signed metadata for `version` holding `set`, announcing `raw` applying
/// from `from` (0: a snapshot), opened again with the public key.
fn signed_metadata(
    key: &SigningKey,
    version: u64,
    set: ClassSet,
    config: &[u8],
    raw: &[u8],
    from: u64,
) -> Metadata {
    let t = now().0;
    xinyi_testkit::Publication {
        version,
        issued_at: t - 60,
        expires_at: t + 86_400,
        set_hash: set.hash,
        listings: set.listings,
        exclusions: set.exclusions,
        config,
        eligibility: Some((from, raw)),
    }
    .sealed(key)
}

/// The child: applies version after version until it is killed. Writes
/// `start V` (held at start), `begin V` right before `Store::apply` and
/// `done V` right after it returned.
fn apply_child() -> ! {
    let db = child_env("XINYI_CRASH_DB");
    let n: u64 = child_env("XINYI_CRASH_LISTINGS").parse().unwrap();
    let classes = decode_classes(&child_env("XINYI_CRASH_CLASSES"));
    let key = registry_key();
    let config = config_bytes();
    let parsed = Config::parse(&config).unwrap_or_else(|e| fail(e));
    let mut store = Store::open(&db).unwrap_or_else(|e| fail(e));
    let mut held = store
        .data_state()
        .unwrap_or_else(|e| fail(e))
        .map_or(0, |s| s.version);
    emit(format_args!("start {held}"));
    loop {
        let v = held + 1;
        let snapshot = held == 0 || v % SNAPSHOT_EVERY == 1;
        let (kind, from, items) = if snapshot {
            (ArtefactKind::Snapshot, 0, content(n, class_of(v)))
        } else {
            (
                ArtefactKind::Delta,
                held,
                delta_items(n, class_of(held), class_of(v)),
            )
        };
        let raw = encode(
            Header {
                kind,
                from,
                to: v,
                items: 0,
            },
            &items,
        );
        drop(items);
        let meta = signed_metadata(&key, v, classes[class_of(v) as usize], &config, &raw, from);
        let config = (held == 0).then_some((config.as_slice(), &parsed));
        emit(format_args!("begin {v}"));
        if let Err(e) = store.apply(&meta, config, Some(&raw), now()) {
            fail(format_args!("applying version {v}: {e}"));
        }
        emit(format_args!("done {v}"));
        held = v;
    }
}

/// What the child said before it was killed.
#[derive(Debug, Default)]
struct ApplyLog {
    start: Option<u64>,
    last_begun: Option<u64>,
    last_done: Option<u64>,
    applied: u64,
}

fn apply_log(killed: &Killed) -> ApplyLog {
    let mut log = ApplyLog::default();
    for l in &killed.lines {
        let (what, v) = l.text.split_once(' ').unwrap();
        let v: u64 = v.parse().unwrap();
        match what {
            "start" => log.start = Some(v),
            "begin" => log.last_begun = Some(v),
            "done" => {
                assert_eq!(log.last_begun, Some(v), "done without begin");
                log.last_done = Some(v);
                log.applied += 1;
            }
            other => panic!("unexpected line {other:?}"),
        }
    }
    log
}

/// Where a kill landed relative to `Store::apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApplyKill {
    /// Before the child's first apply began (start-up, building the artefact).
    BeforeApply,
    /// Inside `apply`, and the version held before survived.
    DuringKeptOld,
    /// Inside `apply` (or right after its commit, before `done` was
    /// written), and the new version is held.
    DuringGotNew,
    /// Between two applies, after at least one completed.
    Between,
}

/// Reads every listing and exclusion held, straight from the file.
fn held_items(conn: &Connection) -> Vec<Item> {
    let mut items = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT sub, category, valid_from, valid_until, withdrawn, display_name FROM listings",
        )
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let category: Category = r.get::<_, String>(1).unwrap().parse().unwrap();
        items.push(Item::Listing(EligibilityEntry {
            sub: SubjectId::parse(&r.get::<_, String>(0).unwrap()).unwrap(),
            kind: category.kind(),
            category,
            valid_from: r.get::<_, String>(2).unwrap().parse().unwrap(),
            valid_until: r.get::<_, String>(3).unwrap().parse().unwrap(),
            withdrawn: r.get(4).unwrap(),
            display_name: r.get(5).unwrap(),
        }));
    }
    let mut stmt = conn
        .prepare("SELECT sub, excluded_from, excluded_until FROM exclusions")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        items.push(Item::Exclusion(ExclusionEntry {
            sub: SubjectId::parse(&r.get::<_, String>(0).unwrap()).unwrap(),
            from: r.get::<_, String>(1).unwrap().parse().unwrap(),
            until: r.get::<_, String>(2).unwrap().parse().unwrap(),
        }));
    }
    items
}

/// Opens what a killed apply child left and checks it holds exactly one
/// whole version; returns that version and where the kill landed.
fn check_after_apply_kill(
    db: &Path,
    n: u64,
    classes: &[ClassSet],
    before: Option<u64>,
    killed: &Killed,
    rng: &mut Rng,
) -> (Option<u64>, ApplyKill) {
    let log = apply_log(killed);
    if let Some(start) = log.start {
        assert_eq!(
            start,
            before.unwrap_or(0),
            "the child started from another version than the one checked"
        );
    }
    let old = log.last_done.or(before);
    let in_flight = log.last_begun.filter(|b| Some(*b) != log.last_done);

    // The file opens and is whole.
    let conn = integrity_ok(db);
    // The store opens it (schema current, no error).
    let store = Store::open(db).expect("the store opens after the kill");
    let state = store.data_state().expect("data_state reads");
    let held = state.as_ref().map(|s| s.version);

    let kill = match (in_flight, log.last_done) {
        (Some(v), _) if held == Some(v) => ApplyKill::DuringGotNew,
        (Some(_), _) => ApplyKill::DuringKeptOld,
        (None, None) => ApplyKill::BeforeApply,
        (None, Some(_)) => ApplyKill::Between,
    };
    assert!(
        held == old || (held.is_some() && held == in_flight),
        "after a kill {} the store holds version {held:?}; it must be the old {old:?} or the one being applied {in_flight:?}",
        ms(killed.killed_at)
    );

    let items = held_items(&conn);
    match &state {
        None => assert!(
            items.is_empty(),
            "no version is recorded but {} listings/exclusions are held",
            items.len()
        ),
        Some(s) => {
            let expected = classes[class_of(s.version) as usize];
            let found = class_set(&items);
            assert_eq!(
                found.hash, s.set_hash,
                "version {}: the rows held do not hash to the recorded set hash",
                s.version
            );
            assert_eq!(
                found, expected,
                "version {}: the rows held are not the set published for it",
                s.version
            );
            assert_eq!(
                (s.listings, s.exclusions),
                (expected.listings, expected.exclusions)
            );
            // The config came with the first version and stays whole.
            let sites: i64 = conn
                .query_row("SELECT count(*) FROM sites", [], |r| r.get(0))
                .unwrap();
            let catalogue: i64 = conn
                .query_row("SELECT count(*) FROM catalogue", [], |r| r.get(0))
                .unwrap();
            assert_eq!((sites, catalogue), (1, 1), "the config is not whole");
            // Verdicts read the same through the store's query API.
            let c = class_of(s.version);
            for _ in 0..4 {
                let i = rng.below(n);
                let r = i % MODULUS;
                let expect = if r == ABSENT + c {
                    vec![]
                } else {
                    vec![listing(i, r == c)]
                };
                assert_eq!(
                    store.listings_of(&subject(i)).unwrap(),
                    expect,
                    "listing {i}"
                );
                let j = rng.below(exclusion_count(n));
                let got = store.exclusions_of(&exclusion_sub(j)).unwrap();
                if j % CLASSES == c {
                    assert!(got.is_empty(), "exclusion {j} is held in class {c}");
                } else {
                    assert!(got.contains(&exclusion(j, c)), "exclusion {j}: {got:?}");
                }
            }
        }
    }
    (held, kill)
}

#[test]
fn terminal_killed_while_applying_data() {
    if let Some(role) = child_role() {
        child_main(&role);
    }
    let mut rng = scenario_rng("apply");
    let rounds = crash_support::rounds();
    let n = listing_count();
    let classes: Vec<ClassSet> = (0..CLASSES).map(|c| class_set(&content(n, c))).collect();
    for (a, b) in classes.iter().zip(classes.iter().skip(1)) {
        assert_ne!(a.hash, b.hash, "adjacent versions must differ");
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("terminal.db");
    let envs = [
        ("XINYI_CRASH_DB", db.display().to_string()),
        ("XINYI_CRASH_LISTINGS", n.to_string()),
        ("XINYI_CRASH_CLASSES", encode_classes(&classes)),
    ];

    let mut held: Option<u64> = None;
    let mut span: Option<Duration> = None;
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    let mut applied = 0;
    for round in 0..rounds {
        let mut child = Proc::spawn(APPLY_TEST, "apply", &envs);
        let killed = match span {
            Some(span) => {
                let delay = delay(&mut rng, span);
                println!("[apply] round {round}: kill after {}", ms(delay));
                child.kill_at(delay)
            }
            None => {
                // Calibration: let two versions complete, so later kills
                // drawn up to a bit beyond that land before, inside and
                // between applies.
                child.wait_for(PATIENCE, |t| t.starts_with("done "));
                let second = child.wait_for(PATIENCE, |t| t.starts_with("done "));
                span = Some(second.at.mul_f64(1.3));
                println!(
                    "[apply] round {round}: two versions applied in {}, later kills within {}",
                    ms(second.at),
                    ms(span.unwrap())
                );
                child.kill()
            }
        };
        let (now_held, kill) = check_after_apply_kill(&db, n, &classes, held, &killed, &mut rng);
        applied += apply_log(&killed).applied;
        println!(
            "[apply] round {round}: killed at {}: {kill:?}, holds version {now_held:?}",
            ms(killed.killed_at)
        );
        *tally.entry(format!("{kill:?}")).or_default() += 1;
        held = now_held;
    }
    println!(
        "[apply] {rounds} rounds, {n} listings, {applied} versions applied to completion, final version {held:?}; kills: {tally:?}"
    );
    assert!(held.is_some(), "no version was ever applied");
}

// ================================================== 2. journal under kill

/// Enrolls `key` at `site` directly through the hub (as `/v1/enroll`
/// would).
fn enroll_key(hub: &Hub, key: &SigningKey, site: &str) -> String {
    let code = hub.create_enrollment_code(site, None).unwrap().code;
    hub.enroll(&EnrollRequest::new(
        &code,
        &key.verifying_key(),
        &hub.registry_fingerprint(),
        "crash test",
    ))
    .unwrap();
    key_id(key.verifying_key().as_bytes())
}

/// A terminal store enrolled as `key` with the hub's registry key.
fn prepare_terminal(db: &Path, key: &SigningKey, registry: &VerifyingKey, url: &str) {
    let mut store = Store::open(db).unwrap();
    store
        .set_identity(&Identity {
            terminal_id: key_id(key.verifying_key().as_bytes()),
            site_id: "demo-bus".into(),
            registry_key: registry.to_bytes(),
            hub_url: Some(url.into()),
            hub_ca: None,
        })
        .unwrap();
}

fn random_body(rng: &mut Rng) -> Body {
    let sub = SubjectId::from_bytes(&rng.bytes::<16>()).to_string();
    match rng.below(10) {
        0..=7 => Body::Redemption {
            measure: "XYX-BUS-TOPUP".into(),
            sub,
            cti: rng.bytes::<12>().to_vec(),
            form: u8::from(rng.percent(25)),
            categories: vec!["P02".into()],
            original: 2000,
            discount: 1000,
            payable: 1000,
            companions: 0,
            checked: Some(Checked {
                basis: Basis::Offline,
                holder: rng.percent(50),
            }),
        },
        _ => Body::Refusal {
            reason: "NOT_LISTED".into(),
            measure: "XYX-BUS-TOPUP".into(),
            sub: Some(sub),
            cti: Some(rng.bytes::<12>().to_vec()),
            detail: "subject is on no list".into(),
            basis: Some(Basis::Offline),
        },
    }
}

fn signing_key(hex_key: &str) -> SigningKey {
    SigningKey::from_bytes(&hex::decode_array(hex_key).unwrap())
}

/// The child: appends records for ever, writing `rec SEQ` once `append`
/// has returned, and now and then uploads (`up HELD_THROUGH` once the
/// upload and the marking returned).
fn journal_child() -> ! {
    let db = child_env("XINYI_CRASH_DB");
    let key = signing_key(&child_env("XINYI_CRASH_KEY"));
    let url = child_env("XINYI_CRASH_HUB");
    let mut rng = Rng::from_seed(child_env("XINYI_CRASH_CHILD_SEED").parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = HubClient::new(&url, key.clone(), None).unwrap_or_else(|e| fail(e));
    let mut store = Store::open(&db).unwrap_or_else(|e| fail(e));
    let (head, _) = store.journal_head().unwrap_or_else(|e| fail(e));
    emit(format_args!("start {head}"));
    loop {
        let entry = store
            .append(&key, "op-1", now(), random_body(&mut rng))
            .unwrap_or_else(|e| fail(format_args!("append: {e}")));
        emit(format_args!("rec {}", entry.seq));
        if rng.percent(3) {
            match rt.block_on(xinyi::sync::upload(&mut store, &client, now())) {
                Ok(up) => emit(format_args!("up {}", up.held_through)),
                Err(e) => fail(format_args!("upload: {e}")),
            }
        }
    }
}

/// The seqs and hashes of a terminal's journal, straight from the file.
fn journal_hashes(conn: &Connection) -> Vec<(u64, Digest32)> {
    let mut stmt = conn
        .prepare("SELECT seq, hash FROM journal ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        let hash: Vec<u8> = r.get(1)?;
        Ok((
            r.get::<_, i64>(0)? as u64,
            Digest32(hash.try_into().unwrap()),
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Where a kill landed relative to a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JournalKill {
    /// Before the child appended anything.
    BeforeAppend,
    /// The last committed record was reported.
    AfterReport,
    /// A record was committed but killed before its seq was written out.
    CommittedUnreported,
}

/// Checks the journal a killed child left against what it reported.
/// `known` holds the hashes of records 1..=n checked before; it grows.
fn check_journal_after_kill(
    db: &Path,
    vk: &VerifyingKey,
    terminal: &str,
    known: &mut Vec<Digest32>,
    killed: &Killed,
) -> (JournalKill, u64) {
    let before = known.len() as u64;
    let mut reported = Vec::new();
    let mut uploaded_through = 0;
    for l in &killed.lines {
        let (what, v) = l.text.split_once(' ').unwrap();
        let v: u64 = v.parse().unwrap();
        match what {
            "start" => assert_eq!(v, before, "the child started from another head"),
            "rec" => reported.push(v),
            "up" => uploaded_through = uploaded_through.max(v),
            other => panic!("unexpected line {other:?}"),
        }
    }
    for (k, seq) in reported.iter().enumerate() {
        assert_eq!(*seq, before + 1 + k as u64, "reported seqs skip or repeat");
    }
    let last_reported = reported.last().copied().unwrap_or(before);

    let conn = integrity_ok(db);
    let store = Store::open(db).expect("the store opens after the kill");
    let (head, head_hash) = store.journal_head().unwrap();
    assert!(
        head >= last_reported,
        "record {last_reported} was reported committed, but the journal ends at {head}"
    );
    assert!(
        head <= last_reported + 1,
        "the journal ends at {head}, beyond the one record that may be committed unreported after {last_reported}"
    );
    let kill = if head == last_reported + 1 {
        JournalKill::CommittedUnreported
    } else if reported.is_empty() {
        JournalKill::BeforeAppend
    } else {
        JournalKill::AfterReport
    };

    // No gaps, nothing held before changed.
    let hashes = journal_hashes(&conn);
    assert_eq!(hashes.len() as u64, head, "the journal has gaps");
    for (k, (seq, hash)) in hashes.iter().enumerate() {
        assert_eq!(*seq, k as u64 + 1, "the journal has a gap before seq {seq}");
        if let Some(old) = known.get(k) {
            assert_eq!(hash, old, "record {seq} changed after it was committed");
        }
    }
    // The new records: signed by the terminal's key, chained.
    let new = store.records_from(before + 1, usize::MAX).unwrap();
    assert_eq!(new.len() as u64, head - before);
    let mut chain = Vec::new();
    for e in &new {
        let opened: Record = e
            .signed
            .open(vk)
            .unwrap_or_else(|err| panic!("record {}: {err}", e.seq));
        assert_eq!(opened, e.record);
        assert_eq!(opened.seq, e.seq);
        assert_eq!(e.signed.hash(), e.hash);
        chain.push((opened, e.hash));
    }
    let prev = known.last().map(|h| (before, *h));
    check_chain(terminal, prev, &chain).unwrap_or_else(|e| panic!("broken chain: {e}"));
    if let Some(last) = new.last() {
        assert_eq!((last.seq, last.hash), (head, head_hash));
    }
    // What an upload confirmed stays confirmed.
    let marked: i64 = conn
        .query_row(
            "SELECT count(*) FROM journal WHERE seq <= ?1 AND uploaded_at IS NOT NULL",
            [uploaded_through as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        marked as u64, uploaded_through,
        "records confirmed by the hub lost their mark"
    );
    known.extend(new.iter().map(|e| e.hash));
    (kill, head)
}

/// What the hub holds for a terminal, checked: each seq once, without
/// gaps, every record exactly as the terminal signed it (`known`), no
/// upload refused. Returns `held_through`.
fn check_hub_holds(hub: &Hub, terminal: &str, known: &[Digest32], exact: bool) -> u64 {
    let row = hub
        .integrity_report()
        .unwrap()
        .into_iter()
        .find(|r| r.terminal == terminal)
        .expect("the terminal is known to the hub");
    assert_eq!(row.gaps, 0, "{row:?}");
    assert_eq!(row.records, row.max_seq, "{row:?}");
    assert_eq!(row.held_through, row.max_seq, "{row:?}");
    assert_eq!(
        (
            row.rejected_bad_signature,
            row.rejected_broken_chain,
            row.rejected_conflict,
            row.rejected_malformed
        ),
        (0, 0, 0, 0),
        "uploads were refused: {row:?}"
    );
    assert!(
        row.held_through <= known.len() as u64,
        "the hub holds more than the terminal made: {row:?}"
    );
    if exact {
        assert_eq!(row.held_through, known.len() as u64, "{row:?}");
    }
    assert_eq!(
        hub.upload_status(terminal).unwrap().held_through,
        row.held_through
    );
    let held = held_records(hub.dir(), terminal);
    let seqs: std::collections::BTreeSet<i64> = held.iter().map(|r| r.0).collect();
    let ids: std::collections::BTreeSet<&str> = held.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(
        (held.len() as u64, seqs.len() as u64, ids.len() as u64),
        (row.records, row.records, row.records),
        "a record is held twice"
    );
    for (k, (seq, hash, _)) in held.iter().enumerate() {
        assert_eq!(*seq, k as i64 + 1);
        assert_eq!(
            hash,
            &known[k].to_hex(),
            "the hub's record {seq} is not the terminal's"
        );
    }
    row.held_through
}

/// The (seq, hash, id) of every record the hub in `dir` holds for
/// `terminal`, read from its database behind its back: SQLite's file, or
/// PostgreSQL through `psql`.
fn held_records(dir: &Path, terminal: &str) -> Vec<(i64, String, String)> {
    let settings = std::fs::read_to_string(dir.join("hub.toml")).unwrap_or_default();
    let database = settings
        .lines()
        .find_map(|l| l.strip_prefix("database = "))
        .map(|u| {
            u.trim()
                .trim_matches('"')
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        });
    match database {
        Some(db) => {
            assert!(
                terminal
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            );
            let out = xinyi_testkit::pg::server()
                .psql(
                    &db,
                    &format!(
                        "SELECT seq, hash, id FROM records WHERE terminal = '{terminal}' ORDER BY seq"
                    ),
                )
                .unwrap();
            out.lines()
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let f: Vec<&str> = l.split('|').collect();
                    (f[0].parse().unwrap(), f[1].to_owned(), f[2].to_owned())
                })
                .collect()
        }
        None => {
            let conn = Connection::open(dir.join(xinyi_hub::db::DB_FILE)).unwrap();
            let mut stmt = conn
                .prepare("SELECT seq, hash, id FROM records WHERE terminal = ?1 ORDER BY seq")
                .unwrap();
            stmt.query_map([terminal], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }
    }
}

/// Forgets that the hub confirmed records `from..`, as a terminal
/// restored from a backup would, so that the next upload sends them
/// again. Returns how many were marked.
fn forget_confirmations(db: &Path, from: u64) -> u64 {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.execute(
        "UPDATE journal SET uploaded_at = NULL WHERE seq >= ?1 AND uploaded_at IS NOT NULL",
        [from as i64],
    )
    .unwrap() as u64
}

/// Sends records `from..` again (the terminal forgot the hub holds
/// them) and expects the hub to store none of them twice. The first
/// batch goes; the hub's answer confirms the rest.
async fn resend(store: &mut Store, client: &HubClient, db: &Path, from: u64, head: u64) {
    let again = forget_confirmations(db, from);
    assert_eq!(again, head + 1 - from);
    let up = xinyi::sync::upload(store, client, now()).await.unwrap();
    assert_eq!(up.stored, 0, "a resent record was stored again: {up:?}");
    assert_eq!(up.duplicates, up.sent as u64, "{up:?}");
    assert_eq!(
        up.sent as u64,
        again.min(xinyi::sync::UPLOAD_BATCH as u64),
        "{up:?}"
    );
    assert_eq!(up.held_through, head, "{up:?}");
    assert_eq!(store.unsent_count().unwrap(), 0);
}

/// Sends every record again, batch by batch.
async fn resend_all(store: &mut Store, client: &HubClient, db: &Path, head: u64) {
    let mut from = 1;
    while from <= head {
        resend(store, client, db, from, head).await;
        from += xinyi::sync::UPLOAD_BATCH as u64;
    }
}

#[test]
fn terminal_killed_while_appending_records() {
    if let Some(role) = child_role() {
        child_main(&role);
    }
    let mut rng = scenario_rng("journal");
    let rounds = crash_support::rounds();
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (hub, _) = demo_hub(&tmp.path().join("hub"), now().date_utc8()).unwrap();
    let key = SigningKey::from_bytes(&rng.bytes::<32>());
    let vk = key.verifying_key();
    let terminal = enroll_key(&hub, &key, "demo-bus");
    let hub = Arc::new(hub);
    let server = rt.block_on(Server::start(hub.clone())).unwrap();
    let url = server.url();
    let db = tmp.path().join("terminal").join("terminal.db");
    prepare_terminal(&db, &key, &hub.registry_public_key(), &url);
    let client = HubClient::new(&url, key.clone(), None).unwrap();

    let mut known: Vec<Digest32> = Vec::new();
    let mut span: Option<Duration> = None;
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    let mut hub_ahead = 0;
    for round in 0..rounds {
        let envs = [
            ("XINYI_CRASH_DB", db.display().to_string()),
            ("XINYI_CRASH_KEY", hex::encode(&key.to_bytes())),
            ("XINYI_CRASH_HUB", url.clone()),
            ("XINYI_CRASH_CHILD_SEED", rng.next_u64().to_string()),
        ];
        let mut child = Proc::spawn(JOURNAL_TEST, "journal", &envs);
        let killed = match span {
            Some(span) => {
                let delay = delay(&mut rng, span);
                println!("[journal] round {round}: kill after {}", ms(delay));
                child.kill_at(delay)
            }
            None => {
                // Calibration: 100 records; later kills land from the
                // child's start-up to about that far.
                let target = format!("rec {}", known.len() + 100);
                let l = child.wait_for(PATIENCE, |t| t == target);
                span = Some(l.at.mul_f64(1.2));
                println!(
                    "[journal] round {round}: 100 records in {}, later kills within {}",
                    ms(l.at),
                    ms(span.unwrap())
                );
                child.kill()
            }
        };
        let (kill, head) = check_journal_after_kill(&db, &vk, &terminal, &mut known, &killed);
        *tally.entry(format!("{kill:?}")).or_default() += 1;

        // Killed between the hub storing a batch and the terminal marking
        // it: the next upload resends those records.
        let mut store = Store::open(&db).unwrap();
        let marked: i64 = Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM journal WHERE uploaded_at IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let hub_has = hub.upload_status(&terminal).unwrap().held_through;
        if hub_has > marked as u64 {
            hub_ahead += 1;
        }
        // Restarted, the terminal uploads: the hub ends up with each
        // record once.
        let up = rt
            .block_on(xinyi::sync::upload(&mut store, &client, now()))
            .unwrap();
        assert_eq!(store.unsent_count().unwrap(), 0, "{up:?}");
        check_hub_holds(&hub, &terminal, &known, true);
        // Resending any stretch stores nothing twice.
        if head > 0 {
            let from = head.saturating_sub(rng.below(300)).max(1);
            rt.block_on(resend(&mut store, &client, &db, from, head));
            check_hub_holds(&hub, &terminal, &known, true);
        }
        println!(
            "[journal] round {round}: killed at {}: {kill:?}, journal ends at {head}, hub was ahead of the marks: {}",
            ms(killed.killed_at),
            hub_has > marked as u64
        );
    }
    // Finally everything once more from the start: all duplicates.
    let mut store = Store::open(&db).unwrap();
    let head = known.len() as u64;
    rt.block_on(resend_all(&mut store, &client, &db, head));
    let held = check_hub_holds(&hub, &terminal, &known, true);
    let redemptions: i64 = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM journal WHERE kind = 'redemption'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Counted in the usage report, or kept and flagged (these random
    // records name no published data version): each exactly once.
    let usage: u64 = hub
        .usage_report()
        .unwrap()
        .iter()
        .map(|r| r.redemptions)
        .sum();
    let flagged = hub
        .flagged_report()
        .unwrap()
        .iter()
        .filter(|f| f.kind == "redemption")
        .count() as u64;
    assert_eq!(
        usage + flagged,
        redemptions as u64,
        "the hub's report counts differ"
    );
    println!(
        "[journal] {rounds} rounds, {head} records, hub holds through {held}; kills: {tally:?}; rounds where the hub had stored records the terminal had not marked: {hub_ahead}"
    );
    assert!(head > 0, "no record was ever appended");
    rt.block_on(server.stop()).unwrap();
}

// ====================================================== 3. hub under kill

/// The child: serves the hub in `XINYI_CRASH_HUB_DIR` on 127.0.0.1 and
/// writes `url URL` once it listens.
fn hub_child() -> ! {
    let dir = PathBuf::from(child_env("XINYI_CRASH_HUB_DIR"));
    let hub = Hub::open(&dir).unwrap_or_else(|e| fail(e));
    let rt = runtime();
    rt.block_on(async {
        let server = Server::start(Arc::new(hub))
            .await
            .unwrap_or_else(|e| fail(e));
        emit(format_args!("url {}", server.url()));
        std::future::pending::<()>().await;
    });
    fail("the hub stopped serving")
}

/// How an upload run against a hub that is about to be killed went.
#[derive(Debug, Default)]
struct UploadRun {
    uploads: u64,
    sent: u64,
    stored: u64,
    duplicates: u64,
}

/// The highest seq the terminal counts as confirmed by the hub.
fn confirmed_through(db: &Path) -> u64 {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM journal WHERE uploaded_at IS NOT NULL",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}

/// Uploads (the terminal's own upload: batches of new records) until the
/// hub goes away (or `until`); now and then the terminal first forgets
/// that the hub holds a stretch of records, so they go again. `acked` is
/// the most the hub has confirmed (across restarts): it may never hold
/// less.
async fn upload_until_gone(
    store: &mut Store,
    db: &Path,
    client: &HubClient,
    rng: &mut Rng,
    busy: &AtomicBool,
    acked: &mut u64,
    until: Instant,
) -> UploadRun {
    let mut run = UploadRun::default();
    while Instant::now() < until {
        if *acked > 0 && rng.percent(25) {
            forget_confirmations(db, acked.saturating_sub(rng.below(100)).max(1));
        }
        busy.store(true, Ordering::SeqCst);
        let result = xinyi::sync::upload(store, client, now()).await;
        busy.store(false, Ordering::SeqCst);
        match result {
            Ok(up) => {
                if up.sent > 0 {
                    assert!(
                        up.held_through >= *acked,
                        "the hub confirmed records through {acked} before and through {} now",
                        up.held_through
                    );
                    assert_eq!(up.stored + up.duplicates, up.sent as u64, "{up:?}");
                    *acked = up.held_through;
                }
                run.uploads += 1;
                run.sent += up.sent as u64;
                run.stored += up.stored;
                run.duplicates += up.duplicates;
            }
            Err(e) => {
                assert!(e.is_transient(), "the hub refused an upload: {e}");
                // Batches confirmed before the hub went away are marked.
                *acked = (*acked).max(confirmed_through(db));
                return run;
            }
        }
    }
    run
}

fn append_records(store: &mut Store, key: &SigningKey, rng: &mut Rng, count: u64) {
    for _ in 0..count {
        store.append(key, "op-1", now(), random_body(rng)).unwrap();
    }
}

#[test]
fn hub_killed_while_ingesting_uploads() {
    if let Some(role) = child_role() {
        child_main(&role);
    }
    ingest_rounds(HUB_TEST, "hub", None);
}

/// Scenario 3 with the registry on PostgreSQL (the server outlives the
/// killed hub, as a database server does).
#[test]
fn hub_on_postgres_killed_while_ingesting_uploads() {
    if let Some(role) = child_role() {
        child_main(&role);
    }
    let Some(url) = postgres_database() else {
        return;
    };
    ingest_rounds(HUB_PG_TEST, "hub-pg", Some(url));
}

/// A new database on the tests' PostgreSQL server, or None (said) where
/// PostgreSQL's programs are not installed.
fn postgres_database() -> Option<String> {
    if !xinyi_testkit::pg::available() {
        println!("did not run: PostgreSQL's programs are not installed");
        return None;
    }
    Some(xinyi_testkit::pg::server().fresh_database())
}

/// A data directory whose hub.toml names `database`, if any.
fn hub_dir_for(dir: &Path, database: Option<&str>) {
    std::fs::create_dir_all(dir).unwrap();
    if let Some(url) = database {
        std::fs::write(dir.join("hub.toml"), format!("database = \"{url}\"\n")).unwrap();
    }
}

/// Whatever the kill left in the hub's database is intact: SQLite's
/// file passes its checks; PostgreSQL's is the server's to keep.
fn hub_database_ok(dir: &Path, database: Option<&str>) {
    if database.is_none() {
        drop(integrity_ok(&dir.join(xinyi_hub::db::DB_FILE)));
    }
}

fn ingest_rounds(test: &str, label: &str, database: Option<String>) {
    let mut rng = scenario_rng(label);
    let rounds = crash_support::rounds();
    let tmp = tempfile::tempdir().unwrap();
    let hub_dir = tmp.path().join("hub");
    hub_dir_for(&hub_dir, database.as_deref());
    let key = SigningKey::from_bytes(&rng.bytes::<32>());
    let (terminal, registry) = {
        let (hub, _) = demo_hub(&hub_dir, now().date_utc8()).unwrap();
        (
            enroll_key(&hub, &key, "demo-bus"),
            hub.registry_public_key(),
        )
    };
    let db = tmp.path().join("terminal").join("terminal.db");
    prepare_terminal(&db, &key, &registry, "http://127.0.0.1:1");
    let mut store = Store::open(&db).unwrap();
    let rt = runtime();
    let envs = [("XINYI_CRASH_HUB_DIR", hub_dir.display().to_string())];
    // Kills land within this long after the hub listens.
    let span = Duration::from_millis(800);

    let mut acked = 0u64;
    let mut tally: BTreeMap<&str, u64> = BTreeMap::new();
    let mut unacknowledged = 0;
    let mut totals = UploadRun::default();
    for round in 0..rounds {
        let fresh = rng.between(20, 150);
        append_records(&mut store, &key, &mut rng, fresh);
        let mut child = Proc::spawn(test, "hub", &envs);
        let url_line = child.wait_for(PATIENCE, |t| t.starts_with("url "));
        let url = url_line.text["url ".len()..].to_owned();
        let client = HubClient::new(&url, key.clone(), None).unwrap();
        let delay = delay(&mut rng, span);
        println!(
            "[{label}] round {round}: kill {} after the hub listens",
            ms(delay)
        );
        let busy = Arc::new(AtomicBool::new(false));
        let killer = {
            let busy = Arc::clone(&busy);
            let at = url_line.at + delay;
            std::thread::spawn(move || {
                let left = at.saturating_sub(child.spawned.elapsed());
                std::thread::sleep(left);
                let during = busy.load(Ordering::SeqCst);
                (child.kill(), during)
            })
        };
        let until = Instant::now() + delay + Duration::from_secs(30);
        // Meanwhile the counter goes on making records (its own
        // connection, as the kiosk's UI beside the sync worker).
        let stop = Arc::new(AtomicBool::new(false));
        let counter = {
            let (stop, db, key) = (Arc::clone(&stop), db.clone(), key.clone());
            let mut rng = Rng::from_seed(rng.next_u64());
            std::thread::spawn(move || {
                let mut store = Store::open(&db).unwrap();
                while !stop.load(Ordering::SeqCst) {
                    append_records(&mut store, &key, &mut rng, 1);
                    std::thread::sleep(Duration::from_micros(rng.below(3000)));
                }
            })
        };
        let run = rt.block_on(upload_until_gone(
            &mut store, &db, &client, &mut rng, &busy, &mut acked, until,
        ));
        let (killed, during) = killer.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        counter.join().unwrap();

        // The hub restarts on what the kill left.
        hub_database_ok(&hub_dir, database.as_deref());
        let hub = Hub::open(&hub_dir).expect("the hub opens after the kill");
        let known: Vec<Digest32> = journal_hashes(&Connection::open(&db).unwrap())
            .into_iter()
            .map(|(_, h)| h)
            .collect();
        let held = check_hub_holds(&hub, &terminal, &known, false);
        assert!(
            held >= acked,
            "the hub acknowledged records through {acked} but holds through {held} after the kill"
        );
        if held > acked {
            unacknowledged += 1;
        }
        drop(hub);
        let when = if during {
            "during an upload"
        } else {
            "between uploads"
        };
        *tally.entry(when).or_default() += 1;
        println!(
            "[{label}] round {round}: killed at {} ({when}), {} uploads sent {} records: {} stored, {} duplicates; confirmed through {acked}, holds through {held} of {}",
            ms(killed.killed_at),
            run.uploads,
            run.sent,
            run.stored,
            run.duplicates,
            known.len()
        );
        totals.uploads += run.uploads;
        totals.sent += run.sent;
        totals.stored += run.stored;
        totals.duplicates += run.duplicates;
    }

    // Last start: everything goes up, and everything sent again is a
    // duplicate.
    let mut child = Proc::spawn(test, "hub", &envs);
    let url_line = child.wait_for(PATIENCE, |t| t.starts_with("url "));
    let client = HubClient::new(&url_line.text["url ".len()..], key.clone(), None).unwrap();
    let head = store.journal_head().unwrap().0;
    rt.block_on(async {
        let up = xinyi::sync::upload(&mut store, &client, now())
            .await
            .unwrap();
        assert_eq!(store.unsent_count().unwrap(), 0, "{up:?}");
        resend_all(&mut store, &client, &db, head).await;
    });
    child.kill();
    let hub = Hub::open(&hub_dir).unwrap();
    let known: Vec<Digest32> = journal_hashes(&Connection::open(&db).unwrap())
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert_eq!(known.len() as u64, head);
    let held = check_hub_holds(&hub, &terminal, &known, true);
    assert_eq!(held, head);
    println!(
        "[{label}] {rounds} rounds, {head} records, {} uploads sent {} records ({} stored, {} duplicates); kills: {tally:?}; rounds where the hub held more than it had confirmed: {unacknowledged}",
        totals.uploads, totals.sent, totals.stored, totals.duplicates
    );
}

// ================================================== 4. hub publishing under kill

/// Publishes for ever: a card revoked (a small new version), now and then
/// every list published again (a version built whole), reporting each
/// version once the call that made it has returned.
fn publish_child() -> ! {
    let dir = PathBuf::from(child_env("XINYI_CRASH_HUB_DIR"));
    let hub = Hub::open(&dir).unwrap_or_else(|e| fail(e));
    let mut rng = Rng::from_seed(child_env("XINYI_CRASH_CHILD_SEED").parse().unwrap_or(1));
    emit("publishing");
    loop {
        let published = if rng.percent(20) {
            hub.publish(true)
        } else {
            let cti = xinyi_core::hex::encode(&rng.bytes::<16>());
            hub.revoke_card(&cti, "crash test: reported lost")
        };
        match published {
            Ok(p) => emit(format_args!("published {}", p.version)),
            Err(e) => fail(e),
        }
    }
}

#[test]
fn hub_killed_while_publishing() {
    if let Some(role) = child_role() {
        child_main(&role);
    }
    publish_rounds(PUBLISH_TEST, "publish", None);
}

/// Scenario 4 with the registry on PostgreSQL.
#[test]
fn hub_on_postgres_killed_while_publishing() {
    if let Some(role) = child_role() {
        child_main(&role);
    }
    let Some(url) = postgres_database() else {
        return;
    };
    publish_rounds(PUBLISH_PG_TEST, "publish-pg", Some(url));
}

/// A hub process is killed while it publishes: after each kill every
/// version it reported is there, versions run 1, 2, 3… with none twice
/// and none missing, the latest one is what the tables hold (publishing
/// again finds nothing to publish), and a terminal starting from nothing
/// gets a complete snapshot of it.
fn publish_rounds(test: &str, label: &str, database: Option<String>) {
    let mut rng = scenario_rng(label);
    let rounds = crash_support::rounds();
    let tmp = tempfile::tempdir().unwrap();
    let hub_dir = tmp.path().join("hub");
    hub_dir_for(&hub_dir, database.as_deref());
    drop(demo_hub(&hub_dir, now().date_utc8()).unwrap());
    let span = Duration::from_millis(600);
    let mut reported = 0u64;
    for round in 0..rounds {
        let envs = [
            ("XINYI_CRASH_HUB_DIR", hub_dir.display().to_string()),
            ("XINYI_CRASH_CHILD_SEED", rng.next_u64().to_string()),
        ];
        let mut child = Proc::spawn(test, "publish", &envs);
        let started = child.wait_for(PATIENCE, |t| t == "publishing");
        let delay = delay(&mut rng, span);
        let killed = child.kill_at(started.at + delay);
        let last = killed
            .lines
            .iter()
            .filter_map(|l| l.text.strip_prefix("published "))
            .filter_map(|v| v.parse::<u64>().ok())
            .max();
        if let Some(v) = last {
            reported = reported.max(v);
        }

        hub_database_ok(&hub_dir, database.as_deref());
        let hub = Hub::open(&hub_dir).expect("the hub opens after the kill");
        let versions: Vec<u64> = hub.versions().unwrap().iter().map(|v| v.version).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let expected: Vec<u64> = (1..=sorted.len() as u64).collect();
        assert_eq!(sorted, expected, "round {round}: versions {versions:?}");
        assert_eq!(
            sorted.len(),
            versions.len(),
            "a version twice: {versions:?}"
        );
        let latest = *sorted.last().unwrap();
        assert!(
            latest >= reported,
            "round {round}: version {reported} was reported published, the hub holds {latest}"
        );
        let again = hub.publish(false).unwrap();
        assert!(
            !again.new_version,
            "round {round}: the tables hold what version {latest} did not publish"
        );
        let snapshot = hub
            .eligibility_for(0)
            .unwrap()
            .expect("a snapshot from nothing");
        assert!(hub.artefact(&snapshot.artefact.sha256).unwrap().is_some());
        reported = latest;
        println!(
            "[{label}] round {round}: killed at {} after {} versions reported; holds {latest}",
            ms(killed.killed_at),
            last.map_or(0, |v| v)
        );
    }
    assert!(reported > 1, "nothing was ever published");
}
