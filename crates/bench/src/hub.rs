//! The hub's side of the journal: how many signed records a real hub on
//! 127.0.0.1 ingests per second, and how long a terminal with a long queue
//! takes to empty it.
//!
//! (a) Several enrolled terminals upload pre-signed, hash-chained records
//! concurrently over HTTP (`POST /v1/records`, batches of the terminal's
//! own size, through the terminal's `HubClient`): the hub checks every
//! signature and the chain and stores each record once. Signing is the
//! terminals' work and happens before the clock starts.
//!
//! (b) One terminal's journal holds a queue of records made by its own
//! store (`Store::append`, each committed on its own); `Terminal::upload`
//! sends them all — reading batches from SQLite, uploading, marking them
//! confirmed — as it does after a long time offline.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use ed25519_dalek::SigningKey;
use xinyi::counter::Counter as _;
use xinyi::keys::TerminalKey;
use xinyi::store::Store;
use xinyi::sync::UPLOAD_BATCH;
use xinyi::sync::client::{self, HubClient};
use xinyi::sync::online::{Asked, Online};
use xinyi::terminal::{Paths, Terminal};
use xinyi_core::credential::Iss;
use xinyi_core::ids::SubjectId;
use xinyi_core::issue::IssuerKey;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::check::{CheckAnswer, CheckRequest};
use xinyi_core::wire::journal::{Body, Record, SignedRecord};
use xinyi_core::wire::receipt::UploadReceipt;
use xinyi_core::{Date, UnixTime};
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, InitOptions, NewIssuerKey, SiteSpec};

use xinyi_testkit::Rng;

use crate::store::{count_label, now};
use crate::{Row, Scale};

const SECTION: &str = "hub";
/// The benchmark hub's one site.
pub const SITE: &str = "bench-bus";
/// The measure it offers.
pub const MEASURE: &str = "XYX-BUS-TOPUP";

/// A multi-threaded runtime for a section's HTTP work.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A new hub in `dir` with the demo catalogue, one issuer key and one bus
/// site, ready to enroll terminals (no listings yet).
pub fn bench_hub(dir: &Path, today: Date, rng: &mut Rng) -> anyhow::Result<Hub> {
    let hub = Hub::init(dir, InitOptions::default())?;
    hub.publish_catalogue(&xinyi_demo::catalogue_toml(today))?;
    let issuer = IssuerKey::from_seed(Iss::Yss, rng.bytes());
    hub.add_issuer_key(&NewIssuerKey {
        iss: Iss::Yss.as_str().into(),
        public_key: xinyi_core::hex::encode(&issuer.public_key()),
        not_before: today.add_years(-1).start_utc8(),
        not_after: today.add_years(4).start_utc8(),
        kid: None,
    })?;
    hub.add_site(&SiteSpec {
        id: SITE.into(),
        name: "公交充值点".into(),
        unit: "阳江市公共交通有限公司".into(),
        measures: vec![MEASURE.into()],
        max_offline_hours: None,
        ..Default::default()
    })?;
    Ok(hub)
}

/// A redemption as a counter records it: a random subject and code id.
pub fn redemption(rng: &mut Rng) -> Body {
    Body::Redemption {
        measure: MEASURE.into(),
        sub: SubjectId::from_bytes(&rng.bytes()).to_string(),
        cti: rng.bytes::<12>().to_vec(),
        form: 0,
        categories: vec!["P02".into()],
        original: 2_000,
        discount: 1_000,
        payable: 1_000,
        companions: 0,
        checked: Some(xinyi_core::wire::journal::Checked {
            basis: xinyi_core::history::Basis::Online,
            holder: false,
        }),
    }
}

/// `n` records of one terminal, signed and chained, the last at `now`.
fn chain(
    key: &SigningKey,
    terminal: &str,
    n: usize,
    rng: &mut Rng,
    now: UnixTime,
) -> Vec<SignedRecord> {
    let mut prev = Digest32::default();
    let mut out = Vec::with_capacity(n);
    for seq in 1..=n as u64 {
        let record = Record {
            id: rng.bytes(),
            terminal: terminal.to_owned(),
            seq,
            prev,
            at: UnixTime(now.0 - (n as u64 - seq) as i64),
            data_version: 1,
            operator: "op-1".into(),
            body: redemption(rng),
        };
        let signed = record.sign(key);
        prev = signed.hash();
        out.push(signed);
    }
    out
}

/// (a): `terminals` terminals upload `per_terminal` records each at once.
/// Returns the seconds taken and the records stored.
async fn ingest(
    hub: &Hub,
    url: &str,
    terminals: usize,
    per_terminal: usize,
    rng: &mut Rng,
) -> anyhow::Result<(f64, u64)> {
    let now = now();
    let fingerprint = hub.registry_fingerprint();
    let registry = hub.registry_public_key();
    let mut uploaders = Vec::with_capacity(terminals);
    for i in 0..terminals {
        let key = SigningKey::from_bytes(&rng.bytes());
        let code = hub.create_enrollment_code(SITE, None)?.code;
        let (grant, _) =
            client::enroll(url, &code, &format!("bench {i}"), &key, &fingerprint, None).await?;
        let records = chain(&key, &grant.terminal_id, per_terminal, rng, now);
        let batches: Vec<Vec<SignedRecord>> =
            records.chunks(UPLOAD_BATCH).map(<[_]>::to_vec).collect();
        uploaders.push((HubClient::new(url, key, None)?, batches));
    }
    let start = Instant::now();
    let tasks: Vec<_> = uploaders
        .into_iter()
        .map(|(client, batches)| {
            tokio::spawn(async move {
                let mut stored = 0u64;
                for batch in &batches {
                    let sealed = client.upload(batch, crate::store::now()).await?;
                    stored += UploadReceipt::open(&sealed, &registry)?.stored;
                }
                Ok::<u64, anyhow::Error>(stored)
            })
        })
        .collect();
    let mut stored = 0u64;
    for t in tasks {
        stored += t.await??;
    }
    Ok((start.elapsed().as_secs_f64(), stored))
}

pub fn run(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let terminals = scale.pick(4, 2);
    let per_terminal = scale.pick(25_000, 500);
    let queued = scale.pick(100_000, 1_000);
    let checks = scale.pick(500, 50);
    let usage_subjects = scale.pick(100_000, 1_000);

    let dir = tempfile::tempdir()?;
    let today = now().date_utc8();
    let mut rng = Rng::from_seed(0x0048_5542);
    let hub = Arc::new(bench_hub(&dir.path().join("hub"), today, &mut rng)?);
    let mut rows = runtime()?.block_on(measure(
        &hub,
        dir.path(),
        terminals,
        per_terminal,
        queued,
        checks,
        &mut rng,
    ))?;
    rows.extend(usage_size(usage_subjects, &mut rng)?);
    Ok(rows)
}

/// (c) The online check as a scan makes it: a signed question to the hub
/// on 127.0.0.1, the signed answer opened with the pinned key, through
/// the terminal's own asking thread. Milliseconds per check, and how many
/// got no answer within 2 s.
fn online_checks(
    client: HubClient,
    pinned: &ed25519_dalek::VerifyingKey,
    terminal_id: &str,
    checks: usize,
    rng: &mut Rng,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let online = Online::start(client)?;
    let measure = xinyi_core::MeasureId::parse(MEASURE)?;
    let mut samples = Vec::with_capacity(checks);
    let mut unanswered = 0;
    for _ in 0..checks {
        let at = now();
        let sub = SubjectId::from_bytes(&rng.bytes());
        let cti = xinyi_core::Cti::new(rng.bytes::<12>().to_vec())?;
        let period = xinyi_core::measures::Period::Month.bounds(at);
        let request = CheckRequest::new(&sub, &measure, Some(period), Some(&cti));
        let t = Instant::now();
        match online.ask(request.clone(), at, Duration::from_secs(2)) {
            Asked::Answer { sealed, nonce } => {
                CheckAnswer::open(&sealed, pinned, terminal_id, &nonce, &request)?;
                samples.push(crate::stats::ms(t.elapsed()));
            }
            Asked::Failed(e) => bail!("an online check failed: {e}"),
            Asked::TimedOut => unanswered += 1,
        }
    }
    Ok((samples, unanswered))
}

/// (d) The size of the published usage: `subjects` subjects, each with a
/// use of every limited measure of the catalogue, as a snapshot's items
/// (raw and zlib-compressed, as the hub serves it).
fn usage_size(subjects: usize, rng: &mut Rng) -> anyhow::Result<Vec<Row>> {
    use std::io::Write as _;
    use xinyi_core::wire::eligibility::{self, ArtefactKind, Header, Item, UsageEntry};
    let catalogue =
        xinyi_core::Catalogue::from_toml(&xinyi_demo::catalogue_toml(now().date_utc8()))?;
    let limited: Vec<_> = catalogue
        .measures()
        .iter()
        .filter_map(|m| m.limit.map(|l| (m.id.clone(), l)))
        .collect();
    let mut items = Vec::with_capacity(subjects * limited.len());
    for _ in 0..subjects {
        let sub = SubjectId::from_bytes(&rng.bytes());
        for (id, limit) in &limited {
            items.push(Item::Usage(UsageEntry {
                sub: sub.clone(),
                measure: id.clone(),
                period_start: limit.per.bounds(now()).0,
                uses: vec![rng.bytes()],
            }));
        }
    }
    let raw = eligibility::encode(
        Header {
            kind: ArtefactKind::Snapshot,
            from: 0,
            to: 1,
            items: 0,
        },
        &items,
    );
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw)?;
    let compressed = z.finish()?;
    let label = count_label(subjects);
    let what = format!(
        "{label} subjects × {} limited measures, one use each ({} items)",
        limited.len(),
        items.len()
    );
    let mb = |n: usize| n as f64 / 1e6;
    Ok(vec![
        Row::new(SECTION, &format!("published usage, {label} subjects: raw"), mb(raw.len()), "MB")
            .note(format!("{what}: sub, measure, period start and record id per item")),
        Row::new(
            SECTION,
            &format!("published usage, {label} subjects: compressed"),
            mb(compressed.len()),
            "MB",
        )
        .note(format!(
            "{what}, zlib as served: pseudonyms and record ids are random, what repeats is each subject's pseudonym across its measures and the measure ids; a delta carries only the subjects whose uses changed"
        )),
    ])
}

async fn measure(
    hub: &Arc<Hub>,
    dir: &Path,
    terminals: usize,
    per_terminal: usize,
    queued: usize,
    checks: usize,
    rng: &mut Rng,
) -> anyhow::Result<Vec<Row>> {
    let server = Server::start(Arc::clone(hub)).await?;
    let url = server.url();

    // (a)
    let total = terminals * per_terminal;
    let (ingest_s, stored) = ingest(hub, &url, terminals, per_terminal, rng).await?;
    if stored != total as u64 {
        bail!("the hub stored {stored} of {total} records");
    }
    let ingest_rate = total as f64 / ingest_s;

    // (b) A terminal enrolls over HTTP, then its own store queues the
    // records (setup), then the terminal uploads them.
    let paths = Paths::new(dir.join("terminal"));
    let code = hub.create_enrollment_code(SITE, None)?.code;
    drop(
        Terminal::enroll(
            &paths,
            &url,
            &code,
            "bench queue",
            &hub.registry_fingerprint(),
            None,
        )
        .await?,
    );
    let setup = Instant::now();
    {
        let key = TerminalKey::load(&paths.key)?;
        let mut store = Store::open(&paths.db)?;
        let start = now().0 - queued as i64;
        for i in 0..queued {
            store.append(
                key.signing_key(),
                "op-1",
                UnixTime(start + i as i64),
                redemption(rng),
            )?;
        }
    }
    let append_s = setup.elapsed().as_secs_f64();
    let mut terminal = Terminal::open(&paths)?;
    if terminal.status(now())?.unsent != queued as u64 {
        bail!("the terminal does not hold {queued} unsent records");
    }
    let start = Instant::now();
    let up = terminal.upload(now()).await?;
    let upload_s = start.elapsed().as_secs_f64();
    if up.stored != queued as u64 || terminal.status(now())?.unsent != 0 {
        bail!(
            "the upload stored {} of {queued} records: {up:?}",
            up.stored
        );
    }
    // (c) A counter of its own (the first used its request burst on the
    // upload) asks the online check.
    let check_paths = Paths::new(dir.join("checking terminal"));
    let code = hub.create_enrollment_code(SITE, None)?.code;
    let checking = Terminal::enroll(
        &check_paths,
        &url,
        &code,
        "bench check",
        &hub.registry_fingerprint(),
        None,
    )
    .await?;
    let key = TerminalKey::load(&check_paths.key)?.signing_key().clone();
    let client = HubClient::new(&url, key, None)?;
    let pinned = hub.registry_public_key();
    let terminal_id = checking.identity().terminal_id.clone();
    let mut check_rng = Rng::from_seed(rng.next_u64());
    let (samples, unanswered) = tokio::task::spawn_blocking(move || {
        online_checks(client, &pinned, &terminal_id, checks, &mut check_rng)
    })
    .await??;
    let (p50, p99) = (
        crate::stats::median(&samples),
        crate::stats::percentile(&samples, 99.0),
    );
    server.stop().await?;
    let queue_rate = queued as f64 / upload_s;
    let total_label = count_label(total);
    let queued_label = count_label(queued);
    Ok(vec![
            Row::new(SECTION, "records ingested per second", ingest_rate, "records/s")
                .target("≥ 5,000 records/s", ingest_rate >= 5_000.0)
                .note(format!(
                    "{total_label} signed, chained redemption records from {terminals} terminals uploading at once over HTTP on 127.0.0.1 (POST /v1/records, batches of {UPLOAD_BATCH}, through HubClient::upload); each signature and the chain checked, each record stored once; {ingest_s:.2} s in all"
                )),
            Row::new(
                SECTION,
                &format!("{queued_label} queued records uploaded by a terminal"),
                upload_s,
                "s",
            )
            .note(format!(
                "Terminal::upload of a journal of {queued_label} records not yet sent: read from SQLite in batches of {UPLOAD_BATCH}, uploaded over HTTP, marked confirmed; the queue was made by Store::append, one committed record at a time, in {append_s:.1} s (setup, not timed)"
            )),
            Row::new(
                SECTION,
                "queued records uploaded per second",
                queue_rate,
                "records/s",
            )
            .against("records ingested per second (above)", ingest_rate)
            .note("one terminal, one batch at a time; the yardstick is the hub's rate with several terminals uploading at once"),
            Row::new(SECTION, "online check added to a scan, p50", p50, "ms")
                .note(format!(
                    "{checks} checks of a limited measure and a dynamic code (POST /v1/check, signed; the answer signed by the registry key and opened with the pinned key) through the terminal's asking thread, over HTTP on 127.0.0.1 with {total_label} records held; subjects drawn at random; {unanswered} without an answer within 2 s"
                )),
            Row::new(SECTION, "online check added to a scan, p99", p99, "ms")
                .target("< 50 ms", p99 < 50.0 && unanswered == 0)
                .note("the site's deadline (300 ms by default) caps what a scan can wait; past it the verdict is the offline one"),
        ])
}
