//! The measures catalogue: arbitrary text through `Catalogue::from_toml`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xinyi_core::Catalogue;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Catalogue::from_toml(text);
    }
});
