//! The scanned QR text: arbitrary bytes through the credential decoder and
//! the full verdict against the conformance trust list.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xinyi_core::credential::{self, Iss};
use xinyi_core::hex;
use xinyi_core::history::MemoryHistory;
use xinyi_core::listing::Registry;
use xinyi_core::trust::TrustedKey;
use xinyi_core::verdict::{self, Context, MemoryData};
use xinyi_core::{Catalogue, Cti, Kid, MeasureId, PseudonymKey, UnixTime};

/// The trust list of `shared/vectors/credentials.json`:
/// (kid, iss, public key, not_before, not_after, revoked).
const TRUST_LIST: [(&str, &str, &str, i64, i64, bool); 4] = [
    (
        "3ba91622475b1920",
        "GD-YSS",
        "485d7b91658663e3ad65f9bc317882635cea54f48fbd463f192998ac9683a23f",
        1735660800,
        1830268799,
        false,
    ),
    (
        "4fcaa04cbd6cd7dd",
        "GD-YSS",
        "7e8196373cb95aa0d14574b353bce8ea3ad5932b7a0e32b46577ad8c1c3d5320",
        1672502400,
        1735660799,
        false,
    ),
    (
        "14157ec4623813be",
        "GD-YST",
        "a64f0b6253c28ac4977ed61c89505278dde718939f4af7f690effe1cc9976d29",
        1735660800,
        1830268799,
        false,
    ),
    (
        "b6495d3cd9f1dacd",
        "GD-YSS",
        "c2ad473d02a98b29b0b128ef65cf328134358a17f9093a4d642c8e5b04ac6b94",
        1735660800,
        1830268799,
        true,
    ),
];
/// `revoked_cards_cti_hex` of the same file.
const REVOKED_CARDS: [&str; 1] = ["6ca87de7e7db9d4c748e7224"];
/// `k_pseudo_hex` of the same file.
const K_PSEUDO: &str = "e6c0ed0fe64c38f1cf372b96dde64bad39864230d472b4c00f55cea83a7311fc";

/// The scan time of the first bus top-up scenario (2026-03-10, UTC+8).
const NOW: UnixTime = UnixTime(1773106200);
const MEASURE: &str = "XYX-BUS-TOPUP";

// Compile-time copies of the shared reference data: the binary reads no file.
const MEASURES_TOML: &str = include_str!("../../../shared/data/measures.toml");
const LISTINGS_CSV: &[u8] = include_bytes!("../../../shared/vectors/listings.csv");
const EXCLUSIONS_CSV: &[u8] = include_bytes!("../../../shared/vectors/exclusions.csv");

struct Fixture {
    data: MemoryData,
    history: MemoryHistory,
    catalogue: Catalogue,
    measure: MeasureId,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = TRUST_LIST
            .iter()
            .map(|&(kid, iss, key, not_before, not_after, revoked)| {
                TrustedKey::new(
                    Iss::parse(iss).expect("trust list iss"),
                    hex::decode_array::<32>(key).expect("trust list key hex"),
                    UnixTime(not_before),
                    UnixTime(not_after),
                    revoked,
                    Some(Kid::from_hex(kid).expect("trust list kid hex")),
                )
                .expect("trust list entry")
            })
            .collect();
        let revoked = REVOKED_CARDS
            .iter()
            .map(|c| Cti::from_hex(c).expect("revoked cti"))
            .collect();
        let eligibility = {
            let today = NOW.date_utc8();
            let mut registry = Registry::new();
            registry
                .import_listings(LISTINGS_CSV, today)
                .expect("listings.csv imports");
            registry
                .import_exclusions(EXCLUSIONS_CSV, today)
                .expect("exclusions.csv imports");
            let key =
                PseudonymKey::from_bytes(hex::decode_array::<32>(K_PSEUDO).expect("k_pseudo"));
            registry.eligibility(&key)
        };
        Fixture {
            data: MemoryData::new(keys, revoked, eligibility),
            history: MemoryHistory::new(),
            catalogue: Catalogue::from_toml(MEASURES_TOML).expect("measures.toml is valid"),
            measure: MeasureId::parse(MEASURE).expect("a well-formed measure id"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let from_bytes = credential::decode_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(from_bytes.is_err(), "decode_bytes accepted non-UTF-8 input");
        return;
    };

    let _ = credential::clean_scanned(text);
    let decoded = credential::decode(text);
    assert_eq!(decoded, from_bytes, "decode and decode_bytes disagree");
    if let Ok(cred) = &decoded {
        let _ = cred.sig_structure();
        assert_eq!(
            &credential::decode(text),
            &decoded,
            "decode is not deterministic"
        );
    }

    let f = fixture();
    let ctx = Context {
        measures: f.catalogue.measures(),
        skew_s: verdict::DEFAULT_SKEW_S,
        max_offline_age_s: verdict::DEFAULT_MAX_OFFLINE_AGE_S,
        data_as_of: Some(NOW),
        clock_floor: None,
    };
    let _ = xinyi_core::decide(&ctx, &f.data, &f.history, text, &f.measure, NOW);
});
