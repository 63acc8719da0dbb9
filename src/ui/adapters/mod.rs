//! One adapter per Slint global: the only code that sets a global's
//! properties and connects its callbacks. Callbacks only post messages;
//! `apply` copies the parts of a view that changed, mapping its values
//! onto the UI contract's types (`values`).

pub mod app_adapter;
pub mod demo_adapter;
pub mod ok_adapter;
pub mod refused_adapter;
pub mod scan_adapter;
pub mod staff_adapter;
pub mod stale_adapter;
pub mod values;

use std::rc::Rc;

use slint::{ModelRc, SharedString, VecModel};

use super::kiosk::Msg;
use super::view::{Delta, MeasureRow};
use super::{AppWindow, MeasureItem};

/// Where callbacks send their messages.
pub type Post = Rc<dyn Fn(Msg)>;

/// Connects every global's callbacks.
pub fn wire(ui: &AppWindow, post: &Post, clock_ms: Rc<dyn Fn() -> u64>) {
    app_adapter::wire(ui, post, clock_ms);
    scan_adapter::wire(ui, post);
    ok_adapter::wire(ui, post);
    refused_adapter::wire(ui, post);
    stale_adapter::wire(ui, post);
    staff_adapter::wire(ui, post);
    demo_adapter::wire(ui, post);
}

/// Copies what changed into the globals.
pub fn apply(ui: &AppWindow, d: &Delta) {
    if let Some(v) = &d.app {
        app_adapter::apply(ui, v);
    }
    if let Some(v) = &d.scan {
        scan_adapter::apply(ui, v);
    }
    if let Some(v) = &d.ok {
        ok_adapter::apply(ui, v);
    }
    if let Some(v) = &d.refused {
        refused_adapter::apply(ui, v);
    }
    if let Some(v) = &d.stale {
        stale_adapter::apply(ui, v);
    }
    if let Some(v) = &d.staff {
        staff_adapter::apply(ui, v);
    }
    if let Some(v) = &d.demo {
        demo_adapter::apply(ui, v);
    }
}

fn s(text: &str) -> SharedString {
    SharedString::from(text)
}

fn model<T: Clone + 'static>(rows: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows))
}

/// A list of measures as the pages show them (scan page, staff settings).
fn measure_items(rows: &[MeasureRow]) -> ModelRc<MeasureItem> {
    model(rows.iter().map(values::measure).collect())
}
