//! Retention charts: the retention rate, growth accounting, the cohort heatmap and curves. Conventions in `mod.rs`.

use plotters::prelude::*;

use super::{
    Area, DrawResult, PALETTE, Spec, bar, dotted_line, label_at, legend, narrow, period_ticks,
    range_of, size, tip, title_area, titled, value_text,
};

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
        let root = title_area(root, &self.title())?;
        let (top, bottom) = root.split_vertically(size().1 / 2);
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
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc("rate (%)")
            .label_style(("sans-serif", 13))
            .draw()?;
        for (values, name, color) in [
            (&self.rate, "seed rate (E - N) / S", PALETTE[0]),
            (&self.strict, "strict retention: retained / S", PALETTE[1]),
        ] {
            dotted_line(&mut chart, values, name, color, &self.labels, "%")?;
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
            .x_labels(period_ticks())
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_label_formatter(&|v| super::axis_number(*v))
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
        for (i, (r, a)) in self.retained.iter().zip(&self.reactivated).enumerate() {
            let label = &self.labels[i];
            tip(&bars, (i as f64, *r), "retained", label, value_text(*r, ""));
            tip(
                &bars,
                (i as f64, r + a),
                "reactivated",
                label,
                value_text(*a, ""),
            );
        }
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
        let mut chart = titled(root, &self.title(), 22)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, -bottom * 1.1..top * 1.15)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(period_ticks())
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_label_formatter(&|v| super::axis_number(*v))
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
                tip(
                    &chart,
                    (i as f64, base[i]),
                    name,
                    &self.labels[i],
                    value_text(values[i], ""),
                );
            }
            chart.draw_series(rects)?.label(name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
            });
        }
        chart
            .draw_series((0..n).map(|i| bar(i as f64, -self.dormant[i], 0.0, 0.7, PALETTE[3])))?
            .label("dormant")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], PALETTE[3].filled()));
        for i in 0..n {
            let v = self.dormant[i];
            tip(
                &chart,
                (i as f64, -v),
                "dormant",
                &self.labels[i],
                value_text(v, ""),
            );
        }
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
        let (main, scale) = root.split_horizontally(size().0 - 90);
        let rows = self.cohorts.len();
        let ages = self.cells.iter().map(Vec::len).max().unwrap_or(1);
        let mut chart = titled(&main, &self.title(), 20)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..ages as f64 - 0.5, rows as f64 - 0.5..-0.5)?;
        let cohorts = self.cohorts.clone();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(ages.min(if narrow() { 12 } else { 30 }))
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
                // A hair wider than the cell, for the same reason as the scale's steps.
                chart.draw_series([Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.51, y + 0.51)],
                    heat(*v).filled(),
                )])?;
                tip(
                    &chart,
                    (x, y),
                    &self.cohorts[r],
                    &format!("age {k}"),
                    value_text(v * 100.0, "%"),
                );
                if narrow() {
                    // Cells some 10 px wide: the colour and the values table say it.
                    continue;
                }
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
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc("% retained")
            .label_style(("sans-serif", 11))
            .draw()?;
        // Each step overlaps the next by one: adjacent shapes drawn edge to edge leave
        // anti-aliased hairlines between them (the stripes a browser showed).
        bar.draw_series((0..100).map(|p| {
            Rectangle::new(
                [(0.0, p as f64), (1.0, (p as f64 + 2.0).min(100.0))],
                heat(p as f64 / 100.0).filled(),
            )
        }))?;
        Ok(())
    }
}

/// Retention curves: each cohort's share still buying k periods after its first purchase, with
/// the size-weighted mean in bold.
pub struct RetentionCurves {
    pub as_of: String,
    pub period: String,
    /// (cohort, retention by age).
    pub cohorts: Vec<(String, Vec<Option<f64>>)>,
    pub mean: Vec<f64>,
}

impl Spec for RetentionCurves {
    fn title(&self) -> String {
        format!(
            "Retention curves by cohort, {}s since the first purchase (as of {})",
            self.period, self.as_of
        )
    }
    fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let ages = self.mean.len().max(2);
        let mut chart = titled(root, &self.title(), 20)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..(ages - 1) as f64, 0.0..105.0)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| super::axis_number(*v))
            .x_desc(format!("age ({}s)", self.period))
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc("customers buying again (% of cohort)")
            .label_style(("sans-serif", 12))
            .draw()?;
        for (_, curve) in &self.cohorts {
            let pts: Vec<(f64, f64)> = curve
                .iter()
                .enumerate()
                .filter_map(|(k, v)| v.map(|v| (k as f64, 100.0 * v)))
                .collect();
            chart.draw_series(LineSeries::new(pts, PALETTE[7].mix(0.35)))?;
        }
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("one cohort")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[7].mix(0.5)));
        let mean: Vec<(f64, f64)> = self
            .mean
            .iter()
            .enumerate()
            .map(|(k, v)| (k as f64, 100.0 * v))
            .collect();
        chart
            .draw_series(LineSeries::new(mean, PALETTE[3].stroke_width(3)))?
            .label("weighted mean of the cohorts")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[3].stroke_width(3))
            });
        // The cohorts' own values are the heatmap's; the mean's are here.
        for (k, v) in self.mean.iter().enumerate() {
            let label = format!("age {k}");
            tip(
                &chart,
                (k as f64, 100.0 * v),
                "weighted mean",
                &label,
                value_text(100.0 * v, "%"),
            );
        }
        legend(&mut chart)?;
        Ok(())
    }
}
