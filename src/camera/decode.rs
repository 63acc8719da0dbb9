//! QR decoding of one picture: the function the kiosk runs on an image file
//! and, step by step, the camera thread runs on its frames. It does not
//! depend on the camera crate, so it builds (and is tested) without the
//! `camera` feature.
//!
//! Camera frames are rarely clean: blur, noise, glare, low contrast, tilt.
//! The pipeline is a cascade of [`Step`]s, cheapest and most productive
//! first, that stops at the first text:
//!
//! 1. rxing's port of ZXing-C++'s QR reader (finder patterns, perspective,
//!    any rotation) on ZXing's hybrid (local-block) binarization, computed
//!    by [`super::binarize`]. On a frame 600 px wide or more it first runs
//!    at half size (2×2 averages): a code held up to the lens has modules
//!    of 3 px or more, so half size mostly reads it in a third of the time
//!    and averages noise out; full size follows for small modules;
//! 2. rxing's classic ZXing reader, whose detector tolerates other
//!    distortions;
//! 3. rqrr at half size, and on the frame as it is (its own running-average
//!    threshold);
//! 4. rqrr on a local-mean (adaptive) threshold of the contrast-stretched
//!    frame (uneven light, shadows across the code);
//! 5. double size for small frames (tiny codes far from the lens).
//!
//! The order and the steps come from the decode benchmark on camera-like
//! frames (`BENCHMARKS.md`): each later step rescues frames the earlier
//! ones miss. A text is only returned when a decoder's error correction
//! accepted it, so the pipeline never guesses. All decoders are pure Rust.

use std::cell::OnceCell;

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, Luma};

/// Upscaling is only tried below this width (a small code in a small frame).
const UPSCALE_BELOW: u32 = 900;

/// One way of looking at a frame, in the order the cascade tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// rxing's ZXing-C++ port on the frame.
    Zxing,
    /// rxing's classic ZXing reader on the frame.
    ZxingClassic,
    /// rxing's ZXing-C++ port at half size.
    HalfZxing,
    /// rxing's ZXing-C++ port at half size of the contrast-stretched
    /// frame (dim, washed-out frames; skipped when stretching gains nothing).
    HalfStretchedZxing,
    /// rqrr at half size.
    HalfRqrr,
    /// rqrr on the frame.
    Rqrr,
    /// rqrr on the adaptive threshold of the contrast-stretched frame.
    AdaptiveRqrr,
    /// rxing's ZXing-C++ port at double size (small frames only).
    DoubleZxing,
    /// rqrr at double size (small frames only).
    DoubleRqrr,
}

/// Frames at least this wide start at half size: a VGA camera's frame
/// (640×480) included. At half size a code of 3 px a module or more is
/// usually still read, in a third of the time, and a frame with no code
/// costs the camera thread less; full size follows for what is missed.
pub const HALF_FIRST_FROM: u32 = 600;

/// The cascade for frames narrower than [`HALF_FIRST_FROM`].
pub const STEPS: [Step; 9] = [
    Step::Zxing,
    Step::ZxingClassic,
    Step::HalfZxing,
    Step::HalfStretchedZxing,
    Step::HalfRqrr,
    Step::Rqrr,
    Step::AdaptiveRqrr,
    Step::DoubleZxing,
    Step::DoubleRqrr,
];

/// The cascade for wider frames: the same, half size moved to the front.
pub const STEPS_HALF_FIRST: [Step; 9] = to_front(STEPS, Step::HalfZxing);

/// `steps` with `first` moved to the front, the others in their order.
const fn to_front(mut steps: [Step; 9], first: Step) -> [Step; 9] {
    let mut i = 0;
    while i < steps.len() && steps[i] as u8 != first as u8 {
        i += 1;
    }
    while i > 0 && i < steps.len() {
        steps[i] = steps[i - 1];
        i -= 1;
    }
    steps[0] = first;
    steps
}

impl Step {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Step::Zxing => "rxing (ZXing-C++ port)",
            Step::ZxingClassic => "rxing (classic ZXing)",
            Step::HalfZxing => "half size, rxing",
            Step::HalfStretchedZxing => "half size, contrast stretched, rxing",
            Step::HalfRqrr => "half size, rqrr",
            Step::Rqrr => "rqrr",
            Step::AdaptiveRqrr => "adaptive threshold, rqrr",
            Step::DoubleZxing => "double size, rxing",
            Step::DoubleRqrr => "double size, rqrr",
        }
    }

    /// Runs the step. The decoders are third-party code that indexes
    /// freely; a panic inside one is caught and counts as "no code", so a
    /// strange frame can never take the camera thread down.
    fn run(self, v: &Views<'_>) -> Option<String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.attempt(v)))
            .ok()
            .flatten()
    }

    /// Runs the step alone on `gray` (its derived pictures made afresh):
    /// what the step costs on a frame.
    pub fn run_alone(self, gray: &GrayImage) -> Option<String> {
        if too_small(gray) {
            return None;
        }
        self.run(&Views::new(gray))
    }

    /// [`Step::run`]; for rxing's ZXing-C++ port, when it reads nothing,
    /// also the number of finder patterns its picture holds (other steps
    /// count none).
    fn run_seen(self, v: &Views<'_>) -> (Option<String>, usize) {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match self {
            Step::Zxing => try_rxing_seen(v.gray, Reader::CppPort, true),
            Step::HalfZxing => v
                .half()
                .map_or((None, 0), |h| try_rxing_seen(h, Reader::CppPort, true)),
            _ => (self.attempt(v), 0),
        }))
        .unwrap_or((None, 0))
    }

    fn attempt(self, v: &Views<'_>) -> Option<String> {
        match self {
            Step::Zxing => try_rxing(v.gray, Reader::CppPort),
            Step::ZxingClassic => try_rxing(v.gray, Reader::Classic),
            Step::HalfZxing => v.half().and_then(|h| try_rxing(h, Reader::CppPort)),
            Step::HalfStretchedZxing => v
                .half_stretched()
                .and_then(|h| try_rxing(h, Reader::CppPort)),
            Step::HalfRqrr => v.half().and_then(try_rqrr),
            Step::Rqrr => try_rqrr(v.gray),
            Step::AdaptiveRqrr => try_bitmap(&adaptive_threshold(v.base())),
            Step::DoubleZxing => v.double().and_then(|d| try_rxing(d, Reader::CppPort)),
            Step::DoubleRqrr => v.double().and_then(try_rqrr),
        }
    }
}

/// The derived pictures of one frame, each made once when a step needs it.
struct Views<'a> {
    gray: &'a GrayImage,
    stretched: OnceCell<Option<GrayImage>>,
    half: OnceCell<Option<GrayImage>>,
    half_stretched: OnceCell<Option<GrayImage>>,
    double: OnceCell<Option<GrayImage>>,
}

impl<'a> Views<'a> {
    fn new(gray: &'a GrayImage) -> Views<'a> {
        Views {
            gray,
            stretched: OnceCell::new(),
            half: OnceCell::new(),
            half_stretched: OnceCell::new(),
            double: OnceCell::new(),
        }
    }

    /// The contrast-stretched frame, or the frame when stretching gains
    /// nothing.
    fn base(&self) -> &GrayImage {
        self.stretched
            .get_or_init(|| stretch_contrast(self.gray))
            .as_ref()
            .unwrap_or(self.gray)
    }

    fn half(&self) -> Option<&GrayImage> {
        self.half
            .get_or_init(|| (self.gray.width() >= 200).then(|| halve(self.gray)))
            .as_ref()
    }

    /// Half of the stretched frame; `None` when stretching gained nothing
    /// (then it would be [`Views::half`] again).
    fn half_stretched(&self) -> Option<&GrayImage> {
        self.half_stretched
            .get_or_init(|| {
                let stretched = self.stretched.get_or_init(|| stretch_contrast(self.gray));
                stretched.as_ref().filter(|s| s.width() >= 200).map(halve)
            })
            .as_ref()
    }

    fn double(&self) -> Option<&GrayImage> {
        self.double
            .get_or_init(|| (self.gray.width() < UPSCALE_BELOW).then(|| resize(self.base(), 2.0)))
            .as_ref()
    }
}

/// Decodes the first QR code found in `img`, trying every step.
pub fn decode(img: &DynamicImage) -> Option<String> {
    decode_luma(&img.to_luma8())
}

/// Decodes a greyscale picture, trying every step.
pub fn decode_luma(gray: &GrayImage) -> Option<String> {
    decode_traced(gray).map(|(text, _)| text)
}

/// [`decode_luma`], also telling which step read the code.
pub fn decode_traced(gray: &GrayImage) -> Option<(String, Step)> {
    if too_small(gray) {
        return None;
    }
    let views = Views::new(gray);
    cascade(gray)
        .iter()
        .find_map(|s| s.run(&views).map(|t| (t, *s)))
}

/// The steps for a frame of this size, in order.
pub fn cascade(gray: &GrayImage) -> &'static [Step; 9] {
    if gray.width() >= HALF_FIRST_FROM {
        &STEPS_HALF_FIRST
    } else {
        &STEPS
    }
}

fn too_small(gray: &GrayImage) -> bool {
    gray.width() < 21 || gray.height() < 21
}

/// When nothing in the last frames looked like a code, the camera's
/// decoder runs a fallback step only on every this many frames.
pub const QUIET_EVERY: u32 = 4;

/// The camera's decoder. A frame with no code costs the whole cascade
/// (tens of milliseconds), more than the time between two frames, and a
/// code held up to the lens stays in view for many frames. So each frame
/// gets the fast first step and at most one of the others in turn: the
/// cascade is spread over consecutive frames.
///
/// Most frames a counter camera sees hold no code at all, and those decide
/// what the camera costs while the kiosk waits. The first step's detector
/// tells, for free, whether its picture holds any finder pattern (a corner
/// square of a QR code). While frames hold none, a fallback runs only on
/// every [`QUIET_EVERY`]th frame. The first frame with a finder pattern
/// after a quiet while gets a whole turn of fallbacks, one a frame from
/// the most productive one; after that turn the pace is again one in
/// [`QUIET_EVERY`] frames, so a scene with something that merely looks
/// like a finder pattern does not cost the whole cascade for good. A code
/// shown to the lens is read by the first step in the frame it appears
/// in, as before; only a code the first step cannot even see waits for
/// its fallback a few frames longer.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// The fallback the next frame gets.
    next: usize,
    /// Frames in a row whose first step saw no finder pattern.
    quiet: u32,
    /// Fallbacks still to run one a frame, for a finder pattern in view.
    eager: usize,
    /// Frames since the last fallback at the quiet pace, modulo
    /// [`QUIET_EVERY`].
    tick: u32,
}

impl Default for FrameDecoder {
    fn default() -> FrameDecoder {
        FrameDecoder {
            next: 0,
            // As after a quiet while: the first finder pattern gets a turn.
            quiet: QUIET_EVERY,
            eager: 0,
            tick: 0,
        }
    }
}

/// What one frame cost the [`FrameDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameWork {
    /// The fallback step run on the frame, if any.
    pub fallback: Option<Step>,
    /// How many finder patterns the first step saw (0 when it read a code).
    pub finder_patterns: usize,
}

impl FrameDecoder {
    /// Decodes a camera's colour frame (grey first, see [`luma`]).
    pub fn decode_rgb(&mut self, rgb: &image::RgbImage) -> Option<String> {
        self.decode(&luma(rgb))
    }

    /// Decodes one frame: the first step, then (see the type's notes) the
    /// next fallback in turn.
    pub fn decode(&mut self, gray: &GrayImage) -> Option<String> {
        self.decode_traced(gray).0
    }

    /// [`FrameDecoder::decode`], also telling what the frame cost.
    pub fn decode_traced(&mut self, gray: &GrayImage) -> (Option<String>, FrameWork) {
        let mut work = FrameWork {
            fallback: None,
            finder_patterns: 0,
        };
        if too_small(gray) {
            return (None, work);
        }
        let views = Views::new(gray);
        let steps = cascade(gray);
        let (text, seen) = steps[0].run_seen(&views);
        if text.is_some() {
            self.quiet = 0;
            return (text, work);
        }
        work.finder_patterns = seen;
        let fallbacks = &steps[1..];
        if seen > 0 {
            if self.quiet >= QUIET_EVERY {
                // Something new in view after a quiet while: a turn of the
                // fallbacks, from the most productive one.
                self.next = 0;
                self.eager = fallbacks.len();
            }
            self.quiet = 0;
        } else {
            self.quiet = self.quiet.saturating_add(1);
        }
        if self.eager > 0 {
            self.eager -= 1;
        } else {
            self.tick = (self.tick + 1) % QUIET_EVERY;
            if self.tick != 0 {
                return (None, work);
            }
        }
        let step = fallbacks[self.next % fallbacks.len()];
        self.next = self.next.wrapping_add(1);
        work.fallback = Some(step);
        (step.run(&views), work)
    }
}

/// A colour frame in grey: the same pixels as `image`'s buffer conversion
/// (Rec. 709 weights in integers, `(2126 R + 7152 G + 722 B) / 10000`,
/// rounded down), in one tight pass instead of its per-pixel generic code;
/// this runs on every camera frame.
pub fn luma(rgb: &image::RgbImage) -> GrayImage {
    let out: Vec<u8> = rgb
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            let l = 2126 * u32::from(p[0]) + 7152 * u32::from(p[1]) + 722 * u32::from(p[2]);
            u8::try_from(l / 10_000).unwrap_or(u8::MAX)
        })
        .collect();
    GrayImage::from_raw(rgb.width(), rgb.height(), out).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum Reader {
    CppPort,
    Classic,
}

/// rxing's QR reader (try-harder) on ZXing's hybrid (local-block)
/// binarization ([`super::binarize`]).
fn try_rxing(gray: &GrayImage, reader: Reader) -> Option<String> {
    try_rxing_seen(gray, reader, false).0
}

/// [`try_rxing`]; with `count`, when it reads nothing, also how many finder
/// patterns (the three squares in a QR code's corners) its binarized
/// picture holds, found by the reader's own detector: none means nothing
/// in view looks like a code.
fn try_rxing_seen(gray: &GrayImage, reader: Reader, count: bool) -> (Option<String>, usize) {
    use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8Source, Reader as _};
    let Ok(source) = Luma8Source::new_with_slice(gray.as_raw(), gray.width(), gray.height()) else {
        return (None, 0);
    };
    let mut bitmap = BinaryBitmap::new(super::binarize::FastHybrid::new(source));
    // QR codes only: without the formats, the reader also samples every
    // finder pattern it saw as a Micro QR and an rMQR symbol, which costs
    // time on every frame without a code.
    let hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some([BarcodeFormat::QR_CODE].into_iter().collect()),
        ..DecodeHints::default()
    };
    let result = match reader {
        Reader::CppPort => rxing::qrcode::cpp_port::QrReader.decode_with_hints(&mut bitmap, &hints),
        Reader::Classic => rxing::qrcode::QRCodeReader.decode_with_hints(&mut bitmap, &hints),
    };
    let text = result
        .ok()
        .map(|r| r.getText().to_owned())
        .filter(|t| !t.is_empty());
    if text.is_some() || !count {
        return (text, 0);
    }
    let seen =
        rxing::qrcode::cpp_port::detector::FindFinderPatterns(bitmap.get_black_matrix(), true, 0)
            .len();
    (None, seen)
}

fn resize(gray: &GrayImage, factor: f32) -> GrayImage {
    #[allow(clippy::float_arithmetic)]
    let scale = |v: u32| ((v as f32 * factor).round() as u32).max(1);
    let filter = if factor < 1.0 {
        FilterType::Triangle
    } else {
        FilterType::Nearest
    };
    image::imageops::resize(gray, scale(gray.width()), scale(gray.height()), filter)
}

/// Half size by averaging 2×2 blocks: cheaper than a filtered resize and
/// a low-pass filter for sensor noise.
pub fn halve(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width() as usize / 2, gray.height() as usize / 2);
    let stride = gray.width() as usize;
    let src = gray.as_raw();
    let mut out = vec![0u8; w * h];
    for (y, row) in out.chunks_exact_mut(w.max(1)).enumerate() {
        let a = &src[2 * y * stride..2 * y * stride + 2 * w];
        let b = &src[(2 * y + 1) * stride..(2 * y + 1) * stride + 2 * w];
        for (x, px) in row.iter_mut().enumerate() {
            let sum = u16::from(a[2 * x])
                + u16::from(a[2 * x + 1])
                + u16::from(b[2 * x])
                + u16::from(b[2 * x + 1]);
            *px = ((sum + 2) / 4) as u8;
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_default()
}

/// rqrr with its own thresholding.
fn try_rqrr(gray: &GrayImage) -> Option<String> {
    let mut prepared = rqrr::PreparedImage::prepare(gray.clone());
    first_text(prepared.detect_grids())
}

/// rqrr on an image that is already black and white.
fn try_bitmap(bw: &GrayImage) -> Option<String> {
    let (w, h) = (bw.width() as usize, bw.height() as usize);
    let raw = bw.as_raw();
    let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| raw[y * w + x] < 128);
    first_text(prepared.detect_grids())
}

fn first_text<G: rqrr::BitGrid>(grids: Vec<rqrr::Grid<G>>) -> Option<String> {
    grids
        .into_iter()
        .find_map(|g| g.decode().ok().map(|(_, text)| text))
        .filter(|t| !t.is_empty())
}

/// Stretches the 1st–99th percentile of the histogram over 0–255; `None`
/// when the frame already spans most of the range (nothing to gain).
pub fn stretch_contrast(gray: &GrayImage) -> Option<GrayImage> {
    let mut hist = [0u64; 256];
    for p in gray.as_raw() {
        hist[usize::from(*p)] += 1;
    }
    let total: u64 = hist.iter().sum();
    let cut = total / 100;
    let mut acc = 0;
    let lo = hist
        .iter()
        .position(|&n| {
            acc += n;
            acc > cut
        })
        .unwrap_or(0);
    acc = 0;
    let hi = 255
        - hist
            .iter()
            .rev()
            .position(|&n| {
                acc += n;
                acc > cut
            })
            .unwrap_or(0);
    if hi <= lo + 8 || (lo < 16 && hi > 239) {
        return None;
    }
    let (lo, span) = (lo as u32, (hi - lo) as u32);
    let mut lut = [0u8; 256];
    for (v, out) in lut.iter_mut().enumerate() {
        let v = (v as u32).clamp(lo, lo + span);
        *out = ((v - lo) * 255 / span) as u8;
    }
    let mut out = gray.clone();
    for p in out.iter_mut() {
        *p = lut[usize::from(*p)];
    }
    Some(out)
}

/// Black where a pixel is darker than the mean of its neighbourhood by a
/// small margin, white elsewhere (integral image, O(1) per pixel).
pub fn adaptive_threshold(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let raw = gray.as_raw();
    // A window of about 1/12 of the short side spans a few modules of a
    // code that fills a fair part of the frame.
    let r = (w.min(h) / 24).max(7);
    let stride = w + 1;
    let mut integral = vec![0u64; stride * (h + 1)];
    for y in 0..h {
        let mut row = 0u64;
        for x in 0..w {
            row += u64::from(raw[y * w + x]);
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row;
        }
    }
    let mut out = GrayImage::new(gray.width(), gray.height());
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = integral[y1 * stride + x1] + integral[y0 * stride + x0]
                - integral[y0 * stride + x1]
                - integral[y1 * stride + x0];
            let n = ((y1 - y0) * (x1 - x0)) as u64;
            let v = u64::from(raw[y * w + x]);
            // 7 grey levels below the local mean: flat areas stay white.
            let black = v * n + 7 * n < sum;
            out.put_pixel(x as u32, y as u32, Luma([if black { 0 } else { 255 }]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_or_blank_pictures_give_nothing() {
        assert_eq!(decode_luma(&GrayImage::new(5, 5)), None);
        assert_eq!(
            decode_luma(&GrayImage::from_pixel(200, 100, Luma([255]))),
            None
        );
    }

    /// Noise with structure at several scales: nothing to read.
    fn noise() -> GrayImage {
        GrayImage::from_fn(320, 240, |x, y| {
            let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).rotate_left(x % 13);
            Luma([(v >> 7) as u8])
        })
    }

    #[test]
    fn the_frame_decoder_takes_every_fallback_in_turn_without_finding_ghosts() {
        // Every step runs on the noise (and none may panic or invent a
        // text); with no finder pattern in view, a fallback runs on every
        // QUIET_EVERYth frame only, each fallback in turn.
        let noise = noise();
        let mut frames = FrameDecoder::default();
        let mut ran = Vec::new();
        for _ in 0..(STEPS.len() - 1) * QUIET_EVERY as usize * 2 {
            let (text, work) = frames.decode_traced(&noise);
            assert_eq!(text, None);
            assert_eq!(work.finder_patterns, 0, "the noise holds no finder pattern");
            ran.push(work.fallback);
        }
        for (i, fallback) in ran.iter().enumerate() {
            let due = (i + 1) % QUIET_EVERY as usize == 0;
            assert_eq!(fallback.is_some(), due, "frame {i}: {fallback:?}");
        }
        let fallbacks: Vec<Step> = ran.iter().flatten().copied().collect();
        assert_eq!(fallbacks[..STEPS.len() - 1], STEPS[1..]);
        assert_eq!(fallbacks[STEPS.len() - 1..], STEPS[1..]);
        let wide = GrayImage::from_pixel(1200, 700, Luma([200]));
        assert_eq!(FrameDecoder::default().decode(&wide), None);
        assert_eq!(decode_traced(&noise), None);
    }

    #[test]
    fn a_finder_pattern_in_view_gets_a_fallback_on_every_frame() {
        // A code whose data area is wiped: its three finder patterns stay,
        // so the first step sees them, reads nothing, and every frame gets
        // a fallback (which reads nothing either).
        let mut img = crate::ui::qr::render("XY1:FINDER-ONLY", 4).unwrap_or_else(|e| panic!("{e}"));
        let side = img.width();
        // The quiet zone is 4 modules, a finder pattern with its separator 8.
        let keep = (4 + 8) * 4;
        for (x, y, p) in img.enumerate_pixels_mut() {
            let corner =
                ((x < keep || x >= side - keep) && y < keep) || (x < keep && y >= side - keep);
            if !corner {
                *p = Luma([255]);
            }
        }
        // After a quiet while (which moved the turn of fallbacks on), the
        // fallbacks start again from the first, one on every frame.
        let mut frames = FrameDecoder::default();
        for _ in 0..QUIET_EVERY * 3 {
            assert_eq!(frames.decode(&noise()), None);
        }
        let mut ran = Vec::new();
        for _ in 1..STEPS.len() {
            let (text, work) = frames.decode_traced(&img);
            assert_eq!(text, None);
            assert!(work.finder_patterns > 0, "{work:?}");
            ran.push(work.fallback);
        }
        let expected: Vec<Option<Step>> = STEPS[1..].iter().copied().map(Some).collect();
        assert_eq!(ran, expected);
        // The turn done, the finder pattern that stays gets the quiet pace.
        let later: Vec<bool> = (0..QUIET_EVERY * 2)
            .map(|_| frames.decode_traced(&img).1.fallback.is_some())
            .collect();
        assert_eq!(later.iter().filter(|ran| **ran).count(), 2, "{later:?}");
        // Then the code itself is read at once.
        let code = crate::ui::qr::render("XY1:FINDER-ONLY", 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(frames.decode(&code).as_deref(), Some("XY1:FINDER-ONLY"));
    }

    #[test]
    fn a_clean_code_is_read_by_the_first_step_on_every_path() {
        let img = crate::ui::qr::render("XY1:FRAME-TEST", 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            decode_traced(&img),
            Some(("XY1:FRAME-TEST".to_owned(), Step::Zxing))
        );
        assert_eq!(
            FrameDecoder::default().decode(&img).as_deref(),
            Some("XY1:FRAME-TEST")
        );
    }

    #[test]
    fn grey_frames_are_the_pixels_image_makes() {
        let mut seed = 0x9e37_79b9_u32;
        let rgb = image::RgbImage::from_fn(97, 61, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let [r, g, b, _] = seed.to_le_bytes();
            image::Rgb([r, g, b])
        });
        let mut extremes = rgb.clone();
        extremes.put_pixel(0, 0, image::Rgb([255, 255, 255]));
        extremes.put_pixel(1, 0, image::Rgb([0, 0, 0]));
        for frame in [rgb, extremes] {
            let theirs: GrayImage = image::buffer::ConvertBuffer::convert(&frame);
            assert_eq!(luma(&frame), theirs);
        }
    }

    #[test]
    fn halving_averages_two_by_two_blocks() {
        let g = GrayImage::from_raw(
            5,
            3,
            vec![0, 4, 8, 8, 99, 0, 0, 255, 255, 99, 7, 7, 7, 7, 7],
        )
        .unwrap_or_else(|| panic!("buffer size"));
        let h = halve(&g);
        assert_eq!((h.width(), h.height()), (2, 1));
        assert_eq!(h.as_raw(), &vec![1, 132]);
    }

    #[test]
    fn wide_frames_start_at_half_size() {
        assert_eq!(
            cascade(&GrayImage::new(1280, 720))[..4],
            [
                Step::HalfZxing,
                Step::Zxing,
                Step::ZxingClassic,
                Step::HalfStretchedZxing
            ]
        );
        assert_eq!(STEPS_HALF_FIRST[4..], STEPS[4..]);
        assert_eq!(cascade(&GrayImage::new(640, 480))[0], Step::HalfZxing);
        assert_eq!(cascade(&GrayImage::new(320, 240))[0], Step::Zxing);
        for steps in [&STEPS, &STEPS_HALF_FIRST] {
            let mut sorted: Vec<_> = steps.iter().map(|s| s.name()).collect();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), steps.len(), "each step once");
        }
    }

    #[test]
    fn stretch_spreads_a_dim_frame() {
        let mut g = GrayImage::from_pixel(10, 10, Luma([100]));
        for x in 0..10 {
            g.put_pixel(x, 0, Luma([140]));
        }
        let s = stretch_contrast(&g).unwrap();
        assert_eq!(s.get_pixel(0, 0).0[0], 255);
        assert_eq!(s.get_pixel(0, 5).0[0], 0);
    }
}
