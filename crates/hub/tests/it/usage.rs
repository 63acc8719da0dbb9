//! Published usage: the uses of a limited measure reach every terminal's
//! data as small deltas that the set hash proves; a void takes a use out,
//! an ended period is removed, and nothing is published when nothing
//! changed. Usage folded in for a version is not seen before that version
//! is published.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use common::*;
use xinyi_core::history::Basis;
use xinyi_core::wire::eligibility::{ArtefactKind, Item};
use xinyi_core::wire::journal::Body;
use xinyi_core::{MeasureId, UnixTime};
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, HubError, ManualClock};

/// A hub served on a hand-set clock, set to the vectors' first time.
async fn served_on_clock(dir: &std::path::Path) -> (Arc<Hub>, Server, Arc<ManualClock>, UnixTime) {
    let start = xinyi_testkit::first_at(&credentials());
    let clock = Arc::new(ManualClock::new(start));
    let (hub, server) = served_at(dir, clock.clone()).await;
    (hub, server, clock, start)
}

/// A counter enrolled at `hub`, its requests signed by `clock`.
async fn counter(hub: &Hub, server: &Server, clock: &Arc<ManualClock>) -> Terminal {
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(hub, &server.url());
    t.clock = Some(clock.clone());
    t.enroll(&code.code).await;
    t
}

/// The items of the artefact taking a terminal from `have` to the latest
/// version (a delta when `have` > 0).
fn artefact(hub: &Hub, have: u64) -> (ArtefactKind, Vec<Item>) {
    let r = hub.eligibility_for(have).unwrap().unwrap();
    let (h, items) = items(&inflate(
        &hub.artefact(&r.artefact.sha256).unwrap().unwrap(),
    ));
    (h.kind, items)
}

/// Usage folded in for the next version (a few thousand keys to a
/// transaction, before the publication's own) is not seen before that
/// version is published: an artefact not built yet is refused as not
/// ready meanwhile (503 with Retry-After over HTTP), one stored already
/// is still served, and once the version is published its snapshot
/// proves its set hash. Codes whose time ran out are removed the same
/// way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folded_usage_is_not_seen_before_its_version_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server, clock, start) = served_on_clock(dir.path()).await;
    let mut t = counter(&hub, &server, &clock).await;
    let sub = vector_subject();
    let v0 = hub.current_version().unwrap().unwrap();
    assert!(v0.version > 1, "the setup publishes more than one version");
    // What a terminal one version behind gets was stored at publication.
    let stored = hub.eligibility_for(v0.version - 1).unwrap().unwrap();

    let at = start.0 + 120;
    let mut batch = t.roster(at - 60);
    batch.push(t.redemption_checked(at, &sub, 1000, Some(Basis::Online)).1);
    clock.set(UnixTime(at + 60));
    t.upload(&batch).await;
    hub.fold_waiting_usage().unwrap();
    assert_eq!(hub.current_version().unwrap().unwrap().version, v0.version);

    // Mid-publication: the snapshot would hold the folded usage, which
    // v0's set hash does not; it is refused, the stored delta is not.
    assert!(
        matches!(hub.eligibility_for(0), Err(HubError::Publishing)),
        "a snapshot built mid-publication"
    );
    assert_eq!(
        hub.eligibility_for(v0.version - 1).unwrap().unwrap(),
        stored
    );
    let resp = t.get("/v1/metadata?have=0").await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let said: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(said["code"], "publishing", "{said}");

    assert!(hub.publish_usage().unwrap().new_version);
    let v1 = hub.current_version().unwrap().unwrap();
    let (_, snapshot) = artefact(&hub, 0);
    let mut held = Set::default();
    held.apply(&snapshot);
    assert_eq!(held.hash(), v1.set_hash);
    assert!(!held.usage.is_empty() && !held.redeemed.is_empty());
    t.metadata(0, &hub.registry_public_key()).await;

    // The dynamic code's time runs out: it is removed by the folds too,
    // a chunk at a time before the publication, and goes out with it.
    let removed = || {
        count_behind_the_back(
            dir.path(),
            "SELECT count(*) FROM redeemed WHERE removed = 1",
        )
    };
    clock.set(UnixTime(at + 900));
    hub.fold_waiting_usage().unwrap();
    assert_eq!(removed(), 1);
    assert!(hub.publish_usage().unwrap().new_version);
    let (_, delta) = artefact(&hub, v1.version);
    assert!(
        delta
            .iter()
            .any(|i| matches!(i, Item::RemoveRedeemed { .. })),
        "{delta:?}"
    );
    held.apply(&delta);
    assert_eq!(
        held.hash(),
        hub.current_version().unwrap().unwrap().set_hash
    );
    assert!(held.redeemed.is_empty());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_goes_out_as_deltas_proven_by_the_set_hash_and_an_ended_period_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server, clock, start) = served_on_clock(dir.path()).await;
    let mut t = counter(&hub, &server, &clock).await;
    let measure = MeasureId::parse(MEASURE).unwrap();
    let limit = xinyi_testkit::catalogue()
        .get(MEASURE)
        .unwrap()
        .limit
        .expect("the bus top-up has a limit");
    let sub = vector_subject();

    // A terminal holds the published set.
    let v0 = hub.current_version().unwrap().unwrap();
    let (_, snapshot) = artefact(&hub, 0);
    let mut held = Set::default();
    held.apply(&snapshot);
    assert_eq!(held.hash(), v0.set_hash);
    assert!(held.usage.is_empty());

    // Two uses arrive; nothing is published until usage is.
    let at = start.0 + 120;
    let mut batch = t.roster(at - 60);
    let (r1, s1) = t.redemption_checked(at, &sub, 1000, Some(Basis::Online));
    let (r2, s2) = t.redemption_checked(at + 60, &sub, 1000, Some(Basis::Offline));
    batch.extend([s1, s2]);
    clock.set(UnixTime(at + 180));
    t.upload(&batch).await;
    assert_eq!(hub.current_version().unwrap().unwrap().version, v0.version);
    let p = hub.publish_usage().unwrap();
    assert!(p.new_version);
    let (kind, delta) = artefact(&hub, v0.version);
    assert_eq!(kind, ArtefactKind::Delta);
    let (period_start, _) = limit.per.bounds(UnixTime(at));
    let mut ids = vec![r1.id, r2.id];
    ids.sort_unstable();
    // The usage, and the two dynamic codes as redeemed until they expire.
    let usage: Vec<&Item> = delta
        .iter()
        .filter(|i| matches!(i, Item::Usage(_)))
        .collect();
    assert_eq!(usage.len(), 1, "{delta:?}");
    let redeemed: Vec<&Item> = delta
        .iter()
        .filter(|i| matches!(i, Item::Redeemed { .. }))
        .collect();
    assert_eq!(redeemed.len(), 1, "one cti, redeemed twice: {delta:?}");
    assert_eq!(delta.len(), 2, "{delta:?}");
    let Item::Usage(u) = usage[0] else {
        unreachable!()
    };
    assert_eq!(
        (u.sub.as_str(), &u.measure, u.period_start, &u.uses),
        (sub.as_str(), &measure, period_start, &ids)
    );
    held.apply(&delta);
    let v1 = hub.current_version().unwrap().unwrap();
    assert_eq!(held.hash(), v1.set_hash);
    // Nothing changed: nothing published.
    assert!(!hub.publish_usage().unwrap().new_version);

    // A void takes its use out.
    let (_, void) = t.record(
        at + 180,
        Body::Void {
            target: r1.id,
            reason: "wrong amount".into(),
            supervisor: SUPERVISOR.into(),
        },
    );
    t.upload(&[void]).await;
    assert_eq!(hub.flagged_report().unwrap(), vec![]);
    assert!(hub.publish_usage().unwrap().new_version);
    let (_, delta) = artefact(&hub, v1.version);
    let Some(Item::Usage(u)) = delta.iter().find(|i| matches!(i, Item::Usage(_))) else {
        panic!("expected usage, got {delta:?}")
    };
    assert_eq!(u.uses, vec![r2.id]);
    held.apply(&delta);
    let v2 = hub.current_version().unwrap().unwrap();
    assert_eq!(held.hash(), v2.set_hash);

    // The period ends: the usage is removed by a delta, and a snapshot
    // has none.
    let (_, period_end) = limit.per.bounds(UnixTime(at));
    clock.set(UnixTime(period_end.0 + 60));
    assert!(hub.publish_usage().unwrap().new_version);
    let (_, delta) = artefact(&hub, v2.version);
    assert!(
        delta.iter().any(|i| matches!(i, Item::RemoveUsage { .. })),
        "{delta:?}"
    );
    assert!(
        delta
            .iter()
            .any(|i| matches!(i, Item::RemoveRedeemed { .. })),
        "the expired code goes too: {delta:?}"
    );
    held.apply(&delta);
    let v3 = hub.current_version().unwrap().unwrap();
    assert_eq!(held.hash(), v3.set_hash);
    assert!(held.usage.is_empty() && held.redeemed.is_empty());
    let (_, snapshot) = artefact(&hub, 0);
    assert!(
        !snapshot
            .iter()
            .any(|i| matches!(i, Item::Usage(_) | Item::Redeemed { .. }))
    );
    server.stop().await.unwrap();
}

/// A terminal that gives one record id to two redemptions (its journal
/// is then not what a terminal writes, but it is signed and chained, so
/// it is stored): a void naming that id cancels one of them, the latest,
/// not both; a second void cancels the other, and a third voids nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_void_cancels_one_redemption_when_a_terminal_repeats_a_record_id() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server, clock, start) = served_on_clock(dir.path()).await;
    let mut t = counter(&hub, &server, &clock).await;
    let sub = vector_subject();
    let voided = |dir: &std::path::Path| {
        count_behind_the_back(
            dir,
            "SELECT COUNT(*) FROM records WHERE kind = 'redemption' AND voided_by IS NOT NULL",
        )
    };
    let redemptions = |hub: &Hub| -> u64 {
        hub.usage_report()
            .unwrap()
            .iter()
            .map(|r| r.redemptions)
            .sum()
    };
    let void = |t: &mut Terminal, at: i64, target: [u8; 16]| {
        t.record(
            at,
            Body::Void {
                target,
                reason: "wrong amount".into(),
                supervisor: SUPERVISOR.into(),
            },
        )
        .1
    };

    let at = start.0 + 120;
    let mut batch = t.roster(at - 60);
    let (first, s1) = t.redemption(at, &sub, 1000);
    let (_, s2) = t.record_as(first.id, at + 30, first.body.clone());
    batch.extend([s1, s2, void(&mut t, at + 60, first.id)]);
    clock.set(UnixTime(at + 90));
    t.upload(&batch).await;
    assert_eq!(hub.flagged_report().unwrap(), vec![]);
    assert_eq!(voided(dir.path()), 1, "one void, one redemption cancelled");
    assert_eq!(redemptions(&hub), 1);
    assert!(hub.publish_usage().unwrap().new_version);
    let (_, snapshot) = artefact(&hub, 0);
    let uses: Vec<_> = snapshot
        .iter()
        .filter_map(|i| match i {
            Item::Usage(u) if u.sub.as_str() == sub => Some(u.uses.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(uses, vec![vec![first.id]], "{snapshot:?}");

    // The second void cancels the other; the third has nothing left.
    let second = void(&mut t, at + 70, first.id);
    t.upload(&[second]).await;
    assert_eq!(hub.flagged_report().unwrap(), vec![]);
    assert_eq!(voided(dir.path()), 2);
    assert_eq!(redemptions(&hub), 0);
    let third = void(&mut t, at + 80, first.id);
    t.upload(&[third]).await;
    let flagged = hub.flagged_report().unwrap();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert!(flagged[0].why.contains("already voided"), "{flagged:?}");
    assert_eq!(voided(dir.path()), 2);
    assert!(hub.publish_usage().unwrap().new_version);
    let (_, snapshot) = artefact(&hub, 0);
    assert!(
        !snapshot
            .iter()
            .any(|i| matches!(i, Item::Usage(u) if u.sub.as_str() == sub)),
        "{snapshot:?}"
    );
    server.stop().await.unwrap();
}

/// Up to `n` subjects' pseudonyms from the vectors.
fn subjects(n: usize) -> Vec<String> {
    credentials()["pseudonyms"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s.as_str().unwrap().to_owned())
        .take(n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_only_the_keys_uploads_named_publishes_what_recomputing_everything_would() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server, clock, start) = served_on_clock(dir.path()).await;
    let mut counters = Vec::new();
    for _ in 0..2 {
        counters.push(counter(&hub, &server, &clock).await);
    }
    let subs = subjects(6);
    assert!(subs.len() >= 2, "the vectors name at least two subjects");
    let limit = xinyi_testkit::catalogue()
        .get(MEASURE)
        .unwrap()
        .limit
        .expect("the bus top-up has a limit");
    let at = start.0 + 120;
    let (period_start, _) = limit.per.bounds(UnixTime(at));
    // What each subject's published uses should be, as the test made them.
    let mut expected: std::collections::BTreeMap<String, Vec<[u8; 16]>> = Default::default();

    // Every subject uses the first counter; half of them then use the
    // second counter too, and the second subject's use (at the first
    // counter only) is voided.
    let mut batch = counters[0].roster(at - 60);
    let mut second_use = None;
    for (i, sub) in subs.iter().enumerate() {
        let (r, s) = counters[0].redemption(at + i as i64, sub, 1000);
        if i == 1 {
            second_use = Some(r.id);
        }
        expected.entry(sub.clone()).or_default().push(r.id);
        batch.push(s);
    }
    clock.set(UnixTime(at + 100));
    counters[0].upload(&batch).await;
    assert!(hub.publish_usage().unwrap().new_version);
    assert_eq!(
        count_behind_the_back(dir.path(), "SELECT COUNT(*) FROM usage_pending"),
        0
    );

    let mut batch = counters[1].roster(at + 30);
    for sub in subs.iter().step_by(2) {
        let (r, s) = counters[1].redemption(at + 60, sub, 1000);
        expected.entry(sub.clone()).or_default().push(r.id);
        batch.push(s);
    }
    counters[1].upload(&batch).await;
    let voided = second_use.unwrap();
    let (_, void) = counters[0].record(
        at + 90,
        Body::Void {
            target: voided,
            reason: "wrong amount".into(),
            supervisor: SUPERVISOR.into(),
        },
    );
    counters[0].upload(&[void]).await;
    expected
        .get_mut(&subs[1])
        .unwrap()
        .retain(|id| *id != voided);
    // The waiting keys are a log: a key named by many uploads repeats,
    // and more rows wait than one take holds.
    let repeats = 5_000;
    behind_the_back(
        dir.path(),
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {repeats})
             INSERT INTO usage_pending (sub, measure) SELECT '{sub}', '{MEASURE}' FROM n;",
            sub = subs[0]
        ),
        &format!(
            "INSERT INTO usage_pending (sub, measure)
             SELECT '{sub}', '{MEASURE}' FROM generate_series(1, {repeats});",
            sub = subs[0]
        ),
    )
    .unwrap();
    assert!(count_behind_the_back(dir.path(), "SELECT COUNT(*) FROM usage_pending") > repeats);
    assert!(hub.publish_usage().unwrap().new_version);
    assert_eq!(
        count_behind_the_back(dir.path(), "SELECT COUNT(*) FROM usage_pending"),
        0
    );

    // What a terminal holds from the snapshot is what was made.
    let (_, snapshot) = artefact(&hub, 0);
    let mut published: std::collections::BTreeMap<String, Vec<[u8; 16]>> = Default::default();
    for item in &snapshot {
        if let Item::Usage(u) = item {
            assert_eq!(u.period_start, period_start);
            published.insert(u.sub.as_str().to_owned(), u.uses.clone());
        }
    }
    for ids in expected.values_mut() {
        ids.sort_unstable();
    }
    expected.retain(|_, ids| !ids.is_empty());
    assert_eq!(published, expected);

    // Recomputing every key from the records finds nothing to change.
    behind_the_back(
        dir.path(),
        "DELETE FROM usage_state;",
        "DELETE FROM usage_state;",
    )
    .unwrap();
    assert!(!hub.publish_usage().unwrap().new_version);
    assert_eq!(
        count_behind_the_back(dir.path(), "SELECT COUNT(*) FROM usage_state"),
        1
    );
    server.stop().await.unwrap();
}

/// The redeemed codes (and their removals) in the delta from `have`.
fn redeemed_in(hub: &Hub, have: u64) -> Vec<Item> {
    artefact(hub, have)
        .1
        .into_iter()
        .filter(|i| matches!(i, Item::Redeemed { .. } | Item::RemoveRedeemed { .. }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voided_use_of_a_dynamic_code_moves_its_published_expiry_and_the_last_void_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, server, clock, start) = served_on_clock(dir.path()).await;
    let mut t = counter(&hub, &server, &clock).await;
    let sub = vector_subject();

    // One code used twice, a minute apart (a replay at the same desk).
    let at = start.0 + 120;
    let mut batch = t.roster(at - 60);
    let (first, s1) = t.redemption(at, &sub, 1000);
    let (second, s2) = t.redemption(at + 60, &sub, 1000);
    batch.extend([s1, s2]);
    clock.set(UnixTime(at + 90));
    t.upload(&batch).await;
    assert!(hub.publish_usage().unwrap().new_version);
    let v1 = hub.current_version().unwrap().unwrap().version;
    let Some(Item::Redeemed { cti, until: late }) = redeemed_in(&hub, 0).pop() else {
        panic!("the code is published as redeemed")
    };

    // The later use is voided: the code is redeemed until the earlier's
    // time runs out.
    let (_, void) = t.record(
        at + 100,
        Body::Void {
            target: second.id,
            reason: "wrong amount".into(),
            supervisor: SUPERVISOR.into(),
        },
    );
    t.upload(&[void]).await;
    assert!(hub.publish_usage().unwrap().new_version);
    let v2 = hub.current_version().unwrap().unwrap().version;
    assert_eq!(
        redeemed_in(&hub, v1),
        vec![Item::Redeemed {
            cti: cti.clone(),
            until: UnixTime(late.0 - 60)
        }]
    );

    // The earlier one too: the code is no longer redeemed anywhere.
    let (_, void) = t.record(
        at + 110,
        Body::Void {
            target: first.id,
            reason: "wrong amount".into(),
            supervisor: SUPERVISOR.into(),
        },
    );
    t.upload(&[void]).await;
    assert!(hub.publish_usage().unwrap().new_version);
    assert_eq!(redeemed_in(&hub, v2), vec![Item::RemoveRedeemed { cti }]);

    // Recomputing everything from the records finds nothing to change.
    behind_the_back(
        dir.path(),
        "DELETE FROM usage_state;",
        "DELETE FROM usage_state;",
    )
    .unwrap();
    assert!(!hub.publish_usage().unwrap().new_version);
    server.stop().await.unwrap();
}

/// A small deterministic generator (SplitMix64), seeded at random and
/// named in every failure; `XINYI_TEST_SEED=N` replays that order.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// A redemption the test made: what the published usage depends on.
#[derive(Clone, Debug)]
struct Made {
    id: [u8; 16],
    sub: String,
    cti: Vec<u8>,
    dynamic: bool,
    at: i64,
    voided: bool,
}

/// Folding what uploads logged publishes what recomputing everything
/// from the records would, whatever the order in which counters upload
/// and the hub folds: uses at several counters, in this period and the
/// last, voids in the same upload as their use and in later ones, a
/// dynamic code used at more than one counter and long enough ago for
/// its time to have run out, uploads sent twice, a record id copied
/// from another counter's use or repeated by the same counter. Checked
/// against the uses the test made, and against the hub's own full
/// recompute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folding_in_any_order_publishes_what_recomputing_everything_would() {
    use xinyi_hub::usage::REDEEMED_KEPT_S;
    let seed = match std::env::var("XINYI_TEST_SEED") {
        Ok(s) => s.parse().expect("XINYI_TEST_SEED is a number"),
        Err(_) => {
            let mut seed = [0u8; 8];
            getrandom::fill(&mut seed).unwrap();
            u64::from_le_bytes(seed)
        }
    };
    let mut draw = Draw(seed);
    let dir = tempfile::tempdir().unwrap();
    let (hub, server, clock, start) = served_on_clock(dir.path()).await;
    let mut counters = Vec::new();
    for _ in 0..3 {
        counters.push(counter(&hub, &server, &clock).await);
    }
    let subs = subjects(4);
    assert!(!subs.is_empty(), "the vectors name a subject");
    let limit = xinyi_testkit::catalogue()
        .get(MEASURE)
        .unwrap()
        .limit
        .expect("the bus top-up has a limit");
    // Uses from the counters' enrollment to now, some older than a
    // dynamic code's time kept, and some dated in the period before.
    let now = start.0 + 4 * REDEEMED_KEPT_S;
    let (from, until) = limit.per.bounds(UnixTime(now));
    clock.set(UnixTime(now));
    let codes: Vec<Vec<u8>> = (0..3)
        .map(|_| {
            let mut c = vec![0u8; 12];
            getrandom::fill(&mut c).unwrap();
            c
        })
        .collect();
    let mut made: Vec<Vec<Made>> = vec![Vec::new(); counters.len()];
    let mut last: Vec<Option<Vec<xinyi_core::wire::journal::SignedRecord>>> =
        vec![None; counters.len()];
    for (i, t) in counters.iter_mut().enumerate() {
        let roster = t.roster(start.0);
        t.upload(&roster).await;
        last[i] = Some(roster);
    }
    for _round in 0..40 {
        let c = usize::try_from(draw.below(counters.len() as u64)).unwrap();
        if draw.one_in(6)
            && let Some(batch) = &last[c]
        {
            // Sent again: stored already, nothing new to log.
            let receipt = counters[c].upload(batch).await;
            assert_eq!(receipt.stored, 0, "seed {seed}");
            continue;
        }
        let mut batch = Vec::new();
        for _ in 0..=draw.below(4) {
            // A void names a record id, and cancels the latest of the
            // counter's uses with that id not voided yet: those are the
            // uses a void can cancel.
            let voidable: Vec<usize> = (0..made[c].len())
                .filter(|&k| {
                    let m = &made[c][k];
                    !m.voided
                        && m.at >= start.0
                        && made[c][k + 1..]
                            .iter()
                            .all(|later| later.id != m.id || later.voided)
                })
                .collect();
            if !voidable.is_empty() && draw.one_in(3) {
                let k = voidable[usize::try_from(draw.below(voidable.len() as u64)).unwrap()];
                let target = &mut made[c][k];
                target.voided = true;
                let at = (target.at + i64::try_from(draw.below(60)).unwrap()).min(now);
                let (_, s) = counters[c].record(
                    at,
                    Body::Void {
                        target: target.id,
                        reason: "wrong amount".into(),
                        supervisor: SUPERVISOR.into(),
                    },
                );
                batch.push(s);
                continue;
            }
            let at = if draw.one_in(5) {
                from.0 - 1 - i64::try_from(draw.below(3_600)).unwrap()
            } else {
                start.0 + i64::try_from(draw.below(u64::try_from(now - start.0).unwrap())).unwrap()
            };
            let sub = subs[usize::try_from(draw.below(subs.len() as u64)).unwrap()].clone();
            let cti = codes[usize::try_from(draw.below(codes.len() as u64)).unwrap()].clone();
            let dynamic = !draw.one_in(4);
            // Now and then the id of another counter's use of the same
            // subject, as a hostile terminal could copy it from the
            // published usage (voiding its own must not void the other),
            // or one of its own ids again, as a faulty one could (a void
            // then cancels one of them at a time).
            let copied = if !made[c].is_empty() && draw.one_in(8) {
                Some(made[c][usize::try_from(draw.below(made[c].len() as u64)).unwrap()].id)
            } else {
                made.iter()
                    .enumerate()
                    .filter(|(other, _)| *other != c)
                    .flat_map(|(_, m)| m)
                    .find(|m| m.sub == sub && draw.one_in(4))
                    .map(|m| m.id)
            };
            let mut id = [0u8; 16];
            getrandom::fill(&mut id).unwrap();
            let (r, s) = counters[c].record_as(
                copied.unwrap_or(id),
                at,
                Body::Redemption {
                    measure: MEASURE.into(),
                    sub: sub.clone(),
                    cti: cti.clone(),
                    form: if dynamic { 0 } else { 1 },
                    categories: vec!["P02".into()],
                    original: 1000,
                    discount: 500,
                    payable: 500,
                    companions: 0,
                    checked: None,
                },
            );
            made[c].push(Made {
                id: r.id,
                sub,
                cti,
                dynamic,
                at,
                voided: false,
            });
            batch.push(s);
        }
        let receipt = counters[c].upload(&batch).await;
        assert_eq!(receipt.stored, batch.len() as u64, "seed {seed}");
        last[c] = Some(batch);
        match draw.below(3) {
            0 => {
                hub.publish_usage().unwrap();
            }
            1 => hub.fold_waiting_usage().unwrap(),
            _ => {}
        }
    }
    hub.publish_usage().unwrap();

    // What the test made: each subject's standing uses in the current
    // period, and each dynamic code's latest standing use not yet run out.
    let standing: Vec<&Made> = made.iter().flatten().filter(|m| !m.voided).collect();
    let mut expected_uses: std::collections::BTreeMap<String, Vec<[u8; 16]>> = Default::default();
    for m in standing
        .iter()
        .filter(|m| (from.0..until.0).contains(&m.at))
    {
        expected_uses.entry(m.sub.clone()).or_default().push(m.id);
    }
    for ids in expected_uses.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    let mut expected_codes: std::collections::BTreeMap<String, i64> = Default::default();
    for m in standing
        .iter()
        .filter(|m| m.dynamic && m.at > now - REDEEMED_KEPT_S)
    {
        let until = expected_codes
            .entry(xinyi_core::hex::encode(&m.cti))
            .or_insert(i64::MIN);
        *until = (*until).max(m.at + REDEEMED_KEPT_S);
    }
    let published = |hub: &Hub| {
        let mut uses: std::collections::BTreeMap<String, Vec<[u8; 16]>> = Default::default();
        let mut codes: std::collections::BTreeMap<String, i64> = Default::default();
        for item in artefact(hub, 0).1 {
            match item {
                Item::Usage(u) if u.measure.as_str() == MEASURE => {
                    assert_eq!(u.period_start.0, from.0, "seed {seed}");
                    uses.insert(u.sub.as_str().to_owned(), u.uses);
                }
                Item::Redeemed { cti, until } => {
                    codes.insert(cti.to_hex(), until.0);
                }
                _ => {}
            }
        }
        (uses, codes)
    };
    let (uses, codes) = published(&hub);
    assert_eq!(uses, expected_uses, "seed {seed}");
    assert_eq!(codes, expected_codes, "seed {seed}");

    // Recomputing everything from the records finds nothing to change.
    behind_the_back(
        dir.path(),
        "DELETE FROM usage_state;",
        "DELETE FROM usage_state;",
    )
    .unwrap();
    assert!(!hub.publish_usage().unwrap().new_version, "seed {seed}");
    assert_eq!(
        published(&hub),
        (expected_uses, expected_codes),
        "seed {seed}"
    );
    server.stop().await.unwrap();
}
