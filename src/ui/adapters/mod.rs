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

/// A channel's address as a QR code; a blank square if it cannot be one
/// (the registry checks the addresses it publishes, so this is logged).
fn qr_image(url: &str) -> slint::Image {
    let gray = super::qr::render(url, 6).unwrap_or_else(|e| {
        tracing::warn!("cannot draw the channel code: {e}");
        image::GrayImage::new(1, 1)
    });
    let mut buf = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(gray.width(), gray.height());
    for (px, g) in buf.make_mut_slice().iter_mut().zip(gray.as_raw()) {
        *px = slint::Rgb8Pixel::new(*g, *g, *g);
    }
    slint::Image::from_rgb8(buf)
}

/// Draws `link` into `set` when it differs from what `shown` says is
/// drawn (the codes change only with the reference or the site's
/// config); an empty image when there is none.
fn update_qr(shown: SharedString, link: Option<&str>, set: impl FnOnce(slint::Image)) {
    let link = link.unwrap_or_default();
    if shown.as_str() != link {
        set(if link.is_empty() {
            slint::Image::default()
        } else {
            qr_image(link)
        });
    }
}

fn model<T: Clone + 'static>(rows: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows))
}

/// A list of measures as the pages show them (scan page, staff settings).
fn measure_items(rows: &[MeasureRow]) -> ModelRc<MeasureItem> {
    model(rows.iter().map(values::measure).collect())
}
