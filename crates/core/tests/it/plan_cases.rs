//! The plan for accepting a version of the hub's data (`wire::plan`), on
//! tables of cases: what the terminal holds, what the metadata says and
//! what was fetched, against what the plan decides (`design.md`, "Sync":
//! signed, no rollback, no freeze, artefacts as pinned, proven by the set
//! hash).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::cell::Cell;

use xinyi_core::UnixTime;
use xinyi_core::wire::config::{Config, Site, TrustEntry};
use xinyi_core::wire::eligibility::{self, ArtefactKind, Header};
use xinyi_core::wire::metadata::{ArtefactRef, EligibilityRef, Metadata, MetadataError, SPEC};
use xinyi_core::wire::plan::{
    ApplyPlan, Fetched, Held, Outcome, Part, Refused, Shape, plan, uncompressed,
};
use xinyi_core::wire::{Digest32, WireError};
use xinyi_testkit::{catalogue_text, trust_list, vectors};

const NOW: i64 = 1_000_000;
/// The hub's signed time of the metadata held.
const HELD_ISSUED: i64 = NOW - 3_600;

fn config(edit: impl FnOnce(&mut Config)) -> Vec<u8> {
    let mut c = Config {
        trust: trust_list(&vectors()).iter().map(TrustEntry::of).collect(),
        revoked_cards: Vec::new(),
        catalogue: catalogue_text(),
        sites: vec![Site {
            id: "counter".into(),
            name: "counter".into(),
            unit: "unit".into(),
            measures: Vec::new(),
            max_offline_age_s: 86_400,
            void_window_s: 0,
            unattended: false,
            online_deadline_ms: 300,
            check_holder: true,
            objection_url: None,
            complaint_url: None,
        }],
    };
    edit(&mut c);
    c.to_bytes()
}

fn artefact(kind: ArtefactKind, from: u64, to: u64) -> Vec<u8> {
    eligibility::encode(
        Header {
            kind,
            from,
            to,
            items: 0,
        },
        &[],
    )
}

/// Version 4 held, with the config of [`config`] unchanged.
fn held() -> Held {
    Held {
        version: 4,
        set_hash: Digest32::of(b"set at 4"),
        listings: 10,
        exclusions: 2,
        config_sha256: Digest32::of(&config(|_| {})),
        hub_issued_at: UnixTime(HELD_ISSUED),
    }
}

/// Metadata for version `version` announcing `elig` (from, bytes).
fn meta(version: u64, elig: Option<(u64, &[u8])>) -> Metadata {
    Metadata {
        spec: SPEC,
        version,
        published_at: NOW - 600,
        issued_at: NOW - 60,
        expires_at: NOW + 86_400,
        set_hash: Digest32::of(b"set at 5"),
        listings: 11,
        exclusions: 2,
        config: ArtefactRef::of(&config(|_| {})),
        eligibility: elig.map(|(from, bytes)| EligibilityRef {
            artefact: ArtefactRef::of(bytes),
            from,
            raw_length: bytes.len() as u64,
        }),
        terminal: None,
        rotation: None,
    }
}

/// What a plan decided, in a form a table can state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decided {
    UpToDate {
        newer: bool,
    },
    Fetch {
        config: bool,
        eligibility: bool,
    },
    Apply {
        config: bool,
        kind: ArtefactKind,
        from: Option<u64>,
    },
    Refused(Refused),
}

fn decided(r: Result<ApplyPlan<'_>, Refused>) -> Decided {
    match r {
        Ok(ApplyPlan::UpToDate(r)) => Decided::UpToDate { newer: r.newer },
        Ok(ApplyPlan::Fetch(w)) => Decided::Fetch {
            config: w.config.is_some(),
            eligibility: w.eligibility.is_some(),
        },
        Ok(ApplyPlan::Apply(a)) => Decided::Apply {
            config: a.config.is_some(),
            kind: a.eligibility.kind(),
            from: a.held.map(|h| h.version),
        },
        Err(e) => Decided::Refused(e),
    }
}

/// The eligibility artefact alone, as transferred.
fn elig(bytes: &[u8]) -> Fetched<'_> {
    Fetched {
        config: None,
        eligibility: Some(bytes),
    }
}

fn flip_last(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if let Some(x) = b.last_mut() {
        *x ^= 1;
    }
    b
}

#[test]
fn plan_table() {
    let delta = artefact(ArtefactKind::Delta, 4, 5);
    let snapshot = artefact(ArtefactKind::Snapshot, 0, 5);
    let cfg = config(|_| {});
    let other_cfg = config(|c| c.sites[0].name = "renamed".into());
    let h = held();

    struct Case<'a> {
        name: &'a str,
        meta: Metadata,
        held: Option<Held>,
        fetched: Fetched<'a>,
        want: Decided,
    }
    let nothing = Fetched::NOTHING;
    let flipped = flip_last(&delta);
    let to_six = artefact(ArtefactKind::Delta, 4, 6);
    let cases = vec![
        Case {
            name: "a delta, nothing fetched yet: fetch it, the config held is current",
            meta: meta(5, Some((4, &delta))),
            held: Some(h),
            fetched: nothing,
            want: Decided::Fetch {
                config: false,
                eligibility: true,
            },
        },
        Case {
            name: "a delta fetched: apply it on the version held",
            meta: meta(5, Some((4, &delta))),
            held: Some(h),
            fetched: elig(&delta),
            want: Decided::Apply {
                config: false,
                kind: ArtefactKind::Delta,
                from: Some(4),
            },
        },
        Case {
            name: "the first sync wants the config and the snapshot",
            meta: meta(5, Some((0, &snapshot))),
            held: None,
            fetched: nothing,
            want: Decided::Fetch {
                config: true,
                eligibility: true,
            },
        },
        Case {
            name: "the first sync with the snapshot alone still wants the config",
            meta: meta(5, Some((0, &snapshot))),
            held: None,
            fetched: elig(&snapshot),
            want: Decided::Fetch {
                config: true,
                eligibility: false,
            },
        },
        Case {
            name: "the first sync with both: apply the snapshot and the config",
            meta: meta(5, Some((0, &snapshot))),
            held: None,
            fetched: Fetched {
                config: Some(&cfg),
                eligibility: Some(&snapshot),
            },
            want: Decided::Apply {
                config: true,
                kind: ArtefactKind::Snapshot,
                from: None,
            },
        },
        Case {
            name: "a new config pinned: fetch it with the delta",
            meta: Metadata {
                config: ArtefactRef::of(&other_cfg),
                ..meta(5, Some((4, &delta)))
            },
            held: Some(h),
            fetched: nothing,
            want: Decided::Fetch {
                config: true,
                eligibility: true,
            },
        },
        Case {
            name: "a snapshot as fallback on top of a version held",
            meta: meta(5, Some((0, &snapshot))),
            held: Some(h),
            fetched: elig(&snapshot),
            want: Decided::Apply {
                config: false,
                kind: ArtefactKind::Snapshot,
                from: Some(4),
            },
        },
        Case {
            name: "the version held, confirmed: refresh the hub's time",
            meta: Metadata {
                set_hash: h.set_hash,
                listings: h.listings,
                exclusions: h.exclusions,
                ..meta(4, None)
            },
            held: Some(h),
            fetched: nothing,
            want: Decided::UpToDate { newer: true },
        },
        Case {
            name: "the version held in a bundle that also carries it: nothing to apply",
            meta: Metadata {
                set_hash: h.set_hash,
                listings: h.listings,
                exclusions: h.exclusions,
                ..meta(4, Some((0, &snapshot)))
            },
            held: Some(h),
            fetched: elig(&snapshot),
            want: Decided::UpToDate { newer: true },
        },
        Case {
            name: "older metadata for the version held (a replay): nothing to record",
            meta: Metadata {
                set_hash: h.set_hash,
                listings: h.listings,
                exclusions: h.exclusions,
                issued_at: HELD_ISSUED - 1,
                published_at: HELD_ISSUED - 600,
                ..meta(4, None)
            },
            held: Some(h),
            fetched: nothing,
            want: Decided::UpToDate { newer: false },
        },
        Case {
            name: "the version held described with another set",
            meta: meta(4, None),
            held: Some(h),
            fetched: nothing,
            want: Decided::Refused(Refused::HeldDiffers { version: 4 }),
        },
        Case {
            name: "the version held described with another config",
            meta: Metadata {
                set_hash: h.set_hash,
                listings: h.listings,
                exclusions: h.exclusions,
                config: ArtefactRef::of(&other_cfg),
                ..meta(4, None)
            },
            held: Some(h),
            fetched: nothing,
            want: Decided::Refused(Refused::HeldDiffers { version: 4 }),
        },
        Case {
            name: "rollback to an older version",
            meta: meta(3, Some((0, &snapshot))),
            held: Some(h),
            fetched: nothing,
            want: Decided::Refused(Refused::Metadata(MetadataError::Rollback {
                offered: 3,
                held: 4,
            })),
        },
        Case {
            name: "a format this terminal does not speak",
            meta: Metadata {
                spec: SPEC + 1,
                ..meta(5, Some((4, &delta)))
            },
            held: Some(h),
            fetched: elig(&delta),
            want: Decided::Refused(Refused::Metadata(MetadataError::Spec(SPEC + 1))),
        },
        Case {
            name: "a delta from a version not held",
            meta: meta(5, Some((3, &delta))),
            held: Some(h),
            fetched: elig(&delta),
            want: Decided::Refused(Refused::Metadata(MetadataError::Inconsistent(
                "delta from version 3, but version 4 is held".into(),
            ))),
        },
        Case {
            name: "eligibility bytes the metadata does not name",
            meta: Metadata {
                set_hash: h.set_hash,
                listings: h.listings,
                exclusions: h.exclusions,
                ..meta(4, None)
            },
            held: Some(h),
            fetched: elig(&delta),
            want: Decided::Refused(Refused::UnexpectedEligibility),
        },
        Case {
            name: "nothing held and nothing named",
            meta: meta(0, None),
            held: None,
            fetched: nothing,
            want: Decided::Refused(Refused::NothingToApply),
        },
        Case {
            name: "a transfer of another length than pinned",
            meta: meta(5, Some((4, &delta))),
            held: Some(h),
            fetched: elig(&delta[..delta.len() - 1]),
            want: Decided::Refused(Refused::Length {
                part: Part::Eligibility,
                pinned: delta.len() as u64,
                found: delta.len() as u64 - 1,
            }),
        },
        Case {
            name: "a transfer with another hash than pinned",
            meta: meta(5, Some((4, &delta))),
            held: Some(h),
            fetched: elig(&flipped),
            want: Decided::Refused(Refused::Hash {
                part: Part::Eligibility,
                pinned: Digest32::of(&delta),
                found: Digest32::of(&flip_last(&delta)),
            }),
        },
        Case {
            name: "a config artefact that is not the one pinned",
            meta: meta(5, Some((0, &snapshot))),
            held: None,
            fetched: Fetched {
                config: Some(&other_cfg),
                eligibility: Some(&snapshot),
            },
            want: Decided::Refused(Refused::Hash {
                part: Part::Config,
                pinned: Digest32::of(&cfg),
                found: Digest32::of(&other_cfg),
            }),
        },
        Case {
            name: "the metadata announces a snapshot, the artefact is a delta",
            meta: meta(5, Some((0, &delta))),
            held: Some(h),
            fetched: elig(&delta),
            want: Decided::Refused(Refused::WrongShape {
                announced: Shape::Snapshot,
                found: Shape::DeltaFrom(4),
            }),
        },
        Case {
            name: "the metadata announces a delta, the artefact is a snapshot",
            meta: meta(5, Some((4, &snapshot))),
            held: Some(h),
            fetched: elig(&snapshot),
            want: Decided::Refused(Refused::WrongShape {
                announced: Shape::DeltaFrom(4),
                found: Shape::Snapshot,
            }),
        },
        Case {
            name: "the artefact leads to another version",
            meta: meta(5, Some((4, &to_six))),
            held: Some(h),
            fetched: elig(&to_six),
            want: Decided::Refused(Refused::WrongTarget {
                artefact: 6,
                metadata: 5,
            }),
        },
    ];
    for c in cases {
        let got = decided(plan(
            &c.meta,
            c.held.as_ref(),
            UnixTime(NOW),
            c.fetched,
            uncompressed,
        ));
        assert_eq!(got, c.want, "{}", c.name);
        if let Decided::Refused(r) = got {
            assert!(!r.to_string().is_empty(), "{}", c.name);
        }
    }
}

#[test]
fn expired_metadata_is_refused_whatever_was_fetched() {
    let delta = artefact(ArtefactKind::Delta, 4, 5);
    let m = meta(5, Some((4, &delta)));
    let after = UnixTime(m.expires_at + 1);
    for fetched in [
        Fetched::NOTHING,
        Fetched {
            config: None,
            eligibility: Some(&delta),
        },
    ] {
        let got = plan(&m, Some(&held()), after, fetched, uncompressed);
        assert!(
            matches!(got, Err(Refused::Metadata(MetadataError::Expired { .. }))),
            "{got:?}"
        );
    }
}

#[test]
fn bytes_are_decompressed_only_once_they_match_their_pin() {
    let delta = artefact(ArtefactKind::Delta, 4, 5);
    let m = meta(5, Some((4, &delta)));
    let bad = flip_last(&delta);
    let called = Cell::new(false);
    let watch = |b: &[u8], _| {
        called.set(true);
        Ok(Cow::Owned(b.to_vec()))
    };
    let got = plan(
        &m,
        Some(&held()),
        UnixTime(NOW),
        Fetched {
            config: None,
            eligibility: Some(&bad),
        },
        watch,
    );
    assert!(matches!(got, Err(Refused::Hash { .. })), "{got:?}");
    assert!(!called.get(), "the decompressor ran on unpinned bytes");

    // A decompressor that fails, or yields another size than declared.
    let fails = |_: &[u8], _| Err(WireError::malformed("eligibility artefact", "bad zlib"));
    let fetched = Fetched {
        config: None,
        eligibility: Some(&delta),
    };
    assert_eq!(
        plan(&m, Some(&held()), UnixTime(NOW), fetched, fails).err(),
        Some(Refused::Artefact(WireError::malformed(
            "eligibility artefact",
            "bad zlib"
        )))
    );
    let longer = |b: &[u8], _| {
        let mut v = b.to_vec();
        v.push(0);
        Ok(Cow::Owned(v))
    };
    assert_eq!(
        plan(&m, Some(&held()), UnixTime(NOW), fetched, longer).err(),
        Some(Refused::RawLength {
            declared: delta.len() as u64,
            found: delta.len() as u64 + 1,
        })
    );
    // Bytes that are no eligibility artefact at all, pinned as such.
    let junk = b"not an artefact".to_vec();
    let m = meta(5, Some((4, &junk)));
    let got = plan(
        &m,
        Some(&held()),
        UnixTime(NOW),
        Fetched {
            config: None,
            eligibility: Some(&junk),
        },
        uncompressed,
    );
    assert!(matches!(got, Err(Refused::Artefact(_))), "{got:?}");
}

#[test]
fn a_config_that_is_pinned_but_invalid_is_refused() {
    let snapshot = artefact(ArtefactKind::Snapshot, 0, 5);
    let keys = trust_list(&vectors());
    let twice_key = config(|c| c.trust.push(TrustEntry::of(&keys[0])));
    let twice_site = config(|c| c.sites.push(c.sites[0].clone()));
    let not_json = b"{".to_vec();
    for (bytes, want) in [
        (
            &twice_key,
            Some(Refused::DuplicateTrustKey { kid: keys[0].kid }),
        ),
        (
            &twice_site,
            Some(Refused::DuplicateSite {
                site: "counter".into(),
            }),
        ),
        (&not_json, None),
    ] {
        let m = Metadata {
            config: ArtefactRef::of(bytes),
            ..meta(5, Some((0, &snapshot)))
        };
        let got = plan(
            &m,
            None,
            UnixTime(NOW),
            Fetched {
                config: Some(bytes),
                eligibility: Some(&snapshot),
            },
            uncompressed,
        )
        .err();
        match want {
            Some(w) => assert_eq!(got, Some(w)),
            None => assert!(matches!(got, Some(Refused::Config(_))), "{got:?}"),
        }
    }
}

#[test]
fn the_proof_compares_the_set_held_after_applying_with_the_metadata() {
    let delta = artefact(ArtefactKind::Delta, 4, 5);
    let m = meta(5, Some((4, &delta)));
    let Ok(ApplyPlan::Apply(apply)) = plan(
        &m,
        Some(&held()),
        UnixTime(NOW),
        Fetched {
            config: None,
            eligibility: Some(&delta),
        },
        uncompressed,
    ) else {
        panic!("the delta is not planned for applying");
    };
    // A delta starts from the set held.
    let h = held();
    assert_eq!(
        apply.start(),
        Outcome {
            set_hash: h.set_hash,
            listings: h.listings,
            exclusions: h.exclusions,
        }
    );
    let right = Outcome {
        set_hash: m.set_hash,
        listings: m.listings,
        exclusions: m.exclusions,
    };
    assert_eq!(apply.prove(right), Ok(()));
    let other = Digest32::of(b"another set");
    assert_eq!(
        apply.prove(Outcome {
            set_hash: other,
            ..right
        }),
        Err(Refused::SetHash {
            found: other,
            published: m.set_hash,
        })
    );
    assert_eq!(
        apply.prove(Outcome {
            listings: m.listings + 1,
            ..right
        }),
        Err(Refused::Counts {
            listings: m.listings + 1,
            exclusions: m.exclusions,
            published_listings: m.listings,
            published_exclusions: m.exclusions,
        })
    );
}
