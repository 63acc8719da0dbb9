//! The eligibility artefact (snapshot or delta) as a terminal reads it after
//! decompressing: `wire::eligibility::Reader` over arbitrary bytes. Every
//! item read is re-encoded and read back (the encoding is canonical, so the
//! item must come back the same), and added to and removed from a set hash
//! (which must return to empty).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xinyi_core::wire::eligibility::{Reader, SetHash, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = Reader::new(data) else {
        return;
    };
    let header = reader.header();
    let mut items = Vec::new();
    for item in reader {
        match item {
            Ok(i) => items.push(i),
            Err(_) => return,
        }
    }
    // Fully read: the same items encode back to the same bytes.
    let again = encode(header, &items);
    assert_eq!(again, data, "a valid artefact re-encodes differently");
    let mut h = SetHash::new();
    for i in &items {
        h.add(i);
    }
    for i in items.iter().rev() {
        h.remove(i);
    }
    assert_eq!(h, SetHash::new());
});
