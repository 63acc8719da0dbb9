//! `OkAdapter`: the OK verdict, the amount pad and the confirmation.

use super::{Post, s, update_qr, values};
use xinyi_core::measures::Period;

use crate::ui::contract::{UiBenefit, UiHolderKind, UiOkProblem};
use crate::ui::kiosk::{Msg, OkProblem};
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
    g.on_toggle_holder_checked(move || p(Msg::ToggleHolderChecked));
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
    g.set_kind(v.kind.map_or(UiHolderKind::Person, values::holder));
    g.set_categories(s(&v.categories));
    g.set_measure(s(&v.measure));
    g.set_benefit(
        v.benefit
            .as_ref()
            .map_or_else(UiBenefit::default, values::benefit),
    );
    let (used, limit, period) = v.uses.unwrap_or((0, 0, Period::Month));
    g.set_limited(v.uses.is_some());
    g.set_used(values::int(used));
    g.set_limit(values::int(limit));
    g.set_period(values::period(period));
    g.set_takes_amount(v.takes_amount);
    g.set_amount(s(&v.amount));
    g.set_companions_allowed(v.companions_allowed);
    g.set_companions(v.companions);
    g.set_original(s(&v.original));
    g.set_discount(s(&v.discount));
    g.set_payable(s(&v.payable));
    let (problem, detail) = match &v.problem {
        None => (UiOkProblem::None, ""),
        Some(OkProblem::SignInFirst) => (UiOkProblem::SignInFirst, ""),
        Some(OkProblem::EnterAmount) => (UiOkProblem::EnterAmount, ""),
        Some(OkProblem::CheckHolder) => (UiOkProblem::CheckHolder, ""),
        Some(OkProblem::Failed(e)) => (UiOkProblem::Failed, e.as_str()),
    };
    g.set_online(v.online);
    g.set_holder_check_needed(v.holder_check.is_some());
    g.set_holder_checked(v.holder_check == Some(true));
    g.set_problem(problem);
    g.set_problem_detail(s(detail));
    g.set_confirmed(v.confirmed);
    let r = v.receipt.clone().unwrap_or_default();
    g.set_receipt_seq(values::int(r.seq));
    g.set_receipt_time(s(&r.time));
    g.set_receipt_discount(s(&r.discount));
    g.set_receipt_payable(s(&r.payable));
    g.set_receipt_reference(s(&r.reference));
    let complaint = r.complaint_url.as_deref();
    update_qr(g.get_complaint_link(), complaint, |i| g.set_complaint_qr(i));
    g.set_complaint_link(s(complaint.unwrap_or_default()));
}
