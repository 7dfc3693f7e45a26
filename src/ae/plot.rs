//! Plots with axes and legends, drawn with plotters into a buffer and written as PNG: the
//! latent map's scatter and the out-of-distribution histogram. Text uses the DejaVu Sans font
//! shipped in assets/fonts, so pictures look the same on every machine.

use crate::run_dir::write_atomic;
use anyhow::{Context, Result, anyhow};
use image::{ImageFormat, RgbImage};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The ten colours of matplotlib's `tab10`, so plots read like the lecture notes' figures.
pub const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn register_font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| anyhow!("the plot font cannot be read"))
}

fn draw_err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("cannot draw {what}: {e}")
}

/// Writes an RGB buffer as PNG (atomically).
fn save_rgb(buf: Vec<u8>, size: (u32, u32), path: &Path) -> Result<()> {
    let img = RgbImage::from_raw(size.0, size.1, buf).context("a plot buffer of the wrong size")?;
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .with_context(|| format!("cannot encode {}", path.display()))?;
    write_atomic(path, &bytes)
}

/// A set of points drawn in one colour, with a name in the legend.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

fn padded_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    lo - pad..hi + pad
}

/// A chart of `f64` against `f64` in a bitmap.
type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The common frame: a white background, a title, labelled axes, no minor grid.
fn frame<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    title: &str,
    ranges: (std::ops::Range<f64>, std::ops::Range<f64>),
    axes: (&str, &str),
) -> Result<Chart<'a, 'b>> {
    let err = draw_err(title);
    root.fill(&WHITE).map_err(&err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(ranges.0, ranges.1)
        .map_err(&err)?;
    chart
        .configure_mesh()
        .x_desc(axes.0)
        .y_desc(axes.1)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE)
        .draw()
        .map_err(&err)?;
    Ok(chart)
}

/// The legend, top right.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, title: &str) -> Result<()> {
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(draw_err(title))
}

/// A scatter plot of `series`, one colour each, with axes, labels and a legend.
pub fn scatter(title: &str, axes: (&str, &str), series: &[Series], path: &Path) -> Result<()> {
    register_font()?;
    let size = (900u32, 760u32);
    let mut buf = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let err = draw_err(title);
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        let all = || series.iter().flat_map(|s| s.points.iter());
        let ranges = (
            padded_range(all().map(|p| p.0)),
            padded_range(all().map(|p| p.1)),
        );
        let mut chart = frame(&root, title, ranges, axes)?;
        for (i, s) in series.iter().enumerate() {
            let colour = TAB10[i % TAB10.len()];
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, 2, colour.mix(0.6).filled())),
                )
                .map_err(&err)?
                .label(s.name.clone())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
        }
        if series.len() > 1 {
            legend(&mut chart, title)?;
        }
        root.present().map_err(&err)?;
    }
    save_rgb(buf, size, path)
}

/// Overlaid histograms of `series` (values only: the `x` of each point), as fractions of each
/// series, over `bins` equal bins between the smallest value and the 99.5th percentile.
pub fn histograms(
    title: &str,
    x_desc: &str,
    series: &[Series],
    bins: usize,
    path: &Path,
) -> Result<()> {
    register_font()?;
    let bins = bins.max(1);
    let mut all: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|v| v.is_finite())
        .collect();
    all.sort_by(f64::total_cmp);
    let lo = all.first().copied().unwrap_or(0.0);
    let hi = all
        .get(((all.len() as f64 * 0.995) as usize).min(all.len().saturating_sub(1)))
        .copied()
        .unwrap_or(1.0)
        .max(lo + 1e-9);
    let width = (hi - lo) / bins as f64;
    let counts: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            let mut c = vec![0.0; bins];
            for &(v, _) in &s.points {
                if v.is_finite() {
                    let b = (((v - lo) / width) as usize).min(bins - 1);
                    c[b] += 1.0 / s.points.len().max(1) as f64;
                }
            }
            c
        })
        .collect();
    let top = counts
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let size = (900u32, 560u32);
    let mut buf = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let err = draw_err(title);
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        let axes = (x_desc, "fraction of images");
        let mut chart = frame(&root, title, (lo..hi, 0.0..top), axes)?;
        for (i, (s, c)) in series.iter().zip(&counts).enumerate() {
            let colour = TAB10[i % TAB10.len()];
            chart
                .draw_series(c.iter().enumerate().map(|(b, &f)| {
                    let x0 = lo + b as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, f)], colour.mix(0.45).filled())
                }))
                .map_err(&err)?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
        }
        legend(&mut chart, title)?;
        root.present().map_err(&err)?;
    }
    save_rgb(buf, size, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_drawn_with_text_and_colour() {
        let dir = std::env::temp_dir().join(format!("ae-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let series = vec![
            Series {
                name: "zero".into(),
                points: (0..50).map(|i| (f64::from(i), f64::from(i % 7))).collect(),
            },
            Series {
                name: "one".into(),
                points: (0..50).map(|i| (f64::from(i) * 0.5, 3.0)).collect(),
            },
        ];
        let path = dir.join("scatter.png");
        scatter("codes", ("z0", "z1"), &series, &path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (900, 760));
        // The first series' colour (blended with white) and black text both appear.
        let has = |f: &dyn Fn(&image::Rgb<u8>) -> bool| img.pixels().any(f);
        assert!(has(&|p| p.0[2] > p.0[0] + 40 && p.0[0] < 200));
        assert!(has(&|p| p.0.iter().all(|&c| c < 40)));
        let hist = dir.join("hist.png");
        histograms("errors", "MSE", &series, 20, &hist).unwrap();
        assert_eq!(image::open(&hist).unwrap().width(), 900);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
