//! Plain charts any section draws: a histogram and labelled bars. Conventions in `mod.rs`.

use plotters::prelude::*;

use super::{
    Area, DrawResult, PALETTE, Spec, bar, category_area, label_at, narrow, range_of, tip, titled,
    turned_labels, value_text,
};

/// A histogram of positive values, in `bins` equal-width bins up to the 99th percentile (the
/// last bin holds everything above).
pub struct Histogram {
    pub title: String,
    pub x_desc: String,
    /// What a bar counts (`customers`, `tickets`): the y axis and the values' unit.
    pub counted: String,
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
        let mut chart = titled(root, &self.title, 20)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, 0.0..top * 1.1)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| super::axis_number(*v))
            .x_desc(self.x_desc.as_str())
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc(self.counted.as_str())
            .label_style(("sans-serif", 12))
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(i, c)| {
            let x0 = lo + i as f64 * width;
            Rectangle::new(
                [(x0, 0.0), (x0 + width * 0.95, *c as f64)],
                PALETTE[0].filled(),
            )
        }))?;
        for (i, c) in counts.iter().enumerate() {
            let x0 = lo + i as f64 * width;
            let last = if i + 1 == self.bins { " and above" } else { "" };
            let label = format!(
                "{} to {}{last}",
                super::axis_number(x0),
                super::axis_number(x0 + width)
            );
            tip(
                &chart,
                (x0 + width / 2.0, *c as f64),
                "",
                &label,
                value_text(*c as f64, &format!(" {}", self.counted)),
            );
        }
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
        let mut chart = titled(root, &self.title, 20)
            .margin(10)
            .x_label_area_size(category_area(60))
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo..hi)?;
        let labels = if narrow() {
            vec![]
        } else {
            self.labels.clone()
        };
        chart
            .configure_mesh()
            .x_labels(n.min(30))
            .x_label_formatter(&|x| label_at(&labels, x))
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc(self.y_desc.as_str())
            .label_style(("sans-serif", 12))
            .draw()?;
        turned_labels(root, &chart, &self.labels, lo)?;
        chart.draw_series(self.values.iter().enumerate().map(|(i, v)| {
            let color = if self.highlight.get(i).copied().unwrap_or(false) {
                PALETTE[1]
            } else {
                PALETTE[0]
            };
            bar(i as f64, 0.0, *v, 0.6, color)
        }))?;
        for (i, v) in self.values.iter().enumerate() {
            tip(
                &chart,
                (i as f64, *v),
                "",
                &self.labels[i],
                value_text(*v, ""),
            );
        }
        Ok(())
    }
}
