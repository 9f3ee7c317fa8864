//! `crm run`: the batch entry point cron calls every night. Ingest what changed, run the
//! analyses, and write `OUT/<as_of>/` with every table (Parquet and CSV) and `summary.json`.
//! The dated folder is built beside its final name and renamed into place, so a reader never
//! sees half a report.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use serde_json::json;

use crate::cli::{OutputFormat, RunArgs};
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ingest::{self, IngestOptions};
use crate::output::{self, to_json};

/// Tables written into the dated folder: file name and the SQL that makes it. Where a command
/// prints the same table, the SQL is the command's, so the files have the commands' shapes.
fn tables() -> Vec<(&'static str, String)> {
    use super::{forecast, lifecycle, quality, report, retention};
    let mut t: Vec<(&'static str, String)> = vec![
        ("rfm", format!("select {} from rfm order by customer_id", super::rfm::RFM_COLUMNS)),
        ("rfm_segment_summary", "select * from rfm_segment_summary order by customers desc, segment".into()),
        (
            "segments",
            "select segmentation, dimension, segment, customers, share_pct, net_revenue, revenue_share_pct, avg_order_value, \
             purchases_per_customer, strict_retention_pct from segments order by segmentation, dimension, customers desc, segment"
                .into(),
        ),
        ("retention_rate", retention::RATE_SQL.into()),
        (
            "retention_cohorts",
            "select cohort, age, cohort_size, active, retention, active_on_or_after, retention_on_or_after, net_revenue, \
             revenue_retention from retention_cohorts order by cohort_index, age"
                .into(),
        ),
        ("retention_cohort_mean", retention::MEAN_SQL.into()),
        ("growth_accounting", retention::GROWTH_SQL.into()),
        ("lifecycle", lifecycle::CUSTOMERS_SQL.into()),
        ("lifecycle_summary", lifecycle::SUMMARY_SQL.into()),
        ("churn", lifecycle::CHURN_SQL.into()),
        ("forecast_seed", forecast::SEED_SQL.into()),
    ];
    for (name, sql) in report::INTERACTIONS
        .iter()
        .chain(report::SERVICE)
        .chain(report::AFFINITY)
    {
        t.push((name, sql.to_string()));
    }
    t.push(("data_quality", quality::QUALITY_SQL.into()));
    // The report folder travels (mail, shared drives): its rejects say where and why, never
    // what. The raw records, personal fields and all, stay in the warehouse's rejects table.
    t.push((
        "rejects",
        "select \"table\", source_file, record_number, reason, kept from rejects order by \"table\", source_file, record_number".into(),
    ));
    t
}

/// The steps of a run as they go: a progress line on stderr when it is a terminal (nothing in a
/// cron log), and each step's seconds for summary.json.
struct Steps {
    bar: indicatif::ProgressBar,
    current: Option<(String, std::time::Instant)>,
    seconds: Vec<serde_json::Value>,
}

impl Steps {
    fn new() -> Steps {
        // Hidden by indicatif itself when stderr is not a terminal.
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("crm run: {msg} ({elapsed})")
                .expect("template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Steps {
            bar,
            current: None,
            seconds: Vec::new(),
        }
    }

    fn start(&mut self, step: &str) {
        self.stop();
        self.bar.set_message(step.to_string());
        self.current = Some((step.to_string(), std::time::Instant::now()));
    }

    fn stop(&mut self) {
        if let Some((step, at)) = self.current.take() {
            let secs = (at.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
            self.seconds.push(json!({"step": step, "seconds": secs}));
        }
    }

    /// Every step's seconds, in the order they ran: `[{"step", "seconds"}, ...]`.
    fn finish(&mut self) -> serde_json::Value {
        self.stop();
        self.bar.finish_and_clear();
        serde_json::Value::Array(self.seconds.clone())
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let mut config = Config::load(&args.config)?;
    super::set_memory_limit(&mut config, args.memory_limit.as_deref())?;
    let mut steps = Steps::new();
    steps.start("ingest");
    let report = match ingest::ingest(&config, &IngestOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            steps.finish();
            return Err(e);
        }
    };
    // Printed with the progress line out of the way (it shares the terminal).
    steps
        .bar
        .suspend(|| crate::output::say(super::ingest::summary(&report)))?;
    // The checks after a load come from the report's own data_quality table (computed once)
    // unless the report looks at an earlier day than the load's.
    if report.changed && args.as_of.is_some() {
        crate::output::say(super::quality::after_ingest(&config)?)?;
    }
    let out_root = args
        .out
        .clone()
        .unwrap_or_else(|| config.resolve(&config.report.out));
    let (dir, failed) =
        super::runtime()?.block_on(write_report(&config, &args, &out_root, &report, &mut steps))?;
    crate::output::say_line(format!("report written to {}", dir.display()))?;
    if failed.is_empty() {
        return Ok(());
    }
    let steps: Vec<String> = failed
        .iter()
        .map(|f| format!("{}: {}", f.step, f.error))
        .collect();
    Err(Error::StepsFailed(format!(
        "{} of the run's analyses could not run, the report lacks them (summary.json, \"failed_steps\"):\n  {}",
        failed.len(),
        steps.join("\n  ")
    )))
}

/// An analysis `crm run` promises that did not run, and why.
#[derive(Debug, serde::Serialize)]
pub struct FailedStep {
    pub step: String,
    pub error: String,
}

async fn write_report(
    config: &Config,
    args: &RunArgs,
    out_root: &Path,
    report: &ingest::IngestReport,
    steps: &mut Steps,
) -> Result<(PathBuf, Vec<FailedStep>)> {
    steps.start("open the warehouse");
    let engine = Engine::open(config, args.as_of).await?;
    let as_of = engine.as_of.to_string();
    let final_dir = out_root.join(&as_of);
    let tmp = out_root.join(format!(".{as_of}.partial-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;

    let mut table_rows = serde_json::Map::new();
    let mut segments = serde_json::Value::Null;
    let mut lifecycle = serde_json::Value::Null;
    let mut retention = serde_json::Value::Null;
    for (name, sql) in tables() {
        steps.start(name);
        let df = engine.user_sql(name, &sql).await?;
        let schema = df.schema().inner().clone();
        let batches = engine.collect(name, df).await?;
        output::write(
            &batches,
            &schema,
            OutputFormat::Csv,
            Some(&tmp.join(format!("{name}.csv"))),
        )?;
        output::write(
            &batches,
            &schema,
            OutputFormat::Parquet,
            Some(&tmp.join(format!("{name}.parquet"))),
        )?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        table_rows.insert(name.to_string(), json!(rows));
        match name {
            "data_quality" if report.changed && args.as_of.is_none() => {
                let lines = super::quality::summarise(&engine.warehouse.dir, &batches, &schema)?;
                steps.bar.suspend(|| crate::output::say(lines))?;
            }
            "rfm_segment_summary" => segments = to_json(&batches, &schema)?,
            "lifecycle_summary" => lifecycle = to_json(&batches, &schema)?,
            "retention_rate" => retention = to_json(&batches, &schema)?,
            _ => {}
        }
    }
    let (models, fitted, failed) = write_models(&engine, config, &tmp, steps).await?;
    steps.start("report");
    super::report_html::write(&engine, config, &tmp, fitted).await?;
    steps.start("target lists");
    let lists = super::rfm::target_lists(&engine).await?;
    super::rfm::write_target_lists(&tmp.join("targets"), &lists)?;

    let counts = engine
        .user_sql(
            "counts",
            "select (select count(*) from customers) as customers, \
                    (select count(*) from transactions) as transactions, \
                    (select count(*) from interactions) as interactions, \
                    (select count(*) from rejects where not kept) as rejected_records",
        )
        .await?;
    let schema = counts.schema().inner().clone();
    let counts = to_json(&engine.collect("counts", counts).await?, &schema)?;
    let step_seconds = steps.finish();
    let summary = json!({
        "status": if failed.is_empty() { "ok" } else { "failed" },
        "failed_steps": failed,
        "as_of": as_of,
        "generated_at": crate::warehouse::now_rfc3339(),
        "timezone": engine.timezone.to_string(),
        "warehouse": {
            "path": engine.warehouse.dir.display().to_string(),
            "version": engine.warehouse.manifest.version,
            "rows": counts.get(0).cloned().unwrap_or_default(),
        },
        "ingest": report.files,
        "tables": table_rows,
        "rfm_segments": segments,
        "lifecycle": lifecycle,
        "retention_rate": retention,
        "models": models,
        "step_seconds": step_seconds,
    });
    let path = tmp.join("summary.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&summary).expect("json") + "\n",
    )
    .map_err(|e| Error::io(&path, e))?;

    // Swap the finished folder into place; a report of the same day is replaced whole.
    if final_dir.exists() {
        let old = out_root.join(format!(".{as_of}.old-{}", std::process::id()));
        std::fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
        std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    Ok((final_dir, failed))
}

/// The model tables: k-means profiles and assignments, forecasts, CLV per customer and its
/// parameters. A model that cannot be fitted on this data is reported (stderr, summary.json)
/// and returned as a failed step; the rest of the report is still written.
async fn write_models(
    engine: &Engine,
    config: &Config,
    dir: &Path,
    steps: &mut Steps,
) -> Result<(
    serde_json::Value,
    super::report_html::Fitted,
    Vec<FailedStep>,
)> {
    let mut models = serde_json::Map::new();
    let mut fitted = super::report_html::Fitted::default();
    let mut failed = Vec::new();
    let mut fail = |step: &str, e: &Error| {
        eprintln!("crm: error: {step} could not run: {e}");
        failed.push(FailedStep {
            step: step.into(),
            error: e.to_string(),
        });
        json!({"error": e.to_string()})
    };
    let write = |name: &str, batch: RecordBatch| -> Result<()> {
        let schema = batch.schema();
        output::write(
            std::slice::from_ref(&batch),
            &schema,
            OutputFormat::Csv,
            Some(&dir.join(format!("{name}.csv"))),
        )?;
        output::write(
            &[batch],
            &schema,
            OutputFormat::Parquet,
            Some(&dir.join(format!("{name}.parquet"))),
        )
    };
    steps.start("k-means");
    match super::cluster::fit(engine, config.cluster.k, config.cluster.seed).await {
        Ok((c, data)) => {
            write("cluster_profiles", super::cluster::profiles_batch(&c))?;
            write(
                "cluster_assignments",
                super::cluster::assignments_batch(&c, &data),
            )?;
            models.insert(
                "kmeans".into(),
                json!({"k": c.k, "silhouettes": c.silhouettes, "profiles": c.profiles}),
            );
            // The report draws the same clusters: fitted once a run.
            fitted.clusters = Some((c, data));
        }
        Err(e) => {
            models.insert("kmeans".into(), fail("k-means", &e));
        }
    }
    steps.start("forecasts");
    match super::forecast::report(engine, config, &crate::models::forecast::Method::ALL).await {
        Ok(forecast) => {
            write("forecasts", forecast.forecasts.clone())?;
            write("forecast_backtest", forecast.backtest.clone())?;
            models.insert(
                "forecast".into(),
                json!({"recommended": forecast.recommended}),
            );
            fitted.forecast = Some(forecast);
        }
        Err(e) => {
            models.insert("forecast".into(), fail("forecast", &e));
        }
    }
    steps.start("CLV");
    let data = super::clv::summaries(engine).await?;
    match super::clv::fit(&data) {
        Ok(model) => {
            let months = config.clv.horizon_months;
            let horizon = months as f64 * crate::models::clv::WEEKS_PER_MONTH;
            let batch =
                super::clv::per_customer(&model, &data, horizon, months, config.clv.discount);
            let clv = batch.column_by_name("clv").expect("clv column");
            let clv = clv
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Float64Array>()
                .expect("f64");
            fitted.clv = Some(clv.values().to_vec());
            write("clv", batch)?;
            models.insert("clv".into(), super::clv::params_json(&model));
        }
        Err(e) => {
            models.insert("clv".into(), fail("CLV", &e));
        }
    }
    Ok((serde_json::Value::Object(models), fitted, failed))
}
