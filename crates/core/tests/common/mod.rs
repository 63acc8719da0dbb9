//! Shared helpers for the conformance tests: paths to `../shared` (read in
//! place, never copied) and the state the vectors describe.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::Value;
use xinyi_core::credential::{Iss, Kid};
use xinyi_core::hex;
use xinyi_core::listing::Registry;
use xinyi_core::trust::TrustedKey;
use xinyi_core::{Catalogue, Date, PseudonymKey, UnixTime};

/// `../shared` beside the project root.
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Reads a shared file; a missing file fails the test.
pub fn read(rel: &str) -> Vec<u8> {
    let p = shared().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

pub fn vectors() -> Value {
    serde_json::from_slice(&read("vectors/credentials.json")).expect("credentials.json is JSON")
}

pub fn k_pseudo(v: &Value) -> PseudonymKey {
    PseudonymKey::from_bytes(hex::decode_array(v["k_pseudo_hex"].as_str().unwrap()).unwrap())
}

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

pub fn catalogue() -> Catalogue {
    let text = String::from_utf8(read("data/measures.toml")).unwrap();
    Catalogue::from_toml(&text).expect("the sample catalogue is valid")
}

/// The day the vectors' lists are imported: the day of the first step.
pub fn import_day(v: &Value) -> Date {
    UnixTime(v["scenarios"][0]["steps"][0]["at"].as_i64().unwrap()).date_utc8()
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
