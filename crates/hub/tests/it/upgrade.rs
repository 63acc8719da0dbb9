//! Upgrades: a registry database written by the previous release's schema
//! (migrations 0001 and 0002), or by the first one, opens in this version,
//! keeps what it held, and carries on — the same terminal continues its
//! journal, reports count the old records with the new, and enrollment
//! codes made before the upgrade are refused with what to do. Hub
//! processes started together on an old database upgrade it once between
//! them; the migration list is valid, and a database from a newer build
//! or a file that is not a database is refused rather than misread.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rusqlite::params;
use xinyi_core::wire::enroll::CodeSecrets;
use xinyi_core::wire::journal::{Body, Record, SignedRecord};
use xinyi_hub::db::{DB_FILE, MIGRATIONS};
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, InitOptions};

/// Migrations the previous release applied.
const PREVIOUS_RELEASE: usize = 2;
/// Migrations the first release applied.
const FIRST_RELEASE: usize = 1;

/// Inserts `r` as the previous release's ingest stored it.
fn insert_old(conn: &rusqlite::Connection, t: &Terminal, s: &SignedRecord, r: &Record, at: i64) {
    let hex = xinyi_core::hex::encode;
    let body = &r.body;
    assert!(
        matches!(body, Body::Redemption { .. } | Body::Void { .. }),
        "the previous release stored no {} records this test makes",
        body.kind()
    );
    let amounts = body.amounts();
    let amount = |pick: fn((u64, u64, u64)) -> u64| amounts.map(|a| pick(a) as i64);
    let (original, discount, payable) = (amount(|a| a.0), amount(|a| a.1), amount(|a| a.2));
    let (measure, sub, reason) = (body.measure(), body.sub(), body.reason());
    let (cti, target) = (body.cti().map(hex), body.target().map(|t| hex(t)));
    // A void was stored with its supervisor as the operator column.
    let operator = match &r.body {
        Body::Void { supervisor, .. } => supervisor.clone(),
        _ => r.operator.clone(),
    };
    conn.execute(
        "INSERT INTO records (terminal, seq, id, hash, prev, at, kind, measure, sub, cti, form,
            categories, original, discount, payable, companions, reason, target, site, unit,
            data_version, operator, bytes, sig, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 'P02', ?11, ?12, ?13, 0, ?14, ?15,
            ?16, 'unit', ?17, ?18, ?19, ?20, ?21)",
        params![
            t.id,
            r.seq as i64,
            hex(&r.id),
            s.hash().to_hex(),
            r.prev.to_hex(),
            r.at.0,
            r.body.kind(),
            measure,
            sub,
            cti,
            original,
            discount,
            payable,
            reason,
            target,
            SITE,
            r.data_version as i64,
            operator,
            s.bytes,
            s.sig.as_slice(),
            at
        ],
    )
    .unwrap();
}

/// A data directory as an older release left it, with the terminal whose
/// records it holds.
struct OldRegistry {
    dir: PathBuf,
    t: Terminal,
    /// A pseudonym from the vectors' lists, as the registry derives it.
    sub: String,
    /// An enrollment code made by the old release, unused.
    old_code: &'static str,
    /// The id of the first record held.
    first: [u8; 16],
}

/// The data directory as the release with `schema` migrations left it:
/// the key files and settings `init` writes (unchanged since), a database
/// at that schema, holding a site, an enrolled terminal with three records
/// (the last a supervisor's void), the catalogue and an unused code.
fn old_registry(tmp: &Path, schema: usize) -> OldRegistry {
    let sub = {
        let scratch = sqlite_hub(&tmp.join("scratch"));
        scratch
            .import_listings(&shared("vectors/listings.csv"))
            .unwrap();
        scratch.listings().unwrap()[0].sub.clone()
    };
    let dir = tmp.join("hub");
    let mut t = {
        let fresh = Hub::init(
            &dir,
            InitOptions {
                k_pseudo: Some(k_pseudo()),
            },
        )
        .unwrap();
        Terminal::new(&fresh, "http://127.0.0.1:1")
    };
    for f in [DB_FILE, "hub.db-wal", "hub.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let at = now() - 3_600;
    let old_code = "AAAA-BBBB-CCCC-DDDD";
    let first = {
        let mut conn = xinyi_hub::db::connect(&dir.join(DB_FILE)).unwrap();
        // Applied as the old release's own runner did: one transaction per
        // step with its version bump.
        for (i, m) in MIGRATIONS[..schema].iter().enumerate() {
            let tx = conn.transaction().unwrap();
            tx.execute_batch(m.sql)
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .unwrap();
            tx.commit().unwrap();
        }
        conn.execute(
            "INSERT INTO catalogue (id, toml, published_at) VALUES (1, ?1, ?2)",
            params![catalogue(), at],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO sites (id, name, unit, measures, max_offline_age_s, updated_at)
             VALUES (?1, '江城公交充值点', 'unit', ?2, 259200, ?3)",
            params![SITE, format!("[\"{MEASURE}\"]"), at],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO terminals (id, public_key, site, label, enrolled_at, last_seen_at)
             VALUES (?1, ?2, ?3, 'counter 1', ?4, ?4)",
            params![
                t.id,
                xinyi_core::hex::encode(t.key.verifying_key().as_bytes()),
                SITE,
                at
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO enrollment_codes (code_hash, site, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                CodeSecrets::derive(old_code).id.to_hex(),
                SITE,
                at,
                at + 7 * 86_400
            ],
        )
        .unwrap();
        let (r1, s1) = t.redemption(at, &sub, 1000);
        let (r2, s2) = t.redemption(at + 1, &sub, 2000);
        let (r3, s3) = t.record(
            at + 2,
            Body::Void {
                target: r2.id,
                reason: "wrong amount".into(),
                supervisor: SUPERVISOR.into(),
            },
        );
        for (s, r) in [(&s1, &r1), (&s2, &r2), (&s3, &r3)] {
            insert_old(&conn, &t, s, r, at + 5);
        }
        // As its ingest did: the void marks the redemption it cancels.
        conn.execute(
            "UPDATE records SET voided_by = ?1 WHERE terminal = ?2 AND seq = 2",
            params![xinyi_core::hex::encode(&r3.id), t.id],
        )
        .unwrap();
        r1.id
    };
    OldRegistry {
        dir,
        t,
        sub,
        old_code,
        first,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_of_the_previous_release_opens_and_carries_on() {
    let tmp = tempfile::tempdir().unwrap();
    carries_on(old_registry(tmp.path(), PREVIOUS_RELEASE)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_of_the_first_release_opens_and_carries_on() {
    let tmp = tempfile::tempdir().unwrap();
    carries_on(old_registry(tmp.path(), FIRST_RELEASE)).await;
}

/// Opens an old registry with this version and uses it.
async fn carries_on(old: OldRegistry) {
    let OldRegistry {
        dir,
        mut t,
        sub,
        old_code,
        first,
    } = old;
    // This version opens it: upgraded, and everything is still there.
    let hub = Arc::new(Hub::open(&dir).unwrap());
    let status = hub.status().unwrap();
    assert!(status.ok, "{status:?}");
    assert_eq!(status.health.schema, MIGRATIONS.len() as i64);
    assert_eq!((status.counts.records, status.counts.terminals), (3, 1));
    assert_eq!(hub.upload_status(&t.id).unwrap().held_through, 3);
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    let (staff, flag): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT staff, flag FROM records WHERE terminal = ?1 AND seq = 3",
            [&t.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((staff.as_deref(), flag), (Some(SUPERVISOR), None));
    let site = hub.sites().unwrap();
    assert_eq!(site.len(), 1);
    assert!(hub.catalogue().unwrap().is_some());

    // It serves: lists are imported and published, the terminal's journal
    // continues (an upgraded terminal first journals its roster), and the
    // reports count old and new records once each.
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    let server = Server::start(Arc::clone(&hub)).await.unwrap();
    t.base = server.url();
    t.data_version = hub.current_version().unwrap().unwrap().version;
    let mut batch = t.roster(now());
    batch.push(t.redemption(now(), &sub, 3000).1);
    let receipt = t.upload(&batch).await;
    assert_eq!((receipt.held_through, receipt.stored), (6, 3));
    let row = hub
        .integrity_report()
        .unwrap()
        .into_iter()
        .find(|r| r.terminal == t.id)
        .unwrap();
    assert_eq!((row.records, row.held_through, row.gaps), (6, 6, 0));
    // The voided one is left out: 1000 + 3000 fen paid at half price.
    let usage = hub.usage_report().unwrap();
    assert_eq!(usage.iter().map(|u| u.redemptions).sum::<u64>(), 2);
    assert!(hub.flagged_report().unwrap().is_empty());
    let still: i64 = conn
        .query_row(
            "SELECT count(*) FROM records WHERE id = ?1",
            [xinyi_core::hex::encode(&first)],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(still, 1);

    // A code made before the upgrade cannot prove itself the new way: it
    // is refused, and a new code enrolls.
    let newcomer = Terminal::new(&hub, &server.url());
    let resp = newcomer.enroll_raw(old_code).await;
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "enrollment_refused", "{body}");
    assert_eq!(hub.terminals().unwrap().len(), 1);
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    newcomer.enroll(&code.code).await;
    server.stop().await.unwrap();
}

/// The schema objects of a hub database: every table, index and trigger
/// with the SQL that makes it.
fn schema_of(path: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Hub processes started together on a registry of the previous release
/// (a service and an admin command after a package upgrade): each waits
/// for the others, all succeed, and between them every migration the old
/// schema lacked is applied exactly once.
///
/// The test holds the database's write lock while the processes start, so
/// they all reach the migration before any can take the lock: a runner
/// that read the schema version before taking the lock would run the
/// same step again in the second process and fail.
#[test]
fn hub_processes_started_together_upgrade_the_registry_once() {
    const PROCESSES: usize = 3;
    let tmp = tempfile::tempdir().unwrap();
    let old = old_registry(tmp.path(), PREVIOUS_RELEASE);
    let path = old.dir.join(DB_FILE);

    let mut lock = rusqlite::Connection::open(&path).unwrap();
    let held = lock
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_xinyi-hub"))
                .arg("--data-dir")
                .arg(&old.dir)
                .args(["status", "--json"])
                .env("RUST_LOG", "xinyi_hub=info")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Time for every process to start and queue on the lock (they wait up
    // to the hub's busy timeout). What is checked below holds however
    // many of them got there first.
    std::thread::sleep(Duration::from_secs(2));
    held.rollback().unwrap();
    drop(lock);

    let mut logs = String::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "exit {:?}\nstdout: {stdout}\nstderr: {stderr}",
            out.status.code()
        );
        let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(status["health"]["schema"], MIGRATIONS.len(), "{stdout}");
        assert_eq!(status["counts"]["records"], 3, "{stdout}");
        logs.push_str(&stderr);
    }
    for (i, m) in MIGRATIONS.iter().enumerate() {
        let runs = logs
            .lines()
            .filter(|l| l.ends_with(&format!("applied migration {}", m.name)))
            .count();
        let expected = usize::from(i >= PREVIOUS_RELEASE);
        assert_eq!(runs, expected, "{} applied {runs} times:\n{logs}", m.name);
    }

    // The schema is the one a new registry gets, nothing doubled or
    // missing, and the old records went through the upgrade once.
    let fresh = tmp.path().join("fresh");
    drop(sqlite_hub(&fresh));
    assert_eq!(schema_of(&path), schema_of(&fresh.join(DB_FILE)));
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(
        xinyi_sqlite::schema_version(&conn).unwrap(),
        xinyi_hub::db::latest_version()
    );
    let (records, staff): (i64, Option<String>) = conn
        .query_row(
            "SELECT count(*), max(staff) FROM records WHERE terminal = ?1",
            [&old.t.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((records, staff.as_deref()), (3, Some(SUPERVISOR)));
}

/// The migration list is valid and is exactly the files beside the code.
#[test]
fn migrations_validate() {
    xinyi_hub::db::validate().unwrap();
    assert_eq!(xinyi_hub::db::latest_version(), MIGRATIONS.len() as i64);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    xinyi_sqlite::check_dir(MIGRATIONS, &dir).unwrap();
}

/// A registry whose database a newer xinyi-hub wrote is refused, by the
/// library and by the command line, saying which versions and what to do;
/// the database is left as it was.
#[test]
fn a_newer_schema_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    drop(sqlite_hub(&dir));
    let newer = xinyi_hub::db::latest_version() + 1;
    {
        let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", newer).unwrap();
    }
    let err = Hub::open(&dir).unwrap_err();
    assert!(
        matches!(err, xinyi_hub::HubError::SchemaTooNew { found, .. } if found == newer),
        "{err:?}"
    );
    let out = cli(&dir, &["status"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for says in [
        format!("schema version {newer}"),
        format!("({})", MIGRATIONS.len()),
        "upgrade xinyi-hub".to_owned(),
    ] {
        assert!(stderr.contains(&says), "{stderr} should say {says:?}");
    }
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    assert_eq!(xinyi_sqlite::schema_version(&conn).unwrap(), newer);
}

/// A data directory whose database file is not a database: an error
/// naming the database, not a panic, and the file is not overwritten.
#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    drop(sqlite_hub(&dir));
    for f in [DB_FILE, "hub.db-wal", "hub.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let junk = b"this is not an SQLite database, just text that is long enough";
    std::fs::write(dir.join(DB_FILE), junk).unwrap();
    let err = Hub::open(&dir).unwrap_err();
    assert!(err.to_string().contains("database"), "{err}");
    let out = cli(&dir, &["status"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert_eq!(std::fs::read(dir.join(DB_FILE)).unwrap(), junk);
}
