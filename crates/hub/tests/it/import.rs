//! Imports (list-standard.md): the shared vectors' lists give the
//! vectors' pseudonyms; a bad file is rejected whole with every bad row
//! named and nothing changed; re-importing changes and publishes nothing;
//! what is published holds no ID number and no full person name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeSet;

use common::*;
use xinyi_core::wire::eligibility::{ArtefactKind, Item};
use xinyi_hub::{Hub, HubError};

/// The rows of a shared vectors CSV file, header left out.
fn rows(file: &str) -> Vec<Vec<String>> {
    String::from_utf8(shared(file))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// Listings of the vectors' people that the file adds and never withdraws.
fn people_in_force() -> Vec<Vec<String>> {
    let all = rows("vectors/listings.csv");
    let withdrawn: BTreeSet<String> = all
        .iter()
        .filter(|r| r.get(9).map(String::as_str) == Some("withdraw"))
        .map(|r| r[1].clone())
        .collect();
    all.into_iter()
        .filter(|r| r[0] == "person" && !withdrawn.contains(&r[1]))
        .collect()
}

/// A listing row in the standard's columns with `action`.
fn listing_row(r: &[String], action: &str) -> String {
    format!(
        "kind,id_number,name,category,honour,source,recognised_on,valid_until,extension_ref,action\n\
         {},{},{},{},{},{},{},,,{action}\n",
        r[0], r[1], r[2], r[3], r[4], r[5], r[6]
    )
}

/// A person's display name keeps the first and last character of the name.
fn masked_like(display: &str, name: &str) {
    let (first, last) = (name.chars().next(), name.chars().last());
    assert!(
        display.contains('*') && display.chars().next() == first && display.chars().last() == last,
        "{display} does not mask {name}"
    );
}

/// list-standard.md "Whose records" + credential.md "Subject pseudonym":
/// the published pseudonyms are HMAC(K_pseudo, kind:id), as the vectors say.
#[test]
fn vectors_import_gives_the_vectors_pseudonyms() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let r = hub
        .import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    assert_eq!(r.summary.added, 16);
    assert_eq!(
        r.summary.withdrawn, 0,
        "added and withdrawn in one file is one withdrawn listing"
    );
    assert!(r.published.new_version);
    let x = hub
        .import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    assert_eq!(x.summary.added, rows("vectors/exclusions.csv").len());

    let expected = credentials()["pseudonyms"].clone();
    let expected = expected.as_object().unwrap();
    let held = hub.listings().unwrap();
    assert_eq!(held.len(), 16);
    for l in &held {
        assert_eq!(
            Some(l.sub.as_str()),
            expected[&l.id_number].as_str(),
            "pseudonym of {}",
            l.id_number
        );
    }
    let withdrawn: Vec<_> = held.iter().filter(|l| l.withdrawn).collect();
    assert_eq!(withdrawn.len(), 1);
    let in_file = rows("vectors/listings.csv")
        .into_iter()
        .find(|r| r.get(9).map(String::as_str) == Some("withdraw"))
        .unwrap();
    assert_eq!(withdrawn[0].id_number, in_file[1]);
    masked_like(&withdrawn[0].display_name, &in_file[2]);

    // The published snapshot carries exactly those pseudonyms.
    let info = hub.current_version().unwrap().unwrap();
    assert_eq!((info.listings, info.exclusions), (16, 2));
    let snap = hub.eligibility_for(0).unwrap().unwrap();
    assert_eq!(snap.from, 0);
    let raw = inflate(&hub.artefact(&snap.artefact.sha256).unwrap().unwrap());
    assert_eq!(raw.len() as u64, snap.raw_length);
    let (header, items) = items(&raw);
    assert_eq!(header.kind, ArtefactKind::Snapshot);
    assert_eq!(header.to, info.version);
    let subs: BTreeSet<String> = items
        .iter()
        .filter_map(|i| match i {
            Item::Listing(l) => Some(l.sub.to_string()),
            _ => None,
        })
        .collect();
    let want: BTreeSet<String> = expected
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(subs, want);
    let mut set = Set::default();
    set.apply(&items);
    assert_eq!(set.hash(), info.set_hash);
}

/// list-standard.md "Bad input": rejected whole, every bad row named
/// (bad-listings.expected.json), nothing imported, no version published.
#[test]
fn bad_listings_are_rejected_whole() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    let before_versions = hub.versions().unwrap();
    let before = hub.listings().unwrap();

    let err = hub
        .import_listings(&shared("vectors/bad-listings.csv"))
        .unwrap_err();
    let HubError::Rejected(report) = err else {
        panic!("expected a rejection, got {err}");
    };
    let expected: serde_json::Value =
        serde_json::from_slice(&shared("vectors/bad-listings.expected.json")).unwrap();
    for e in expected["errors"].as_array().unwrap() {
        let line = e["line"].as_u64().unwrap() as usize;
        let column = e["column"].as_str();
        assert!(
            report
                .errors
                .iter()
                .any(|r| r.line == line && r.column.as_deref() == column),
            "line {line} column {column:?} missing from:\n{report}"
        );
    }
    assert!(report.errors.iter().all(|e| e.line != 2), "line 2 is good");
    assert_eq!(hub.listings().unwrap(), before);
    assert_eq!(hub.versions().unwrap(), before_versions);
}

/// list-standard.md: "importing the same row twice changes nothing" —
/// and publishes no new version.
#[test]
fn reimport_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let first = hub
        .import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    hub.import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    let version = hub.current_version().unwrap().unwrap();
    let held = hub.listings().unwrap();

    let again = hub
        .import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    assert!(!again.published.new_version);
    assert_eq!(again.published.version, version.version);
    assert_eq!(again.summary.unchanged, 16);
    assert_eq!(
        again.summary.added + again.summary.updated + again.summary.withdrawn,
        0
    );
    let x = hub
        .import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    assert_eq!(
        (x.summary.added, x.summary.unchanged),
        (0, rows("vectors/exclusions.csv").len())
    );
    assert!(!x.published.new_version);
    assert_eq!(hub.current_version().unwrap().unwrap(), version);
    assert_eq!(hub.listings().unwrap(), held);
    assert!(first.published.version < version.version);
    // An explicit publish with nothing changed publishes nothing either.
    assert!(!hub.publish(false).unwrap().new_version);
    assert!(hub.publish(true).unwrap().new_version);
}

/// A change private to the registry (the honour text) is stored but does
/// not publish: terminals see nothing new.
#[test]
fn private_changes_do_not_publish() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let csv = listing_row(&people_in_force()[0], "add");
    let v = hub
        .import_listings(csv.as_bytes())
        .unwrap()
        .published
        .version;
    let honour = &people_in_force()[0][4];
    let changed = csv.replace(honour.as_str(), &format!("{honour}（更正）"));
    let r = hub.import_listings(changed.as_bytes()).unwrap();
    assert_eq!(r.summary.updated, 1);
    assert_eq!(r.published.version, v);
    assert!(!r.published.new_version);
    assert_eq!(hub.listings().unwrap()[0].changed_in, v as i64);
}

/// design.md "Privacy": nothing published holds an ID number or the full
/// name of a person.
#[test]
fn published_data_holds_no_identities() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    hub.import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    let held = hub.listings().unwrap();
    let mut published: Vec<Vec<u8>> = Vec::new();
    let info = hub.current_version().unwrap().unwrap();
    published.push(hub.artefact(&info.config.sha256).unwrap().unwrap());
    let snap = hub.eligibility_for(0).unwrap().unwrap();
    let compressed = hub.artefact(&snap.artefact.sha256).unwrap().unwrap();
    published.push(inflate(&compressed));
    published.push(compressed);
    // A delta too, after a withdrawal.
    let wd = listing_row(&people_in_force()[0], "withdraw");
    hub.import_listings(wd.as_bytes()).unwrap();
    let delta = hub.eligibility_for(info.version).unwrap().unwrap();
    assert_eq!(delta.from, info.version);
    published.push(inflate(
        &hub.artefact(&delta.artefact.sha256).unwrap().unwrap(),
    ));
    for bytes in &published {
        let text = String::from_utf8_lossy(bytes);
        for l in &held {
            assert!(
                !text.contains(&l.id_number),
                "ID number {} published",
                l.id_number
            );
            if l.kind == "person" {
                assert!(!text.contains(&l.name), "name {} published", l.name);
            }
        }
        for x in rows("vectors/exclusions.csv") {
            let id = &x[1];
            assert!(!text.contains(id), "excluded subject's ID {id} published");
        }
    }
    // Enterprise names are public and do appear.
    let snapshot = String::from_utf8_lossy(&published[1]).into_owned();
    let enterprise = rows("vectors/listings.csv")
        .into_iter()
        .find(|r| r[0] == "enterprise")
        .unwrap();
    assert!(snapshot.contains(&enterprise[2]), "{}", enterprise[2]);
}

/// Withdrawing an exclusion (credit repair) publishes a delta with just
/// that exclusion, now ending today, and applying it to the previous set
/// gives the new set hash; the same withdrawal again changes nothing.
#[test]
fn a_withdrawn_exclusion_publishes_a_small_delta() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    hub.import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    let before = hub.current_version().unwrap().unwrap();
    let snap = hub.eligibility_for(0).unwrap().unwrap();
    let (_, items0) = items(&inflate(
        &hub.artefact(&snap.artefact.sha256).unwrap().unwrap(),
    ));
    let mut set = Set::default();
    set.apply(&items0);
    assert_eq!(set.hash(), before.set_hash);

    let id_number = &rows("vectors/exclusions.csv")[0][1];
    let (withdraw, n) = xinyi_testkit::exclusion_withdrawal_of(id_number);
    let r = hub.import_exclusions(withdraw.as_bytes()).unwrap();
    assert_eq!(r.summary.withdrawn, n);
    let after = hub.current_version().unwrap().unwrap();
    assert_eq!(after.version, before.version + 1);
    let delta = hub.eligibility_for(before.version).unwrap().unwrap();
    let (header, items1) = items(&inflate(
        &hub.artefact(&delta.artefact.sha256).unwrap().unwrap(),
    ));
    assert_eq!(header.kind, ArtefactKind::Delta);
    assert_eq!(items1.len(), n, "{items1:?}");
    let today = hub.now().date_utc8();
    for item in &items1 {
        let Item::Exclusion(x) = item else {
            panic!("expected an exclusion, got {item:?}")
        };
        assert!(x.until <= today, "{x:?} still applies after today");
        assert!(!x.applies_on(today));
    }
    set.apply(&items1);
    assert_eq!(set.hash(), after.set_hash);

    let again = hub.import_exclusions(withdraw.as_bytes()).unwrap();
    assert_eq!((again.summary.withdrawn, again.summary.unchanged), (0, n));
    assert!(!again.published.new_version);
}

/// Withdrawing publishes a delta with just that listing, and applying it
/// to the previous set gives the new set hash.
#[test]
fn withdraw_publishes_a_small_delta() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    let before = hub.current_version().unwrap().unwrap();
    let snap = hub.eligibility_for(before.version).unwrap();
    assert!(snap.is_none(), "up to date: no artefact");
    let snap = hub.eligibility_for(0).unwrap().unwrap();
    let (_, items0) = items(&inflate(
        &hub.artefact(&snap.artefact.sha256).unwrap().unwrap(),
    ));
    let mut set = Set::default();
    set.apply(&items0);
    assert_eq!(set.hash(), before.set_hash);

    let person = people_in_force()[1].clone();
    let wd = listing_row(&person, "withdraw");
    let r = hub.import_listings(wd.as_bytes()).unwrap();
    assert_eq!(r.summary.withdrawn, 1);
    let after = hub.current_version().unwrap().unwrap();
    assert_eq!(after.version, before.version + 1);
    let delta = hub.eligibility_for(before.version).unwrap().unwrap();
    let (header, items1) = items(&inflate(
        &hub.artefact(&delta.artefact.sha256).unwrap().unwrap(),
    ));
    assert_eq!(header.kind, ArtefactKind::Delta);
    assert_eq!((header.from, header.to), (before.version, after.version));
    assert_eq!(items1.len(), 1);
    let Item::Listing(l) = &items1[0] else {
        panic!("expected a listing")
    };
    assert!(l.withdrawn);
    masked_like(&l.display_name, &person[2]);
    set.apply(&items1);
    assert_eq!(set.hash(), after.set_hash);
    // A version this hub never published gets a snapshot.
    assert_eq!(
        hub.eligibility_for(after.version + 5)
            .unwrap()
            .unwrap()
            .from,
        0
    );
}

#[test]
fn exclusions_reject_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    // A vectors ID with its check character changed.
    let x = &rows("vectors/exclusions.csv")[0];
    let mut id: Vec<char> = x[1].chars().collect();
    let check = id.pop().unwrap();
    id.push(if check == '0' { '1' } else { '0' });
    let id: String = id.into_iter().collect();
    let bad = format!("kind,id_number,reason,recorded_on\nperson,{id},失信,2025-01-01\n");
    let Err(HubError::Rejected(report)) = hub.import_exclusions(bad.as_bytes()) else {
        panic!("accepted a bad exclusion");
    };
    assert_eq!(report.errors[0].column.as_deref(), Some("id_number"));
}

#[test]
fn open_and_init_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let e = Hub::open(&missing).unwrap_err().to_string();
    assert!(e.contains("xinyi-hub init --data-dir"), "{e}");
    let _hub = hub(dir.path());
    let e = Hub::init(dir.path(), Default::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");
    // A bad settings file is refused, naming the key.
    std::fs::write(dir.path().join("hub.toml"), "request_skew = 5\n").unwrap();
    let e = Hub::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("request_skew"), "{e}");
    std::fs::write(dir.path().join("hub.toml"), "listen = \"here\"\n").unwrap();
    let e = Hub::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("`listen`"), "{e}");
}

/// Sites may only name measures of the catalogue, and a catalogue may not
/// drop a measure a site applies (terminals would refuse the config).
#[test]
fn sites_and_catalogue_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let e = hub
        .add_site(&xinyi_hub::SiteSpec {
            id: "lib-1".into(),
            name: "图书馆".into(),
            unit: "阳江市图书馆".into(),
            measures: vec!["NO-SUCH".into()],
            max_offline_hours: None,
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("NO-SUCH"), "{e}");
    let shrunk = catalogue().replace("XYX-BUS-TOPUP", "XYX-BUS-TOPUP-2");
    let e = hub.publish_catalogue(&shrunk).unwrap_err().to_string();
    assert!(e.contains("bus-1"), "{e}");
    // Re-publishing the same catalogue publishes nothing.
    assert!(!hub.publish_catalogue(&catalogue()).unwrap().new_version);
    let config = hub.current_config().unwrap().unwrap();
    assert_eq!(config.trust.len(), 4);
    assert_eq!(config.sites.len(), 1);
    xinyi_core::wire::config::Config::parse(&config.to_bytes()).unwrap();
}

/// The hub's published set equals the core's reference registry
/// (`xinyi_core::listing::Registry::eligibility`) for the same lists: the
/// SQLite importer and the in-memory rules agree.
#[test]
fn demo_hub_matches_the_reference_registry() {
    let dir = tempfile::tempdir().unwrap();
    let today = xinyi_core::Date::new(2026, 3, 10).unwrap();
    let (hub, world) = xinyi_demo::seed::demo_hub(dir.path(), today).unwrap();
    let mut reference = xinyi_core::wire::eligibility::SetHash::new();
    let set = world.registry.eligibility(&world.k_pseudo);
    for l in set.listings() {
        reference.add(&Item::Listing(l.clone()));
    }
    for x in set.exclusions() {
        reference.add(&Item::Exclusion(x.clone()));
    }
    let info = hub.current_version().unwrap().unwrap();
    assert_eq!(info.set_hash, reference.digest());
    assert_eq!(info.listings, set.listings().count() as u64);
    let config = hub.current_config().unwrap().unwrap();
    let parsed = xinyi_core::wire::config::Config::parse(&config.to_bytes()).unwrap();
    let mut trust = world.trust_list();
    trust.sort_by_key(|k| k.kid);
    assert_eq!(parsed.trust, trust);
    assert_eq!(parsed.revoked_cards, world.revoked_cards);
    assert_eq!(parsed.sites.len(), xinyi_demo::seed::DEMO_SITES.len());
}

/// A catalogue that withdraws a measure names how many listed subjects it
/// affects: those with a listing in force today that the measure covers,
/// counted once each.
#[test]
fn a_withdrawn_measure_names_how_many_it_affects() {
    let v = credentials();
    let day = xinyi_testkit::import_day(&v);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).with_clock(std::sync::Arc::new(xinyi_hub::ManualClock::new(
        xinyi_testkit::first_at(&v),
    )));
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    let registry = xinyi_testkit::registry(&v);
    let held = hub.catalogue().unwrap().unwrap();
    let affected = |m: &xinyi_core::Measure| -> usize {
        registry
            .listings()
            .filter(|l| {
                !l.withdrawn
                    && l.key.recognised_on <= day
                    && l.valid_until >= day
                    && m.covers(l.key.kind, l.key.category)
            })
            .map(|l| (l.key.kind, l.key.id_number.clone()))
            .collect::<BTreeSet<_>>()
            .len()
    };
    let (measure, expected) = held
        .measures()
        .iter()
        .filter(|m| m.withdrawn_on.is_none())
        .map(|m| (m.id.clone(), affected(m)))
        .max_by_key(|(_, n)| *n)
        .unwrap();
    assert!(expected > 0, "no measure covers anyone listed today");

    // Nothing withdrawn: nothing to warn about.
    assert!(hub.withdrawals_in(&held).unwrap().is_empty());
    let on = day.add_days(1);
    let text = String::from_utf8(shared("data/measures.toml")).unwrap();
    let line = format!("id = \"{measure}\"");
    assert!(text.contains(&line), "{line}");
    let next = text.replacen(&line, &format!("{line}\nwithdrawn_on = \"{on}\""), 1);
    let next = xinyi_core::Catalogue::from_toml(&next).unwrap();
    let w = hub.withdrawals_in(&next).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!((&w[0].measure, w[0].on), (&measure, on));
    assert_eq!(w[0].holders, expected as u64);
}

/// A site's online check deadline and holder check reach terminals in the
/// signed config; a deadline past the bound is refused, naming it.
#[test]
fn a_sites_online_deadline_and_holder_check_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let site = |ms: Option<u32>, no_holder_check: bool| xinyi_hub::SiteSpec {
        id: "bus-2".into(),
        name: "江城公交充值点二".into(),
        unit: "阳江市公共交通有限公司".into(),
        measures: vec![MEASURE.into()],
        online_deadline_ms: ms,
        no_holder_check,
        ..Default::default()
    };
    let e = hub
        .add_site(&site(Some(2001), false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("online check deadline"), "{e}");
    hub.add_site(&site(Some(150), true)).unwrap();
    let config = hub.current_config().unwrap().unwrap();
    let published = config.sites.iter().find(|s| s.id == "bus-2").unwrap();
    assert_eq!(
        (published.online_deadline_ms, published.check_holder),
        (150, false)
    );
    let default = config.sites.iter().find(|s| s.id == SITE).unwrap();
    assert_eq!(
        (default.online_deadline_ms, default.check_holder),
        (xinyi_core::wire::config::DEFAULT_ONLINE_DEADLINE_MS, true)
    );
}

/// A resident ID number (GB 11643) of a made-up person `i` born in the
/// place of the vectors' `id_number`: its first six digits, a birth date
/// and sequence from `i`, and the MOD 11-2 check character.
fn made_up_id_number(id_number: &str, i: usize) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let body = format!(
        "{}19{:02}{:02}{:02}{:03}",
        &id_number[..6],
        50 + i / 336 % 40,
        1 + i / 28 % 12,
        1 + i % 28,
        100 + i % 900
    );
    let sum: u32 = body
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize])
}

/// A listings file of made-up people `ids`, each row shaped like the
/// vectors' first person's; `row(i)` gives the honour and action of `i`.
fn made_up_list(
    ids: std::ops::Range<usize>,
    row: impl Fn(usize) -> (String, &'static str),
) -> String {
    let template = &people_in_force()[0];
    let mut out = String::new();
    for i in ids {
        let mut r = template.clone();
        r[1] = made_up_id_number(&template[1], i);
        let (honour, action) = row(i);
        r[4] = honour;
        let line = listing_row(&r, action);
        if out.is_empty() {
            out.push_str(&line);
        } else {
            out.push_str(line.lines().nth(1).unwrap());
            out.push('\n');
        }
    }
    out
}

/// Imports of more listings than are looked up or written in one
/// statement: a first file adds them all; a second changes every third,
/// withdraws every fifth (as held) and adds more; each listing held is
/// then as the last file says, every row counted once, and the second
/// file again changes nothing.
#[test]
fn a_large_import_counts_and_stores_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    let honour = people_in_force()[0][4].clone();
    let n = 700;
    let first = hub
        .import_listings(made_up_list(0..n, |_| (honour.clone(), "add")).as_bytes())
        .unwrap();
    assert_eq!(first.summary.added, n);
    assert!(first.published.new_version);

    let changed = |i: usize| i.is_multiple_of(3);
    let withdrawn = |i: usize| i % 5 == 1;
    let second_file = made_up_list(0..n + 150, |i| {
        let h = if changed(i) {
            format!("{honour}（复评）")
        } else {
            honour.clone()
        };
        (
            h,
            if withdrawn(i) && i < n {
                "withdraw"
            } else {
                "add"
            },
        )
    });
    let second = hub.import_listings(second_file.as_bytes()).unwrap();
    let old = 0..n;
    let count = |f: &dyn Fn(usize) -> bool| old.clone().filter(|&i| f(i)).count();
    assert_eq!(second.summary.added, 150);
    assert_eq!(second.summary.withdrawn, count(&|i| withdrawn(i)));
    assert_eq!(
        second.summary.updated,
        count(&|i| changed(i) && !withdrawn(i))
    );
    assert_eq!(
        second.summary.unchanged,
        count(&|i| !changed(i) && !withdrawn(i))
    );

    let held = hub.listings().unwrap();
    assert_eq!(held.len(), n + 150);
    let template = &people_in_force()[0];
    for i in 0..n + 150 {
        let id = made_up_id_number(&template[1], i);
        let l = held.iter().find(|l| l.id_number == id).unwrap();
        let withdrawn_now = withdrawn(i) && i < n;
        assert_eq!(l.withdrawn, withdrawn_now, "listing {i}");
        // A withdrawal ends the listing as it was held.
        assert_eq!(
            l.honour.ends_with("（复评）"),
            changed(i) && !withdrawn_now,
            "listing {i}"
        );
        assert_eq!(l.name, template[2], "listing {i}");
    }

    let version = hub.current_version().unwrap().unwrap();
    let again = hub.import_listings(second_file.as_bytes()).unwrap();
    assert_eq!(again.summary.unchanged, n + 150);
    assert!(!again.published.new_version);
    assert_eq!(hub.current_version().unwrap().unwrap(), version);
}

/// A publication stores the delta from the version before it, so the
/// terminals holding that version (nearly all of them) find it ready;
/// theirs is the artefact it stored.
#[test]
fn a_publication_stores_the_delta_terminals_will_ask_for() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path());
    with_lists(&hub);
    let before = hub.current_version().unwrap().unwrap().version;
    let (withdrawal, _) = xinyi_testkit::withdrawal_of(&xinyi_testkit::first_listed_id_number());
    let published = hub
        .import_listings(withdrawal.as_bytes())
        .unwrap()
        .published;
    assert!(published.new_version);
    let stored = |from: u64| {
        count_behind_the_back(
            dir.path(),
            &format!(
                "SELECT COUNT(*) FROM eligibility_artefacts
                 WHERE from_version = {from} AND to_version = {}",
                published.version
            ),
        )
    };
    assert_eq!(stored(before), 1, "no delta stored by the publication");
    let asked = hub.eligibility_for(before).unwrap().unwrap();
    assert_eq!(asked.from, before);
    assert_eq!(stored(before), 1);
    assert_eq!(
        count_behind_the_back(
            dir.path(),
            &format!(
                "SELECT COUNT(*) FROM artefacts WHERE sha256 = '{}'",
                asked.artefact.sha256.to_hex()
            ),
        ),
        1
    );
}
