//! Property tests. CI runs proptest's default budget; raise it with
//! `PROPTEST_CASES=100000 cargo test -p xinyi-core --test it properties::`.
//! The long runs are the cargo-fuzz targets in `fuzz/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use xinyi_core::credential::{self, Cti, Form, Iss, decode};
use xinyi_core::history::MemoryHistory;
use xinyi_core::ids::base32_nopad;
use xinyi_core::issue::IssuerKey;
use xinyi_core::listing::{check_exclusions, check_listings};
use xinyi_core::measures::Benefit;
use xinyi_core::money::{MAX_AMOUNT, MAX_COMPANIONS};
use xinyi_core::trust::TrustedKey;
use xinyi_core::verdict::MemoryData;
use xinyi_core::{
    Claims, Context, Date, Fen, Kind, MeasureId, SubjectId, UnixTime, base45, decide,
};

fn claims_strategy() -> impl Strategy<Value = Claims> {
    (
        any::<bool>(),
        proptest::array::uniform16(any::<u8>()),
        0u64..4_000_000_000,
        0u64..1_000_000,
        proptest::collection::vec(any::<u8>(), 8..=16),
        "\\PC{0,16}",
        any::<bool>(),
    )
        .prop_map(|(enterprise, sub, iat, life, cti, name, card)| {
            let (iss, kind) = if enterprise {
                (Iss::Yst, Kind::Enterprise)
            } else {
                (Iss::Yss, Kind::Person)
            };
            let mut name: String = name;
            while name.len() > 64 {
                name.pop();
            }
            Claims {
                iss,
                sub: SubjectId::parse(&base32_nopad(&sub)).unwrap(),
                exp: UnixTime((iat + life) as i64),
                iat: UnixTime(iat as i64),
                cti: Cti::new(cti).unwrap(),
                kind,
                name,
                form: if card {
                    Form::PrintedCard
                } else {
                    Form::Dynamic
                },
            }
        })
}

fn benefit_strategy() -> impl Strategy<Value = Benefit> {
    prop_oneof![
        (1u8..=100, proptest::option::of(0u64..=MAX_AMOUNT.0)).prop_map(|(percent, cap)| {
            Benefit::PercentOff {
                percent,
                max_discount: cap.map(Fen),
            }
        }),
        (0u64..=MAX_AMOUNT.0).prop_map(|a| Benefit::FixedOff { amount_off: Fen(a) }),
        (0u8..=100, proptest::option::of(0u32..30)).prop_map(
            |(companion_percent, companion_max)| Benefit::FreeEntry {
                companion_percent,
                companion_max
            }
        ),
        Just(Benefit::Waiver {
            what: "押金".into()
        }),
        Just(Benefit::Privilege {
            what: "优先".into()
        }),
    ]
}

proptest! {
    #[test]
    fn base45_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = base45::encode(&bytes);
        prop_assert_eq!(base45::decode(&text).unwrap(), bytes);
    }

    #[test]
    fn base45_decoding_is_canonical(text in "[0-9A-Z $%*+./:-]{0,90}") {
        // A text that decodes is the only encoding of its bytes.
        if let Ok(bytes) = base45::decode(&text) {
            prop_assert_eq!(base45::encode(&bytes), text);
        }
    }

    #[test]
    fn encode_then_decode_round_trips(claims in claims_strategy(), seed in any::<[u8; 32]>(), tagged in any::<bool>()) {
        let key = IssuerKey::from_seed(claims.iss, seed);
        let text = key.mint(&claims, tagged);
        let d = decode(&text).unwrap();
        prop_assert_eq!(&d.claims, &claims);
        prop_assert_eq!(d.kid, key.kid());
        prop_assert_eq!(d.tagged, tagged);
        let vk = ed25519_dalek_key(&key);
        prop_assert!(d.verify(&vk));
    }

    #[test]
    fn a_changed_character_never_verifies_with_other_claims(
        claims in claims_strategy(), seed in any::<[u8; 32]>(), pos in any::<prop::sample::Index>(), ch in "[0-9A-Z $%*+./:-]"
    ) {
        let key = IssuerKey::from_seed(claims.iss, seed);
        let text = key.mint(&claims, true);
        let i = 4 + pos.index(text.len() - 4);
        let mut mutated = text.clone();
        mutated.replace_range(i..=i, &ch);
        if let Ok(d) = decode(&mutated)
            && d.verify(&ed25519_dalek_key(&key))
        {
            prop_assert_eq!(d.claims, claims);
        }
    }

    #[test]
    fn amounts_never_negative_and_rounded_half_up(
        benefit in benefit_strategy(), amount in 0u64..=MAX_AMOUNT.0, companions in 0u32..=MAX_COMPANIONS
    ) {
        let companions = if matches!(benefit, Benefit::FreeEntry { .. }) { companions } else { 0 };
        let a = benefit.compute(Fen(amount), companions).unwrap();
        prop_assert_eq!(a.original.0, a.discount.0 + a.payable.0);
        prop_assert!(a.discount <= a.original);
        match benefit {
            Benefit::PercentOff { percent, max_discount } => {
                // Exact rational check: |discount − amount·p/100| ≤ 1/2, ties up.
                let exact = u128::from(amount) * u128::from(percent);
                let uncapped = (exact + 50) / 100;
                match max_discount {
                    Some(cap) if u128::from(cap.0) < uncapped => prop_assert_eq!(a.discount, cap),
                    _ => {
                        let d = u128::from(a.discount.0) * 100;
                        prop_assert!(d + 50 > exact && d <= exact + 50, "d={} exact={}", d, exact);
                    }
                }
            }
            Benefit::FreeEntry { companion_percent, companion_max } => {
                let n = u64::from(companions);
                prop_assert_eq!(a.original.0, amount * (1 + n));
                let k = companion_max.map_or(n, |m| n.min(u64::from(m)));
                let per = (amount * u64::from(companion_percent) + 50) / 100;
                prop_assert_eq!(a.discount.0, amount + k * per);
            }
            Benefit::FixedOff { amount_off } => prop_assert_eq!(a.discount.0, amount_off.0.min(amount)),
            Benefit::Waiver { .. } => prop_assert_eq!(a.payable, Fen(0)),
            Benefit::Privilege { .. } => prop_assert_eq!(a.original, Fen(0)),
        }
    }

    #[test]
    fn decoder_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = credential::decode_bytes(&bytes);
        let _ = xinyi_core::cbor::decode(&bytes);
        let _ = decode(&format!("XY1:{}", base45::encode(&bytes)));
    }

    #[test]
    fn decoder_never_panics_on_strings(s in "\\PC{0,1500}") {
        let _ = decode(&s);
        let _ = decode(&format!("XY1:{s}"));
        let _ = credential::clean_scanned(&s);
    }

    #[test]
    fn verdict_never_panics(s in "(XY1:)?[0-9A-Z $%*+./:-]{0,400}") {
        let key = IssuerKey::from_seed(Iss::Yss, [3; 32]);
        let trusted = TrustedKey::new(Iss::Yss, key.public_key(), UnixTime(0), UnixTime(1 << 40), false, None).unwrap();
        let data = MemoryData::new(vec![trusted], vec![], Default::default());
        let ctx = Context { measures: &[], skew_s: 60, max_offline_age_s: 60, data_as_of: Some(UnixTime(0)), clock_floor: None };
        let measure = MeasureId::parse("M").unwrap();
        let v = decide(&ctx, &data, &MemoryHistory::new(), &s, &measure, UnixTime(30)).unwrap();
        prop_assert!(!v.code().is_empty());
    }

    #[test]
    fn csv_import_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let today = Date::new(2026, 3, 10).unwrap();
        let _ = check_listings(&bytes, today, |_| None);
        let _ = check_exclusions(&bytes, today, |_| None);
    }

    #[test]
    fn csv_rows_never_panic(rows in proptest::collection::vec(
        proptest::collection::vec("[a-z0-9X\",\\-\r\n 张]{0,20}", 0..12), 0..8)
    ) {
        let mut text = String::from("kind,id_number,name,category,honour,source,recognised_on,valid_until,extension_ref,action\n");
        for r in rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        let today = Date::new(2026, 3, 10).unwrap();
        if let Err(report) = check_listings(text.as_bytes(), today, |_| None) {
            prop_assert!(!report.errors.is_empty());
            prop_assert!(report.errors.windows(2).all(|w| w[0].line <= w[1].line));
        }
    }

    /// Every parser of the sync channel faces bytes from the network or a
    /// USB stick: none may panic, whatever arrives.
    #[test]
    fn channel_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        use xinyi_core::wire::{bundle, config, enroll, envelope, eligibility, journal, metadata};
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        let _ = metadata::Metadata::open(&bytes, &key);
        let _ = metadata::Metadata::open_following(&bytes, &key);
        let _ = envelope::open(&bytes, envelope::Purpose::Bundle, &key);
        let _ = envelope::peek(&bytes);
        let _ = bundle::Bundle::parse(&bytes);
        let _ = bundle::parse_records(&bytes);
        let _ = journal::decode_batch(&bytes);
        let _ = journal::Record::decode(&bytes);
        let _ = config::Config::parse(&bytes);
        let _ = enroll::EnrollGrant::open(&bytes, &xinyi_core::wire::Fingerprint::of(key.as_bytes()));
        let _ = xinyi_core::wire::receipt::UploadReceipt::open(&bytes, &key);
        let _ = xinyi_core::wire::receipt::RevocationNotice::open(&bytes, &key);
        let _ = bundle::Bundle::metadata_len(&bytes);
        if let Ok(r) = eligibility::Reader::new(&bytes) {
            for item in r {
                if item.is_err() { break; }
            }
        }
    }

    /// The same parsers on inputs that start right: a valid header or
    /// envelope followed by arbitrary bytes gets past the first checks.
    #[test]
    fn channel_parsers_never_panic_past_their_headers(tail in proptest::collection::vec(any::<u8>(), 0..2000), n in 0u64..50) {
        use xinyi_core::wire::{bundle, eligibility, journal};
        let mut e = Vec::new();
        eligibility::write_header(&mut e, eligibility::Header { kind: eligibility::ArtefactKind::Delta, from: 1, to: 2, items: n });
        e.extend_from_slice(&tail);
        if let Ok(r) = eligibility::Reader::new(&e) {
            for item in r {
                if item.is_err() { break; }
            }
        }
        let mut b = b"XYB1".to_vec();
        b.extend_from_slice(&tail);
        let _ = bundle::Bundle::parse(&b);
        let mut rec = b"XYR1".to_vec();
        rec.extend_from_slice(&tail);
        let _ = bundle::parse_records(&rec);
        let mut batch = vec![0x81, 0x82, 0x58, 0x20];
        batch.extend_from_slice(&tail);
        let _ = journal::decode_batch(&batch);
        let mut record = vec![0x89, 0x01, 0x50];
        record.extend_from_slice(&tail);
        let _ = journal::Record::decode(&record);
    }

    #[test]
    fn dates_round_trip(days in -700_000i64..2_900_000) {
        let d = Date::from_days(days);
        prop_assert_eq!(d.to_days(), days);
        prop_assert_eq!(d.to_string().parse::<Date>().ok(), Some(d).filter(|d| d.year() >= 1 && d.year() <= 9999));
    }
}

fn ed25519_dalek_key(key: &IssuerKey) -> ed25519_dalek::VerifyingKey {
    ed25519_dalek::VerifyingKey::from_bytes(&key.public_key()).unwrap()
}
