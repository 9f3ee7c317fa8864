//! `crm quality`: the data-quality report of METRICS.md "Data quality", per table.

use crate::cli::QualityArgs;
use crate::engine::Engine;
use crate::error::Result;

pub const QUALITY_SQL: &str = "select table_name, check_name, column_name, value, detail from data_quality \
     order by table_name, check_name, column_name, detail";

pub fn run(args: QualityArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        super::print_sql(&engine, "data_quality", QUALITY_SQL, &args.output).await
    })
}

/// After a load that changed the warehouse: write `<warehouse>/quality.csv` and return the
/// lines worth a reader's attention (DATA-CONTRACT.md: orphans are kept and flagged).
pub fn after_ingest(config: &crate::config::Config) -> Result<String> {
    super::runtime()?.block_on(async {
        let engine = Engine::open(config, None).await?;
        let df = engine.user_sql("data_quality", QUALITY_SQL).await?;
        let schema = df.schema().inner().clone();
        let batches = engine.collect("data_quality", df).await?;
        summarise(&engine.warehouse.dir, &batches, &schema)
    })
}

/// Writes the checks (the rows of `QUALITY_SQL`) to `<warehouse>/quality.csv` and returns the
/// lines worth a reader's attention. `crm run` passes the table it computes for its report, so
/// a nightly run checks the data once.
pub fn summarise(
    warehouse_dir: &std::path::Path,
    batches: &[datafusion::arrow::record_batch::RecordBatch],
    schema: &datafusion::arrow::datatypes::SchemaRef,
) -> Result<String> {
    let path = warehouse_dir.join("quality.csv");
    crate::output::write(batches, schema, crate::cli::OutputFormat::Csv, Some(&path))?;
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
