//! The nightly job behind `crm run`: ingest what changed, run every analysis once, and write
//! `OUT/<as_of>/` with every table (Parquet and CSV), the model tables, the report, the target
//! lists and `summary.json`. The dated folder is built beside its final name and renamed into
//! place, so a reader never sees half a report.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use serde_json::json;

use crate::analyses::{self, AFFINITY, Analyses, INTERACTIONS, SERVICE, targets};
use crate::cli::OutputFormat;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ingest::{self, IngestOptions, IngestReport};
use crate::output;

/// The tables written into the dated folder, each an output query of the same name
/// (`queries/outputs/`): the shapes the commands print.
fn tables() -> Vec<&'static str> {
    let mut t = vec![
        "rfm",
        "rfm_segment_summary",
        "segments",
        "retention_rate",
        "retention_cohorts",
        "retention_cohort_mean",
        "growth_accounting",
        "lifecycle",
        "lifecycle_summary",
        "churn",
        "forecast_seed",
    ];
    t.extend(INTERACTIONS.iter().chain(SERVICE).chain(AFFINITY));
    // rejects: where and why, never the raw record (queries/outputs/rejects.sql).
    t.extend(["data_quality", "rejects"]);
    t
}

/// An analysis `crm run` promises that did not run, and why.
#[derive(Debug, serde::Serialize)]
pub struct FailedStep {
    pub step: String,
    pub error: String,
}

/// What a night's run left: the dated folder, and the analyses that could not run (the report
/// lacks them; the caller exits non-zero).
pub struct Outcome {
    pub dir: PathBuf,
    pub failed: Vec<FailedStep>,
    /// The `[alerts]` thresholds the run crossed.
    pub alerts: Vec<crate::analyses::alerts::Alert>,
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

    /// Prints `text` on stdout with the progress line out of the way (they share the terminal).
    fn say(&self, text: String) -> Result<()> {
        self.bar.suspend(|| output::say(text))
    }

    /// Every step's seconds, in the order they ran: `[{"step", "seconds"}, ...]`.
    fn finish(&mut self) -> serde_json::Value {
        self.stop();
        self.bar.finish_and_clear();
        serde_json::Value::Array(self.seconds.clone())
    }
}

/// Loads, analyses and writes `out_root/<as_of>/`.
pub fn run(config: &Config, as_of: Option<NaiveDate>, out_root: &Path) -> Result<Outcome> {
    let mut steps = Steps::new();
    steps.start("ingest");
    let load = match ingest::ingest(config, &IngestOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            steps.finish();
            return Err(e);
        }
    };
    steps.say(load.summary())?;
    let rt = crate::engine::async_runtime()?;
    // The checks after a load come from the report's own data_quality table (computed once)
    // unless the report looks at an earlier day than the load's.
    if load.changed && as_of.is_some() {
        steps.say(rt.block_on(analyses::quality::after_ingest(config))?)?;
    }
    rt.block_on(write(config, as_of, out_root, &load, &mut steps))
}

async fn write(
    config: &Config,
    as_of: Option<NaiveDate>,
    out_root: &Path,
    load: &IngestReport,
    steps: &mut Steps,
) -> Result<Outcome> {
    steps.start("open the warehouse");
    let engine = Engine::open(config, as_of).await?;
    let day = engine.as_of.to_string();
    let tmp = out_root.join(format!(".{day}.partial-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut a = Analyses::new(&engine, config);
    let table_rows = write_tables(&mut a, &tmp, load.changed && as_of.is_none(), steps).await?;
    let (models, failed) = write_models(&mut a, &tmp, steps).await?;
    steps.start("alerts");
    let alerts = analyses::alerts::check(&mut a, load.changed.then_some(load)).await?;
    steps.start("segment migration");
    if let Ok(m) = a.migration().await {
        write_batch(&tmp, "segment_migration", &m.table)?;
    }
    steps.start("report");
    crate::report::write(&mut a, &tmp, &alerts).await?;
    steps.start("target lists");
    let lists = targets::rfm_lists(&engine).await?;
    targets::write_rfm_lists(&tmp.join("targets"), &lists)?;
    let counts = a.json("warehouse_counts").await?;
    let summary = json!({
        "status": if failed.is_empty() { "ok" } else { "failed" },
        "failed_steps": failed,
        "alerts": alerts,
        "as_of": day,
        "generated_at": crate::warehouse::now_rfc3339(),
        "timezone": engine.timezone.to_string(),
        "warehouse": {
            "path": engine.warehouse.dir.display().to_string(),
            "version": engine.warehouse.manifest.version,
            "rows": counts.first().cloned().unwrap_or_default(),
        },
        "ingest": load.files,
        "tables": table_rows,
        "rfm_segments": a.json("rfm_segment_summary").await?,
        "lifecycle": a.json("lifecycle_summary").await?,
        "retention_rate": a.json("retention_rate").await?,
        "models": models,
        "step_seconds": steps.finish(),
    });
    let path = tmp.join("summary.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&summary).expect("json") + "\n",
    )
    .map_err(|e| Error::io(&path, e))?;
    let dir = swap_into_place(out_root, &day, &tmp)?;
    Ok(Outcome {
        dir,
        failed,
        alerts,
    })
}

/// Every table of [`tables`] as CSV and Parquet; returns their row counts. After a load that
/// changed the warehouse, the data-quality table is also the load's check (quality.csv).
async fn write_tables(
    a: &mut Analyses<'_>,
    dir: &Path,
    after_load: bool,
    steps: &mut Steps,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut table_rows = serde_json::Map::new();
    let warehouse_dir = &a.engine.warehouse.dir;
    for name in tables() {
        steps.start(name);
        let rows = a.table(name).await?;
        for format in [OutputFormat::Csv, OutputFormat::Parquet] {
            let ext = if format == OutputFormat::Csv {
                "csv"
            } else {
                "parquet"
            };
            let path = dir.join(format!("{name}.{ext}"));
            output::write(&rows.batches, &rows.schema, format, Some(&path))?;
        }
        table_rows.insert(name.to_string(), json!(rows.num_rows()));
        if name == "data_quality" && after_load {
            let lines = analyses::quality::summarise(warehouse_dir, &rows.batches, &rows.schema)?;
            steps.say(lines)?;
        }
    }
    Ok(table_rows)
}

/// Swaps the finished folder into place; a report of the same day is replaced whole.
fn swap_into_place(out_root: &Path, day: &str, tmp: &Path) -> Result<PathBuf> {
    let final_dir = out_root.join(day);
    if final_dir.exists() {
        let old = out_root.join(format!(".{day}.old-{}", std::process::id()));
        std::fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
        std::fs::rename(tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    Ok(final_dir)
}

/// One model table as CSV and Parquet.
fn write_batch(dir: &Path, name: &str, batch: &RecordBatch) -> Result<()> {
    let schema = batch.schema();
    for (format, ext) in [
        (OutputFormat::Csv, "csv"),
        (OutputFormat::Parquet, "parquet"),
    ] {
        let path = dir.join(format!("{name}.{ext}"));
        output::write(std::slice::from_ref(batch), &schema, format, Some(&path))?;
    }
    Ok(())
}

/// The model tables: k-means profiles and assignments, forecasts, CLV per customer and its
/// parameters. A model that cannot be fitted on this data is reported (stderr, summary.json)
/// and returned as a failed step; the rest of the report is still written.
async fn write_models(
    a: &mut Analyses<'_>,
    dir: &Path,
    steps: &mut Steps,
) -> Result<(serde_json::Value, Vec<FailedStep>)> {
    let mut models = serde_json::Map::new();
    let mut failed = Vec::new();
    let mut fail = |step: &str, e: &Error| {
        eprintln!("crm: error: {step} could not run: {e}");
        failed.push(FailedStep {
            step: step.into(),
            error: e.to_string(),
        });
        json!({"error": e.to_string()})
    };
    steps.start("k-means");
    let kmeans = match a.clusters().await {
        Ok(fit) => {
            let c = &fit.clustering;
            write_batch(
                dir,
                "cluster_profiles",
                &analyses::clusters::profiles_batch(c),
            )?;
            let assignments = analyses::clusters::assignments_batch(c, &fit.data);
            write_batch(dir, "cluster_assignments", &assignments)?;
            json!({"k": c.k, "silhouettes": c.silhouettes, "profiles": c.profiles})
        }
        Err(e) => fail("k-means", e),
    };
    models.insert("kmeans".into(), kmeans);
    steps.start("forecasts");
    let forecast = match a.forecast().await {
        Ok(f) => {
            write_batch(dir, "forecasts", &f.forecasts)?;
            write_batch(dir, "forecast_backtest", &f.backtest)?;
            json!({"recommended": f.recommended})
        }
        Err(e) => fail("forecast", e),
    };
    models.insert("forecast".into(), forecast);
    steps.start("CLV");
    let clv = match a.clv().await {
        Ok(scored) => {
            write_batch(dir, "clv", &scored.per_customer)?;
            analyses::clv::params_json(&scored.fitted)
        }
        Err(e) => fail("CLV", e),
    };
    models.insert("clv".into(), clv);
    Ok((serde_json::Value::Object(models), failed))
}
