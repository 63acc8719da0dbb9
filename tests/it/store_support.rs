//! Shared helpers for the store tests: the conformance vectors in
//! `../shared` (read in place), a test registry that signs metadata, and
//! builders for eligibility artefacts made with the core encoder.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use xinyi::store::{Identity, Store};
use xinyi_core::Date;
use xinyi_core::credential::Cti;
use xinyi_core::eligibility::{EligibilityEntry, EligibilitySet, ExclusionEntry};
use xinyi_core::ids::SubjectId;
use xinyi_core::trust::TrustedKey;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::config::{Config, ParsedConfig, Site, TrustEntry};
use xinyi_core::wire::eligibility::{ArtefactKind, Header, Item, SetHash, encode};
use xinyi_core::wire::journal::Body;
use xinyi_core::wire::metadata::Metadata;

// Shared by several test binaries, each using part of it.
#[allow(unused_imports)]
pub use xinyi_testkit::{catalogue_text, k_pseudo, registry, revoked_cards, trust_list, vectors};

/// Every member of an eligibility set as artefact items.
pub fn items_of(set: &EligibilitySet) -> Vec<Item> {
    set.listings()
        .cloned()
        .map(Item::Listing)
        .chain(set.exclusions().cloned().map(Item::Exclusion))
        .collect()
}

/// The set hash of a whole set, computed from scratch.
pub fn set_hash(items: &[Item]) -> Digest32 {
    let mut h = SetHash::new();
    for i in items {
        h.add(i);
    }
    h.digest()
}

pub fn snapshot(to: u64, items: &[Item]) -> Vec<u8> {
    encode(
        Header {
            kind: ArtefactKind::Snapshot,
            from: 0,
            to,
            items: 0,
        },
        items,
    )
}

pub fn delta(from: u64, to: u64, items: &[Item]) -> Vec<u8> {
    encode(
        Header {
            kind: ArtefactKind::Delta,
            from,
            to,
            items: 0,
        },
        items,
    )
}

pub fn sub(n: u8) -> SubjectId {
    SubjectId::from_bytes(&[n; 16])
}

pub fn day(s: &str) -> Date {
    s.parse().unwrap()
}

pub fn listing(
    n: u8,
    category: &str,
    from: &str,
    until: &str,
    withdrawn: bool,
) -> EligibilityEntry {
    let category: xinyi_core::category::Category = category.parse().unwrap();
    EligibilityEntry {
        sub: sub(n),
        kind: category.kind(),
        category,
        valid_from: day(from),
        valid_until: day(until),
        withdrawn,
        display_name: format!("陈*{n}"),
    }
}

pub fn exclusion(n: u8, from: &str, until: &str) -> ExclusionEntry {
    ExclusionEntry {
        sub: sub(n),
        from: day(from),
        until: day(until),
    }
}

/// A stand-in for the registry: its key signs metadata that the test
/// opens with the pinned public key, as the sync does.
#[derive(Debug)]
pub struct TestRegistry {
    pub key: SigningKey,
    pub config_bytes: Vec<u8>,
    pub config: ParsedConfig,
}

impl TestRegistry {
    /// A registry publishing `trust` and `revoked`, the sample catalogue,
    /// and `sites`.
    pub fn new(trust: &[TrustedKey], revoked: &[Cti], sites: Vec<Site>) -> TestRegistry {
        let config = Config {
            trust: trust.iter().map(TrustEntry::of).collect(),
            revoked_cards: revoked.iter().map(Cti::to_hex).collect(),
            catalogue: catalogue_text(),
            sites,
        };
        let config_bytes = config.to_bytes();
        let parsed = Config::parse(&config_bytes).expect("test config is valid");
        TestRegistry {
            key: SigningKey::from_bytes(&[0x42; 32]),
            config_bytes,
            config: parsed,
        }
    }

    /// The vectors' trust list and revocations, and the given sites.
    pub fn of_vectors(v: &Value, sites: Vec<Site>) -> TestRegistry {
        TestRegistry::new(&trust_list(v), &revoked_cards(v), sites)
    }

    pub fn pinned(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Metadata for `version` describing `set` (the full set after
    /// applying), announcing an eligibility artefact of `raw` bytes
    /// applying from `from` (0: snapshot). Signed and opened again.
    pub fn meta(
        &self,
        version: u64,
        set: &[Item],
        eligibility: Option<(u64, &[u8])>,
        issued_at: i64,
    ) -> Metadata {
        let listings = set.iter().filter(|i| matches!(i, Item::Listing(_))).count() as u64;
        xinyi_testkit::Publication {
            version,
            issued_at,
            expires_at: issued_at + 400 * 86_400,
            set_hash: set_hash(set),
            listings,
            exclusions: set.len() as u64 - listings,
            config: &self.config_bytes,
            eligibility,
        }
        .sealed(&self.key)
    }

    pub fn config(&self) -> Option<(&[u8], &ParsedConfig)> {
        Some((self.config_bytes.as_slice(), &self.config))
    }
}

/// A site applying `measures`, never stale within the vectors' span.
pub fn site(id: &str, measures: &[&str]) -> Site {
    Site {
        id: id.into(),
        name: format!("counter {id}"),
        unit: "测试单位".into(),
        measures: measures.iter().map(|m| (*m).to_owned()).collect(),
        max_offline_age_s: 400 * 86_400,
        void_window_s: xinyi_core::wire::config::DEFAULT_VOID_WINDOW_S,
        unattended: false,
        online_deadline_ms: xinyi_core::wire::config::DEFAULT_ONLINE_DEADLINE_MS,
        check_holder: true,
        objection_url: None,
        complaint_url: None,
    }
}

/// Enrolls `store` at `site` with `terminal_key`'s id.
pub fn enroll(store: &mut Store, terminal_key: &SigningKey, site: &str, registry: &TestRegistry) {
    store
        .set_identity(&Identity {
            terminal_id: xinyi_core::wire::key_id(terminal_key.verifying_key().as_bytes()),
            site_id: site.into(),
            registry_key: registry.pinned(),
            hub_url: Some("http://127.0.0.1:1".into()),
            hub_ca: None,
        })
        .unwrap();
}

/// The registry's signed word, as the sync takes it after opening a
/// receipt: it holds the records of `key`'s terminal through `through`,
/// as of `as_of`. Returns what the store did.
pub fn hub_holds(
    store: &mut Store,
    key: &SigningKey,
    through: u64,
    as_of: i64,
) -> Result<xinyi::store::Settled, xinyi::store::StoreError> {
    let id = xinyi_core::wire::key_id(key.verifying_key().as_bytes());
    store.settle_holding(
        &xinyi_core::wire::receipt::Holding {
            terminal: id.clone(),
            through,
            hash: None,
            as_of,
        },
        &id,
        xinyi_core::UnixTime(as_of),
    )
}

pub fn terminal_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub fn redemption(n: u8, measure: &str, cti: u8, form: u8) -> Body {
    Body::Redemption {
        measure: measure.into(),
        sub: sub(n).to_string(),
        cti: vec![cti; 12],
        form,
        categories: vec!["P02".into()],
        original: 1000,
        discount: 500,
        payable: 500,
        companions: 0,
        checked: None,
    }
}

pub fn refusal(n: u8) -> Body {
    Body::Refusal {
        reason: "NOT_LISTED".into(),
        measure: "XYX-BUS-TOPUP".into(),
        sub: Some(sub(n).to_string()),
        cti: Some(vec![n; 10]),
        detail: "subject is on no list".into(),
        basis: None,
    }
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("terminal.db")
}
