//! Segment charts: segment shares, the R x F grid, the k-means clusters. Conventions in `mod.rs`.

use plotters::prelude::*;

use super::{
    Area, DrawResult, PALETTE, Spec, bar, category_area, label_at, legend, narrow, size, tip,
    titled, turned_labels, value_text,
};

fn whole(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round())
    } else {
        String::new()
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
        let mut chart = titled(root, &self.title(), 22)
            .margin(10)
            .x_label_area_size(category_area(70))
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..max * 1.15)?;
        let labels = if narrow() {
            vec![]
        } else {
            self.segments.clone()
        };
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| label_at(&labels, x))
            .y_label_formatter(&|v| super::axis_number(*v))
            .y_desc("share (%)")
            .label_style(("sans-serif", 12))
            .draw()?;
        turned_labels(root, &chart, &self.segments, 0.0)?;
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
        for i in 0..n {
            let (c, r) = (self.customers_pct[i], self.revenue_pct[i]);
            let label = &self.segments[i];
            tip(
                &chart,
                (i as f64 - 0.18, c),
                "share of customers",
                label,
                value_text(c, "%"),
            );
            tip(
                &chart,
                (i as f64 + 0.18, r),
                "share of net revenue",
                label,
                value_text(r, "%"),
            );
        }
        legend(&mut chart)?;
        Ok(())
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
        let (main, key) = root.split_horizontally(size().0 * 700 / 960);
        let mut chart = titled(&main, &self.title(), 18)
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
                tip(
                    &chart,
                    (x, y),
                    &self.segments[r][f],
                    &format!("R {} F {}", r + 1, f + 1),
                    value_text(self.counts[r][f] as f64, " customers"),
                );
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
        let mut chart = titled(root, &self.title(), 20)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..max_r * 1.05, (1.0..max_m * 1.5).log_scale())?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| super::axis_number(*v))
            .x_desc("recency (days since the last purchase)")
            .y_label_formatter(&|v| super::axis_number(*v))
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
            // One value per cluster, at the centre of its drawn customers.
            let members: Vec<&(f64, f64, usize)> =
                self.points.iter().filter(|p| p.2 == k + 1).collect();
            if !members.is_empty() {
                let n = members.len() as f64;
                let r = members.iter().map(|p| p.0).sum::<f64>() / n;
                let m = members.iter().map(|p| p.1).sum::<f64>() / n;
                tip(
                    &chart,
                    (r, m.max(1.0)),
                    &format!("cluster {}", k + 1),
                    label,
                    format!(
                        "{} customers drawn, mean recency {} days, mean net revenue {}",
                        n,
                        super::axis_number(r),
                        super::axis_number(m)
                    ),
                );
            }
        }
        legend(&mut chart)?;
        Ok(())
    }
}
