//! Command-line types. The doc comments here are the `--help` text.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::config::Period;

/// crm: an analytical CRM engine. Load customer, transaction and interaction exports into a
/// Parquet warehouse; run RFM segments and the other analyses; write tables and reports.
///
/// Start with `crm run --config sample-data/pipeline.toml` to see everything on the shipped
/// sample data.
#[derive(Debug, Parser)]
#[command(
    name = "crm",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit status: 0 done; 1 error (a file, the config, the warehouse, a query); \
                  2 wrong command line; 3 an export rejected more records than its \
                  max_reject_rate allows, nothing was loaded; 4 `crm run` wrote its report but \
                  an analysis it promises could not run (summary.json names it); 5 `crm run \
                  --fail-on-alert` crossed a threshold of [alerts] (summary.json lists them)."
)]
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
    /// Segments with their size, revenue and retention: rfm, demographic, geographic, behavioural.
    Segment(SegmentArgs),
    /// Retention: the seed rate per period, cohort matrices, the mean curve, growth accounting.
    Retention(RetentionArgs),
    /// One lifecycle status per customer (prospect, new, active, at_risk, churned) and churn.
    Lifecycle(LifecycleArgs),
    /// Net revenue per period and the seed projection Average * (1 + Growth)^h.
    Forecast(ForecastArgs),
    /// Channel mix per period, interactions per customer, campaign conversion and revenue.
    Interactions(ReportArgs),
    /// Support tickets (resolution times, backlog, repeat contacts), CSAT and NPS.
    Service(ReportArgs),
    /// Cross-sell: category pairs with support, confidence, lift; next category per customer.
    Affinity(ReportArgs),
    /// The data-quality report per table: rejects by reason, null rates, orphans, outliers.
    Quality(QualityArgs),
    /// Customer lifetime value: BG/NBD + Gamma-Gamma per customer, parameters, holdout check.
    Clv(ClvArgs),
    /// Behavioural segments by k-means on recency, frequency and monetary value.
    Cluster(ClusterArgs),
    /// Charts (SVG, PNG) and one self-contained report.html a manager can read.
    Report(ReportHtmlArgs),
    /// The nightly batch: ingest what changed, run the analyses, write OUT/<as_of>/.
    Run(RunArgs),
    /// A Ballista scheduler for cluster runs (`--cluster df://HOST:PORT`); runs until stopped.
    Scheduler(SchedulerArgs),
    /// A Ballista executor serving a `crm scheduler`; runs until stopped.
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The port clients (`--cluster df://HOST:PORT`) and executors connect to.
    #[arg(long, default_value_t = 50050)]
    pub port: u16,
    /// The address to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// The host name others reach this machine by [default: the --bind address]
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to serve (HOST:PORT, or df://HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// The port its shuffle data is served on (Arrow Flight).
    #[arg(long, default_value_t = 50051)]
    pub port: u16,
    /// The port of its task service [default: --port + 1]
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// The address to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// The host name the scheduler and other executors reach it by [default: the --bind address]
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Tasks it runs at once [default: the machine's cores]
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub concurrency: usize,
    /// Folder for its shuffle files [default: a temporary folder]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportHtmlArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Folder for report.html and the charts [default: report.out/<as_of>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Number of clusters [default: cluster.k, else chosen in 2..=8 by mean silhouette]
    #[arg(long)]
    pub k: Option<usize>,
    /// Random seed of k-means [default: cluster.seed, else 42]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print each customer's cluster instead of the cluster profiles.
    #[arg(long)]
    pub assignments: bool,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ClvArgs {
    /// Expected purchases over this many weeks after the calibration end [default: 12 months]
    #[arg(long)]
    pub horizon_weeks: Option<f64>,
    /// Months of CLV [default: clv.horizon_months, else 12]
    #[arg(long)]
    pub clv_months: Option<u32>,
    /// Monthly discount rate [default: clv.discount, else 0.01]
    #[arg(long)]
    pub discount: Option<f64>,
    /// The purchase model: bgnbd, pnbd (Pareto/NBD), or auto (both fitted before a holdout,
    /// the one predicting it better is used) [default: clv.model, else bgnbd]
    #[arg(long, value_enum)]
    pub model: Option<crate::config::ClvModel>,
    /// Print the fitted parameters instead of the per-customer table.
    #[arg(long)]
    pub params: bool,
    /// Print the expected repeat purchases of the whole customer base, week by week over the
    /// horizon, instead of the per-customer table.
    #[arg(long, conflicts_with = "params")]
    pub aggregate: bool,
    /// Fit on purchases before this day; compare predicted and actual repeat purchases from it
    /// to --as-of, per calibration frequency. With --model auto: the holdout the models are
    /// compared on [default: the last 39 weeks, or the second half of a shorter history].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub holdout_from: Option<NaiveDate>,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A report made of several tables; `--table` picks one (all are printed by default).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only this table of the report (see the list in --help of each command).
    #[arg(long)]
    pub table: Option<String>,
    /// Calendar period of the per-period tables [default: retention.period]
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct QualityArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Segmentation {
    /// The named RFM segments.
    Rfm,
    /// Age band, gender, income band.
    Demographic,
    /// Country, region, city.
    Geographic,
    /// Preferred channel, preferred category, order-frequency band.
    Behavioural,
    /// k-means clusters on recency, frequency and monetary value (`crm cluster`).
    Kmeans,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Which segmentation.
    #[arg(long, value_enum, default_value_t = Segmentation::Rfm)]
    pub by: Segmentation,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Write one target list per segment (customer_id, segment; no personal fields) into DIR.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// Period of the "strict retention in the last period" column, and the step back of
    /// --migration [default: retention.period]
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    /// Segment migration instead: each RFM segment one period before as_of against now, the
    /// customers who moved between each pair and the revenue they carry.
    #[arg(long, conflicts_with = "export")]
    pub migration: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CohortMode {
    /// A purchase in period c+k.
    On,
    /// A purchase in period c+k or later.
    OnOrAfter,
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Calendar period [default: retention.period from the config, else month]
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    /// The cohort matrix (long form in csv/json/parquet: cohort,age,cohort_size,active,retention).
    #[arg(long, conflicts_with_all = ["growth", "mean"])]
    pub cohorts: bool,
    /// Cohort mode.
    #[arg(long, value_enum, default_value_t = CohortMode::On, requires = "cohorts")]
    pub mode: CohortMode,
    /// Revenue retention instead of customer retention (with --cohorts).
    #[arg(long, requires = "cohorts")]
    pub revenue: bool,
    /// N-day retention per cohort instead of the matrix (with --cohorts): for each N, the
    /// customers with a purchase on day N after their first purchase day, and within days 1..N
    /// (e.g. --days 1,7,30).
    #[arg(
        long,
        value_name = "N,N,...",
        requires = "cohorts",
        conflicts_with = "revenue",
        value_delimiter = ','
    )]
    pub days: Vec<u32>,
    /// The mean retention curve: per age, weighted by cohort size.
    #[arg(long, conflicts_with = "growth")]
    pub mean: bool,
    /// Growth accounting: new, returning, resurrecting, dormant per period.
    #[arg(long)]
    pub growth: bool,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// Print the status of every customer instead of the counts.
    #[arg(long, conflicts_with = "churn")]
    pub customers: bool,
    /// Churn per period: the share of the customers active at the start who were not active in it.
    #[arg(long)]
    pub churn: bool,
    /// Calendar period for --churn [default: retention.period]
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ForecastMethod {
    /// Every model side by side, with the backtest and the recommended one.
    All,
    /// METRICS.md's seed formula: Average Sales * (1 + Growth Rate)^h (its own table).
    Seed,
    /// The value one season before (the baseline).
    SeasonalNaive,
    /// Exponential smoothing (AutoETS), no season.
    Ets,
    /// MSTL seasonal decomposition with an AutoETS trend.
    MstlEts,
}

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// Forecasting method.
    #[arg(long, value_enum, default_value_t = ForecastMethod::All)]
    pub method: ForecastMethod,
    /// With every model: print only this table, `forecasts` or `backtest` (needed for csv/json/parquet).
    #[arg(long)]
    pub table: Option<String>,
    /// Calendar period [default: forecast.period, else month]
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    /// Periods to project [default: forecast.horizon, else 6]
    #[arg(long)]
    pub horizon: Option<u32>,
    /// Complete periods the average and growth are taken over [default: forecast.lookback, else 12]
    #[arg(long)]
    pub lookback: Option<u32>,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub output: OutputArgs,
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
    /// Memory the queries may hold (e.g. 2GiB); beyond it they spill to temporary files
    /// [default: engine.memory_limit from the config, else no limit]
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Run the queries on the Ballista cluster whose scheduler is here (df://HOST:PORT); the
    /// model fits stay on this machine [default: engine.cluster from the config, else local]
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
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
    /// Multiplies every customer's purchase rate and divides their drop-out chance, for
    /// benchmark-sized histories: 20 gives about 100 order lines per customer.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub purchase_rate: f64,
    /// Write orders.csv and interactions.jsonl without gzip (faster to write and to read at
    /// benchmark sizes).
    #[arg(long)]
    pub uncompressed: bool,
    /// Skip the interactions export (orders and customers only).
    #[arg(long)]
    pub no_interactions: bool,
    /// The order of the order lines: customer (grouped by customer, each in time order) or time
    /// (by order time, as ERPs and shop systems export them).
    #[arg(long, value_enum, default_value_t = crate::sample::LineOrder::Customer)]
    pub order: crate::sample::LineOrder,
    /// Output folder (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write the sample into this PostgreSQL database with an Odoo-like schema
    /// (res_partner, sale_order, sale_order_line, mail_message, ...), and beside the exports a
    /// pipeline config (pipeline-postgres.toml) that reads it. The database must not have these
    /// tables yet; the URL holds no password.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// The environment variable holding the database password.
    #[arg(long, value_name = "NAME", default_value = "PGPASSWORD")]
    pub password_env: String,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The pipeline config.
    #[arg(long, short, value_name = "FILE", default_value = "crm.toml")]
    pub config: PathBuf,
    /// Read every export again even if it has not changed since the last load.
    #[arg(long)]
    pub force: bool,
    /// Load only: skip the data-quality checks that otherwise follow a load (`crm quality` and
    /// `crm run` still run them).
    #[arg(long)]
    pub no_quality: bool,
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
    /// Memory the queries may hold (e.g. 2GiB); beyond it they spill to temporary files
    /// [default: engine.memory_limit from the config, else no limit]
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Run the queries on the Ballista cluster whose scheduler is here (df://HOST:PORT); the
    /// model fits stay on this machine [default: engine.cluster from the config, else local]
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
    /// Exit with status 5 when a threshold of [alerts] is crossed (after writing the report),
    /// so that cron mails the night's alerts.
    #[arg(long)]
    pub fail_on_alert: bool,
}
