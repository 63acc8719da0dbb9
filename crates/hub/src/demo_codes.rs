//! Demo mode's codes for a real phone: a hub holding the demo world (and
//! only such a hub) can be given a source of fresh codes for its listed
//! demo people, which `/c/demo` shows as QR codes refreshing every minute,
//! so that a tester can hold a phone to a counter's camera.

use std::fmt;
use std::sync::Arc;

use xinyi_core::UnixTime;

use crate::hub::Hub;

/// One code to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCode {
    pub label_zh: String,
    pub label_en: String,
    /// What the QR code carries.
    pub text: String,
}

/// Where fresh demo codes come from.
pub trait DemoCodes: Send + Sync + fmt::Debug {
    /// Codes minted at `now`.
    fn codes(&self, now: UnixTime) -> Vec<DemoCode>;
}

impl Hub {
    /// Turns on the demo page with `codes` (once; later calls do nothing).
    pub fn enable_demo_codes(&self, codes: Arc<dyn DemoCodes>) {
        let _ = self.demo.set(codes);
    }

    /// Fresh demo codes, if this hub holds the demo world.
    pub fn demo_codes(&self) -> Option<Vec<DemoCode>> {
        self.demo.get().map(|d| d.codes(self.now()))
    }
}
