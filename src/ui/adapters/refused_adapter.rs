//! `RefusedAdapter`: the reason in plain words and the QR channels.

use image::GrayImage;

use super::{Post, s, values};
use crate::ui::contract::UiReason;
use crate::ui::kiosk::Msg;
use crate::ui::qr;
use crate::ui::view::RefusedView;
use crate::ui::{AppWindow, RefusedAdapter};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<RefusedAdapter>();
    let p = post.clone();
    g.on_next(move || p(Msg::Next));
}

/// An address as a QR code; a blank square if it cannot be one (an
/// address too long for a code is a configuration fault, logged).
fn qr_image(url: &str) -> slint::Image {
    let gray = qr::render(url, 6).unwrap_or_else(|e| {
        tracing::warn!("cannot draw the channel code: {e}");
        GrayImage::new(1, 1)
    });
    image_of(&gray)
}

fn image_of(gray: &GrayImage) -> slint::Image {
    let mut buf = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(gray.width(), gray.height());
    for (px, g) in buf.make_mut_slice().iter_mut().zip(gray.as_raw()) {
        *px = slint::Rgb8Pixel::new(*g, *g, *g);
    }
    slint::Image::from_rgb8(buf)
}

pub fn apply(ui: &AppWindow, v: &RefusedView) {
    let g = ui.global::<RefusedAdapter>();
    // The codes only change with the reference: drawn once per refusal.
    if g.get_reference().as_str() != v.reference && !v.reference.is_empty() {
        g.set_objection_qr(qr_image(&v.objection_url));
        g.set_complaint_qr(qr_image(&v.complaint_url));
    }
    g.set_reason(v.reason.map_or(UiReason::NotListed, values::reason));
    g.set_code(s(&v.code));
    g.set_reference(s(&v.reference));
    g.set_show_objection(v.show_objection);
}
