//! The demo drawer: sample codes minted by the demo world, the demo's
//! sites, and the operators' PINs. Built only with the `demo` feature.

use std::sync::Arc;

use xinyi_core::UnixTime;
use xinyi_demo::DemoWorld;

use crate::settings::Lang;
use crate::ui::view::{DemoSite, DemoView, SampleRow, SiteRow};

/// The demo drawer's replay button.
pub const REPLAY: &str = "replay";
/// The demo operators: (id, name, PIN).
pub const DEMO_CLERK: (&str, &str, &str) = ("1001", "王丽", "1234");
pub const DEMO_SUPERVISOR: (&str, &str, &str) = ("9001", "李强", "900199");

/// A sample code's button.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sample {
    id: String,
    label_zh: &'static str,
    label_en: &'static str,
    passes: bool,
}

/// The demo's part of the kiosk state.
#[derive(Debug, Clone)]
pub struct DemoState {
    world: Arc<DemoWorld>,
    /// The buttons, made once: the labels do not change with time.
    samples: Vec<Sample>,
    /// The site whose terminal is on screen.
    pub site: String,
    /// The last app code presented, for the replay button.
    pub last_person: Option<String>,
    /// A site switch under way (`Some(None)`) or failed (with why).
    pub switching: Option<Option<String>>,
}

impl DemoState {
    pub fn new(world: Arc<DemoWorld>, site: &str) -> DemoState {
        let samples = world
            .sample_codes(UnixTime(0))
            .into_iter()
            .map(|c| Sample {
                id: c.id.to_owned(),
                label_zh: c.label_zh,
                label_en: c.label_en,
                passes: c.expect == "OK",
            })
            .collect();
        DemoState {
            world,
            samples,
            site: site.to_owned(),
            last_person: None,
            switching: None,
        }
    }

    /// The text of the sample code `id` at `now` (minted and signed now).
    pub fn code(&self, id: &str, now: UnixTime) -> Option<String> {
        let find = |id: &str| {
            self.world
                .sample_codes(now)
                .into_iter()
                .find(|c| c.id == id)
                .map(|c| c.text)
        };
        if id == REPLAY {
            self.last_person.clone().or_else(|| find("person"))
        } else {
            find(id)
        }
    }

    /// Another site's terminal is now on screen.
    pub fn switched(&mut self, site: &str) {
        self.site = site.to_owned();
        self.switching = None;
    }

    pub fn view(&self, lang: Lang) -> DemoView {
        let mut samples: Vec<SampleRow> = self
            .samples
            .iter()
            .map(|c| SampleRow {
                id: c.id.clone(),
                // The demo world's label, in the clerk's language.
                label: match lang {
                    Lang::Zh => c.label_zh,
                    Lang::En => c.label_en,
                }
                .to_owned(),
                passes: c.passes,
                replay: false,
            })
            .collect();
        // The replay goes right after the two codes that pass.
        samples.insert(
            2.min(samples.len()),
            SampleRow {
                id: REPLAY.to_owned(),
                label: String::new(),
                passes: false,
                replay: true,
            },
        );
        let sites = xinyi_demo::seed::DEMO_SITES
            .iter()
            .map(|(id, _, _, _)| SiteRow {
                id: (*id).to_owned(),
                site: match *id {
                    "demo-bus" => DemoSite::Bus,
                    "demo-scenic" => DemoSite::Scenic,
                    "demo-hospital" => DemoSite::Hospital,
                    "demo-library" => DemoSite::Library,
                    _ => DemoSite::Other,
                },
                active: self.site == *id,
            })
            .collect();
        let login = |(id, _, pin): (&str, &str, &str)| (id.to_owned(), pin.to_owned());
        DemoView {
            samples,
            sites,
            clerk: login(DEMO_CLERK),
            supervisor: login(DEMO_SUPERVISOR),
            switching: self.switching == Some(None),
            switch_error: match &self.switching {
                Some(Some(why)) => why.clone(),
                _ => String::new(),
            },
        }
    }
}
