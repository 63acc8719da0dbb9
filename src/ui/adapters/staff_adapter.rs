//! `StaffAdapter`: sign-in, shift totals, records, voids, settings.

use super::{Post, measure_items, model, s};
use crate::ui::contract::UiRecordKind;
use crate::ui::kiosk::Msg;
use crate::ui::view::RecordKind;
use crate::ui::view::StaffView;
use crate::ui::{AppWindow, RecordRow, StaffAdapter, TotalRow};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<StaffAdapter>();
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
    let p = post.clone();
    g.on_sync_now(move || p(Msg::SyncNow));
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
    let p = post.clone();
    g.on_toggle_camera(move || p(Msg::ToggleCamera));
    let p = post.clone();
    g.on_next_camera(move || p(Msg::NextCamera));
    let p = post.clone();
    g.on_toggle_language(move || p(Msg::ToggleLanguage));
}

pub fn apply(ui: &AppWindow, v: &StaffView) {
    let g = ui.global::<StaffAdapter>();
    g.set_signed_in(v.signed_in);
    g.set_operator(s(&v.operator));
    g.set_id_text(s(&v.id_text));
    g.set_pin_dots(s(&v.pin_dots));
    g.set_field(v.field);
    g.set_error(s(&v.error));
    g.set_totals_caption(s(&v.totals_caption));
    g.set_totals(model(
        v.totals
            .iter()
            .map(|t| TotalRow {
                measure: s(&t.measure),
                count: s(&t.count),
                discount: s(&t.discount),
                payable: s(&t.payable),
            })
            .collect(),
    ));
    g.set_totals_sum(s(&v.totals_sum));
    g.set_records(model(
        v.records
            .iter()
            .map(|r| RecordRow {
                id: s(&r.id),
                time: s(&r.time),
                kind: match r.kind {
                    RecordKind::Redemption => UiRecordKind::Redemption,
                    RecordKind::Refusal => UiRecordKind::Refusal,
                    RecordKind::Void => UiRecordKind::Void,
                    RecordKind::Staff => UiRecordKind::Staff,
                },
                measure: s(&r.measure),
                amount: s(&r.amount),
                uploaded: r.uploaded,
                voided: r.voided,
                can_void: r.can_void,
            })
            .collect(),
    ));
    g.set_sync_text(s(&v.sync_text));
    g.set_void_open(v.void_open);
    g.set_void_target(s(&v.void_target));
    g.set_void_id_text(s(&v.void_id_text));
    g.set_void_pin_dots(s(&v.void_pin_dots));
    g.set_void_field(v.void_field);
    g.set_void_reason(v.void_reason);
    g.set_void_error(s(&v.void_error));
    g.set_camera_on(v.camera_on);
    g.set_camera_device(s(&v.camera_device));
    g.set_language(s(&v.language));
    g.set_site_text(s(&v.site_text));
    g.set_site_measures(measure_items(&v.site_measures));
}
