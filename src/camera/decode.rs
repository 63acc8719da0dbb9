//! QR decoding of one picture: the function the camera thread runs on every
//! frame and the kiosk runs on an image file. It does not depend on the
//! camera crate, so it builds (and is tested) without the `camera` feature.
//!
//! rqrr alone finds a clean code; camera frames are rarely clean. The
//! pipeline tries cheap things first and stops at the first text:
//!
//! 1. the grey frame as it is (rqrr's own running-average threshold);
//! 2. contrast stretched between the 1st and 99th percentile (dim or
//!    washed-out frames, glare);
//! 3. a local-mean (adaptive) threshold with a window a few modules wide
//!    (uneven light, shadows across the code);
//! 4. half size (noise and blur average out, modules stay ≥ 2 px) and
//!    double size (tiny codes far from the lens).
//!
//! A decoded text is only returned when rqrr's error correction accepted
//! it, so the pipeline never guesses.

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, Luma};

/// Frames wider than this are halved before the first attempt: a code that
/// fills a fraction of a 1080p frame still has modules of several pixels,
/// and rqrr's time grows with the pixel count.
const MAX_WIDTH: u32 = 1400;
/// Below this, upscaling is tried (a small code in a small frame).
const UPSCALE_BELOW: u32 = 900;

/// Decodes the first QR code found in `img`, trying the steps above.
pub fn decode(img: &DynamicImage) -> Option<String> {
    decode_luma(&img.to_luma8())
}

/// Decodes a greyscale picture (the camera thread's frames are already grey).
pub fn decode_luma(gray: &GrayImage) -> Option<String> {
    if gray.width() < 21 || gray.height() < 21 {
        return None;
    }
    let owned;
    let gray = if gray.width() > MAX_WIDTH {
        owned = resize(gray, 0.5);
        &owned
    } else {
        gray
    };
    if let Some(t) = try_rqrr(gray) {
        return Some(t);
    }
    let stretched = stretch_contrast(gray);
    if let Some(t) = stretched.as_ref().and_then(try_rqrr) {
        return Some(t);
    }
    let base = stretched.as_ref().unwrap_or(gray);
    if let Some(t) = try_bitmap(&adaptive_threshold(base)) {
        return Some(t);
    }
    let half = resize(base, 0.5);
    if half.width() >= 100
        && let Some(t) = try_rqrr(&half)
    {
        return Some(t);
    }
    if gray.width() < UPSCALE_BELOW {
        let double = resize(base, 2.0);
        if let Some(t) = try_rqrr(&double) {
            return Some(t);
        }
    }
    None
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
