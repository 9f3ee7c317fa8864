//! Interaction and service charts: the channel mix and satisfaction. Conventions in `mod.rs`.

use plotters::prelude::*;

use super::{
    Area, DrawResult, PALETTE, Spec, bar, dotted_line, label_at, legend, period_ticks, range_of,
    tip, titled, value_text,
};

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
        let mut chart = titled(root, &self.title(), 20)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..hi)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(period_ticks())
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_label_formatter(&|v| super::axis_number(*v))
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
                tip(
                    &chart,
                    (i as f64, base[i]),
                    name,
                    &self.labels[i],
                    value_text(values[i], ""),
                );
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
        let mut chart = titled(root, &self.title(), 20)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, -100.0..100.0)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(period_ticks())
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc("NPS (-100..100) / CSAT satisfied (%)")
            .label_style(("sans-serif", 12))
            .draw()?;
        for (values, name, color) in [
            (&self.nps, "NPS: % promoters - % detractors", PALETTE[0]),
            (&self.csat_satisfied, "CSAT: % scoring 4 or 5", PALETTE[2]),
        ] {
            dotted_line(&mut chart, values, name, color, &self.labels, "")?;
        }
        legend(&mut chart)?;
        Ok(())
    }
}
