//! Signing in and out, and who is signed in.

use super::super::{Post, s, values};
use crate::ui::StaffAdapter;
use crate::ui::kiosk::Msg;
use crate::ui::view::StaffView;

pub fn wire(g: &StaffAdapter<'_>, post: &Post) {
    let p = post.clone();
    g.on_key(move |k| p(Msg::StaffKey(k.to_string())));
    let p = post.clone();
    g.on_select_field(move |f| p(Msg::StaffField(f)));
    let p = post.clone();
    g.on_sign_in(move || p(Msg::SignIn));
    let p = post.clone();
    g.on_sign_out(move || p(Msg::SignOut));
    let p = post.clone();
    g.on_back(move || p(Msg::BackToScan));
}

pub fn apply(g: &StaffAdapter<'_>, v: &StaffView) {
    g.set_signed_in(v.signed_in);
    let (id, name, supervisor) = v.operator.clone().unwrap_or_default();
    g.set_operator_id(s(&id));
    g.set_operator_name(s(&name));
    g.set_operator_supervisor(supervisor);
    g.set_id_text(s(&v.id_text));
    g.set_pin_dots(s(&v.pin_dots));
    g.set_field(v.field);
    g.set_error(values::staff_error(v.error.as_ref()));
}
