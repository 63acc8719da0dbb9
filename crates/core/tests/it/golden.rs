//! Golden tests: they freeze the wire format. Regenerate only when the
//! format is intentionally migrated (it is fixed by `credential.md`, so
//! that should be never).

#![allow(clippy::unwrap_used)]

use xinyi_core::credential::{Cti, Form, Iss, decode};
use xinyi_core::hex;
use xinyi_core::issue::IssuerKey;
use xinyi_core::{Claims, Kind, SubjectId, UnixTime};

fn fixed() -> (IssuerKey, Claims) {
    let key = IssuerKey::from_seed(Iss::Yss, [0x42; 32]);
    let claims = Claims {
        iss: Iss::Yss,
        sub: SubjectId::parse("ULFSD7FU7NCRAGFGXIBIBG2UUU").unwrap(),
        exp: UnixTime(1_773_106_320),
        iat: UnixTime(1_773_106_200),
        cti: Cti::from_hex("00112233445566778899aabb").unwrap(),
        kind: Kind::Person,
        name: "李*玲".into(),
        form: Form::Dynamic,
    };
    (key, claims)
}

const GOLDEN_KID: &str = "3097e2dee2cb4a34";
/// `["Signature1", h'a2012704483097e2dee2cb4a34', h'', payload]`.
const GOLDEN_SIG_STRUCTURE: &str = concat!(
    "846a5369676e6174757265314da2012704483097e2dee2cb4a34405859",
    "a8016647442d59535302781a554c465344374655374e43524147464758494249424732555555",
    "041a69af7490061a69af7418074c00112233445566778899aabb3a00010000003a00010001",
    "67e69d8e2ae78eb23a0001000200"
);
const GOLDEN_TEXT: &str = concat!(
    "XY1:RRQT 9P60GO0J66SUS9US6H98CK2FB/70J09:W51OA2E0 E3-S9VNAK:6ZYAA+9.HAL09*09YB9YB9109KZATXABF368MF9IBF368MV13GR9",
    "L72TL6$ZA05F8JJ5UN100000D1010010036DE-J3J5Z1I/E7V50HB027BS/MUCDLRDHWJW/A4DHR82.98J7BG9D05422TXP4P192ZLZ*T7 ASW515",
    "T709U/4RL1M8J6*Q84JKLH3MN7G0M-O:BE717LFJ"
);

#[test]
fn golden_sig_structure_and_credential() {
    let (key, claims) = fixed();
    let text = key.mint(&claims, true);
    let d = decode(&text).unwrap();
    assert_eq!(key.kid().to_hex(), GOLDEN_KID);
    assert_eq!(hex::encode(&d.sig_structure()), GOLDEN_SIG_STRUCTURE);
    assert_eq!(text, GOLDEN_TEXT);
}

#[test]
fn golden_text_decodes_to_the_fixed_claims() {
    let (key, claims) = fixed();
    let d = decode(GOLDEN_TEXT).unwrap();
    assert_eq!(d.claims, claims);
    assert!(d.tagged);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key()).unwrap();
    assert!(d.verify(&vk));
}
