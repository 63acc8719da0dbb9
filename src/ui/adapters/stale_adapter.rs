//! `StaleAdapter`: the amber page.

use super::{Post, s, values};
use crate::ui::contract::UiStaleKind;
use crate::ui::kiosk::Msg;
use crate::ui::view::{StaleKind, StaleView};
use crate::ui::{AppWindow, StaleAdapter};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<StaleAdapter>();
    let p = post.clone();
    g.on_sync_now(move || p(Msg::SyncNow));
    let p = post.clone();
    g.on_back(move || p(Msg::BackToScan));
}

pub fn apply(ui: &AppWindow, v: &StaleView) {
    let g = ui.global::<StaleAdapter>();
    let (kind, time, age, max) = match &v.kind {
        StaleKind::Clock(time) => (UiStaleKind::Clock, time.as_str(), 0, 0),
        StaleKind::DataOld {
            age_minutes,
            max_minutes,
        } => (
            UiStaleKind::DataOld,
            "",
            values::int(*age_minutes),
            values::int(*max_minutes),
        ),
        StaleKind::NeverSynced => (UiStaleKind::NeverSynced, "", 0, 0),
    };
    g.set_kind(kind);
    g.set_clock_time(s(time));
    g.set_age_minutes(age);
    g.set_max_minutes(max);
    g.set_sync(values::sync_line(&v.sync));
}
