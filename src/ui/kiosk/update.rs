//! What each message does to the kiosk's state, through the counter port.

use xinyi_core::measures::Benefit;
use xinyi_core::{Fen, Reason, UnixTime};

use super::{
    CameraProblem, CameraState, Effect, KioskState, Msg, OkProblem, OkState, Receipt, RefusedState,
    STAFF_RECORDS, ScanMessage, Source, StaffNote, StaffProblem, StaffState, VOID_REASONS,
    VoidState,
};
use crate::counter::{Counter, Scan};
use crate::settings::Settings;
use crate::terminal::{SignIn, record_id};
use crate::ui::entry::AmountEntry;
use crate::ui::sound::Sound;
use crate::ui::view::Screen;

/// Handles one message at `now`; returns what the glue must do.
pub fn update(s: &mut KioskState, msg: Msg, c: &mut dyn Counter, now: UnixTime) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Scanned { text, source } => scanned(s, c, &text, source, now, &mut fx),
        Msg::OpenImage(path) => {
            let path = path.trim();
            if path.is_empty() {
                s.message = Some(ScanMessage::Image(super::ImageProblem::NoPath));
            } else {
                fx.push(Effect::ReadImage(path.to_owned()));
            }
        }
        Msg::ImageUnread(why) => s.message = Some(ScanMessage::Image(why)),
        Msg::SelectMeasure(i) => {
            if s.screen == Screen::Scan && i < c.snapshot().measures.len() {
                s.measure = i;
            }
        }
        Msg::PadKey(k) => {
            if let Some(ok) = pending(s) {
                ok.amount.key(&k);
                ok.problem = None;
            }
        }
        Msg::QuickAmount(y) => {
            if let Some(ok) = pending(s) {
                ok.amount.set_yuan(&y);
                ok.problem = None;
            }
        }
        Msg::ToggleHolderChecked => {
            if let Some(ok) = pending(s) {
                ok.holder_checked = !ok.holder_checked;
                if ok.holder_checked && ok.problem == Some(OkProblem::CheckHolder) {
                    ok.problem = None;
                }
            }
        }
        Msg::Companions(step) => {
            if let Some(ok) = pending(s) {
                let max = match ok.approval.measure.benefit {
                    Benefit::FreeEntry { .. } => xinyi_core::money::MAX_COMPANIONS,
                    _ => 0,
                };
                let n = i64::from(ok.companions) + i64::from(step);
                ok.companions = u32::try_from(n.clamp(0, i64::from(max))).unwrap_or(0);
            }
        }
        Msg::Confirm => confirm(s, c, now, &mut fx),
        Msg::Cancel | Msg::Next | Msg::BackToScan => {
            s.ok = None;
            s.refused = None;
            s.staff.void = None;
            s.screen = Screen::Scan;
        }
        Msg::SyncNow => {
            s.staff.note = Some(StaffNote::SyncRequested);
            fx.push(Effect::SyncNow);
        }
        Msg::ToggleLanguage => {
            s.lang = s.lang.other();
            let lang = s.lang;
            save(s, c, |set| set.lang = lang);
        }
        Msg::OpenStaff => {
            s.screen = Screen::Staff;
            s.drawer = false;
            s.staff.problem = None;
            load_staff_page(s, c, now);
        }
        Msg::StaffKey(k) => {
            if s.staff.field == 0 {
                s.staff.id.key(&k);
            } else {
                s.staff.pin.key(&k);
            }
        }
        Msg::StaffField(f) => s.staff.field = f.clamp(0, 1),
        Msg::SignIn => sign_in(s, c, now),
        Msg::SignOut => {
            s.operator = None;
            s.staff = StaffState::default();
        }
        Msg::OpenVoid(id) => {
            if s.operator.is_some() && s.staff.records.iter().any(|r| hex(&r.id) == id) {
                s.staff.void = Some(VoidState {
                    target: id,
                    ..VoidState::default()
                });
            }
        }
        Msg::VoidKey(k) => {
            if let Some(v) = &mut s.staff.void {
                if v.field == 0 {
                    v.sup.key(&k);
                } else {
                    v.pin.key(&k);
                }
            }
        }
        Msg::VoidField(f) => {
            if let Some(v) = &mut s.staff.void {
                v.field = f.clamp(0, 1);
            }
        }
        Msg::VoidReason(r) => {
            if let Some(v) = &mut s.staff.void {
                v.reason = usize::try_from(r).unwrap_or(0).min(VOID_REASONS.len() - 1);
            }
        }
        Msg::VoidConfirm => void(s, c, now, &mut fx),
        Msg::VoidCancel => s.staff.void = None,
        Msg::ToggleCamera => {
            s.camera_on = !s.camera_on;
            let on = s.camera_on;
            save(s, c, |set| set.camera = on);
            if s.camera_on {
                s.camera = CameraState::Starting;
                fx.push(Effect::Camera(Some(s.camera_device)));
            } else {
                s.camera = CameraState::Off;
                fx.push(Effect::Camera(None));
            }
        }
        Msg::NextCamera => {
            let n = u32::try_from(s.camera_devices.len().max(1)).unwrap_or(1);
            s.camera_device = (s.camera_device + 1) % n;
            let device = s.camera_device;
            save(s, c, |set| set.camera_device = device);
            if s.camera_on {
                s.camera = CameraState::Starting;
                fx.push(Effect::Camera(Some(s.camera_device)));
            }
        }
        Msg::CameraDevices(d) => s.camera_devices = d,
        Msg::ToggleDrawer => s.drawer = s.is_demo() && !s.drawer,
        Msg::Present(id) => {
            #[cfg(feature = "demo")]
            if let Some(text) = s.demo.as_ref().and_then(|d| d.code(&id, now)) {
                scanned(s, c, &text, Source::Demo, now, &mut fx);
            }
            #[cfg(not(feature = "demo"))]
            let _ = id;
        }
        Msg::SwitchSite(site) => {
            #[cfg(feature = "demo")]
            if let Some(d) = &mut s.demo
                && d.site != site
            {
                d.switching = Some(None);
                fx.push(Effect::SwitchSite(site));
            }
            #[cfg(not(feature = "demo"))]
            let _ = site;
        }
        Msg::CameraOpened(name) => {
            if s.camera_on {
                s.camera = CameraState::Live(name);
            }
        }
        Msg::CameraUnavailable(why) => {
            if s.camera_on {
                s.camera = CameraState::Unavailable(why);
            }
        }
        Msg::Sync(status) => {
            s.sync = Some(status);
            // The worker applies data on its own connection: take the new
            // site now, and the page's records (uploads marked).
            if let Err(e) = c.refresh() {
                s.notice = Some(e.to_string());
            }
            refresh_status(s, c, now);
            if s.screen == Screen::Staff {
                load_staff_page(s, c, now);
            }
        }
        Msg::Tick => refresh_status(s, c, now),
    }
    fx
}

fn hex(id: &[u8]) -> String {
    xinyi_core::hex::encode(id)
}

/// The OK page waiting for its confirm.
fn pending(s: &mut KioskState) -> Option<&mut OkState> {
    s.ok.as_mut().filter(|o| o.receipt.is_none())
}

/// Changes one setting and saves it; a failure shows as a notice.
fn save(s: &mut KioskState, c: &mut dyn Counter, change: impl FnOnce(&mut Settings)) {
    let mut set = c.settings();
    change(&mut set);
    s.notice = c.save_settings(&set).err().map(|e| e.to_string());
}

fn refresh_status(s: &mut KioskState, c: &mut dyn Counter, now: UnixTime) {
    s.status = Some(c.status(now).map_err(|e| e.to_string()));
}

/// Today's totals and the latest records, for the staff page.
fn load_staff_page(s: &mut KioskState, c: &mut dyn Counter, now: UnixTime) {
    if s.operator.is_none() {
        s.staff.shift = None;
        s.staff.records.clear();
        return;
    }
    let from = now.date_utc8().start_utc8();
    s.staff.shift = Some(
        c.shift(from, UnixTime(now.0.saturating_add(1)))
            .map_err(|e| e.to_string()),
    );
    s.staff.records = c.records(STAFF_RECORDS).unwrap_or_default();
}

fn scanned(
    s: &mut KioskState,
    c: &mut dyn Counter,
    text: &str,
    source: Source,
    now: UnixTime,
    fx: &mut Vec<Effect>,
) {
    // The camera keeps seeing codes while the clerk types an amount or
    // signs in: only a deliberate scan replaces a pending verdict.
    let pending_ok = s.ok.as_ref().is_some_and(|o| o.receipt.is_none());
    if source == Source::Camera && (pending_ok || s.screen == Screen::Staff) {
        return;
    }
    if s.screen == Screen::Staff && s.staff.void.is_some() {
        return;
    }
    s.message = None;
    s.drawer = false;
    let site = c.snapshot();
    let Some(measure) = site
        .measures
        .get(s.measure)
        .or_else(|| site.measures.first())
    else {
        s.screen = Screen::Scan;
        s.message = Some(ScanMessage::NoMeasure);
        return;
    };
    let operator = s.operator_id();
    match c.scan(text, &measure.id, &operator, now) {
        Ok(Scan::Ok(approval)) => {
            let mut amount = AmountEntry::default();
            if !approval.measure.benefit.takes_amount() {
                amount.set_yuan("0");
            }
            #[cfg(feature = "demo")]
            if let Some(d) = &mut s.demo
                && approval.claims.form == xinyi_core::Form::Dynamic
            {
                d.last_person = Some(text.to_owned());
            }
            s.ok = Some(OkState {
                approval,
                amount,
                companions: 0,
                holder_checked: false,
                problem: None,
                receipt: None,
            });
            s.refused = None;
            s.screen = Screen::Ok;
            fx.push(Effect::Sound(Sound::Ok));
        }
        Ok(Scan::Refused { refusal, record }) => {
            s.ok = None;
            fx.push(Effect::Sound(Sound::Refused));
            fx.push(Effect::UploadNow);
            // Amber, not red: the terminal, not the citizen, must act.
            if matches!(refusal.reason, Reason::StaleData | Reason::ClockSuspect) {
                refresh_status(s, c, now);
                s.refused = None;
                s.stale_clock = refusal.reason == Reason::ClockSuspect;
                s.screen = Screen::Stale;
                return;
            }
            s.refused = Some(RefusedState {
                refusal,
                reference: hex(&record.id),
            });
            s.screen = Screen::Refused;
            refresh_status(s, c, now);
        }
        Err(e) => {
            s.screen = Screen::Scan;
            s.message = Some(ScanMessage::Failed(e.to_string()));
        }
    }
}

fn confirm(s: &mut KioskState, c: &mut dyn Counter, now: UnixTime, fx: &mut Vec<Effect>) {
    if pending(s).is_none() {
        return;
    }
    // A signed-in operator confirms; nobody only where the registry made
    // the site a self-service point.
    let by = match &s.operator {
        Some(op) => Ok(op.clone()),
        None => c.unattended(),
    };
    let Some(ok) = pending(s) else { return };
    let Ok(by) = by else {
        ok.problem = Some(OkProblem::SignInFirst);
        return;
    };
    let takes = ok.approval.measure.benefit.takes_amount();
    let amount = ok.amount.fen();
    if takes && amount.is_none_or(|a| a == Fen::ZERO) {
        ok.problem = Some(OkProblem::EnterAmount);
        return;
    }
    if c.snapshot().holder_check_needed(&ok.approval) && !ok.holder_checked {
        ok.problem = Some(OkProblem::CheckHolder);
        return;
    }
    let amount = if takes { amount } else { None };
    match c.confirm(
        &ok.approval,
        amount,
        ok.companions,
        ok.holder_checked,
        &by,
        now,
    ) {
        Ok(done) => {
            ok.receipt = Some(Receipt {
                reference: hex(&done.record.id),
                seq: done.record.seq,
                at: now,
                amounts: done.amounts,
                takes_amount: takes,
            });
            ok.problem = None;
            fx.push(Effect::UploadNow);
            refresh_status(s, c, now);
        }
        Err(e) => ok.problem = Some(OkProblem::Failed(e.to_string())),
    }
}

fn sign_in(s: &mut KioskState, c: &mut dyn Counter, now: UnixTime) {
    let id = s.staff.id.text().to_owned();
    let pin = s.staff.pin.text().to_owned();
    s.staff.pin.clear();
    if id.is_empty() || pin.is_empty() {
        s.staff.problem = Some(StaffProblem::EnterIdAndPin);
        return;
    }
    match c.authenticate(&id, &pin, now) {
        Ok(SignIn::Ok(op)) => {
            s.operator = Some(op);
            s.staff.problem = None;
            s.staff.field = 0;
            load_staff_page(s, c, now);
        }
        // A failed sign-in is journaled.
        Ok(refused) => {
            s.staff.problem = Some(StaffProblem::SignIn(refused));
            refresh_status(s, c, now);
        }
        Err(e) => s.staff.problem = Some(StaffProblem::Failed(e.to_string())),
    }
}

fn void(s: &mut KioskState, c: &mut dyn Counter, now: UnixTime, fx: &mut Vec<Effect>) {
    let Some(v) = s.staff.void.as_mut() else {
        return;
    };
    let (sup, pin) = (v.sup.text().to_owned(), v.pin.text().to_owned());
    v.pin.clear();
    let problem = |s: &mut KioskState, p: StaffProblem| {
        if let Some(v) = s.staff.void.as_mut() {
            v.problem = Some(p);
        }
    };
    let supervisor = match c.authenticate(&sup, &pin, now) {
        Ok(SignIn::Ok(op)) => match op.supervisor() {
            Some(sup) => sup,
            None => return problem(s, StaffProblem::NotSupervisor),
        },
        // A failed sign-in is journaled.
        Ok(refused) => {
            refresh_status(s, c, now);
            return problem(s, StaffProblem::SignIn(refused));
        }
        Err(e) => return problem(s, StaffProblem::Failed(e.to_string())),
    };
    let reason = VOID_REASONS.get(v.reason).copied().unwrap_or("作废");
    let result = record_id(&v.target).and_then(|id| c.void(&id, &supervisor, reason, now));
    match result {
        Ok(done) => {
            s.staff.void = None;
            s.staff.note = Some(StaffNote::Voided { seq: done.seq });
            load_staff_page(s, c, now);
            refresh_status(s, c, now);
            fx.push(Effect::UploadNow);
        }
        Err(e) => problem(s, StaffProblem::Failed(e.to_string())),
    }
}

/// The camera problem for a device that would not open.
pub fn camera_problem(devices: &[String], why: String) -> CameraProblem {
    if devices.is_empty() {
        CameraProblem::NoDevice
    } else {
        CameraProblem::CannotOpen(why)
    }
}
