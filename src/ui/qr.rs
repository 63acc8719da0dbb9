//! QR codes out: the objection and complaint channels on the refused and
//! OK screens (their addresses come with the site's synced config), and
//! the demo's sample codes as PNG files for a phone or webcam.

use std::path::Path;

use image::{GrayImage, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// Renders `text` as a QR code: `module` pixels per module and a quiet
/// zone of four modules (what phone cameras need).
pub fn render(text: &str, module: u32) -> Result<GrayImage, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| format!("cannot make a QR code of {} characters: {e}", text.len()))?;
    let n = u32::try_from(code.width()).map_err(|_| "QR code too large".to_owned())?;
    let module = module.max(1);
    let quiet = 4;
    let side = (n + 2 * quiet) * module;
    let colors = code.to_colors();
    let mut img = GrayImage::from_pixel(side, side, Luma([255]));
    for (i, c) in colors.iter().enumerate() {
        if *c != Color::Dark {
            continue;
        }
        let i = u32::try_from(i).unwrap_or(0);
        let (mx, my) = (i % n + quiet, i / n + quiet);
        for dy in 0..module {
            for dx in 0..module {
                img.put_pixel(mx * module + dx, my * module + dy, Luma([0]));
            }
        }
    }
    Ok(img)
}

/// Writes `text` as a PNG QR code at `path`.
pub fn write_png(text: &str, path: &Path) -> Result<(), String> {
    render(text, 6)?
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_codes_decode_back() {
        // The longest channel address a site may have, with a reference.
        let base = format!(
            "https://xyjl.example.gov.cn/{}",
            "c".repeat(xinyi_core::wire::config::MAX_CHANNEL_URL_BYTES - 28)
        );
        let url = format!("{base}?ref=0123456789abcdef0123456789abcdef");
        let img = render(&url, 4).unwrap();
        assert_eq!(crate::camera::decode::decode_luma(&img), Some(url));
    }
}
