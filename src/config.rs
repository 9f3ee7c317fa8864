//! The pipeline config (`pipeline.toml` / `crm.toml`). Every struct denies unknown keys, so a typo
//! is an error that names the key instead of a setting silently ignored.
//!
//! About 710 lines, 60 of them tests: each section's typed settings with their defaults, and the
//! validation that names a bad key, in the order of README's configuration table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub warehouse: WarehouseConfig,
    #[serde(default)]
    pub report: ReportConfig,
    #[serde(default)]
    pub rfm: RfmConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    #[serde(default)]
    pub forecast: ForecastConfig,
    #[serde(default)]
    pub campaign: CampaignConfig,
    #[serde(default)]
    pub affinity: AffinityConfig,
    #[serde(default)]
    pub clv: ClvConfig,
    #[serde(default)]
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Export files to load, by source name. A source named `customers`, `transactions` or
    /// `interactions` loads into that table; any other name must say `table = "..."`.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// The folder the config was read from; relative paths in it are taken from there.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub path: PathBuf,
}

/// How the query engine may use the machine.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Memory the queries may hold, e.g. "2GiB" or "512MB"; above it sorts and aggregations
    /// spill to temporary files instead of growing. Unset: no limit.
    #[serde(default)]
    pub memory_limit: Option<String>,
    /// The Ballista scheduler the queries run on (`df://host:port`); unset: on this machine.
    #[serde(default)]
    pub cluster: Option<String>,
}

impl EngineConfig {
    /// The limit in bytes, if one is set.
    pub fn memory_limit_bytes(&self) -> std::result::Result<Option<usize>, String> {
        self.memory_limit.as_deref().map(parse_size).transpose()
    }
}

/// The largest size [`parse_size`] takes: 1 PiB.
const MAX_SIZE: u64 = 1 << 50;

/// A size such as "2GiB", "1.5G", "512MB", "750mib" or a plain number of bytes. Binary and
/// decimal units both read as powers of 1024 would be a lie, so each means what it says: KB,
/// MB, GB are powers of 1000, KiB, MiB, GiB (and the bare K, M, G) powers of 1024.
/// (A dozen lines; the size-parsing crates either disagree on the bare units or pull in more.)
pub fn parse_size(text: &str) -> std::result::Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size (write e.g. 2GiB, 512MiB or 1000000)"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0f64.powi(4),
        "pb" => 1e15,
        "p" | "pib" => 1024.0f64.powi(5),
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    let bytes = value * scale;
    // Far beyond any machine: a typo, not a limit (and past usize, it would wrap to nothing).
    if !bytes.is_finite() || bytes > MAX_SIZE as f64 {
        return Err(format!(
            "{text:?} is larger than any machine's memory (at most 1PiB)"
        ));
    }
    if bytes < 64.0 * 1024.0 * 1024.0 {
        return Err(format!(
            "{text:?} is below the smallest usable limit, 64MiB"
        ));
    }
    Ok(bytes as usize)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseConfig {
    /// A folder, or `s3://bucket/prefix` for a warehouse on S3-compatible object storage
    /// (warehouse/remote.rs).
    #[serde(default = "default_warehouse_path")]
    pub path: PathBuf,
    /// A warehouse on object storage: the local folder where a load keeps its working copy
    /// (default: `crm/warehouses/<bucket>/<prefix>` in the user's cache folder).
    #[serde(default)]
    pub working_copy: Option<PathBuf>,
    /// The earliest day a transaction or interaction may be dated (DATA-CONTRACT.md "Plausible
    /// times"); a row before it is rejected with its reason.
    #[serde(default = "default_valid_from")]
    pub valid_from: String,
    /// How many days after the load's own time a row may be dated; a row later than that is
    /// rejected (a year 9999 typo would otherwise become every analysis's "today").
    #[serde(default = "default_future_days")]
    pub future_days: u32,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        WarehouseConfig {
            path: default_warehouse_path(),
            working_copy: None,
            valid_from: default_valid_from(),
            future_days: default_future_days(),
        }
    }
}

impl WarehouseConfig {
    /// `valid_from` as a day (validated with the config).
    pub fn valid_from_date(&self) -> std::result::Result<chrono::NaiveDate, String> {
        chrono::NaiveDate::parse_from_str(&self.valid_from, "%Y-%m-%d").map_err(|_| {
            format!(
                "warehouse.valid_from: {:?} is not a date (write YYYY-MM-DD)",
                self.valid_from
            )
        })
    }
}

fn default_valid_from() -> String {
    "1970-01-01".into()
}
fn default_future_days() -> u32 {
    1
}

fn default_warehouse_path() -> PathBuf {
    PathBuf::from("warehouse")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// IANA time zone in which days, weeks, months and years are taken (METRICS.md "Time and money").
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Where `crm run` writes its dated folders.
    #[serde(default = "default_out")]
    pub out: PathBuf,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            timezone: default_tz(),
            out: default_out(),
        }
    }
}

fn default_tz() -> String {
    "UTC".into()
}
fn default_out() -> PathBuf {
    PathBuf::from("reports")
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Monetary {
    Net,
    Gross,
    MeanOrder,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfmConfig {
    #[serde(default = "default_bins")]
    pub bins: u32,
    /// Only the last N days before `as_of`; all history when absent.
    pub window_days: Option<u32>,
    #[serde(default = "default_monetary")]
    pub monetary: Monetary,
}

impl Default for RfmConfig {
    fn default() -> Self {
        RfmConfig {
            bins: default_bins(),
            window_days: None,
            monetary: default_monetary(),
        }
    }
}

fn default_bins() -> u32 {
    5
}
fn default_monetary() -> Monetary {
    Monetary::Net
}

/// Calendar period of retention, cohorts, growth accounting and the seed forecast.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    /// ISO 8601 weeks, Monday to Sunday in the report's time zone, labelled `2024-W05`.
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }
}

/// METRICS.md "Retention rate" and "Growth accounting and lifecycle".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub period: Period,
    /// A customer is active in a period with a purchase in it or in the `active_periods - 1` before.
    pub active_periods: u32,
    /// Lifecycle: churned after this many days without a purchase.
    pub active_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            period: Period::Month,
            active_periods: 1,
            active_days: 180,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    pub new_days: u32,
    pub at_risk_days: u32,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            new_days: 30,
            at_risk_days: 90,
        }
    }
}

/// METRICS.md "Sales forecast".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastConfig {
    pub period: Period,
    pub lookback: u32,
    pub horizon: u32,
    /// Rolling origins of the backtest.
    pub backtest_origins: u32,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        ForecastConfig {
            period: Period::Month,
            lookback: 12,
            horizon: 6,
            backtest_origins: 6,
        }
    }
}

impl Period {
    /// Periods in a season (METRICS.md "Sales forecast": 12 for months, 52 for weeks, 7 for
    /// days: the week's cycle); 1 for years.
    pub fn season_length(self) -> usize {
        match self {
            Period::Day => 7,
            Period::Week => 52,
            Period::Month => 12,
            Period::Quarter => 4,
            Period::Year => 1,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    pub attribution_days: u32,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            attribution_days: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AffinityConfig {
    /// Category pairs bought together by fewer than this share of customers are not suggested.
    pub min_support: f64,
}

impl Default for AffinityConfig {
    fn default() -> Self {
        AffinityConfig { min_support: 0.01 }
    }
}

/// METRICS.md "Clustering (behavioural segments)".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Number of clusters; chosen by silhouette in 2..=8 when absent.
    pub k: Option<usize>,
    pub seed: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig { k: None, seed: 42 }
    }
}

/// METRICS.md "Customer lifetime value".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClvConfig {
    pub horizon_months: u32,
    /// Monthly discount rate.
    pub discount: f64,
    /// The purchase model: BG/NBD, Pareto/NBD, or the one that predicts a holdout better.
    pub model: ClvModel,
}

impl Default for ClvConfig {
    fn default() -> Self {
        ClvConfig {
            horizon_months: 12,
            discount: 0.01,
            model: ClvModel::Bgnbd,
        }
    }
}

/// Thresholds `crm run` checks after every run (analyses/alerts.rs); unset ones are not checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Strict retention of the last complete period fell by more than this many points against
    /// the period before.
    pub retention_drop_points: Option<f64>,
    /// Net revenue of the last complete period moved by more than this many percent (up or down)
    /// against the period before.
    pub revenue_change_pct: Option<f64>,
    /// The run's load rejected more than this many percent of the records it read.
    pub reject_rate_pct: Option<f64>,
    /// Customers churned in the last complete period rose by more than this many percent against
    /// the period before.
    pub churned_up_pct: Option<f64>,
}

impl AlertsConfig {
    pub fn any(&self) -> bool {
        self.retention_drop_points.is_some()
            || self.revenue_change_pct.is_some()
            || self.reject_rate_pct.is_some()
            || self.churned_up_pct.is_some()
    }
}

/// The model of the purchase process under the CLV (METRICS.md "Customer lifetime value").
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClvModel {
    /// BG/NBD (Fader, Hardie & Lee 2005): a customer may drop out after each purchase.
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987): a customer may drop out at any time.
    Pnbd,
    /// Both fitted on a calibration period; the one whose predictions of the holdout that
    /// follows are closer (per-customer mean absolute error) is used.
    Auto,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Canonical or extra columns replaced at ingest by a keyed hash (DATA-CONTRACT.md "Privacy").
    #[serde(default)]
    pub pseudonymize: Vec<String>,
    /// The environment variable holding the key; never a file in the repo.
    #[serde(default = "default_key_env")]
    pub key_env: String,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            pseudonymize: Vec::new(),
            key_env: default_key_env(),
        }
    }
}

fn default_key_env() -> String {
    "CRM_PSEUDONYM_KEY".into()
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
    /// Excel or OpenDocument workbooks: `.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`.
    Excel,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Auto,
    None,
    Gzip,
}

pub use crate::warehouse::tables::Table;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The export: a file, a folder or a pattern. Empty for a database source (`url`).
    #[serde(default)]
    pub path: PathBuf,
    /// A PostgreSQL database (`postgresql://user@host:port/db`) instead of a file; the password
    /// comes from the environment variable `password_env`, never from the config.
    pub url: Option<String>,
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// The database table (or view) a database source reads, or `query`: one of the two.
    pub db_table: Option<String>,
    pub query: Option<String>,
    /// A column that grows when a row is written (Odoo's `write_date`): a load reads only rows
    /// past the highest value the last load saw, recorded in the manifest.
    pub incremental_column: Option<String>,
    /// Target table; defaults to the source's name.
    pub table: Option<Table>,
    /// `csv`, `jsonl`, `parquet` or `excel`; guessed from the file name when absent.
    pub format: Option<Format>,
    /// The sheet of a workbook to read; the first sheet when absent.
    pub sheet: Option<String>,
    #[serde(default = "default_compression")]
    pub compression: Compression,
    /// CSV field delimiter, one character (`"\t"` for tabs), or `"whitespace"` for text aligned
    /// in columns by runs of spaces (no quoting).
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    #[serde(default = "default_quote")]
    pub quote: String,
    #[serde(default = "default_true")]
    pub has_header: bool,
    /// chrono format of timestamp columns when they are not ISO 8601 (e.g. `%d/%m/%Y %H:%M`).
    pub timestamp_format: Option<String>,
    /// chrono format of date columns (signup_date, birth_date) when not ISO 8601 (e.g. `%Y%m%d`).
    pub date_format: Option<String>,
    /// Time zone of timestamps that carry none; UTC when absent.
    pub timezone: Option<String>,
    /// The share of an export's records that may be rejected (0 to 1) before its load is
    /// refused: above it nothing is committed and `crm` exits with status 3.
    #[serde(default = "default_max_reject_rate")]
    pub max_reject_rate: f64,
    /// Canonical column name = export column name. Unmapped canonical columns are looked up
    /// under their own name; export columns not mapped are kept as attributes.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

fn default_password_env() -> String {
    "PGPASSWORD".into()
}
fn default_max_reject_rate() -> f64 {
    0.10
}
fn default_compression() -> Compression {
    Compression::Auto
}
fn default_delimiter() -> String {
    ",".into()
}
fn default_quote() -> String {
    "\"".into()
}
fn default_true() -> bool {
    true
}

impl SourceConfig {
    pub fn table(&self, name: &str) -> Option<Table> {
        self.table.or_else(|| Table::from_name(name))
    }

    pub fn format(&self) -> Format {
        self.format_of(&self.path)
    }

    /// The format of one file of this source: as configured, else guessed from the file's name
    /// (a folder or pattern source may hold CSV and gzip CSV side by side).
    pub fn format_of(&self, file: &Path) -> Format {
        if let Some(f) = self.format {
            return f;
        }
        let name = file.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".parquet") {
            Format::Parquet
        } else if [".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            Format::Excel
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
            Format::Jsonl
        } else {
            Format::Csv
        }
    }

    /// `delimiter = "whitespace"`: fields aligned by runs of blanks, no quoting.
    pub fn whitespace_delimited(&self) -> bool {
        self.delimiter == "whitespace"
    }

    pub fn gzip(&self) -> bool {
        self.gzip_of(&self.path)
    }

    /// Whether one file of this source is gzip: as configured, else by its `.gz` extension.
    pub fn gzip_of(&self, file: &Path) -> bool {
        match self.compression {
            Compression::Gzip => true,
            Compression::None => false,
            Compression::Auto => file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gz")),
        }
    }
}

/// The connection settings of a PostgreSQL URL, with the password from the environment variable
/// `password_env` when it is set (never from the URL: the config refuses one there). `label`
/// names the source in the error.
pub fn postgres_connection(
    url: &str,
    password_env: &str,
    label: &Path,
) -> Result<tokio_postgres::Config> {
    let mut pg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::source(label, format!("not a PostgreSQL URL: {e}")))?;
    if let Ok(password) = std::env::var(password_env) {
        pg.password(password);
    }
    Ok(pg)
}

/// Whether a database URL carries a password (`user:secret@host`).
pub fn url_has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            Error::config(path, e.message().to_string() + &span_hint(text, e.span()))
        })?;
        config.path = path.to_path_buf();
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.validate()?;
        Ok(config)
    }

    /// A config with no sources, reading the warehouse at `dir` (for `--warehouse DIR`).
    pub fn for_warehouse(dir: &Path) -> Config {
        Config {
            warehouse: WarehouseConfig {
                path: dir.to_path_buf(),
                ..WarehouseConfig::default()
            },
            ..Config::default()
        }
    }

    fn validate(&self) -> Result<()> {
        let err = |m: String| Error::config(&self.path, m);
        let place = self.warehouse.path.to_string_lossy();
        if crate::warehouse::remote::is_remote(&place) && !place.starts_with("s3://") {
            return Err(err(format!(
                "warehouse.path = {place:?}: a warehouse is a folder or on S3-compatible storage (s3://bucket/prefix)"
            )));
        }
        if !(1..=100).contains(&self.rfm.bins) {
            return Err(err(format!(
                "rfm.bins = {}: must be between 1 and 100",
                self.rfm.bins
            )));
        }
        self.timezone()?;
        self.engine
            .memory_limit_bytes()
            .map_err(|m| err(format!("engine.memory_limit: {m}")))?;
        if self.retention.active_periods == 0 {
            return Err(err("retention.active_periods must be at least 1".into()));
        }
        if self.lifecycle.at_risk_days >= self.retention.active_days {
            return Err(err(format!(
                "lifecycle.at_risk_days ({}) must be below retention.active_days ({}): at risk comes before churned",
                self.lifecycle.at_risk_days, self.retention.active_days
            )));
        }
        if self.forecast.backtest_origins == 0 {
            return Err(err("forecast.backtest_origins must be at least 1".into()));
        }
        if self.forecast.lookback < 2 {
            return Err(err(
                "forecast.lookback must be at least 2 periods (a growth rate needs two)".into(),
            ));
        }
        if self.campaign.attribution_days == 0 {
            return Err(err(
                "campaign.attribution_days must be at least 1 (a window of no days attributes nothing)".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.affinity.min_support) {
            return Err(err("affinity.min_support is a share between 0 and 1".into()));
        }
        self.warehouse.valid_from_date().map_err(err)?;
        for (name, source) in &self.sources {
            if !(0.0..=1.0).contains(&source.max_reject_rate) {
                return Err(err(format!(
                    "sources.{name}.max_reject_rate = {}: a share between 0 and 1 (0.1 is 10%)",
                    source.max_reject_rate
                )));
            }
            match (&source.url, source.path.as_os_str().is_empty()) {
                (Some(_), false) => {
                    return Err(err(format!(
                        "sources.{name}: give either path (a file) or url (a database), not both"
                    )));
                }
                (None, true) => return Err(err(format!("sources.{name}: path is missing"))),
                (Some(url), true) => {
                    if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
                        return Err(err(format!(
                            "sources.{name}.url: only PostgreSQL is supported (postgresql://user@host:port/database)"
                        )));
                    }
                    if url_has_password(url) {
                        return Err(err(format!(
                            "sources.{name}.url holds a password: put it in the environment variable {} instead (password_env)",
                            source.password_env
                        )));
                    }
                    if source.db_table.is_some() == source.query.is_some() {
                        return Err(err(format!(
                            "sources.{name}: a database source reads either db_table or query (one of the two)"
                        )));
                    }
                }
                (None, false) => {}
            }
            if source.table(name).is_none() {
                return Err(err(format!(
                    "sources.{name}: say which table it loads (table = \"customers\", \"transactions\" or \"interactions\")"
                )));
            }
            if !source.whitespace_delimited()
                && (source.delimiter.chars().count() != 1 || !source.delimiter.is_ascii())
            {
                return Err(err(format!(
                    "sources.{name}.delimiter must be one ASCII character, or \"whitespace\""
                )));
            }
            if source.quote.chars().count() != 1 || !source.quote.is_ascii() {
                return Err(err(format!(
                    "sources.{name}.quote must be one ASCII character"
                )));
            }
            if let Some(tz) = &source.timezone {
                tz.parse::<chrono_tz::Tz>().map_err(|_| {
                    err(format!("sources.{name}.timezone: unknown time zone {tz:?}"))
                })?;
            }
            for (key, format) in [
                ("timestamp_format", &source.timestamp_format),
                ("date_format", &source.date_format),
            ] {
                if let Some(f) = format
                    && chrono::format::StrftimeItems::new(f)
                        .parse_to_owned()
                        .is_err()
                {
                    return Err(err(format!(
                        "sources.{name}.{key}: {f:?} is not a chrono format (e.g. \"%d.%m.%Y %H:%M\")"
                    )));
                }
            }
            let table = source.table(name).expect("checked above");
            for canonical in source.columns.keys() {
                if !crate::warehouse::tables::is_canonical(table, canonical) {
                    return Err(err(format!(
                        "sources.{name}.columns.{canonical}: not a column of the {} table (known: {})",
                        table.name(),
                        crate::warehouse::tables::canonical_names(table).join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn timezone(&self) -> Result<chrono_tz::Tz> {
        self.report.timezone.parse().map_err(|_| {
            Error::config(
                &self.path,
                format!(
                    "report.timezone: unknown time zone {:?}",
                    self.report.timezone
                ),
            )
        })
    }

    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The warehouse's folder; for a warehouse on object storage, the load's working copy.
    pub fn warehouse_dir(&self) -> PathBuf {
        let path = self.warehouse.path.to_string_lossy();
        if !crate::warehouse::remote::is_remote(&path) {
            return self.resolve(&self.warehouse.path);
        }
        if let Some(dir) = &self.warehouse.working_copy {
            return self.resolve(dir);
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        let place = path.split_once("://").map(|(_, p)| p).unwrap_or(&path);
        cache.join("crm/warehouses").join(place.trim_matches('/'))
    }

    /// The warehouse on object storage that `warehouse.path` names, if it names one.
    pub fn warehouse_remote(&self) -> Result<Option<crate::warehouse::remote::Remote>> {
        let path = self.warehouse.path.to_string_lossy();
        if !crate::warehouse::remote::is_remote(&path) {
            return Ok(None);
        }
        crate::warehouse::remote::Remote::new(&path)
            .map(Some)
            .map_err(|e| Error::config(&self.path, format!("warehouse.path: {e}")))
    }
}

fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(s) => {
            let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_that_names_it() {
        let err = Config::parse(
            "[warehouse]\npath = \"w\"\ncompresion = 1\n",
            Path::new("p.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("compresion"), "{msg}");
        assert!(msg.contains("p.toml"), "{msg}");
    }

    #[test]
    fn unknown_canonical_column_is_an_error() {
        let text = "[sources.transactions]\npath = \"o.csv\"\n[sources.transactions.columns]\ncustomer = \"Customer\"\n";
        let msg = Config::parse(text, Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("columns.customer"), "{msg}");
    }

    #[test]
    fn format_and_gzip_from_file_name() {
        let text = "[sources.transactions]\npath = \"orders.csv.gz\"\n[sources.interactions]\npath = \"events.jsonl\"\n";
        let c = Config::parse(text, Path::new("dir/p.toml")).unwrap();
        let t = &c.sources["transactions"];
        assert_eq!(t.format(), Format::Csv);
        assert!(t.gzip());
        assert_eq!(c.sources["interactions"].format(), Format::Jsonl);
        assert_eq!(c.resolve(&t.path), PathBuf::from("dir/orders.csv.gz"));
    }

    #[test]
    fn sizes_mean_what_their_units_say() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1.5 GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("512mib"), Ok(512 << 20));
        assert_eq!(parse_size("100000000"), Ok(100_000_000));
        assert!(parse_size("1MB").unwrap_err().contains("64MiB"));
        assert!(parse_size("two gigs").is_err());
        assert!(
            parse_size("99999999999999999999999GiB")
                .unwrap_err()
                .contains("larger than any machine")
        );
        assert!(parse_size("2PiB").is_err());
        assert_eq!(parse_size("1024TiB"), Ok(1 << 50));
        assert!(
            parse_size("3 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
    }
}
