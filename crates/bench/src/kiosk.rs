//! Kiosk: what a clerk waits for.
//!
//! - **Frame → text → verdict on screen**, in process: a camera-like RGB
//!   frame (640×480, 1280×720) with the demo's valid code goes through the
//!   camera thread's [`FrameDecoder`], the kiosk handles the text (store
//!   lookup, signature, verdict, view) and the window is rendered by
//!   Slint's software renderer (the testing backend, no display needed).
//! - **The real process** (`xinyi kiosk`, release build, a window on the
//!   X display in `$DISPLAY`, e.g. Xvfb): cold start to ready, idle RSS,
//!   and the UI thread's longest stall while the camera path decodes
//!   1280×720 frames at 15 fps (`--frames` plays the corpus frames as the
//!   camera). The kiosk's hidden `--ui-timings` file reports when its event
//!   loop runs and, each second, how late a 2 ms timer fired at worst.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use image::{GrayImage, Luma, RgbImage};
use slint::ComponentHandle as _;

use xinyi::camera::decode::FrameDecoder;
use xinyi::ui::demo::DemoHub;
use xinyi::ui::inline::Inline;
use xinyi::ui::kiosk::{Msg, Source};
use xinyi::ui::view::Screen;

use crate::stats::{median, ms, percentile};
use crate::{Row, Scale};

/// Where the process half finds its binary.
#[derive(Debug, Clone)]
pub struct Process {
    /// The release `xinyi` binary.
    pub xinyi: PathBuf,
    /// The decode corpus (its 1280×720 frames are played as the camera).
    pub corpus: PathBuf,
}

/// Runs the kiosk section; the process half only with `process` and a
/// display.
pub fn run(scale: Scale, process: Option<&Process>) -> Result<Vec<Row>> {
    let mut rows = frame_to_screen(scale)?;
    match process {
        Some(p) if std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) => {
            rows.extend(real_process(scale, p)?);
        }
        Some(_) => rows.push(
            Row::new("kiosk", "kiosk process", f64::NAN, "")
                .note("not measured: no X display ($DISPLAY); bench/run starts Xvfb"),
        ),
        None => {}
    }
    Ok(rows)
}

/// A camera-like frame: the code at 4 px a module on a lit, slightly
/// uneven background, with sensor noise.
pub fn camera_frame(text: &str, w: u32, h: u32) -> Result<RgbImage> {
    let code = xinyi::ui::qr::render(text, 4).map_err(anyhow::Error::msg)?;
    let mut rng = xinyi_testkit::Rng::from_seed(0x2545_f491_4f6c_dd1d);
    let mut noise = move || rng.index(17) as i32 - 8;
    let (cx, cy) = (
        (w.saturating_sub(code.width())) / 2,
        (h.saturating_sub(code.height())) / 2,
    );
    let frame = GrayImage::from_fn(w, h, |x, y| {
        let base = if x >= cx && y >= cy && x - cx < code.width() && y - cy < code.height() {
            let v = i32::from(code.get_pixel(x - cx, y - cy).0[0]);
            if v < 128 { 40 } else { 215 }
        } else {
            180 + (x * 30 / w.max(1)) as i32
        };
        Luma([(base + noise()).clamp(0, 255) as u8])
    });
    Ok(image::DynamicImage::ImageLuma8(frame).to_rgb8())
}

/// Slint's testing platform with its software rasterizer: a real render of
/// the window into memory, no display needed.
fn init_backend() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ =
            slint::platform::set_platform(Box::new(i_slint_backend_testing::TestingBackend::new(
                i_slint_backend_testing::TestingBackendOptions {
                    mock_time: false,
                    threading: false,
                    renderer_name: Some("software".into()),
                },
            )));
    });
}

fn frame_to_screen(scale: Scale) -> Result<Vec<Row>> {
    init_backend();
    let (app, world) = Inline::demo(Rc::new(|| 0u64))?;
    let person = world
        .sample_codes(xinyi::terminal::now())
        .into_iter()
        .find(|c| c.id == "person")
        .context("the demo has no valid person's code")?
        .text;
    let rounds = scale.pick(40, 3);
    let mut rows = Vec::new();
    for (w, h) in [(640u32, 480u32), (1280, 720)] {
        let frame = camera_frame(&person, w, h)?;
        let (mut total, mut decode, mut verdict, mut render) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let t0 = Instant::now();
            let text = FrameDecoder::default()
                .decode_rgb(&frame)
                .context("the benchmark frame did not decode")?;
            let t1 = Instant::now();
            app.post(Msg::Scanned {
                text,
                source: Source::Camera,
            });
            let t2 = Instant::now();
            app.ui()
                .window()
                .take_snapshot()
                .context("rendering the kiosk window")?;
            let t3 = Instant::now();
            let screen = app.with_runner(|r| r.state().screen);
            if screen != Some(Screen::Ok) {
                bail!("the valid code gave the {screen:?} screen, not OK");
            }
            decode.push(ms(t1 - t0));
            verdict.push(ms(t2 - t1));
            render.push(ms(t3 - t2));
            total.push(ms(t3 - t0));
            app.post(Msg::Cancel);
            let _ = app.ui().window().take_snapshot();
        }
        rows.push(
            Row::new(
                "kiosk",
                &format!("{w}x{h}: frame → text → verdict on screen"),
                median(&total),
                "ms",
            )
            .note(format!(
                "median of {rounds}; p95 {:.1} ms. Luma + decode {:.1} ms, verdict + view {:.1} ms, \
                 full 1280×800 software render {:.1} ms",
                percentile(&total, 95.0),
                median(&decode),
                median(&verdict),
                median(&render)
            )),
        );
    }
    Ok(rows)
}

/// A kiosk process, killed when dropped.
struct Kiosk_ {
    child: Child,
}

impl Drop for Kiosk_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Kiosk_ {
    fn start(xinyi: &Path, data: &Path, measure: &Path, frames: Option<&Path>) -> Result<Kiosk_> {
        let _ = std::fs::remove_file(measure);
        let mut cmd = Command::new(xinyi);
        cmd.arg("kiosk")
            .arg("--data-dir")
            .arg(data)
            .arg("--ui-timings")
            .arg(measure)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(f) = frames {
            cmd.arg("--frames").arg(f);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", xinyi.display()))?;
        Ok(Kiosk_ { child })
    }

    fn rss_mb(&self) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .context("reading the kiosk's /proc status")?;
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .context("no VmRSS in /proc status")?;
        Ok(kb / 1024.0)
    }

    /// Waits for the measure file's ready line; the time since `t0`.
    fn ready(&mut self, measure: &Path, t0: Instant) -> Result<Duration> {
        let deadline = t0 + Duration::from_secs(60);
        loop {
            if std::fs::read_to_string(measure).is_ok_and(|s| s.contains("ready_unix_ms")) {
                return Ok(t0.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the kiosk exited ({status}) before it was ready");
            }
            if Instant::now() > deadline {
                bail!("the kiosk was not ready within 60 s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The worst stall (ms) in each one-second window of a measure file.
fn stalls(measure: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(measure)?;
    let mut out = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}: not JSON: {line}", measure.display()))?;
        if let Some(us) = v.get("max_stall_us").and_then(serde_json::Value::as_f64) {
            out.push(us / 1000.0);
        }
    }
    Ok(out)
}

fn real_process(scale: Scale, p: &Process) -> Result<Vec<Row>> {
    if !p.xinyi.exists() {
        bail!(
            "{} not found: build it first (cargo build --release --bin xinyi)",
            p.xinyi.display()
        );
    }
    // An enrolled, synced terminal (the demo hub's, which keeps serving).
    let mut demo = DemoHub::start()?;
    let data = demo.terminal("demo-bus")?.paths().dir.clone();
    let work = tempfile::tempdir()?;
    let measure = work.path().join("measure.jsonl");
    let mut rows = Vec::new();

    let starts = scale.pick(5, 1);
    let mut cold = Vec::new();
    let mut idle_rss = 0.0;
    for i in 0..starts {
        let t0 = Instant::now();
        let mut k = Kiosk_::start(&p.xinyi, &data, &measure, None)?;
        cold.push(ms(k.ready(&measure, t0)?));
        if i + 1 == starts {
            std::thread::sleep(Duration::from_secs(scale.pick(5, 1) as u64));
            idle_rss = k.rss_mb()?;
        }
    }
    rows.push(
        Row::new("kiosk", "cold start to ready", median(&cold), "ms")
            .target("< 1 s (release)", median(&cold) < 1000.0)
            .note(format!(
                "median of {starts} starts of an enrolled terminal (first {:.0} ms): process start \
                 to the window's event loop running with the scan page applied",
                cold[0]
            )),
    );
    rows.push(
        Row::new("kiosk", "idle RSS", idle_rss, "MB")
            .target("< 80 MB", idle_rss < 80.0)
            .note("resident set after 5 s on the scan page, no camera"),
    );

    // Scanning: the 1280×720 corpus frames played as the camera at 15 fps.
    let frames = work.path().join("frames");
    std::fs::create_dir_all(&frames)?;
    let mut n = 0;
    for e in
        std::fs::read_dir(&p.corpus).with_context(|| format!("reading {}", p.corpus.display()))?
    {
        let path = e?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("1280x720_") && name.ends_with(".jpg") {
            std::fs::copy(&path, frames.join(name))?;
            n += 1;
        }
    }
    if n == 0 {
        bail!("no 1280x720 frames in {}", p.corpus.display());
    }
    let seconds = scale.pick(20, 3);
    let t0 = Instant::now();
    let mut k = Kiosk_::start(&p.xinyi, &data, &measure, Some(&frames))?;
    k.ready(&measure, t0)?;
    std::thread::sleep(Duration::from_secs(seconds as u64 + 1));
    let scanning_rss = k.rss_mb()?;
    drop(k);
    let windows = stalls(&measure)?;
    // The first second holds start-up (fonts, first layout): left out.
    let steady: Vec<f64> = windows.iter().skip(1).copied().collect();
    let worst = steady.iter().copied().fold(0.0, f64::max);
    rows.push(
        Row::new("kiosk", "longest UI-thread stall while scanning", worst, "ms")
            .target("≤ 16 ms", worst <= 16.0)
            .note(format!(
                "{} one-second windows while {n} 1280×720 frames play at 15 fps through the \
                 camera path (decode on the camera thread; previews, verdicts and renders on \
                 the UI thread); median window's worst {:.1} ms; RSS while scanning {scanning_rss:.0} MB",
                steady.len(),
                median(&steady)
            )),
    );
    drop(demo);
    Ok(rows)
}
