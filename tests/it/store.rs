//! The terminal store on real SQLite files: applying signed data versions
//! (`design.md`, "Sync": one transaction, proven by the set hash), the
//! conformance vectors decided with the store as data and history, the
//! signed hash-chained journal, voids, purges, durability and privacy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::store_support;

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use store_support::*;
use xinyi::store::{DataState, Store, StoreError, VoidRefusal};
use xinyi_core::eligibility::{EligibilityEntry, ExclusionEntry};
use xinyi_core::history::{Basis, History};
use xinyi_core::wire::journal::Checked;

/// How the store's tests confirm: offline, no holder check.
const OFFLINE: Checked = Checked {
    basis: Basis::Offline,
    holder: false,
};
use xinyi_core::ids::SubjectId;
use xinyi_core::measures::MeasureId;
use xinyi_core::verdict::{DEFAULT_SKEW_S, VerifierData};
use xinyi_core::wire::Digest32;
use xinyi_core::wire::eligibility::{ArtefactKind, Item};
use xinyi_core::wire::journal::{Body, Record, check_chain};
use xinyi_core::wire::metadata::MetadataError;
use xinyi_core::wire::plan::{ApplyPlan, Fetched, Part, Refused, plan, uncompressed};
use xinyi_core::{Fen, Kind, UnixTime, Verdict, decide};

/// 2026-03-10 09:30 UTC+8.
const T0: i64 = 1_773_106_200;
const DAY: i64 = 86_400;

fn v1_items() -> Vec<Item> {
    vec![
        Item::Listing(listing(1, "P02", "2025-05-01", "2027-05-01", false)),
        Item::Listing(listing(1, "P05", "2024-01-01", "2026-01-01", false)),
        Item::Listing(listing(2, "P03", "2025-07-08", "2027-07-08", false)),
        Item::Listing(listing(3, "E02", "2025-06-01", "2027-06-01", false)),
        Item::Listing(listing(4, "P11", "2025-06-02", "2027-06-02", false)),
        Item::Exclusion(exclusion(4, "2025-09-01", "2028-09-01")),
        Item::Exclusion(exclusion(5, "2021-01-05", "2024-01-05")),
    ]
}

/// The delta v1 → v2 and the whole v2 set.
fn v2() -> (Vec<Item>, Vec<Item>) {
    let delta = vec![
        // Withdrawn: an upsert of an existing key.
        Item::Listing(listing(2, "P03", "2025-07-08", "2027-07-08", true)),
        // New.
        Item::Listing(listing(6, "P01", "2026-01-01", "2028-01-01", false)),
        Item::RemoveListing {
            sub: sub(1),
            category: "P05".parse().unwrap(),
            valid_from: day("2024-01-01"),
        },
        Item::Exclusion(exclusion(7, "2026-02-01", "2029-02-01")),
        Item::RemoveExclusion {
            sub: sub(5),
            from: day("2021-01-05"),
        },
        // Same as held: must not change the hash.
        Item::Exclusion(exclusion(4, "2025-09-01", "2028-09-01")),
    ];
    let whole = vec![
        Item::Listing(listing(1, "P02", "2025-05-01", "2027-05-01", false)),
        Item::Listing(listing(2, "P03", "2025-07-08", "2027-07-08", true)),
        Item::Listing(listing(3, "E02", "2025-06-01", "2027-06-01", false)),
        Item::Listing(listing(4, "P11", "2025-06-02", "2027-06-02", false)),
        Item::Listing(listing(6, "P01", "2026-01-01", "2028-01-01", false)),
        Item::Exclusion(exclusion(4, "2025-09-01", "2028-09-01")),
        Item::Exclusion(exclusion(7, "2026-02-01", "2029-02-01")),
    ];
    (delta, whole)
}

fn synthetic_registry() -> TestRegistry {
    let v = vectors();
    TestRegistry::of_vectors(&v, vec![site("bus", &["XYX-BUS-TOPUP"])])
}

/// A store at version 1 of the synthetic data.
fn store_at_v1(dir: &std::path::Path, reg: &TestRegistry) -> Store {
    let mut store = Store::open(db_path(dir)).unwrap();
    enroll(&mut store, &terminal_key(1), "bus", reg);
    let items = v1_items();
    let raw = snapshot(1, &items);
    let meta = reg.meta(1, &items, Some((0, &raw)), T0);
    let out = store
        .apply(&meta, reg.config(), Some(&raw), UnixTime(T0 + 5))
        .unwrap();
    assert_eq!(out.artefact, Some(ArtefactKind::Snapshot));
    assert_eq!((out.from, out.to, out.items), (0, 1, 7));
    assert!(out.config_replaced);
    store
}

/// Everything a verdict could read about subjects 1–9, and the state.
type Held = (
    Option<DataState>,
    BTreeMap<u8, (Vec<EligibilityEntry>, Vec<ExclusionEntry>)>,
);

fn held(store: &Store) -> Held {
    let subjects = (1..=9)
        .map(|n| {
            (
                n,
                (
                    store.listings_of(&sub(n)).unwrap(),
                    store.exclusions_of(&sub(n)).unwrap(),
                ),
            )
        })
        .collect();
    (store.data_state().unwrap(), subjects)
}

/// What the store holds, as artefact items, for comparing with a set.
fn held_items(store: &Store) -> Vec<Item> {
    let (_, subjects) = held(store);
    let mut items: Vec<Item> = subjects
        .into_values()
        .flat_map(|(l, x)| {
            l.into_iter()
                .map(Item::Listing)
                .chain(x.into_iter().map(Item::Exclusion))
        })
        .collect();
    items.sort_by_key(|i| format!("{i:?}"));
    items
}

fn sorted(mut items: Vec<Item>) -> Vec<Item> {
    items.sort_by_key(|i| format!("{i:?}"));
    items
}

#[test]
fn snapshot_then_delta_keeps_the_set_hash() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);

    let state = store.data_state().unwrap().unwrap();
    assert_eq!(state.version, 1);
    assert_eq!(state.set_hash, set_hash(&v1_items()));
    assert_eq!((state.listings, state.exclusions), (5, 2));
    assert_eq!(state.hub_issued_at, UnixTime(T0));
    assert_eq!(state.received_at, UnixTime(T0 + 5));
    assert_eq!(held_items(&store), sorted(v1_items()));
    // Expired and withdrawn listings are kept (LISTING_NOT_VALID).
    assert_eq!(store.listings_of(&sub(1)).unwrap().len(), 2);

    let (delta_items, whole) = v2();
    let raw = delta(1, 2, &delta_items);
    let meta = reg.meta(2, &whole, Some((1, &raw)), T0 + DAY);
    let out = store
        .apply(&meta, None, Some(&raw), UnixTime(T0 + DAY))
        .unwrap();
    assert_eq!(out.artefact, Some(ArtefactKind::Delta));
    assert_eq!((out.from, out.to, out.items), (1, 2, 6));
    assert!(!out.config_replaced);
    assert_eq!((out.listings, out.exclusions), (5, 2));

    let state = store.data_state().unwrap().unwrap();
    assert_eq!(state.version, 2);
    assert_eq!(state.set_hash, set_hash(&whole));
    assert_eq!(held_items(&store), sorted(whole));
    assert!(store.listings_of(&sub(2)).unwrap()[0].withdrawn);
    assert!(store.exclusions_of(&sub(5)).unwrap().is_empty());
}

#[test]
fn a_wrong_set_hash_rolls_back_and_leaves_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);
    let before = held(&store);

    let (delta_items, whole) = v2();
    let raw = delta(1, 2, &delta_items);
    // The hub claims a set that differs in one member from what the delta makes.
    let mut claimed = whole.clone();
    claimed.pop();
    claimed.push(Item::Exclusion(exclusion(9, "2026-02-01", "2029-02-01")));
    let meta = reg.meta(2, &claimed, Some((1, &raw)), T0 + DAY);
    let err = store
        .apply(&meta, None, Some(&raw), UnixTime(T0 + DAY))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                version: 2,
                reason: Refused::SetHash { .. }
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("data held before stays in use"));
    assert_eq!(held(&store), before);

    // The same after reopening: nothing half-applied reached the file.
    drop(store);
    let mut store = Store::open(db_path(dir.path())).unwrap();
    assert_eq!(held(&store), before);

    // And the right version still applies afterwards.
    let meta = reg.meta(2, &whole, Some((1, &raw)), T0 + DAY);
    store
        .apply(&meta, None, Some(&raw), UnixTime(T0 + DAY))
        .unwrap();
    assert_eq!(store.data_state().unwrap().unwrap().version, 2);
}

#[test]
fn bad_headers_and_artefacts_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);
    let before = held(&store);
    let (delta_items, whole) = v2();
    let now = UnixTime(T0 + DAY);
    let good = delta(1, 2, &delta_items);

    let check = |name: &str, result: Result<xinyi::store::ApplyOutcome, StoreError>| {
        let err = result.expect_err(name);
        assert!(!err.to_string().is_empty());
        assert_eq!(held(&store_ro(dir.path())), before, "{name}: data changed");
        err
    };

    // A delta from a version not held: the metadata itself is inconsistent.
    let raw = delta(7, 8, &delta_items);
    let meta = reg.meta(8, &whole, Some((7, &raw)), T0 + DAY);
    let err = check("delta from 7", store.apply(&meta, None, Some(&raw), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::Metadata(MetadataError::Inconsistent(_)),
            ..
        }
    ));

    // The artefact leads to another version than the metadata.
    let raw = delta(1, 3, &delta_items);
    let meta = reg.meta(2, &whole, Some((1, &raw)), T0 + DAY);
    let err = check("to mismatch", store.apply(&meta, None, Some(&raw), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::WrongTarget { artefact: 3, .. },
            ..
        }
    ));

    // The metadata announces a snapshot, the artefact is a delta.
    let meta = reg.meta(2, &whole, Some((0, &good)), T0 + DAY);
    let err = check("kind mismatch", store.apply(&meta, None, Some(&good), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::WrongShape { .. },
            ..
        }
    ));

    // Truncated in the middle of the items: a malformed artefact, after
    // some items were already written inside the transaction.
    let cut = &good[..good.len() - 3];
    let meta = reg.meta(2, &whole, Some((1, cut)), T0 + DAY);
    let err = check("truncated", store.apply(&meta, None, Some(cut), now));
    assert!(
        matches!(
            err,
            StoreError::Refused {
                reason: Refused::Artefact(_),
                ..
            }
        ),
        "{err}"
    );

    // Right hash, wrong counts.
    let mut meta = reg.meta(2, &whole, Some((1, &good)), T0 + DAY);
    meta.listings += 1;
    let err = check("counts", store.apply(&meta, None, Some(&good), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::Counts { .. },
            ..
        }
    ));

    // A delta removing what is not held.
    let raw = delta(
        1,
        2,
        &[Item::RemoveListing {
            sub: sub(9),
            category: "P01".parse().unwrap(),
            valid_from: day("2025-01-01"),
        }],
    );
    let meta = reg.meta(2, &v1_items(), Some((1, &raw)), T0 + DAY);
    let err = check("remove unknown", store.apply(&meta, None, Some(&raw), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::RemovesUnheldListing { .. },
            ..
        }
    ));

    // A snapshot with the same listing twice.
    let mut twice = v1_items();
    twice.push(twice[0].clone());
    let raw = snapshot(2, &twice);
    let meta = reg.meta(2, &v1_items(), Some((0, &raw)), T0 + DAY);
    let err = check("duplicate", store.apply(&meta, None, Some(&raw), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::DuplicateListing { .. },
            ..
        }
    ));

    // Rollback to an older version, and expired metadata.
    let raw = snapshot(1, &v1_items());
    let mut meta = reg.meta(1, &v1_items(), Some((0, &raw)), T0 + DAY);
    meta.version = 0;
    let err = check("rollback", store.apply(&meta, None, Some(&raw), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::Metadata(MetadataError::Rollback { .. }),
            ..
        }
    ));
    let meta = reg.meta(2, &whole, Some((1, &good)), T0 + DAY);
    let err = check(
        "expired",
        store.apply(&meta, None, Some(&good), UnixTime(T0 + 500 * DAY)),
    );
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::Metadata(MetadataError::Expired { .. }),
            ..
        }
    ));

    // A config artefact that is not the one the metadata pins.
    let other = TestRegistry::of_vectors(&vectors(), vec![site("bus", &["XYY-SCENIC-ENTRY"])]);
    let meta = reg.meta(2, &whole, Some((1, &good)), T0 + DAY);
    let err = check(
        "config hash",
        store.apply(&meta, other.config(), Some(&good), now),
    );
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::Length {
                part: Part::Config,
                ..
            } | Refused::Hash {
                part: Part::Config,
                ..
            },
            ..
        }
    ));
    // A new config pinned but none given.
    let meta = other.meta(2, &whole, Some((1, &good)), T0 + DAY);
    let err = check("config missing", store.apply(&meta, None, Some(&good), now));
    assert!(matches!(
        err,
        StoreError::Refused {
            reason: Refused::NotGiven {
                config: true,
                eligibility: false
            },
            ..
        }
    ));

    // Eligibility bytes and metadata that disagree on presence.
    let meta = reg.meta(1, &v1_items(), None, T0 + DAY);
    check(
        "bytes without ref",
        store.apply(&meta, None, Some(&good), now),
    );
    let meta = reg.meta(2, &whole, Some((1, &good)), T0 + DAY);
    check("ref without bytes", store.apply(&meta, None, None, now));

    // After all of that, the good delta applies.
    let meta = reg.meta(2, &whole, Some((1, &good)), T0 + DAY);
    store.apply(&meta, None, Some(&good), now).unwrap();
    assert_eq!(held_items(&store), sorted(whole));
}

#[test]
fn a_plan_made_against_other_data_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);
    let (delta_items, whole) = v2();
    let raw = delta(1, 2, &delta_items);
    let meta = reg.meta(2, &whole, Some((1, &raw)), T0 + DAY);
    let now = UnixTime(T0 + DAY);
    let held_then = store.held().unwrap();
    let fetched = Fetched {
        config: None,
        eligibility: Some(&raw),
    };
    let Ok(ApplyPlan::Apply(apply)) = plan(&meta, held_then.as_ref(), now, fetched, uncompressed)
    else {
        panic!("the delta is not planned for applying");
    };
    // Another connection applies the same delta first.
    let mut other = store_ro(dir.path());
    other.apply(&meta, None, Some(&raw), now).unwrap();
    let after_other = held(&other);
    let err = store.execute(&apply, now).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                version: 2,
                reason: Refused::HeldChanged { .. }
            }
        ),
        "{err}"
    );
    assert_eq!(held(&store), after_other);
    assert_eq!(held(&store_ro(dir.path())), after_other);
}

#[test]
fn a_delta_item_equal_to_the_row_held_keeps_the_set_and_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);
    let before = held(&store);
    // Every item of version 1 sent again as a delta to version 2: the same
    // set, so the same hash and counts are proven.
    let raw = delta(1, 2, &v1_items());
    let meta = reg.meta(2, &v1_items(), Some((1, &raw)), T0 + DAY);
    let out = store
        .apply(&meta, None, Some(&raw), UnixTime(T0 + DAY))
        .unwrap();
    assert_eq!((out.items, out.listings, out.exclusions), (7, 5, 2));
    assert_eq!(held_items(&store), sorted(v1_items()));
    let state = store.data_state().unwrap().unwrap();
    assert_eq!(state.version, 2);
    assert_eq!(state.set_hash, before.0.unwrap().set_hash);
}

/// A second connection to the same file, to look at what is committed.
fn store_ro(dir: &std::path::Path) -> Store {
    Store::open(db_path(dir)).unwrap()
}

#[test]
fn a_new_config_replaces_trust_and_sites() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);
    let v = vectors();
    let keys = trust_list(&v);
    assert!(store.trusted_key(&keys[0].kid).unwrap().is_some());
    let ctx = store.site_context().unwrap();
    assert_eq!(ctx.measures.len(), 1);

    // Version 2: one key fewer, no revocations, the bus site now also
    // offers the hotel measure.
    let next = TestRegistry::new(
        &keys[1..],
        &[],
        vec![site("bus", &["XYX-BUS-TOPUP", "XYY-HOTEL-STAY"])],
    );
    let raw = delta(1, 2, &[]);
    let meta = next.meta(2, &v1_items(), Some((1, &raw)), T0 + DAY);
    let out = store
        .apply(&meta, next.config(), Some(&raw), UnixTime(T0 + DAY))
        .unwrap();
    assert!(out.config_replaced);
    assert!(store.trusted_key(&keys[0].kid).unwrap().is_none());
    assert_eq!(
        store.trusted_key(&keys[1].kid).unwrap(),
        Some(keys[1].clone())
    );
    assert!(!store.card_revoked(&revoked_cards(&v)[0]).unwrap());
    let ctx = store.site_context().unwrap();
    let ids: Vec<&str> = ctx.measures.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["XYX-BUS-TOPUP", "XYY-HOTEL-STAY"]);
    assert_eq!(
        store.data_state().unwrap().unwrap().config_sha256,
        Digest32::of(&next.config_bytes)
    );
}

#[test]
fn hub_contact_refreshes_freshness_and_ignores_replays() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);
    let ctx = store.site_context().unwrap();
    assert_eq!(ctx.data_as_of, Some(UnixTime(T0)));
    assert_eq!(ctx.published_at, Some(UnixTime(T0 - 600)));
    assert_eq!(ctx.max_offline_age_s, 400 * DAY);

    let later = reg.meta(1, &v1_items(), None, T0 + 3 * DAY);
    assert!(
        store
            .record_hub_contact(&later, UnixTime(T0 + 3 * DAY + 2))
            .unwrap()
    );
    let state = store.data_state().unwrap().unwrap();
    assert_eq!(state.hub_issued_at, UnixTime(T0 + 3 * DAY));
    assert_eq!(state.received_at, UnixTime(T0 + 3 * DAY + 2));
    assert_eq!(state.expires_at, UnixTime(later.expires_at));
    assert_eq!(
        store.site_context().unwrap().data_as_of,
        Some(UnixTime(T0 + 3 * DAY))
    );

    // Older signed metadata (a replay) changes nothing.
    let old = reg.meta(1, &v1_items(), None, T0 + DAY);
    assert!(
        !store
            .record_hub_contact(&old, UnixTime(T0 + 4 * DAY))
            .unwrap()
    );
    assert_eq!(
        store.data_state().unwrap().unwrap().hub_issued_at,
        UnixTime(T0 + 3 * DAY)
    );

    // Metadata for the held version with other content is refused.
    let (_, whole) = v2();
    let lying = reg.meta(1, &whole, None, T0 + 5 * DAY);
    assert!(matches!(
        store.record_hub_contact(&lying, UnixTime(T0 + 5 * DAY)),
        Err(StoreError::Refused {
            reason: Refused::HeldDiffers { version: 1 },
            ..
        })
    ));
    // Metadata for another version is applied, not taken as contact.
    let raw = delta(1, 2, &v2().0);
    let next = reg.meta(2, &whole, Some((1, &raw)), T0 + 5 * DAY);
    let err = store
        .record_hub_contact(&next, UnixTime(T0 + 5 * DAY))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                version: 2,
                reason: Refused::NotHeld {
                    version: 2,
                    held: 1
                }
            }
        ),
        "{err}"
    );

    let status = store.status(UnixTime(T0 + 4 * DAY)).unwrap();
    assert_eq!(status.data.as_ref().unwrap().version, 1);
    assert_eq!(status.age_s, Some(4 * DAY + 600));
    assert_eq!(status.since_hub_s, Some(DAY));
    assert!(!status.metadata_expired);
    assert_eq!(status.unsent, 0);

    // A site the synced configuration does not know is a clear error.
    enroll(&mut store, &terminal_key(1), "elsewhere", &reg);
    let err = store.site_context().unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownSite(ref s) if s == "elsewhere"),
        "{err}"
    );
}

#[test]
fn status_and_context_before_any_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(dir.path())).unwrap();
    let err = store.site_context().unwrap_err();
    assert!(
        err.to_string()
            .contains("xinyi enroll --hub URL --code CODE")
    );
    let reg = synthetic_registry();
    enroll(&mut store, &terminal_key(1), "bus", &reg);
    let ctx = store.site_context().unwrap();
    assert_eq!((ctx.site.clone(), ctx.data_as_of), (None, None));
    // Never synced: every verdict is STALE_DATA.
    let verdict = decide(
        &ctx.context(DEFAULT_SKEW_S),
        &store,
        &store,
        "XY1:anything",
        &MeasureId::parse("XYX-BUS-TOPUP").unwrap(),
        UnixTime(T0),
    )
    .unwrap();
    assert_eq!(verdict.code(), "STALE_DATA");
    let status = store.status(UnixTime(T0)).unwrap();
    assert_eq!((status.data, status.age_s, status.unsent), (None, None, 0));
    // record_hub_contact needs data first.
    let meta = reg.meta(1, &v1_items(), None, T0);
    assert!(matches!(
        store.record_hub_contact(&meta, UnixTime(T0)),
        Err(StoreError::NoData | StoreError::Refused { .. })
    ));
}

#[test]
fn identity_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(dir.path())).unwrap();
    assert_eq!(store.identity().unwrap(), None);
    assert!(matches!(
        store.require_identity(),
        Err(StoreError::NotEnrolled)
    ));
    let reg = synthetic_registry();
    enroll(&mut store, &terminal_key(1), "bus", &reg);
    let id = store.identity().unwrap().unwrap();
    assert_eq!(id.site_id, "bus");
    assert_eq!(id.registry_key, reg.pinned());
    assert_eq!(
        id.registry_verifying_key().unwrap(),
        reg.key.verifying_key()
    );
    store.set_setting("ui.language", "en").unwrap();
    assert_eq!(store.setting("ui.language").unwrap().as_deref(), Some("en"));
    assert!(store.set_setting("identity.site_id", "other").is_err());
    assert!(store.remove_setting("ui.language").unwrap());
    assert_eq!(store.setting("ui.language").unwrap(), None);
    // It persists.
    drop(store);
    let store = Store::open(db_path(dir.path())).unwrap();
    assert_eq!(store.identity().unwrap(), Some(id));
}

/// Every scenario step of the conformance vectors, decided by the same
/// `decide` with the store as data and history; confirmed steps are
/// recorded with `redeem`, refusals with `record_refusal`. Each scenario
/// starts from a fresh store file (an empty journal).
#[test]
fn conformance_vectors_through_the_store() {
    let v = vectors();
    let key = k_pseudo(&v);
    let set = registry(&v).eligibility(&key);
    let items = items_of(&set);
    let raw = snapshot(1, &items);
    let scenarios = v["scenarios"].as_array().unwrap();
    let sites = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let measures: Vec<&str> = s["site"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect();
            site(&format!("scenario-{i}"), &measures)
        })
        .collect();
    let reg = TestRegistry::of_vectors(&v, sites);
    let skew = v["clock_skew_s"].as_i64().unwrap();
    let first_at = scenarios
        .iter()
        .flat_map(|s| s["steps"].as_array().unwrap())
        .map(|st| st["at"].as_i64().unwrap())
        .min()
        .unwrap();
    let meta = reg.meta(1, &items, Some((0, &raw)), first_at - 60);
    let terminal = terminal_key(7);

    let mut steps_run = 0;
    let mut redemptions = 0;
    for (i, scenario) in scenarios.iter().enumerate() {
        let name = scenario["name"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(db_path(dir.path())).unwrap();
        enroll(&mut store, &terminal, &format!("scenario-{i}"), &reg);
        store
            .apply(&meta, reg.config(), Some(&raw), UnixTime(first_at - 60))
            .unwrap();
        let site_ctx = store.site_context().unwrap();
        assert_eq!(
            site_ctx.measures.len(),
            scenario["site"].as_array().unwrap().len()
        );

        for (n, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
            let at = UnixTime(step["at"].as_i64().unwrap());
            let qr = step["qr"].as_str().unwrap();
            let measure = MeasureId::parse(step["measure"].as_str().unwrap()).unwrap();
            let label = format!(
                "{name} / step {} ({})",
                n + 1,
                step["note"].as_str().unwrap_or("")
            );
            let ctx = site_ctx.context(skew);
            let verdict = decide(&ctx, &store, &store, qr, &measure, at).unwrap();
            let expect = step["expect"].as_str().unwrap();
            let detail = match &verdict {
                Verdict::Refused(r) => r.detail.clone(),
                Verdict::Ok(_) => String::new(),
            };
            assert_eq!(verdict.code(), expect, "{label}: {detail}");
            steps_run += 1;
            let approval = match verdict {
                Verdict::Ok(a) => a,
                Verdict::Refused(r) => {
                    let e = store
                        .record_refusal(&terminal, "op-1", at, &measure, &r, Basis::Offline)
                        .unwrap();
                    assert_eq!(e.record.seq, store.journal_head().unwrap().0);
                    continue;
                }
            };
            let amount = step["amount_fen"].as_u64().map(Fen);
            let companions = step["companions"].as_u64().unwrap_or(0) as u32;
            let amounts = approval
                .amounts(amount.unwrap_or(Fen(0)), companions)
                .unwrap();
            if let Some(discount) = step["expect_discount_fen"].as_u64() {
                assert_eq!(amounts.discount, Fen(discount), "{label}: discount");
                assert_eq!(
                    amounts.payable,
                    Fen(step["expect_payable_fen"].as_u64().unwrap()),
                    "{label}: payable"
                );
            }
            if step["confirm"].as_bool().unwrap_or(false) {
                let entry = store
                    .redeem(&terminal, "op-1", at, &approval, &amounts, OFFLINE)
                    .unwrap();
                redemptions += 1;
                let Body::Redemption {
                    sub,
                    payable,
                    measure: m,
                    ..
                } = &entry.record.body
                else {
                    panic!("{label}: not a redemption");
                };
                assert_eq!(sub, approval.claims.sub.as_str());
                assert_eq!(*payable, amounts.payable.0);
                assert_eq!(m, measure.as_str());
                assert_eq!(entry.record.data_version, 1);
                // Committed: a second connection sees it at once.
                assert!(store_ro(dir.path()).entry(&entry.id).unwrap().is_some());
            }
        }
    }
    assert!(steps_run >= 40, "only {steps_run} steps ran");
    assert!(redemptions >= 5, "only {redemptions} redemptions");
}

#[test]
fn the_journal_chain_holds_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let key_path = dir.path().join("terminal.key");
    let tkey = xinyi::keys::TerminalKey::generate_at(&key_path).unwrap();
    let key: &SigningKey = tkey.signing_key();
    let mut store = store_at_v1(dir.path(), &reg);
    enroll(&mut store, key, "bus", &reg);

    let a = store
        .append(
            key,
            "op-1",
            UnixTime(T0),
            redemption(1, "XYX-BUS-TOPUP", 1, 0),
        )
        .unwrap();
    store
        .append(key, "op-1", UnixTime(T0 + 1), refusal(2))
        .unwrap();
    store
        .append(
            key,
            "op-2",
            UnixTime(T0 + 2),
            redemption(1, "XYX-BUS-TOPUP", 3, 1),
        )
        .unwrap();
    assert_eq!(a.seq, 1);
    assert_eq!(a.record.prev, Digest32::default());
    assert_eq!(a.record.terminal, tkey.id());
    drop(store);

    let mut store = Store::open(db_path(dir.path())).unwrap();
    let key = xinyi::keys::TerminalKey::load(&key_path).unwrap();
    store
        .append(key.signing_key(), "op-1", UnixTime(T0 + 3), refusal(3))
        .unwrap();
    store
        .void(
            key.signing_key(),
            "sup-1",
            a.id,
            "wrong amount",
            UnixTime(T0 + 60),
            300,
        )
        .unwrap();
    drop(store);

    let store = Store::open(db_path(dir.path())).unwrap();
    let entries = store.records_from(1, 100).unwrap();
    assert_eq!(entries.len(), 5);
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let mut chain = Vec::new();
    for e in &entries {
        let opened = e.signed.open(&key.public_key()).unwrap();
        assert_eq!(opened, e.record);
        assert_eq!(e.hash, e.signed.hash());
        assert_eq!(e.record.data_version, 1);
        chain.push((opened, e.hash));
    }
    check_chain(&key.id(), None, &chain).unwrap();
    assert_eq!(store.journal_head().unwrap(), (5, entries[4].hash));
    // The upload queue is the same records, in order.
    let unsent = store.unsent(100).unwrap();
    assert_eq!(
        unsent,
        entries.iter().map(|e| e.signed.clone()).collect::<Vec<_>>()
    );
    assert_eq!(store.unsent(2).unwrap(), unsent[..2]);
    // Newest first for the staff screen.
    let recent = store.recent(2).unwrap();
    assert_eq!(recent.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 4]);
    // Ids are unique and random.
    let ids: std::collections::BTreeSet<_> = entries.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 5);
}

#[test]
fn uploads_are_marked_only_by_the_registrys_latest_statement() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(dir.path())).unwrap();
    let key = terminal_key(3);
    for i in 0..5 {
        store
            .append(&key, "op", UnixTime(T0 + i), refusal(1))
            .unwrap();
    }
    assert_eq!(store.unsent_count().unwrap(), 5);
    let s = hub_holds(&mut store, &key, 3, T0 + 100).unwrap();
    assert_eq!((s.marked, s.unmarked), (3, 0));
    assert_eq!(store.unsent_count().unwrap(), 2);
    assert_eq!(hub_holds(&mut store, &key, 3, T0 + 200).unwrap().marked, 0);
    // An older statement changes nothing, whatever it claims.
    let s = hub_holds(&mut store, &key, 5, T0 + 150).unwrap();
    assert!(s.stale);
    assert_eq!(store.unsent_count().unwrap(), 2);
    // A statement about another terminal is refused.
    let other = store.settle_holding(
        &xinyi_core::wire::receipt::Holding {
            terminal: "another".into(),
            through: 5,
            hash: None,
            as_of: T0 + 300,
        },
        &xinyi_core::wire::key_id(key.verifying_key().as_bytes()),
        UnixTime(T0 + 300),
    );
    assert!(
        matches!(other, Err(StoreError::ForeignStatement { .. })),
        "{other:?}"
    );
    // A hash that is not this terminal's record is refused.
    let mismatch = store.settle_holding(
        &xinyi_core::wire::receipt::Holding {
            terminal: xinyi_core::wire::key_id(key.verifying_key().as_bytes()),
            through: 4,
            hash: Some(Digest32::of(b"some other record")),
            as_of: T0 + 300,
        },
        &xinyi_core::wire::key_id(key.verifying_key().as_bytes()),
        UnixTime(T0 + 300),
    );
    assert!(
        matches!(mismatch, Err(StoreError::HoldingMismatch { seq: 4 })),
        "{mismatch:?}"
    );
    // A claim past the last record made here is taken only up to it.
    let s = hub_holds(&mut store, &key, 1_000_000, T0 + 300).unwrap();
    assert!(s.capped);
    assert_eq!(store.unsent_count().unwrap(), 0);
    assert_eq!(store.hub_holds_through().unwrap(), 5);
    // The registry lost records 4 and 5 (a restored backup): they are
    // unsent again, to be sent again.
    let s = hub_holds(&mut store, &key, 3, T0 + 400).unwrap();
    assert_eq!(s.unmarked, 2);
    assert_eq!(store.unsent_count().unwrap(), 2);
    let unsent = store.unsent(10).unwrap();
    let seqs: Vec<u64> = unsent
        .iter()
        .map(|s| Record::decode(&s.bytes).unwrap().seq)
        .collect();
    assert_eq!(seqs, [4, 5]);
    let status = store.status(UnixTime(T0 + 300)).unwrap();
    assert_eq!(status.unsent, 2);
    assert_eq!(status.oldest_unsent_at, Some(UnixTime(T0 + 3)));
    let first = store.records_from(1, 1).unwrap();
    assert_eq!(first[0].uploaded_at, Some(UnixTime(T0 + 100)));
}

#[test]
fn voids_within_the_window_only_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(dir.path())).unwrap();
    let key = terminal_key(4);
    let measure = MeasureId::parse("XYX-BUS-TOPUP").unwrap();
    let cti = xinyi_core::Cti::new(vec![1; 12]).unwrap();
    let r = store
        .append(
            &key,
            "op-1",
            UnixTime(T0),
            redemption(1, "XYX-BUS-TOPUP", 1, 0),
        )
        .unwrap();
    let uses = |s: &Store| {
        s.uses_between(&sub(1), &measure, UnixTime(T0 - DAY), UnixTime(T0 + DAY))
            .unwrap()
    };
    assert_eq!(uses(&store), 1);
    assert!(store.cti_redeemed(&cti).unwrap());

    let void = store
        .void(
            &key,
            "sup-1",
            r.id,
            "typed the wrong amount",
            UnixTime(T0 + 60),
            300,
        )
        .unwrap();
    let Body::Void {
        target, supervisor, ..
    } = &void.record.body
    else {
        panic!("not a void record");
    };
    assert_eq!((target, supervisor.as_str()), (&r.id, "sup-1"));
    assert_eq!(void.seq, 2);
    assert!(store.entry(&r.id).unwrap().unwrap().voided);
    assert_eq!(uses(&store), 0, "a voided use does not count");
    assert!(!store.cti_redeemed(&cti).unwrap(), "the code may be redone");

    let twice = store
        .void(&key, "sup-1", r.id, "again", UnixTime(T0 + 61), 300)
        .unwrap_err();
    assert!(
        matches!(
            twice,
            StoreError::Void {
                why: VoidRefusal::AlreadyVoided,
                ..
            }
        ),
        "{twice}"
    );

    // The clerk redoes it with the same code: allowed after the void.
    let again = store
        .append(
            &key,
            "op-1",
            UnixTime(T0 + 90),
            redemption(1, "XYX-BUS-TOPUP", 1, 0),
        )
        .unwrap();
    assert_eq!(uses(&store), 1);
    let late = store
        .void(
            &key,
            "sup-1",
            again.id,
            "too late",
            UnixTime(T0 + 90 + 301),
            300,
        )
        .unwrap_err();
    assert!(
        matches!(
            late,
            StoreError::Void {
                why: VoidRefusal::WindowPassed {
                    elapsed_s: 301,
                    window_s: 300
                },
                ..
            }
        ),
        "{late}"
    );
    assert!(late.to_string().contains("301 s ago"));
    assert_eq!(uses(&store), 1);

    let refused = store
        .append(&key, "op-1", UnixTime(T0), refusal(2))
        .unwrap();
    assert!(matches!(
        store.void(&key, "sup-1", refused.id, "x", UnixTime(T0 + 1), 300),
        Err(StoreError::Void {
            why: VoidRefusal::NotARedemption(_),
            ..
        })
    ));
    assert!(matches!(
        store.void(&key, "sup-1", [9; 16], "x", UnixTime(T0 + 1), 300),
        Err(StoreError::Void {
            why: VoidRefusal::NotFound,
            ..
        })
    ));
    assert!(matches!(
        store.void(&key, "sup-1", again.id, " ", UnixTime(T0 + 91), 300),
        Err(StoreError::Void {
            why: VoidRefusal::NoReason,
            ..
        })
    ));
    // Voids go through `void`, never straight into the journal.
    let forged = Body::Void {
        target: again.id,
        reason: "x".into(),
        supervisor: "sup-1".into(),
    };
    assert!(matches!(
        store.append(&key, "op-1", UnixTime(T0 + 92), forged),
        Err(StoreError::Invalid(_))
    ));
    // Nothing was deleted: 2 redemptions, 1 void, 1 refusal.
    assert_eq!(store.recent(100).unwrap().len(), 4);
    let totals = store
        .shift_totals(Some("op-1"), UnixTime(T0 - 1), UnixTime(T0 + DAY))
        .unwrap();
    assert_eq!(
        (
            totals.redemptions,
            totals.refusals,
            totals.discount,
            totals.payable
        ),
        (1, 1, 500, 500)
    );
    let all = store
        .shift_totals(None, UnixTime(T0 - 1), UnixTime(T0 + DAY))
        .unwrap();
    assert_eq!(all.voids, 1);
}

#[test]
fn a_dynamic_code_is_not_recorded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(dir.path())).unwrap();
    let key = terminal_key(5);
    store
        .append(
            &key,
            "op",
            UnixTime(T0),
            redemption(1, "XYX-BUS-TOPUP", 1, 0),
        )
        .unwrap();
    let err = store
        .append(
            &key,
            "op",
            UnixTime(T0 + 1),
            redemption(1, "XYX-BUS-TOPUP", 1, 0),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyRedeemed(_)), "{err}");
    assert_eq!(store.unsent_count().unwrap(), 1);
    // A printed card is reusable.
    for i in 0..2 {
        store
            .append(
                &key,
                "op",
                UnixTime(T0 + 10 + i),
                redemption(1, "XYX-BUS-TOPUP", 2, 1),
            )
            .unwrap();
    }
    // Bad bodies are clear errors, and nothing is written.
    let mut bad = redemption(1, "XYX-BUS-TOPUP", 3, 0);
    if let Body::Redemption { sub, .. } = &mut bad {
        *sub = "not a pseudonym".into();
    }
    assert!(matches!(
        store.append(&key, "op", UnixTime(T0), bad),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.append(&key, "", UnixTime(T0), refusal(1)),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.unsent_count().unwrap(), 3);
}

#[test]
fn purge_keeps_unsent_records_the_chain_head_and_a_year_of_uses() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(db_path(dir.path())).unwrap();
    let key = terminal_key(6);
    let measure = MeasureId::parse("XYX-BUS-TOPUP").unwrap();
    let cti = xinyi_core::Cti::new(vec![1; 12]).unwrap();
    let uses = |s: &Store| {
        s.uses_between(&sub(1), &measure, UnixTime(0), UnixTime(i64::MAX))
            .unwrap()
    };
    store
        .append(
            &key,
            "op",
            UnixTime(T0),
            redemption(1, "XYX-BUS-TOPUP", 1, 0),
        )
        .unwrap();
    store
        .append(&key, "op", UnixTime(T0 + 1), refusal(2))
        .unwrap();
    store
        .append(
            &key,
            "op",
            UnixTime(T0 + 2),
            redemption(1, "XYX-BUS-TOPUP", 2, 1),
        )
        .unwrap();
    hub_holds(&mut store, &key, 2, T0 + 10).unwrap();
    store
        .append(&key, "op", UnixTime(T0 + 3), refusal(3))
        .unwrap();
    assert!(store.cti_redeemed(&cti).unwrap());

    // Within retention: nothing goes.
    let report = store
        .purge(UnixTime(T0 + 30 * DAY), xinyi::store::DEFAULT_RETENTION_S)
        .unwrap();
    assert_eq!(report.records, 0);
    assert_eq!(
        report.seen_cti, 1,
        "the dynamic code's id is past its keep time"
    );
    assert!(!store.cti_redeemed(&cti).unwrap());

    // Past retention: only the uploaded ones go.
    let report = store
        .purge(UnixTime(T0 + 100 * DAY), xinyi::store::DEFAULT_RETENTION_S)
        .unwrap();
    assert_eq!(report.records, 2);
    let left: Vec<u64> = store.recent(10).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(left, [4, 3]);
    assert_eq!(store.unsent_count().unwrap(), 2);
    // The uses outlive the journal rows: limits still count them.
    assert_eq!(uses(&store), 2);

    // Everything uploaded: all but the last record go.
    hub_holds(&mut store, &key, 4, T0 + 100 * DAY).unwrap();
    let report = store
        .purge(UnixTime(T0 + 200 * DAY), xinyi::store::DEFAULT_RETENTION_S)
        .unwrap();
    assert_eq!(report.records, 1);
    let head = store.journal_head().unwrap();
    assert_eq!(head.0, 4);
    // The chain continues from the kept head.
    let next = store
        .append(&key, "op", UnixTime(T0 + 200 * DAY), refusal(4))
        .unwrap();
    assert_eq!((next.seq, next.record.prev), (5, head.1));

    // After 400 days the uses go too.
    assert_eq!(uses(&store), 2);
    let report = store
        .purge(UnixTime(T0 + 401 * DAY), xinyi::store::DEFAULT_RETENTION_S)
        .unwrap();
    assert_eq!(report.uses, 2);
    assert_eq!(uses(&store), 0);
    assert!(store.purge(UnixTime(T0), -1).is_err());
}

#[test]
fn wipe_removes_lists_and_trust_but_keeps_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let mut store = store_at_v1(dir.path(), &reg);
    let key = terminal_key(1);
    store.append(&key, "op", UnixTime(T0), refusal(1)).unwrap();
    let kid = trust_list(&vectors())[0].kid;
    assert!(store.trusted_key(&kid).unwrap().is_some());
    store.wipe_eligibility().unwrap();
    assert!(store.trusted_key(&kid).unwrap().is_none());
    assert!(store.listings_of(&sub(1)).unwrap().is_empty());
    assert!(store.exclusions_of(&sub(4)).unwrap().is_empty());
    assert_eq!(store.data_state().unwrap(), None);
    assert_eq!(store.site_context().unwrap().data_as_of, None);
    assert_eq!(store.unsent_count().unwrap(), 1);
    // A fresh snapshot is accepted again after re-enrollment.
    let items = v1_items();
    let raw = snapshot(3, &items);
    let meta = reg.meta(3, &items, Some((0, &raw)), T0 + DAY);
    store
        .apply(&meta, reg.config(), Some(&raw), UnixTime(T0 + DAY))
        .unwrap();
    assert_eq!(store.listings_of(&sub(1)).unwrap().len(), 2);
}

#[test]
fn a_record_is_readable_after_the_store_is_dropped_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let key = terminal_key(8);
    let entry = {
        let mut store = Store::open(db_path(dir.path())).unwrap();
        store
            .append(
                &key,
                "op",
                UnixTime(T0),
                redemption(1, "XYX-BUS-TOPUP", 1, 0),
            )
            .unwrap()
    };
    let store = Store::open(db_path(dir.path())).unwrap();
    let back = store.entry(&entry.id).unwrap().unwrap();
    assert_eq!(back, entry);
    assert_eq!(
        store.unsent(10).unwrap(),
        std::slice::from_ref(&entry.signed)
    );
    assert!(
        store
            .cti_redeemed(&xinyi_core::Cti::new(vec![1; 12]).unwrap())
            .unwrap()
    );
}

const CHILD_DB: &str = "XINYI_STORE_TEST_CHILD_DB";

/// The full name of `child_appends_then_aborts` as the test harness knows
/// it: its module path without the binary's crate name.
fn child_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    if module.is_empty() {
        "child_appends_then_aborts".to_owned()
    } else {
        format!("{module}::child_appends_then_aborts")
    }
}

/// Run as a child process by the next test: appends one redemption and
/// dies at once, without dropping the store or checkpointing the WAL.
/// In a normal test run (no environment variable) it does nothing.
#[test]
fn child_appends_then_aborts() {
    let Some(path) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let mut store = Store::open(&path).unwrap();
    let e = store
        .append(
            &terminal_key(9),
            "op",
            UnixTime(T0),
            redemption(1, "XYX-BUS-TOPUP", 1, 0),
        )
        .unwrap();
    println!("appended {}", e.seq);
    std::process::abort();
}

#[test]
fn a_killed_process_loses_no_committed_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &child_test_name(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child should have aborted");
    let store = Store::open(&path).unwrap();
    let recent = store.recent(10).unwrap();
    assert_eq!(recent.len(), 1, "the committed record was lost");
    recent[0]
        .signed
        .open(&terminal_key(9).verifying_key())
        .unwrap();
    assert_eq!(store.unsent_count().unwrap(), 1);
}

/// `design.md`, "Privacy": terminals hold pseudonyms, masked names,
/// category codes and dates — never ID numbers or full names of persons.
#[test]
fn no_id_number_or_full_name_reaches_the_disk() {
    let v = vectors();
    let key = k_pseudo(&v);
    let registry = registry(&v);
    let set = registry.eligibility(&key);
    let items = items_of(&set);
    let raw = snapshot(1, &items);
    let scenarios = v["scenarios"].as_array().unwrap();
    let all_measures: Vec<&str> = {
        let mut m: Vec<&str> = scenarios
            .iter()
            .flat_map(|s| s["site"].as_array().unwrap())
            .map(|m| m.as_str().unwrap())
            .collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let reg = TestRegistry::of_vectors(&v, vec![site("all", &all_measures)]);
    let meta = reg.meta(1, &items, Some((0, &raw)), T0 - 60);
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let mut store = Store::open(&path).unwrap();
    let terminal = terminal_key(10);
    enroll(&mut store, &terminal, "all", &reg);
    store
        .apply(&meta, reg.config(), Some(&raw), UnixTime(T0 - 60))
        .unwrap();
    let ctx = store.site_context().unwrap();
    let (mut ok, mut refused) = (0, 0);
    for step in scenarios
        .iter()
        .flat_map(|s| s["steps"].as_array().unwrap())
    {
        let at = UnixTime(step["at"].as_i64().unwrap());
        let measure = MeasureId::parse(step["measure"].as_str().unwrap()).unwrap();
        let verdict = decide(
            &ctx.context(DEFAULT_SKEW_S),
            &store,
            &store,
            step["qr"].as_str().unwrap(),
            &measure,
            at,
        )
        .unwrap();
        match verdict {
            Verdict::Ok(a) => {
                let amounts = a.amounts(Fen(1000), 0).unwrap_or_default();
                store
                    .redeem(&terminal, "op-1", at, &a, &amounts, OFFLINE)
                    .unwrap();
                ok += 1;
            }
            Verdict::Refused(r) => {
                store
                    .record_refusal(&terminal, "op-1", at, &measure, &r, Basis::Offline)
                    .unwrap();
                refused += 1;
            }
        }
    }
    assert!(
        ok > 5 && refused > 5,
        "{ok} redemptions, {refused} refusals"
    );

    // What must never be on disk: every ID number, every person's name.
    let mut secrets: Vec<String> = registry
        .listings()
        .map(|l| l.key.id_number.clone())
        .chain(registry.exclusions().map(|e| e.id_number.clone()))
        .collect();
    secrets.extend(
        registry
            .listings()
            .filter(|l| l.key.kind == Kind::Person)
            .map(|l| l.name.clone()),
    );
    assert!(secrets.len() > 20);
    // What must be there, so the scan reads the right bytes.
    let person = set
        .listings()
        .find(|l| l.kind == Kind::Person)
        .unwrap()
        .clone();
    let expected: Vec<String> = vec![person.sub.to_string(), person.display_name.clone()];

    let scan = |files: &[std::path::PathBuf]| {
        let mut all = Vec::new();
        for f in files {
            if let Ok(bytes) = std::fs::read(f) {
                all.extend(bytes);
            }
        }
        for s in &secrets {
            assert!(
                !contains(&all, s.as_bytes()),
                "{s} is in the database files"
            );
        }
        for s in &expected {
            assert!(
                contains(&all, s.as_bytes()),
                "{s} is not found: wrong files?"
            );
        }
    };
    let wal = path.with_extension("db-wal");
    assert!(wal.exists(), "the WAL is in use while the store is open");
    scan(&[path.clone(), wal.clone()]);
    drop(store);
    scan(&[path.clone(), wal]);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn verifier_data_reads_what_was_applied() {
    let dir = tempfile::tempdir().unwrap();
    let reg = synthetic_registry();
    let store = store_at_v1(dir.path(), &reg);
    let v = vectors();
    for k in trust_list(&v) {
        assert_eq!(store.trusted_key(&k.kid).unwrap(), Some(k));
    }
    for c in revoked_cards(&v) {
        assert!(store.card_revoked(&c).unwrap());
    }
    assert!(
        !store
            .card_revoked(&xinyi_core::Cti::new(vec![0; 8]).unwrap())
            .unwrap()
    );
    let l = store.listings_of(&sub(3)).unwrap();
    assert_eq!(l, [listing(3, "E02", "2025-06-01", "2027-06-01", false)]);
    assert_eq!(l[0].kind, Kind::Enterprise);
    assert!(
        store
            .listings_of(&SubjectId::parse("AAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.exclusions_of(&sub(4)).unwrap(),
        [exclusion(4, "2025-09-01", "2028-09-01")]
    );
}
