//! The staff page: sign-in, today's totals, the records and the void
//! dialog, and the settings the clerk can change.

use xinyi_core::wire::journal::{Body, StaffEvent};
use xinyi_core::{Fen, Reason};

use super::{camera_problem, note_words, staff_words, sync_words};
use crate::counter::{RecordSummary, SiteSnapshot};
use crate::reasons;
use crate::settings::Lang;
use crate::terminal::SignIn;
use crate::ui::kiosk::{CameraState, KioskState, StaffProblem};
use crate::ui::view::{MeasureRow, RecordKind, RecordRow, StaffView, TotalRow};
use crate::ui::words;

fn staff_problem(lang: Lang, p: &StaffProblem) -> String {
    match p {
        StaffProblem::EnterIdAndPin => lang
            .pick("请输入工号和密码。", "Enter your staff number and PIN.")
            .to_owned(),
        StaffProblem::SignIn(outcome) => sign_in_words(lang, outcome),
        StaffProblem::NotSupervisor => lang
            .pick(
                "只有主管可以作废记录。",
                "Only a supervisor can void a record.",
            )
            .to_owned(),
        StaffProblem::Failed(e) => e.clone(),
    }
}

fn record_row(lang: Lang, site: &SiteSnapshot, e: &RecordSummary) -> RecordRow {
    let name_of = |id: &str| {
        site.measure(id)
            .map(|m| words::measure_name(lang, m))
            .unwrap_or_else(|| id.to_owned())
    };
    let (kind, measure, amount, can_void) = match &e.body {
        Body::Redemption {
            measure,
            discount,
            payable,
            ..
        } => (
            RecordKind::Redemption,
            name_of(measure),
            match lang {
                Lang::Zh => format!("优惠 {} · 应付 {}", Fen(*discount), Fen(*payable)),
                Lang::En => format!("discount {} · paid {}", Fen(*discount), Fen(*payable)),
            },
            !e.voided,
        ),
        Body::Refusal { reason, .. } => (
            RecordKind::Refusal,
            Reason::from_code(reason)
                .map(|r| {
                    let w = reasons::words(r);
                    lang.pick(w.title_zh, w.title_en).to_owned()
                })
                .unwrap_or_else(|| reason.clone()),
            String::new(),
            false,
        ),
        Body::Void { reason, .. } => (RecordKind::Void, reason.clone(), String::new(), false),
        Body::Staff { event, staff, .. } => (
            RecordKind::Staff,
            format!(
                "{} {staff}",
                match event {
                    StaffEvent::OperatorSet => lang.pick("设置人员", "operator set"),
                    StaffEvent::OperatorRemoved => lang.pick("删除人员", "operator removed"),
                    StaffEvent::SignInFailed => lang.pick("签到失败", "sign-in failed"),
                    StaffEvent::LockedOut => lang.pick("已锁定", "locked out"),
                }
            ),
            String::new(),
            false,
        ),
    };
    RecordRow {
        id: xinyi_core::hex::encode(&e.id),
        time: words::time_of_day(e.at),
        kind,
        measure,
        amount,
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
        error: s
            .staff
            .problem
            .as_ref()
            .map(|p| staff_problem(lang, p))
            .unwrap_or_default(),
        camera_on: s.camera_on,
        camera_device: camera_words(s),
        language: lang.pick("中文", "English").to_owned(),
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
    v.operator = staff_words(lang, op);
    let name_of = |id: &str| {
        site.measure(id)
            .map(|m| words::measure_name(lang, m))
            .unwrap_or_else(|| id.to_owned())
    };
    match &s.staff.shift {
        Some(Ok(shift)) => {
            v.totals = shift
                .by_measure
                .iter()
                .map(|t| TotalRow {
                    measure: name_of(&t.measure),
                    count: t.count.to_string(),
                    discount: words::money(Fen(t.discount)),
                    payable: words::money(Fen(t.payable)),
                })
                .collect();
            let t = shift.totals;
            v.totals_sum = match lang {
                Lang::Zh => format!(
                    "优惠 {} 笔，共减免 {} · 拒绝 {} 笔 · 作废 {} 笔",
                    t.redemptions,
                    Fen(t.discount),
                    t.refusals,
                    t.voids
                ),
                Lang::En => format!(
                    "{} benefits, {} off in all · {} refused · {} voided",
                    t.redemptions,
                    Fen(t.discount),
                    t.refusals,
                    t.voids
                ),
            };
        }
        Some(Err(e)) => v.error = e.clone(),
        None => {}
    }
    v.totals_caption = lang
        .pick(
            "今日本机（全部工作人员）",
            "Today at this counter (all staff)",
        )
        .to_owned();
    v.records = s
        .staff
        .records
        .iter()
        .map(|e| record_row(lang, site, e))
        .collect();
    let sync = sync_words(s, site);
    v.sync_text = match &s.staff.note {
        Some(n) if s.sync.is_some() || site.hub_url.is_none() => {
            format!("{} · {sync}", note_words(lang, n))
        }
        _ => sync,
    };
    if let Some(vd) = &s.staff.void {
        v.void_open = true;
        v.void_target = v
            .records
            .iter()
            .find(|r| r.id == vd.target)
            .map(|r| format!("{} {} {}", r.time, r.measure, r.amount))
            .unwrap_or_default();
        v.void_id_text = vd.sup.text().to_owned();
        v.void_pin_dots = vd.pin.dots();
        v.void_field = vd.field;
        v.void_reason = i32::try_from(vd.reason).unwrap_or(0);
        v.void_error = vd
            .problem
            .as_ref()
            .map(|p| staff_problem(lang, p))
            .unwrap_or_default();
    }
    v
}

fn camera_words(s: &KioskState) -> String {
    let lang = s.lang;
    let name = s
        .camera_devices
        .get(s.camera_device as usize)
        .cloned()
        .unwrap_or_else(|| format!("#{}", s.camera_device));
    match &s.camera {
        CameraState::Off => lang.pick("摄像头已关闭", "Camera off").to_owned(),
        CameraState::Starting => format!("{} {name}", lang.pick("正在打开", "Opening")),
        CameraState::Live(n) => format!("{} {n}", lang.pick("使用中：", "In use:")),
        CameraState::Unavailable(p) => camera_problem(lang, p),
    }
}

/// A refused sign-in in words: the same for an unknown id as for a wrong
/// PIN.
fn sign_in_words(lang: Lang, outcome: &SignIn) -> String {
    match outcome {
        SignIn::Ok(_) => String::new(),
        SignIn::Refused { tries_left } => match lang {
            Lang::Zh => format!("工号或密码不正确（还可再试 {tries_left} 次）。"),
            Lang::En => format!("Wrong staff number or PIN ({tries_left} tries left)."),
        },
        SignIn::Locked { left_s } => {
            let mins = left_s.div_ceil(60);
            match lang {
                Lang::Zh => format!("密码错误次数过多，请 {mins} 分钟后再试。"),
                Lang::En => format!("Too many wrong PINs: try again in {mins} min."),
            }
        }
    }
}
