//! The view, made from the state and the site snapshot alone: values
//! only. The pages word them (`@tr`); the catalogue's names are taken in
//! the clerk's language.

use xinyi_core::UnixTime;
use xinyi_core::measures::{Benefit, Measure};
use xinyi_core::wire::config::Channel;

use super::{CameraState, KioskState, OkProblem};
use crate::counter::{Freshness, SiteSnapshot};
use crate::settings::Lang;
use crate::store::Role;
use crate::ui::view::{
    AppView, CameraLight, FreshLevel, MeasureRow, NetState, OkView, ReceiptView, RefusedView,
    ScanView, Screen, StaffView, StaleKind, StaleView, SyncLine, SyncState, View,
};
use crate::ui::words;

mod staff;
use staff::staff_view;

/// What the screen shows at `now`.
pub fn present(s: &KioskState, site: &SiteSnapshot, now: UnixTime) -> View {
    let lang = s.lang;
    let measures: Vec<MeasureRow> = site.measures.iter().map(|m| measure_row(lang, m)).collect();
    View {
        app: app_view(s, site, now),
        scan: ScanView {
            camera_state: match s.camera {
                CameraState::Starting => CameraLight::Starting,
                CameraState::Live(_) => CameraLight::Live,
                CameraState::Unavailable(_) => CameraLight::Unavailable,
                CameraState::Off => CameraLight::Off,
            },
            camera_problem: match &s.camera {
                CameraState::Unavailable(p) => Some(p.clone()),
                _ => None,
            },
            measure_index: i32::try_from(s.measure).unwrap_or(0),
            message: s.message.clone(),
            measures: measures.clone(),
        },
        ok: ok_view(s, site),
        refused: refused_view(s, site),
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

fn measure_row(lang: Lang, m: &Measure) -> MeasureRow {
    MeasureRow {
        id: m.id.to_string(),
        name: words::measure_name(lang, m),
        family: m.family.clone(),
        benefit: m.benefit.clone(),
        limit: m.limit.map(|l| (l.count, l.per)),
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

fn ok_view(s: &KioskState, site: &SiteSnapshot) -> OkView {
    let Some(ok) = &s.ok else {
        return OkView::default();
    };
    let a = &ok.approval;
    let takes = a.measure.benefit.takes_amount();
    let cats: Vec<String> = a
        .categories
        .iter()
        .map(|c| {
            let name = match s.lang {
                Lang::Zh => c.name_zh(),
                Lang::En => c.name_en(),
            };
            format!("{} {name}", c.code())
        })
        .collect();
    let mut v = OkView {
        name: a.claims.name.clone(),
        kind: Some(a.claims.kind),
        categories: cats.join("；"),
        measure: words::measure_name(s.lang, &a.measure),
        benefit: Some(a.measure.benefit.clone()),
        uses: a.used.map(|(used, limit)| (used, limit.count, limit.per)),
        takes_amount: takes,
        amount: ok.amount.text().to_owned(),
        companions_allowed: matches!(a.measure.benefit, Benefit::FreeEntry { .. }),
        companions: i32::try_from(ok.companions).unwrap_or(0),
        original: "—".into(),
        discount: "—".into(),
        payable: "—".into(),
        online: a.basis == xinyi_core::history::Basis::Online,
        holder_check: site.holder_check_needed(a).then_some(ok.holder_checked),
        problem: ok.problem.clone(),
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
            reference: r.reference.clone(),
            complaint_url: site.channel_link(Channel::Complaint, &r.reference),
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
                if v.problem.is_none() {
                    v.problem = Some(OkProblem::Failed(e.to_string()));
                }
            }
        }
    }
    v
}

fn refused_view(s: &KioskState, site: &SiteSnapshot) -> RefusedView {
    let Some(r) = &s.refused else {
        return RefusedView::default();
    };
    let show_objection = crate::reasons::objection_applies(r.refusal.reason);
    RefusedView {
        reason: Some(r.refusal.reason),
        code: r.refusal.reason.code().to_owned(),
        reference: r.reference.clone(),
        show_objection,
        objection_url: show_objection
            .then(|| site.channel_link(Channel::Objection, &r.reference))
            .flatten(),
        complaint_url: site.channel_link(Channel::Complaint, &r.reference),
    }
}

fn stale_view(s: &KioskState, site: &SiteSnapshot, now: UnixTime) -> StaleView {
    if s.screen != Screen::Stale {
        return StaleView::default();
    }
    let kind = if s.stale_clock {
        StaleKind::Clock(now.display_utc8())
    } else {
        match site.data_as_of {
            Some(as_of) => StaleKind::DataOld {
                age_minutes: minutes(now.0.saturating_sub(as_of.0)),
                max_minutes: minutes(site.max_offline_age_s),
            },
            None => StaleKind::NeverSynced,
        }
    };
    StaleView {
        kind,
        sync: sync_line(s, site),
    }
}

/// Whole minutes of a span in seconds; negative is zero.
fn minutes(s: i64) -> i64 {
    s.max(0) / 60
}

/// The sync worker's last report and what the staff page last did.
pub(super) fn sync_line(s: &KioskState, site: &SiteSnapshot) -> SyncLine {
    let state = match &s.sync {
        None if site.hub_url.is_none() => SyncState::FileOnly,
        None => SyncState::None,
        Some(x) => {
            let last = x
                .last_download
                .as_ref()
                .map(|(t, _)| words::time_of_day(*t))
                .unwrap_or_else(|| "—".into());
            match &x.last_error {
                Some(e) => SyncState::Failed {
                    error: e.clone(),
                    last,
                },
                None => SyncState::Online { last },
            }
        }
    };
    SyncLine {
        state,
        note: s.staff.note.clone(),
    }
}
