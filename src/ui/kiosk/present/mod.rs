//! The view, made from the state and the site snapshot alone: the words
//! are chosen here, in the clerk's language.

use xinyi_core::measures::Benefit;
use xinyi_core::{Reason, UnixTime};

use super::{
    CameraProblem, CameraState, ImageProblem, KioskState, OkProblem, ScanMessage, StaffNote,
};
use crate::counter::{Freshness, SiteSnapshot};
use crate::reasons;
use crate::settings::Lang;
use crate::store::Role;
use crate::terminal::Staff;
use crate::ui::qr;
use crate::ui::view::{
    AppView, CameraLight, FreshLevel, MeasureRow, NetState, OkView, ReceiptView, RefusedView,
    ScanView, Screen, StaffView, StaleView, View,
};
use crate::ui::words;

mod staff;
use staff::staff_view;

/// What the screen shows at `now`.
pub fn present(s: &KioskState, site: &SiteSnapshot, now: UnixTime) -> View {
    let lang = s.lang;
    let measures: Vec<MeasureRow> = site
        .measures
        .iter()
        .map(|m| MeasureRow {
            id: m.id.to_string(),
            name: words::measure_name(lang, m),
            detail: words::measure_detail(lang, m),
        })
        .collect();
    View {
        app: app_view(s, site, now),
        scan: ScanView {
            camera_state: match s.camera {
                CameraState::Starting => CameraLight::Starting,
                CameraState::Live(_) => CameraLight::Live,
                CameraState::Unavailable(_) => CameraLight::Unavailable,
                CameraState::Off => CameraLight::Off,
            },
            camera_detail: match &s.camera {
                CameraState::Unavailable(p) => camera_problem(lang, p),
                _ => String::new(),
            },
            measure_index: i32::try_from(s.measure).unwrap_or(0),
            message: s
                .message
                .as_ref()
                .map(|m| scan_message(lang, m))
                .unwrap_or_default(),
            measures: measures.clone(),
        },
        ok: ok_view(s),
        refused: refused_view(s),
        stale: stale_view(s, site, now),
        staff: if s.screen == Screen::Staff {
            staff_view(s, site, measures)
        } else {
            StaffView::default()
        },
        #[cfg(feature = "demo")]
        demo: s.demo.as_ref().map(|d| d.view(lang)).unwrap_or_default(),
        #[cfg(not(feature = "demo"))]
        demo: Default::default(),
    }
}

fn scan_message(lang: Lang, m: &ScanMessage) -> String {
    match m {
        ScanMessage::Image(ImageProblem::NoPath) => lang
            .pick("请先输入图片路径。", "Type the picture's path first.")
            .to_owned(),
        ScanMessage::Image(ImageProblem::Unreadable(e)) => format!(
            "{}{e}",
            lang.pick("无法打开图片：", "Cannot open the picture: ")
        ),
        ScanMessage::Image(ImageProblem::NoCode) => lang
            .pick(
                "图片中没有找到二维码。",
                "No QR code was found in the picture.",
            )
            .to_owned(),
        ScanMessage::NoMeasure => lang
            .pick(
                "本站点没有可用的激励措施：请同步数据或联系信用平台。",
                "This site offers no measure: sync the data or call the registry.",
            )
            .to_owned(),
        ScanMessage::Failed(e) => format!("{}{e}", lang.pick("核验失败：", "Could not verify: ")),
    }
}

/// A camera problem in the clerk's language; a device's own words follow
/// only as detail.
pub fn camera_problem(lang: Lang, p: &CameraProblem) -> String {
    match p {
        CameraProblem::NoDevice => lang
            .pick(
                "未检测到摄像头，可使用扫码枪或打开图片。",
                "No camera found: use the scanner or open a picture.",
            )
            .to_owned(),
        CameraProblem::Disabled => lang
            .pick("本次运行未启用摄像头。", "The camera is off for this run.")
            .to_owned(),
        CameraProblem::CannotOpen(why) => format!(
            "{}（{why}）",
            lang.pick(
                "摄像头无法打开，可使用扫码枪或打开图片",
                "The camera could not be opened: use the scanner or open a picture",
            )
        ),
    }
}

/// The header and the status bar: values only; the words are the
/// `.slint` side's (`@tr`).
fn app_view(s: &KioskState, site: &SiteSnapshot, now: UnixTime) -> AppView {
    let net = if site.hub_url.is_none() {
        NetState::FileOnly
    } else {
        match s.sync.as_ref().and_then(|x| x.online) {
            None => NetState::Connecting,
            Some(true) => NetState::Online,
            Some(false) => NetState::Offline,
        }
    };
    let (freshness, fresh_s) = match site.freshness(now) {
        Freshness::Fresh { left_s } => (FreshLevel::Fresh, left_s),
        Freshness::Expiring { left_s } => (FreshLevel::Expiring, left_s),
        Freshness::Stale { for_s } => (FreshLevel::Stale, for_s),
        Freshness::NoData => (FreshLevel::Never, 0),
    };
    let (unsent, notice) = match &s.status {
        Some(Ok(st)) => (Some(st.unsent), s.notice.clone()),
        // A journal that cannot be read is worth a notice of its own.
        Some(Err(e)) => (None, s.notice.clone().or_else(|| Some(e.clone()))),
        None => (None, s.notice.clone()),
    };
    let (site_name, unit) = site.names();
    let clock = words::time_of_day(now);
    AppView {
        screen: s.screen,
        lang: s.lang,
        demo: s.is_demo(),
        drawer_open: s.drawer,
        site: site_name,
        unit,
        clock: clock.get(..5).unwrap_or(&clock).to_owned(),
        net,
        data_version: site.version,
        freshness,
        fresh_minutes: fresh_s / 60,
        unsent,
        operator: s.operator.as_ref().map(|o| {
            (
                o.id().to_owned(),
                o.name().to_owned(),
                o.role() == Some(Role::Supervisor),
            )
        }),
        notice: notice.unwrap_or_default(),
    }
}

fn ok_view(s: &KioskState) -> OkView {
    let Some(ok) = &s.ok else {
        return OkView::default();
    };
    let lang = s.lang;
    let a = &ok.approval;
    let takes = a.measure.benefit.takes_amount();
    let cats: Vec<String> = a
        .categories
        .iter()
        .map(|c| {
            let name = match lang {
                Lang::Zh => c.name_zh(),
                Lang::En => c.name_en(),
            };
            format!("{} {name}", c.code())
        })
        .collect();
    let mut v = OkView {
        name: a.claims.name.clone(),
        kind: format!("{} · {}", words::kind(lang, a.claims.kind), cats.join("；")),
        measure: words::measure_name(lang, &a.measure),
        benefit: words::benefit(lang, &a.measure.benefit),
        uses: a.used.map(|(used, limit)| (used, limit.count, limit.per)),
        takes_amount: takes,
        amount_caption: words::amount_caption(lang, &a.measure.benefit).to_owned(),
        amount: ok.amount.text().to_owned(),
        companions_allowed: matches!(a.measure.benefit, Benefit::FreeEntry { .. }),
        companions: i32::try_from(ok.companions).unwrap_or(0),
        original: "—".into(),
        discount: "—".into(),
        payable: "—".into(),
        error: ok
            .problem
            .as_ref()
            .map(|p| match p {
                OkProblem::SignInFirst => lang
                    .pick(
                        "请工作人员先在“工作人员”页签到，再确认。",
                        "A staff member must sign in (Staff page) before confirming.",
                    )
                    .to_owned(),
                OkProblem::EnterAmount => lang
                    .pick("请先输入金额。", "Enter the amount first.")
                    .to_owned(),
                OkProblem::Failed(e) => e.clone(),
            })
            .unwrap_or_default(),
        confirmed: ok.receipt.is_some(),
        receipt: ok.receipt.as_ref().map(|r| ReceiptView {
            seq: r.seq,
            time: words::time_of_day(r.at),
            discount: if r.takes_amount {
                words::money(r.amounts.discount)
            } else {
                String::new()
            },
            payable: if r.takes_amount {
                words::money(r.amounts.payable)
            } else {
                String::new()
            },
        }),
    };
    if takes && let Some(f) = ok.amount.fen() {
        match a.amounts(f, ok.companions) {
            Ok(m) => {
                v.original = words::money(m.original);
                v.discount = words::money(m.discount);
                v.payable = words::money(m.payable);
            }
            Err(e) => {
                if v.error.is_empty() {
                    v.error = e.to_string();
                }
            }
        }
    }
    v
}

fn refused_view(s: &KioskState) -> RefusedView {
    let Some(r) = &s.refused else {
        return RefusedView::default();
    };
    let w = reasons::words(r.refusal.reason);
    RefusedView {
        title: s.lang.pick(w.title_zh, w.title_en).to_owned(),
        advice: s.lang.pick(w.advice_zh, w.advice_en).to_owned(),
        code: r.refusal.reason.code().to_owned(),
        reference: r.reference.clone(),
        show_objection: matches!(
            r.refusal.reason,
            Reason::NotListed | Reason::ListingNotValid
        ),
        objection_url: qr::objection_url(&r.reference),
        complaint_url: qr::complaint_url(&r.reference),
    }
}

fn stale_view(s: &KioskState, site: &SiteSnapshot, now: UnixTime) -> StaleView {
    if s.screen != Screen::Stale {
        return StaleView::default();
    }
    let lang = s.lang;
    let detail = if s.stale_clock {
        match lang {
            Lang::Zh => format!(
                "本机时间 {} 早于本机已确认过的时间，时钟可能被调慢或出错。",
                now.display_utc8()
            ),
            Lang::En => format!(
                "This terminal's clock says {}, earlier than a time it has already confirmed: the clock may have been set back.",
                now.display_utc8()
            ),
        }
    } else {
        match site.data_as_of {
            Some(as_of) => {
                let (ago, max) = (
                    words::duration(lang, now.0.saturating_sub(as_of.0)),
                    words::duration(lang, site.max_offline_age_s),
                );
                match lang {
                    Lang::Zh => {
                        format!("本机数据已 {ago} 未与信用平台核对，超过本站点允许的 {max}。")
                    }
                    Lang::En => format!(
                        "This terminal last checked its data with the registry {ago} ago, more than the {max} this site allows."
                    ),
                }
            }
            None => lang
                .pick(
                    "本机还没有同步过名单数据。",
                    "This terminal has not synced any list data yet.",
                )
                .to_owned(),
        }
    };
    StaleView {
        clock: s.stale_clock,
        detail,
        sync_state: sync_words(s, site),
    }
}

pub(super) fn sync_words(s: &KioskState, site: &SiteSnapshot) -> String {
    let lang = s.lang;
    match &s.sync {
        None if site.hub_url.is_none() => lang
            .pick(
                "本机只通过数据包同步。",
                "This terminal syncs by file only.",
            )
            .to_owned(),
        None => s
            .staff
            .note
            .as_ref()
            .map(|n| note_words(lang, n))
            .unwrap_or_default(),
        Some(x) => {
            let last = x
                .last_download
                .as_ref()
                .map(|(t, _)| words::time_of_day(*t))
                .unwrap_or_else(|| "—".into());
            match (&x.last_error, lang) {
                (Some(e), Lang::Zh) => format!("同步失败：{e}（上次成功 {last}）"),
                (Some(e), Lang::En) => format!("Sync failed: {e} (last success {last})"),
                (None, Lang::Zh) => format!("上次同步 {last} · 在线"),
                (None, Lang::En) => format!("Last sync {last} · online"),
            }
        }
    }
}

pub(super) fn note_words(lang: Lang, n: &StaffNote) -> String {
    match n {
        StaffNote::SyncRequested => lang.pick("已请求同步…", "Sync requested…").to_owned(),
        StaffNote::Voided { seq } => match lang {
            Lang::Zh => format!("已作废（作废记录 第{seq}号）"),
            Lang::En => format!("Voided (void record No. {seq})"),
        },
    }
}

/// "主管 李强（9001）".
pub(super) fn staff_words(lang: Lang, s: &Staff) -> String {
    format!(
        "{} {}（{}）",
        role_word(lang, s.role().unwrap_or(Role::Clerk)),
        s.name(),
        s.id()
    )
}

pub(super) fn role_word(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Clerk => lang.pick("店员", "Clerk"),
        Role::Supervisor => lang.pick("主管", "Supervisor"),
    }
}
