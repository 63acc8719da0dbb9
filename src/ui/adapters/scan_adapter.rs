//! `ScanAdapter`: camera preview, the site's measures, image files.

use super::{Post, measure_items, s, values};
use crate::ui::contract::{UiCamera, UiScanNote};
use crate::ui::kiosk::{ImageProblem, Msg, ScanMessage};
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
    g.set_camera_state(values::camera(v.camera_state));
    let (problem, detail) = values::camera_problem(v.camera_problem.as_ref());
    g.set_camera_problem(problem);
    g.set_camera_detail(detail);
    if v.camera_state != CameraLight::Live {
        g.set_has_preview(false);
    }
    g.set_measures(measure_items(&v.measures));
    g.set_measure_index(v.measure_index);
    let (note, detail) = match &v.message {
        None => (UiScanNote::None, ""),
        Some(ScanMessage::Image(ImageProblem::NoPath)) => (UiScanNote::NoPath, ""),
        Some(ScanMessage::Image(ImageProblem::Unreadable(e))) => {
            (UiScanNote::Unreadable, e.as_str())
        }
        Some(ScanMessage::Image(ImageProblem::NoCode)) => (UiScanNote::NoCode, ""),
        Some(ScanMessage::NoMeasure) => (UiScanNote::NoMeasure, ""),
        Some(ScanMessage::Failed(e)) => (UiScanNote::Failed, e.as_str()),
    };
    g.set_note(note);
    g.set_note_detail(s(detail));
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
