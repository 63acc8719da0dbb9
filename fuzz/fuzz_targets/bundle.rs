//! What a terminal reads from a USB stick and the hub from a records file,
//! and every signed answer of the hub: `Bundle::parse` and its
//! `metadata_len` pre-check, `parse_records`, `decode_batch`, and opening
//! metadata, receipts, revocation notices and enrollment grants (which
//! must all be refused: nothing here holds a valid signature).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use xinyi_core::wire::bundle::{BUNDLE_HEAD, Bundle, parse_records};
use xinyi_core::wire::enroll::EnrollGrant;
use xinyi_core::wire::journal::decode_batch;
use xinyi_core::wire::metadata::Metadata;
use xinyi_core::wire::receipt::{RevocationNotice, UploadReceipt};
use xinyi_core::wire::{Fingerprint, envelope};

fn pinned() -> &'static ed25519_dalek::VerifyingKey {
    static KEY: OnceLock<ed25519_dalek::VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Bundle::parse(data) {
        // A parsed bundle re-encodes to the same bytes, and its pre-check
        // agrees with the full parse.
        assert_eq!(b.to_bytes(), data);
        assert_eq!(
            Bundle::metadata_len(&data[..BUNDLE_HEAD]).ok(),
            u32::try_from(b.metadata.len()).ok()
        );
        assert_eq!(
            Bundle::size(
                b.metadata.len() as u64,
                b.config.len() as u64,
                b.eligibility.len() as u64
            ),
            data.len() as u64
        );
    }
    let _ = Bundle::metadata_len(data);
    let _ = parse_records(data);
    let _ = decode_batch(data);
    let _ = envelope::peek(data);
    assert!(Metadata::open(data, pinned()).is_err());
    assert!(Metadata::open_following(data, pinned()).is_err());
    assert!(UploadReceipt::open(data, pinned()).is_err());
    assert!(RevocationNotice::open(data, pinned()).is_err());
    let _ = EnrollGrant::open(data, &Fingerprint::of(pinned().as_bytes()));
});
