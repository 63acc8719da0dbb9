//! `StaffAdapter`: the staff page, one module per part of it — sign-in,
//! the shift's totals and records, the void dialog, the settings tab.

mod settings;
mod shift;
mod sign_in;
mod void;

use super::Post;
use crate::ui::view::StaffView;
use crate::ui::{AppWindow, StaffAdapter};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<StaffAdapter>();
    sign_in::wire(&g, post);
    shift::wire(&g, post);
    void::wire(&g, post);
    settings::wire(&g, post);
}

pub fn apply(ui: &AppWindow, v: &StaffView) {
    let g = ui.global::<StaffAdapter>();
    sign_in::apply(&g, v);
    shift::apply(&g, v);
    void::apply(&g, v);
    settings::apply(&g, v);
}
