//! The settings tab: the camera, the language, the site and its measures.

use super::super::{Post, measure_items, s, values};
use crate::ui::StaffAdapter;
use crate::ui::kiosk::Msg;
use crate::ui::view::StaffView;

pub fn wire(g: &StaffAdapter<'_>, post: &Post) {
    let p = post.clone();
    g.on_toggle_camera(move || p(Msg::ToggleCamera));
    let p = post.clone();
    g.on_next_camera(move || p(Msg::NextCamera));
    let p = post.clone();
    g.on_toggle_language(move || p(Msg::ToggleLanguage));
}

pub fn apply(g: &StaffAdapter<'_>, v: &StaffView) {
    g.set_camera_on(v.camera_on);
    g.set_camera_state(values::camera(v.camera.state));
    g.set_camera_name(s(&v.camera.name));
    let (problem, detail) = values::camera_problem(v.camera.problem.as_ref());
    g.set_camera_problem(problem);
    g.set_camera_detail(detail);
    g.set_site_text(s(&v.site_text));
    g.set_site_measures(measure_items(&v.site_measures));
}
