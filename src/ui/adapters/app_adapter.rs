//! `AppAdapter`: the page switch, header, status bar, language and the
//! scanner's raw keys.

use std::cell::RefCell;
use std::rc::Rc;

use slint::ComponentHandle as _;

use super::{Post, s};
use crate::scanner::{Fed, WedgeParser};
use crate::ui::contract::{UiFreshness, UiNet, UiScreen};
use crate::ui::kiosk::{Msg, Source};
use crate::ui::view::{AppView, FreshLevel, NetState, Screen};
use crate::ui::words::Lang;
use crate::ui::{AppAdapter, AppWindow};

pub fn wire(ui: &AppWindow, post: &Post, clock_ms: Rc<dyn Fn() -> u64>) {
    let g = ui.global::<AppAdapter>();
    let p = post.clone();
    g.on_toggle_language(move || p(Msg::ToggleLanguage));
    let p = post.clone();
    g.on_open_staff(move || p(Msg::OpenStaff));
    let p = post.clone();
    g.on_toggle_drawer(move || p(Msg::ToggleDrawer));
    // The parser runs here, on the UI thread, on every raw key: it is
    // cheap, and a scan is recognised whatever element has focus.
    let parser = RefCell::new(WedgeParser::new());
    let p = post.clone();
    g.on_key(move |text| {
        let now = clock_ms();
        let mut parser = parser.borrow_mut();
        let fed = parser.feed_text(&text, now);
        let mut took = false;
        for f in fed {
            if let Fed::Scan(t) = f {
                took = true;
                p(Msg::Scanned {
                    text: t,
                    source: Source::Scanner,
                });
            }
        }
        // Keys of a burst are swallowed so they do not land in a
        // focused text field; the first one or two may.
        took || parser.in_burst()
    });
}

pub fn apply(ui: &AppWindow, v: &AppView) {
    let g = ui.global::<AppAdapter>();
    if g.get_language().as_str() != v.lang.code() {
        // Chinese is the source language; English is bundled.
        let _ = slint::select_bundled_translation(match v.lang {
            Lang::Zh => "",
            Lang::En => "en",
        });
        g.set_language(s(v.lang.code()));
    }
    g.set_screen(match v.screen {
        Screen::Scan => UiScreen::Scan,
        Screen::Ok => UiScreen::Ok,
        Screen::Refused => UiScreen::Refused,
        Screen::Stale => UiScreen::Stale,
        Screen::Staff => UiScreen::Staff,
    });
    g.set_demo(v.demo);
    g.set_drawer_open(v.drawer_open);
    g.set_site(s(&v.site));
    g.set_unit(s(&v.unit));
    g.set_clock(s(&v.clock));
    g.set_net(match v.net {
        NetState::Connecting => UiNet::Connecting,
        NetState::Online => UiNet::Online,
        NetState::Offline => UiNet::Offline,
        NetState::FileOnly => UiNet::FileOnly,
    });
    g.set_data_version(
        v.data_version
            .map_or(-1, |d| i32::try_from(d).unwrap_or(i32::MAX)),
    );
    g.set_freshness(match v.freshness {
        FreshLevel::Fresh => UiFreshness::Fresh,
        FreshLevel::Expiring => UiFreshness::Expiring,
        FreshLevel::Stale => UiFreshness::Stale,
        FreshLevel::Never => UiFreshness::Never,
    });
    g.set_fresh_minutes(i32::try_from(v.fresh_minutes).unwrap_or(i32::MAX));
    g.set_unsent(
        v.unsent
            .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
    );
    let (id, name, supervisor) = v.operator.clone().unwrap_or_default();
    g.set_operator_id(s(&id));
    g.set_operator_name(s(&name));
    g.set_operator_supervisor(supervisor);
    g.set_notice(s(&v.notice));
}

/// The window's title follows the language through `@tr`; the kiosk flag
/// makes it full screen.
pub fn set_fullscreen(ui: &AppWindow, on: bool) {
    ui.window().set_fullscreen(on);
}
