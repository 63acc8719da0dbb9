//! Hand-made credentials for every MALFORMED rule of `credential.md`
//! ("Envelope", "Payload") and for strict signature checking, each
//! asserting the precise detail, not only the code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use xinyi_core::cbor::{self, Value};
use xinyi_core::credential::{self, Cti, Form, Iss, Malformed, claim, decode};
use xinyi_core::history::MemoryHistory;
use xinyi_core::issue::IssuerKey;
use xinyi_core::trust::{TrustError, TrustedKey};
use xinyi_core::verdict::MemoryData;
use xinyi_core::{Claims, Context, Kind, MeasureId, SubjectId, UnixTime, decide};

const NOW: i64 = 1_773_106_200;

fn key() -> IssuerKey {
    IssuerKey::from_seed(Iss::Yss, [7; 32])
}

fn claims() -> Claims {
    Claims {
        iss: Iss::Yss,
        sub: SubjectId::from_bytes(&[1; 16]),
        exp: UnixTime(NOW + 120),
        iat: UnixTime(NOW - 60),
        cti: Cti::new(vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).unwrap(),
        kind: Kind::Person,
        name: "王*明".into(),
        form: Form::Dynamic,
    }
}

fn protected(pairs: Vec<(Value, Value)>) -> Vec<u8> {
    cbor::encode(&Value::Map(pairs))
}

fn good_protected() -> Vec<u8> {
    protected(vec![
        (Value::int(1), Value::int(-8)),
        (Value::int(4), Value::Bytes(key().kid().0.to_vec())),
    ])
}

/// The claims map with `edit` applied to its pairs.
fn payload(edit: impl FnOnce(&mut Vec<(Value, Value)>)) -> Vec<u8> {
    let c = claims();
    let mut pairs = vec![
        (Value::int(claim::ISS), Value::Text(c.iss.as_str().into())),
        (Value::int(claim::SUB), Value::Text(c.sub.as_str().into())),
        (Value::int(claim::EXP), Value::Unsigned(c.exp.0 as u64)),
        (Value::int(claim::IAT), Value::Unsigned(c.iat.0 as u64)),
        (
            Value::int(claim::CTI),
            Value::Bytes(c.cti.as_bytes().to_vec()),
        ),
        (Value::int(claim::KIND), Value::Unsigned(0)),
        (Value::int(claim::NAME), Value::Text(c.name.clone())),
        (Value::int(claim::FORM), Value::Unsigned(0)),
    ];
    edit(&mut pairs);
    cbor::encode(&Value::Map(pairs))
}

fn set(pairs: &mut [(Value, Value)], key: i128, v: Value) {
    pairs
        .iter_mut()
        .find(|(k, _)| k.as_int() == Some(key))
        .unwrap()
        .1 = v;
}

fn remove(pairs: &mut Vec<(Value, Value)>, key: i128) {
    pairs.retain(|(k, _)| k.as_int() != Some(key));
}

fn mint(protected: Vec<u8>, payload: Vec<u8>) -> String {
    key().mint_raw(protected, Value::Map(vec![]), payload, true)
}

#[test]
fn minted_credential_round_trips() {
    let text = key().mint(&claims(), true);
    let d = decode(&text).unwrap();
    assert_eq!(d.claims, claims());
    assert!(d.tagged);
    assert_eq!(d.kid, key().kid());
    let untagged = decode(&key().mint(&claims(), false)).unwrap();
    assert!(!untagged.tagged);
    assert_eq!(untagged.claims, claims());
}

#[test]
fn header_rules() {
    let kid = Value::Bytes(key().kid().0.to_vec());
    let cases: Vec<(Vec<u8>, Malformed)> = vec![
        (
            protected(vec![(Value::int(4), kid.clone())]),
            Malformed::MissingAlg,
        ),
        (Vec::new(), Malformed::MissingAlg),
        (
            protected(vec![
                (Value::int(1), Value::int(-7)),
                (Value::int(4), kid.clone()),
            ]),
            Malformed::WrongAlg("-7".into()),
        ),
        (
            protected(vec![
                (Value::int(1), Value::Text("EdDSA".into())),
                (Value::int(4), kid.clone()),
            ]),
            Malformed::WrongAlg("\"EdDSA\"".into()),
        ),
        (
            protected(vec![(Value::int(1), Value::int(-8))]),
            Malformed::MissingKid,
        ),
        (
            protected(vec![
                (Value::int(1), Value::int(-8)),
                (Value::int(4), Value::Bytes(vec![0; 7])),
            ]),
            Malformed::BadKid("7 bytes".into()),
        ),
        (
            protected(vec![
                (Value::int(1), Value::int(-8)),
                (Value::int(4), Value::Text("kid".into())),
            ]),
            Malformed::BadKid("a text string".into()),
        ),
        (
            protected(vec![
                (Value::int(1), Value::int(-8)),
                (Value::int(2), Value::Array(vec![Value::int(99)])),
                (Value::int(4), kid.clone()),
            ]),
            Malformed::Crit,
        ),
        (
            protected(vec![
                (Value::int(1), Value::int(-8)),
                (Value::int(1), Value::int(-8)),
                (Value::int(4), kid),
            ]),
            Malformed::DuplicateKey {
                part: credential::Part::ProtectedHeader,
                key: "1".into(),
            },
        ),
    ];
    for (p, want) in cases {
        assert_eq!(
            decode(&mint(p, payload(|_| {}))),
            Err(want.clone()),
            "{want}"
        );
    }
}

#[test]
fn unprotected_alg_or_kid_is_malformed() {
    for label in [1, 4] {
        let un = Value::Map(vec![(Value::int(label), Value::Bytes(vec![0; 8]))]);
        let text = key().mint_raw(good_protected(), un, payload(|_| {}), true);
        assert_eq!(decode(&text), Err(Malformed::UnprotectedLabel(label)));
    }
    // Other unprotected labels are allowed.
    let un = Value::Map(vec![(Value::int(33), Value::Bytes(vec![1]))]);
    assert!(decode(&key().mint_raw(good_protected(), un, payload(|_| {}), true)).is_ok());
}

/// A change to the claims map.
type Edit = Box<dyn FnOnce(&mut Vec<(Value, Value)>)>;

#[test]
fn claim_rules() {
    let cases: Vec<(Edit, &str, Malformed)> = vec![
        (
            Box::new(|p| remove(p, claim::EXP)),
            "exp",
            Malformed::MissingClaim("exp"),
        ),
        (
            Box::new(|p| remove(p, claim::CTI)),
            "cti",
            Malformed::MissingClaim("cti"),
        ),
        (
            Box::new(|p| remove(p, claim::FORM)),
            "form",
            Malformed::MissingClaim("form"),
        ),
        (
            Box::new(|p| set(p, claim::IAT, Value::Text("now".into()))),
            "iat",
            Malformed::ClaimType {
                claim: "iat",
                expected: "unsigned integer",
                found: "text string",
            },
        ),
        (
            Box::new(|p| set(p, claim::EXP, Value::int(-5))),
            "exp",
            Malformed::ClaimType {
                claim: "exp",
                expected: "unsigned integer",
                found: "negative integer",
            },
        ),
        (
            Box::new(|p| set(p, claim::CTI, Value::Bytes(vec![0; 7]))),
            "cti",
            Malformed::ClaimValue {
                claim: "cti",
                why: "cti must be 8–16 bytes, got 7".into(),
            },
        ),
        (
            Box::new(|p| set(p, claim::CTI, Value::Bytes(vec![0; 17]))),
            "cti",
            Malformed::ClaimValue {
                claim: "cti",
                why: "cti must be 8–16 bytes, got 17".into(),
            },
        ),
        (
            Box::new(|p| set(p, claim::NAME, Value::Text("张".repeat(22)))),
            "name",
            Malformed::ClaimValue {
                claim: "name",
                why: "66 bytes, above the limit of 64".into(),
            },
        ),
        (
            Box::new(|p| set(p, claim::FORM, Value::Unsigned(2))),
            "form",
            Malformed::ClaimValue {
                claim: "form",
                why: "2 is not 0 (dynamic) or 1 (printed card)".into(),
            },
        ),
        (
            Box::new(|p| set(p, claim::KIND, Value::Unsigned(1))),
            "kind",
            Malformed::KindMismatch {
                kind: Kind::Enterprise,
                iss: Iss::Yss,
            },
        ),
        (
            Box::new(|p| set(p, claim::ISS, Value::Text("GD-XXX".into()))),
            "iss",
            Malformed::ClaimValue {
                claim: "iss",
                why: "\"GD-XXX\" is not GD-YSS or GD-YST".into(),
            },
        ),
        (
            Box::new(|p| {
                set(
                    p,
                    claim::SUB,
                    Value::Text("ulfsd7fu7ncragfgxibibg2uuu".into()),
                )
            }),
            "sub",
            Malformed::ClaimValue {
                claim: "sub",
                why: "pseudonym has 'u', outside the base32 alphabet A–Z 2–7".into(),
            },
        ),
        (
            Box::new(|p| p.push((Value::int(claim::ISS), Value::Text("GD-YSS".into())))),
            "payload",
            Malformed::DuplicateKey {
                part: credential::Part::Payload,
                key: "1".into(),
            },
        ),
    ];
    for (edit, field, want) in cases {
        let got = decode(&mint(good_protected(), payload(edit)));
        assert_eq!(got, Err(want.clone()), "{want}");
        assert_eq!(want.field(), field);
    }
    // Unknown claims are ignored.
    let extra = payload(|p| {
        p.push((Value::int(99), Value::Float(1.5f64.to_bits())));
        p.push((Value::Text("note".into()), Value::Null));
    });
    let d = decode(&mint(good_protected(), extra)).unwrap();
    assert_eq!(d.claims, claims());
}

#[test]
fn envelope_rules() {
    let raw = |v: &Value| format!("XY1:{}", xinyi_core::base45::encode(&cbor::encode(v)));
    let sig = Value::Bytes(vec![0; 64]);
    let parts = |payload: Value, sig: Value| {
        Value::Array(vec![
            Value::Bytes(good_protected()),
            Value::Map(vec![]),
            payload,
            sig,
        ])
    };
    assert_eq!(
        decode(&raw(&Value::Tag(
            61,
            Box::new(parts(Value::Bytes(payload(|_| {})), sig.clone()))
        ))),
        Err(Malformed::WrongTag(61))
    );
    assert_eq!(
        decode(&raw(&parts(Value::Null, sig.clone()))),
        Err(Malformed::DetachedPayload)
    );
    assert_eq!(
        decode(&raw(&parts(
            Value::Bytes(payload(|_| {})),
            Value::Bytes(vec![0; 63])
        ))),
        Err(Malformed::SignatureLength(63))
    );
    assert_eq!(
        decode(&raw(&Value::Map(vec![]))),
        Err(Malformed::NotSign1("a map".into()))
    );
    // Bytes after the COSE structure.
    let mut bytes = cbor::encode(&parts(Value::Bytes(payload(|_| {})), sig));
    bytes.push(0);
    let got = decode(&format!("XY1:{}", xinyi_core::base45::encode(&bytes)));
    assert!(matches!(got, Err(Malformed::Cbor { .. })), "{got:?}");
    // Over 1,200 characters, even though well signed.
    let long = payload(|p| p.push((Value::int(100), Value::Bytes(vec![0; 800]))));
    let text = mint(good_protected(), long);
    assert!(text.len() > 1200);
    assert_eq!(decode(&text), Err(Malformed::TooLong(text.chars().count())));
}

fn data_for(k: &IssuerKey) -> MemoryData {
    let trusted = TrustedKey::new(
        Iss::Yss,
        k.public_key(),
        UnixTime(0),
        UnixTime(i64::MAX / 2),
        false,
        None,
    )
    .unwrap();
    MemoryData::new(vec![trusted], vec![], Default::default())
}

fn verdict_code(data: &MemoryData, text: &str) -> &'static str {
    let ctx = Context {
        measures: &[],
        skew_s: 60,
        max_offline_age_s: 3600,
        data_as_of: Some(UnixTime(NOW)),
        clock_floor: None,
    };
    let measure = MeasureId::parse("X").unwrap();
    decide(
        &ctx,
        data,
        &MemoryHistory::new(),
        text,
        &measure,
        UnixTime(NOW),
    )
    .unwrap()
    .code()
}

#[test]
fn non_canonical_signature_is_refused() {
    // S + L, the group order: accepted by lax verifiers, not by strict ones.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let k = key();
    let p = payload(|_| {});
    let mut sig = k.sign(&good_protected(), &p);
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0);
    let text = format!(
        "XY1:{}",
        xinyi_core::base45::encode(&cbor::encode(&Value::Array(vec![
            Value::Bytes(good_protected()),
            Value::Map(vec![]),
            Value::Bytes(p.clone()),
            Value::Bytes(sig.to_vec()),
        ])))
    );
    let data = data_for(&k);
    assert_eq!(
        verdict_code(&data, &mint(good_protected(), p)),
        "NOT_LISTED"
    );
    assert_eq!(verdict_code(&data, &text), "BAD_SIGNATURE");
}

#[test]
fn weak_and_mismatched_trust_entries_are_refused() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        TrustedKey::new(Iss::Yss, identity, UnixTime(0), UnixTime(1), false, None),
        Err(TrustError::WeakKey)
    );
    let k = key();
    let wrong = xinyi_core::Kid([0; 8]);
    assert!(matches!(
        TrustedKey::new(
            Iss::Yss,
            k.public_key(),
            UnixTime(0),
            UnixTime(1),
            false,
            Some(wrong)
        ),
        Err(TrustError::KidMismatch { .. })
    ));
}

#[test]
fn scanner_additions_do_not_change_the_verdict() {
    let k = key();
    let text = k.mint(&claims(), true);
    let data = data_for(&k);
    for wrapped in [
        format!("{text}\r\n"),
        format!("]Q1{text}\n"),
        format!("]Q3\\000026{text}\r"),
        format!("  {text}  "),
    ] {
        assert_eq!(verdict_code(&data, &wrapped), "NOT_LISTED", "{wrapped:?}");
    }
}
