//! The camera: a worker thread that captures frames (nokhwa, behind the
//! default `camera` feature), decodes QR codes with [`decode`] and reports
//! texts and a small preview. Nothing here runs on the UI thread.
//!
//! Without the feature, or without a camera, the worker reports
//! [`CameraEvent::Unavailable`] once and ends; the scanner and image files
//! keep working.

pub mod binarize;
pub mod decode;

use std::time::{Duration, Instant};

/// The preview's width in pixels: enough for a clerk to aim the code,
/// cheap to copy ten times a second.
pub const PREVIEW_WIDTH: u32 = 400;
/// The longest wait between two preview frames sent to the UI.
pub const PREVIEW_EVERY: Duration = Duration::from_millis(100);
/// After a text is reported, the same text is ignored this long: the code
/// is still in front of the lens while the clerk reads the verdict.
pub const IGNORE_SAME_FOR: Duration = Duration::from_secs(5);

/// What the camera worker reports.
#[derive(Debug)]
pub enum CameraEvent {
    /// Capturing from the named device.
    Opened(String),
    /// No camera to use, and why (no device, no permission, built without
    /// camera support). The worker has ended.
    Unavailable(String),
    /// A downscaled RGB frame for the preview.
    Preview(slint::SharedPixelBuffer<slint::Rgb8Pixel>),
    /// A decoded QR text.
    Scanned(String),
}

/// Suppresses the same text seen again within a while.
#[derive(Debug, Clone, Default)]
pub struct Debounce {
    last: Option<(String, Instant)>,
}

impl Debounce {
    /// Whether `text` seen at `now` should be reported.
    pub fn admit(&mut self, text: &str, now: Instant, hold: Duration) -> bool {
        if let Some((t, at)) = &self.last
            && t == text
            && now.saturating_duration_since(*at) < hold
        {
            return false;
        }
        self.last = Some((text.to_owned(), now));
        true
    }
}

/// Which camera to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraConfig {
    /// The device's index among those [`devices`] lists.
    pub device: u32,
    /// Instead of a device, play the pictures in this folder as frames
    /// (see [`FILE_FPS`]): the camera path without a camera.
    pub frames: Option<std::path::PathBuf>,
}

/// Frames a second when playing pictures from a folder: a webcam's pace.
pub const FILE_FPS: u32 = 15;

/// What the worker does with each frame, whatever its source: a preview
/// now and then, a decode (the cascade spread over frames), and a report
/// of a new text.
#[derive(Debug, Default)]
struct FrameLoop {
    debounce: Debounce,
    decoder: decode::FrameDecoder,
    last_preview: Option<Instant>,
}

impl FrameLoop {
    fn frame(&mut self, rgb: &image::RgbImage, on_event: &mut OnEvent) {
        let now = Instant::now();
        if self
            .last_preview
            .is_none_or(|t| now.duration_since(t) >= PREVIEW_EVERY)
        {
            self.last_preview = Some(now);
            on_event(CameraEvent::Preview(preview(rgb)));
        }
        if let Some(text) = self.decoder.decode_rgb(rgb)
            && self.debounce.admit(&text, Instant::now(), IGNORE_SAME_FOR)
        {
            on_event(CameraEvent::Scanned(text));
        }
    }
}

/// Plays the pictures of a folder (sorted by name, looped) as camera
/// frames at [`FILE_FPS`].
fn play_files(dir: &std::path::Path, stop: &std::sync::atomic::AtomicBool, mut on_event: OnEvent) {
    let frames = match load_frames(dir) {
        Ok(f) => f,
        Err(why) => {
            on_event(CameraEvent::Unavailable(why));
            return;
        }
    };
    on_event(CameraEvent::Opened(format!(
        "pictures in {}",
        dir.display()
    )));
    let every = Duration::from_secs(1) / FILE_FPS;
    let mut frame_loop = FrameLoop::default();
    let mut next = Instant::now();
    for rgb in frames.iter().cycle() {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
            next += every;
        } else {
            // Behind (decoding took longer than a frame): drop the wait,
            // as a camera drops frames.
            next = now + every;
        }
        frame_loop.frame(rgb, &mut on_event);
    }
}

/// Every picture in `dir`, decoded once up front (a camera hands over
/// pixels, not files).
fn load_frames(dir: &std::path::Path) -> Result<Vec<image::RgbImage>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    paths.sort();
    let mut frames = Vec::with_capacity(paths.len());
    for p in &paths {
        let img = image::open(p).map_err(|e| format!("{}: not a picture: {e}", p.display()))?;
        frames.push(img.to_rgb8());
    }
    if frames.is_empty() {
        return Err(format!("no PNG or JPEG pictures in {}", dir.display()));
    }
    Ok(frames)
}

/// A running camera worker; dropping it stops the worker.
#[derive(Debug)]
pub struct CameraHandle {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CameraHandle {
    /// Stops capturing and waits for the worker.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for CameraHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The events' receiver.
pub type OnEvent = Box<dyn FnMut(CameraEvent) + Send>;

/// Starts the worker.
pub fn spawn(cfg: CameraConfig, on_event: OnEvent) -> CameraHandle {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("xinyi-camera".into())
        .spawn(move || match &cfg.frames {
            Some(dir) => play_files(dir, &flag, on_event),
            None => capture::run(&cfg, &flag, on_event),
        })
        .ok();
    CameraHandle { stop, thread }
}

/// The names of the cameras present (empty without the feature).
pub fn devices() -> Vec<String> {
    capture::devices()
}

/// A preview frame: `rgb` scaled to [`PREVIEW_WIDTH`].
pub fn preview(rgb: &image::RgbImage) -> slint::SharedPixelBuffer<slint::Rgb8Pixel> {
    let w = PREVIEW_WIDTH.min(rgb.width()).max(1);
    let h = (u64::from(rgb.height()) * u64::from(w) / u64::from(rgb.width().max(1))).max(1);
    let small = image::imageops::resize(
        rgb,
        w,
        u32::try_from(h).unwrap_or(1),
        image::imageops::FilterType::Nearest,
    );
    slint::SharedPixelBuffer::clone_from_slice(small.as_raw(), small.width(), small.height())
}

#[cfg(feature = "camera")]
mod capture {
    //! nokhwa capture loop.

    use std::sync::atomic::{AtomicBool, Ordering};

    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
        Resolution,
    };

    use super::{CameraConfig, CameraEvent, FrameLoop, OnEvent};

    pub fn devices() -> Vec<String> {
        nokhwa::query(ApiBackend::Auto)
            .map(|l| l.iter().map(|c| c.human_name()).collect())
            .unwrap_or_default()
    }

    fn open(index: u32) -> Result<nokhwa::Camera, nokhwa::NokhwaError> {
        let idx = CameraIndex::Index(index);
        // 720p is plenty for a phone screen held at the counter and keeps
        // decoding fast; any format will do when the camera has no 720p.
        let wanted = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(
            CameraFormat::new(Resolution::new(1280, 720), FrameFormat::MJPEG, 30),
        ));
        let mut cam = match nokhwa::Camera::new(idx.clone(), wanted) {
            Ok(c) => c,
            Err(_) => nokhwa::Camera::new(
                idx,
                RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate),
            )?,
        };
        cam.open_stream()?;
        Ok(cam)
    }

    pub fn run(cfg: &CameraConfig, stop: &AtomicBool, mut on_event: OnEvent) {
        let mut cam = match open(cfg.device) {
            Ok(c) => c,
            Err(e) => {
                on_event(CameraEvent::Unavailable(e.to_string()));
                return;
            }
        };
        on_event(CameraEvent::Opened(cam.info().human_name()));
        let mut frame_loop = FrameLoop::default();
        let mut failures = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let rgb = match cam.frame().and_then(|f| f.decode_image::<RgbFormat>()) {
                Ok(img) => {
                    failures = 0;
                    img
                }
                Err(e) => {
                    failures += 1;
                    // A camera unplugged mid-shift keeps failing: say so
                    // and end, rather than spin.
                    if failures > 50 {
                        on_event(CameraEvent::Unavailable(e.to_string()));
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    continue;
                }
            };
            frame_loop.frame(&rgb, &mut on_event);
        }
        let _ = cam.stop_stream();
    }
}

#[cfg(not(feature = "camera"))]
mod capture {
    //! Built without the `camera` feature.

    use std::sync::atomic::AtomicBool;

    use super::{CameraConfig, CameraEvent, OnEvent};

    pub fn devices() -> Vec<String> {
        Vec::new()
    }

    pub fn run(_cfg: &CameraConfig, _stop: &AtomicBool, mut on_event: OnEvent) {
        on_event(CameraEvent::Unavailable(
            "this build has no camera support (feature `camera`)".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_held_back_for_a_while() {
        let mut d = Debounce::default();
        let t0 = Instant::now();
        let hold = Duration::from_secs(5);
        assert!(d.admit("A", t0, hold));
        assert!(!d.admit("A", t0 + Duration::from_secs(1), hold));
        assert!(d.admit("B", t0 + Duration::from_secs(2), hold));
        assert!(d.admit("A", t0 + Duration::from_secs(3), hold));
        assert!(d.admit("A", t0 + Duration::from_secs(9), hold));
    }
}
