//! Charts (plotters), each written as SVG for the HTML report and PNG for e-mail. Text uses the
//! embedded DejaVu Sans, so nothing depends on the fonts of the machine. Every chart has a title,
//! axis labels with units, a legend where colours mean something, and the as-of date; a chart
//! with no data says so instead of failing.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::{Error, Result};

pub const WIDTH: u32 = 960;
/// At most this many period labels on a time axis: 24 months side by side do not fit.
pub const PERIOD_TICKS: usize = 12;
pub const HEIGHT: u32 = 480;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        for (style, bytes) in [
            (FontStyle::Normal, dejavu::sans::regular()),
            (FontStyle::Bold, dejavu::sans::bold()),
        ] {
            if plotters::style::register_font("sans-serif", style, bytes).is_err() {
                unreachable!("the embedded DejaVu Sans is a valid font");
            }
        }
    });
}

/// Colours that stay distinguishable side by side (Tableau 10).
pub const PALETTE: [RGBColor; 10] = [
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

pub type Area<DB> = DrawingArea<DB, Shift>;
pub type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A rendered chart: its SVG text (inlined in the report) and the PNG written beside it.
pub struct Chart {
    pub name: String,
    pub title: String,
    pub svg: String,
}

/// A chart that can draw itself on any plotters backend.
pub trait Spec {
    fn title(&self) -> String;
    fn is_empty(&self) -> bool;
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

fn draw_any<DB: DrawingBackend>(root: &Area<DB>, spec: &impl Spec) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    if spec.is_empty() {
        let root = root.titled(&spec.title(), ("sans-serif", 22).into_font())?;
        root.draw(&Text::new(
            "No data for this chart as of this date.",
            (WIDTH as i32 / 2 - 200, HEIGHT as i32 / 2 - 40),
            ("sans-serif", 20).into_font().color(&BLACK.mix(0.6)),
        ))?;
        return Ok(());
    }
    spec.draw(root)?;
    root.present()?;
    Ok(())
}

/// Draws `spec` into an SVG string and into `dir/<name>.png` and `dir/<name>.svg`.
pub fn render(dir: &Path, name: &str, spec: &impl Spec) -> Result<Chart> {
    register_font();
    let err = |e: Box<dyn std::error::Error>| Error::query(format!("chart {name}"), e);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_any(&root, spec).map_err(err)?;
    }
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
        draw_any(&root, spec).map_err(err)?;
    }
    let path = dir.join(format!("{name}.svg"));
    std::fs::write(&path, &svg).map_err(|e| Error::io(&path, e))?;
    Ok(Chart {
        name: name.into(),
        title: spec.title(),
        svg,
    })
}

/// The category label at a rounded x coordinate, for axes of periods or segments.
pub fn label_at(labels: &[String], x: &f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

pub fn range_of(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-9);
    (
        if lo < 0.0 || !include_zero {
            lo - pad
        } else {
            lo
        },
        hi + pad,
    )
}

pub fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

/// A line through the points of `values` (None leaves a gap point out), dots on the points, and
/// its entry in the legend.
pub fn dotted_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    values: &[Option<f64>],
    name: &str,
    color: RGBColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
        .collect();
    chart
        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    Ok(())
}

pub fn bar(x: f64, from: f64, to: f64, width: f64, color: RGBColor) -> Rectangle<(f64, f64)> {
    Rectangle::new(
        [(x - width / 2.0, from), (x + width / 2.0, to)],
        color.filled(),
    )
}

/// The seed retention rate and strict retention per period, with the retained and reactivated
/// customers beneath (METRICS.md "Retention rate").
pub struct RetentionRate {
    pub as_of: String,
    pub period: String,
    pub labels: Vec<String>,
    pub rate: Vec<Option<f64>>,
    pub strict: Vec<Option<f64>>,
    pub retained: Vec<f64>,
    pub reactivated: Vec<f64>,
}

impl Spec for RetentionRate {
    fn title(&self) -> String {
        format!("Retention rate per {} (as of {})", self.period, self.as_of)
    }
    fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(&self.title(), ("sans-serif", 22).into_font())?;
        let (top, bottom) = root.split_vertically((HEIGHT as f64 * 0.5) as u32);
        let n = self.labels.len() as f64;
        let (lo, hi) = range_of(
            self.rate.iter().chain(&self.strict).flatten().copied(),
            true,
        );
        let mut chart = ChartBuilder::on(&top)
            .margin(8)
            .x_label_area_size(10)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n - 0.5, lo..hi)?;
        chart
            .configure_mesh()
            .x_labels(0)
            .y_desc("rate (%)")
            .label_style(("sans-serif", 13))
            .draw()?;
        for (values, name, color) in [
            (&self.rate, "seed rate (E - N) / S", PALETTE[0]),
            (&self.strict, "strict retention: retained / S", PALETTE[1]),
        ] {
            dotted_line(&mut chart, values, name, color)?;
        }
        legend(&mut chart)?;
        let max = self
            .retained
            .iter()
            .zip(&self.reactivated)
            .map(|(a, b)| a + b)
            .fold(1.0, f64::max);
        let mut bars = ChartBuilder::on(&bottom)
            .margin(8)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..max * 1.15)?;
        let labels = self.labels.clone();
        bars.configure_mesh()
            .x_labels(PERIOD_TICKS)
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_desc("customers")
            .label_style(("sans-serif", 12))
            .draw()?;
        bars.draw_series(
            self.retained
                .iter()
                .enumerate()
                .map(|(i, r)| bar(i as f64, 0.0, *r, 0.7, PALETTE[2])),
        )?
        .label("retained (active in both periods)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], PALETTE[2].filled()));
        bars.draw_series(
            self.retained
                .iter()
                .zip(&self.reactivated)
                .enumerate()
                .map(|(i, (r, a))| bar(i as f64, *r, r + a, 0.7, PALETTE[4])),
        )?
        .label("reactivated (back after a gap)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], PALETTE[4].filled()));
        legend(&mut bars)?;
        Ok(())
    }
}

/// Growth accounting as stacked bars: new, returning and resurrecting above zero, dormant below.
pub struct GrowthAccounting {
    pub as_of: String,
    pub period: String,
    pub labels: Vec<String>,
    pub new: Vec<f64>,
    pub returning: Vec<f64>,
    pub resurrecting: Vec<f64>,
    pub dormant: Vec<f64>,
}

impl Spec for GrowthAccounting {
    fn title(&self) -> String {
        format!(
            "Growth accounting: active customers per {} (as of {})",
            self.period, self.as_of
        )
    }
    fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.labels.len();
        let up: Vec<f64> = (0..n)
            .map(|i| self.new[i] + self.returning[i] + self.resurrecting[i])
            .collect();
        let top = up.iter().copied().fold(1.0, f64::max);
        let bottom = self.dormant.iter().copied().fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, -bottom * 1.1..top * 1.15)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(PERIOD_TICKS)
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_desc("customers (dormant below zero)")
            .label_style(("sans-serif", 12))
            .draw()?;
        let mut base = vec![0.0; n];
        for (values, name, color) in [
            (&self.new, "new", PALETTE[0]),
            (&self.returning, "returning", PALETTE[2]),
            (&self.resurrecting, "resurrecting", PALETTE[4]),
        ] {
            let rects: Vec<_> = (0..n)
                .map(|i| bar(i as f64, base[i], base[i] + values[i], 0.7, color))
                .collect();
            for i in 0..n {
                base[i] += values[i];
            }
            chart.draw_series(rects)?.label(name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
            });
        }
        chart
            .draw_series((0..n).map(|i| bar(i as f64, -self.dormant[i], 0.0, 0.7, PALETTE[3])))?
            .label("dormant")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], PALETTE[3].filled()));
        legend(&mut chart)?;
        Ok(())
    }
}

/// The cohort matrix as a heatmap: one row per cohort, one column per age, the share in each
/// cell, darker for higher retention; a colour scale beside it.
pub struct CohortHeatmap {
    pub as_of: String,
    pub period: String,
    pub cohorts: Vec<String>,
    /// `cells[cohort][age]`: retention 0..1; None where not reached or incomplete.
    pub cells: Vec<Vec<Option<f64>>>,
}

fn heat(v: f64) -> RGBColor {
    // White to dark blue.
    let t = v.clamp(0.0, 1.0).powf(0.6);
    RGBColor(
        (247.0 - t * 239.0) as u8,
        (251.0 - t * 203.0) as u8,
        (255.0 - t * 148.0) as u8,
    )
}

impl Spec for CohortHeatmap {
    fn title(&self) -> String {
        format!(
            "Customer retention by cohort and age in {}s (as of {})",
            self.period, self.as_of
        )
    }
    fn is_empty(&self) -> bool {
        self.cohorts.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (main, scale) = root.split_horizontally(WIDTH - 90);
        let rows = self.cohorts.len();
        let ages = self.cells.iter().map(Vec::len).max().unwrap_or(1);
        let mut chart = ChartBuilder::on(&main)
            .caption(self.title(), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..ages as f64 - 0.5, rows as f64 - 0.5..-0.5)?;
        let cohorts = self.cohorts.clone();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(ages.min(30))
            .y_labels(rows.min(40))
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 {
                    format!("{}", x.round())
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| label_at(&cohorts, y))
            .x_desc(format!("age ({}s since the first purchase)", self.period))
            .y_desc("cohort")
            .label_style(("sans-serif", 11))
            .draw()?;
        let font = if ages > 16 || rows > 16 { 9 } else { 12 };
        for (r, row) in self.cells.iter().enumerate() {
            for (k, cell) in row.iter().enumerate() {
                let Some(v) = cell else { continue };
                let (x, y) = (k as f64, r as f64);
                chart.draw_series([Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    heat(*v).filled(),
                )])?;
                let color = if *v > 0.5 { WHITE } else { BLACK };
                chart.draw_series([Text::new(
                    format!("{:.0}%", v * 100.0),
                    (x - 0.3, y - 0.15),
                    ("sans-serif", font).into_font().color(&color),
                )])?;
            }
        }
        // The colour scale.
        let mut bar = ChartBuilder::on(&scale)
            .margin_top(50)
            .margin_bottom(50)
            .y_label_area_size(45)
            .build_cartesian_2d(0.0..1.0, 0.0..100.0)?;
        bar.configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(6)
            .y_desc("% retained")
            .label_style(("sans-serif", 11))
            .draw()?;
        bar.draw_series((0..100).map(|p| {
            Rectangle::new(
                [(0.0, p as f64), (1.0, p as f64 + 1.0)],
                heat(p as f64 / 100.0).filled(),
            )
        }))?;
        Ok(())
    }
}

/// Named segments: share of customers beside share of revenue.
pub struct SegmentShares {
    pub as_of: String,
    pub title: String,
    pub segments: Vec<String>,
    pub customers_pct: Vec<f64>,
    pub revenue_pct: Vec<f64>,
}

impl Spec for SegmentShares {
    fn title(&self) -> String {
        format!("{} (as of {})", self.title, self.as_of)
    }
    fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.segments.len();
        let max = self
            .customers_pct
            .iter()
            .chain(&self.revenue_pct)
            .copied()
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(70)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..max * 1.15)?;
        let labels = self.segments.clone();
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_label_style(
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .y_desc("share (%)")
            .label_style(("sans-serif", 12))
            .draw()?;
        chart
            .draw_series(
                self.customers_pct
                    .iter()
                    .enumerate()
                    .map(|(i, v)| bar(i as f64 - 0.18, 0.0, *v, 0.34, PALETTE[0])),
            )?
            .label("share of customers")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], PALETTE[0].filled()));
        chart
            .draw_series(
                self.revenue_pct
                    .iter()
                    .enumerate()
                    .map(|(i, v)| bar(i as f64 + 0.18, 0.0, *v, 0.34, PALETTE[1])),
            )?
            .label("share of net revenue")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], PALETTE[1].filled()));
        legend(&mut chart)?;
        Ok(())
    }
}

/// Revenue history with a model's forecast and its 80% and 95% bands.
pub struct Forecast {
    pub as_of: String,
    pub period: String,
    pub model: String,
    pub labels: Vec<String>,
    /// Net revenue of the history, then None over the horizon.
    pub actual: Vec<Option<f64>>,
    /// (point, lower 80, upper 80, lower 95, upper 95) over the horizon, after the history.
    pub forecast: Vec<(f64, f64, f64, f64, f64)>,
}

impl Spec for Forecast {
    fn title(&self) -> String {
        format!(
            "Net revenue per {} and the {} forecast (as of {})",
            self.period, self.model, self.as_of
        )
    }
    fn is_empty(&self) -> bool {
        self.actual.iter().all(Option::is_none)
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.labels.len();
        let start = self.actual.iter().filter(|a| a.is_some()).count();
        let (lo, hi) = range_of(
            self.actual
                .iter()
                .flatten()
                .copied()
                .chain(self.forecast.iter().flat_map(|f| [f.3, f.4])),
            true,
        );
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo..hi)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(PERIOD_TICKS)
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_desc("net revenue")
            .label_style(("sans-serif", 12))
            .draw()?;
        let at = |h: usize| (start + h) as f64;
        for (lo_i, hi_i, alpha, name) in [(3, 4, 0.15, "95% interval"), (1, 2, 0.3, "80% interval")]
        {
            let pick = |f: &(f64, f64, f64, f64, f64), i: usize| [f.0, f.1, f.2, f.3, f.4][i];
            let mut poly: Vec<(f64, f64)> = self
                .forecast
                .iter()
                .enumerate()
                .map(|(h, f)| (at(h), pick(f, hi_i)))
                .collect();
            poly.extend(
                self.forecast
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(h, f)| (at(h), pick(f, lo_i))),
            );
            if !poly.is_empty() {
                chart
                    .draw_series([Polygon::new(poly, PALETTE[1].mix(alpha).filled())])?
                    .label(name)
                    .legend(move |(x, y)| {
                        Rectangle::new(
                            [(x, y - 5), (x + 12, y + 5)],
                            PALETTE[1].mix(alpha).filled(),
                        )
                    });
            }
        }
        let hist: Vec<(f64, f64)> = self
            .actual
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
            .collect();
        chart
            .draw_series(LineSeries::new(hist, PALETTE[0].stroke_width(2)))?
            .label("net revenue")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[0].stroke_width(2))
            });
        let fc: Vec<(f64, f64)> = self
            .forecast
            .iter()
            .enumerate()
            .map(|(h, f)| (at(h), f.0))
            .collect();
        chart
            .draw_series(LineSeries::new(fc, PALETTE[1].stroke_width(2)))?
            .label(format!("{} forecast", self.model))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[1].stroke_width(2))
            });
        legend(&mut chart)?;
        Ok(())
    }
}

/// CLV model check: mean repeat purchases in the holdout, actual against predicted, per
/// calibration frequency.
pub struct ClvHoldout {
    pub as_of: String,
    pub labels: Vec<String>,
    pub actual: Vec<f64>,
    pub predicted: Vec<f64>,
}

impl Spec for ClvHoldout {
    fn title(&self) -> String {
        format!(
            "CLV model check: holdout repeat purchases by calibration frequency (as of {})",
            self.as_of
        )
    }
    fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.labels.len();
        let (_, hi) = range_of(self.actual.iter().chain(&self.predicted).copied(), true);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..hi)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc("repeat purchases in the calibration period")
            .y_desc("mean repeat purchases in the holdout")
            .label_style(("sans-serif", 12))
            .draw()?;
        for (values, name, color) in [
            (&self.actual, "actual", PALETTE[0]),
            (&self.predicted, "BG/NBD prediction", PALETTE[1]),
        ] {
            let values: Vec<Option<f64>> = values.iter().map(|v| Some(*v)).collect();
            dotted_line(&mut chart, &values, name, color)?;
        }
        legend(&mut chart)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg_of(spec: &impl Spec) -> String {
        let dir = tempfile::tempdir().unwrap();
        let chart = render(dir.path(), "c", spec).unwrap();
        assert!(
            dir.path().join("c.png").metadata().unwrap().len() > 1000,
            "a PNG beside the SVG"
        );
        chart.svg
    }

    #[test]
    fn the_retention_chart_carries_its_title_axis_labels_legend_and_periods() {
        let svg = svg_of(&RetentionRate {
            as_of: "2024-05-01".into(),
            period: "month".into(),
            labels: vec!["2024-01".into(), "2024-02".into(), "2024-03".into()],
            rate: vec![None, Some(0.0), Some(300.0)],
            strict: vec![None, Some(0.0), Some(100.0)],
            retained: vec![0.0, 0.0, 1.0],
            reactivated: vec![0.0, 0.0, 2.0],
        });
        for text in [
            "Retention rate per month (as of 2024-05-01)",
            "rate (%)",
            "customers",
            "2024-03",
            "seed rate (E - N) / S",
            "reactivated",
            "300",
        ] {
            assert!(svg.contains(text), "{text} missing from the SVG");
        }
    }

    #[test]
    fn the_heatmap_writes_each_cell_and_leaves_unreached_cells_empty() {
        let svg = svg_of(&CohortHeatmap {
            as_of: "2024-05-01".into(),
            period: "month".into(),
            cohorts: vec!["2024-01".into(), "2024-02".into()],
            cells: vec![
                vec![Some(1.0), Some(0.0), Some(0.6667)],
                vec![Some(1.0), None],
            ],
        });
        assert!(svg.contains("67%") && svg.contains("100%") && svg.contains("0%"));
        assert_eq!(
            svg.matches("\n100%\n").count(),
            2,
            "one 100% per cohort at age 0"
        );
        assert!(
            svg.contains("age (months since the first purchase)") && svg.contains("% retained")
        );
    }

    #[test]
    fn an_empty_chart_says_so_instead_of_failing() {
        let svg = svg_of(&GrowthAccounting {
            as_of: "2024-05-01".into(),
            period: "month".into(),
            labels: vec![],
            new: vec![],
            returning: vec![],
            resurrecting: vec![],
            dormant: vec![],
        });
        assert!(svg.contains("No data for this chart"), "{svg}");
        assert!(svg.contains("Growth accounting"));
    }

    #[test]
    fn the_forecast_chart_names_its_model_and_bands() {
        let svg = svg_of(&Forecast {
            as_of: "2025-01-01".into(),
            period: "month".into(),
            model: "ets".into(),
            labels: vec!["2024-11".into(), "2024-12".into(), "2025-01".into()],
            actual: vec![Some(10.0), Some(12.0), None],
            forecast: vec![(13.0, 11.0, 15.0, 9.0, 17.0)],
        });
        for text in [
            "ets forecast",
            "80% interval",
            "95% interval",
            "net revenue",
            "2025-01",
        ] {
            assert!(svg.contains(text), "{text}");
        }
    }
}
