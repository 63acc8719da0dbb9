//! The console's charts, drawn as SVG by plotters (integer axes only; the
//! browser picks the fonts), and rasterised to PNG by resvg with the
//! bundled CJK font for those who paste them into a report.

use std::sync::{Arc, OnceLock};

use plotters::prelude::*;
use resvg::{tiny_skia, usvg};

/// The CJK font subset the console serves and draws PNG charts with.
pub const FONT: &[u8] = include_bytes!("../../../../../assets/fonts/NotoSansSC-Regular.ttf");

/// The bundled font as a font database, and its family name; parsed on
/// the first PNG, then shared.
fn fonts() -> Result<&'static (Arc<usvg::fontdb::Database>, String), String> {
    static FONTS: OnceLock<Option<(Arc<usvg::fontdb::Database>, String)>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_font_data(FONT.to_vec());
            let family = db.faces().next()?.families.first()?.0.clone();
            db.set_sans_serif_family(family.clone());
            Some((Arc::new(db), family))
        })
        .as_ref()
        .ok_or_else(|| "the bundled font has no family name".to_owned())
}

/// An SVG chart of this module as PNG, its text in the bundled font.
pub fn png(svg: &str) -> Result<Vec<u8>, String> {
    let (db, family) = fonts()?;
    let opt = usvg::Options {
        font_family: family.clone(),
        fontdb: Arc::clone(db),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| format!("chart SVG: {e}"))?;
    let size = tree.size().to_int_size();
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the chart has no area")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| format!("PNG: {e}"))
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// One value per label of the x axis.
    pub values: Vec<u64>,
}

/// A colour per series, distinguishable in print.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x1e, 0x7b, 0x34),
    RGBColor(0xb3, 0x26, 0x1e),
    RGBColor(0x1f, 0x5f, 0xa8),
    RGBColor(0x9a, 0x67, 0x00),
    RGBColor(0x6a, 0x3d, 0x9a),
    RGBColor(0x00, 0x7c, 0x89),
    RGBColor(0x5b, 0x64, 0x74),
    RGBColor(0xc2, 0x18, 0x5b),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn top(values: impl Iterator<Item = u64>) -> i64 {
    let max = i64::try_from(values.max().unwrap_or(0)).unwrap_or(i64::MAX / 2);
    // Headroom above the highest point, and never an empty axis.
    max + max / 8 + 1
}

fn failed(e: impl std::fmt::Display) -> String {
    format!("chart: {e}")
}

/// A line chart: one line per series over the labelled x axis.
pub fn lines(
    title: &str,
    y_desc: &str,
    labels: &[String],
    series: &[Series],
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let last = i64::try_from(labels.len().saturating_sub(1))
            .unwrap_or(0)
            .max(1);
        let y_top = top(series.iter().flat_map(|s| s.values.iter().copied()));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(52)
            .build_cartesian_2d(0i64..last, 0i64..y_top)
            .map_err(failed)?;
        let label_of = |i: &i64| {
            usize::try_from(*i)
                .ok()
                .and_then(|i| labels.get(i))
                .cloned()
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_labels(labels.len().clamp(1, 12))
            .x_label_formatter(&label_of)
            .y_desc(y_desc)
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        for (i, s) in series.iter().enumerate() {
            let c = colour(i);
            let points = s.values.iter().enumerate().map(|(x, y)| {
                (
                    i64::try_from(x).unwrap_or(0),
                    i64::try_from(*y).unwrap_or(0),
                )
            });
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)).point_size(3))
                .map_err(failed)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE)
                .border_style(BLACK)
                .draw()
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// A bar chart: one bar per label.
pub fn bars(title: &str, y_desc: &str, bars: &[(String, u64)]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let n = i64::try_from(bars.len()).unwrap_or(0).max(1);
        let y_top = top(bars.iter().map(|b| b.1));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(52)
            .build_cartesian_2d((0i64..n).into_segmented(), 0i64..y_top)
            .map_err(failed)?;
        let label_of = |v: &SegmentValue<i64>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| bars.get(i))
                .map(|b| b.0.clone())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len().max(1))
            .x_label_formatter(&label_of)
            .y_desc(y_desc)
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let x = i64::try_from(i).unwrap_or(0);
                let y = i64::try_from(*v).unwrap_or(0);
                Rectangle::new(
                    [(SegmentValue::Exact(x), 0), (SegmentValue::Exact(x + 1), y)],
                    colour(i).filled(),
                )
            }))
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_names_its_series_and_labels() {
        let svg = lines(
            "title",
            "count",
            &["d1".into(), "d2".into(), "d3".into()],
            &[Series {
                name: "measure-a".into(),
                values: vec![1, 5, 2],
            }],
        )
        .unwrap_or_default();
        assert!(svg.starts_with("<svg"), "{svg}");
        for want in ["title", "measure-a", "d1"] {
            assert!(
                svg.contains(&format!(">\n{want}\n</text>")),
                "no {want} in the chart"
            );
        }
        assert!(svg.contains("<polyline"), "no line in the chart");
    }

    #[test]
    fn a_bar_chart_draws_one_bar_per_value() {
        let svg = bars(
            "t",
            "n",
            &[("a".into(), 3), ("b".into(), 0), ("c".into(), 7)],
        )
        .unwrap_or_default();
        assert!(
            svg.contains(">\na\n</text>") && svg.contains(">\nc\n</text>"),
            "{svg}"
        );
        // Three bars plus the background.
        assert!(svg.matches("<rect").count() >= 4);
    }

    #[test]
    fn text_from_terminals_is_escaped() {
        // Measure names and refusal reasons come from uploaded records.
        let svg = bars("t", "n", &[("<script>x</script>".into(), 1)]).unwrap_or_default();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
    }

    #[test]
    fn empty_data_still_draws() {
        assert!(lines("t", "n", &[], &[]).is_ok());
        assert!(bars("t", "n", &[]).is_ok());
    }
}
