//! The report's segments section: RFM segment shares, the R x F grid, the k-means clusters.

use std::path::Path;

use super::{Analyses, col, f, s, strings, table_rows, texts};
use crate::error::Result;
use crate::report::charts::{self, render};
use crate::report::html::Section;

pub(super) async fn section(a: &mut Analyses<'_>, dir: &Path) -> Result<Section> {
    let as_of = a.engine.as_of.to_string();
    let seg = a.json("rfm_segment_summary").await?;
    let segments = charts::SegmentShares {
        as_of: as_of.clone(),
        title: "RFM segments: customers and revenue".into(),
        segments: texts(&seg, "segment"),
        customers_pct: col(&seg, "share_pct"),
        revenue_pct: col(&seg, "revenue_share_pct"),
    };
    let grid = rf_grid(a, &as_of).await?;
    let clusters = clusters(a, &as_of).await;
    let (migration, moves) = migration(a).await;
    Ok(Section {
        title: "Segments".into(),
        intro: "RFM scores rank customers by recency, frequency and monetary value (1 to 5); the R and F scores place each customer in a named segment with a recommended action.".into(),
        charts: vec![
            (render(dir, "rfm_segments", &segments)?, "Share of the customers scored and share of their net revenue, per segment.".into()),
            (render(dir, "rf_grid", &grid)?, "Each cell: customers with that recency and frequency score; the colour is the segment the cell belongs to.".into()),
            (render(dir, "clusters", &clusters)?, "k-means on log recency, frequency and spend, standardised; clusters numbered by mean spend, highest first.".into()),
            (render(dir, "segment_migration", &migration)?, "Customers who changed RFM segment since one period before, the largest movements (new customers left out); the table below gives the revenue they carry.".into()),
        ],
        tables: vec![
            (
                "What to do with each segment.".into(),
                strings(&["segment", "customers", "action"]),
                table_rows(&seg, &["segment", "customers", "action"]),
            ),
            (
                "The largest segment movements since one period before: customers, and their net revenue (RFM monetary value) now.".into(),
                strings(&["from", "to", "customers", "revenue"]),
                moves,
            ),
        ],
    })
}

/// The largest RFM segment movements as bars, and as table rows.
async fn migration(a: &mut Analyses<'_>) -> (charts::Bars, Vec<Vec<String>>) {
    use crate::analyses::{alerts::thousands, migration};
    let mut chart = charts::Bars {
        title: "Largest RFM segment movements (customers)".into(),
        y_desc: "customers".into(),
        labels: vec![],
        values: vec![],
        highlight: vec![],
    };
    let Ok(m) = a.migration().await else {
        return (chart, vec![]);
    };
    let moves = migration::largest_movements(m, 6);
    chart.title = format!(
        "Largest RFM segment movements since {} (customers, as of {})",
        m.previous_as_of, m.as_of
    );
    let mut rows = Vec::new();
    for (from, to, n, revenue) in moves {
        chart.labels.push(format!("{from} \u{2192} {to}"));
        chart.values.push(n as f64);
        chart.highlight.push(false);
        rows.push(vec![from, to, thousands(n as f64), thousands(revenue)]);
    }
    (chart, rows)
}

/// Customers per R and F score and each cell's segment (drawn for 5 bins only).
async fn rf_grid(a: &mut Analyses<'_>, as_of: &str) -> Result<charts::RfGrid> {
    let rows = a.json("rf_grid").await?;
    let mut grid = charts::RfGrid {
        as_of: as_of.into(),
        counts: [[0; 5]; 5],
        segments: Default::default(),
    };
    if a.config.rfm.bins == 5 {
        for r in &rows {
            let (ri, fi) = (
                f(r, "r").unwrap_or(1.0) as usize - 1,
                f(r, "f").unwrap_or(1.0) as usize - 1,
            );
            grid.counts[ri][fi] = f(r, "n").unwrap_or(0.0) as u64;
            grid.segments[ri][fi] = s(r, "segment");
        }
    }
    Ok(grid)
}

/// The clusters of the run's k-means (none drawn when it could not be fitted: the run lists it
/// as a failed step).
async fn clusters(a: &mut Analyses<'_>, as_of: &str) -> charts::Clusters {
    let mut chart = charts::Clusters {
        as_of: as_of.into(),
        points: vec![],
        labels: vec![],
    };
    if let Ok(fit) = a.clusters().await {
        // At most 5,000 points, every n/5000-th customer, so the SVG stays light.
        let step = (fit.data.len() / 5000).max(1);
        chart.points = fit
            .data
            .iter()
            .zip(&fit.clustering.assignments)
            .step_by(step)
            .map(|(d, k)| (d.recency, d.monetary, *k))
            .collect();
        chart.labels = fit
            .clustering
            .profiles
            .iter()
            .map(|p| p.label.clone())
            .collect();
    }
    chart
}
