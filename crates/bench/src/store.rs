//! The terminal's store: applying a whole snapshot of the listings, point
//! lookups as verdicts make them, and applying a delta on top — each beside
//! what SQLite itself does with the same rows when nothing else is asked
//! of it.
//!
//! The store is the real one (`xinyi::store::Store`, a SQLite file in a
//! temporary directory, its own pragmas and migrations); the data goes in
//! through `Store::apply`, the step a sync ends with, from an eligibility
//! artefact encoded as the hub encodes it (items in the hub's key order,
//! signed metadata with the set hash and counts that the apply proves).
//! The yardstick is a plain table with the same columns, key, `STRICT,
//! WITHOUT ROWID` and the same connection pragmas (set by the store's own
//! `db::configure`: WAL, `synchronous = FULL`, 16 MiB cache), filled with
//! one prepared statement in one transaction, keys sorted.

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail};
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, params};
use xinyi::store::Store;
use xinyi_core::category::Category;
use xinyi_core::credential::Iss;
use xinyi_core::eligibility::EligibilityEntry;
use xinyi_core::ids::SubjectId;
use xinyi_core::issue::IssuerKey;
use xinyi_core::trust::TrustedKey;
use xinyi_core::verdict::VerifierData;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::config::{Config, ParsedConfig, Site, TrustEntry};
use xinyi_core::wire::eligibility::{self, ArtefactKind, Header, Item, SetHash};
use xinyi_core::wire::metadata::Metadata;
use xinyi_core::{Date, Kind, UnixTime};
pub use xinyi_testkit::Rng;

use crate::stats::{ms, percentile, timed, us};
use crate::{Row, Scale};

const SECTION: &str = "store";

/// The terminal's clock.
pub fn now() -> UnixTime {
    xinyi::terminal::now()
}

/// `1M`, `10k`, or the number itself: for row names.
pub fn count_label(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

const SURNAMES: [&str; 16] = [
    "陈", "林", "黄", "梁", "何", "许", "邓", "李", "张", "王", "刘", "冯", "谭", "吴", "杨", "郑",
];
const GIVEN: [&str; 16] = [
    "华", "明", "兰", "芳", "强", "英", "玲", "军", "燕", "伟", "静", "敏", "丽", "勇", "杰", "娟",
];

/// `n` listings as a terminal sees them — pseudonyms, masked names, 90%
/// persons, every category, recognised over the last two years, valid for
/// two, 1% withdrawn — in the order the hub publishes them (subject,
/// category, recognition date).
pub fn synthetic_listings(
    rng: &mut Rng,
    n: usize,
    today: Date,
) -> anyhow::Result<Vec<EligibilityEntry>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(synthetic_listing(rng, today)?);
    }
    sort_hub_order(&mut out);
    Ok(out)
}

/// One listing of a fresh random subject.
pub fn synthetic_listing(rng: &mut Rng, today: Date) -> anyhow::Result<EligibilityEntry> {
    let person = rng.index(10) != 0;
    let (kind, number) = if person {
        (Kind::Person, 1 + rng.index(13))
    } else {
        (Kind::Enterprise, 1 + rng.index(9))
    };
    let category = Category::from_parts(kind, number as u8)
        .ok_or_else(|| anyhow!("no category {kind} {number}"))?;
    let display_name = if person {
        format!("{}*{}", SURNAMES[rng.index(16)], GIVEN[rng.index(16)])
    } else {
        format!(
            "阳江市{}{}实业有限公司",
            GIVEN[rng.index(16)],
            rng.index(10_000)
        )
    };
    let valid_from = today.add_days(-(rng.index(700) as i64));
    Ok(EligibilityEntry {
        sub: SubjectId::from_bytes(&rng.bytes()),
        kind,
        category,
        valid_from,
        valid_until: valid_from.add_years(2),
        withdrawn: rng.index(100) == 0,
        display_name,
    })
}

/// The hub's order: `ORDER BY sub, category, recognised_on` on the text.
pub fn sort_hub_order(listings: &mut [EligibilityEntry]) {
    listings.sort_by(|a, b| {
        a.sub
            .as_str()
            .cmp(b.sub.as_str())
            .then_with(|| a.category.code().cmp(&b.category.code()))
            .then_with(|| a.valid_from.cmp(&b.valid_from))
    });
}

/// The registry's side of a version, as the hub signs it: the registry
/// key, and a config artefact with one issuer, the demo catalogue and one
/// site.
#[derive(Debug)]
pub struct Publisher {
    key: SigningKey,
    config_bytes: Vec<u8>,
    config: ParsedConfig,
}

impl Publisher {
    pub fn new(rng: &mut Rng, today: Date) -> anyhow::Result<Publisher> {
        let (_, trusted) = issuer(rng, today.start_utc8())?;
        let config = Config {
            trust: vec![TrustEntry::of(&trusted)],
            revoked_cards: Vec::new(),
            catalogue: xinyi_demo::catalogue_toml(today),
            sites: vec![Site {
                id: "bench-bus".into(),
                name: "公交充值点".into(),
                unit: "阳江市公共交通有限公司".into(),
                measures: vec!["XYX-BUS-TOPUP".into()],
                max_offline_age_s: 72 * 3600,
                void_window_s: xinyi_core::wire::config::DEFAULT_VOID_WINDOW_S,
                unattended: false,
                online_deadline_ms: 300,
                check_holder: true,
                objection_url: None,
                complaint_url: None,
            }],
        };
        let config_bytes = config.to_bytes();
        let config = Config::parse(&config_bytes).map_err(|e| anyhow!("config artefact: {e}"))?;
        Ok(Publisher {
            key: SigningKey::from_bytes(&rng.bytes()),
            config_bytes,
            config,
        })
    }

    pub fn config(&self) -> Option<(&[u8], &ParsedConfig)> {
        Some((self.config_bytes.as_slice(), &self.config))
    }

    /// Signed metadata for `version`, opened again with the registry's
    /// public key as a terminal does. `raw` is the decompressed artefact,
    /// applying from `from` (0: a snapshot).
    pub fn meta(
        &self,
        version: u64,
        set_hash: Digest32,
        listings: u64,
        from: u64,
        raw: &[u8],
        now: UnixTime,
    ) -> Metadata {
        xinyi_testkit::Publication {
            version,
            issued_at: now.0,
            expires_at: now.0 + 86_400,
            set_hash,
            listings,
            exclusions: 0,
            config: &self.config_bytes,
            eligibility: Some((from, raw)),
        }
        .sealed(&self.key)
    }
}

/// A 粤省事 issuer key and its trust entry, valid a year either side of
/// `now`.
pub fn issuer(rng: &mut Rng, now: UnixTime) -> anyhow::Result<(IssuerKey, TrustedKey)> {
    let key = IssuerKey::from_seed(Iss::Yss, rng.bytes());
    let trusted = TrustedKey::new(
        Iss::Yss,
        key.public_key(),
        UnixTime(now.0 - 365 * 86_400),
        UnixTime(now.0 + 365 * 86_400),
        false,
        None,
    )
    .map_err(|e| anyhow!("trust entry: {e}"))?;
    Ok((key, trusted))
}

/// An eligibility artefact of listings, as the hub encodes one.
pub fn artefact(kind: ArtefactKind, from: u64, to: u64, listings: &[EligibilityEntry]) -> Vec<u8> {
    let items: Vec<Item> = listings.iter().cloned().map(Item::Listing).collect();
    eligibility::encode(
        Header {
            kind,
            from,
            to,
            items: 0,
        },
        &items,
    )
}

/// The set hash of listings, from scratch.
pub fn set_hash(listings: &[EligibilityEntry]) -> SetHash {
    let mut h = SetHash::new();
    for l in listings {
        h.add(&Item::Listing(l.clone()));
    }
    h
}

/// A listing's column values, made before the clock starts.
#[derive(Debug, Clone)]
pub struct RawRow {
    sub: String,
    category: String,
    valid_from: String,
    valid_until: String,
    withdrawn: bool,
    kind: &'static str,
    display_name: String,
}

impl RawRow {
    pub fn of(l: &EligibilityEntry) -> RawRow {
        RawRow {
            sub: l.sub.as_str().to_owned(),
            category: l.category.code(),
            valid_from: l.valid_from.to_string(),
            valid_until: l.valid_until.to_string(),
            withdrawn: l.withdrawn,
            kind: l.kind.as_str(),
            display_name: l.display_name.clone(),
        }
    }
}

/// Opens a fresh database at `path` with the store's connection pragmas
/// and the store's own `listings` table, as its migrations create it (read
/// from a scratch store beside it), alone.
pub fn raw_table(path: &Path) -> anyhow::Result<Connection> {
    let scratch = path.with_extension("schema.db");
    drop(Store::open(&scratch)?);
    let ddl: String = Connection::open(&scratch)?.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'listings'",
        [],
        |r| r.get(0),
    )?;
    remove_db(&scratch);
    let conn = Connection::open(path)?;
    xinyi::store::db::configure(&conn)?;
    conn.execute_batch(&ddl)?;
    Ok(conn)
}

/// The yardstick insert: one prepared statement, one transaction, rows in
/// key order. Returns the seconds it took.
pub fn raw_insert(conn: &mut Connection, rows: &[RawRow]) -> anyhow::Result<f64> {
    raw_write(conn, "INSERT", rows)
}

/// The yardstick for a delta: the changed rows upserted in key order, one
/// prepared `INSERT OR REPLACE`, one transaction. Returns the seconds.
pub fn raw_upsert(conn: &mut Connection, rows: &[RawRow]) -> anyhow::Result<f64> {
    raw_write(conn, "INSERT OR REPLACE", rows)
}

fn raw_write(conn: &mut Connection, verb: &str, rows: &[RawRow]) -> anyhow::Result<f64> {
    let start = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare(&format!(
            "{verb} INTO listings (sub, category, valid_from, valid_until, withdrawn, kind, display_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))?;
        for r in rows {
            put.execute(params![
                r.sub,
                r.category,
                r.valid_from,
                r.valid_until,
                r.withdrawn,
                r.kind,
                r.display_name
            ])?;
        }
    }
    tx.commit()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Raw rows sorted by the table's key (byte order of the text columns).
pub fn raw_rows(listings: &[EligibilityEntry]) -> Vec<RawRow> {
    let mut rows: Vec<RawRow> = listings.iter().map(RawRow::of).collect();
    rows.sort_by(|a, b| {
        (a.sub.as_str(), a.category.as_str(), a.valid_from.as_str()).cmp(&(
            b.sub.as_str(),
            b.category.as_str(),
            b.valid_from.as_str(),
        ))
    });
    rows
}

/// A point lookup on the bare table: the subject's rows, every column read.
fn raw_lookup(conn: &Connection, sub: &str) -> anyhow::Result<usize> {
    let mut stmt = conn.prepare_cached(
        "SELECT category, valid_from, valid_until, withdrawn, kind, display_name
         FROM listings WHERE sub = ?1 ORDER BY category, valid_from",
    )?;
    let rows = stmt.query_map([sub], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut n = 0;
    for row in rows {
        std::hint::black_box(row?);
        n += 1;
    }
    Ok(n)
}

fn store_lookup(store: &Store, sub: &SubjectId) -> anyhow::Result<usize> {
    let found = store
        .listings_of(sub)
        .map_err(|e| anyhow!("store lookup: {e}"))?;
    Ok(std::hint::black_box(found).len())
}

/// Removes a database and its WAL files.
fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

pub fn run(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let n = scale.pick(1_000_000, 10_000);
    let changes = scale.pick(10_000, 500);
    let lookups = scale.pick(100_000, 2_000);
    let reps = scale.pick(2, 1);
    let label = count_label(n);

    let dir = tempfile::tempdir()?;
    let now = now();
    let today = now.date_utc8();
    let mut rng = Rng::from_seed(0x0053_544f_5245);
    let listings = synthetic_listings(&mut rng, n, today)?;
    let publisher = Publisher::new(&mut rng, today)?;
    let snapshot = artefact(ArtefactKind::Snapshot, 0, 1, &listings);
    let hash1 = set_hash(&listings);
    let meta1 = publisher.meta(1, hash1.digest(), n as u64, 0, &snapshot, now);
    let rows = raw_rows(&listings);

    // (a) Full apply against the raw sorted insert, alternating which goes
    // first; the best of `reps` of each (fresh files every time).
    let mut apply_s = f64::INFINITY;
    let mut raw_s = f64::INFINITY;
    let mut kept: Option<(Store, Connection)> = None;
    for rep in 0..reps {
        if let Some((store, conn)) = kept.take() {
            let (a, b) = (
                store.path().to_owned(),
                conn.path().map(std::path::PathBuf::from),
            );
            drop(store);
            drop(conn);
            remove_db(&a);
            if let Some(b) = b {
                remove_db(&b);
            }
        }
        let mut conn = raw_table(&dir.path().join(format!("raw-{rep}.db")))?;
        let mut store = Store::open(dir.path().join(format!("terminal-{rep}.db")))?;
        let apply = |store: &mut Store| -> anyhow::Result<f64> {
            let (outcome, took) =
                timed(|| store.apply(&meta1, publisher.config(), Some(&snapshot), now));
            let outcome = outcome?;
            if outcome.listings != n as u64 {
                bail!(
                    "the snapshot applied {} listings, not {n}",
                    outcome.listings
                );
            }
            Ok(took.as_secs_f64())
        };
        if rep % 2 == 0 {
            raw_s = raw_s.min(raw_insert(&mut conn, &rows)?);
            apply_s = apply_s.min(apply(&mut store)?);
        } else {
            apply_s = apply_s.min(apply(&mut store)?);
            raw_s = raw_s.min(raw_insert(&mut conn, &rows)?);
        }
        kept = Some((store, conn));
    }
    let Some((mut store, mut conn)) = kept else {
        bail!("no repetition ran");
    };
    let apply_rate = n as f64 / apply_s;
    let raw_rate = n as f64 / raw_s;

    // (b) Point lookups: half listed subjects, half unknown ones, in random
    // order; each timed alone, the store and the raw table alternating
    // which goes first.
    let keys: Vec<SubjectId> = (0..lookups)
        .map(|i| {
            if i % 2 == 0 {
                listings[rng.index(n)].sub.clone()
            } else {
                SubjectId::from_bytes(&rng.bytes())
            }
        })
        .collect();
    for k in keys.iter().take(1_000) {
        store_lookup(&store, k)?;
        raw_lookup(&conn, k.as_str())?;
    }
    let mut store_us = Vec::with_capacity(lookups);
    let mut raw_us = Vec::with_capacity(lookups);
    let (mut found_store, mut found_raw) = (0usize, 0usize);
    for (i, k) in keys.iter().enumerate() {
        let mut one_store = || -> anyhow::Result<()> {
            let t = Instant::now();
            found_store += store_lookup(&store, k)?;
            store_us.push(us(t.elapsed()));
            Ok(())
        };
        let mut one_raw = || -> anyhow::Result<()> {
            let t = Instant::now();
            found_raw += raw_lookup(&conn, k.as_str())?;
            raw_us.push(us(t.elapsed()));
            Ok(())
        };
        if i % 2 == 0 {
            one_store()?;
            one_raw()?;
        } else {
            one_raw()?;
            one_store()?;
        }
    }
    if found_store != found_raw || found_store < lookups / 2 {
        bail!(
            "lookups disagree: the store found {found_store} listings, the raw table {found_raw}"
        );
    }
    let (s50, s99) = (percentile(&store_us, 50.0), percentile(&store_us, 99.0));
    let (r50, r99) = (percentile(&raw_us, 50.0), percentile(&raw_us, 99.0));

    // (c) A delta on top: half the changes flip a held listing's withdrawn
    // flag (what a department's withdrawal does), half are new listings,
    // in the hub's order; the set hash moves as the hub's would.
    let replaced = changes / 2;
    let added = changes - replaced;
    let stride = (n / replaced.max(1)).max(1);
    let mut hash2 = hash1;
    let mut delta_listings = Vec::with_capacity(changes);
    for old in listings.iter().step_by(stride).take(replaced) {
        let new = EligibilityEntry {
            withdrawn: !old.withdrawn,
            ..old.clone()
        };
        hash2.remove(&Item::Listing(old.clone()));
        hash2.add(&Item::Listing(new.clone()));
        delta_listings.push(new);
    }
    for _ in 0..added {
        let new = synthetic_listing(&mut rng, today)?;
        hash2.add(&Item::Listing(new.clone()));
        delta_listings.push(new);
    }
    sort_hub_order(&mut delta_listings);
    let delta = artefact(ArtefactKind::Delta, 1, 2, &delta_listings);
    let total2 = (n + added) as u64;
    let meta2 = publisher.meta(2, hash2.digest(), total2, 1, &delta, now);
    let (outcome, took) = timed(|| store.apply(&meta2, None, Some(&delta), now));
    let outcome = outcome?;
    if outcome.listings != total2 || outcome.items != changes as u64 {
        bail!(
            "the delta left {} listings after {} items, expected {total2} after {changes}",
            outcome.listings,
            outcome.items
        );
    }
    let delta_ms = ms(took);
    let raw_delta_ms = raw_upsert(&mut conn, &raw_rows(&delta_listings))? * 1000.0;
    let full_ms = apply_s * 1000.0;
    let delta_label = count_label(changes);
    let best = if reps > 1 {
        format!("best of {reps} runs each, alternating which goes first")
    } else {
        "one run each".to_owned()
    };

    Ok(vec![
        Row::new(
            SECTION,
            &format!("{label} listings full apply"),
            apply_rate,
            "listings/s",
        )
        .against("raw rusqlite sorted insert, WITHOUT ROWID, same pragmas", raw_rate)
        .target("≥ 50% of raw rate", apply_rate >= 0.5 * raw_rate)
        .note(format!(
            "Store::apply of a {label}-listing snapshot ({:.1} MB artefact) into a fresh SQLite file: parse, stage, copy sorted, set hash proven, commit with synchronous=FULL — {apply_s:.2} s; raw: same rows preformatted, one prepared INSERT, one transaction — {raw_s:.2} s; {best}",
            snapshot.len() as f64 / 1e6
        )),
        Row::new(SECTION, &format!("{label} listings full apply time"), apply_s, "s")
            .against("raw sorted insert time", raw_s)
            .note(best.clone()),
        Row::new(SECTION, "point lookup p50", s50, "µs")
            .against("raw primary-key lookup p50, prepared statement", r50)
            .note(format!(
                "VerifierData::listings_of on the {label}-listing store (what decide calls), {lookups} random subjects, half listed and half not, each timed alone"
            )),
        Row::new(SECTION, "point lookup p99", s99, "µs")
            .against("raw primary-key lookup p99, prepared statement", r99)
            .target("p99 ≤ 2× raw", s99 <= 2.0 * r99)
            .note(format!(
                "same {lookups} lookups; the store parses category and dates into entries, the raw lookup reads the same columns as text"
            )),
        Row::new(
            SECTION,
            &format!("{delta_label}-change delta apply on {label}"),
            delta_ms,
            "ms",
        )
        .against(&format!("{label} listings full apply"), full_ms)
        .target("< 5% of a full apply", delta_ms < 0.05 * full_ms)
        .note(format!(
            "Store::apply of a delta: {replaced} listings withdrawn or reinstated, {added} new, each looked up, the set hash updated and proven"
        )),
        Row::new(
            SECTION,
            &format!("{delta_label}-change delta apply, against raw upserts"),
            delta_ms,
            "ms",
        )
        .against("raw sorted INSERT OR REPLACE of the same rows", raw_delta_ms)
        .note(format!(
            "the same {changes} rows upserted into the raw {label}-row table in key order, one prepared statement, one transaction, same pragmas: what SQLite itself needs for the change"
        )),
    ])
}
