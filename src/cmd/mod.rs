//! One file per subcommand, each exposing `run(args)`.

pub mod ingest;
pub mod query;
pub mod rfm;
pub mod run;
pub mod sample;

use std::path::Path;

use crate::cli::WarehouseArgs;
use crate::config::Config;
use crate::error::{Error, Result};

/// The config a warehouse-reading command works with: `--warehouse DIR`, `--config FILE`, or
/// `./crm.toml`.
pub fn resolve_config(args: &WarehouseArgs) -> Result<Config> {
    if let Some(dir) = &args.warehouse {
        return Ok(Config::for_warehouse(dir));
    }
    let path = args.config.clone().unwrap_or_else(|| "crm.toml".into());
    if args.config.is_none() && !Path::new(&path).exists() {
        return Err(Error::usage(
            "no ./crm.toml here: pass --config FILE (the pipeline config) or --warehouse DIR",
        ));
    }
    Config::load(&path)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::usage(format!("cannot start the async runtime: {e}")))
}
