//! A registry on PostgreSQL shared by several hub processes, and a SQLite
//! registry moved there: each test starts real `xinyi-hub` processes on
//! one real PostgreSQL server (`xinyi_testkit::pg`), whatever database
//! the rest of the suite runs on. Without PostgreSQL's programs they say
//! they did not run (and fail where `XINYI_REQUIRE_POSTGRES` is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::daemon::Daemon;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, HubError};

/// Whether PostgreSQL is here; says so when it is not.
fn postgres_here(test: &str) -> bool {
    let here = xinyi_testkit::pg::available();
    if !here {
        eprintln!("{test}: did not run: PostgreSQL's programs are not installed");
    }
    here
}

/// A hub as [`common::hub`] makes it, in a new PostgreSQL database.
fn postgres_hub(dir: &Path) -> Hub {
    std::fs::create_dir_all(dir).unwrap();
    let url = xinyi_testkit::pg::server().fresh_database();
    std::fs::write(dir.join("hub.toml"), format!("database = \"{url}\"\n")).unwrap();
    let hub = sqlite_hub(dir);
    assert_eq!(hub.status().unwrap().health.database, "ok");
    hub
}

/// A second data directory for the registry in `dir`: its key files and
/// settings, copied as an operator copies them to another server.
fn second_dir(dir: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    to.to_owned()
}

fn url(d: &Daemon) -> String {
    format!("http://{}", d.addr)
}

/// Two hub processes on one PostgreSQL database: an enrollment code raced
/// at both is used once; a request seen by one is a replay at the other;
/// the same upload sent to both at once is stored once; two imports at
/// once publish two consecutive versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hub_processes_share_one_registry() {
    if !postgres_here("two_hub_processes_share_one_registry") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a_dir = tmp.path().join("a");
    let hub = postgres_hub(&a_dir);
    with_lists(&hub);
    let b_dir = second_dir(&a_dir, &tmp.path().join("b"));
    let (a, b) = (Daemon::start(&a_dir, ""), Daemon::start(&b_dir, ""));

    // One code, two terminals, one at each process, at once.
    for _ in 0..5 {
        let code = hub.create_enrollment_code(SITE, None).unwrap().code;
        let (ta, tb) = (Terminal::new(&hub, &url(&a)), Terminal::new(&hub, &url(&b)));
        let (ra, rb) = tokio::join!(ta.enroll_raw(&code), tb.enroll_raw(&code));
        let mut ok: Vec<u16> = [ra.status().as_u16(), rb.status().as_u16()].to_vec();
        ok.sort_unstable();
        assert_eq!(ok[0], 200, "{ok:?}");
        assert!(ok[1] >= 400, "the code was used twice: {ok:?}");
    }

    // A terminal enrolled at one process is known at the other.
    let mut t = Terminal::new(&hub, &url(&a));
    let code = hub.create_enrollment_code(SITE, None).unwrap().code;
    t.enroll(&code).await;
    let at = now();
    let mut batch = t.roster(at);
    let sub = hub.listings().unwrap()[0].sub.clone();
    for i in 0..20 {
        batch.push(t.redemption(at + i, &sub, 1000 + i as u64 * 10).1);
    }

    // The same terminal as process B sees it.
    let mut tb = Terminal::new(&hub, &url(&b));
    tb.key = t.key.clone();
    tb.id = t.id.clone();

    // A request sent to A, replayed (the same time and nonce, so the same
    // signature) at B.
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).unwrap();
    let time = now();
    let path = "/v1/records/status";
    let first = t
        .request(reqwest::Method::GET, path, Vec::new(), time, nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let again = tb
        .request(reqwest::Method::GET, path, Vec::new(), time, nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        401,
        "a replay at the other process was answered"
    );
    let said: serde_json::Value = again.json().await.unwrap();
    assert_eq!(said["code"], "replay", "{said}");

    // The same upload to both processes at once, and again.
    for _ in 0..3 {
        let (ra, rb) = tokio::join!(t.upload_raw(&batch), tb.upload_raw(&batch));
        assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (200, 200));
    }
    let held = hub.upload_status(&t.id).unwrap();
    assert_eq!(held.held_through, batch.len() as u64);
    let stored = integrity_row(&hub, &t.id);
    assert_eq!(stored.records, batch.len() as u64, "{stored:?}");

    // Two imports at once, one at each data directory.
    let before = hub.current_version().unwrap().unwrap().version;
    let (withdraw, _) = xinyi_testkit::withdrawal_of(&xinyi_testkit::first_listed_id_number());
    let excluded = &column("vectors/exclusions.csv", "id_number")[0];
    let (repair, _) = xinyi_testkit::exclusion_withdrawal_of(&excluded.1);
    let (wf, rf) = (
        tmp.path().join("withdraw.csv"),
        tmp.path().join("repair.csv"),
    );
    std::fs::write(&wf, withdraw).unwrap();
    std::fs::write(&rf, repair).unwrap();
    let spawn = |dir: &Path, what: &str, file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_xinyi-hub"))
            .arg("--data-dir")
            .arg(dir)
            .args(["import", what])
            .arg(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let imports = [
        spawn(&a_dir, "listings", &wf),
        spawn(&b_dir, "exclusions", &rf),
    ];
    for child in imports {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let versions: Vec<u64> = hub.versions().unwrap().iter().map(|v| v.version).collect();
    let expected: Vec<u64> = (1..=before + 2).collect();
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "versions made: {versions:?}");

    for d in [a, b] {
        let log = d.stop();
        assert!(
            !log.iter().any(|l| l.contains("panicked")),
            "{}",
            log.join("\n")
        );
    }
}

/// What a process says it holds of `t`'s records, signed.
async fn signed_status(t: &Terminal) -> Vec<u8> {
    let r = t.get("/v1/records/status").await;
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

/// A key rotated at one process is taken up by the others, which keep
/// key files of their own: they sign with the new key at once, write it
/// over their file, and only the newest key is kept (sealed) in the
/// database. A stale key file the database cannot replace (a rotation by
/// an older release) stops the process, naming the file to copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_taken_up_by_the_other_processes() {
    if !postgres_here("a_rotated_key_is_taken_up_by_the_other_processes") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a_dir = tmp.path().join("a");
    let hub = postgres_hub(&a_dir);
    let b_dir = second_dir(&a_dir, &tmp.path().join("b"));
    let stale_dir = second_dir(&a_dir, &tmp.path().join("stale"));
    let b = Daemon::start(&b_dir, "");
    let t = Terminal::new(&hub, &url(&b));
    let code = hub.create_enrollment_code(SITE, None).unwrap().code;
    t.enroll(&code).await;
    let old = hub.registry_public_key();
    let before = signed_status(&t).await;
    assert!(xinyi_core::wire::receipt::UploadReceipt::open(&before, &old).is_ok());

    for round in 1..=2 {
        hub.rotate_registry_key().unwrap();
        let new = hub.registry_public_key();
        assert_ne!(new, old);
        // B's next answer is signed with the new key, not its file's old one.
        let after = signed_status(&t).await;
        assert!(
            xinyi_core::wire::receipt::UploadReceipt::open(&after, &new).is_ok(),
            "round {round}: B did not sign with the rotated key"
        );
        assert_eq!(
            std::fs::read_to_string(b_dir.join("registry.key")).unwrap(),
            std::fs::read_to_string(a_dir.join("registry.key")).unwrap(),
            "round {round}: B's key file"
        );
        assert_eq!(
            count_behind_the_back(
                &a_dir,
                "SELECT count(*) FROM registry_rotations WHERE key_sealed IS NOT NULL"
            ),
            1,
            "round {round}: only the newest key is kept"
        );
    }
    let log = b.stop();
    assert!(
        !log.iter().any(|l| l.contains("panicked")),
        "{}",
        log.join("\n")
    );

    // The sealed key gone (as after a rotation by an older release), a
    // process with the first key file refuses to start.
    let forget = "UPDATE registry_rotations SET key_sealed = NULL";
    behind_the_back(&a_dir, forget, forget).unwrap();
    let out = cli(&stale_dir, &["status"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("registry.key") && said.contains("copy registry.key"),
        "{said}"
    );
}

/// A terminal's requests do not wait for the registry's one writer: while
/// another process holds it (a long import), uploads and metadata are
/// answered; a publication goes once it is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_are_served_while_an_import_holds_the_writer() {
    if !postgres_here("terminals_are_served_while_an_import_holds_the_writer") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let hub = postgres_hub(&dir);
    with_lists(&hub);
    let hub = Arc::new(hub);
    let server = Server::start(Arc::clone(&hub)).await.unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    let code = hub.create_enrollment_code(SITE, None).unwrap().code;
    let (_, registry) = t.enroll(&code).await;

    // Another process takes the writer's lock and keeps it.
    let settings = std::fs::read_to_string(dir.join("hub.toml")).unwrap();
    let url = settings
        .lines()
        .find_map(|l| l.strip_prefix("database = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let server_pg = xinyi_testkit::pg::server();
    // (Each -c is answered as it completes; the lock is the session's.)
    let mut holder = Command::new(server_pg.bin().join("psql"))
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", &url])
        .args(["-c", "SELECT pg_backend_pid()"])
        .args(["-c", &format!("SELECT pg_advisory_lock({}, 0)", 0x7879)])
        .args(["-c", "SELECT 'held'", "-c", "SELECT pg_sleep(120)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.last().is_none_or(|l: &String| l.trim() != "held") {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0);
        lines.push(line);
    }
    let holder_pid: i64 = lines[0].trim().parse().unwrap();

    let at = now();
    let sub = hub.listings().unwrap()[0].sub.clone();
    let mut batch = t.roster(at);
    batch.push(t.redemption(at, &sub, 800).1);
    let receipt = t.upload(&batch).await;
    assert_eq!(receipt.stored, batch.len() as u64);
    t.metadata(0, &registry).await;
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the writer's lock was let go before the terminal was served"
    );
    // A publication is the writer's: it goes once the lock is let go.
    let waiting = {
        let hub = Arc::clone(&hub);
        tokio::task::spawn_blocking(move || hub.publish(true))
    };
    server_pg
        .psql(
            "postgres",
            &format!("SELECT pg_terminate_backend({holder_pid})"),
        )
        .unwrap();
    holder.wait().unwrap();
    let published = waiting.await.unwrap().unwrap();
    assert!(published.new_version);
    server.stop().await.unwrap();
}

/// Hub processes opening an empty PostgreSQL database at once make its
/// tables once between them: every one opens.
#[test]
fn processes_opening_an_empty_database_together_make_it_once() {
    if !postgres_here("processes_opening_an_empty_database_together_make_it_once") {
        return;
    }
    let url = xinyi_testkit::pg::server().fresh_database();
    let location = xinyi_hub::db::Location::Postgres {
        url,
        pool: 2,
        ca: None,
    };
    let opened: Vec<Result<i64, HubError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| xinyi_hub::db::Db::open_at(&location)?.schema_version()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in opened {
        assert_eq!(o.unwrap(), xinyi_hub::db::latest_version());
    }
}

/// A registry on PostgreSQL written by a newer xinyi-hub is refused,
/// saying which versions and what to do; nothing is changed.
#[test]
fn a_newer_schema_on_postgres_is_refused() {
    if !postgres_here("a_newer_schema_on_postgres_is_refused") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    drop(postgres_hub(&dir));
    let newer = xinyi_hub::db::latest_version() + 1;
    behind_the_back(
        &dir,
        "",
        &format!("UPDATE xinyi_schema SET version = {newer}"),
    )
    .unwrap();
    let err = Hub::open(&dir).unwrap_err();
    assert!(
        matches!(err, HubError::SchemaTooNew { found, .. } if found == newer),
        "{err:?}"
    );
    let out = cli(&dir, &["status"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("schema version {newer}")) && stderr.contains("upgrade xinyi-hub"),
        "{stderr}"
    );
}

/// Without `public_url`, a process on PostgreSQL publishes the channel
/// addresses under its own listen address, which any other process
/// sharing the database replaces with its own when it starts: it says so
/// when it starts, naming the setting. With `public_url` it says nothing
/// of it.
#[test]
fn a_process_on_postgres_without_public_url_warns_that_it_publishes_its_own_address() {
    if !postgres_here(
        "a_process_on_postgres_without_public_url_warns_that_it_publishes_its_own_address",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    drop(postgres_hub(&dir));
    let warned = |log: &[String]| {
        log.iter().any(|l| {
            l.contains("WARN")
                && l.contains("no public_url in hub.toml")
                && l.contains("every hub process sharing this database")
        })
    };
    let log = Daemon::start(&dir, "").stop();
    assert!(warned(&log), "{}", log.join("\n"));
    let log = Daemon::start(&dir, "public_url = \"https://xyjl.example.gov.cn\"\n").stop();
    assert!(
        !log.iter().any(|l| l.contains("no public_url")),
        "{}",
        log.join("\n")
    );
}

/// `xinyi-hub migrate --to` moves a SQLite registry with the vectors and
/// a terminal's records into PostgreSQL: the same published version and
/// set hash, the same reports, the same keys; the terminal goes on as if
/// nothing happened. Into a database that holds a registry it refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_registry_moves_to_postgres_unnoticed() {
    if !postgres_here("a_sqlite_registry_moves_to_postgres_unnoticed") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    // The citizens' pages at a fixed address (not the test server's
    // port, which changes between the two serves and would publish).
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hub.toml"),
        "public_url = \"https://xyjl.example.gov.cn\"\n",
    )
    .unwrap();
    let hub = sqlite_hub(&dir);
    with_lists(&hub);
    let hub = Arc::new(hub);
    let server = Server::start(Arc::clone(&hub)).await.unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    let code = hub.create_enrollment_code(SITE, None).unwrap().code;
    let (_, registry) = t.enroll(&code).await;
    let at = now();
    let sub = hub.listings().unwrap()[0].sub.clone();
    let mut batch = t.roster(at);
    for i in 0..30 {
        batch.push(t.redemption(at + i, &sub, 500 + i as u64).1);
    }
    t.upload(&batch).await;
    let have = t.metadata(0, &registry).await.version;
    server.stop().await.unwrap();
    let before = (
        hub.current_version().unwrap().unwrap(),
        hub.usage_report().unwrap(),
        hub.overuse_report().unwrap(),
        hub.integrity_report().unwrap(),
        hub.registry_fingerprint(),
        hub.upload_status(&t.id).unwrap().held_through,
    );
    // The stopped server's last connections let go of the hub as they
    // close; the registry is then the command's alone.
    let mut hub = hub;
    for _ in 0..200 {
        match Arc::try_unwrap(hub) {
            Ok(only) => {
                drop(only);
                break;
            }
            Err(shared) => {
                hub = shared;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }

    let url = xinyi_testkit::pg::server().fresh_database();
    let said = ok(&cli(&dir, &["migrate", "--to", &url]));
    assert!(said.contains("verified"), "{said}");
    assert!(
        said.contains(&before.0.set_hash.to_hex()),
        "{said} should name the set hash"
    );
    let settings = std::fs::read_to_string(dir.join("hub.toml")).unwrap();
    assert!(
        settings.contains(&format!("database = \"{url}\"")),
        "{settings}"
    );

    let moved = Hub::open(&dir).unwrap();
    let status = moved.status().unwrap();
    assert!(status.ok, "{status:?}");
    let after = (
        moved.current_version().unwrap().unwrap(),
        moved.usage_report().unwrap(),
        moved.overuse_report().unwrap(),
        moved.integrity_report().unwrap(),
        moved.registry_fingerprint(),
        moved.upload_status(&t.id).unwrap().held_through,
    );
    assert_eq!(after.0.version, before.0.version);
    assert_eq!(after.0.set_hash, before.0.set_hash);
    assert_eq!(after.1, before.1);
    assert_eq!(after.2, before.2);
    assert_eq!(after.3, before.3);
    assert_eq!(after.4, before.4);
    assert_eq!(after.5, before.5);

    // The terminal: the same version, and its next record continues the
    // chain the registry held before the move.
    let moved = Arc::new(moved);
    let server = Server::start(Arc::clone(&moved)).await.unwrap();
    t.base = server.url();
    let meta = t.metadata(have, &registry).await;
    assert_eq!(meta.version, have);
    let next = t.redemption(now(), &sub, 700).1;
    let receipt = t.upload(&[next]).await;
    assert_eq!((receipt.stored, receipt.held_through), (1, before.5 + 1));
    server.stop().await.unwrap();

    // Not into a database that holds a registry: nothing there changes.
    let held = moved.integrity_report().unwrap();
    let other = tmp.path().join("other");
    drop(sqlite_hub(&other));
    let err = Hub::open(&other)
        .unwrap()
        .migrate_to(&url, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already holds a registry"), "{err}");
    assert_eq!(moved.integrity_report().unwrap(), held);
}

/// How many of the hub's connections to the database named last in `url`
/// are open, and how many of them are over TLS (as the server sees them).
fn hub_sessions(url: &str) -> (i64, i64) {
    let db = url.rsplit('/').next().unwrap();
    let out = xinyi_testkit::pg::server()
        .psql(
            "postgres",
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
                 JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.datname = '{db}' AND a.application_name = 'xinyi-hub'"
            ),
        )
        .unwrap();
    let (all, tls) = out.trim().split_once('|').unwrap();
    (all.parse().unwrap(), tls.parse().unwrap())
}

/// With `database_ca` the hub reaches PostgreSQL over TLS only, the
/// server's certificate checked against that CA: the registry works, and
/// every connection the server sees is encrypted. Without it, on this
/// machine, the connections are in clear. A CA that did not sign the
/// server's certificate, or the system's CAs (`sslmode=require`), refuse
/// the server, saying so, and nothing is written.
#[test]
fn the_hub_reaches_postgres_over_tls_checked_against_its_ca() {
    if !postgres_here("the_hub_reaches_postgres_over_tls_checked_against_its_ca") {
        return;
    }
    let server = xinyi_testkit::pg::server();
    let tmp = tempfile::tempdir().unwrap();

    let dir = tmp.path().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let url = server.fresh_database();
    std::fs::copy(server.ca_file(), dir.join("db-ca.pem")).unwrap();
    // Relative to hub.toml, as the certificate files of `serve` are.
    std::fs::write(
        dir.join("hub.toml"),
        format!("database = \"{url}\"\ndatabase_ca = \"db-ca.pem\"\n"),
    )
    .unwrap();
    let hub = sqlite_hub(&dir);
    with_lists(&hub);
    assert!(!hub.listings().unwrap().is_empty());
    let (all, tls) = hub_sessions(&url);
    assert!(all > 0, "the hub keeps no connection open");
    assert_eq!(tls, all, "{all} connections, {tls} over TLS");
    drop(hub);

    let plain_dir = tmp.path().join("plain");
    let plain_url = xinyi_testkit::pg::server().fresh_database();
    std::fs::create_dir_all(&plain_dir).unwrap();
    std::fs::write(
        plain_dir.join("hub.toml"),
        format!("database = \"{plain_url}\"\n"),
    )
    .unwrap();
    let plain = sqlite_hub(&plain_dir);
    let (all, tls) = hub_sessions(&plain_url);
    assert!(all > 0 && tls == 0, "{all} connections, {tls} over TLS");
    drop(plain);

    // `migrate --to … --database-ca` moves a SQLite registry over TLS and
    // names the CA in hub.toml, so the hub goes on over TLS.
    let moved = tmp.path().join("moved");
    with_lists(&sqlite_hub(&moved));
    let moved_url = xinyi_testkit::pg::server().fresh_database();
    let ca = server.ca_file();
    ok(&cli(
        &moved,
        &[
            "migrate",
            "--to",
            &moved_url,
            "--database-ca",
            ca.to_str().unwrap(),
        ],
    ));
    let settings = std::fs::read_to_string(moved.join("hub.toml")).unwrap();
    assert!(
        settings.contains(&format!("database_ca = \"{}\"", ca.display())),
        "{settings}"
    );
    let reopened = Hub::open(&moved).unwrap();
    assert!(!reopened.listings().unwrap().is_empty());
    let (all, tls) = hub_sessions(&moved_url);
    assert!(all > 0 && tls == all, "{all} connections, {tls} over TLS");
    drop(reopened);

    // Another CA: the server's certificate is refused.
    let other = xinyi_hub::http::tls::self_signed(&["localhost".to_owned()], &[], 30).unwrap();
    let wrong_dir = tmp.path().join("wrong");
    std::fs::create_dir_all(&wrong_dir).unwrap();
    std::fs::write(wrong_dir.join("other-ca.pem"), &other.cert_pem).unwrap();
    let wrong_url = xinyi_testkit::pg::server().fresh_database();
    std::fs::write(
        wrong_dir.join("hub.toml"),
        format!("database = \"{wrong_url}\"\ndatabase_ca = \"other-ca.pem\"\n"),
    )
    .unwrap();
    let err = Hub::init(&wrong_dir, Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("certificate") && err.contains("other-ca.pem"),
        "{err}"
    );
    assert_eq!(
        xinyi_testkit::pg::server()
            .psql(
                wrong_url.rsplit('/').next().unwrap(),
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            )
            .unwrap()
            .trim(),
        "0",
        "tables were made over a refused connection"
    );

    // sslmode=require checks against the system's CAs, which did not
    // sign the test server's certificate.
    let system_dir = tmp.path().join("system");
    std::fs::create_dir_all(&system_dir).unwrap();
    std::fs::write(
        system_dir.join("hub.toml"),
        format!(
            "database = \"{}?sslmode=require\"\n",
            xinyi_testkit::pg::server().fresh_database()
        ),
    )
    .unwrap();
    let err = Hub::init(&system_dir, Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("database_ca"), "{err}");
}
