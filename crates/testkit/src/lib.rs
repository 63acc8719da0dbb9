//! Test support for every crate of the workspace: the shared conformance
//! vectors and sample data, read in place from `shared/` beside the
//! project root (never copied), and the state they describe. A missing
//! file fails the test that asked for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod meta;
mod mint;
pub mod nginx;
pub mod pg;
mod rng;

use std::path::PathBuf;

use serde_json::Value;
use xinyi_core::credential::{Cti, Iss, Kid};
use xinyi_core::listing::Registry;
use xinyi_core::trust::TrustedKey;
use xinyi_core::{Catalogue, Date, PseudonymKey, UnixTime, hex};

pub use meta::Publication;
pub use mint::{Citizen, citizen_for};
pub use rng::Rng;

/// A path inside `shared/` beside the project root.
pub fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// A shared file's bytes; the test fails if it is missing.
pub fn read(rel: &str) -> Vec<u8> {
    let p = shared(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// `vectors/credentials.json`.
pub fn vectors() -> Value {
    serde_json::from_slice(&read("vectors/credentials.json")).expect("credentials.json is JSON")
}

/// The vectors' K_pseudo, raw.
pub fn k_pseudo_bytes(v: &Value) -> [u8; 32] {
    hex::decode_array(v["k_pseudo_hex"].as_str().unwrap()).unwrap()
}

pub fn k_pseudo(v: &Value) -> PseudonymKey {
    PseudonymKey::from_bytes(k_pseudo_bytes(v))
}

/// The vectors' trust list, each entry checked (its kid included).
pub fn trust_list(v: &Value) -> Vec<TrustedKey> {
    v["trust_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            TrustedKey::new(
                Iss::parse(k["iss"].as_str().unwrap()).unwrap(),
                hex::decode_array(k["public_key"].as_str().unwrap()).unwrap(),
                UnixTime(k["not_before"].as_i64().unwrap()),
                UnixTime(k["not_after"].as_i64().unwrap()),
                k["revoked"].as_bool().unwrap(),
                Some(Kid::from_hex(k["kid"].as_str().unwrap()).unwrap()),
            )
            .expect("trust list entry is valid")
        })
        .collect()
}

/// The vectors' revoked printed cards.
pub fn revoked_cards(v: &Value) -> Vec<Cti> {
    v["revoked_cards_cti_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Cti::from_hex(c.as_str().unwrap()).unwrap())
        .collect()
}

/// `data/measures.toml` as text.
pub fn catalogue_text() -> String {
    String::from_utf8(read("data/measures.toml")).unwrap()
}

/// `data/measures.toml`, parsed.
pub fn catalogue() -> Catalogue {
    Catalogue::from_toml(&catalogue_text()).expect("the sample catalogue is valid")
}

/// The vectors' first instant.
pub fn first_at(v: &Value) -> UnixTime {
    UnixTime(v["scenarios"][0]["steps"][0]["at"].as_i64().unwrap())
}

/// The day the vectors' lists are imported: the day of the first step.
pub fn import_day(v: &Value) -> Date {
    first_at(v).date_utc8()
}

/// The registry with the vectors' listings and exclusions, imported
/// through the import code.
pub fn registry(v: &Value) -> Registry {
    let day = import_day(v);
    let mut r = Registry::new();
    r.import_listings(&read("vectors/listings.csv"), day)
        .expect("listings.csv imports");
    r.import_exclusions(&read("vectors/exclusions.csv"), day)
        .expect("exclusions.csv imports");
    r
}

/// The ID number the vectors pseudonymise as `sub` (`pseudonyms`).
pub fn id_number_of(v: &Value, sub: &str) -> String {
    v["pseudonyms"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, p)| p.as_str() == Some(sub))
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| panic!("no ID number has the pseudonym {sub}"))
}

/// Column `column` of the first row of `listings.csv`.
fn first_listed(column: usize) -> String {
    let csv = String::from_utf8(read("vectors/listings.csv")).unwrap();
    csv.lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(column))
        .expect("listings.csv lists someone")
        .to_owned()
}

/// The first subject `listings.csv` lists.
pub fn first_listed_id_number() -> String {
    first_listed(1)
}

/// The name of the first subject `listings.csv` lists.
pub fn first_listed_name() -> String {
    first_listed(2)
}

/// A department's list withdrawing every listing `listings.csv` adds for
/// `id_number`, and how many rows it has.
pub fn withdrawal_of(id_number: &str) -> (String, usize) {
    let csv = String::from_utf8(read("vectors/listings.csv")).unwrap();
    let mut lines = csv.lines();
    let mut out = format!("{}\n", lines.next().expect("listings.csv has a header"));
    let mut rows = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.get(1) == Some(&id_number) && fields.last() == Some(&"add") {
            out.push_str(&fields[..fields.len() - 1].join(","));
            out.push_str(",withdraw\n");
            rows += 1;
        }
    }
    assert!(rows > 0, "listings.csv adds nothing for {id_number}");
    (out, rows)
}

/// A step of the vectors refused only because its subject is excluded: an
/// exclusion of `exclusions.csv` applies on the step's day, and the
/// subject also holds a listing in force that day, so withdrawing the
/// exclusion makes the same code verify.
#[derive(Debug, Clone)]
pub struct ExcludedStep {
    pub qr: String,
    pub at: UnixTime,
    pub measure: String,
    pub id_number: String,
}

/// The first [`ExcludedStep`] of the vectors.
pub fn excluded_step(v: &Value) -> ExcludedStep {
    let set = registry(v).eligibility(&k_pseudo(v));
    for step in v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["steps"].as_array().unwrap())
    {
        let Some(qr) = step["qr"].as_str() else {
            continue;
        };
        let at = UnixTime(step["at"].as_i64().unwrap());
        let day = at.date_utc8();
        let Ok(decoded) = xinyi_core::credential::decode(qr) else {
            continue;
        };
        let sub = &decoded.claims.sub;
        let excluded = set.exclusions_of(sub).iter().any(|x| x.applies_on(day));
        let listed = set.listings_of(sub).iter().any(|l| l.in_force(day));
        if step["expect"] == "LISTING_NOT_VALID" && excluded && listed {
            return ExcludedStep {
                qr: qr.to_owned(),
                at,
                measure: step["measure"].as_str().unwrap().to_owned(),
                id_number: id_number_of(v, sub.as_str()),
            };
        }
    }
    panic!("no step of the vectors is refused only for an exclusion");
}

/// A department's exclusions file withdrawing every exclusion
/// `exclusions.csv` records for `id_number` (credit repaired, with the
/// decision's reference), and how many rows it has.
pub fn exclusion_withdrawal_of(id_number: &str) -> (String, usize) {
    let csv = String::from_utf8(read("vectors/exclusions.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("exclusions.csv has a header")
        .split(',')
        .collect();
    let mut out = "kind,id_number,reason,recorded_on,action,repair_ref\n".to_owned();
    let mut rows = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .and_then(|i| fields.get(i))
                .copied()
                .unwrap_or_else(|| panic!("exclusions.csv has no {name}"))
        };
        if col("id_number") == id_number {
            out.push_str(&format!(
                "{},{},{},{},withdraw,（{}）信用修复决定第{}号\n",
                col("kind"),
                col("id_number"),
                col("reason"),
                col("recorded_on"),
                col("recorded_on"),
                rows + 1
            ));
            rows += 1;
        }
    }
    assert!(rows > 0, "exclusions.csv records nothing for {id_number}");
    (out, rows)
}
