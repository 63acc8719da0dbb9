//! Backups of a registry (`xinyi-hub backup` / `restore`): a backup holds
//! the database, the keys and the settings with their permissions; it
//! restores into a new directory only; every kind of damaged or hostile
//! backup file is refused with what is wrong, and leaves nothing behind.
//! `xinyi-hub status` reads the same facts the health check serves.
//!
//! Backups taken while terminals upload, and terminals carrying on with a
//! restored hub, are in the terminal's channel tests (`tests/it/channel.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Output;

use common::*;
use flate2::read::GzDecoder;
use xinyi_hub::backup::{MANIFEST, Manifest, restore};
use xinyi_hub::{Hub, HubError};

fn failed(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A registry with the vectors' lists, a terminal enrolled over HTTP and
/// some of its records uploaded.
async fn registry(dir: &Path) -> (String, u64) {
    let (hub, server) = served(dir).await;
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    t.enroll(&code.code).await;
    let at = now();
    let mut batch = t.roster(at);
    let sub = hub.listings().unwrap()[0].sub.clone();
    for fen in [1000, 2000, 3000] {
        batch.push(t.redemption(at, &sub, fen).1);
    }
    let receipt = t.upload(&batch).await;
    server.stop().await.unwrap();
    (t.id.clone(), receipt.held_through)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_the_same_registry_into_a_new_directory_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let (terminal, held) = registry(&dir).await;
    let file = tmp.path().join("hub-backup.tar.gz");

    let out = ok(&cli(&dir, &["backup", "--out", file.to_str().unwrap()]));
    assert!(out.contains("signing key"), "{out}");
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    // No second backup over the first.
    let err = failed(&cli(&dir, &["backup", "--out", file.to_str().unwrap()]));
    assert!(err.contains("already exists"), "{err}");

    let restored_dir = tmp.path().join("restored");
    let original_settings = std::fs::read(dir.join("hub.toml")).unwrap();
    let out = ok(&restore_cli(&file, &restored_dir, &dir));
    assert!(out.contains("restored"), "{out}");

    // The same keys, with the same owner-only permissions, and the same
    // data: a terminal notices nothing. (On PostgreSQL the restored
    // settings name the database the registry went back into.)
    if !on_postgres() {
        assert_eq!(
            std::fs::read(restored_dir.join("hub.toml")).unwrap(),
            original_settings
        );
    }
    for f in ["registry.key", "pseudonym.key", "hub.toml"] {
        if f != "hub.toml" {
            assert_eq!(
                std::fs::read(dir.join(f)).unwrap(),
                std::fs::read(restored_dir.join(f)).unwrap(),
                "{f}"
            );
        }
        #[cfg(unix)]
        assert_eq!(mode(&dir.join(f)), mode(&restored_dir.join(f)), "{f}");
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&restored_dir), 0o700);
        if !on_postgres() {
            assert_eq!(mode(&restored_dir.join("hub.db")), 0o600);
        }
    }
    let before = Hub::open(&dir).unwrap();
    let after = Hub::open(&restored_dir).unwrap();
    assert_eq!(after.registry_fingerprint(), before.registry_fingerprint());
    let (v0, v1) = (
        before.current_version().unwrap().unwrap(),
        after.current_version().unwrap().unwrap(),
    );
    assert_eq!((v1.version, v1.set_hash), (v0.version, v0.set_hash));
    assert_eq!(after.upload_status(&terminal).unwrap().held_through, held);
    assert_eq!(
        after.usage_report().unwrap(),
        before.usage_report().unwrap()
    );

    // `status` says the same as the health check, and that all is well.
    let json: serde_json::Value =
        serde_json::from_str(&ok(&cli(&restored_dir, &["status", "--json"]))).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["integrity"], "ok");
    assert_eq!(json["health"]["software"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["health"]["data_version"].as_u64(), Some(v0.version));
    assert_eq!(json["counts"]["records"].as_u64(), Some(held));
    assert_eq!(json["counts"]["terminals"].as_u64(), Some(1));
    let text = ok(&cli(&restored_dir, &["status"]));
    assert!(
        text.contains(&before.registry_fingerprint().to_string()),
        "{text}"
    );

    // Never over a registry: the directory is left as it was.
    let kept = if on_postgres() { "hub.toml" } else { "hub.db" };
    let db_before = std::fs::read(restored_dir.join(kept)).unwrap();
    let err = failed(&cli(&restored_dir, &["restore", file.to_str().unwrap()]));
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(restored_dir.join(kept)).unwrap(), db_before);
    // Nor into a folder holding anything else.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"mine").unwrap();
    assert!(matches!(
        restore(&file, &other),
        Err(HubError::AlreadyExists { .. })
    ));
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
    // On PostgreSQL, never into a database that holds a registry (the
    // backup's settings name the one the registry is still in): nothing
    // is made, nothing there changes.
    if on_postgres() {
        let again = tmp.path().join("again");
        let err = restore(&file, &again).unwrap_err().to_string();
        assert!(err.contains("already holds a registry"), "{err}");
        assert!(!again.exists());
        assert_eq!(before.upload_status(&terminal).unwrap().held_through, held);
    }
    // An empty folder (a fresh mount point) is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    restore_here(&file, &empty, &dir).unwrap();
    assert!(Hub::open(&empty).is_ok());
    let names: Vec<String> = std::fs::read_dir(&empty)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"registry.key".to_owned()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with(".xinyi-hub-")),
        "{names:?}"
    );
}

/// The entries of a backup, as (header, bytes).
fn entries(file: &Path) -> Vec<(tar::Header, Vec<u8>)> {
    let mut a = tar::Archive::new(GzDecoder::new(std::fs::File::open(file).unwrap()));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (e.header().clone(), bytes)
        })
        .collect()
}

/// Writes `entries` as a backup file, each under the path its header names
/// (or the given one).
fn write_backup(file: &Path, entries: &[(tar::Header, String, Vec<u8>)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(file).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    for (h, path, bytes) in entries {
        let mut h = h.clone();
        h.set_size(bytes.len() as u64);
        if h.entry_type() == tar::EntryType::Symlink {
            b.append_link(&mut h, path, "/etc/passwd").unwrap();
        } else {
            // `set_path` refuses `..`; a hostile file writes it raw.
            let name = path.as_bytes();
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name = [0; 100];
            gnu.name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, bytes.as_slice()).unwrap();
        }
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

fn named(es: &[(tar::Header, Vec<u8>)]) -> Vec<(tar::Header, String, Vec<u8>)> {
    es.iter()
        .map(|(h, b)| {
            (
                h.clone(),
                h.path().unwrap().to_string_lossy().into_owned(),
                b.clone(),
            )
        })
        .collect()
}

/// Damaged and hostile backups are refused with what is wrong, and the
/// target directory does not appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_hostile_backup_is_refused_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    registry(&dir).await;
    let good = tmp.path().join("good.tar.gz");
    let manifest = Hub::open(&dir).unwrap().backup(&good).unwrap();
    let es = entries(&good);
    assert_eq!(es[0].0.path().unwrap().to_str(), Some(MANIFEST));
    let listed: Manifest = serde_json::from_slice(&es[0].1).unwrap();
    assert_eq!(listed, manifest);
    assert!(listed.files.iter().any(|f| f.path == "registry.key"));

    let mut n = 0;
    let mut refused = |name: &str, make: &dyn Fn(&Path), why: &str| {
        n += 1;
        let file = tmp.path().join(format!("{name}.tar.gz"));
        make(&file);
        let target = tmp.path().join(format!("restore-{n}"));
        let err = restore(&file, &target).unwrap_err().to_string();
        assert!(err.contains(why), "{name}: {err}");
        assert!(!target.exists(), "{name}: the target was made");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.starts_with(".xinyi-hub-").then_some(name)
            })
            .collect();
        assert!(leftovers.is_empty(), "{name}: left {leftovers:?}");
    };

    let db_at = es
        .iter()
        .position(|(h, _)| h.path().unwrap().to_str() == Some("hub.db"))
        .unwrap();
    refused(
        "flipped",
        &|f| {
            let mut e = named(&es);
            let mid = e[db_at].2.len() / 2;
            e[db_at].2[mid] ^= 0x40;
            write_backup(f, &e);
        },
        "does not match its SHA-256",
    );
    refused(
        "cut",
        &|f| {
            let bytes = std::fs::read(&good).unwrap();
            std::fs::write(f, &bytes[..bytes.len() / 2]).unwrap();
        },
        "not a usable backup",
    );
    refused(
        "missing-key",
        &|f| {
            let e: Vec<_> = named(&es)
                .into_iter()
                .filter(|(_, p, _)| p != "registry.key")
                .collect();
            write_backup(f, &e);
        },
        "registry.key is in its manifest but not in the file",
    );
    refused(
        "unlisted",
        &|f| {
            let mut e = named(&es);
            let extra = (e[1].0.clone(), "authorized_keys".to_owned(), b"x".to_vec());
            e.push(extra);
            write_backup(f, &e);
        },
        "authorized_keys is not in its manifest",
    );
    refused(
        "escape",
        &|f| {
            let mut e = named(&es);
            let mut m: Manifest = serde_json::from_slice(&e[0].2).unwrap();
            m.files[1].path = "../escaped".into();
            e[0].2 = serde_json::to_vec(&m).unwrap();
            e[2].1 = "../escaped".into();
            write_backup(f, &e);
        },
        "outside the data directory",
    );
    refused(
        "symlink",
        &|f| {
            let mut e = named(&es);
            let mut m: Manifest = serde_json::from_slice(&e[0].2).unwrap();
            m.files.push(xinyi_hub::backup::ManifestFile {
                path: "link".into(),
                bytes: 0,
                sha256: String::new(),
                mode: 0o600,
            });
            e[0].2 = serde_json::to_vec(&m).unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            e.push((h, "link".into(), Vec::new()));
            write_backup(f, &e);
        },
        "not a plain file",
    );
    refused(
        "no-manifest",
        &|f| write_backup(f, &named(&es)[1..]),
        "not xinyi-hub-backup.json",
    );
    refused(
        "not-a-backup",
        &|f| std::fs::write(f, b"just some text, not gzip at all").unwrap(),
        "not a usable backup",
    );
    // Into an empty directory that exists: it stays empty.
    let flipped = tmp.path().join("flipped.tar.gz");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = restore(&flipped, &empty).unwrap_err().to_string();
    assert!(err.contains("SHA-256"), "{err}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // The good one still restores after all that.
    restore_here(&good, &tmp.path().join("fine"), &dir).unwrap();
}

/// A key rotation between two backups: each backup's keys belong to its
/// database, so a restored old backup signs with the key its terminals
/// followed then, and a restored new one with the rotated key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_backup_holds_the_key_its_database_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    registry(&dir).await;
    let hub = Hub::open(&dir).unwrap();
    let old_fp = hub.registry_fingerprint();
    hub.backup(&tmp.path().join("old.tar.gz")).unwrap();
    hub.rotate_registry_key().unwrap();
    let new_fp = hub.registry_fingerprint();
    assert_ne!(old_fp, new_fp);
    hub.backup(&tmp.path().join("new.tar.gz")).unwrap();
    for (name, fp) in [("old", old_fp), ("new", new_fp)] {
        let to = tmp.path().join(format!("r-{name}"));
        restore_here(&tmp.path().join(format!("{name}.tar.gz")), &to, &dir).unwrap();
        assert_eq!(Hub::open(&to).unwrap().registry_fingerprint(), fp, "{name}");
    }
}
