//! The kiosk, headless (Slint's testing backend), against a real demo hub
//! on 127.0.0.1 with a terminal enrolled through HTTP: elements are found
//! by their accessible labels and pressed as a clerk would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::rc::Rc;

use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use slint::ComponentHandle as _;
use slint::platform::WindowEvent;
use xinyi::store::JournalEntry;
use xinyi::ui::contract::UiScreen;
use xinyi::ui::inline::Inline;
use xinyi::ui::kiosk::{Msg, Source};
use xinyi::ui::{AppAdapter, AppWindow, DemoAdapter, OkAdapter, RefusedAdapter, StaffAdapter};
use xinyi_core::wire::journal::Body;

/// A scanner-fast clock: every key is 5 ms after the last.
fn scanner_clock() -> Rc<dyn Fn() -> u64> {
    let t = Rc::new(Cell::new(1_000u64));
    Rc::new(move || {
        t.set(t.get() + 5);
        t.get()
    })
}

struct Kiosk_ {
    app: Inline,
    world: std::sync::Arc<xinyi_demo::DemoWorld>,
}

fn kiosk() -> Kiosk_ {
    i_slint_backend_testing::init_no_event_loop();
    let (app, world) = Inline::demo(scanner_clock()).unwrap();
    Kiosk_ { app, world }
}

impl Kiosk_ {
    fn ui(&self) -> &AppWindow {
        self.app.ui()
    }

    fn find(&self, label: &str) -> ElementHandle {
        ElementHandle::find_by_accessible_label(self.ui(), label)
            .next()
            .unwrap_or_else(|| panic!("no element labelled {label:?} on screen"))
    }

    fn has(&self, label: &str) -> bool {
        ElementHandle::find_by_accessible_label(self.ui(), label)
            .next()
            .is_some()
    }

    fn press(&self, label: &str) {
        self.find(label).invoke_accessible_default_action();
    }

    /// Types `text` as a keyboard-wedge scanner does: key by key, then Enter.
    fn scan(&self, text: &str) {
        for c in text.chars().chain(std::iter::once('\n')) {
            self.ui().window().dispatch_event(WindowEvent::KeyPressed {
                text: c.to_string().into(),
            });
        }
    }

    fn code(&self, id: &str) -> String {
        self.world
            .sample_codes(xinyi::terminal::now())
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
            .text
    }

    fn screen(&self) -> UiScreen {
        self.ui().global::<AppAdapter>().get_screen()
    }

    /// The address the QR code labelled `label` carries.
    fn code_link(&self, label: &str) -> String {
        ElementHandle::find_by_accessible_label(self.ui(), label)
            .find(|e| e.accessible_role() == Some(AccessibleRole::Image))
            .unwrap_or_else(|| panic!("no code labelled {label:?} on screen"))
            .accessible_value()
            .unwrap_or_default()
            .to_string()
    }

    fn records(&self) -> Vec<JournalEntry> {
        self.app
            .with_runner(|r| r.terminal().journal(50).unwrap())
            .unwrap()
    }

    fn keypad(&self, pad: &str, keys: &str) {
        for k in keys.chars() {
            let name = if k == '.' {
                "小数点".to_string()
            } else {
                k.to_string()
            };
            self.press(&format!("{pad} {name}"));
        }
    }
}

#[test]
fn a_scanned_code_shows_ok_with_amounts_and_confirm_writes_the_journal() {
    let k = kiosk();
    assert_eq!(k.screen(), UiScreen::Scan);
    assert!(k.has("请出示守信激励码"));
    // No camera in this run: the scan page says so.
    assert!(k.has("未连接摄像头"));

    k.scan(&k.code("person"));
    assert_eq!(
        k.screen(),
        UiScreen::Ok,
        "the scanner burst should give the OK page"
    );
    assert!(k.has("核验通过，可享受优惠"));
    assert!(k.has("姓名 陈*华"));

    // ¥10.01 at 50%: discount 501 fen (rounded half up), payable 500.
    k.keypad("金额键盘", "10.01");
    let ok = k.ui().global::<OkAdapter>();
    assert_eq!(ok.get_amount(), "10.01");
    assert_eq!(ok.get_discount(), "¥5.01");
    assert_eq!(ok.get_payable(), "¥5.00");
    assert!(k.has("应付 ¥5.00"));
    // Only the demo operators' roster records before the confirm.
    let redemptions = |k: &Kiosk_| {
        k.records()
            .into_iter()
            .filter(|e| e.record.body.kind() == "redemption")
            .count()
    };
    assert_eq!(redemptions(&k), 0, "nothing is recorded before confirm");

    k.press("确认优惠");
    assert!(ok.get_confirmed());
    assert_eq!(ok.get_receipt_payable(), "¥5.00");
    let records = k.records();
    assert_eq!(redemptions(&k), 1);
    // The receipt names the record just made, in words from the window.
    let seq = ok.get_receipt_seq();
    assert_eq!(i64::from(seq), records[0].seq as i64);
    let time = ok.get_receipt_time();
    assert!(k.has(&format!(
        "已记录 第{seq}号 · {time} · 优惠 ¥5.01 · 应收 ¥5.00"
    )));
    match &records[0].record.body {
        Body::Redemption {
            measure,
            original,
            discount,
            payable,
            ..
        } => {
            assert_eq!(measure, "XYX-BUS-TOPUP");
            assert_eq!((*original, *discount, *payable), (1001, 501, 500));
        }
        other => panic!("expected a redemption, got {other:?}"),
    }
    // A small complaint code with the redemption's reference, at the
    // address the demo registry published for the site.
    let reference = xinyi_core::hex::encode(&records[0].id);
    assert_eq!(ok.get_receipt_reference(), reference.as_str());
    let link = k.code_link("投诉建议");
    assert!(
        link.ends_with(&format!("/c/complaint?ref={reference}")),
        "{link}"
    );
    k.press("下一位");
    assert_eq!(k.screen(), UiScreen::Scan);

    // The same app code again: refused as replayed, from the demo drawer.
    k.press("演示面板");
    k.press("再次出示刚才的动态码");
    assert_eq!(k.screen(), UiScreen::Refused);
    assert!(k.has("此二维码已使用过"));
}

#[test]
fn a_refusal_shows_its_reason_in_plain_words_with_a_reference() {
    let k = kiosk();
    k.press("演示面板");
    k.press("不在名单的人");
    assert_eq!(k.screen(), UiScreen::Refused);
    // Words, not the code, are the title; the advice says what to do.
    assert!(k.has("未在守信激励名单中"));
    assert!(k.has("如对名单有异议，可扫描下方二维码提出名单异议。"));
    assert!(!k.has("NOT_LISTED"));
    let reference = k.ui().global::<RefusedAdapter>().get_reference();
    assert_eq!(reference.len(), 32);
    // The reference is the refusal record's id, already committed.
    let records = k.records();
    assert_eq!(xinyi_core::hex::encode(&records[0].id), reference.as_str());
    assert!(
        matches!(&records[0].record.body, Body::Refusal { reason, .. } if reason == "NOT_LISTED")
    );
    assert!(k.has("名单异议") && k.has("投诉建议"));
    // The codes carry the reference to the registry's pages.
    let objection = k.code_link("名单异议");
    assert!(
        objection.ends_with(&format!("/c/objection?ref={reference}")),
        "{objection}"
    );
    let complaint = k.code_link("投诉建议");
    assert!(
        complaint.ends_with(&format!("/c/complaint?ref={reference}")),
        "{complaint}"
    );

    // A code that is not a credential at all.
    k.press("下一位");
    k.scan("HELLO-WORLD-1234");
    assert_eq!(k.screen(), UiScreen::Refused);
    assert!(k.has("无法识别的二维码"));
}

#[test]
fn the_language_switch_turns_the_screen_english_and_back() {
    let k = kiosk();
    assert!(k.has("请出示守信激励码"));
    k.press("切换语言");
    assert!(k.has("Please show your credit-incentive code"));
    assert!(!k.has("请出示守信激励码"));
    // Words computed in Rust follow too.
    k.press("Demo panel");
    k.press("Person not listed");
    assert!(k.has("Not on the credit-incentive list"));
    k.press("Next");
    k.press("Switch language");
    assert!(k.has("请出示守信激励码"));
}

#[test]
fn operators_sign_in_by_pin_and_a_supervisor_voids() {
    let k = kiosk();
    // A redemption to void: the printed card, a ¥20 top-up.
    k.scan(&k.code("card"));
    assert_eq!(k.screen(), UiScreen::Ok);
    k.press("快捷金额 20");
    // A printed card: the clerk first ticks that its holder's ID matches.
    let before = k.records().len();
    k.press("确认优惠");
    assert!(k.has("印制卡：请先核对持卡人身份证件与姓名一致，并勾选。"));
    assert_eq!(k.records().len(), before);
    k.press("已核对持卡人证件，与姓名一致");
    k.press("确认优惠");
    let id = xinyi_core::hex::encode(&k.records()[0].id);

    k.press("工作人员");
    assert_eq!(k.screen(), UiScreen::Staff);
    let staff = k.ui().global::<StaffAdapter>();
    // The demo opens with its clerk signed in; sign out and in again.
    assert!(staff.get_signed_in());
    k.press("退出登录");
    assert!(!staff.get_signed_in());
    // A wrong PIN is refused and counted.
    k.keypad("签到键盘", "1001");
    k.press("密码");
    k.keypad("签到键盘", "0000");
    k.press("签到");
    assert!(!staff.get_signed_in());
    assert!(
        k.has("工号或密码不正确（还可再试 4 次）。"),
        "{:?}",
        staff.get_error()
    );
    k.press("密码");
    k.keypad("签到键盘", "1234");
    k.press("签到");
    assert!(staff.get_signed_in(), "{:?}", staff.get_error());
    assert!(k.has("已签到 店员 王丽（1001）"));
    // Shift totals count the redemption.
    assert!(k.has("公交卡充值5折 1"));

    // The clerk's own PIN does not authorise a void.
    k.press(&format!("作废 {id}"));
    k.keypad("主管键盘", "1001");
    k.press("主管密码");
    k.keypad("主管键盘", "1234");
    k.press("确认作废");
    assert!(staff.get_void_open());
    assert!(
        k.has("只有主管可以作废记录。"),
        "{:?}",
        staff.get_void_error()
    );
    assert!(!k.records().iter().any(|e| e.voided));

    // The supervisor's does.
    k.press("主管工号");
    for _ in 0..4 {
        k.press("主管键盘 退格");
    }
    k.keypad("主管键盘", "9001");
    k.press("主管密码");
    k.keypad("主管键盘", xinyi::ui::kiosk::DEMO_SUPERVISOR.2);
    k.press("确认作废");
    assert!(!staff.get_void_open(), "{:?}", staff.get_void_error());
    let records = k.records();
    let target = records
        .iter()
        .find(|e| xinyi_core::hex::encode(&e.id) == id)
        .unwrap();
    assert!(target.voided);
    assert!(
        matches!(&records[0].record.body, Body::Void { supervisor, .. } if supervisor == "9001")
    );
    assert!(
        !k.has("公交卡充值5折 1"),
        "a voided redemption leaves the totals"
    );
    k.press("返回核验");
    assert_eq!(k.screen(), UiScreen::Scan);
}

#[test]
fn start_options_open_full_screen_with_the_given_picture() {
    let k = kiosk();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("card.png");
    xinyi::ui::qr::write_png(&k.code("card"), &png).unwrap();
    let opts = xinyi::ui::KioskOptions {
        fullscreen: true,
        image: Some(png),
        ..Default::default()
    };
    assert!(!k.ui().window().is_fullscreen());
    xinyi::ui::app::apply_start(k.ui(), &opts, &|m| k.app.post(m));
    assert!(k.ui().window().is_fullscreen());
    // The picture was read and its code checked: the OK page, read from a file.
    assert_eq!(
        k.app.with_runner(|r| r.state().screen),
        Some(xinyi::ui::view::Screen::Ok)
    );
}

#[test]
fn confirming_needs_someone_signed_in() {
    let k = kiosk();
    k.press("工作人员");
    k.press("退出登录");
    k.press("返回核验");
    k.scan(&k.code("card"));
    assert_eq!(k.screen(), UiScreen::Ok);
    k.press("快捷金额 20");
    k.press("确认优惠");
    let ok = k.ui().global::<OkAdapter>();
    assert!(!ok.get_confirmed());
    assert!(
        k.has("请工作人员先在“工作人员”页签到，再确认。"),
        "{:?}",
        ok.get_problem()
    );
    assert!(
        !k.records()
            .iter()
            .any(|e| e.record.body.kind() == "redemption"),
        "a redemption was recorded with nobody signed in"
    );
}

#[test]
fn a_terminal_that_cannot_be_opened_never_falls_back_to_the_demo() {
    use xinyi::terminal::Paths;
    use xinyi::ui::{KioskOptions, Opened};
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::new(dir.path());
    // A damaged database file.
    std::fs::write(&paths.db, b"not a database, but some terminal's file").unwrap();
    let opened = xinyi::ui::app::open_terminal(&paths, &KioskOptions::default()).unwrap();
    assert!(matches!(opened, Opened::Broken(_)), "{opened:?}");
    // An enrolled terminal whose key file is gone.
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::new(dir.path());
    let mut store = xinyi::store::Store::open(&paths.db).unwrap();
    store
        .set_identity(&xinyi::store::Identity {
            terminal_id: "t".into(),
            site_id: "demo-bus".into(),
            registry_key: ed25519_dalek::SigningKey::from_bytes(&[1; 32])
                .verifying_key()
                .to_bytes(),
            hub_url: None,
            hub_ca: None,
        })
        .unwrap();
    drop(store);
    let opened = xinyi::ui::app::open_terminal(&paths, &KioskOptions::default()).unwrap();
    match opened {
        Opened::Broken(e) => assert!(format!("{e:#}").contains("key"), "{e:#}"),
        Opened::Terminal(..) => panic!("opened a terminal without its key"),
    }
}

/// The status bar's height (`ui/app.slint`): nothing the clerk presses
/// may sit under it.
const STATUS_BAR: f32 = 56.0;

impl Kiosk_ {
    /// Each element a clerk presses or must read that lies outside the
    /// window or under the status bar, with where it is. The void buttons
    /// of the record list scroll, and are left out.
    // Geometry in logical pixels is floating point.
    #[allow(clippy::float_arithmetic)]
    fn out_of_reach(&self) -> Vec<String> {
        let size = self.ui().window().size();
        let scale = self.ui().window().scale_factor();
        let (w, h) = (size.width as f32 / scale, size.height as f32 / scale);
        // The demo drawer's staff line is the text showing the PINs.
        let pin = self.ui().global::<DemoAdapter>().get_supervisor_pin();
        let mut out = Vec::new();
        let elements = ElementQuery::from_root(self.ui())
            .match_descendants()
            .match_predicate(|e| {
                e.accessible_role() == Some(AccessibleRole::Button)
                    || e.accessible_role() == Some(AccessibleRole::Text)
            })
            .find_all();
        for e in elements {
            let label = e.accessible_label().unwrap_or_default().to_string();
            let scrolled = label.len() > 33
                && label.ends_with(|c: char| c.is_ascii_hexdigit())
                && e.accessible_role() == Some(AccessibleRole::Button);
            let must_show = e.accessible_role() == Some(AccessibleRole::Button)
                || (!pin.is_empty() && label.contains(pin.as_str()));
            if scrolled || !must_show || label.is_empty() {
                continue;
            }
            let (p, s) = (e.absolute_position(), e.size());
            if p.x < -0.5
                || p.y < -0.5
                || p.x + s.width > w + 0.5
                || p.y + s.height > h - STATUS_BAR + 0.5
            {
                out.push(format!(
                    "{label:?} at ({:.0}, {:.0}) size {:.0}×{:.0}",
                    p.x, p.y, s.width, s.height
                ));
            }
        }
        out
    }

    fn check_fits(&self, page: &str, problems: &mut Vec<String>) {
        let size = self.ui().window().size();
        let lang = self.ui().global::<AppAdapter>().get_language();
        let found: std::collections::BTreeSet<String> = self.out_of_reach().into_iter().collect();
        for p in found {
            problems.push(format!("{}×{} {lang} {page}: {p}", size.width, size.height));
        }
    }
}

/// At the two screen sizes counters have, in both languages, every page's
/// buttons (and the demo drawer's staff line) are inside the window and
/// clear of the status bar.
#[test]
fn every_page_fits_a_counter_screen_in_both_languages() {
    let k = kiosk();
    let mut problems = Vec::new();
    // Each page once, seen at every size in both languages.
    let mut check = |k: &Kiosk_, page: &str| {
        for (w, h) in [(1280, 800), (1024, 768)] {
            k.ui().window().set_size(slint::PhysicalSize::new(w, h));
            for _ in 0..2 {
                k.check_fits(page, &mut problems);
                k.app.post(Msg::ToggleLanguage);
            }
        }
    };
    check(&k, "scan");
    k.app.post(Msg::ToggleDrawer);
    assert!(k.ui().global::<AppAdapter>().get_drawer_open());
    check(&k, "demo drawer");
    k.app.post(Msg::ToggleDrawer);

    k.app.post(Msg::Scanned {
        text: k.code("person"),
        source: Source::Scanner,
    });
    assert_eq!(k.screen(), UiScreen::Ok);
    check(&k, "OK");
    k.app.post(Msg::QuickAmount("20".into()));
    k.app.post(Msg::Confirm);
    assert!(k.ui().global::<OkAdapter>().get_confirmed());
    check(&k, "OK confirmed");
    k.app.post(Msg::Next);

    // A printed card: the OK page also carries the holder tick.
    k.app.post(Msg::Scanned {
        text: k.code("card"),
        source: Source::Scanner,
    });
    assert!(k.ui().global::<OkAdapter>().get_holder_check_needed());
    check(&k, "OK printed card");
    k.app.post(Msg::Cancel);

    k.app.post(Msg::Scanned {
        text: "HELLO-WORLD-1234".into(),
        source: Source::Scanner,
    });
    assert_eq!(k.screen(), UiScreen::Refused);
    check(&k, "refused");
    k.app.post(Msg::Next);

    k.app.post(Msg::OpenStaff);
    assert_eq!(k.screen(), UiScreen::Staff);
    check(&k, "staff");
    let id = xinyi_core::hex::encode(
        &k.records()
            .iter()
            .find(|e| e.record.body.kind() == "redemption" && !e.voided)
            .unwrap()
            .id,
    );
    k.app.post(Msg::OpenVoid(id));
    assert!(k.ui().global::<StaffAdapter>().get_void_open());
    check(&k, "void dialog");
    k.app.post(Msg::VoidCancel);
    k.app.post(Msg::BackToScan);

    // Last, as it leaves a record a month ahead: every later scan would
    // see a clock set back.
    let late = xinyi_core::UnixTime(xinyi::terminal::now().0 + 30 * 86_400);
    k.app.post_at(
        Msg::Scanned {
            text: k.code("card"),
            source: Source::Scanner,
        },
        late,
    );
    assert_eq!(k.screen(), UiScreen::Stale);
    check(&k, "stale");
    assert!(
        problems.is_empty(),
        "out of the window or under the status bar:\n{}",
        problems.join("\n")
    );
}

/// The string literal at the start of `s` (after blanks), unescaped, and
/// what follows it.
fn literal(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

/// Every `@tr` of the pages has English in the bundled translation
/// (`assets/translations/make_po.py` writes it): a sentence added to a page
/// without its English would show Chinese on the English screen.
#[test]
fn every_sentence_on_the_pages_has_english() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // (context, Chinese) → English, from the .po file.
    let po =
        std::fs::read_to_string(root.join("assets/translations/en/LC_MESSAGES/xinyi.po")).unwrap();
    let mut english = std::collections::BTreeMap::new();
    let (mut ctx, mut id) = (String::new(), None::<String>);
    for line in po.lines() {
        if let Some(rest) = line.strip_prefix("msgctxt ") {
            ctx = literal(rest).unwrap().0;
        } else if let Some(rest) = line.strip_prefix("msgid ") {
            id = Some(literal(rest).unwrap().0);
        } else if let Some(rest) = line.strip_prefix("msgstr ") {
            let msgid = id.take().unwrap();
            english.insert((std::mem::take(&mut ctx), msgid), literal(rest).unwrap().0);
        }
    }
    let mut files = vec![root.join("ui")];
    let mut missing = Vec::new();
    let mut seen = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if p.extension().is_none_or(|e| e != "slint") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (at, _) in text.match_indices("@tr(") {
            let (first, rest) = literal(&text[at + 4..]).unwrap();
            let key = match rest.trim_start().strip_prefix("=>") {
                Some(rest) => (first, literal(rest).unwrap().0),
                None => (String::new(), first),
            };
            seen += 1;
            if english.get(&key).is_none_or(|en| en.is_empty()) {
                missing.push(format!("{}: {key:?}", p.display()));
            }
        }
    }
    assert!(seen > 100, "only {seen} @tr found");
    assert!(
        missing.is_empty(),
        "no English for:\n{}",
        missing.join("\n")
    );
}

/// The kiosk and the command line say the same about each refusal: the
/// pages' `Words` (with the bundled English) and `xinyi::reasons` give the
/// same title and advice for every reason, in both languages.
#[test]
fn the_kiosk_and_the_command_line_word_every_refusal_alike() {
    use xinyi::ui::Words;
    use xinyi::ui::adapters::values;
    let k = kiosk();
    let words = k.ui().global::<Words>();
    for (lang, pick) in [("", 0), ("en", 1)] {
        slint::select_bundled_translation(lang).unwrap();
        for r in xinyi_core::Reason::ALL {
            let cli = xinyi::reasons::words(r);
            let (title, advice) = match pick {
                0 => (cli.title_zh, cli.advice_zh),
                _ => (cli.title_en, cli.advice_en),
            };
            let ui = values::reason(r);
            assert_eq!(
                words.invoke_reason_title(ui).as_str(),
                title,
                "{r:?} in {lang:?}"
            );
            assert_eq!(
                words.invoke_reason_advice(ui, true).as_str(),
                advice,
                "{r:?} in {lang:?}"
            );
            // Without the objection code the page says how to object
            // without it; the other reasons' advice needs no code.
            let without = words.invoke_reason_advice(ui, false);
            let about_the_list = matches!(
                r,
                xinyi_core::Reason::NotListed | xinyi_core::Reason::ListingNotValid
            );
            assert_eq!(
                without.as_str() != advice,
                about_the_list,
                "{r:?} in {lang:?}"
            );
        }
    }
    slint::select_bundled_translation("").unwrap();
}
