//! `DemoAdapter`: the demo drawer (demo mode only).

use super::{Post, model, s};
use crate::ui::contract::UiDemoSite;
use crate::ui::kiosk::Msg;
use crate::ui::view::{DemoSite, DemoView};
use crate::ui::{AppWindow, DemoAdapter, SampleItem, SiteItem};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<DemoAdapter>();
    let p = post.clone();
    g.on_present(move |id| p(Msg::Present(id.to_string())));
    let p = post.clone();
    g.on_switch_site(move |id| p(Msg::SwitchSite(id.to_string())));
    let p = post.clone();
    g.on_close(move || p(Msg::ToggleDrawer));
}

pub fn apply(ui: &AppWindow, v: &DemoView) {
    let g = ui.global::<DemoAdapter>();
    let item = |c: &crate::ui::view::SampleRow| SampleItem {
        id: s(&c.id),
        label: s(&c.label),
        passes: c.passes,
        replay: c.replay,
    };
    let half = v.samples.len().div_ceil(2);
    g.set_samples(model(v.samples.iter().take(half).map(item).collect()));
    g.set_samples2(model(v.samples.iter().skip(half).map(item).collect()));
    g.set_sites(model(
        v.sites
            .iter()
            .map(|c| SiteItem {
                id: s(&c.id),
                site: match c.site {
                    DemoSite::Bus => UiDemoSite::Bus,
                    DemoSite::Scenic => UiDemoSite::Scenic,
                    DemoSite::Hospital => UiDemoSite::Hospital,
                    DemoSite::Library => UiDemoSite::Library,
                    DemoSite::Other => UiDemoSite::Other,
                },
                active: c.active,
            })
            .collect(),
    ));
    g.set_clerk_id(s(&v.clerk.0));
    g.set_clerk_pin(s(&v.clerk.1));
    g.set_supervisor_id(s(&v.supervisor.0));
    g.set_supervisor_pin(s(&v.supervisor.1));
    g.set_switching(v.switching);
    g.set_switch_error(s(&v.switch_error));
}
