//! ZXing's hybrid (local-block) binarization, computed fast, for rxing.
//!
//! rxing's `HybridBinarizer` is a faithful port of ZXing's Java code: it
//! sets the black matrix one bit at a time through a bounds-checked
//! accessor and takes half of the time of a whole successful decode on a
//! 1280×720 frame. This is the same algorithm producing the same bits —
//! per 8×8 block a black point, a threshold from the 5×5 blocks around it,
//! then `luma ≤ threshold` — written a machine word at a time. The test
//! below checks bit-for-bit equality with rxing's own on camera frames.

use std::borrow::Cow;
use std::cell::OnceCell;

use rxing::common::{BitArray, BitMatrix, HybridBinarizer, LineOrientation, Result};
use rxing::{Binarizer, Luma8Source, LuminanceSource};

const BLOCK_POWER: usize = 3;
const BLOCK: usize = 1 << BLOCK_POWER;
/// Below this many pixels on a side ZXing uses its global histogram.
const MIN_SIDE: usize = BLOCK * 5;
/// A block whose darkest and lightest pixels are this close is flat.
const MIN_DYNAMIC_RANGE: u8 = 24;
const WORD: usize = usize::BITS as usize;

/// A [`Binarizer`] equal to rxing's `HybridBinarizer`, only faster.
pub struct FastHybrid<'a> {
    /// Rows, columns and the global-histogram fallback (1D readers, tiny
    /// images) are left to rxing's own.
    inner: HybridBinarizer<Luma8Source<'a>>,
    matrix: OnceCell<BitMatrix>,
}

impl std::fmt::Debug for FastHybrid<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastHybrid")
            .field("width", &self.get_width())
            .field("height", &self.get_height())
            .finish_non_exhaustive()
    }
}

impl<'a> FastHybrid<'a> {
    /// Binarizes `source` (lazily, on the first request for the matrix).
    pub fn new(source: Luma8Source<'a>) -> FastHybrid<'a> {
        FastHybrid {
            inner: HybridBinarizer::new(source),
            matrix: OnceCell::new(),
        }
    }

    fn compute(&self) -> Result<BitMatrix> {
        let source = self.inner.get_luminance_source();
        let (w, h) = (source.get_width(), source.get_height());
        if w < MIN_SIDE || h < MIN_SIDE {
            return self.inner.get_black_matrix().cloned();
        }
        let luma = source.get_matrix();
        let bits = black_bits(&luma, w, h);
        let row_words = w.div_ceil(WORD);
        let mut matrix = BitMatrix::new(w as u32, h as u32)?;
        let mut row = BitArray::with_size(w);
        for (y, words) in bits.chunks_exact(row_words).enumerate() {
            for (i, word) in words.iter().enumerate() {
                row.setBulk(i * WORD, *word);
            }
            matrix.setRow(y as u32, &row);
        }
        Ok(matrix)
    }
}

impl<'a> Binarizer for FastHybrid<'a> {
    type Source = Luma8Source<'a>;

    fn get_luminance_source(&self) -> &Self::Source {
        self.inner.get_luminance_source()
    }

    fn get_black_row(&self, y: usize) -> Result<Cow<'_, BitArray>> {
        self.inner.get_black_row(y)
    }

    fn get_black_row_from_matrix(&self, y: usize) -> Result<Cow<'_, BitArray>> {
        match self.matrix.get() {
            Some(m) => Ok(Cow::Owned(m.getRow(y as u32))),
            None => self.inner.get_black_row(y),
        }
    }

    fn get_black_matrix(&self) -> Result<&BitMatrix> {
        if let Some(m) = self.matrix.get() {
            return Ok(m);
        }
        let m = self.compute()?;
        Ok(self.matrix.get_or_init(|| m))
    }

    fn get_black_line(&self, l: usize, lt: LineOrientation) -> Result<Cow<'_, BitArray>> {
        self.inner.get_black_line(l, lt)
    }

    fn create_binarizer(&self, source: Self::Source) -> Self {
        FastHybrid::new(source)
    }

    fn get_width(&self) -> usize {
        self.inner.get_width()
    }

    fn get_height(&self) -> usize {
        self.inner.get_height()
    }
}

/// The black bits of a `w`×`h` picture (both ≥ 40), row-major, rows padded
/// to whole words, least significant bit first — BitMatrix's layout.
///
/// ZXing thresholds block by block, and where the last block of a row or
/// column is shifted back to fit, the overlapped pixels are black if either
/// block's threshold says so: that is a threshold of the larger of the two.
/// So each pixel row gets one threshold per pixel and the comparison runs
/// over whole rows, 64 pixels to a word.
pub fn black_bits(luma: &[u8], w: usize, h: usize) -> Vec<usize> {
    let (sw, sh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let points = black_points(luma, w, h, sw, sh);
    // Each block's threshold: the mean black point of the 5×5 blocks
    // around it (shifted inwards at the edges).
    let mut thresholds = vec![0u8; sw * sh];
    for by in 0..sh {
        let top = by.clamp(2, sh - 3);
        for bx in 0..sw {
            let left = bx.clamp(2, sw - 3);
            let sum: u32 = points[(top - 2) * sw..(top + 3) * sw]
                .chunks_exact(sw)
                .map(|row| row[left - 2..left + 3].iter().sum::<u32>())
                .sum();
            thresholds[by * sw + bx] = u8::try_from(sum / 25).unwrap_or(u8::MAX);
        }
    }
    let row_words = w.div_ceil(WORD);
    let mut bits = vec![0usize; row_words * h];
    let (max_x, max_y) = (w - BLOCK, h - BLOCK);
    let last_bx = sw - 1;
    let mut per_pixel = vec![0u8; row_words * WORD];
    let mut key = None;
    for y in 0..h {
        let by = (y >> BLOCK_POWER).min(sh - 1);
        let shared = y >= max_y && by != sh - 1;
        if key != Some((by, shared)) {
            key = Some((by, shared));
            let row = &thresholds[by * sw..(by + 1) * sw];
            let last_row = &thresholds[(sh - 1) * sw..sh * sw];
            let t = |bx: usize| {
                if shared {
                    row[bx].max(last_row[bx])
                } else {
                    row[bx]
                }
            };
            for (x, out) in per_pixel[..w].iter_mut().enumerate() {
                let bx = (x >> BLOCK_POWER).min(last_bx);
                *out = if x >= max_x && bx != last_bx {
                    t(bx).max(t(last_bx))
                } else {
                    t(bx)
                };
            }
        }
        let pixels = &luma[y * w..(y + 1) * w];
        let out = &mut bits[y * row_words..(y + 1) * row_words];
        let whole = w / WORD;
        for (i, word) in out[..whole].iter_mut().enumerate() {
            let p = &pixels[i * WORD..(i + 1) * WORD];
            let t = &per_pixel[i * WORD..(i + 1) * WORD];
            let mut v = 0usize;
            for k in 0..WORD {
                v |= usize::from(p[k] <= t[k]) << k;
            }
            *word = v;
        }
        if whole < row_words {
            let mut v = 0usize;
            for k in 0..w - whole * WORD {
                v |= usize::from(pixels[whole * WORD + k] <= per_pixel[whole * WORD + k]) << k;
            }
            out[whole] = v;
        }
    }
    bits
}

/// ZXing's black point per block: the block's mean, or for a flat block
/// half its minimum, raised to its neighbours' when they are darker.
fn black_points(luma: &[u8], w: usize, h: usize, sw: usize, sh: usize) -> Vec<u32> {
    let (max_x, max_y) = (w - BLOCK, h - BLOCK);
    let mut points = vec![0u32; sw * sh];
    for by in 0..sh {
        let y0 = (by << BLOCK_POWER).min(max_y);
        for bx in 0..sw {
            let x0 = (bx << BLOCK_POWER).min(max_x);
            let (mut sum, mut min, mut max) = (0u32, u8::MAX, u8::MIN);
            for y in y0..y0 + BLOCK {
                for &p in &luma[y * w + x0..y * w + x0 + BLOCK] {
                    sum += u32::from(p);
                    min = min.min(p);
                    max = max.max(p);
                }
            }
            let mut point = sum >> (BLOCK_POWER * 2);
            if max - min <= MIN_DYNAMIC_RANGE {
                point = u32::from(min) / 2;
                if by > 0 && bx > 0 {
                    let neighbours = (points[(by - 1) * sw + bx]
                        + 2 * points[by * sw + bx - 1]
                        + points[(by - 1) * sw + bx - 1])
                        / 4;
                    if u32::from(min) < neighbours {
                        point = neighbours;
                    }
                }
            }
            points[by * sw + bx] = point;
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(luma: &[u8], w: u32, h: u32) -> (BitMatrix, BitMatrix) {
        let ours = FastHybrid::new(
            Luma8Source::new_with_slice(luma, w, h).unwrap_or_else(|e| panic!("{e}")),
        );
        let theirs = HybridBinarizer::new(
            Luma8Source::new_with_slice(luma, w, h).unwrap_or_else(|e| panic!("{e}")),
        );
        (
            ours.get_black_matrix()
                .unwrap_or_else(|e| panic!("{e}"))
                .clone(),
            theirs
                .get_black_matrix()
                .unwrap_or_else(|e| panic!("{e}"))
                .clone(),
        )
    }

    #[test]
    fn the_same_bits_as_rxing_on_odd_sizes_and_flat_areas() {
        for (w, h) in [
            (40u32, 40u32),
            (41, 57),
            (130, 67),
            (200, 129),
            (64, 64),
            (321, 240),
        ] {
            let luma: Vec<u8> = (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    // flat areas, gradients and fine texture
                    if x < w / 3 {
                        200
                    } else if y < h / 2 {
                        ((x * 7 + y * 3) % 256) as u8
                    } else {
                        ((x ^ y).wrapping_mul(37) % 256) as u8
                    }
                })
                .collect();
            let (ours, theirs) = both(&luma, w, h);
            assert_eq!(ours, theirs, "{w}x{h}");
        }
    }

    #[test]
    fn the_same_bits_as_rxing_on_camera_frames() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        let mut seen = 0;
        for name in [
            "640x480_glare_m4_0.jpg",
            "1280x720_noise_m5_0.jpg",
            "1920x1080_lowcontrast_m3_0.jpg",
            "1280x720_empty_0.jpg",
        ] {
            let Ok(img) = image::open(dir.join(name)) else {
                continue;
            };
            let g = img.to_luma8();
            let (ours, theirs) = both(g.as_raw(), g.width(), g.height());
            assert_eq!(ours, theirs, "{name}");
            seen += 1;
        }
        assert!(seen > 0 || !dir.exists(), "no corpus frame could be read");
    }

    #[test]
    fn tiny_pictures_use_the_global_histogram_like_rxing() {
        let luma: Vec<u8> = (0..30 * 20)
            .map(|i| if i % 7 < 3 { 10 } else { 240 })
            .collect();
        let (ours, theirs) = both(&luma, 30, 20);
        assert_eq!(ours, theirs);
    }
}
