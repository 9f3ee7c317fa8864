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
use crate::error::{Error, Result};
use crate::report::html;

/// Writes the charts and `report.html` into `dir`; returns the report's path.
pub async fn write(a: &mut Analyses<'_>, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let sections = vec![
        retention::section(a, dir).await?,
        segments::section(a, dir).await?,
        value::section(a, dir).await?,
        service::section(a, dir).await?,
        quality::section(a).await?,
    ];
    let kpis = kpis::headline(a).await?;
    let page = html::page(
        "Customer report",
        &format!(
            "As of {} (events before this day), periods in {}s, time zone {}",
            a.engine.as_of,
            a.config.retention.period.name(),
            a.engine.timezone
        ),
        &kpis,
        &sections,
    );
    let path = dir.join("report.html");
    std::fs::write(&path, page).map_err(|e| Error::io(&path, e))?;
    Ok(path)
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

/// The rows of a small table: the values of `keys`, as text.
fn table_rows(rows: &[Value], keys: &[&str]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| keys.iter().map(|k| s(r, k)).collect())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}
