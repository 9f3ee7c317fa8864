//! Command-line types. The doc comments here are the `--help` text.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// crm: an analytical CRM engine. Load customer, transaction and interaction exports into a
/// Parquet warehouse; run RFM segments and the other analyses; write tables and reports.
///
/// Start with `crm run --config sample-data/pipeline.toml` to see everything on the shipped
/// sample data.
#[derive(Debug, Parser)]
#[command(name = "crm", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write realistic sample exports (customers, orders, interactions) for a seed.
    Sample(SampleArgs),
    /// Load the exports named in the config into the warehouse (validated, atomic, idempotent).
    Ingest(IngestArgs),
    /// Run SQL over the warehouse: a named view, a .sql file, or --sql "...". Read-only.
    Query(QueryArgs),
    /// RFM scores and named segments per customer (METRICS.md "RFM").
    Rfm(RfmArgs),
    /// The nightly batch: ingest what changed, run the analyses, write OUT/<as_of>/.
    Run(RunArgs),
}

/// Where the warehouse is: the pipeline config (default ./crm.toml) or the folder itself.
#[derive(Debug, Args, Clone)]
pub struct WarehouseArgs {
    /// The pipeline config [default: ./crm.toml]
    #[arg(long, short, value_name = "FILE", conflicts_with = "warehouse")]
    pub config: Option<PathBuf>,
    /// Read this warehouse folder instead of the one a config names.
    #[arg(long, value_name = "DIR")]
    pub warehouse: Option<PathBuf>,
    /// Only events strictly before this day count [default: the day after the last transaction]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write to this file instead of standard output (required for parquet).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 2000)]
    pub customers: u64,
    /// Random seed: the same seed writes the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First day of the history.
    #[arg(long, default_value = "2023-01-01")]
    pub start: NaiveDate,
    /// Months of history.
    #[arg(long, default_value_t = 24)]
    pub months: u32,
    /// Share of deliberately bad rows (bad dates and numbers, missing ids, duplicates, ragged lines).
    #[arg(long, default_value_t = 0.02)]
    pub bad_rows: f64,
    /// Output folder (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The pipeline config.
    #[arg(long, short, value_name = "FILE", default_value = "crm.toml")]
    pub config: PathBuf,
    /// Read every export again even if it has not changed since the last load.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A view name (see `crm query --list`) or a path to a .sql file.
    #[arg(required_unless_present_any = ["sql", "list"])]
    pub query: Option<String>,
    /// SQL text to run.
    #[arg(long, conflicts_with = "query")]
    pub sql: Option<String>,
    /// List the named views.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RfmArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Write one target list per segment (customer_id, segment, action) into DIR.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline config.
    #[arg(long, short, value_name = "FILE", default_value = "crm.toml")]
    pub config: PathBuf,
    /// Only events strictly before this day count [default: the day after the last transaction]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// Report folder [default: report.out from the config]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
