//! The camera path's decoder on frames a camera could give: QR PNGs made
//! from demo codes, scaled, rotated, noisy, blurred and set in a larger
//! frame; and frames of the shared corpus (expected texts from its
//! manifest). A wrong text is a failure; an unreadable hard frame is not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};
use xinyi::camera::decode::decode_luma;
use xinyi::ui::qr;

fn demo_code() -> String {
    let world = xinyi_demo::DemoWorld::new(xinyi::terminal::now().date_utc8()).unwrap();
    world
        .sample_codes(xinyi::terminal::now())
        .into_iter()
        .next()
        .unwrap()
        .text
}

/// `code` pasted into a grey 1280×720 frame at (x, y).
fn in_frame(code: &GrayImage, x: i64, y: i64, background: u8) -> GrayImage {
    let mut frame = GrayImage::from_pixel(1280, 720, Luma([background]));
    imageops::overlay(&mut frame, code, x, y);
    frame
}

fn noisy(mut img: GrayImage, amplitude: i32, seed: u64) -> GrayImage {
    let mut r = xinyi_testkit::Rng::from_seed(seed);
    for p in img.iter_mut() {
        let n = r.below(2 * amplitude as u64 + 1) as i32 - amplitude;
        *p = (i32::from(*p) + n).clamp(0, 255) as u8;
    }
    img
}

/// Rotation by a small angle about the centre, nearest neighbour, white fill.
#[allow(clippy::float_arithmetic)]
fn rotate_small(img: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let sx = c * dx + s * dy + cx;
        let sy = -s * dx + c * dy + cy;
        if sx >= 0.0 && sy >= 0.0 && (sx as u32) < w && (sy as u32) < h {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            Luma([255])
        }
    })
}

#[test]
fn generated_frames_decode_to_the_demo_code() {
    let text = demo_code();
    let module3 = qr::render(&text, 3).unwrap();
    let module5 = qr::render(&text, 5).unwrap();
    let cases: Vec<(&str, GrayImage)> = vec![
        ("clean", in_frame(&module3, 400, 150, 200)),
        (
            "rotated 90",
            in_frame(&imageops::rotate90(&module3), 500, 120, 190),
        ),
        (
            "rotated 180",
            in_frame(&imageops::rotate180(&module5), 300, 60, 210),
        ),
        (
            "tilted 7°",
            in_frame(&rotate_small(&module5, 7.0), 350, 40, 255),
        ),
        ("noise", noisy(in_frame(&module3, 600, 200, 180), 40, 7)),
        (
            "blur",
            in_frame(&imageops::blur(&module5, 1.2), 200, 100, 230),
        ),
        (
            "scaled 1.6×",
            in_frame(
                &imageops::resize(
                    &module3,
                    module3.width() * 8 / 5,
                    module3.height() * 8 / 5,
                    FilterType::Triangle,
                ),
                250,
                30,
                220,
            ),
        ),
    ];
    for (name, frame) in cases {
        assert_eq!(
            decode_luma(&frame).as_deref(),
            Some(text.as_str()),
            "{name} frame did not decode"
        );
    }
}

#[test]
fn a_frame_without_a_code_decodes_to_nothing() {
    let frame = noisy(GrayImage::from_pixel(640, 480, Luma([128])), 60, 3);
    assert_eq!(decode_luma(&frame), None);
}

fn corpus() -> PathBuf {
    xinyi_testkit::shared("corpus")
}

/// The corpus's manifest (frame name → the text it holds, or null); a
/// missing corpus fails the test that asked for it.
fn manifest() -> serde_json::Value {
    serde_json::from_slice(&xinyi_testkit::read("corpus/manifest.json")).unwrap()
}

#[test]
fn corpus_frames_give_no_wrong_text_and_all_but_the_known_hard_ones_decode() {
    let dir = corpus();
    let manifest = manifest();
    let frames = manifest["frames"].as_object().unwrap();
    // The frames the pipeline does not read (every decoder measured in the
    // decode benchmark, ZXing-C++ included, misses most of these too):
    // several kinds of damage at once, or heavy blur on the smallest
    // modules. Any other miss is a regression.
    let known_misses = [
        "640x480_combo_m3_0.jpg",
        "640x480_combo_m4_0.jpg",
        "1280x720_combo_m4_0.jpg",
        "1920x1080_blur_m3_0.jpg",
        "1920x1080_combo_m3_0.jpg",
        "1920x1080_combo_m4_0.jpg",
    ];
    let (mut decoded, mut missed) = (0, Vec::new());
    for (name, expected) in frames {
        let img = image::open(dir.join(name)).unwrap().to_luma8();
        let got = decode_luma(&img);
        match (expected.as_str(), got.as_deref()) {
            (None, Some(t)) => panic!("{name}: no code in the frame, but decoded {t:?}"),
            (Some(want), Some(t)) => {
                assert_eq!(t, want, "{name}: wrong text");
                decoded += 1;
            }
            (Some(_), None) if !known_misses.contains(&name.as_str()) => missed.push(name),
            _ => {}
        }
    }
    assert!(missed.is_empty(), "frames no longer decoded: {missed:?}");
    assert!(decoded >= 102, "only {decoded} corpus frames decoded");
}

#[test]
fn the_camera_decoder_reads_each_corpus_code_soon_after_empty_frames_and_empty_frames_never() {
    use xinyi::camera::decode::{FrameDecoder, QUIET_EVERY, STEPS, cascade, decode_traced};
    let dir = corpus();
    let manifest = manifest();
    let frames = manifest["frames"].as_object().unwrap();
    let load = |name: &str| image::open(dir.join(name)).unwrap().to_luma8();
    // A camera that has looked at an empty scene for a while (its budget
    // at its leanest), per frame size; a scene with nothing like a finder
    // pattern in it where the corpus has one.
    let mut empty = std::collections::BTreeMap::new();
    for (name, expected) in frames {
        if expected.is_null() {
            let size = name.split('_').next().unwrap().to_owned();
            let frame = load(name);
            let mut camera = FrameDecoder::default();
            let mut finders = 0;
            for _ in 0..(STEPS.len() - 1) * QUIET_EVERY as usize {
                let (text, work) = camera.decode_traced(&frame);
                assert_eq!(text, None, "{name}: read a code in an empty frame");
                finders = work.finder_patterns;
            }
            let quiet = finders == 0;
            if quiet || !empty.contains_key(&size) {
                empty.insert(size, (camera, quiet));
            }
        }
    }
    assert!(!empty.is_empty(), "the corpus has no frame without a code");
    let (mut checked, mut late) = (0, Vec::new());
    for (name, expected) in frames {
        let Some(want) = expected.as_str() else {
            continue;
        };
        let size = name.split('_').next().unwrap();
        let Some((idle, quiet_scene)) = empty.get(size) else {
            continue;
        };
        let frame = load(name);
        // Only codes the whole cascade reads on one picture.
        let Some((_, step)) = decode_traced(&frame) else {
            continue;
        };
        let mut camera = idle.clone();
        // The code comes into view and stays: read within a turn of the
        // budget at worst, with a fallback on every frame once the first
        // step sees a finder pattern.
        let bound = (STEPS.len() - 1) * QUIET_EVERY as usize + 1;
        let mut read_at = None;
        let mut saw_finder = false;
        for i in 1..=bound {
            let (text, work) = camera.decode_traced(&frame);
            saw_finder |= work.finder_patterns > 0;
            if let Some(t) = text {
                assert_eq!(t, want, "{name}: wrong text");
                read_at = Some(i);
                break;
            }
        }
        let at = read_at.unwrap_or_else(|| panic!("{name}: not read within {bound} frames"));
        if step == cascade(&frame)[0] {
            assert_eq!(
                at, 1,
                "{name}: the first step reads it, yet it took {at} frames"
            );
        } else if saw_finder && *quiet_scene {
            assert!(
                at < STEPS.len(),
                "{name}: a finder pattern in view, yet read at frame {at}"
            );
        } else {
            late.push(name.as_str());
        }
        checked += 1;
    }
    assert!(checked >= 90, "only {checked} corpus codes checked");
    eprintln!("{checked} codes checked; read late, no finder pattern seen at first: {late:?}");
}

/// The worker's events, collected until `until` says stop (or 20 s pass).
fn camera_events(frames: PathBuf, until: impl Fn(&[String]) -> bool) -> Vec<String> {
    use xinyi::camera::{self, CameraConfig, CameraEvent};
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = camera::spawn(
        CameraConfig {
            device: 0,
            frames: Some(frames),
        },
        Box::new(move |ev| {
            let line = match ev {
                CameraEvent::Opened(name) => format!("opened {name}"),
                CameraEvent::Unavailable(why) => format!("unavailable {why}"),
                CameraEvent::Preview(p) => format!("preview {}x{}", p.width(), p.height()),
                CameraEvent::Scanned(text) => format!("scanned {text}"),
            };
            let _ = tx.send(line);
        }),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = Vec::new();
    while !until(&seen) && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    handle.stop();
    seen
}

#[test]
fn pictures_in_a_folder_play_as_camera_frames_and_a_code_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let text = demo_code();
    // An empty frame, then the code: the code is read and, while it stays
    // in view (the folder loops), reported only once.
    GrayImage::from_pixel(640, 480, Luma([230]))
        .save(dir.path().join("a-empty.png"))
        .unwrap();
    let code = qr::render(&text, 4).unwrap();
    let mut frame = GrayImage::from_pixel(640, 480, Luma([235]));
    imageops::overlay(&mut frame, &code, 120, 40);
    frame.save(dir.path().join("b-code.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a picture").unwrap();

    let seen = camera_events(dir.path().to_path_buf(), |s| {
        s.iter().filter(|l| l.starts_with("preview")).count() >= 12
    });
    assert!(seen[0].starts_with("opened pictures in"), "{seen:?}");
    assert!(seen.iter().any(|l| l == "preview 400x300"), "{seen:?}");
    let scans: Vec<_> = seen.iter().filter(|l| l.starts_with("scanned")).collect();
    assert_eq!(scans, vec![&format!("scanned {text}")], "{seen:?}");
}

#[test]
fn a_folder_without_pictures_is_a_clear_notice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.txt"), "no frames here").unwrap();
    let seen = camera_events(dir.path().to_path_buf(), |s| !s.is_empty());
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].starts_with("unavailable no PNG or JPEG pictures in"),
        "{seen:?}"
    );

    std::fs::write(dir.path().join("broken.png"), "not really a PNG").unwrap();
    let seen = camera_events(dir.path().to_path_buf(), |s| !s.is_empty());
    assert!(seen[0].contains("broken.png: not a picture"), "{seen:?}");
    let missing = dir.path().join("nowhere");
    let seen = camera_events(missing, |s| !s.is_empty());
    assert!(
        seen[0].starts_with("unavailable cannot read the folder"),
        "{seen:?}"
    );
}
