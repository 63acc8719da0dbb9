//! The demo world, in one place for the demo counter and every test and
//! benchmark that needs people, issuers and lists: a pseudonym key, demo
//! issuers standing in for 粤省事 and 粤商通, listings and exclusions, the
//! demo catalogue, sample codes for every kind of verdict ([`DemoWorld`]),
//! and a registry hub holding all of it ([`seed::demo_hub`]).
//!
//! A counter built without its `demo` feature links none of this.

mod world;

pub mod seed;

pub use world::*;

impl xinyi_hub::demo_codes::DemoCodes for DemoWorld {
    /// The listed demo person's and enterprise's app codes, minted at
    /// `now`: what `/c/demo` shows for a phone.
    fn codes(&self, now: xinyi_core::UnixTime) -> Vec<xinyi_hub::demo_codes::DemoCode> {
        self.sample_codes(now)
            .into_iter()
            .filter(|c| matches!(c.id, "person" | "enterprise"))
            .map(|c| xinyi_hub::demo_codes::DemoCode {
                label_zh: c.label_zh.to_owned(),
                label_en: c.label_en.to_owned(),
                text: c.text,
            })
            .collect()
    }
}
