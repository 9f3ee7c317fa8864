//! What moved since the period before, and the nightly alerts (`[alerts]` in the config): the
//! last complete period's net revenue, strict retention and churned customers against the
//! period before and the same period a year before, and the thresholds `crm run` checks on
//! them and on its own load's reject rate.

use serde_json::Value;

use super::Analyses;
use crate::config::Period;
use crate::error::Result;
use crate::ingest::IngestReport;
pub use crate::output::thousands;

/// A figure of the last complete period beside the period before and the same period a year
/// before (when the history reaches them).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub label: String,
    pub value: f64,
    pub previous: Option<(String, f64)>,
    pub year_before: Option<(String, f64)>,
}

/// Periods in a year: how far back "the same period a year before" is.
pub fn per_year(period: Period) -> usize {
    match period {
        Period::Day => 365,
        Period::Week => 52,
        Period::Month => 12,
        Period::Quarter => 4,
        Period::Year => 1,
    }
}

/// A [`Change`] from consecutive periods' (label, value), oldest first.
fn change_of(series: &[(String, Option<f64>)], per_year: usize) -> Option<Change> {
    let last = series.len().checked_sub(1)?;
    let (label, value) = (&series[last].0, series[last].1?);
    let at = |back: usize| {
        let i = last.checked_sub(back)?;
        Some((series[i].0.clone(), series[i].1?))
    };
    Some(Change {
        label: label.clone(),
        value,
        previous: at(1),
        year_before: at(per_year),
    })
}

fn series(rows: &[Value], label: &str, value: &str) -> Vec<(String, Option<f64>)> {
    rows.iter()
        .map(|r| {
            let text = match r.get(label) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (text, r.get(value).and_then(Value::as_f64))
        })
        .collect()
}

/// Net revenue of the last complete `forecast.period`.
pub async fn revenue(a: &mut Analyses<'_>) -> Result<Option<Change>> {
    let history = super::forecast::history_of(a.table("revenue_history").await?)?;
    let s: Vec<(String, Option<f64>)> = history.into_iter().map(|(_, l, v)| (l, Some(v))).collect();
    Ok(change_of(&s, per_year(a.config.forecast.period)))
}

/// Strict retention (%) of the last complete `retention.period`.
pub async fn strict_retention(a: &mut Analyses<'_>) -> Result<Option<Change>> {
    let rows = a.json("retention_rate").await?;
    let s = series(&rows, "period", "strict_retention_rate");
    Ok(change_of(&s, per_year(a.config.retention.period)))
}

/// Customers churned in the last complete `retention.period`.
pub async fn churned(a: &mut Analyses<'_>) -> Result<Option<Change>> {
    let rows = a.json("churn").await?;
    let s = series(&rows, "period", "churned");
    Ok(change_of(&s, per_year(a.config.retention.period)))
}

/// A threshold crossed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    /// The config key: `retention_drop_points`, `revenue_change_pct`, `reject_rate_pct`,
    /// `churned_up_pct`.
    pub alert: &'static str,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
}

/// The thresholds of `[alerts]` this run crosses, in the order of the config's keys. `load` is
/// the run's own load (its reject rate).
pub async fn check(a: &mut Analyses<'_>, load: Option<&IngestReport>) -> Result<Vec<Alert>> {
    let cfg = a.config.alerts.clone();
    let mut out = Vec::new();
    if let Some(limit) = cfg.retention_drop_points
        && let Some(c) = strict_retention(a).await?
        && let Some((p0, v0)) = &c.previous
        && v0 - c.value > limit
    {
        out.push(Alert {
            alert: "retention_drop_points",
            message: format!(
                "strict retention fell {:.1} points in {} ({:.1}% against {:.1}% in {p0}); the limit is {limit} points",
                v0 - c.value,
                c.label,
                c.value,
                v0
            ),
            value: v0 - c.value,
            threshold: limit,
        });
    }
    if let Some(limit) = cfg.revenue_change_pct
        && let Some(c) = revenue(a).await?
        && let Some((p0, v0)) = &c.previous
        && *v0 != 0.0
    {
        let pct = 100.0 * (c.value - v0) / v0.abs();
        if pct.abs() > limit {
            out.push(Alert {
                alert: "revenue_change_pct",
                message: format!(
                    "net revenue {} {:.1}% in {} ({} against {} in {p0}); the limit is {limit}%",
                    if pct < 0.0 { "fell" } else { "rose" },
                    pct.abs(),
                    c.label,
                    thousands(c.value),
                    thousands(*v0)
                ),
                value: pct,
                threshold: limit,
            });
        }
    }
    if let (Some(limit), Some(load)) = (cfg.reject_rate_pct, load) {
        let (read, rejected) = load
            .files
            .iter()
            .filter(|f| !f.skipped)
            .fold((0u64, 0u64), |(r, j), f| (r + f.read, j + f.rejected));
        if read > 0 {
            let pct = 100.0 * rejected as f64 / read as f64;
            if pct > limit {
                out.push(Alert {
                    alert: "reject_rate_pct",
                    message: format!(
                        "this run's load rejected {rejected} of {read} records ({pct:.2}%); the limit is {limit}% (crm query rejects)"
                    ),
                    value: pct,
                    threshold: limit,
                });
            }
        }
    }
    if let Some(limit) = cfg.churned_up_pct
        && let Some(c) = churned(a).await?
        && let Some((p0, v0)) = &c.previous
        && *v0 > 0.0
    {
        let pct = 100.0 * (c.value - v0) / v0;
        if pct > limit {
            out.push(Alert {
                alert: "churned_up_pct",
                message: format!(
                    "{} customers churned in {}, {:.1}% more than the {} of {p0}; the limit is {limit}%",
                    thousands(c.value),
                    c.label,
                    pct,
                    thousands(*v0)
                ),
                value: pct,
                threshold: limit,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reaches_back_one_period_and_one_year() {
        let s: Vec<(String, Option<f64>)> =
            (0..14).map(|i| (format!("p{i}"), Some(i as f64))).collect();
        let c = change_of(&s, 12).unwrap();
        assert_eq!(c.label, "p13");
        assert_eq!(c.previous, Some(("p12".into(), 12.0)));
        assert_eq!(c.year_before, Some(("p1".into(), 1.0)));
        assert_eq!(change_of(&s[..5], 12).unwrap().year_before, None);
        // A period whose value is empty (no customers at the start) has no change.
        let mut gap = s.clone();
        gap[12].1 = None;
        assert_eq!(change_of(&gap, 12).unwrap().previous, None);
        assert!(change_of(&[], 12).is_none());
        assert_eq!(thousands(-1234567.4), "-1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-0.2), "0");
    }
}
