//! Conformance: every step of every scenario of
//! `shared/vectors/credentials.json`, with the listing state imported from
//! `listings.csv` and `exclusions.csv`, and `bad-listings.csv` rejected
//! whole with exactly the expected line/column pairs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeSet;

use xinyi_core::credential::{Cti, Iss};
use xinyi_core::hex;
use xinyi_core::history::{MemoryHistory, Use};
use xinyi_core::issue::IssuerKey;
use xinyi_core::listing::{Registry, check_listings};
use xinyi_core::verdict::{DEFAULT_MAX_OFFLINE_AGE_S, MemoryData};
use xinyi_core::{Context, Fen, Kind, Measure, MeasureId, Reason, UnixTime, Verdict, decide};

#[test]
fn pseudonyms_match_the_vectors() {
    let v = common::vectors();
    let key = common::k_pseudo(&v);
    let map = v["pseudonyms"].as_object().unwrap();
    assert!(!map.is_empty());
    // The kind of each id, from the files the vectors import.
    let registry = common::registry(&v);
    let kinds: std::collections::BTreeMap<String, Kind> = registry
        .listings()
        .map(|l| (l.key.id_number.clone(), l.key.kind))
        .chain(registry.exclusions().map(|e| (e.id_number.clone(), e.kind)))
        .collect();
    for (id, expected) in map {
        let kind = kinds[id.as_str()];
        assert_eq!(
            key.pseudonym(kind, id).as_str(),
            expected,
            "pseudonym of {id}"
        );
        // Normalisation: lower case and surrounding spaces give the same pseudonym.
        assert_eq!(
            key.pseudonym(kind, &format!(" {} ", id.to_lowercase()))
                .as_str(),
            expected
        );
    }
    // Every listing's pseudonym, as terminals get it, is one of the map's.
    let expected: BTreeSet<&str> = map.values().map(|s| s.as_str().unwrap()).collect();
    let set = registry.eligibility(&key);
    for entry in set.listings() {
        assert!(
            expected.contains(entry.sub.as_str()),
            "{} not in the vectors' map",
            entry.sub
        );
    }
}

#[test]
fn issuer_seeds_give_the_trust_list_kids() {
    let v = common::vectors();
    for (kid, seed) in v["issuer_secret_seeds_hex"].as_object().unwrap() {
        let k = IssuerKey::from_seed(Iss::Yss, hex::decode_array(seed.as_str().unwrap()).unwrap());
        assert_eq!(k.kid().to_hex(), *kid);
    }
}

#[test]
fn every_scenario_step() {
    let v = common::vectors();
    let key = common::k_pseudo(&v);
    let registry = common::registry(&v);
    let revoked: Vec<Cti> = v["revoked_cards_cti_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Cti::from_hex(c.as_str().unwrap()).unwrap())
        .collect();
    let data = MemoryData::new(common::trust_list(&v), revoked, registry.eligibility(&key));
    let catalogue = common::catalogue();
    let skew = v["clock_skew_s"].as_i64().unwrap();

    let mut steps_run = 0;
    for scenario in v["scenarios"].as_array().unwrap() {
        let name = scenario["name"].as_str().unwrap();
        let site: Vec<Measure> = scenario["site"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| {
                catalogue
                    .get(id.as_str().unwrap())
                    .expect("site measure in catalogue")
                    .clone()
            })
            .collect();
        // Each scenario starts from an empty ledger and replay store.
        let mut history = MemoryHistory::new();
        for (i, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
            let at = UnixTime(step["at"].as_i64().unwrap());
            let ctx = Context {
                measures: &site,
                skew_s: skew,
                max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
                // Data is never stale in these scenarios.
                data_as_of: Some(at),
                clock_floor: None,
            };
            let qr = step["qr"].as_str().unwrap();
            let label = format!(
                "{name} / step {} ({})",
                i + 1,
                step["note"].as_str().unwrap_or("")
            );
            let expect = step["expect"].as_str().unwrap();
            let Some(measure) = step_measure(step, expect, &label) else {
                steps_run += 1;
                continue;
            };
            let verdict = decide(&ctx, &data, &history, qr, &measure, at).unwrap();
            let detail = match &verdict {
                Verdict::Refused(r) => r.detail.clone(),
                Verdict::Ok(_) => String::new(),
            };
            assert_eq!(verdict.code(), expect, "{label}: {detail}");
            steps_run += 1;
            let Verdict::Ok(approval) = verdict else {
                continue;
            };
            let amount = step["amount_fen"].as_u64().map(Fen);
            let companions = step["companions"].as_u64().unwrap_or(0) as u32;
            if let Some(expected_discount) = step["expect_discount_fen"].as_u64() {
                let amounts = approval
                    .amounts(amount.expect("amount with expected discount"), companions)
                    .unwrap();
                assert_eq!(
                    amounts.discount,
                    Fen(expected_discount),
                    "{label}: discount"
                );
                assert_eq!(
                    amounts.payable,
                    Fen(step["expect_payable_fen"].as_u64().unwrap()),
                    "{label}: payable"
                );
                assert_eq!(
                    amounts.original.0,
                    amounts.discount.0 + amounts.payable.0,
                    "{label}: sum"
                );
            } else {
                assert!(
                    !approval.measure.benefit.takes_amount() || amount.is_none(),
                    "{label}: amounts not checked"
                );
            }
            if step["confirm"].as_bool().unwrap_or(false) {
                history.record(Use {
                    record: use_id(history.uses().len()),
                    sub: approval.claims.sub.clone(),
                    measure: approval.measure.id.clone(),
                    at,
                    cti: approval.claims.cti.clone(),
                });
            }
        }
    }
    assert!(steps_run >= 40, "only {steps_run} steps ran");
}

#[test]
fn bad_listings_rejected_whole_with_every_bad_row() {
    let v = common::vectors();
    let expected: serde_json::Value =
        serde_json::from_slice(&common::read("vectors/bad-listings.expected.json")).unwrap();
    let want: Vec<(usize, Option<String>)> = expected["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap() as usize,
                e["column"].as_str().map(str::to_owned),
            )
        })
        .collect();

    let mut registry = Registry::new();
    let report = registry
        .import_listings(
            &common::read("vectors/bad-listings.csv"),
            common::import_day(&v),
        )
        .unwrap_err();
    let got: Vec<(usize, Option<String>)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.column.clone()))
        .collect();
    assert_eq!(got, want, "report:\n{report}");
    assert!(report.errors.iter().all(|e| !e.reason.is_empty()));
    // Nothing was imported, not even the good line 2.
    assert_eq!(registry.listings().count(), 0);

    // The same through the planning API, against a registry that holds data.
    let held = common::registry(&v);
    let before: Vec<_> = held.listings().cloned().collect();
    assert!(
        check_listings(
            &common::read("vectors/bad-listings.csv"),
            common::import_day(&v),
            |_| None
        )
        .is_err()
    );
    assert_eq!(held.listings().cloned().collect::<Vec<_>>(), before);
}

/// The step's measure. An id no catalogue can hold (the catalogue accepts
/// only well-formed ids) is offered nowhere: such a step must expect
/// MEASURE_NOT_APPLICABLE, and then there is nothing to decide.
fn step_measure(step: &serde_json::Value, expect: &str, label: &str) -> Option<MeasureId> {
    let text = step["measure"].as_str().unwrap();
    match MeasureId::parse(text) {
        Ok(m) => Some(m),
        Err(e) => {
            assert_eq!(
                expect,
                Reason::MeasureNotApplicable.code(),
                "{label}: measure {text:?} cannot be offered anywhere ({e})"
            );
            None
        }
    }
}

/// A distinct record id for the `n`th use.
fn use_id(n: usize) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(n as u64).to_be_bytes());
    id
}
