//! The citizens' side in a real browser (headless Chromium), phone-sized
//! for the citizen's pages and office-sized for the console: a refusal at
//! a real terminal, its objection page opened at the address the
//! terminal's code carries (from the site's signed config), a case
//! filed, the reviewer seeing the refusal it points to and answering, the
//! citizen reading the answer (and nothing with a wrong phone); a
//! complaint from a confirmed redemption reaching the unit's queue; an
//! overdue case flagged; the public list of measures; in demo mode the
//! demo person's code page, whose QR code, as the browser draws it, a
//! terminal reads and accepts.
//!
//! Screenshots go to `docs/screenshots/citizen/` (and the console's case
//! pages to `docs/screenshots/console/`) with `XINYI_SCREENSHOTS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fantoccini::{Client, Locator};
use serde_json::Value;
use xinyi::counter::{Counter as _, Scan};
use xinyi_core::UnixTime;
use xinyi_core::wire::config::Channel;
use xinyi_hub::accounts::Role;
use xinyi_hub::http::Server;
use xinyi_hub::http::console::Console;
use xinyi_hub::{Clock as _, Hub};
use xinyi_testkit::{catalogue, first_at, read, vectors};

use crate::console_browser::{
    Served, add_users, browser, find, serve_a_citizen, shot, shots, sign_in, sign_out, text,
};
use crate::sync_loop::registry_without_lists;
use crate::terminal_support::{clerk, enroll};

/// A phone's screen, and an office screen.
const PHONE: (u32, u32) = (390, 844);
const DESK: (u32, u32) = (1280, 800);
/// The citizen's contact phone in these tests (no real person's).
const CONTACT: &str = "13800138000";

async fn screen(c: &Client, (w, h): (u32, u32)) {
    c.set_window_size(w, h).await.unwrap();
}

/// Types into a field of the current page.
async fn fill(c: &Client, id: &str, value: &str) {
    find(c, Locator::Id(id))
        .await
        .send_keys(value)
        .await
        .unwrap();
}

async fn click(c: &Client, id: &str) {
    find(c, Locator::Id(id)).await.click().await.unwrap();
}

/// This machine has no CJK font, and the browser keeps text it shaped
/// before the bundled font arrived as it was: so the font is fetched into
/// the browser's cache first, from a page without Chinese text, as a
/// phone's own CJK font would already be there.
async fn fetch_font(c: &Client, base: &str) {
    c.goto(&format!("{base}/c/static/citizen.css"))
        .await
        .unwrap();
    c.execute_async(
        "const done = arguments[arguments.length - 1];
         new FontFace('warm', 'url(/c/static/NotoSansSC-Regular.ttf)').load()
             .then(() => done(true), () => done(false));",
        vec![],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_objects_complains_and_reads_the_answer() {
    let Some(b) = browser().await else { return };
    let c = &b.client;
    let (_citizen_tmp, phone_shots) = shots("citizen");
    let (_console_tmp, desk_shots) = shots("console");
    let v: Value = vectors();
    let tmp = tempfile::tempdir().unwrap();
    let (hub, clock) = registry_without_lists(&tmp.path().join("hub"), &v);
    let at = first_at(&v);
    clock.set(at);
    hub.import_listings(&read("vectors/listings.csv")).unwrap();
    hub.import_exclusions(&read("vectors/exclusions.csv"))
        .unwrap();
    let site = hub.sites().unwrap().remove(0);
    add_users(
        &hub,
        &[
            ("reviewer", Role::Reviewer, None),
            ("unit", Role::Operator, Some(site.unit.as_str())),
        ],
    );
    let hub: Arc<Hub> = Arc::new(hub);
    let api = Server::start(hub.clone()).await.unwrap();
    let console = Console::start(hub.clone()).await.unwrap();
    let base = console.url();

    // A real terminal: a citizen served, then the same code again, refused.
    let mut t = enroll(&hub, &site.id, &api.url(), &tmp.path().join("t"), None, at).await;
    let (down, _) = t.sync(at).await.unwrap();
    down.unwrap();
    let Served {
        measure,
        citizen: person,
        code,
        confirmed: served,
    } = serve_a_citizen(&mut t, &v, at);
    let staff = clerk(&mut t, at);
    let Scan::Refused { refusal, record } = t.scan(&code, &measure, staff.id(), at).unwrap() else {
        panic!("a replayed code was accepted")
    };
    let (_, up) = t.sync(at).await.unwrap();
    up.unwrap();
    // The codes the kiosk shows, from the site's synced config.
    let objection_url = t
        .snapshot()
        .channel_link(Channel::Objection, &xinyi_core::hex::encode(&record.id))
        .expect("the site has an objection address");
    let complaint_url = t
        .snapshot()
        .channel_link(
            Channel::Complaint,
            &xinyi_core::hex::encode(&served.record.id),
        )
        .expect("the site has a complaint address");
    assert!(objection_url.starts_with(&format!("{}/c/objection?ref=", api.url())));

    screen(c, PHONE).await;
    fetch_font(c, &api.url()).await;
    // The citizen opens the objection code's page on a phone.
    c.goto(&objection_url).await.unwrap();
    assert_eq!(text(c, "#record-site").await, site.name);
    assert!(!text(c, "#record-reason").await.is_empty());
    let page = c.source().await.unwrap();
    assert!(!page.contains(person.sub.as_str()) && !page.contains(&person.name));
    fill(c, "phone", CONTACT).await;
    fill(c, "text", "同一个码只扫了一次，却说已使用。").await;
    shot(c, &phone_shots, "objection").await;
    click(c, "submit").await;
    let number = text(c, "#case-number").await;
    shot(c, &phone_shots, "filed").await;

    // The reviewer, at the office, finds the refusal the case points to.
    screen(c, DESK).await;
    sign_in(c, &base, "reviewer").await;
    c.goto(&format!("{base}/cases")).await.unwrap();
    find(c, Locator::Css(&format!("#case-{number} a")))
        .await
        .click()
        .await
        .unwrap();
    let reason = text(c, "#record-reason").await;
    assert!(reason.starts_with(refusal.reason.code()), "{reason}");
    assert_eq!(text(c, "#record-sub").await, person.sub.as_str());
    click(c, "take").await;
    text(c, "#flash").await;
    let answer = "经核实：该码此前已在本柜台使用，系统按规定拒绝重复使用。";
    find(c, Locator::Id("outcome"))
        .await
        .select_by_value("not_upheld")
        .await
        .unwrap();
    fill(c, "answer", answer).await;
    shot(c, &desk_shots, "case").await;
    click(c, "send-answer").await;
    // (The page before had a notice too: wait for the answered case.)
    text(c, "#case-answer").await;
    assert!(text(c, "#flash").await.contains(&number));
    sign_out(c, &base).await;

    // The citizen reads the answer; a wrong phone shows nothing.
    screen(c, PHONE).await;
    let status = |tail: &'static str| {
        let number = number.clone();
        let url = format!("{}/c/case", api.url());
        async move {
            c.goto(&url).await.unwrap();
            fill(c, "number", &number).await;
            fill(c, "phone-tail", tail).await;
            click(c, "look").await;
        }
    };
    status("0000").await;
    text(c, "#not-found").await;
    assert!(!c.source().await.unwrap().contains(answer));
    status(&CONTACT[CONTACT.len() - 4..]).await;
    assert_eq!(text(c, "#answer").await, answer);
    shot(c, &phone_shots, "status").await;

    // A complaint from the confirmed redemption's code reaches the unit.
    c.goto(&complaint_url).await.unwrap();
    text(c, "#record-site").await;
    fill(c, "phone", CONTACT).await;
    fill(c, "text", "窗口人员服务很好，建议增加周末服务时间。").await;
    click(c, "submit").await;
    let complaint = text(c, "#case-number").await;
    screen(c, DESK).await;
    sign_in(c, &base, "unit").await;
    c.goto(&format!("{base}/cases")).await.unwrap();
    text(c, &format!("#case-{complaint}")).await;
    assert!(
        c.find(Locator::Id(&format!("case-{number}")))
            .await
            .is_err()
    );

    // Past its day the complaint is overdue.
    let due = hub.case_due(clock.now());
    clock.set(UnixTime(due.0 + 60));
    sign_in(c, &base, "unit").await;
    c.goto(&format!("{base}/cases")).await.unwrap();
    let row = find(c, Locator::Id(&format!("case-{complaint}"))).await;
    assert!(
        row.attr("class")
            .await
            .unwrap()
            .unwrap()
            .contains("overdue")
    );
    text(c, "#overdue-count").await;
    shot(c, &desk_shots, "cases").await;

    // The public list of measures, on a phone.
    screen(c, PHONE).await;
    c.goto(&format!("{}/c/measures", api.url())).await.unwrap();
    let day = hub.today();
    for m in catalogue().measures().iter().filter(|m| m.in_force(day)) {
        find(c, Locator::Id(&format!("measure-{}", m.id))).await;
    }
    shot(c, &phone_shots, "measures").await;
    c.goto(&format!("{}/c", api.url())).await.unwrap();
    text(c, "#to-measures").await;
    shot(c, &phone_shots, "home").await;
    screen(c, DESK).await;
    api.stop().await.unwrap();
    console.stop().await.unwrap();
}

/// Demo mode's code page: the QR code the browser draws, read back from
/// the screenshot by the terminal's own decoder, is accepted at a demo
/// counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_code_page_shows_a_code_a_counter_accepts() {
    let Some(b) = browser().await else { return };
    let c = &b.client;
    let (_tmp, phone_shots) = shots("citizen");
    let mut demo = tokio::task::spawn_blocking(xinyi::ui::demo::DemoHub::start)
        .await
        .unwrap()
        .unwrap();
    // The page renews itself each minute, without a script.
    let res = reqwest::get(format!("{}/c/demo", demo.url()))
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert_eq!(res.headers()["refresh"], "60");
    screen(c, PHONE).await;
    fetch_font(c, demo.url()).await;
    c.goto(&format!("{}/c/demo", demo.url())).await.unwrap();
    text(c, "#minted").await;
    shot(c, &phone_shots, "demo").await;
    let png = std::fs::read(phone_shots.join("demo.png")).unwrap();
    let img = image::load_from_memory(&png).unwrap();
    let code = xinyi::camera::decode::decode(&img).expect("a QR code in the screenshot");
    let (site, measure) = xinyi_demo::seed::DEMO_SITES
        .iter()
        .find(|s| s.3.contains(&"XYX-BUS-TOPUP"))
        .map(|s| (s.0, "XYX-BUS-TOPUP"))
        .unwrap();
    let scanned = tokio::task::spawn_blocking(move || {
        let mut t = demo.terminal(site).unwrap();
        let now = xinyi::terminal::now();
        let staff = t
            .sign_in(
                xinyi::ui::kiosk::DEMO_CLERK.0,
                xinyi::ui::kiosk::DEMO_CLERK.2,
                now,
            )
            .unwrap();
        let m = xinyi_core::MeasureId::parse(measure).unwrap();
        t.scan(&code, &m, staff.id(), now).unwrap()
    })
    .await
    .unwrap();
    assert!(matches!(scanned, Scan::Ok(_)), "{scanned:?}");
}
