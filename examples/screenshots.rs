//! Renders every main screen of the kiosk headless (Slint's software
//! renderer, no display needed) against the embedded demo hub, and writes
//! PNGs for the README:
//!
//!     cargo run --example screenshots -- docs/screenshots

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use i_slint_backend_testing::ElementHandle;
use slint::ComponentHandle as _;
use xinyi::terminal::now;
use xinyi::ui::AppWindow;
use xinyi::ui::inline::Inline;
use xinyi::ui::kiosk::{Msg, Source};
use xinyi_core::UnixTime;

fn shot(ui: &AppWindow, dir: &Path, name: &str) {
    let buf = ui.window().take_snapshot().expect("snapshot");
    let img = image::RgbaImage::from_raw(buf.width(), buf.height(), buf.as_bytes().to_vec())
        .expect("image size");
    let path = dir.join(format!("{name}.png"));
    img.save(&path).expect("write png");
    println!("{}", path.display());
}

fn press(ui: &AppWindow, label: &str) {
    ElementHandle::find_by_accessible_label(ui, label)
        .next()
        .unwrap_or_else(|| panic!("no element {label:?}"))
        .invoke_accessible_default_action();
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "docs/screenshots".into()),
    );
    render_all(&dir);
}

/// Every screen the README shows, as PNGs in `dir`.
fn render_all(dir: &Path) {
    std::fs::create_dir_all(dir).expect("output directory");
    // The testing backend with a real rasterizer: no display needed.
    slint::platform::set_platform(Box::new(i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time: true,
            threading: false,
            renderer_name: Some("software".into()),
        },
    )))
    .expect("platform");
    let t = Rc::new(Cell::new(0u64));
    let (app, world) = Inline::demo(Rc::new(move || {
        t.set(t.get() + 5);
        t.get()
    }))
    .expect("demo kiosk");
    let ui = app.ui().clone_strong();
    let code = |id: &str| {
        world
            .sample_codes(now())
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
            .text
    };

    shot(&ui, dir, "scan");
    press(&ui, "演示面板");
    shot(&ui, dir, "demo-drawer");
    press(&ui, "关闭演示面板");

    app.post(Msg::Scanned {
        text: code("person"),
        source: Source::Demo,
    });
    for k in ["1", "0", "0"] {
        press(&ui, &format!("金额键盘 {k}"));
    }
    shot(&ui, dir, "ok");
    press(&ui, "确认优惠");
    shot(&ui, dir, "ok-confirmed");
    press(&ui, "下一位");

    app.post(Msg::Scanned {
        text: code("not-listed"),
        source: Source::Demo,
    });
    shot(&ui, dir, "refused");
    press(&ui, "下一位");

    press(&ui, "工作人员");
    // The demo opens with its clerk signed in: sign out to show the sign-in.
    press(&ui, "退出登录");
    shot(&ui, dir, "staff-sign-in");
    for k in ["1", "0", "0", "1"] {
        press(&ui, &format!("签到键盘 {k}"));
    }
    press(&ui, "密码");
    for k in ["1", "2", "3", "4"] {
        press(&ui, &format!("签到键盘 {k}"));
    }
    press(&ui, "签到");
    shot(&ui, dir, "staff");
    press(&ui, "返回核验");

    press(&ui, "切换语言");
    app.post(Msg::Scanned {
        text: code("card"),
        source: Source::Demo,
    });
    press(&ui, "Quick amount 20");
    shot(&ui, dir, "ok-en");
    press(&ui, "Cancel");
    press(&ui, "Switch language");

    // Last: the refusal it records four days ahead raises the terminal's
    // trusted-time floor, and every later scan at today's time would be
    // CLOCK_SUSPECT.
    // Four days without reaching the registry: past the 72-hour limit.
    let later = UnixTime(now().0 + 4 * 86_400);
    app.post_at(
        Msg::Scanned {
            text: code("card"),
            source: Source::Demo,
        },
        later,
    );
    shot(&ui, dir, "stale");
    app.post(Msg::BackToScan);
}

/// The README's screenshot command keeps working: every screen renders
/// (`cargo test` runs this; the example is built as a test too).
#[test]
fn every_screen_renders() {
    let dir = tempfile::tempdir().unwrap();
    render_all(dir.path());
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "demo-drawer.png",
            "ok-confirmed.png",
            "ok-en.png",
            "ok.png",
            "refused.png",
            "scan.png",
            "staff-sign-in.png",
            "staff.png",
            "stale.png"
        ]
    );
    for n in &names {
        let img = image::open(dir.path().join(n)).unwrap();
        assert_eq!((img.width(), img.height()), (1280, 800), "{n}");
    }
    // The confirmed page's small complaint code reads back from the
    // screen, as a phone would read it: the complaint page, with the
    // redemption's reference.
    let shot = image::open(dir.path().join("ok-confirmed.png"))
        .unwrap()
        .to_luma8();
    let text = xinyi::camera::decode::decode_luma(&shot).expect("the complaint code reads");
    let (page, reference) = text.split_once("?ref=").unwrap();
    assert!(page.ends_with("/c/complaint"), "{text}");
    assert_eq!(reference.len(), 32, "{text}");
}
