//! `StaleAdapter`: the amber page.

use super::{Post, s};
use crate::ui::kiosk::Msg;
use crate::ui::view::StaleView;
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
    g.set_clock(v.clock);
    g.set_detail(s(&v.detail));
    g.set_sync_state(s(&v.sync_state));
}
