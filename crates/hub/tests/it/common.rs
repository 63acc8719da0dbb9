//! Shared test harness: the shared vectors read in place, a hub set up
//! with keys, catalogue, trust list and a site, a terminal that signs its
//! requests and keeps a hash-chained journal, and artefact helpers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read as _;
use std::sync::Arc;

use ed25519_dalek::{SigningKey, VerifyingKey};
use flate2::read::ZlibDecoder;
use xinyi_core::UnixTime;
use xinyi_core::history::Basis;
use xinyi_core::wire::eligibility::{Item, Reader, SetHash};
use xinyi_core::wire::enroll::{EnrollGrant, EnrollRequest};
use xinyi_core::wire::journal::{Body, Checked, Record, SignedRecord, StaffEvent, encode_batch};
use xinyi_core::wire::metadata::{ArtefactRef, Metadata};
use xinyi_core::wire::receipt::UploadReceipt;
use xinyi_core::wire::request::RequestAuth;
use xinyi_core::wire::{Digest32, Fingerprint};
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, InitOptions, NewIssuerKey, SiteSpec};

/// A file of the shared vectors or data, read in place; the test fails
/// if it is missing.
pub use xinyi_testkit::read as shared;

pub fn credentials() -> serde_json::Value {
    xinyi_testkit::vectors()
}

/// The pseudonym of the first subject the vectors list.
pub fn vector_subject() -> String {
    credentials()["pseudonyms"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|s| s.as_str())
        .expect("the vectors list pseudonyms")
        .to_owned()
}

/// The integrity report's row for `terminal`.
pub fn integrity_row(hub: &Hub, terminal: &str) -> xinyi_hub::IntegrityRow {
    hub.integrity_report()
        .unwrap()
        .into_iter()
        .find(|r| r.terminal == terminal)
        .unwrap_or_else(|| panic!("no integrity row for {terminal}"))
}

pub fn k_pseudo() -> [u8; 32] {
    xinyi_testkit::k_pseudo_bytes(&credentials())
}

pub fn catalogue() -> String {
    xinyi_testkit::catalogue_text()
}

pub const SITE: &str = "bus-1";
pub const MEASURE: &str = "XYX-BUS-TOPUP";
/// The unit that runs [`SITE`].
pub const UNIT: &str = "阳江市公共交通有限公司";

/// Makes `dir` a data directory for a hub on the database the tests run
/// on: with `XINYI_TEST_DATABASE=postgres`, a `hub.toml` naming a new
/// database on the tests' PostgreSQL server (before whatever settings the
/// test put there); else nothing (SQLite's file in `dir`). Returns the
/// PostgreSQL address, if any.
pub fn prepare(dir: &std::path::Path) -> Option<String> {
    // What the hub logs (an internal error behind a 500) goes with the
    // test's captured output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("xinyi_hub=warn")
        .try_init();
    if !xinyi_testkit::pg::selected() {
        return None;
    }
    let url = xinyi_testkit::pg::server().fresh_database();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("hub.toml");
    let held = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, format!("database = \"{url}\"\n{held}")).unwrap();
    Some(url)
}

/// `text` as settings for the hub in `dir`: with the database line
/// [`prepare`] put in its hub.toml, if any.
pub fn settings(dir: &std::path::Path, text: &str) -> xinyi_hub::HubConfig {
    let held = std::fs::read_to_string(dir.join("hub.toml")).unwrap_or_default();
    let database: String = held
        .lines()
        .filter(|l| l.starts_with("database = "))
        .map(|l| format!("{l}\n"))
        .collect();
    xinyi_hub::HubConfig::parse(&format!("{database}{text}"), &dir.join("hub.toml")).unwrap()
}

/// Restores backup `file` of the hub in `original` into `target` as an
/// operator would on the database the tests run on: on SQLite as it is;
/// on PostgreSQL into a new empty database (the backup's own still holds
/// the registry), named by settings given to the restore (the original's
/// otherwise) and then written into the restored hub.toml.
pub fn restore_here(
    file: &std::path::Path,
    target: &std::path::Path,
    original: &std::path::Path,
) -> Result<xinyi_hub::backup::Restored, xinyi_hub::HubError> {
    match fresh_settings(original) {
        None => xinyi_hub::backup::restore(file, target),
        Some(text) => {
            let config = xinyi_hub::HubConfig::parse(&text, std::path::Path::new("hub.toml"))?;
            let r = xinyi_hub::backup::restore_with_config(file, target, Some(config))?;
            point_at(target, &text);
            Ok(r)
        }
    }
}

/// `xinyi-hub restore FILE` into `target`, as [`restore_here`] does.
pub fn restore_cli(
    file: &std::path::Path,
    target: &std::path::Path,
    original: &std::path::Path,
) -> std::process::Output {
    let file = file.to_str().unwrap();
    match fresh_settings(original) {
        None => cli(target, &["restore", file]),
        Some(text) => {
            let settings = target.with_extension("settings.toml");
            std::fs::write(&settings, &text).unwrap();
            let out = cli(
                target,
                &["--config", settings.to_str().unwrap(), "restore", file],
            );
            if out.status.success() {
                point_at(target, &text);
            }
            out
        }
    }
}

/// On PostgreSQL, the settings of the hub in `original` naming a new
/// empty database instead of its own.
fn fresh_settings(original: &std::path::Path) -> Option<String> {
    xinyi_testkit::pg::selected().then(|| {
        let held = std::fs::read_to_string(original.join("hub.toml")).unwrap_or_default();
        let rest: String = held
            .lines()
            .filter(|l| !l.starts_with("database = "))
            .map(|l| format!("{l}\n"))
            .collect();
        format!(
            "database = \"{}\"\n{rest}",
            xinyi_testkit::pg::server().fresh_database()
        )
    })
}

/// The restored hub.toml with its database line replaced by `settings`'.
fn point_at(dir: &std::path::Path, settings: &str) {
    let database = settings
        .lines()
        .find(|l| l.starts_with("database = "))
        .unwrap();
    let path = dir.join("hub.toml");
    let held = std::fs::read_to_string(&path).unwrap_or_default();
    let rest: String = held
        .lines()
        .filter(|l| !l.starts_with("database = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, format!("{database}\n{rest}")).unwrap();
}

/// The values of `column` in a vectors CSV file, with each row's kind.
pub fn column(file: &str, column: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(shared(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (kind, col) = (at("kind"), at(column));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            (fields[kind].to_owned(), fields[col].to_owned())
        })
        .collect()
}

/// Whether the tests run on PostgreSQL.
pub fn on_postgres() -> bool {
    xinyi_testkit::pg::selected()
}

/// The PostgreSQL database the hub in `dir` uses, by name, if any.
fn postgres_db(dir: &std::path::Path) -> Option<String> {
    let held = std::fs::read_to_string(dir.join("hub.toml")).unwrap_or_default();
    held.lines()
        .find_map(|l| l.strip_prefix("database = "))
        .map(|url| {
            url.trim()
                .trim_matches('"')
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
}

/// Runs `sql` in the registry of the hub in `dir`, behind the hub's back
/// (another program, or an administrator with a shell): through rusqlite
/// on SQLite, `psql` on PostgreSQL. What went wrong, if anything.
/// One whole number read behind the hub's back (the same SQL on either
/// backend).
pub fn count_behind_the_back(dir: &std::path::Path, sql: &str) -> i64 {
    match postgres_db(dir) {
        Some(db) => xinyi_testkit::pg::server()
            .psql(&db, sql)
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
        None => rusqlite::Connection::open(dir.join(xinyi_hub::db::DB_FILE))
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap(),
    }
}

pub fn behind_the_back(dir: &std::path::Path, sqlite: &str, postgres: &str) -> Result<(), String> {
    match postgres_db(dir) {
        Some(db) => xinyi_testkit::pg::server().psql(&db, postgres).map(|_| ()),
        None => {
            let conn = rusqlite::Connection::open(dir.join(xinyi_hub::db::DB_FILE)).unwrap();
            conn.execute_batch(sqlite).map_err(|e| e.to_string())
        }
    }
}

/// Every file the registry of the hub in `dir` is kept in, as a thief of
/// the disk would read them: `hub.db` and its log on SQLite; on
/// PostgreSQL (after a checkpoint, which writes what is in memory to the
/// data files) its database's files and the server's log.
pub fn database_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = match postgres_db(dir) {
        Some(db) => {
            let server = xinyi_testkit::pg::server();
            let oid = server
                .psql(
                    &db,
                    "CHECKPOINT; SELECT oid FROM pg_database WHERE datname = current_database()",
                )
                .unwrap();
            let data = server.data_dir();
            [data.join("base").join(oid.trim()), data.join("pg_wal")]
                .iter()
                .flat_map(|d| std::fs::read_dir(d).unwrap())
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect()
        }
        None => std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name == xinyi_hub::db::DB_FILE
                    || name.starts_with(&format!("{}-", xinyi_hub::db::DB_FILE))
            })
            .collect(),
    };
    out.sort();
    assert!(!out.is_empty(), "no database files for {}", dir.display());
    out
}

/// Writes what the database of the hub in `dir` holds in memory or in its
/// log into its main files: SQLite's checkpoint, PostgreSQL's CHECKPOINT.
pub fn checkpoint(dir: &std::path::Path) {
    behind_the_back(dir, "PRAGMA wal_checkpoint(TRUNCATE)", "CHECKPOINT").unwrap();
}

/// A hub with the vectors' K_pseudo, the sample catalogue, the vectors'
/// trust list and one bus site.
pub fn hub(dir: &std::path::Path) -> Hub {
    prepare(dir);
    sqlite_hub(dir)
}

/// [`hub`] in SQLite's file in `dir`, whatever database the tests run on
/// (tests of SQLite's own upgrades and files).
pub fn sqlite_hub(dir: &std::path::Path) -> Hub {
    let hub = Hub::init(
        dir,
        InitOptions {
            k_pseudo: Some(k_pseudo()),
        },
    )
    .unwrap();
    hub.publish_catalogue(&catalogue()).unwrap();
    for t in credentials()["trust_list"].as_array().unwrap() {
        let k = NewIssuerKey {
            iss: t["iss"].as_str().unwrap().into(),
            public_key: t["public_key"].as_str().unwrap().into(),
            not_before: UnixTime(t["not_before"].as_i64().unwrap()),
            not_after: UnixTime(t["not_after"].as_i64().unwrap()),
            kid: Some(t["kid"].as_str().unwrap().into()),
        };
        hub.add_issuer_key(&k).unwrap();
        if t["revoked"].as_bool().unwrap() {
            hub.revoke_issuer_key(t["kid"].as_str().unwrap()).unwrap();
        }
    }
    hub.add_site(&SiteSpec {
        id: SITE.into(),
        name: "江城公交充值点".into(),
        unit: UNIT.into(),
        measures: vec![MEASURE.into()],
        max_offline_hours: None,
        ..Default::default()
    })
    .unwrap();
    hub
}

/// A hub with the vectors' lists imported, served on 127.0.0.1:0.
pub async fn served(dir: &std::path::Path) -> (Arc<Hub>, Server) {
    serve(hub(dir)).await
}

/// [`served`], on a hand-set clock.
pub async fn served_at(
    dir: &std::path::Path,
    clock: Arc<xinyi_hub::ManualClock>,
) -> (Arc<Hub>, Server) {
    serve(hub(dir).with_clock(clock)).await
}

/// Imports the vectors' listings and exclusions into `hub`.
pub fn with_lists(hub: &Hub) {
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    hub.import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
}

async fn serve(hub: Hub) -> (Arc<Hub>, Server) {
    with_lists(&hub);
    let hub = Arc::new(hub);
    let server = Server::start(Arc::clone(&hub)).await.unwrap();
    (hub, server)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn random_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    SigningKey::from_bytes(&seed)
}

/// The operator of the test terminal's records, and its supervisor.
pub const OPERATOR: &str = "op-7";
pub const SUPERVISOR: &str = "sup-1";

/// A terminal as the hub sees it over HTTP.
pub struct Terminal {
    pub key: SigningKey,
    pub id: String,
    pub base: String,
    pub http: reqwest::Client,
    pub seq: u64,
    pub prev: Digest32,
    /// The registry's key, as a terminal pins it at enrollment.
    pub registry: VerifyingKey,
    /// The data version its records name.
    pub data_version: u64,
    /// The clock its requests are signed by (the hub's, when the test
    /// sets it by hand); the system's when `None`.
    pub clock: Option<Arc<xinyi_hub::ManualClock>>,
}

impl Terminal {
    /// A terminal of `hub`, reached at `base`, holding its current data.
    pub fn new(hub: &Hub, base: &str) -> Terminal {
        let key = random_key();
        let id = xinyi_core::wire::key_id(key.verifying_key().as_bytes());
        Terminal {
            key,
            id,
            base: base.to_owned(),
            http: reqwest::Client::new(),
            seq: 0,
            prev: Digest32::default(),
            registry: hub.registry_public_key(),
            data_version: hub.current_version().unwrap().map_or(0, |v| v.version),
            clock: None,
        }
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.registry.as_bytes())
    }

    pub async fn enroll_raw(&self, code: &str) -> reqwest::Response {
        let req = EnrollRequest::new(
            code,
            &self.key.verifying_key(),
            &self.fingerprint(),
            "counter 1",
        );
        self.http
            .post(format!("{}/v1/enroll", self.base))
            .json(&req)
            .send()
            .await
            .unwrap()
    }

    pub async fn enroll(&self, code: &str) -> (EnrollGrant, VerifyingKey) {
        let resp = self.enroll_raw(code).await;
        assert_eq!(resp.status(), 200);
        EnrollGrant::open(&resp.bytes().await.unwrap(), &self.fingerprint()).unwrap()
    }

    /// A signed request with a given time and nonce.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        time: i64,
        nonce: [u8; 16],
    ) -> reqwest::RequestBuilder {
        let auth = RequestAuth::sign(
            &self.key,
            &self.id,
            method.as_str(),
            path,
            time,
            nonce,
            &body,
        );
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in auth.headers() {
            rb = rb.header(name, value);
        }
        rb.body(body)
    }

    pub fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        let time = self
            .clock
            .as_ref()
            .map_or_else(now, |c| xinyi_hub::Clock::now(c.as_ref()).0);
        self.request(method, path, body, time, nonce)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.signed(reqwest::Method::GET, path, Vec::new())
            .send()
            .await
            .unwrap()
    }

    pub async fn metadata(&self, have: u64, registry: &VerifyingKey) -> Metadata {
        let resp = self.get(&format!("/v1/metadata?have={have}")).await;
        assert_eq!(resp.status(), 200);
        Metadata::open(&resp.bytes().await.unwrap(), registry).unwrap()
    }

    pub async fn artefact(&self, pin: ArtefactRef) -> Vec<u8> {
        let resp = self
            .get(&format!("/v1/artefacts/{}", pin.sha256.to_hex()))
            .await;
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.unwrap().to_vec();
        assert_eq!(Digest32::of(&bytes), pin.sha256);
        assert_eq!(bytes.len() as u64, pin.length);
        bytes
    }

    pub async fn upload_raw(&self, records: &[SignedRecord]) -> reqwest::Response {
        self.signed(reqwest::Method::POST, "/v1/records", encode_batch(records))
            .send()
            .await
            .unwrap()
    }

    /// Uploads and opens the registry's signed receipt.
    pub async fn upload(&self, records: &[SignedRecord]) -> UploadReceipt {
        let resp = self.upload_raw(records).await;
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        let r = UploadReceipt::open(&bytes, &self.registry).unwrap();
        assert_eq!(r.terminal, self.id);
        r
    }

    /// The roster records a terminal journals when its operators are set
    /// up: [`OPERATOR`] a clerk, [`SUPERVISOR`] a supervisor.
    pub fn roster(&mut self, at: i64) -> Vec<SignedRecord> {
        [(OPERATOR, "clerk"), (SUPERVISOR, "supervisor")]
            .into_iter()
            .map(|(who, role)| {
                self.record(
                    at,
                    Body::Staff {
                        event: StaffEvent::OperatorSet,
                        staff: who.into(),
                        role: Some(role.into()),
                    },
                )
                .1
            })
            .collect()
    }

    /// The next record of this terminal's journal, signed and chained.
    pub fn record(&mut self, at: i64, body: Body) -> (Record, SignedRecord) {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).unwrap();
        self.record_as(id, at, body)
    }

    /// [`Terminal::record`] with the record id `id`, which a hostile
    /// terminal may copy from another's.
    pub fn record_as(&mut self, id: [u8; 16], at: i64, body: Body) -> (Record, SignedRecord) {
        self.seq += 1;
        let r = Record {
            id,
            terminal: self.id.clone(),
            seq: self.seq,
            prev: self.prev,
            at: UnixTime(at),
            data_version: self.data_version,
            operator: OPERATOR.into(),
            body,
        };
        let s = r.sign(&self.key);
        self.prev = s.hash();
        (r, s)
    }

    /// A redemption as terminals made them before they said how the
    /// verdict was reached.
    pub fn redemption(&mut self, at: i64, sub: &str, original: u64) -> (Record, SignedRecord) {
        self.redemption_checked(at, sub, original, None)
    }

    pub fn redemption_checked(
        &mut self,
        at: i64,
        sub: &str,
        original: u64,
        basis: Option<Basis>,
    ) -> (Record, SignedRecord) {
        self.record(
            at,
            Body::Redemption {
                measure: MEASURE.into(),
                sub: sub.into(),
                cti: vec![7; 12],
                form: 0,
                categories: vec!["P02".into()],
                original,
                discount: original / 2,
                payable: original - original / 2,
                companions: 0,
                checked: basis.map(|basis| Checked {
                    basis,
                    holder: false,
                }),
            },
        )
    }
}

/// Decompresses an eligibility artefact.
pub fn inflate(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZlibDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// The items of a decompressed artefact.
pub fn items(raw: &[u8]) -> (xinyi_core::wire::eligibility::Header, Vec<Item>) {
    let r = Reader::new(raw).unwrap();
    let h = r.header();
    (h, r.collect::<Result<Vec<_>, _>>().unwrap())
}

/// A terminal's view of the set: applies items (insert or replace by key).
#[derive(Debug, Default, Clone)]
pub struct Set {
    pub listings: std::collections::BTreeMap<(String, String, String), Item>,
    pub exclusions: std::collections::BTreeMap<(String, String), Item>,
    pub usage: std::collections::BTreeMap<(String, String, i64), Item>,
    pub redeemed: std::collections::BTreeMap<String, Item>,
}

impl Set {
    pub fn apply(&mut self, items: &[Item]) {
        for i in items {
            match i {
                Item::Listing(l) => {
                    self.listings.insert(
                        (
                            l.sub.to_string(),
                            l.category.to_string(),
                            l.valid_from.to_string(),
                        ),
                        i.clone(),
                    );
                }
                Item::Exclusion(x) => {
                    self.exclusions
                        .insert((x.sub.to_string(), x.from.to_string()), i.clone());
                }
                Item::RemoveListing {
                    sub,
                    category,
                    valid_from,
                } => {
                    self.listings.remove(&(
                        sub.to_string(),
                        category.to_string(),
                        valid_from.to_string(),
                    ));
                }
                Item::RemoveExclusion { sub, from } => {
                    self.exclusions.remove(&(sub.to_string(), from.to_string()));
                }
                Item::Usage(u) => {
                    self.usage.insert(
                        (u.sub.to_string(), u.measure.to_string(), u.period_start.0),
                        i.clone(),
                    );
                }
                Item::RemoveUsage {
                    sub,
                    measure,
                    period_start,
                } => {
                    let held =
                        self.usage
                            .remove(&(sub.to_string(), measure.to_string(), period_start.0));
                    assert!(held.is_some(), "removes usage not held: {i:?}");
                }
                Item::Redeemed { cti, .. } => {
                    self.redeemed.insert(cti.to_hex(), i.clone());
                }
                Item::RemoveRedeemed { cti } => {
                    let held = self.redeemed.remove(&cti.to_hex());
                    assert!(held.is_some(), "removes a code not held: {i:?}");
                }
            }
        }
    }

    pub fn hash(&self) -> Digest32 {
        let mut h = SetHash::new();
        for i in self
            .listings
            .values()
            .chain(self.exclusions.values())
            .chain(self.usage.values())
            .chain(self.redeemed.values())
        {
            h.add(i);
        }
        h.digest()
    }
}

/// `xinyi-hub --data-dir DIR ARGS…`, the real binary.
pub fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_xinyi-hub"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// The standard output of a command that must have succeeded.
pub fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}
