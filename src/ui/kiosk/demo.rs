//! The demo drawer: sample codes minted by the demo world, the demo's
//! sites, and the operators' PINs. Built only with the `demo` feature.

use std::sync::Arc;

use xinyi_core::UnixTime;
use xinyi_hub::demo::DemoWorld;

use crate::settings::Lang;
use crate::ui::view::{DemoView, SampleRow, SiteRow};

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
        let verdict = |passes: bool| {
            if passes {
                lang.pick("通过", "OK")
            } else {
                lang.pick("拒绝", "refused")
            }
            .to_owned()
        };
        let mut samples: Vec<SampleRow> = self
            .samples
            .iter()
            .map(|c| SampleRow {
                id: c.id.clone(),
                label: lang.pick(c.label_zh, c.label_en).to_owned(),
                expect: verdict(c.passes),
            })
            .collect();
        // The replay goes right after the two codes that pass.
        samples.insert(
            2.min(samples.len()),
            SampleRow {
                id: REPLAY.to_owned(),
                label: lang
                    .pick("再次出示刚才的动态码", "The app code again (replay)")
                    .to_owned(),
                expect: verdict(false),
            },
        );
        let sites = xinyi_hub::seed::DEMO_SITES
            .iter()
            .map(|(id, _, _, _)| SiteRow {
                id: (*id).to_owned(),
                name: site_word(lang, id).to_owned(),
                active: self.site == *id,
            })
            .collect();
        DemoView {
            samples,
            sites,
            operators: match lang {
                Lang::Zh => format!(
                    "店员 {} 密码 {} · 主管 {} 密码 {}",
                    DEMO_CLERK.0, DEMO_CLERK.2, DEMO_SUPERVISOR.0, DEMO_SUPERVISOR.2
                ),
                Lang::En => format!(
                    "clerk {} PIN {} · supervisor {} PIN {}",
                    DEMO_CLERK.0, DEMO_CLERK.2, DEMO_SUPERVISOR.0, DEMO_SUPERVISOR.2
                ),
            },
            busy: match &self.switching {
                None => String::new(),
                Some(None) => lang.pick("正在切换站点…", "Switching site…").to_owned(),
                Some(Some(why)) => why.clone(),
            },
        }
    }
}

fn site_word(lang: Lang, id: &str) -> &'static str {
    match id {
        "demo-bus" => lang.pick("公交", "Bus"),
        "demo-scenic" => lang.pick("景区", "Scenic"),
        "demo-hospital" => lang.pick("医院", "Hospital"),
        "demo-library" => lang.pick("图书馆", "Library"),
        _ => lang.pick("站点", "Site"),
    }
}
