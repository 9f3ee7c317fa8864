//! Value charts: the sales forecast and the CLV holdout check. Conventions in `mod.rs`.

use plotters::prelude::*;

use super::{
    Area, DrawResult, PALETTE, Spec, dotted_line, label_at, legend, period_ticks, range_of, tip,
    titled, value_text,
};

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
        let mut chart = titled(root, &self.title(), 22)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo..hi)?;
        let labels = self.labels.clone();
        chart
            .configure_mesh()
            .x_labels(period_ticks())
            .x_label_formatter(&|x| label_at(&labels, x))
            .x_desc(self.period.as_str())
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc("net revenue")
            .label_style(("sans-serif", 12))
            .draw()?;
        let at = |h: usize| (start + h) as f64;
        // The band and the forecast line start at the last actual: no gap before them.
        let last_actual = self
            .actual
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, v)| v.map(|v| (i as f64, v)));
        for (lo_i, hi_i, alpha, name) in [(3, 4, 0.15, "95% interval"), (1, 2, 0.3, "80% interval")]
        {
            let pick = |f: &(f64, f64, f64, f64, f64), i: usize| [f.0, f.1, f.2, f.3, f.4][i];
            let mut poly: Vec<(f64, f64)> = last_actual.into_iter().collect();
            poly.extend(
                self.forecast
                    .iter()
                    .enumerate()
                    .map(|(h, f)| (at(h), pick(f, hi_i))),
            );
            poly.extend(
                self.forecast
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(h, f)| (at(h), pick(f, lo_i))),
            );
            if !self.forecast.is_empty() {
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
        let fc: Vec<(f64, f64)> = last_actual
            .into_iter()
            .chain(self.forecast.iter().enumerate().map(|(h, f)| (at(h), f.0)))
            .collect();
        for (i, v) in self.actual.iter().enumerate() {
            if let Some(v) = v {
                tip(
                    &chart,
                    (i as f64, *v),
                    "net revenue",
                    &self.labels[i],
                    value_text(*v, ""),
                );
            }
        }
        for (h, f) in self.forecast.iter().enumerate() {
            let label = self.labels.get(start + h).cloned().unwrap_or_default();
            let text = format!(
                "{} (80%: {} to {}; 95%: {} to {})",
                super::axis_number(f.0),
                super::axis_number(f.1),
                super::axis_number(f.2),
                super::axis_number(f.3),
                super::axis_number(f.4)
            );
            tip(&chart, (at(h), f.0), "forecast", &label, text);
        }
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
    /// One series per model drawn: its name (`BG/NBD`, `Pareto/NBD`) and means.
    pub predicted: Vec<(String, Vec<f64>)>,
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
        let (_, hi) = range_of(
            self.actual
                .iter()
                .chain(self.predicted.iter().flat_map(|(_, v)| v))
                .copied(),
            true,
        );
        let mut chart = titled(root, &self.title(), 20)
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
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc("mean repeat purchases in the holdout")
            .label_style(("sans-serif", 12))
            .draw()?;
        let mut series = vec![(self.actual.clone(), "actual".to_string())];
        for (model, values) in &self.predicted {
            series.push((values.clone(), format!("{model} prediction")));
        }
        for (i, (values, name)) in series.iter().enumerate() {
            let values: Vec<Option<f64>> = values.iter().map(|v| Some(*v)).collect();
            dotted_line(
                &mut chart,
                &values,
                name,
                PALETTE[i % PALETTE.len()],
                &self.labels,
                "",
            )?;
        }
        legend(&mut chart)?;
        Ok(())
    }
}
