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
use xinyi::ui::app::{CounterOptions, Inline};
use xinyi::ui::demo::DemoHub;
use xinyi::ui::kiosk::{Kiosk, Msg, Source};
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
    std::fs::create_dir_all(&dir).expect("output directory");
    // The testing backend with a real rasterizer: no display needed.
    slint::platform::set_platform(Box::new(i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time: true,
            threading: false,
            renderer_name: Some("software".into()),
        },
    )))
    .expect("platform");
    let mut demo = DemoHub::start().expect("demo hub");
    let term = demo.terminal("demo-bus").expect("demo terminal");
    let world = demo.world();
    let kiosk = Kiosk::new(term, Some((world.clone(), "demo-bus".into())));
    let ui = AppWindow::new().expect("window");
    ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    ui.show().expect("show");
    let t = Rc::new(Cell::new(0u64));
    let app = Inline::new(
        ui.clone_strong(),
        kiosk,
        Some(demo),
        CounterOptions {
            camera: false,
            sound: false,
            sync_worker: false,
        },
        Rc::new(move || {
            t.set(t.get() + 5);
            t.get()
        }),
    );
    let code = |id: &str| {
        world
            .sample_codes(now())
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
            .text
    };

    shot(&ui, &dir, "scan");
    press(&ui, "演示面板");
    shot(&ui, &dir, "demo-drawer");
    press(&ui, "关闭演示面板");

    app.post(Msg::Scanned {
        text: code("person"),
        source: Source::Demo,
    });
    for k in ["1", "0", "0"] {
        press(&ui, &format!("金额键盘 {k}"));
    }
    shot(&ui, &dir, "ok");
    press(&ui, "确认优惠");
    shot(&ui, &dir, "ok-confirmed");
    press(&ui, "下一位");

    app.post(Msg::Scanned {
        text: code("not-listed"),
        source: Source::Demo,
    });
    shot(&ui, &dir, "refused");
    press(&ui, "下一位");

    // Four days without reaching the registry: past the 72-hour limit.
    let later = UnixTime(now().0 + 4 * 86_400);
    app.post_at(
        Msg::Scanned {
            text: code("card"),
            source: Source::Demo,
        },
        later,
    );
    shot(&ui, &dir, "stale");
    app.post(Msg::BackToScan);

    press(&ui, "工作人员");
    shot(&ui, &dir, "staff-sign-in");
    for k in ["1", "0", "0", "1"] {
        press(&ui, &format!("签到键盘 {k}"));
    }
    press(&ui, "密码");
    for k in ["1", "2", "3", "4"] {
        press(&ui, &format!("签到键盘 {k}"));
    }
    press(&ui, "签到");
    shot(&ui, &dir, "staff");
    press(&ui, "返回核验");

    press(&ui, "切换语言");
    app.post(Msg::Scanned {
        text: code("card"),
        source: Source::Demo,
    });
    press(&ui, "Quick amount 20");
    shot(&ui, &dir, "ok-en");
}
