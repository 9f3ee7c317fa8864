//! One thin file per subcommand, each exposing `run(args)`: it reads its arguments, asks the
//! engine or one analysis (`crate::analyses`) for the result and prints it. No command calls
//! another.

pub mod cluster;
pub mod clv;
pub mod forecast;
pub mod ingest;
pub mod lifecycle;
pub mod quality;
pub mod query;
pub mod report;
pub mod retention;
pub mod rfm;
pub mod run;
pub mod sample;
pub mod segment;
pub mod serve;
pub mod table_set;

use std::path::Path;

use datafusion::common::ScalarValue;

use crate::cli::{OutputArgs, WarehouseArgs};
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::output;

/// The config a warehouse-reading command works with: `--warehouse DIR`, `--config FILE`, or
/// `./crm.toml`.
pub fn resolve_config(args: &WarehouseArgs) -> Result<Config> {
    let mut config = if let Some(dir) = &args.warehouse {
        Config::for_warehouse(dir)
    } else {
        let path = args.config.clone().unwrap_or_else(|| "crm.toml".into());
        if args.config.is_none() && !Path::new(&path).exists() {
            return Err(Error::usage(
                "no ./crm.toml here: pass --config FILE (the pipeline config) or --warehouse DIR",
            ));
        }
        Config::load(&path)?
    };
    set_memory_limit(&mut config, args.memory_limit.as_deref())?;
    set_cluster(&mut config, args.cluster.as_deref())?;
    Ok(config)
}

/// `--cluster` over the config's engine.cluster, checked before any work starts.
pub fn set_cluster(config: &mut Config, flag: Option<&str>) -> Result<()> {
    if let Some(url) = flag {
        config.engine.cluster = Some(url.to_string());
    }
    if let Some(url) = &config.engine.cluster {
        crate::engine::cluster::scheduler_address(url).map_err(Error::usage)?;
    }
    Ok(())
}

/// `--memory-limit` over the config's engine.memory_limit, checked before any work starts.
pub fn set_memory_limit(config: &mut Config, flag: Option<&str>) -> Result<()> {
    if let Some(limit) = flag {
        crate::config::parse_size(limit)
            .map_err(|m| Error::usage(format!("--memory-limit: {m}")))?;
        config.engine.memory_limit = Some(limit.to_string());
    }
    Ok(())
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    crate::engine::async_runtime()
}

/// Runs `queries/outputs/<name>.sql` and writes the result as `--format`/`--out` say.
pub async fn print_output(
    engine: &Engine,
    name: &str,
    params: Vec<ScalarValue>,
    out: &OutputArgs,
) -> Result<()> {
    let rows = engine.read(name, params).await?;
    output::write(&rows.batches, &rows.schema, out.format, out.out.as_deref())
}

/// Tells on stderr which period is left out as incomplete (METRICS.md "Time and money").
pub async fn note_incomplete(engine: &Engine) -> Result<()> {
    let rows = engine.read("incomplete_periods", vec![]).await?;
    for b in &rows.batches {
        let col = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(|e| Error::query("periods", e))?;
        let labels = datafusion::arrow::array::AsArray::as_string::<i32>(&col);
        for l in labels.iter().flatten() {
            eprintln!(
                "note: {l} is incomplete (as_of {}): left out of the period rows, empty in cohort cells",
                engine.as_of
            );
        }
    }
    Ok(())
}
