//! Decode: the kiosk's pipeline, plain rqrr and ZXing-C++ on the same
//! camera-like frames (`../shared/corpus/`, the manifest gives each frame's
//! text or `null` for no code). A wrong text counts as a failure. Frames
//! are decoded from JPEG before timing; each decoder is timed on the same
//! grey pixels, and a frame's time is the median of several runs.
//!
//! ZXing-C++ is only a yardstick and never linked: `bench/zxing_corpus.py`
//! runs it (the `zxing-cpp` package from PyPI) on the same frames and
//! writes its texts and times to a JSON file read here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use image::GrayImage;
use serde::Deserialize;

use xinyi::camera::decode::{FrameDecoder, QUIET_EVERY, STEPS, cascade, decode_traced};

use crate::stats::{median, ms};
use crate::{Row, Scale};

/// What `bench/zxing_corpus.py` writes.
#[derive(Debug, Deserialize)]
pub struct ZxingRun {
    /// The zxing-cpp package version.
    pub version: String,
    /// Per frame: the text read (or null) and the median milliseconds.
    pub frames: BTreeMap<String, ZxingFrame>,
}

/// One frame as ZXing-C++ read it.
#[derive(Debug, Deserialize)]
pub struct ZxingFrame {
    pub text: Option<String>,
    pub ms: f64,
}

/// One decoder's result on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Read,
    Missed,
    Wrong,
    /// No code in the frame and none reported.
    Empty,
}

fn outcome(expected: Option<&str>, got: Option<&str>) -> Outcome {
    match (expected, got) {
        (Some(e), Some(g)) if e == g => Outcome::Read,
        (_, Some(_)) => Outcome::Wrong,
        (Some(_), None) => Outcome::Missed,
        (None, None) => Outcome::Empty,
    }
}

#[derive(Debug, Default, Clone)]
struct Tally {
    read: usize,
    wrong: usize,
    with_code: usize,
    ms: Vec<f64>,
}

impl Tally {
    fn add(&mut self, o: Outcome, ms: f64) {
        self.ms.push(ms);
        match o {
            Outcome::Read => self.read += 1,
            Outcome::Wrong => self.wrong += 1,
            _ => {}
        }
    }
}

const DECODERS: [&str; 3] = ["pipeline", "rqrr", "zxing"];

/// Plain rqrr: its own threshold on the whole frame, nothing else.
pub fn rqrr_plain(gray: &GrayImage) -> Option<String> {
    let mut prepared = rqrr::PreparedImage::prepare(gray.clone());
    prepared
        .detect_grids()
        .into_iter()
        .find_map(|g| g.decode().ok().map(|(_, text)| text))
}

fn timed_median(reps: usize, f: impl Fn() -> Option<String>) -> (Option<String>, f64) {
    let mut times = Vec::with_capacity(reps);
    let mut out = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        out = f();
        times.push(ms(t.elapsed()));
    }
    (out, median(&times))
}

/// Runs the decode section. `zxing` is the yardstick's JSON; without it the
/// rows carry no yardstick and the targets are not judged.
pub fn run(scale: Scale, corpus: &Path, zxing: Option<&Path>) -> Result<(Vec<Row>, String)> {
    let manifest_path = corpus.join("manifest.json");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", manifest_path.display()))?;
    let frames = manifest["frames"]
        .as_object()
        .with_context(|| format!("{}: no \"frames\" object", manifest_path.display()))?;
    let zx: Option<ZxingRun> = match zxing {
        Some(p) => Some(
            serde_json::from_slice(
                &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("{}: not the ZXing script's output", p.display()))?,
        ),
        None => None,
    };
    let reps = scale.pick(7, 1);
    let step_reps = scale.pick(3, 1);
    // (resolution, condition) → decoder → tally
    let mut cells: BTreeMap<(String, String), [Tally; 3]> = BTreeMap::new();
    let mut by_res: BTreeMap<String, [Tally; 3]> = BTreeMap::new();
    let mut steps: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut camera_ms: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut wrong_names = Vec::new();
    // (resolution, step) → ms on frames without / with a code
    let mut step_ms: BTreeMap<(String, &'static str), [Vec<f64>; 2]> = BTreeMap::new();
    let mut empty_names = Vec::new();
    let mut names: Vec<&String> = frames.keys().collect();
    names.sort();
    if scale == Scale::Quick {
        names.retain(|n| n.starts_with("640x480_"));
    }
    for name in names {
        let expected = frames[name.as_str()].as_str();
        let mut parts = name.split('_');
        let res = parts.next().unwrap_or("?").to_owned();
        let cond = parts.next().unwrap_or("?").to_owned();
        let path = corpus.join(name);
        let gray = image::open(&path)
            .with_context(|| format!("decoding {}", path.display()))?
            .to_luma8();
        let (traced, pipe_ms) = timed_median(reps, || decode_traced(&gray).map(|(t, _)| t));
        if let Some((_, step)) = decode_traced(&gray) {
            *steps.entry(step.name()).or_default() += 1;
        }
        let (plain, plain_ms) = timed_median(reps, || rqrr_plain(&gray));
        // The camera's decoder per frame when there is no code (most
        // frames a counter camera sees): the first step on every frame and
        // the fallbacks as its budget spreads them, averaged over a full
        // turn of fallbacks.
        if expected.is_none() {
            empty_names.push(name.clone());
            let mut fd = FrameDecoder::default();
            let turn = (STEPS.len() - 1) * QUIET_EVERY as usize;
            let t = Instant::now();
            for _ in 0..turn * reps.max(1) {
                let _ = fd.decode(&gray);
            }
            camera_ms
                .entry(res.clone())
                .or_default()
                .push(ms(t.elapsed()) / (turn * reps.max(1)) as f64);
        }
        // Each step alone, to see where the time goes.
        for step in cascade(&gray) {
            let (_, t) = timed_median(step_reps, || step.run_alone(&gray));
            step_ms.entry((res.clone(), step.name())).or_default()[usize::from(expected.is_some())]
                .push(t);
        }
        let zx_frame = zx.as_ref().and_then(|z| z.frames.get(name.as_str()));
        let results = [
            (outcome(expected, traced.as_deref()), pipe_ms),
            (outcome(expected, plain.as_deref()), plain_ms),
            match zx_frame {
                Some(f) => (outcome(expected, f.text.as_deref()), f.ms),
                None => (Outcome::Missed, f64::NAN),
            },
        ];
        if results[0].0 == Outcome::Wrong {
            wrong_names.push(name.clone());
        }
        for tallies in [
            cells.entry((res.clone(), cond)).or_default(),
            by_res.entry(res).or_default(),
        ] {
            for (i, (o, t)) in results.iter().enumerate() {
                if expected.is_some() {
                    tallies[i].with_code += 1;
                }
                tallies[i].add(*o, *t);
            }
        }
    }
    let have_zx = zx.is_some();
    let mut rows = Vec::new();
    let mut total = [0usize; 3];
    let mut wrong = [0usize; 3];
    let mut with_code = 0;
    for (res, t) in &by_res {
        with_code += t[0].with_code;
        for i in 0..3 {
            total[i] += t[i].read;
            wrong[i] += t[i].wrong;
        }
        let mut read = Row::new(
            "decode",
            &format!("{res}: frames read (of {})", t[0].with_code),
            t[0].read as f64,
            "frames",
        )
        .note(format!(
            "plain rqrr read {}; wrong texts: pipeline {}, rqrr {}, ZXing-C++ {}",
            t[1].read, t[0].wrong, t[1].wrong, t[2].wrong
        ));
        let mut time = Row::new(
            "decode",
            &format!("{res}: median time per frame"),
            median(&t[0].ms),
            "ms",
        )
        .note(format!(
            "plain rqrr {:.1} ms; all {} frames of the size, empty ones included",
            median(&t[1].ms),
            t[0].ms.len()
        ));
        if have_zx {
            read = read.against("ZXing-C++", t[2].read as f64).target(
                "≥ ZXing-C++, no wrong text",
                t[0].read >= t[2].read && t[0].wrong == 0,
            );
            time = time.against("ZXing-C++", median(&t[2].ms));
            let ratio = median(&t[0].ms) / median(&t[2].ms);
            if res == "1280x720" {
                time = time.target("≤ 1.5× ZXing-C++", ratio <= 1.5);
            } else if res == "640x480" {
                time = time.target("≤ ZXing-C++", ratio <= 1.0);
            }
        }
        rows.push(read);
        rows.push(time);
    }
    let mut all = Row::new(
        "decode",
        &format!("all sizes: frames read (of {with_code})"),
        total[0] as f64,
        "frames",
    )
    .note(format!(
        "plain rqrr read {}; wrong texts: pipeline {}{}",
        total[1],
        wrong[0],
        if wrong_names.is_empty() {
            String::new()
        } else {
            format!(" ({})", wrong_names.join(", "))
        }
    ));
    if have_zx {
        all = all.against("ZXing-C++", total[2] as f64).target(
            "≥ ZXing-C++, no wrong text",
            total[0] >= total[2] && wrong[0] == 0,
        );
    }
    rows.push(all);
    for (res, v) in &camera_ms {
        let worst = v.iter().copied().fold(0.0, f64::max);
        rows.push(
            Row::new(
                "decode",
                &format!("{res}: camera decoder per frame without a code"),
                worst,
                "ms",
            )
            .target("< 66.7 ms (15 fps)", worst < 1000.0 / 15.0)
            .note(format!(
                "worst of {} empty frames, decoding only; the camera runs the first step on \
                 every frame and, while no finder pattern is in view, a fallback on every \
                 {QUIET_EVERY}th; the whole cascade on one frame takes up to {:.0} ms",
                v.len(),
                by_res.get(res).map_or(0.0, |t| {
                    let mut empty: Vec<f64> = t[0].ms.clone();
                    empty.sort_by(f64::total_cmp);
                    empty.last().copied().unwrap_or(0.0)
                })
            )),
        );
    }
    rows.extend(camera_idle(scale, corpus, &empty_names)?);
    Ok((rows, detail(&cells, &steps, &step_ms, zx.as_ref())))
}

fn detail(
    cells: &BTreeMap<(String, String), [Tally; 3]>,
    steps: &BTreeMap<&'static str, usize>,
    step_ms: &BTreeMap<(String, &'static str), [Vec<f64>; 2]>,
    zx: Option<&ZxingRun>,
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Per size and condition: frames read / frames with a code, median ms per frame{}.\n",
        zx.map(|z| format!(" (ZXing-C++: zxing-cpp {} from PyPI)", z.version))
            .unwrap_or_default()
    );
    let _ = writeln!(
        md,
        "| Size | Condition | {} |\n|---|---|---:|---:|---:|",
        DECODERS
            .map(|d| match d {
                "pipeline" => "Pipeline",
                "rqrr" => "Plain rqrr",
                _ => "ZXing-C++",
            })
            .join(" | ")
    );
    for ((res, cond), t) in cells {
        let cell = |x: &Tally| {
            let wrong = if x.wrong > 0 {
                format!(", **{} wrong**", x.wrong)
            } else {
                String::new()
            };
            if x.with_code == 0 {
                format!("no code{wrong}, {:.2} ms", median(&x.ms))
            } else {
                format!("{}/{}{wrong}, {:.2} ms", x.read, x.with_code, median(&x.ms))
            }
        };
        let _ = writeln!(
            md,
            "| {res} | {cond} | {} | {} | {} |",
            cell(&t[0]),
            cell(&t[1]),
            if zx.is_some() {
                cell(&t[2])
            } else {
                "—".into()
            }
        );
    }
    let _ = writeln!(md, "\nWhich step of the cascade read each frame:\n");
    md.push_str("| Step | Frames |\n|---|---:|\n");
    for s in STEPS {
        let _ = writeln!(
            md,
            "| {} | {} |",
            s.name(),
            steps.get(s.name()).unwrap_or(&0)
        );
    }
    let _ = writeln!(
        md,
        "\nEach step alone, median ms per frame without a code / with one (derived pictures \
         included; a step stops early when it reads the code):\n"
    );
    let sizes: Vec<&String> = {
        let mut v: Vec<&String> = step_ms.keys().map(|(r, _)| r).collect();
        v.dedup();
        v
    };
    let _ = writeln!(
        md,
        "| Step | {} |\n|---|{}",
        sizes
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(sizes.len())
    );
    for s in STEPS {
        let cells: Vec<String> = sizes
            .iter()
            .map(|r| match step_ms.get(&((*r).clone(), s.name())) {
                Some([empty, coded]) => format!("{:.2} / {:.2}", median(empty), median(coded)),
                None => "—".into(),
            })
            .collect();
        let _ = writeln!(md, "| {} | {} |", s.name(), cells.join(" | "));
    }
    md
}

/// The camera thread's idle cost: the real worker (`camera::spawn` playing
/// a folder of frames at 15 fps, as `xinyi kiosk --frames` does: frame to
/// grey, preview, decode) on frames without a code, its CPU time read from
/// the kernel's per-thread accounting (`/proc/self/task/*/schedstat`).
/// Frames: the corpus's frames without a code at the size, and code-free
/// frames derived from its larger ones (two corner crops of each, and the
/// 1920×1080 ones scaled to 1280×720).
fn camera_idle(scale: Scale, corpus: &Path, empty: &[String]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let seconds = scale.pick(12, 2) as u64;
    for (w, h) in [(1280u32, 720u32), (640, 480)] {
        let dir = tempfile::tempdir()?;
        let made = code_free_frames(corpus, empty, w, h, dir.path())?;
        if made == 0 {
            continue;
        }
        let idle = thread_cpu_while_playing(dir.path(), seconds)?;
        let per_frame = idle.share * 1000.0 / f64::from(xinyi::camera::FILE_FPS);
        let size = format!("{w}x{h}");
        let mut row = Row::new(
            "decode",
            &format!("{size}: camera thread's share of a core, no code in view"),
            idle.share * 100.0,
            "%",
        )
        .note(format!(
            "the camera worker's CPU time over {:.1} s while {made} code-free {size} frames play \
             at 15 fps (grey conversion, previews and decoding: {per_frame:.1} ms a frame); \
             texts reported: {}",
            idle.wall_s, idle.scanned
        ));
        if w == 1280 {
            row = row.target(
                "< 10% (15 fps), nothing reported",
                idle.share < 0.10 && idle.scanned == 0,
            );
        } else {
            row = row.target("nothing reported", idle.scanned == 0);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Writes code-free `w`×`h` PNG frames into `out`; how many.
fn code_free_frames(corpus: &Path, empty: &[String], w: u32, h: u32, out: &Path) -> Result<usize> {
    let mut n = 0;
    let mut save = |img: &image::RgbImage| -> Result<()> {
        let path = out.join(format!("{n:03}.png"));
        img.save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        n += 1;
        Ok(())
    };
    for name in empty {
        let path = corpus.join(name);
        let img = image::open(&path)
            .with_context(|| format!("decoding {}", path.display()))?
            .to_rgb8();
        let (iw, ih) = img.dimensions();
        if iw < w || ih < h {
            continue;
        }
        if (iw, ih) == (w, h) {
            save(&img)?;
            continue;
        }
        for (x, y) in [(0, 0), (iw - w, ih - h)] {
            save(&image::imageops::crop_imm(&img, x, y, w, h).to_image())?;
        }
        if iw * h == ih * w {
            save(&image::imageops::resize(
                &img,
                w,
                h,
                image::imageops::FilterType::Triangle,
            ))?;
        }
    }
    Ok(n)
}

/// What the camera worker cost while it played a folder.
struct Idle {
    /// CPU time over wall time: the share of one core.
    share: f64,
    wall_s: f64,
    /// Texts the worker reported (there is no code to report).
    scanned: usize,
}

fn thread_cpu_while_playing(frames: &Path, seconds: u64) -> Result<Idle> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use xinyi::camera::{self, CameraConfig, CameraEvent};
    let scanned = std::sync::Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let count = scanned.clone();
    let handle = camera::spawn(
        CameraConfig {
            device: 0,
            frames: Some(frames.to_path_buf()),
        },
        Box::new(move |ev| match ev {
            CameraEvent::Opened(_) => {
                let _ = tx.send(Ok(()));
            }
            CameraEvent::Unavailable(why) => {
                let _ = tx.send(Err(why));
            }
            CameraEvent::Scanned(_) => {
                count.fetch_add(1, Ordering::Relaxed);
            }
            CameraEvent::Preview(_) => {}
        }),
    );
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => bail!("the camera worker did not start: {why}"),
        Err(_) => bail!("the camera worker did not open its frames within 60 s"),
    }
    let tid = camera_thread().context("no thread named xinyi-camera in this process")?;
    // A second to settle (the first frames, the allocator), then measure.
    std::thread::sleep(Duration::from_secs(1));
    let (cpu0, wall0) = (thread_cpu_ns(&tid)?, Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let (cpu1, wall) = (thread_cpu_ns(&tid)?, wall0.elapsed());
    handle.stop();
    Ok(Idle {
        share: (cpu1.saturating_sub(cpu0)) as f64 / 1e9 / wall.as_secs_f64(),
        wall_s: wall.as_secs_f64(),
        scanned: scanned.load(Ordering::Relaxed),
    })
}

/// The id of this process's camera worker thread.
fn camera_thread() -> Result<String> {
    for e in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")? {
        let dir = e?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "xinyi-camera" {
            return Ok(dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned());
        }
    }
    bail!("the camera worker thread is not running")
}

/// A thread's CPU time so far in nanoseconds: the first field of its
/// schedstat.
fn thread_cpu_ns(tid: &str) -> Result<u64> {
    let path = format!("/proc/self/task/{tid}/schedstat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{path}: no CPU time in {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_count_a_wrong_text_as_a_failure() {
        assert_eq!(outcome(Some("a"), Some("a")), Outcome::Read);
        assert_eq!(outcome(Some("a"), Some("b")), Outcome::Wrong);
        assert_eq!(outcome(None, Some("b")), Outcome::Wrong);
        assert_eq!(outcome(Some("a"), None), Outcome::Missed);
        assert_eq!(outcome(None, None), Outcome::Empty);
    }
}
