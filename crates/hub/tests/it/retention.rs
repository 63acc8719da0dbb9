//! Retention (`hub.toml`: `listing_identity_retention_days`,
//! `exclusion_identity_retention_days`, `record_retention_days`): on a
//! hand-set clock, a listing's ID number and name are erased the set
//! number of days after it ended or was withdrawn, an exclusion's after it
//! ended, while the pseudonymous rows terminals know stay as they were;
//! records older than the limit are deleted except each terminal's newest
//! and the staff records of its current operators, and the terminal
//! carries on uploading. `xinyi-hub retention` prints what it erased and
//! follows the settings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use common::*;
use xinyi_core::{Date, UnixTime};
use xinyi_hub::{Clock as _, HeldExclusion, HeldListing, Hub, ManualClock};

const DAY: i64 = 86_400;

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

/// The day a listing stopped counting: the day after its validity, or
/// the day it was withdrawn if that came first.
fn ended(l: &HeldListing) -> Date {
    let after = date(&l.valid_until).add_days(1);
    match &l.withdrawn_on {
        Some(w) => date(w).min(after),
        None => after,
    }
}

/// Whether the rule says `l`'s identity is gone on `today`.
fn listing_due(l: &HeldListing, today: Date, days: u32) -> bool {
    ended(l).add_days(i64::from(days)) <= today
}

fn exclusion_due(x: &HeldExclusion, today: Date, days: u32) -> bool {
    date(&x.until).add_days(i64::from(days)) <= today
}

/// The listing held now in the place of `l`.
fn now_held<'a>(held: &'a [HeldListing], l: &HeldListing) -> &'a HeldListing {
    held.iter()
        .find(|h| h.sub == l.sub && h.category == l.category && h.recognised_on == l.recognised_on)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_identities_and_old_records_go_and_uploads_carry_on() {
    // After every recognition day in the vectors.
    let t0 = UnixTime(Date::new(2025, 10, 1).unwrap().start_utc8().0 + 12 * 3600);
    let clock = Arc::new(ManualClock::new(t0));
    let tmp = tempfile::tempdir().unwrap();
    let (hub, server) = served_at(tmp.path(), Arc::clone(&clock)).await;
    let c = hub.config().clone();
    assert_eq!(
        (
            c.listing_identity_retention_days,
            c.exclusion_identity_retention_days,
            c.record_retention_days
        ),
        (730, 730, 1825),
        "the documented defaults"
    );

    // A terminal's journal at t0: its roster, then three redemptions.
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &server.url());
    t.clock = Some(Arc::clone(&clock));
    t.enroll(&code.code).await;
    let sub = hub.listings().unwrap()[0].sub.clone();
    let mut old = t.roster(t0.0);
    for fen in [1000, 2000, 3000] {
        old.push(t.redemption(t0.0, &sub, fen).1);
    }
    assert_eq!(t.upload(&old).await.held_through, 5);

    let listings = hub.listings().unwrap();
    let exclusions = hub.exclusions().unwrap();
    assert!(listings.iter().all(|l| !l.identity_erased));
    let mut erased_before = (0usize, 0usize);
    for (when, some_but_not_all) in [
        (t0.0 + DAY, false),
        (t0.0 + 730 * DAY, true),
        (t0.0 + 1826 * DAY, false),
    ] {
        clock.set(UnixTime(when));
        let today = UnixTime(when).date_utc8();
        let r = hub.apply_retention().unwrap();
        let held = hub.listings().unwrap();
        for l in &listings {
            let h = now_held(&held, l);
            let due = listing_due(l, today, c.listing_identity_retention_days);
            assert_eq!(h.identity_erased, due, "{today}: {l:?}");
            if due {
                assert_eq!((h.id_number.as_str(), h.name.as_str()), ("", ""));
                // What terminals were sent stays, and nothing is
                // published again.
                assert_eq!(
                    (&h.display_name, &h.valid_until, h.withdrawn, h.changed_in),
                    (&l.display_name, &l.valid_until, l.withdrawn, l.changed_in)
                );
                // Found by ID number still, as a listing without identity.
                let s = hub.subject(&l.kind, &l.id_number).unwrap();
                assert!(
                    s.listings
                        .iter()
                        .any(|x| x.category == l.category && x.identity_erased),
                    "{s:?}"
                );
            } else {
                assert_eq!(h, l);
            }
        }
        let held_x = hub.exclusions().unwrap();
        for x in &exclusions {
            let h = held_x
                .iter()
                .find(|h| h.sub == x.sub && h.recorded_on == x.recorded_on)
                .unwrap();
            let due = exclusion_due(x, today, c.exclusion_identity_retention_days);
            assert_eq!(h.identity_erased, due, "{today}: {x:?}");
            assert_eq!(h.id_number.is_empty(), due);
            assert_eq!((&h.until, h.changed_in), (&x.until, x.changed_in));
        }
        let erased = (
            held.iter().filter(|l| l.identity_erased).count(),
            held_x.iter().filter(|x| x.identity_erased).count(),
        );
        assert_eq!(
            (
                r.listing_identities_erased as usize,
                r.exclusion_identities_erased as usize
            ),
            (erased.0 - erased_before.0, erased.1 - erased_before.1),
            "{today}: {r:?}"
        );
        if some_but_not_all {
            assert!(
                erased.0 > 0 && erased.0 < listings.len(),
                "{today}: {erased:?}"
            );
        }
        erased_before = erased;
        // No record is old enough before the last step.
        if when < t0.0 + 1825 * DAY {
            assert_eq!(r.records_deleted, 0);
        } else {
            // Seqs 3 and 4 go; the roster (1, 2) and the newest (5) stay.
            assert_eq!((r.records_deleted, r.terminals), (2, 1), "{r:?}");
        }
    }
    assert_eq!(erased_before, (listings.len(), exclusions.len()));

    let id = t.id.clone();
    let r = integrity_row(&hub, &id);
    assert_eq!(
        (r.records, r.held_through, r.max_seq, r.gaps, r.retired),
        (3, 5, 5, 0, 2),
        "{r:?}"
    );
    assert_eq!(hub.upload_status(&t.id).unwrap().held_through, 5);

    // The terminal carries on: its chain continues from the newest record,
    // its operator is still on its roster.
    let now = clock.now().0;
    let next = t.redemption(now, &sub, 4000).1;
    let receipt = t.upload(&[next]).await;
    assert_eq!((receipt.stored, receipt.held_through), (1, 6));
    assert!(hub.flagged_report().unwrap().is_empty());
    // A record resent from before the deletion counts as held.
    let receipt = t.upload(&[old[2].clone()]).await;
    assert_eq!(
        (receipt.stored, receipt.duplicates, receipt.held_through),
        (0, 1, 6)
    );
    // Once seq 5 is not the newest, it goes too.
    let r = hub.apply_retention().unwrap();
    assert_eq!(
        (
            r.records_deleted,
            r.listing_identities_erased,
            r.exclusion_identities_erased
        ),
        (1, 0, 0)
    );
    let r = integrity_row(&hub, &id);
    assert_eq!(
        (r.records, r.held_through, r.gaps, r.retired),
        (3, 6, 0, 3),
        "{r:?}"
    );
    let next = t.redemption(now + 60, &sub, 5000).1;
    let receipt = t.upload(&[next]).await;
    assert_eq!((receipt.stored, receipt.held_through), (1, 7));
    assert!(hub.flagged_report().unwrap().is_empty());
    server.stop().await.unwrap();
}

/// `xinyi-hub retention` applies the settings now and prints what it
/// erased; run again it finds nothing; a shorter setting in `hub.toml`
/// erases more.
#[test]
fn the_retention_command_says_what_it_erased() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let hub = hub(&dir);
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    hub.import_exclusions(&shared("vectors/exclusions.csv"))
        .unwrap();
    let today = hub.today();
    let listings = hub.listings().unwrap();
    let exclusions = hub.exclusions().unwrap();
    drop(hub);

    let said = ok(&cli(&dir, &["retention"]));
    let erased_l = listings
        .iter()
        .filter(|l| listing_due(l, today, 730))
        .count();
    let erased_x = exclusions
        .iter()
        .filter(|x| exclusion_due(x, today, 730))
        .count();
    for line in [
        format!("erased the ID numbers and names of {erased_l} listings"),
        format!("erased the ID numbers of {erased_x} exclusions"),
        "deleted 0 records".to_owned(),
    ] {
        assert!(said.contains(&line), "{said} should say {line:?}");
    }
    let hub = Hub::open(&dir).unwrap();
    assert_eq!(
        hub.listings()
            .unwrap()
            .iter()
            .filter(|l| l.identity_erased)
            .count(),
        erased_l
    );
    drop(hub);
    let said = ok(&cli(&dir, &["retention"]));
    assert!(
        said.contains("of 0 listings") && said.contains("of 0 exclusions"),
        "{said}"
    );

    // Withdrawn listings lose their identity at once with 0 days.
    let config = dir.join("hub.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("listing_identity_retention_days = 0\n");
    std::fs::write(&config, text).unwrap();
    let withdrawn = listings
        .iter()
        .filter(|l| l.withdrawn && !listing_due(l, today, 730))
        .count();
    assert!(withdrawn > 0);
    let said = ok(&cli(&dir, &["retention"]));
    let more = listings
        .iter()
        .filter(|l| listing_due(l, today, 0) && !listing_due(l, today, 730))
        .count();
    assert!(more >= withdrawn);
    assert!(said.contains(&format!("of {more} listings")), "{said}");
    // A bad value is named.
    std::fs::write(&config, "record_retention_days = 30\n").unwrap();
    let out = cli(&dir, &["retention"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("record_retention_days"), "{stderr}");
}
