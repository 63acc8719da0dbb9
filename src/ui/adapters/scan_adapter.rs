//! `ScanAdapter`: camera preview, the site's measures, image files.

use super::{Post, measure_items, s};
use crate::ui::contract::UiCamera;
use crate::ui::kiosk::Msg;
use crate::ui::view::CameraLight;
use crate::ui::view::ScanView;
use crate::ui::{AppWindow, ScanAdapter};
use slint::ComponentHandle as _;

pub fn wire(ui: &AppWindow, post: &Post) {
    let g = ui.global::<ScanAdapter>();
    let p = post.clone();
    g.on_select_measure(move |i| p(Msg::SelectMeasure(usize::try_from(i).unwrap_or(0))));
    let p = post.clone();
    g.on_open_image(move |path| p(Msg::OpenImage(path.to_string())));
}

pub fn apply(ui: &AppWindow, v: &ScanView) {
    let g = ui.global::<ScanAdapter>();
    g.set_camera_state(match v.camera_state {
        CameraLight::Starting => UiCamera::Starting,
        CameraLight::Live => UiCamera::Live,
        CameraLight::Unavailable => UiCamera::Unavailable,
        CameraLight::Off => UiCamera::Off,
    });
    g.set_camera_detail(s(&v.camera_detail));
    if v.camera_state != CameraLight::Live {
        g.set_has_preview(false);
    }
    g.set_measures(measure_items(&v.measures));
    g.set_measure_index(v.measure_index);
    g.set_message(s(&v.message));
}

/// A camera frame for the preview (UI thread).
pub fn set_preview(ui: &AppWindow, frame: slint::SharedPixelBuffer<slint::Rgb8Pixel>) {
    let g = ui.global::<ScanAdapter>();
    // A frame that arrives after the camera was switched off is dropped.
    if g.get_camera_state() == UiCamera::Off {
        return;
    }
    g.set_preview(slint::Image::from_rgb8(frame));
    g.set_has_preview(true);
}
