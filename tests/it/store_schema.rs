//! The store's schema: the migration list is valid, a database made by the
//! first schema and filled with data opens with the current code and keeps
//! its data and journal chain, and a database from a newer build is
//! refused rather than misread.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::store_support;

use rusqlite::{Connection, params};
use store_support::*;
use xinyi::store::db::{self, MIGRATIONS};
use xinyi::store::{Store, StoreError};
use xinyi_core::history::History;
use xinyi_core::measures::MeasureId;
use xinyi_core::verdict::VerifierData;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::journal::{Record, check_chain};
use xinyi_core::{Cti, UnixTime, hex};

const T0: i64 = 1_773_106_200;

#[test]
fn migrations_validate() {
    db::validate().unwrap();
    assert_eq!(db::latest_version(), MIGRATIONS.len() as i64);
    // Every migration is a file beside the code, and the list names each
    // file exactly once.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let named: Vec<String> = MIGRATIONS
        .iter()
        .map(|m| format!("{}.sql", m.name))
        .collect();
    assert_eq!(files, named);
    for m in MIGRATIONS {
        let on_disk = std::fs::read_to_string(dir.join(format!("{}.sql", m.name))).unwrap();
        assert_eq!(on_disk, m.sql, "{} differs from the compiled copy", m.name);
    }
}

/// A database at schema 1, filled the way 0001 lays the tables out, then
/// opened by the current code.
#[test]
fn upgrade_from_the_first_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let key = terminal_key(11);
    let terminal_id = xinyi_core::wire::key_id(key.verifying_key().as_bytes());

    // A signed record as the first schema's terminal made it.
    let first = Record {
        id: [7; 16],
        terminal: terminal_id.clone(),
        seq: 1,
        prev: Digest32::default(),
        at: UnixTime(T0),
        data_version: 4,
        operator: "op-1".into(),
        body: redemption(1, "XYX-BUS-TOPUP", 1, 0),
    }
    .sign(&key);
    let first_hash = first.hash();
    {
        let mut conn = Connection::open(&path).unwrap();
        db::configure(&conn).unwrap();
        db::migrate(&mut conn, 1).unwrap();
        assert_eq!(db::schema_version(&conn).unwrap(), 1);
        conn.execute_batch(&format!(
            "INSERT INTO settings (key, value) VALUES
                ('identity.terminal_id', '{terminal_id}'),
                ('identity.site_id', 'bus'),
                ('identity.registry_key', '{}'),
                ('ui.language', 'zh');",
            hex::encode(terminal_key(12).verifying_key().as_bytes())
        ))
        .unwrap();
        conn.execute(
            "INSERT INTO data_state VALUES (1, 4, ?1, ?2, 1, 0, ?3, ?4, ?4, ?5, ?4)",
            params![
                T0 - 600,
                [1u8; 32].as_slice(),
                [2u8; 32].as_slice(),
                T0,
                T0 + 86_400
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO listings VALUES (?1, 'P02', '2025-05-01', '2027-05-01', 0, 'person', '陈*华')",
            [sub(1).as_str()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO journal (seq, id, kind, at, operator, measure, sub, original, discount,
                                  payable, bytes, sig, hash)
             VALUES (1, ?1, 'redemption', ?2, 'op-1', 'XYX-BUS-TOPUP', ?3, 1000, 500, 500, ?4, ?5, ?6)",
            params![
                [7u8; 16].as_slice(),
                T0,
                sub(1).as_str(),
                first.bytes,
                first.sig.as_slice(),
                first_hash.0.as_slice()
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO uses (sub, measure, at, record_id) VALUES (?1, 'XYX-BUS-TOPUP', ?2, ?3)",
            params![sub(1).as_str(), T0, [7u8; 16].as_slice()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO seen_cti (cti, keep_until, record_id) VALUES (?1, ?2, ?3)",
            params![[1u8; 12].as_slice(), T0 + 86_400, [7u8; 16].as_slice()],
        )
        .unwrap();
    }

    let mut store = Store::open(&path).unwrap();
    // Upgraded to the latest schema.
    let conn = Connection::open(&path).unwrap();
    assert_eq!(db::schema_version(&conn).unwrap(), db::latest_version());
    drop(conn);

    // Everything is still there and readable through the current code.
    let id = store.identity().unwrap().unwrap();
    assert_eq!(
        (id.terminal_id.as_str(), id.site_id.as_str()),
        (terminal_id.as_str(), "bus")
    );
    assert_eq!(store.setting("ui.language").unwrap().as_deref(), Some("zh"));
    let state = store.data_state().unwrap().unwrap();
    assert_eq!((state.version, state.listings), (4, 1));
    assert_eq!(
        store.listings_of(&sub(1)).unwrap(),
        [listing(1, "P02", "2025-05-01", "2027-05-01", false)].map(|l| {
            xinyi_core::eligibility::EligibilityEntry {
                display_name: "陈*华".into(),
                ..l
            }
        })
    );
    let measure = MeasureId::parse("XYX-BUS-TOPUP").unwrap();
    assert_eq!(
        store
            .uses_between(&sub(1), &measure, UnixTime(T0 - 1), UnixTime(T0 + 1))
            .unwrap(),
        1
    );
    assert!(store.cti_redeemed(&Cti::new(vec![1; 12]).unwrap()).unwrap());
    assert_eq!(store.unsent(10).unwrap(), std::slice::from_ref(&first));
    // The trusted time starts from what the old schema held: its records
    // and the hub's signed time; the registry holds nothing yet.
    assert_eq!(store.clock_floor().unwrap(), Some(UnixTime(T0)));
    assert_eq!(store.hub_holds_through().unwrap(), 0);

    // The journal continues the chain the old schema started.
    let next = store
        .append(&key, "op-2", UnixTime(T0 + 5), refusal(2))
        .unwrap();
    assert_eq!((next.seq, next.record.prev), (2, first_hash));
    assert_eq!(next.record.data_version, 4);
    let chain: Vec<_> = store
        .records_from(1, 10)
        .unwrap()
        .into_iter()
        .map(|e| (e.signed.open(&key.verifying_key()).unwrap(), e.hash))
        .collect();
    check_chain(&terminal_id, None, &chain).unwrap();
    // The later migration's index serves the staff screen.
    let totals = store
        .shift_totals(Some("op-1"), UnixTime(T0 - 1), UnixTime(T0 + 10))
        .unwrap();
    assert_eq!((totals.redemptions, totals.payable), (1, 500));
}

/// Migrations the previous release applied.
const PREVIOUS_RELEASE: usize = 3;

/// A terminal of the previous release (schema 3): staff with PINs, one
/// record the hub confirmed and one not yet sent. After the upgrade the
/// same PINs sign in, the confirmed record is not sent again, the unsent
/// one is, and the roster is journaled once so the registry learns it.
#[test]
fn upgrade_from_the_previous_release_keeps_staff_and_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let key = terminal_key(21);
    let terminal_id = xinyi_core::wire::key_id(key.verifying_key().as_bytes());
    let staff = [("1001", "clerk", "2468"), ("9001", "supervisor", "135790")];
    let mut prev = Digest32::default();
    let mut records = Vec::new();
    for seq in 1..=2u64 {
        let r = Record {
            id: [seq as u8; 16],
            terminal: terminal_id.clone(),
            seq,
            prev,
            at: UnixTime(T0 + seq as i64),
            data_version: 4,
            operator: "1001".into(),
            body: redemption(seq as u8, "XYX-BUS-TOPUP", seq as u8, 0),
        }
        .sign(&key);
        prev = r.hash();
        records.push(r);
    }
    {
        let mut conn = Connection::open(&path).unwrap();
        db::configure(&conn).unwrap();
        db::migrate(&mut conn, PREVIOUS_RELEASE).unwrap();
        assert_eq!(db::schema_version(&conn).unwrap(), PREVIOUS_RELEASE as i64);
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('identity.terminal_id', ?1),
                ('identity.site_id', 'bus'), ('identity.registry_key', ?2)",
            params![
                terminal_id,
                hex::encode(terminal_key(22).verifying_key().as_bytes())
            ],
        )
        .unwrap();
        for (id, role, pin) in staff {
            let salt = [id.as_bytes()[0]; 16];
            let mut hash = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pin.as_bytes(), &salt, 1_000, &mut hash);
            conn.execute(
                "INSERT INTO operators (id, name, role, pin_salt, pin_hash, iterations, created_at)
                 VALUES (?1, '王丽', ?2, ?3, ?4, 1000, ?5)",
                params![id, role, salt.as_slice(), hash.as_slice(), T0],
            )
            .unwrap();
        }
        for (r, uploaded) in records.iter().zip([Some(T0 + 60), None]) {
            let open = r.open(&key.verifying_key()).unwrap();
            conn.execute(
                "INSERT INTO journal (seq, id, kind, at, operator, measure, sub, original,
                                      discount, payable, bytes, sig, hash, uploaded_at)
                 VALUES (?1, ?2, 'redemption', ?3, '1001', 'XYX-BUS-TOPUP', ?4, 1000, 500, 500,
                         ?5, ?6, ?7, ?8)",
                params![
                    open.seq as i64,
                    open.id.as_slice(),
                    open.at.0,
                    sub(open.seq as u8).as_str(),
                    r.bytes,
                    r.sig.as_slice(),
                    r.hash().0.as_slice(),
                    uploaded
                ],
            )
            .unwrap();
        }
    }

    let mut store = Store::open(&path).unwrap();
    // Both PINs sign in as before; a wrong one does not.
    for (id, role, pin) in staff {
        let op = store.check_pin(id, pin).unwrap().unwrap();
        assert_eq!(op.role.as_str(), role);
        assert!(store.check_pin(id, "000000").unwrap().is_none());
    }
    // What the hub confirmed stays confirmed; the other is still to send.
    assert_eq!(store.hub_holds_through().unwrap(), 1);
    assert_eq!(store.unsent(10).unwrap(), records[1..]);
    // The roster reaches the journal once, chained after the old records.
    assert_eq!(store.journal_roster(&key, UnixTime(T0 + 10)).unwrap(), 2);
    assert_eq!(store.journal_roster(&key, UnixTime(T0 + 11)).unwrap(), 0);
    let chain: Vec<_> = store
        .records_from(1, 10)
        .unwrap()
        .into_iter()
        .map(|e| (e.signed.open(&key.verifying_key()).unwrap(), e.hash))
        .collect();
    assert_eq!(chain.len(), 4);
    check_chain(&terminal_id, None, &chain).unwrap();
    assert_eq!(store.unsent(10).unwrap().len(), 3);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    drop(Store::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", db::latest_version() + 1)
            .unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    std::fs::write(
        &path,
        b"this is not an SQLite database, just text that is long enough",
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[cfg(unix)]
#[test]
fn database_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let mut store = Store::open(&path).unwrap();
    store
        .append(&terminal_key(1), "op", UnixTime(T0), refusal(1))
        .unwrap();
    for f in [path.clone(), path.with_extension("db-wal")] {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", f.display());
    }
}
