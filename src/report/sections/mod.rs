//! `report.html` and its charts from a run's analyses: each section in a file of its own
//! (retention, segments, value and forecast, interactions and service, data quality) that takes
//! its tables and fitted models from [`Analyses`], which computed them once for the whole run.

mod kpis;
mod quality;
mod retention;
mod segments;
mod service;
mod value;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::analyses::Analyses;
use crate::analyses::alerts::Alert;
use crate::error::{Error, Result};
use crate::report::html;

/// Writes the charts and `report.html` into `dir`; returns the report's path. `alerts` are the
/// thresholds the run crossed, listed first.
pub async fn write(a: &mut Analyses<'_>, dir: &Path, alerts: &[Alert]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let sections = vec![
        retention::section(a, dir).await?,
        segments::section(a, dir).await?,
        value::section(a, dir).await?,
        service::section(a, dir).await?,
        quality::section(a).await?,
    ];
    let kpis = kpis::headline(a).await?;
    let movements = movements(a).await?;
    let alert_lines: Vec<String> = alerts.iter().map(|x| x.message.clone()).collect();
    let page = html::page(
        "Customer report",
        &format!(
            "As of {} (events before this day), periods in {}s, time zone {}",
            a.engine.as_of,
            a.config.retention.period.name(),
            a.engine.timezone
        ),
        &html::Opening {
            alerts: &alert_lines,
            alerts_checked: a.config.alerts.any(),
            movements: &movements,
        },
        &kpis,
        &sections,
    );
    let path = dir.join("report.html");
    std::fs::write(&path, page).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// What moved, in plain words, each with the chart that shows it: the largest segment
/// movement, strict retention and net revenue against the period before and a year before.
async fn movements(a: &mut Analyses<'_>) -> Result<Vec<(String, String)>> {
    use crate::analyses::alerts::{self, thousands};
    let mut out = Vec::new();
    if let Ok(m) = a.migration().await
        && let Some((from, to, n, revenue)) = crate::analyses::migration::largest_movements(m, 1)
            .into_iter()
            .next()
    {
        out.push((
            format!(
                "{} {from} customers became {to} since {} (they carry {} of net revenue).",
                thousands(n as f64),
                m.previous_as_of,
                thousands(revenue)
            ),
            "chart-segment_migration".into(),
        ));
    }
    let against = |c: &alerts::Change, points: bool| {
        let diff = |v0: f64| {
            if points {
                format!("{:+.1} points", c.value - v0)
            } else if v0 != 0.0 {
                format!("{:+.1}%", 100.0 * (c.value - v0) / v0.abs())
            } else {
                "new".into()
            }
        };
        let mut parts = Vec::new();
        if let Some((p0, v0)) = &c.previous {
            parts.push(format!("{} against {p0}", diff(*v0)));
        }
        if let Some((py, vy)) = &c.year_before {
            parts.push(format!("{} against {py}, a year before", diff(*vy)));
        }
        parts.join(", ")
    };
    if let Some(c) = alerts::strict_retention(a).await? {
        out.push((
            format!(
                "Strict retention in {} was {:.1}%: {}.",
                c.label,
                c.value,
                against(&c, true)
            ),
            "chart-retention_rate".into(),
        ));
    }
    if let Some(c) = alerts::revenue(a).await? {
        out.push((
            format!(
                "Net revenue in {} was {}: {}.",
                c.label,
                thousands(c.value),
                against(&c, false)
            ),
            "chart-forecast".into(),
        ));
    }
    Ok(out)
}

/// A number of a JSON row, None when missing or null.
fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

/// A value of a JSON row as text ("" for null).
fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A column of numbers, 0 where missing.
fn col(rows: &[Value], k: &str) -> Vec<f64> {
    rows.iter().map(|r| f(r, k).unwrap_or(0.0)).collect()
}

/// A column of text.
fn texts(rows: &[Value], k: &str) -> Vec<String> {
    rows.iter().map(|r| s(r, k)).collect()
}

/// The rows of a small table: the values of `keys`, as a person reads them (numbers with
/// thousands separators and at most two decimals, no trailing `.0`).
fn table_rows(rows: &[Value], keys: &[&str]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            keys.iter()
                .map(|k| match r.get(*k) {
                    Some(Value::Number(n)) => n
                        .as_f64()
                        .map(crate::report::charts::axis_number)
                        .unwrap_or_else(|| n.to_string()),
                    _ => s(r, k),
                })
                .collect()
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}
