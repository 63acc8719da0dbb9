//! Identities at rest (`design.md`, "Every sensitive action is audited; ID
//! numbers and names are encrypted at rest"): the database files hold no
//! ID number and no person's full name in clear, whatever the registry
//! did; a registry of an older release, which kept them in clear, is
//! sealed when this version opens it (also when the upgrade was cut short,
//! and when several processes open it at once), and nothing of the
//! plaintext stays in the files; a hub without its identity key, or with
//! another one, does not open and loses nothing; a key kept apart from the
//! data directory is named by the settings, and backups say so.
//!
//! Enterprise names are public (`list-standard.md`): terminals show them
//! whole, so the published projection holds them as it always did. The
//! scans look for every ID number and every person's full name, taken from
//! the vectors' CSV files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rusqlite::params;
use xinyi_core::Date;
use xinyi_core::ids::mask_name;
use xinyi_core::listing::{Listing, Registry};
use xinyi_hub::db::{DB_FILE, MIGRATIONS};
use xinyi_hub::identity::IDENTITY_KEY_FILE;
use xinyi_hub::{Hub, HubError, InitOptions};

/// What must never be in the database files: every ID number of the
/// vectors' lists and exclusions, and every person's full name.
fn secrets() -> Vec<String> {
    let mut out: Vec<String> = column("vectors/listings.csv", "id_number")
        .into_iter()
        .chain(column("vectors/exclusions.csv", "id_number"))
        .map(|(_, id)| id)
        .chain(
            column("vectors/listings.csv", "name")
                .into_iter()
                .filter(|(kind, _)| kind == "person")
                .map(|(_, name)| name),
        )
        .collect();
    out.sort();
    out.dedup();
    assert!(out.len() > 20, "{out:?}");
    out
}

/// A citizen's contact phone and words in a case (the test's own).
const CASE_PHONE: &str = "13912345678";
const CASE_WORDS: &str = "柜台说我不在名单中，请核实";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// `hub.db` and every `hub.db-*` file (log, shared memory) in `dir`.
fn db_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name == DB_FILE || name.starts_with(&format!("{DB_FILE}-"))
        })
        .collect();
    out.sort();
    assert!(out.iter().any(|p| p.ends_with(DB_FILE)), "{out:?}");
    out
}

/// The secrets found in the bytes of `files`, as UTF-8 (ID numbers also
/// upper-cased, as the registry normalises them).
fn found_in(files: &[PathBuf]) -> Vec<String> {
    let mut bytes = Vec::new();
    for f in files {
        // A log or shared-memory file can vanish as the last connection
        // closes.
        if let Ok(b) = std::fs::read(f) {
            bytes.extend(b);
        }
    }
    secrets()
        .into_iter()
        .chain([CASE_PHONE.to_owned(), CASE_WORDS.to_owned()])
        .filter(|s| contains(&bytes, s.as_bytes()) || contains(&bytes, s.to_uppercase().as_bytes()))
        .collect()
}

/// [`assert_clean`] for the hub in `dir` on the database the tests run
/// on: its files wherever they are.
fn assert_clean_at(dir: &Path, when: &str) {
    let files = common::database_files(dir);
    let found = found_in(&files);
    assert!(found.is_empty(), "{when}: {found:?} in clear in {files:?}");
}

fn assert_clean(dir: &Path, when: &str) {
    let files = db_files(dir);
    let found = found_in(&files);
    assert!(found.is_empty(), "{when}: {found:?} in clear in {files:?}");
}

/// The published projection is in the files: the scan reads the right
/// bytes (a pseudonym and a masked name of a listed person).
fn assert_projection_there(dir: &Path, hub: &Hub) {
    let person = hub
        .listings()
        .unwrap()
        .into_iter()
        .find(|l| l.kind == "person" && !l.identity_erased)
        .unwrap();
    let mut bytes = Vec::new();
    for f in common::database_files(dir) {
        if let Ok(b) = std::fs::read(f) {
            bytes.extend(b);
        }
    }
    for s in [&person.sub, &person.display_name] {
        assert!(
            contains(&bytes, s.as_bytes()),
            "{s} not found: wrong files?"
        );
    }
}

fn checkpoint(dir: &Path) {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 0);
}

/// Every operation the registry usually does, then the files are scanned:
/// in use, after a checkpoint, and closed. The same scan finds every
/// secret in the CSV files the registry imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_files_hold_no_id_number_or_full_name() {
    let mut csvs = shared("vectors/listings.csv");
    csvs.extend(shared("vectors/exclusions.csv"));
    let all = secrets();
    for s in all
        .iter()
        .filter(|s| ![CASE_PHONE, CASE_WORDS].contains(&s.as_str()))
    {
        assert!(contains(&csvs, s.as_bytes()), "{s} is not in the CSV files");
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let (hub, server) = served(&dir).await;
    // A terminal enrolls and uploads; a supervisor voids a redemption.
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    t.enroll(&code.code).await;
    let sub = hub.listings().unwrap()[0].sub.clone();
    let at = now();
    let mut batch = t.roster(at);
    let (first, signed) = t.redemption(at, &sub, 1000);
    batch.push(signed);
    batch.push(t.redemption(at, &sub, 2000).1);
    batch.push(
        t.record(
            at + 1,
            xinyi_core::wire::journal::Body::Void {
                target: first.id,
                reason: "wrong amount".into(),
                supervisor: SUPERVISOR.into(),
            },
        )
        .1,
    );
    t.upload(&batch).await;
    server.stop().await.unwrap();
    // Withdrawals, publications, look-ups, reports, a bundle, a key
    // rotation, a backup.
    let (withdraw, _) = xinyi_testkit::withdrawal_of(&xinyi_testkit::first_listed_id_number());
    hub.import_listings(withdraw.as_bytes()).unwrap();
    let excluded = &column("vectors/exclusions.csv", "id_number")[0];
    let (repair, _) = xinyi_testkit::exclusion_withdrawal_of(&excluded.1);
    hub.import_exclusions(repair.as_bytes()).unwrap();
    hub.publish(true).unwrap();
    hub.publish_usage().unwrap();
    // A citizen objects, with their phone, words and ID number.
    let (kind, id) = column("vectors/listings.csv", "id_number")[0].clone();
    let case = hub
        .file_case(&xinyi_hub::cases::NewCase {
            kind: Some(xinyi_hub::cases::CaseKind::Objection),
            channel: "web".into(),
            phone: CASE_PHONE.into(),
            text: CASE_WORDS.into(),
            id_number: Some((kind, id)),
            ..Default::default()
        })
        .unwrap();
    hub.open_case(
        &case.number,
        None,
        &xinyi_hub::audit::Actor::Cli("test".into()),
    )
    .unwrap();
    for (kind, id) in column("vectors/listings.csv", "id_number")
        .into_iter()
        .chain(column("vectors/exclusions.csv", "id_number"))
    {
        let s = hub.subject(&kind, &id).unwrap();
        assert!(
            !s.listings.is_empty() || !s.exclusions.is_empty(),
            "{kind} {id} not found"
        );
    }
    assert_eq!(hub.listings().unwrap().len(), 16);
    assert_eq!(hub.exclusions().unwrap().len(), 2);
    hub.usage_report().unwrap();
    hub.overuse_report().unwrap();
    hub.integrity_report().unwrap();
    hub.export_bundle(Some(&t.id)).unwrap();
    hub.rotate_registry_key().unwrap();
    hub.apply_retention().unwrap();
    let backup = tmp.path().join("backup.tar.gz");
    hub.backup(&backup).unwrap();

    assert_projection_there(&dir, &hub);
    assert_clean_at(&dir, "in use");
    if on_postgres() {
        common::checkpoint(&dir);
    } else {
        checkpoint(&dir);
    }
    assert_clean_at(&dir, "after a checkpoint");
    drop(hub);
    assert_clean_at(&dir, "closed");

    // The backup's database too, restored (into SQLite's file here
    // whatever the registry's database: the backup holds a SQLite
    // snapshot).
    let restored = tmp.path().join("restored");
    xinyi_hub::backup::restore_with_config(&backup, &restored, Some(Default::default())).unwrap();
    let again = Hub::open(&restored).unwrap();
    assert_eq!(again.listings().unwrap().len(), 16);
    drop(again);
    assert_clean(&restored, "restored from the backup");
}

/// A registry as the release before identities were sealed left it: no
/// identity key, the database at migration 0006 with the vectors' lists
/// in clear (a withdrawn listing and a withdrawn exclusion among them),
/// imported on `today`; and the lists as that release held them.
fn plaintext_registry(tmp: &Path, today: Date) -> (PathBuf, Registry) {
    let dir = tmp.join("old");
    drop(
        Hub::init(
            &dir,
            InitOptions {
                k_pseudo: Some(k_pseudo()),
            },
        )
        .unwrap(),
    );
    for f in [DB_FILE, "hub.db-wal", "hub.db-shm", IDENTITY_KEY_FILE] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let mut lists = Registry::new();
    lists
        .import_listings(&shared("vectors/listings.csv"), today)
        .unwrap();
    lists
        .import_exclusions(&shared("vectors/exclusions.csv"), today)
        .unwrap();
    let excluded = &column("vectors/exclusions.csv", "id_number")[0];
    let (repair, _) = xinyi_testkit::exclusion_withdrawal_of(&excluded.1);
    lists.import_exclusions(repair.as_bytes(), today).unwrap();

    let key = xinyi_testkit::k_pseudo(&credentials());
    let at = today.start_utc8().0 + 3600;
    let mut conn = xinyi_hub::db::connect(&dir.join(DB_FILE)).unwrap();
    xinyi_hub::db::migrate(&mut conn, 6).unwrap();
    conn.execute(
        "INSERT INTO catalogue (id, toml, published_at) VALUES (1, ?1, ?2)",
        params![catalogue(), at],
    )
    .unwrap();
    for l in lists.listings() {
        let k = &l.key;
        conn.execute(
            "INSERT INTO listings (kind, id_number, category, recognised_on, name, honour,
                source, valid_until, extension_ref, withdrawn, sub, display_name, changed_in,
                updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
            params![
                k.kind.as_str(),
                k.id_number,
                k.category.code(),
                k.recognised_on.to_string(),
                l.name,
                l.honour,
                l.source,
                l.valid_until.to_string(),
                l.extension_ref,
                l.withdrawn,
                key.pseudonym(k.kind, &k.id_number).as_str(),
                mask_name(k.kind, &l.name),
                at
            ],
        )
        .unwrap();
    }
    for e in lists.exclusions() {
        let repair = e.withdrawn.as_ref();
        conn.execute(
            "INSERT INTO exclusions (kind, id_number, recorded_on, reason, sub, until,
                changed_in, updated_at, withdrawn_on, repair_ref)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9)",
            params![
                e.kind.as_str(),
                e.id_number,
                e.recorded_on.to_string(),
                e.reason,
                key.pseudonym(e.kind, &e.id_number).as_str(),
                e.ends_on().to_string(),
                at,
                repair.map(|r| r.on.to_string()),
                repair.map(|r| r.reference.as_str())
            ],
        )
        .unwrap();
    }
    (dir, lists)
}

fn today() -> Date {
    xinyi_hub::Clock::now(&xinyi_hub::SystemClock).date_utc8()
}

fn in_force(l: &Listing, day: Date) -> bool {
    !l.withdrawn && l.key.recognised_on <= day && day <= l.valid_until
}

/// The registry reads back exactly what the old one held in clear.
fn reads_back(hub: &Hub, lists: &Registry, today: Date) {
    let key = xinyi_testkit::k_pseudo(&credentials());
    let held = hub.listings().unwrap();
    assert_eq!(held.len(), lists.listings().count());
    for l in lists.listings() {
        let k = &l.key;
        let sub = key.pseudonym(k.kind, &k.id_number);
        let h = held
            .iter()
            .find(|h| {
                h.sub == sub.as_str()
                    && h.category == k.category.code()
                    && h.recognised_on == k.recognised_on.to_string()
            })
            .unwrap_or_else(|| panic!("listing {} {} not held", sub, k.category));
        assert_eq!(
            (
                h.kind.as_str(),
                h.id_number.as_str(),
                h.name.as_str(),
                h.valid_until.clone(),
                h.withdrawn,
                h.display_name.clone(),
                h.honour.as_str(),
                h.extension_ref.as_deref(),
                h.identity_erased
            ),
            (
                k.kind.as_str(),
                k.id_number.as_str(),
                l.name.as_str(),
                l.valid_until.to_string(),
                l.withdrawn,
                mask_name(k.kind, &l.name),
                l.honour.as_str(),
                l.extension_ref.as_deref(),
                false
            )
        );
        assert_eq!(h.withdrawn_on, l.withdrawn.then(|| today.to_string()));
    }
    let held = hub.exclusions().unwrap();
    assert_eq!(held.len(), lists.exclusions().count());
    for e in lists.exclusions() {
        let h = held
            .iter()
            .find(|h| h.id_number == e.id_number && h.recorded_on == e.recorded_on.to_string())
            .unwrap();
        assert_eq!(h.sub, key.pseudonym(e.kind, &e.id_number).as_str());
        assert_eq!(h.until, e.ends_on().to_string());
        assert_eq!(h.reason, e.reason);
        assert_eq!(
            (h.withdrawn_on.clone(), h.repair_ref.clone()),
            (
                e.withdrawn.as_ref().map(|r| r.on.to_string()),
                e.withdrawn.as_ref().map(|r| r.reference.clone())
            )
        );
        // The people page finds it by ID number.
        let s = hub.subject(e.kind.as_str(), &e.id_number).unwrap();
        assert!(s.exclusions.contains(h), "{s:?}");
    }
    for l in lists.listings() {
        let s = hub
            .subject(l.key.kind.as_str(), &l.key.id_number.to_lowercase())
            .unwrap();
        assert_eq!(s.id_number, l.key.id_number);
        assert!(
            s.listings
                .iter()
                .any(|h| h.category == l.key.category.code()
                    && h.name == l.name
                    && h.in_force_on(today) == in_force(l, today)),
            "{s:?}"
        );
    }
}

fn sealed_state(dir: &Path) -> (Vec<String>, i64, i64, i64) {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '%plain%'")
        .unwrap();
    let plain: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (sealed, scrub): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM listings WHERE id_sealed IS NOT NULL)
                  + (SELECT count(*) FROM exclusions WHERE id_sealed IS NOT NULL),
                    (SELECT scrub_pending FROM identity_seal)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let version = xinyi_sqlite::schema_version(&conn).unwrap();
    (plain, sealed, scrub, version)
}

/// Upgrade: a registry that kept identities in clear opens in this
/// version with a new identity key; every row is sealed, reads back as it
/// was, is found by ID number, re-importing the same files changes
/// nothing, the published data is what a new registry publishes from the
/// same files, and the files no longer hold any of it in clear.
#[test]
fn a_registry_with_identities_in_clear_is_sealed_when_it_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let today = today();
    let (dir, lists) = plaintext_registry(tmp.path(), today);
    // The scan would see them: the old database holds them all.
    let found = found_in(&db_files(&dir));
    assert_eq!(found, secrets(), "the scan must find the plaintext");

    let hub = Hub::open(&dir).unwrap();
    let key = dir.join(IDENTITY_KEY_FILE);
    assert!(key.exists(), "the identity key is made on the first open");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let rows = (lists.listings().count() + lists.exclusions().count()) as i64;
    assert_eq!(
        sealed_state(&dir),
        (vec![], rows, 0, MIGRATIONS.len() as i64)
    );
    assert!(hub.status().unwrap().ok);
    reads_back(&hub, &lists, today);
    assert_projection_there(&dir, &hub);
    assert_clean(&dir, "after the upgrade, in use");

    let r = hub
        .import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    assert_eq!(r.summary.unchanged, lists.listings().count());
    assert!(!r.published.new_version);
    let x = hub
        .import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    assert!(!x.published.new_version, "{x:?}");
    hub.publish(true).unwrap();
    let upgraded = hub.current_version().unwrap().unwrap();
    let fresh = hub_with_the_same_lists(tmp.path());
    let expected = fresh.current_version().unwrap().unwrap();
    assert_eq!(
        (upgraded.set_hash, upgraded.listings, upgraded.exclusions),
        (expected.set_hash, expected.listings, expected.exclusions)
    );
    drop(hub);
    assert_clean(&dir, "after the upgrade, closed");
    // Opening again changes nothing.
    let hub = Hub::open(&dir).unwrap();
    reads_back(&hub, &lists, today);
}

/// A new registry importing the vectors' lists and the same withdrawal.
fn hub_with_the_same_lists(tmp: &Path) -> Hub {
    let hub = hub(&tmp.join("fresh"));
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    hub.import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    let excluded = &column("vectors/exclusions.csv", "id_number")[0];
    let (repair, _) = xinyi_testkit::exclusion_withdrawal_of(&excluded.1);
    hub.import_exclusions(repair.as_bytes()).unwrap();
    hub
}

/// A process killed after the schema step and before the rows were sealed
/// leaves the old rows whole beside the empty new tables; one killed
/// before the file was rewritten leaves the rewrite due. The next open
/// finishes either.
#[test]
fn an_upgrade_cut_short_is_finished_at_the_next_open() {
    let tmp = tempfile::tempdir().unwrap();
    let today = today();
    let (dir, lists) = plaintext_registry(tmp.path(), today);
    {
        let mut conn = xinyi_hub::db::connect(&dir.join(DB_FILE)).unwrap();
        xinyi_hub::db::migrate(&mut conn, MIGRATIONS.len()).unwrap();
    }
    let (plain, sealed, _, version) = {
        let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
        let plain: i64 = conn
            .query_row("SELECT count(*) FROM listings_plain", [], |r| r.get(0))
            .unwrap();
        let sealed: i64 = conn
            .query_row("SELECT count(*) FROM listings", [], |r| r.get(0))
            .unwrap();
        (
            plain,
            sealed,
            0,
            xinyi_sqlite::schema_version(&conn).unwrap(),
        )
    };
    assert_eq!(
        (plain, sealed, version),
        (lists.listings().count() as i64, 0, MIGRATIONS.len() as i64)
    );
    assert_eq!(found_in(&db_files(&dir)), secrets());

    let hub = Hub::open(&dir).unwrap();
    reads_back(&hub, &lists, today);
    drop(hub);
    assert_clean(&dir, "after the interrupted upgrade was finished");

    // The rewrite still due (the flag the sealing transaction sets).
    {
        let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
        conn.execute("UPDATE identity_seal SET scrub_pending = 1", [])
            .unwrap();
    }
    let hub = Hub::open(&dir).unwrap();
    assert_eq!(sealed_state(&dir).2, 0);
    reads_back(&hub, &lists, today);
}

/// Hub processes started together on a registry in clear (a service and
/// an admin command after a package upgrade): all succeed, one identity
/// key is made and the rows are sealed once between them.
#[test]
fn processes_opening_a_registry_in_clear_together_seal_it_once() {
    const PROCESSES: usize = 3;
    let tmp = tempfile::tempdir().unwrap();
    let today = today();
    let (dir, lists) = plaintext_registry(tmp.path(), today);
    let path = dir.join(DB_FILE);
    let mut lock = rusqlite::Connection::open(&path).unwrap();
    let held = lock
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_xinyi-hub"))
                .arg("--data-dir")
                .arg(&dir)
                .args(["status", "--json"])
                .env("RUST_LOG", "xinyi_hub=info")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Time for the processes to queue on the lock; what is checked holds
    // however many of them got there first.
    std::thread::sleep(Duration::from_secs(2));
    held.rollback().unwrap();
    drop(lock);
    let mut logs = String::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "exit {:?}\n{}\n{stderr}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        );
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            status["counts"]["listings"].as_u64().unwrap(),
            lists.listings().filter(|l| !l.withdrawn).count() as u64
        );
        logs.push_str(&stderr);
    }
    let sealings = logs
        .lines()
        .filter(|l| l.contains("sealed the ID numbers and names"))
        .count();
    assert_eq!(sealings, 1, "{logs}");
    let rows = (lists.listings().count() + lists.exclusions().count()) as i64;
    assert_eq!(
        sealed_state(&dir),
        (vec![], rows, 0, MIGRATIONS.len() as i64)
    );
    let hub = Hub::open(&dir).unwrap();
    reads_back(&hub, &lists, today);
    drop(hub);
    assert_clean(&dir, "after the processes");
}

/// A hub without its identity key, or with another key, does not open:
/// the error names the file and what to do; nothing is changed, and with
/// the right key back everything is there. A damaged or misplaced sealed
/// value is an error naming its row, never a panic.
#[test]
fn a_hub_without_its_identity_key_does_not_open_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let hub = hub(&dir);
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    hub.import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    let listings = hub.listings().unwrap();
    let exclusions = hub.exclusions().unwrap();
    drop(hub);
    let key = dir.join(IDENTITY_KEY_FILE);
    let kept = tmp.path().join("kept.key");
    std::fs::rename(&key, &kept).unwrap();

    let err = Hub::open(&dir).unwrap_err();
    assert!(
        matches!(&err, HubError::KeyFile { path, .. } if *path == key),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&key.display().to_string()) && text.contains("missing"),
        "{text}"
    );
    let out = cli(&dir, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(IDENTITY_KEY_FILE), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!key.exists(), "no new key may replace the missing one");

    // Another key.
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    let err = Hub::open(&dir).unwrap_err();
    assert!(
        matches!(&err, HubError::WrongIdentityKey { path } if *path == key),
        "{err:?}"
    );
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    let out = cli(&dir, &["import", "listings", "/nonexistent.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the key"));
    // A key file that is not a key.
    std::fs::write(&key, "not a key").unwrap();
    let err = Hub::open(&dir).unwrap_err().to_string();
    assert!(
        err.contains(IDENTITY_KEY_FILE) && err.contains("64 hex"),
        "{err}"
    );

    // The right key back: all there.
    std::fs::rename(&kept, &key).unwrap();
    let hub = Hub::open(&dir).unwrap();
    assert_eq!(hub.listings().unwrap(), listings);
    assert_eq!(hub.exclusions().unwrap(), exclusions);
    drop(hub);

    // A sealed name cut short, and two sealed ID numbers swapped between
    // rows: errors naming the row (by pseudonym), not panics.
    let victim = &listings[0];
    let row = |l: &xinyi_hub::people::HeldListing| {
        format!("sub = '{}' AND category = '{}'", l.sub, l.category)
    };
    let cut = format!(
        "UPDATE listings SET name_sealed = substr(name_sealed, 1, 10) WHERE {}",
        row(victim)
    );
    behind_the_back(&dir, &cut, &cut).unwrap();
    let hub = Hub::open(&dir).unwrap();
    let err = hub.listings().unwrap_err();
    assert!(matches!(err, HubError::Corrupt(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&victim.sub) && text.contains("cut short"),
        "{text}"
    );
    let err = hub.subject(&victim.kind, &victim.id_number).unwrap_err();
    assert!(err.to_string().contains(&victim.sub), "{err}");
    drop(hub);
    let other = listings.iter().find(|l| l.sub != victim.sub).unwrap();
    let swap = format!(
        "UPDATE listings SET name_sealed = (SELECT name_sealed FROM listings WHERE {}) WHERE {}",
        row(other),
        row(victim)
    );
    behind_the_back(&dir, &swap, &swap).unwrap();
    let hub = Hub::open(&dir).unwrap();
    let err = hub.listings().unwrap_err().to_string();
    assert!(err.contains("does not open"), "{err}");
    // The other subject, untouched, still reads.
    let s = hub.subject(&other.kind, &other.id_number).unwrap();
    assert!(s.listings.iter().any(|l| l.name == other.name));
    // A malformed look-up says what is wrong.
    let err = hub.subject("persons", &other.id_number).unwrap_err();
    assert!(err.to_string().contains("kind"), "{err}");
    let err = hub.subject("person", "123").unwrap_err().to_string();
    assert!(err.contains("resident ID number"), "{err}");
}

/// The identity key kept apart from the data directory: `init` makes it
/// where the settings say, backups leave it out and say so, a restore
/// opens with it where it is and names it when it is not there.
#[test]
fn an_identity_key_kept_apart_is_named_by_the_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let key = keys.join("hub-identity.key");
    let dir = tmp.path().join("hub");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("hub.toml"),
        format!("identity_key = {:?}\n", key.display().to_string()),
    )
    .unwrap();
    let hub = hub(&dir);
    assert!(key.exists() && !dir.join(IDENTITY_KEY_FILE).exists());
    assert!(hub.identity_key_is_apart());
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    let listings = hub.listings().unwrap();
    drop(hub);

    let backup = tmp.path().join("backup.tar.gz");
    let said = ok(&cli(&dir, &["backup", "--out", backup.to_str().unwrap()]));
    assert!(
        said.contains(&key.display().to_string()) && said.contains("does not hold it"),
        "{said}"
    );
    let restored = tmp.path().join("restored");
    let r = restore_here(&backup, &restored, &dir).unwrap();
    assert!(
        !r.manifest.files.iter().any(|f| f.path.contains("identity")),
        "{:?}",
        r.manifest.files
    );
    assert_eq!(Hub::open(&restored).unwrap().listings().unwrap(), listings);

    // Without the key where the settings say, nothing is restored and the
    // error names the key.
    let moved = tmp.path().join("moved.key");
    std::fs::rename(&key, &moved).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    let err = xinyi_hub::backup::restore(&backup, &elsewhere)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&key.display().to_string()) && err.contains("missing"),
        "{err}"
    );
    assert!(!elsewhere.exists());
    std::fs::rename(&moved, &key).unwrap();
    restore_here(&backup, &elsewhere, &dir).unwrap();

    // `init --config` makes the key beside that settings file when it
    // names it relatively; admin commands with the same settings open it.
    let etc = tmp.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let config = etc.join("hub.toml");
    std::fs::write(&config, "identity_key = \"identity.key\"\n").unwrap();
    let second = tmp.path().join("second");
    let said = ok(&cli(
        &second,
        &["--config", config.to_str().unwrap(), "init"],
    ));
    assert!(
        said.contains(&etc.join(IDENTITY_KEY_FILE).display().to_string()),
        "{said}"
    );
    assert!(etc.join(IDENTITY_KEY_FILE).exists());
    assert!(!second.join(IDENTITY_KEY_FILE).exists());
    ok(&cli(
        &second,
        &["--config", config.to_str().unwrap(), "status"],
    ));
}
