//! The supervisor's void dialog.

use super::super::{Post, s, values};
use super::shift::record;
use crate::ui::kiosk::Msg;
use crate::ui::view::StaffView;
use crate::ui::{RecordRow, StaffAdapter};

pub fn wire(g: &StaffAdapter<'_>, post: &Post) {
    let p = post.clone();
    g.on_open_void(move |id| p(Msg::OpenVoid(id.to_string())));
    let p = post.clone();
    g.on_void_key(move |k| p(Msg::VoidKey(k.to_string())));
    let p = post.clone();
    g.on_void_select_field(move |f| p(Msg::VoidField(f)));
    let p = post.clone();
    g.on_void_choose_reason(move |r| p(Msg::VoidReason(r)));
    let p = post.clone();
    g.on_void_confirm(move || p(Msg::VoidConfirm));
    let p = post.clone();
    g.on_void_cancel(move || p(Msg::VoidCancel));
}

pub fn apply(g: &StaffAdapter<'_>, v: &StaffView) {
    g.set_void_open(v.void_open);
    // No id: the record is not among those listed.
    g.set_void_target(
        v.void_target
            .as_ref()
            .map_or_else(RecordRow::default, record),
    );
    g.set_void_id_text(s(&v.void_id_text));
    g.set_void_pin_dots(s(&v.void_pin_dots));
    g.set_void_field(v.void_field);
    g.set_void_reason(v.void_reason);
    g.set_void_error(values::staff_error(v.void_error.as_ref()));
}
