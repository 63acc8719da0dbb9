//! The kiosk on the calling thread, for headless tests, screenshots and
//! benchmarks.

use std::rc::Rc;
use std::sync::mpsc;

#[cfg(feature = "demo")]
use anyhow::{Context as _, Result};
use slint::ComponentHandle as _;

use super::AppWindow;
use super::adapters::{self, Post};
#[cfg(feature = "demo")]
use super::app::DEMO_SITE;
use super::app::{CounterOptions, Demo, Runner};
#[cfg(feature = "demo")]
use super::demo::DemoHub;
use super::kiosk::Msg;
use super::view::Delta;
use crate::terminal::Terminal;

/// The kiosk run on the calling thread, for headless tests and
/// screenshots: each posted message is handled at once and its view
/// applied before the callback returns. Worker reports are drained after
/// every message.
pub struct Inline {
    counter: Rc<std::cell::RefCell<Runner>>,
    ui: AppWindow,
    post: Post,
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inline").finish_non_exhaustive()
    }
}

impl Inline {
    /// Wires `ui` to a counter over `term` on this thread. `clock_ms`
    /// drives the scanner parser (tests pass a fake clock).
    pub fn new(
        ui: AppWindow,
        term: Terminal,
        demo: Demo,
        opts: CounterOptions,
        clock_ms: Rc<dyn Fn() -> u64>,
    ) -> Inline {
        let (tx, rx) = mpsc::channel::<Msg>();
        let rx = Rc::new(rx);
        let counter = Rc::new(std::cell::RefCell::new(Runner::new(
            term,
            demo,
            opts,
            tx,
            Box::new(|_| {}),
        )));
        let weak = ui.as_weak();
        let c = counter.clone();
        let reports = rx.clone();
        let post: Post = Rc::new(move |m| {
            let Some(ui) = weak.upgrade() else { return };
            let Ok(mut counter) = c.try_borrow_mut() else {
                return;
            };
            let mut delta = counter.handle(m);
            while let Ok(m) = reports.try_recv() {
                delta = merge(delta, counter.handle(m));
            }
            adapters::apply(&ui, &delta);
        });
        adapters::wire(&ui, &post, clock_ms);
        if let Ok(mut c) = counter.try_borrow_mut() {
            let mut d = c.delta();
            while let Ok(m) = rx.try_recv() {
                d = merge(d, c.handle(m));
            }
            adapters::apply(&ui, &d);
        }
        Inline { counter, ui, post }
    }

    /// The demo's bus counter in a 1280×800 window on this thread, with
    /// [`CounterOptions::HEADLESS`], and the demo's world to draw sample
    /// codes from. Slint's platform must be set first (the testing backend).
    #[cfg(feature = "demo")]
    pub fn demo(
        clock_ms: Rc<dyn Fn() -> u64>,
    ) -> Result<(Inline, std::sync::Arc<xinyi_demo::DemoWorld>)> {
        let mut demo = DemoHub::start()?;
        let term = demo.terminal(DEMO_SITE)?;
        let world = demo.world();
        let ui = AppWindow::new().context("creating the kiosk window")?;
        ui.window().set_size(slint::PhysicalSize::new(1280, 800));
        ui.show().context("showing the kiosk window")?;
        let app = Inline::new(ui, term, Some(demo), CounterOptions::HEADLESS, clock_ms);
        Ok((app, world))
    }

    pub fn ui(&self) -> &AppWindow {
        &self.ui
    }

    /// Posts a message as a callback would.
    pub fn post(&self, m: Msg) {
        (self.post)(m);
    }

    /// Handles a message as if the clock said `at`, and shows the result.
    pub fn post_at(&self, m: Msg, at: xinyi_core::UnixTime) {
        let Ok(mut counter) = self.counter.try_borrow_mut() else {
            return;
        };
        let delta = counter.handle_at(m, at);
        adapters::apply(&self.ui, &delta);
    }

    /// Runs `f` on the runner (e.g. to read its state or terminal).
    pub fn with_runner<R>(&self, f: impl FnOnce(&Runner) -> R) -> Option<R> {
        self.counter.try_borrow().ok().map(|c| f(&c))
    }
}

fn merge(a: Delta, b: Delta) -> Delta {
    Delta {
        app: b.app.or(a.app),
        scan: b.scan.or(a.scan),
        ok: b.ok.or(a.ok),
        refused: b.refused.or(a.refused),
        stale: b.stale.or(a.stale),
        staff: b.staff.or(a.staff),
        demo: b.demo.or(a.demo),
    }
}
