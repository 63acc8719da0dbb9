//! `OkAdapter`: the OK verdict, the amount pad and the confirmation.

use super::{Post, s};
use xinyi_core::measures::Period;

use crate::ui::contract::UiPeriod;
use crate::ui::kiosk::Msg;
use crate::ui::view::OkView;
use crate::ui::{AppWindow, OkAdapter};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<OkAdapter>();
    let p = post.clone();
    g.on_pad_key(move |k| p(Msg::PadKey(k.to_string())));
    let p = post.clone();
    g.on_quick_amount(move |y| p(Msg::QuickAmount(y.to_string())));
    let p = post.clone();
    g.on_companions_step(move |d| p(Msg::Companions(d)));
    let p = post.clone();
    g.on_confirm(move || p(Msg::Confirm));
    let p = post.clone();
    g.on_cancel(move || p(Msg::Cancel));
    let p = post.clone();
    g.on_next(move || p(Msg::Next));
}

pub fn apply(ui: &AppWindow, v: &OkView) {
    let g = ui.global::<OkAdapter>();
    g.set_name(s(&v.name));
    g.set_kind(s(&v.kind));
    g.set_measure(s(&v.measure));
    g.set_benefit(s(&v.benefit));
    let (used, limit, period) = v.uses.unwrap_or((0, 0, Period::Month));
    g.set_limited(v.uses.is_some());
    g.set_used(i32::try_from(used).unwrap_or(i32::MAX));
    g.set_limit(i32::try_from(limit).unwrap_or(i32::MAX));
    g.set_period(match period {
        Period::Day => UiPeriod::Day,
        Period::Week => UiPeriod::Week,
        Period::Month => UiPeriod::Month,
        Period::Year => UiPeriod::Year,
    });
    g.set_takes_amount(v.takes_amount);
    g.set_amount_caption(s(&v.amount_caption));
    g.set_amount(s(&v.amount));
    g.set_companions_allowed(v.companions_allowed);
    g.set_companions(v.companions);
    g.set_original(s(&v.original));
    g.set_discount(s(&v.discount));
    g.set_payable(s(&v.payable));
    g.set_error(s(&v.error));
    g.set_confirmed(v.confirmed);
    let r = v.receipt.clone().unwrap_or_default();
    g.set_receipt_seq(i32::try_from(r.seq).unwrap_or(i32::MAX));
    g.set_receipt_time(s(&r.time));
    g.set_receipt_discount(s(&r.discount));
    g.set_receipt_payable(s(&r.payable));
}
