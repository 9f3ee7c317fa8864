//! The report's retention section: the seed rate, the cohort heatmap and curves, growth
//! accounting.

use std::path::Path;

use super::{Analyses, col, f, s, texts};
use crate::error::Result;
use crate::report::charts::{self, render};
use crate::report::html::Section;

pub(super) async fn section(a: &mut Analyses<'_>, dir: &Path) -> Result<Section> {
    let (as_of, period) = (a.engine.as_of.to_string(), a.config.retention.period.name());
    let rr = a.json("retention_rate").await?;
    let retention = charts::RetentionRate {
        as_of: as_of.clone(),
        period: period.into(),
        labels: texts(&rr, "period"),
        rate: rr.iter().map(|r| f(r, "retention_rate")).collect(),
        strict: rr.iter().map(|r| f(r, "strict_retention_rate")).collect(),
        retained: col(&rr, "retained"),
        reactivated: col(&rr, "reactivated"),
    };
    let ga = a.json("growth_accounting").await?;
    let growth = charts::GrowthAccounting {
        as_of: as_of.clone(),
        period: period.into(),
        labels: texts(&ga, "period"),
        new: col(&ga, "new"),
        returning: col(&ga, "returning"),
        resurrecting: col(&ga, "resurrecting"),
        dormant: col(&ga, "dormant"),
    };
    let heat = heatmap(a, &as_of, period).await?;
    let mean = a.json("retention_cohort_mean").await?;
    let curves = charts::RetentionCurves {
        as_of: as_of.clone(),
        period: period.into(),
        cohorts: heat
            .cohorts
            .iter()
            .cloned()
            .zip(heat.cells.iter().cloned())
            .collect(),
        mean: mean.iter().filter_map(|r| f(r, "retention")).collect(),
    };
    Ok(Section {
        title: "Retention".into(),
        intro: "A customer is active in a period when they bought in it. The seed rate (E - N) / S counts customers who come back after a gap; strict retention counts only those active in both periods.".into(),
        charts: vec![
            (render(dir, "retention_rate", &retention)?, "Retention Rate = (E - N) / S * 100: S active in the period before, E active in the period, N first purchase in the period. Empty where S = 0.".into()),
            (render(dir, "cohort_heatmap", &heat)?, "Cell (c, k): customers of cohort c (period of first purchase) with a purchase k periods later, as a share of the cohort. Cells not reached yet are empty.".into()),
            (render(dir, "retention_curves", &curves)?, "Each grey line is a cohort; the red line is their mean at each age, weighted by cohort size, over the cohorts that reached that age.".into()),
            (render(dir, "growth_accounting", &growth)?, "New: first purchase in the period; returning: bought in this period and the one before; resurrecting: bought after a gap; dormant: bought in the period before, not in this one.".into()),
        ],
        tables: vec![],
    })
}

/// The cohort matrix: a row per cohort, a cell per age.
async fn heatmap(a: &mut Analyses<'_>, as_of: &str, period: &str) -> Result<charts::CohortHeatmap> {
    let cells = a.json("retention_cohorts_on").await?;
    let mut heat = charts::CohortHeatmap {
        as_of: as_of.into(),
        period: period.into(),
        cohorts: vec![],
        cells: vec![],
    };
    for c in &cells {
        let cohort = s(c, "cohort");
        if heat.cohorts.last() != Some(&cohort) {
            heat.cohorts.push(cohort);
            heat.cells.push(vec![]);
        }
        heat.cells
            .last_mut()
            .expect("pushed")
            .push(f(c, "retention"));
    }
    Ok(heat)
}
