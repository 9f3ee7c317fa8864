//! The data-quality checks after a load (METRICS.md "Data quality"): `<warehouse>/quality.csv`
//! and the lines worth a reader's attention.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::cli::OutputFormat;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::Result;

/// After a load that changed the warehouse: write `<warehouse>/quality.csv` and return the
/// lines worth a reader's attention (DATA-CONTRACT.md: orphans are kept and flagged).
pub async fn after_ingest(config: &Config) -> Result<String> {
    let engine = Engine::open(config, None).await?;
    let rows = engine.read("data_quality", vec![]).await?;
    summarise(&engine.warehouse.dir, &rows.batches, &rows.schema)
}

/// Writes the checks (the rows of `queries/outputs/data_quality.sql`) to
/// `<warehouse>/quality.csv` and returns the lines worth a reader's attention. `crm run` passes
/// the table it computes for its report, so a nightly run checks the data once.
pub fn summarise(
    warehouse_dir: &std::path::Path,
    batches: &[RecordBatch],
    schema: &SchemaRef,
) -> Result<String> {
    let path = warehouse_dir.join("quality.csv");
    crate::output::write(batches, schema, OutputFormat::Csv, Some(&path))?;
    let rows = crate::output::to_json(batches, schema)?;
    let mut lines = String::new();
    for r in rows.as_array().into_iter().flatten() {
        let check = r["check_name"].as_str().unwrap_or("");
        let value = r["value"].as_f64().unwrap_or(0.0);
        if value > 0.0
            && [
                "orphan_rows",
                "future_dated",
                "malformed_emails",
                "amount_outliers",
                "duplicate_ids",
            ]
            .contains(&check)
        {
            lines.push_str(&format!(
                "data quality: {} {} {check}{}\n",
                r["table_name"].as_str().unwrap_or(""),
                value,
                r["detail"]
                    .as_str()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
    }
    lines.push_str(&format!(
        "data-quality report: {} (crm quality)\n",
        path.display()
    ));
    Ok(lines)
}
