//! The controller against a counter in memory: the real verdict (`decide`
//! over the conformance vectors' keys, lists and catalogue), records and
//! operators in vectors — no SQLite, no hub, no Slint.

use serde_json::Value;
use xinyi_core::verdict::DEFAULT_MAX_OFFLINE_AGE_S;
use xinyi_core::wire::journal::Body;
use xinyi_core::{Fen, Measure, Reason, UnixTime};

use super::*;
use crate::counter::Counter;
use crate::terminal::SignIn;
use crate::ui::view::{CameraLight, StaffError, StaleKind};

mod fake;
use fake::{CLERK, Fake, SUPERVISOR};

/// A first step of a scenario (no history before it) whose expectation
/// passes `want`, with its site's measures.
struct Step {
    qr: String,
    at: UnixTime,
    measures: Vec<Measure>,
    measure: String,
    expect: String,
    amount: Option<u64>,
}

fn first_step(v: &Value, want: impl Fn(&Value) -> bool) -> Step {
    let catalogue = xinyi_testkit::catalogue();
    let (scenario, step) = v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s, &s["steps"][0]))
        .find(|(_, st)| want(st))
        .expect("the vectors have such a step");
    Step {
        qr: step["qr"].as_str().unwrap().to_owned(),
        at: UnixTime(step["at"].as_i64().unwrap()),
        measures: scenario["site"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| catalogue.get(id.as_str().unwrap()).unwrap().clone())
            .collect(),
        measure: step["measure"].as_str().unwrap().to_owned(),
        expect: step["expect"].as_str().unwrap().to_owned(),
        amount: step["amount_fen"].as_u64(),
    }
}

/// An OK whose measure takes an amount.
fn ok_step(v: &Value) -> Step {
    first_step(v, |st| {
        st["expect"] == "OK" && st["amount_fen"].as_u64().is_some_and(|a| a > 0)
    })
}

/// A refusal the citizen's code earned (not the terminal's data or clock).
fn refused_step(v: &Value) -> Step {
    first_step(v, |st| {
        !matches!(
            st["expect"].as_str(),
            Some("OK" | "STALE_DATA" | "CLOCK_SUSPECT")
        )
    })
}

fn kiosk(step: &Step, v: &Value) -> (KioskState, Fake) {
    let fake = Fake::new(v, step.measures.clone(), step.at);
    let mut s = KioskState::new(&fake);
    s.measure = step
        .measures
        .iter()
        .position(|m| m.id.as_str() == step.measure)
        .unwrap();
    (s, fake)
}

fn send(s: &mut KioskState, c: &mut Fake, at: UnixTime, msgs: Vec<Msg>) -> Vec<Effect> {
    msgs.into_iter().flat_map(|m| update(s, m, c, at)).collect()
}

fn scan(text: &str) -> Msg {
    Msg::Scanned {
        text: text.to_owned(),
        source: Source::Scanner,
    }
}

fn sign_in(id: &str, pin: &str) -> Vec<Msg> {
    let mut m = vec![Msg::OpenStaff, Msg::StaffField(0)];
    m.extend(id.chars().map(|c| Msg::StaffKey(c.to_string())));
    m.push(Msg::StaffField(1));
    m.extend(pin.chars().map(|c| Msg::StaffKey(c.to_string())));
    m.push(Msg::SignIn);
    m
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

#[test]
fn a_scan_that_passes_shows_the_ok_page_and_a_confirm_records_it() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    let fx = send(&mut s, &mut c, step.at, sign_in(CLERK.0, CLERK.1));
    assert!(fx.is_empty());
    assert!(s.operator.is_some());
    let fx = send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::BackToScan, scan(&step.qr)],
    );
    assert_eq!(s.screen, Screen::Ok, "{:?}", s.message);
    assert_eq!(fx, vec![Effect::Sound(Sound::Ok)]);
    let view = present(&s, &c.snapshot(), step.at);
    assert!(!view.ok.name.is_empty());
    assert!(!view.ok.confirmed);

    // Confirming without an amount is refused with a reason, nothing written.
    send(&mut s, &mut c, step.at, vec![Msg::Confirm]);
    assert_eq!(s.ok.as_ref().unwrap().problem, Some(OkProblem::EnterAmount));
    assert!(c.records.is_empty());

    let amount = step.amount.unwrap();
    let fx = send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::QuickAmount(yuan(amount)), Msg::Confirm],
    );
    assert_eq!(fx, vec![Effect::UploadNow]);
    let receipt = s.ok.as_ref().unwrap().receipt.clone().unwrap();
    assert_eq!(receipt.seq, 1);
    assert_eq!(receipt.amounts.original, Fen(amount));
    let view = present(&s, &c.snapshot(), step.at);
    assert!(view.ok.confirmed);
    let shown = view.ok.receipt.unwrap();
    assert_eq!(shown.seq, 1);
    assert_eq!(shown.payable, receipt.amounts.payable.to_string());
    assert!(matches!(c.records[0].body, Body::Redemption { .. }));

    // A second confirm writes nothing more; Next goes back to scanning.
    send(&mut s, &mut c, step.at, vec![Msg::Confirm, Msg::Next]);
    assert_eq!(c.records.len(), 1);
    assert_eq!(s.screen, Screen::Scan);
}

#[test]
fn nobody_signed_in_cannot_confirm_where_the_site_is_not_self_service() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    let amount = step.amount.unwrap();
    send(
        &mut s,
        &mut c,
        step.at,
        vec![scan(&step.qr), Msg::QuickAmount(yuan(amount)), Msg::Confirm],
    );
    assert_eq!(s.screen, Screen::Ok);
    assert_eq!(s.ok.as_ref().unwrap().problem, Some(OkProblem::SignInFirst));
    assert!(c.records.is_empty());
}

#[test]
fn a_refusal_shows_its_reason_and_the_record_is_the_citizens_reference() {
    let v = xinyi_testkit::vectors();
    let step = refused_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    let fx = send(&mut s, &mut c, step.at, vec![scan(&step.qr)]);
    assert_eq!(s.screen, Screen::Refused);
    assert_eq!(fx, vec![Effect::Sound(Sound::Refused), Effect::UploadNow]);
    let view = present(&s, &c.snapshot(), step.at);
    assert_eq!(view.refused.code, step.expect);
    assert_eq!(
        view.refused.reference,
        xinyi_core::hex::encode(&c.records[0].id)
    );
    // Before the site's config arrived there is no channel to point to:
    // no codes (the page says what to do without them).
    assert_eq!(view.refused.objection_url, None);
    assert_eq!(view.refused.complaint_url, None);
    // The page is told the reason itself, and words it.
    assert_eq!(view.refused.reason, Reason::from_code(&step.expect));
    assert!(view.refused.reason.is_some());
}

#[test]
fn the_camera_does_not_replace_a_verdict_waiting_for_its_confirm() {
    let v = xinyi_testkit::vectors();
    let ok = ok_step(&v);
    let refused = refused_step(&v);
    let (mut s, mut c) = kiosk(&ok, &v);
    send(&mut s, &mut c, ok.at, vec![scan(&ok.qr)]);
    let fx = send(
        &mut s,
        &mut c,
        ok.at,
        vec![Msg::Scanned {
            text: refused.qr.clone(),
            source: Source::Camera,
        }],
    );
    assert!(fx.is_empty());
    assert_eq!(s.screen, Screen::Ok);
    assert!(c.records.is_empty());
}

#[test]
fn data_past_the_offline_age_shows_the_amber_page() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    let late = UnixTime(step.at.0 + DEFAULT_MAX_OFFLINE_AGE_S + 3600);
    send(&mut s, &mut c, late, vec![Msg::Tick, scan(&step.qr)]);
    assert_eq!(s.screen, Screen::Stale);
    assert!(!s.stale_clock);
    let view = present(&s, &c.snapshot(), late);
    assert_eq!(view.app.freshness, crate::ui::view::FreshLevel::Stale);
    // How old the data is and the site's limit, in minutes, for the page
    // to word.
    match view.stale.kind {
        StaleKind::DataOld {
            age_minutes,
            max_minutes,
        } => {
            assert_eq!(max_minutes, DEFAULT_MAX_OFFLINE_AGE_S / 60);
            assert!(age_minutes > max_minutes, "{age_minutes} ≤ {max_minutes}");
        }
        other => panic!("expected data too old, got {other:?}"),
    }
    // The terminal's problem is recorded, as every refusal is.
    assert!(matches!(&c.records[0].body, Body::Refusal { reason, .. } if reason == "STALE_DATA"));
}

#[test]
fn a_void_needs_the_supervisors_pin_and_a_wrong_one_voids_nothing() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    let amount = step.amount.unwrap();
    let mut msgs = sign_in(CLERK.0, CLERK.1);
    msgs.extend([
        Msg::BackToScan,
        scan(&step.qr),
        Msg::QuickAmount(yuan(amount)),
        Msg::Confirm,
        Msg::OpenStaff,
    ]);
    send(&mut s, &mut c, step.at, msgs);
    let id = xinyi_core::hex::encode(&c.records[0].id);
    let view = present(&s, &c.snapshot(), step.at);
    assert!(view.staff.records.iter().any(|r| r.id == id && r.can_void));

    let keys = |field: i32, text: &str| {
        let mut m = vec![Msg::VoidField(field)];
        m.extend(text.chars().map(|ch| Msg::VoidKey(ch.to_string())));
        m
    };
    let mut wrong = vec![Msg::OpenVoid(id.clone())];
    wrong.extend(keys(0, SUPERVISOR.0));
    wrong.extend(keys(1, "000000"));
    wrong.push(Msg::VoidConfirm);
    let fx = send(&mut s, &mut c, step.at, wrong);
    assert!(fx.is_empty());
    let problem = s.staff.void.as_ref().unwrap().problem.clone();
    assert!(matches!(
        problem,
        Some(StaffProblem::SignIn(SignIn::Refused { .. }))
    ));
    assert!(!c.records[0].voided);
    assert_eq!(c.records.len(), 1);
    let view = present(&s, &c.snapshot(), step.at);
    assert!(matches!(
        view.staff.void_error,
        Some(StaffError::WrongPin { .. })
    ));

    // A clerk's own PIN is not a supervisor's.
    let mut clerk = vec![Msg::VoidField(0), Msg::VoidKey("clear".into())];
    clerk.extend(keys(0, CLERK.0));
    clerk.extend(keys(1, CLERK.1));
    clerk.push(Msg::VoidConfirm);
    send(&mut s, &mut c, step.at, clerk);
    assert_eq!(s.staff.void.as_ref().unwrap().sup.text(), CLERK.0);
    assert_eq!(
        s.staff.void.as_ref().unwrap().problem,
        Some(StaffProblem::NotSupervisor)
    );
    assert!(!c.records[0].voided);

    send(&mut s, &mut c, step.at, vec![Msg::VoidCancel]);
    let mut right = vec![Msg::OpenVoid(id)];
    right.extend(keys(0, SUPERVISOR.0));
    right.extend(keys(1, SUPERVISOR.1));
    right.push(Msg::VoidConfirm);
    let fx = send(&mut s, &mut c, step.at, right);
    assert_eq!(fx, vec![Effect::UploadNow]);
    assert!(c.records[0].voided);
    assert!(s.staff.void.is_none());
    assert_eq!(s.staff.note, Some(StaffNote::Voided { seq: 2 }));
    // The page was read again: the row can no longer be voided.
    let view = present(&s, &c.snapshot(), step.at);
    assert!(view.staff.records.iter().all(|r| !r.can_void));
}

#[test]
fn switching_the_language_renders_the_same_state_in_english_and_saves_it() {
    let v = xinyi_testkit::vectors();
    let step = refused_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    send(&mut s, &mut c, step.at, vec![scan(&step.qr)]);
    let zh = present(&s, &c.snapshot(), step.at);
    send(&mut s, &mut c, step.at, vec![Msg::ToggleLanguage]);
    assert_eq!(c.settings.lang, Lang::En);
    let en = present(&s, &c.snapshot(), step.at);
    assert_eq!(en.app.screen, Screen::Refused);
    assert_eq!(en.refused.reference, zh.refused.reference);
    // The pages word the values in the language the window selects: the
    // refusal is the same value in both.
    assert_eq!((zh.app.lang, en.app.lang), (Lang::Zh, Lang::En));
    assert_eq!(en.refused, zh.refused);
    assert_eq!(en.app.fresh_minutes, zh.app.fresh_minutes);
    // The catalogue's names are data, taken in the clerk's language.
    let m = &c.snapshot().measures[s.measure];
    assert_eq!(zh.scan.measures[s.measure].name, m.name_zh);
    assert_eq!(en.scan.measures[s.measure].name, m.name_en);
    // And back: the same words as before.
    send(&mut s, &mut c, step.at, vec![Msg::ToggleLanguage]);
    assert_eq!(present(&s, &c.snapshot(), step.at), zh);
}

#[test]
fn a_missing_camera_is_told_apart_from_one_that_would_not_open() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    let raw = "Could not find any device".to_owned();
    send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::CameraUnavailable(camera_problem(&[], raw.clone()))],
    );
    // No device: the page says so in its own words; the driver's are
    // left for the log.
    let view = present(&s, &c.snapshot(), step.at);
    assert_eq!(view.scan.camera_state, CameraLight::Unavailable);
    assert_eq!(view.scan.camera_problem, Some(CameraProblem::NoDevice));
    let with_device = camera_problem(&["cam".to_owned()], raw.clone());
    send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::CameraUnavailable(with_device)],
    );
    let view = present(&s, &c.snapshot(), step.at);
    // The device's own words only follow, as detail.
    assert_eq!(
        view.scan.camera_problem,
        Some(CameraProblem::CannotOpen(raw))
    );
}

#[test]
fn a_sync_report_refreshes_the_site_and_a_picture_is_read_by_the_glue() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::Sync(crate::sync::worker::SyncStatus::default())],
    );
    assert_eq!(c.refreshed, 1);
    let fx = send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::OpenImage(" code.png ".into())],
    );
    assert_eq!(fx, vec![Effect::ReadImage("code.png".into())]);
    send(&mut s, &mut c, step.at, vec![Msg::OpenImage("  ".into())]);
    assert_eq!(s.message, Some(ScanMessage::Image(ImageProblem::NoPath)));
}

#[test]
fn the_view_is_made_from_the_state_alone() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    send(&mut s, &mut c, step.at, vec![Msg::Tick]);
    let before = c.records.len();
    let a = present(&s, &c.snapshot(), step.at);
    let b = present(&s, &c.snapshot(), step.at);
    assert_eq!(a, b);
    assert_eq!(c.records.len(), before);
    assert_eq!(a.scan.measures.len(), step.measures.len());
}

#[test]
fn the_records_to_upload_count_follows_each_record_written() {
    let v = xinyi_testkit::vectors();
    let step = refused_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    send(&mut s, &mut c, step.at, vec![Msg::Tick]);
    let before = present(&s, &c.snapshot(), step.at).app.unsent;
    assert_eq!(before, Some(0));
    send(&mut s, &mut c, step.at, vec![scan(&step.qr)]);
    assert_eq!(present(&s, &c.snapshot(), step.at).app.unsent, Some(1));
}

#[test]
fn a_confirm_counts_its_record_and_a_scan_that_passes_reads_nothing_more() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    send(&mut s, &mut c, step.at, sign_in(CLERK.0, CLERK.1));
    send(&mut s, &mut c, step.at, vec![Msg::BackToScan, Msg::Tick]);
    assert_eq!(present(&s, &c.snapshot(), step.at).app.unsent, Some(0));
    send(&mut s, &mut c, step.at, vec![scan(&step.qr)]);
    assert_eq!(s.screen, Screen::Ok);
    let amount = step.amount.unwrap();
    send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::QuickAmount(yuan(amount)), Msg::Confirm],
    );
    assert_eq!(present(&s, &c.snapshot(), step.at).app.unsent, Some(1));
}

/// The registry's channel pages, as a site's synced config carries them.
const OBJECTION: &str = "https://xyjl.example.gov.cn/c/objection";
const COMPLAINT: &str = "https://12345.example.gov.cn/form?kind=ts";

/// `c`'s site as the registry configured it, with these channel addresses.
fn with_channels(c: &mut Fake, objection: Option<&str>, complaint: Option<&str>) {
    let snapshot = c.snapshot();
    c.site = std::sync::Arc::new(crate::counter::SiteSnapshot {
        site: Some(xinyi_core::wire::config::Site {
            id: snapshot.site_id.clone(),
            name: "综合服务窗口".into(),
            unit: "阳江市".into(),
            measures: snapshot.measures.iter().map(|m| m.id.to_string()).collect(),
            max_offline_age_s: snapshot.max_offline_age_s,
            void_window_s: 1800,
            unattended: false,
            online_deadline_ms: 300,
            check_holder: true,
            objection_url: objection.map(str::to_owned),
            complaint_url: complaint.map(str::to_owned),
        }),
        ..(*snapshot).clone()
    });
}

/// A first step refused with `reason`.
fn refused_with(v: &Value, reason: &str) -> Step {
    first_step(v, |st| st["expect"] == reason)
}

#[test]
fn a_refusals_codes_point_where_the_sites_config_says_with_its_reference() {
    let v = xinyi_testkit::vectors();
    let step = refused_with(&v, "NOT_LISTED");
    let (mut s, mut c) = kiosk(&step, &v);
    with_channels(&mut c, Some(OBJECTION), Some(COMPLAINT));
    send(&mut s, &mut c, step.at, vec![scan(&step.qr)]);
    assert_eq!(s.screen, Screen::Refused);
    let view = present(&s, &c.snapshot(), step.at).refused;
    let reference = xinyi_core::hex::encode(&c.records[0].id);
    assert_eq!(view.reference, reference);
    assert!(view.show_objection);
    assert_eq!(
        view.objection_url,
        Some(format!("{OBJECTION}?ref={reference}"))
    );
    assert_eq!(
        view.complaint_url,
        Some(format!("{COMPLAINT}&ref={reference}"))
    );

    // Another refusal, another reference: the codes follow it.
    send(&mut s, &mut c, step.at, vec![Msg::Next, scan(&step.qr)]);
    let again = present(&s, &c.snapshot(), step.at).refused;
    let second = xinyi_core::hex::encode(&c.records[1].id);
    assert_ne!(second, reference);
    assert_eq!(
        again.objection_url,
        Some(format!("{OBJECTION}?ref={second}"))
    );
}

#[test]
fn a_site_without_a_channel_shows_no_code_for_it() {
    let v = xinyi_testkit::vectors();
    let step = refused_with(&v, "NOT_LISTED");
    let (mut s, mut c) = kiosk(&step, &v);
    with_channels(&mut c, None, Some(COMPLAINT));
    send(&mut s, &mut c, step.at, vec![scan(&step.qr)]);
    let view = present(&s, &c.snapshot(), step.at).refused;
    // The citizen may still object (the page says how); there is no code.
    assert!(view.show_objection);
    assert_eq!(view.objection_url, None);
    assert!(view.complaint_url.is_some());

    with_channels(&mut c, Some(OBJECTION), None);
    let view = present(&s, &c.snapshot(), step.at).refused;
    assert!(view.objection_url.is_some());
    assert_eq!(view.complaint_url, None);

    // An address that is not one (a config that bypassed the checks)
    // makes no code rather than a wrong one.
    with_channels(
        &mut c,
        Some("javascript:alert(1)"),
        Some("https://a.example/#x"),
    );
    let view = present(&s, &c.snapshot(), step.at).refused;
    assert_eq!((view.objection_url, view.complaint_url), (None, None));
}

#[test]
fn a_refusal_not_about_the_list_has_no_objection_code() {
    let v = xinyi_testkit::vectors();
    let step = refused_step(&v);
    assert!(!matches!(
        step.expect.as_str(),
        "NOT_LISTED" | "LISTING_NOT_VALID"
    ));
    let (mut s, mut c) = kiosk(&step, &v);
    with_channels(&mut c, Some(OBJECTION), Some(COMPLAINT));
    send(&mut s, &mut c, step.at, vec![scan(&step.qr)]);
    assert_eq!(s.screen, Screen::Refused);
    let view = present(&s, &c.snapshot(), step.at).refused;
    assert!(!view.show_objection);
    assert_eq!(view.objection_url, None);
    assert_eq!(
        view.complaint_url,
        Some(format!(
            "{COMPLAINT}&ref={}",
            xinyi_core::hex::encode(&c.records[0].id)
        ))
    );
}

#[test]
fn a_confirmed_redemption_carries_the_complaint_code_with_its_reference() {
    let v = xinyi_testkit::vectors();
    let step = ok_step(&v);
    let (mut s, mut c) = kiosk(&step, &v);
    with_channels(&mut c, Some(OBJECTION), Some(COMPLAINT));
    let mut msgs = sign_in(CLERK.0, CLERK.1);
    msgs.extend([Msg::BackToScan, scan(&step.qr)]);
    send(&mut s, &mut c, step.at, msgs);
    assert_eq!(s.screen, Screen::Ok);
    // Not before the confirm: there is no record to refer to yet.
    assert_eq!(present(&s, &c.snapshot(), step.at).ok.receipt, None);

    let amount = step.amount.unwrap();
    send(
        &mut s,
        &mut c,
        step.at,
        vec![Msg::QuickAmount(yuan(amount)), Msg::Confirm],
    );
    let receipt = present(&s, &c.snapshot(), step.at).ok.receipt.unwrap();
    let reference = xinyi_core::hex::encode(&c.records[0].id);
    assert!(matches!(c.records[0].body, Body::Redemption { .. }));
    assert_eq!(receipt.reference, reference);
    assert_eq!(
        receipt.complaint_url,
        Some(format!("{COMPLAINT}&ref={reference}"))
    );

    // A site without a complaint channel: the receipt, and no code.
    with_channels(&mut c, Some(OBJECTION), None);
    let receipt = present(&s, &c.snapshot(), step.at).ok.receipt.unwrap();
    assert_eq!(receipt.reference, reference);
    assert_eq!(receipt.complaint_url, None);
}
