//! `RefusedAdapter`: the reason in plain words and the QR channels.

use super::{Post, s, update_qr, values};
use crate::ui::contract::UiReason;
use crate::ui::kiosk::Msg;
use crate::ui::view::RefusedView;
use crate::ui::{AppWindow, RefusedAdapter};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<RefusedAdapter>();
    let p = post.clone();
    g.on_next(move || p(Msg::Next));
}

pub fn apply(ui: &AppWindow, v: &RefusedView) {
    let g = ui.global::<RefusedAdapter>();
    // Drawn once per refusal: the links change with the reference.
    let objection = v.objection_url.as_deref();
    let complaint = v.complaint_url.as_deref();
    update_qr(g.get_objection_link(), objection, |i| g.set_objection_qr(i));
    update_qr(g.get_complaint_link(), complaint, |i| g.set_complaint_qr(i));
    g.set_objection_link(s(objection.unwrap_or_default()));
    g.set_complaint_link(s(complaint.unwrap_or_default()));
    g.set_reason(v.reason.map_or(UiReason::NotListed, values::reason));
    g.set_code(s(&v.code));
    g.set_reference(s(&v.reference));
    g.set_show_objection(v.show_objection);
}
