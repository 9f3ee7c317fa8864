//! Charts (plotters), each written as SVG for the HTML report and PNG for e-mail. Text uses the
//! embedded DejaVu Sans, so nothing depends on the fonts of the machine. Every chart has a title,
//! axis labels with units, a legend where colours mean something, and the as-of date; a chart
//! with no data says so instead of failing.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

mod bars;
mod retention;
mod segments;
mod service;
mod value;

pub use bars::{Bars, Histogram};
pub use retention::{CohortHeatmap, GrowthAccounting, RetentionCurves, RetentionRate};
pub use segments::{Clusters, RfGrid, SegmentShares};
pub use service::{ChannelMix, Satisfaction};
pub use value::{ClvHoldout, Forecast};

pub const WIDTH: u32 = 960;
/// At most this many period labels on a time axis: 24 months side by side do not fit.
pub const PERIOD_TICKS: usize = 12;
pub const HEIGHT: u32 = 480;
/// The narrow variant a phone shows: about the screen's own pixels, so that 12 px labels stay
/// 8 px or more on a 400 px screen (the wide chart shrunk there draws them at 3-4 px).
pub const NARROW: (u32, u32) = (400, 380);

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
    /// The narrow variant's SVG, without a caption, for screens under 640 px.
    pub narrow_svg: String,
    /// The values it draws: (series, label, value as text), in drawing order. Each is also a
    /// tooltip in the SVG, at its mark.
    pub values: Vec<[String; 3]>,
}

/// A value drawn at a point of the chart, in the backend's pixels.
struct Tip {
    at: (i32, i32),
    value: [String; 3],
}

thread_local! {
    /// The values the chart being drawn on this thread has recorded ([`tip`]); taken by
    /// [`render`] after each backend.
    static TIPS: std::cell::RefCell<Vec<Tip>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Whether [`render`] is drawing the narrow variant on this thread.
    static DRAWING_NARROW: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the chart being drawn is the narrow variant: no caption (the page shows the title
/// as text above it, where a long title wraps), fewer period labels.
pub fn narrow() -> bool {
    DRAWING_NARROW.with(|n| n.get())
}

/// The canvas of the chart being drawn, in pixels.
pub fn size() -> (u32, u32) {
    if narrow() { NARROW } else { (WIDTH, HEIGHT) }
}

/// At most this many period labels on the time axis of the chart being drawn.
pub fn period_ticks() -> usize {
    if narrow() { 5 } else { PERIOD_TICKS }
}

/// The label area of a category axis (segments, models, campaigns): the wide chart writes the
/// names across, the narrow one leaves them to [`turned_labels`] (ten names side by side
/// overlap at 440 px).
pub fn category_area(wide: u32) -> u32 {
    if narrow() { 170 } else { wide }
}

/// The narrow variant's category labels: each name turned a quarter and written down from the
/// axis under its bar. (plotters centres a turned axis label on its tick, which hides half of
/// it behind the plot.) `root` must be the whole canvas the chart was built on.
pub fn turned_labels<DB: DrawingBackend, Y: Ranged>(
    root: &Area<DB>,
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    labels: &[String],
    y: Y::ValueType,
) -> DrawResult
where
    DB::ErrorType: 'static,
    Y::ValueType: Clone,
{
    if !narrow() {
        return Ok(());
    }
    let style = TextStyle::from(
        ("sans-serif", 11)
            .into_font()
            .transform(FontTransform::Rotate90),
    )
    .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, label) in labels.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, y.clone()));
        root.draw(&Text::new(label.clone(), (px, py + 6), style.clone()))?;
    }
    Ok(())
}

/// A chart builder on `area` captioned with `title` at `font` px; the narrow variant has no
/// caption.
pub fn titled<'a, 'b, DB: DrawingBackend>(
    area: &'a Area<DB>,
    title: &str,
    font: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    if !narrow() {
        builder.caption(title, ("sans-serif", font));
    }
    builder
}

/// `root` under `title` at 22 px, or the whole of `root` for the narrow variant.
pub fn title_area<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
) -> std::result::Result<Area<DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    if narrow() {
        Ok(root.margin(0, 0, 0, 0))
    } else {
        Ok(root.titled(title, ("sans-serif", 22).into_font())?)
    }
}

/// Records the value drawn at data point `at` of `chart`: `series` (a line, a bar group; may be
/// empty), `label` (the period, segment or bucket) and the value as a person reads it.
pub fn tip<DB: DrawingBackend, X: Ranged, Y: Ranged>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    at: (X::ValueType, Y::ValueType),
    series: &str,
    label: &str,
    value: String,
) {
    let at = chart.backend_coord(&at);
    TIPS.with(|t| {
        t.borrow_mut().push(Tip {
            at,
            value: [series.to_string(), label.to_string(), value],
        })
    });
}

/// A number for a tooltip or a data table: [`axis_number`]'s reading, with `unit` after it.
pub fn value_text(v: f64, unit: &str) -> String {
    format!("{}{unit}", axis_number(v))
}

/// The SVG `<g>` of invisible circles, one per recorded value, whose `<title>` the browser
/// shows on hover and a screen reader reads.
fn tips_svg(tips: &[Tip]) -> String {
    let mut g = String::from("<g class=\"values\">\n");
    for t in tips {
        let [series, label, value] = &t.value;
        let text = if series.is_empty() {
            format!("{label}: {value}")
        } else {
            format!("{series}, {label}: {value}")
        };
        g.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"7\" fill=\"transparent\" pointer-events=\"all\"><title>{}</title></circle>\n",
            t.at.0,
            t.at.1,
            crate::output::escape_markup(&text)
        ));
    }
    g.push_str("</g>\n");
    g
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
        let (width, height) = size();
        let root = title_area(root, &spec.title())?;
        root.draw(&Text::new(
            "No data for this chart as of this date.",
            ((width as i32 / 2 - 200).max(10), height as i32 / 2 - 40),
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
    let (svg, tips) = svg_of(spec, false).map_err(err)?;
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
        draw_any(&root, spec).map_err(err)?;
    }
    TIPS.with(|t| t.borrow_mut().clear());
    let (narrow_svg, _) = svg_of(spec, true).map_err(err)?;
    let path = dir.join(format!("{name}.svg"));
    std::fs::write(&path, &svg).map_err(|e| Error::io(&path, e))?;
    Ok(Chart {
        name: name.into(),
        title: spec.title(),
        svg,
        narrow_svg,
        values: tips.into_iter().map(|t| t.value).collect(),
    })
}

/// `spec` drawn as SVG, wide or narrow, with its recorded values as tooltips at their marks;
/// and those values.
fn svg_of(
    spec: &impl Spec,
    narrow: bool,
) -> std::result::Result<(String, Vec<Tip>), Box<dyn std::error::Error>> {
    let mut svg = String::new();
    TIPS.with(|t| t.borrow_mut().clear());
    DRAWING_NARROW.with(|n| n.set(narrow));
    let drawn = {
        let size = if narrow { NARROW } else { (WIDTH, HEIGHT) };
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_any(&root, spec)
    };
    DRAWING_NARROW.with(|n| n.set(false));
    drawn?;
    let tips = TIPS.with(|t| std::mem::take(&mut *t.borrow_mut()));
    if let Some(end) = svg.rfind("</svg>") {
        svg.insert_str(end, &tips_svg(&tips));
    }
    Ok((svg, tips))
}

/// An axis number as a person reads it: thousands separators, no trailing `.0`, and decimals
/// only where the step between ticks needs them (`120,000`, `2.5`, `0.25`).
pub fn axis_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    // + 0.0: a value that rounds to zero from below is 0, not "-0".
    let rounded = (v * 100.0).round() / 100.0 + 0.0;
    let decimals = if rounded.fract() == 0.0 {
        0
    } else if (rounded * 10.0).fract().abs() < 1e-9 {
        1
    } else {
        2
    };
    let text = format!("{:.*}", decimals, rounded.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = crate::output::group_thousands(whole);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if rounded < 0.0 {
        format!("-{out}")
    } else {
        out
    }
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
    labels: &[String],
    unit: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
        .collect();
    for &(x, y) in &points {
        let label = labels.get(x as usize).cloned().unwrap_or_default();
        tip(chart, (x, y), name, &label, value_text(y, unit));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_read_as_people_write_them() {
        for (v, text) in [
            (120000.0, "120,000"),
            (700.0, "700"),
            (-1234567.0, "-1,234,567"),
            (2.5, "2.5"),
            (0.25, "0.25"),
            (0.0, "0"),
            (999.999, "1,000"),
            (-0.004, "0"),
        ] {
            assert_eq!(axis_number(v), text, "{v}");
        }
    }

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
