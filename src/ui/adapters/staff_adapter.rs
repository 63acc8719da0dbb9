//! `StaffAdapter`: sign-in, shift totals, records, voids, settings.

use super::{Post, measure_items, model, s, values};
use crate::ui::contract::UiRecordKind;
use crate::ui::kiosk::Msg;
use crate::ui::view::{RecordWhat, StaffView};
use crate::ui::{self, AppWindow, RecordRow, StaffAdapter, TotalRow};
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
    let (id, name, supervisor) = v.operator.clone().unwrap_or_default();
    g.set_operator_id(s(&id));
    g.set_operator_name(s(&name));
    g.set_operator_supervisor(supervisor);
    g.set_id_text(s(&v.id_text));
    g.set_pin_dots(s(&v.pin_dots));
    g.set_field(v.field);
    g.set_error(values::staff_error(v.error.as_ref()));
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
    let sum = v.totals_sum.clone().unwrap_or_default();
    g.set_has_sum(v.totals_sum.is_some());
    g.set_sum_redemptions(values::int(sum.redemptions));
    g.set_sum_discount(s(&sum.discount));
    g.set_sum_refusals(values::int(sum.refusals));
    g.set_sum_voids(values::int(sum.voids));
    g.set_records(model(v.records.iter().map(record).collect()));
    g.set_sync(values::sync_line(&v.sync));
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
    g.set_camera_on(v.camera_on);
    g.set_camera_state(values::camera(v.camera.state));
    g.set_camera_name(s(&v.camera.name));
    let (problem, detail) = values::camera_problem(v.camera.problem.as_ref());
    g.set_camera_problem(problem);
    g.set_camera_detail(detail);
    g.set_site_text(s(&v.site_text));
    g.set_site_measures(measure_items(&v.site_measures));
}

/// A record as the list (and the void dialog) shows it.
fn record(r: &ui::view::RecordRow) -> RecordRow {
    let mut row = RecordRow {
        id: s(&r.id),
        time: s(&r.time),
        uploaded: r.uploaded,
        voided: r.voided,
        can_void: r.can_void,
        ..RecordRow::default()
    };
    match &r.what {
        RecordWhat::Redemption {
            measure,
            discount,
            payable,
        } => {
            row.kind = UiRecordKind::Redemption;
            row.text = s(measure);
            row.discount = s(discount);
            row.payable = s(payable);
        }
        RecordWhat::Refusal(reason) => {
            row.kind = UiRecordKind::Refusal;
            match reason {
                Ok(r) => {
                    row.reason = values::reason(*r);
                    row.known_reason = true;
                }
                // A code this kiosk has no words for.
                Err(code) => row.text = s(code),
            }
        }
        RecordWhat::Void { reason } => {
            row.kind = UiRecordKind::Void;
            row.text = s(reason);
        }
        RecordWhat::Staff { event, staff } => {
            row.kind = UiRecordKind::Staff;
            row.event = values::staff_event(*event);
            row.text = s(staff);
        }
    }
    row
}
