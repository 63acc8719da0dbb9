//! List submissions: arbitrary bytes as a listings file, an exclusions file
//! and plain CSV. A listings file that checks must also import.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xinyi_core::Date;
use xinyi_core::listing::{self, ImportSummary, Registry};

fuzz_target!(|data: &[u8]| {
    let Some(today) = Date::new(2026, 3, 10) else {
        return;
    };
    let checked = listing::check_listings(data, today, |_| None);
    let _ = listing::check_exclusions(data, today, |_| None);
    let _ = xinyi_core::csv::records(data);

    if let Ok(changes) = checked {
        // A fresh registry holds nothing, exactly like `|_| None` above.
        let mut registry = Registry::new();
        match registry.import_listings(data, today) {
            Ok(summary) => assert_eq!(
                summary,
                ImportSummary::of(&changes),
                "import disagrees with the check"
            ),
            Err(report) => {
                panic!("check_listings accepted the file but import refused it:\n{report}")
            }
        }
    }
});
