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
        sub: SubjectId::from_bytes(&[0x5a; 16]),
        exp: UnixTime(1_773_106_320),
        iat: UnixTime(1_773_106_200),
        cti: Cti::from_hex("00112233445566778899aabb").unwrap(),
        kind: Kind::Person,
        name: "王*明".into(),
        form: Form::Dynamic,
    };
    (key, claims)
}

const GOLDEN_KID: &str = "3097e2dee2cb4a34";
/// `["Signature1", h'a2012704483097e2dee2cb4a34', h'', payload]`.
const GOLDEN_SIG_STRUCTURE: &str = concat!(
    "846a5369676e6174757265314da2012704483097e2dee2cb4a34405859",
    "a8016647442d59535302781a4c4a4e46555753324c4a4e46555753324c4a4e46555753324c49",
    "041a69af7490061a69af7418074c00112233445566778899aabb3a00010000003a00010001",
    "67e78e8b2ae6988e3a0001000200",
);
const GOLDEN_TEXT: &str = concat!(
    "XY1:RRQT 9P60GO0J66SUS9US6H98CK2FB/70J09:W51OA2E0RE3WH95+8Z1B6G6WH95+8Z1B6G6WH95+8Z1B6G6HA9BF368MF9IBF368MV13GR9L7",
    "2TL6$ZA05F8JJ5UN100000D1010010046D-0I2J5*CJ/E7V50HB027BDMK 22:W46Q4XG0TQAHO7V08XJCV61WQ4SNI5Z96GUHHOB6EO%60RU/1011",
    "1E+4C03B7E..4COCA2L NS8RVVK1J855$9CPR",
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
