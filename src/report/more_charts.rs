//! Charts of segments, clusters, interactions and service. Same conventions as `charts.rs`.

use plotters::prelude::*;

use super::charts::{
    Area, DrawResult, PALETTE, PERIOD_TICKS, Spec, bar, dotted_line, label_at, legend, range_of,
};

fn whole(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round())
    } else {
        String::new()
    }
}

/// The R x F grid (METRICS.md "Named RFM segments"): each cell coloured by its segment, with the
/// number of customers in it.
pub struct RfGrid {
    pub as_of: String,
    /// counts[r - 1][f - 1] and segment names per cell, on the 5-bin grid.
    pub counts: [[u64; 5]; 5],
    pub segments: [[String; 5]; 5],
}

impl Spec for RfGrid {
    fn title(&self) -> String {
        format!(
            "Customers per recency and frequency score, by segment (as of {})",
            self.as_of
        )
    }
    fn is_empty(&self) -> bool {
        self.counts.iter().flatten().all(|c| *c == 0)
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (main, key) = root.split_horizontally(700);
        let mut chart = ChartBuilder::on(&main)
            .caption(self.title(), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0.5..5.5, 0.5..5.5)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|x: &f64| whole(*x))
            .y_label_formatter(&|y: &f64| whole(*y))
            .x_desc("F score (5 = most orders)")
            .y_desc("R score (5 = most recent)")
            .label_style(("sans-serif", 13))
            .draw()?;
        let mut names: Vec<String> = self.segments.iter().flatten().cloned().collect();
        names.sort();
        names.dedup();
        let color =
            |name: &str| PALETTE[names.iter().position(|n| n == name).unwrap_or(0) % PALETTE.len()];
        for r in 0..5 {
            for f in 0..5 {
                let (x, y) = (f as f64 + 1.0, r as f64 + 1.0);
                let c = color(&self.segments[r][f]);
                chart.draw_series([Rectangle::new(
                    [(x - 0.48, y - 0.48), (x + 0.48, y + 0.48)],
                    c.mix(0.75).filled(),
                )])?;
                chart.draw_series([Text::new(
                    format!("{}", self.counts[r][f]),
                    (x - 0.12, y + 0.1),
                    ("sans-serif", 16).into_font(),
                )])?;
            }
        }
        for (i, name) in names.iter().enumerate() {
            let y = 60 + i as i32 * 26;
            key.draw(&Rectangle::new(
                [(10, y), (26, y + 16)],
                color(name).mix(0.75).filled(),
            ))?;
            key.draw(&Text::new(
                name.clone(),
                (32, y + 1),
                ("sans-serif", 14).into_font(),
            ))?;
        }
        Ok(())
    }
}

/// k-means clusters: recency against monetary value (log scale), one colour per cluster.
pub struct Clusters {
    pub as_of: String,
    /// (recency days, monetary, cluster 1..k).
    pub points: Vec<(f64, f64, usize)>,
    pub labels: Vec<String>,
}

impl Spec for Clusters {
    fn title(&self) -> String {
        format!(
            "Behavioural clusters (k-means): recency against spend (as of {})",
            self.as_of
        )
    }
    fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let max_r = self.points.iter().map(|p| p.0).fold(1.0, f64::max);
        let max_m = self.points.iter().map(|p| p.1).fold(10.0, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..max_r * 1.05, (1.0..max_m * 1.5).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("recency (days since the last purchase)")
            .y_desc("net revenue (log scale)")
            .label_style(("sans-serif", 12))
            .draw()?;
        for (k, label) in self.labels.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            chart
                .draw_series(
                    self.points
                        .iter()
                        .filter(|p| p.2 == k + 1)
                        .map(|p| Circle::new((p.0, p.1.max(1.0)), 2, color.mix(0.6).filled())),
                )?
                .label(format!("{}: {label}", k + 1))
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
        }
        legend(&mut chart)?;
        Ok(())
    }
}

/// Interactions per channel per period, stacked.
pub struct ChannelMix {
    pub as_of: String,
    pub period: String,
    pub labels: Vec<String>,
    /// (channel, interactions per period).
    pub series: Vec<(String, Vec<f64>)>,
}

impl Spec for ChannelMix {
    fn title(&self) -> String {
        format!(
            "Interactions per channel per {} (as of {})",
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
        let totals: Vec<f64> = (0..n)
            .map(|i| self.series.iter().map(|s| s.1[i]).sum())
            .collect();
        let (_, hi) = range_of(totals.iter().copied(), true);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..hi)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(PERIOD_TICKS)
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_desc("interactions")
            .label_style(("sans-serif", 12))
            .draw()?;
        let mut base = vec![0.0; n];
        for (k, (name, values)) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let rects: Vec<_> = (0..n)
                .map(|i| bar(i as f64, base[i], base[i] + values[i], 0.7, color))
                .collect();
            for i in 0..n {
                base[i] += values[i];
            }
            chart
                .draw_series(rects)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        legend(&mut chart)?;
        Ok(())
    }
}

/// NPS (-100..100) and CSAT share satisfied (%) per period.
pub struct Satisfaction {
    pub as_of: String,
    pub period: String,
    pub labels: Vec<String>,
    pub nps: Vec<Option<f64>>,
    pub csat_satisfied: Vec<Option<f64>>,
}

impl Spec for Satisfaction {
    fn title(&self) -> String {
        format!("NPS and CSAT per {} (as of {})", self.period, self.as_of)
    }
    fn is_empty(&self) -> bool {
        self.nps
            .iter()
            .chain(&self.csat_satisfied)
            .all(Option::is_none)
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.labels.len();
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, -100.0..100.0)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(PERIOD_TICKS)
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_desc("NPS (-100..100) / CSAT satisfied (%)")
            .label_style(("sans-serif", 12))
            .draw()?;
        for (values, name, color) in [
            (&self.nps, "NPS: % promoters - % detractors", PALETTE[0]),
            (&self.csat_satisfied, "CSAT: % scoring 4 or 5", PALETTE[2]),
        ] {
            dotted_line(&mut chart, values, name, color)?;
        }
        legend(&mut chart)?;
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
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..(ages - 1) as f64, 0.0..105.0)?;
        chart
            .configure_mesh()
            .x_desc(format!("age ({}s)", self.period))
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
        legend(&mut chart)?;
        Ok(())
    }
}

/// A histogram of positive values, in `bins` equal-width bins up to the 99th percentile (the
/// last bin holds everything above).
pub struct Histogram {
    pub title: String,
    pub x_desc: String,
    pub values: Vec<f64>,
    pub bins: usize,
}

impl Spec for Histogram {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut sorted = self.values.clone();
        sorted.sort_by(f64::total_cmp);
        let lo = sorted[0].min(0.0);
        let hi = sorted[((sorted.len() - 1) as f64 * 0.99) as usize].max(lo + 1e-9);
        let width = (hi - lo) / self.bins as f64;
        let mut counts = vec![0u64; self.bins];
        for v in &sorted {
            let i = (((v - lo) / width) as usize).min(self.bins - 1);
            counts[i] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, 0.0..top * 1.1)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc("customers")
            .label_style(("sans-serif", 12))
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(i, c)| {
            let x0 = lo + i as f64 * width;
            Rectangle::new(
                [(x0, 0.0), (x0 + width * 0.95, *c as f64)],
                PALETTE[0].filled(),
            )
        }))?;
        Ok(())
    }
}

/// Bars of one value per category (a model, a campaign), with its unit.
pub struct Bars {
    pub title: String,
    pub y_desc: String,
    pub labels: Vec<String>,
    pub values: Vec<f64>,
    /// Categories to draw in the highlight colour (the recommended model).
    pub highlight: Vec<bool>,
}

impl Spec for Bars {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.labels.len();
        let (lo, hi) = range_of(self.values.iter().copied(), true);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo..hi)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(n.min(30))
            .x_label_formatter(&|x| label_at(&labels, x))
            .y_desc(self.y_desc.as_str())
            .label_style(("sans-serif", 12))
            .draw()?;
        chart.draw_series(self.values.iter().enumerate().map(|(i, v)| {
            let color = if self.highlight.get(i).copied().unwrap_or(false) {
                PALETTE[1]
            } else {
                PALETTE[0]
            };
            bar(i as f64, 0.0, *v, 0.6, color)
        }))?;
        Ok(())
    }
}
