//! The staff page: sign-in, today's totals, the records and the void
//! dialog, and the settings the clerk can change.

use xinyi_core::wire::journal::Body;
use xinyi_core::{Fen, Reason};

use super::sync_line;
use crate::counter::{RecordSummary, SiteSnapshot};
use crate::settings::Lang;
use crate::store::Role;
use crate::terminal::SignIn;
use crate::ui::kiosk::{CameraState, KioskState, StaffProblem};
use crate::ui::view::{
    CameraLight, CameraLine, MeasureRow, RecordRow, RecordWhat, ShiftSum, StaffError, StaffView,
    TotalRow,
};
use crate::ui::words;

/// A refused sign-in or void as the page says it: the same for an
/// unknown id as for a wrong PIN.
fn staff_error(p: &StaffProblem) -> Option<StaffError> {
    Some(match p {
        StaffProblem::EnterIdAndPin => StaffError::EnterIdAndPin,
        StaffProblem::SignIn(SignIn::Ok(_)) => return None,
        StaffProblem::SignIn(SignIn::Refused { tries_left }) => StaffError::WrongPin {
            tries_left: *tries_left,
        },
        StaffProblem::SignIn(SignIn::Locked { left_s }) => StaffError::Locked {
            minutes: left_s.div_ceil(60),
        },
        StaffProblem::NotSupervisor => StaffError::NotSupervisor,
        StaffProblem::Failed(e) => StaffError::Failed(e.clone()),
    })
}

/// A measure's name at this site, or its id when the site no longer has it.
fn measure_name(lang: Lang, site: &SiteSnapshot, id: &str) -> String {
    site.measure(id)
        .map(|m| words::measure_name(lang, m))
        .unwrap_or_else(|| id.to_owned())
}

fn record_row(lang: Lang, site: &SiteSnapshot, e: &RecordSummary) -> RecordRow {
    let (what, can_void) = match &e.body {
        Body::Redemption {
            measure,
            discount,
            payable,
            ..
        } => (
            RecordWhat::Redemption {
                measure: measure_name(lang, site, measure),
                discount: words::money(Fen(*discount)),
                payable: words::money(Fen(*payable)),
            },
            !e.voided,
        ),
        Body::Refusal { reason, .. } => (
            RecordWhat::Refusal(Reason::from_code(reason).ok_or_else(|| reason.clone())),
            false,
        ),
        Body::Void { reason, .. } => (
            RecordWhat::Void {
                reason: reason.clone(),
            },
            false,
        ),
        Body::Staff { event, staff, .. } => (
            RecordWhat::Staff {
                event: *event,
                staff: staff.clone(),
            },
            false,
        ),
    };
    RecordRow {
        id: xinyi_core::hex::encode(&e.id),
        time: words::time_of_day(e.at),
        what,
        uploaded: e.uploaded,
        voided: e.voided,
        can_void,
    }
}

pub(super) fn staff_view(
    s: &KioskState,
    site: &SiteSnapshot,
    measures: Vec<MeasureRow>,
) -> StaffView {
    let lang = s.lang;
    let mut v = StaffView {
        signed_in: s.operator.is_some(),
        id_text: s.staff.id.text().to_owned(),
        pin_dots: s.staff.pin.dots(),
        field: s.staff.field,
        error: s.staff.problem.as_ref().and_then(staff_error),
        camera_on: s.camera_on,
        camera: camera_line(s),
        site_measures: measures,
        site_text: site
            .site
            .as_ref()
            .map(|x| format!("{} · {} · {}", x.name, x.unit, x.id))
            .unwrap_or_default(),
        ..StaffView::default()
    };
    let Some(op) = &s.operator else {
        return v;
    };
    v.operator = Some((
        op.id().to_owned(),
        op.name().to_owned(),
        op.role() == Some(Role::Supervisor),
    ));
    match &s.staff.shift {
        Some(Ok(shift)) => {
            v.totals = shift
                .by_measure
                .iter()
                .map(|t| TotalRow {
                    measure: measure_name(lang, site, &t.measure),
                    count: t.count.to_string(),
                    discount: words::money(Fen(t.discount)),
                    payable: words::money(Fen(t.payable)),
                })
                .collect();
            let t = shift.totals;
            v.totals_sum = Some(ShiftSum {
                redemptions: t.redemptions,
                discount: words::money(Fen(t.discount)),
                refusals: t.refusals,
                voids: t.voids,
            });
        }
        Some(Err(e)) => v.error = Some(StaffError::Failed(e.clone())),
        None => {}
    }
    v.records = s
        .staff
        .records
        .iter()
        .map(|e| record_row(lang, site, e))
        .collect();
    v.sync = sync_line(s, site);
    if let Some(vd) = &s.staff.void {
        v.void_open = true;
        v.void_target = v.records.iter().find(|r| r.id == vd.target).cloned();
        v.void_id_text = vd.sup.text().to_owned();
        v.void_pin_dots = vd.pin.dots();
        v.void_field = vd.field;
        v.void_reason = i32::try_from(vd.reason).unwrap_or(0);
        v.void_error = vd.problem.as_ref().and_then(staff_error);
    }
    v
}

/// The camera on the settings tab: the device being opened (by its index
/// when the list has no name for it), the one in use, or why there is none.
fn camera_line(s: &KioskState) -> CameraLine {
    match &s.camera {
        CameraState::Off => CameraLine {
            state: CameraLight::Off,
            ..CameraLine::default()
        },
        CameraState::Starting => CameraLine {
            state: CameraLight::Starting,
            name: s
                .camera_devices
                .get(s.camera_device as usize)
                .cloned()
                .unwrap_or_else(|| format!("#{}", s.camera_device)),
            problem: None,
        },
        CameraState::Live(n) => CameraLine {
            state: CameraLight::Live,
            name: n.clone(),
            problem: None,
        },
        CameraState::Unavailable(p) => CameraLine {
            state: CameraLight::Unavailable,
            name: String::new(),
            problem: Some(p.clone()),
        },
    }
}
