//! The one place that builds the DataFusion session every command shares: it registers the
//! warehouse tables with explicit schemas, the one-row `params` table, and every query file of
//! `queries/` as a named view, layer by layer (seeds -> staging -> marts -> analysis), so that a
//! query can select from another by its name.
//!
//! Parameters reach SQL one way only: the columns of the one-row table `params`
//! (`as_of`, `as_of_date`, `timezone`, the `rfm_*` settings, `period`, `active_periods`,
//! `active_days`, `new_days`, `at_risk_days`, `forecast_*`, `attribution_days` and
//! `attribution_window` (the same as an interval), `min_support`).

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::DataFrame;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::warehouse::Warehouse;
use crate::warehouse::tables;

pub mod cluster;
mod params;
mod scan;
mod views;

use params::{
    as_of_from_manifest, default_as_of, last_load_day, load_stats_batch, params_batch,
    register_param_functions,
};
pub use scan::table_schema;
use scan::{CustomerParts, register_table};
use views::register_views;

include!(concat!(env!("OUT_DIR"), "/queries.rs"));

/// Warehouse tables registered in every session.
pub const TABLES: [&str; 5] = [
    "customers",
    "transactions",
    "interactions",
    "rejects",
    tables::CUSTOMER_KEYS,
];

/// The SQL of `queries/outputs/<name>.sql`. The names are the code's own: a missing one is a
/// bug that every test run meets.
fn output_sql(name: &str) -> &'static str {
    match OUTPUTS.iter().find(|(n, _)| *n == name) {
        Some((_, sql)) => sql,
        None => panic!("no query {name:?} in queries/outputs"),
    }
}

/// The async runtime every command's queries run on. Its threads get 32 MiB stacks, as
/// Ballista's own scheduler and executor binaries give theirs: turning a plan into its wire form
/// and back recurses once per node, and crm's analysis plans (views over views over marts) are
/// deep enough to overflow the default 2 MiB in a cluster process. The stacks are address space,
/// touched only as deep as a thread goes.
pub fn async_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(32 * 1024 * 1024)
        .enable_all()
        .build()
        .map_err(|e| Error::analysis("runtime", format!("cannot start the async runtime: {e}")))
}

/// The result of a query: its batches and their schema.
#[derive(Debug, Clone)]
pub struct Rows {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Rows {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

pub struct Engine {
    pub ctx: SessionContext,
    pub as_of: NaiveDate,
    pub timezone: Tz,
    pub warehouse: Warehouse,
}

impl Engine {
    /// Opens the warehouse of `config` and registers everything. `as_of` defaults to the day
    /// after the last transaction day (METRICS.md "Time and money").
    pub async fn open(config: &Config, as_of: Option<NaiveDate>) -> Result<Engine> {
        let warehouse = match config.warehouse_remote()? {
            Some(remote) => Warehouse::open_remote(remote).await?,
            None => Warehouse::open_snapshot(&config.warehouse_dir())?,
        };
        if warehouse.lacks_keys() {
            return Err(Error::warehouse(
                &warehouse.dir,
                "written by an earlier crm, without customer keys: `crm ingest` upgrades it (once, keeping every row)",
            ));
        }
        let timezone = config.timezone()?;
        let session = SessionConfig::new()
            .with_information_schema(true)
            .set_str("datafusion.execution.time_zone", &timezone.to_string())
            // A group-by whose groups are more than half its rows (orders per customer: 7M
            // groups in 10M lines) skips the partial aggregation after its first 100k rows
            // instead of building every group twice (default 0.8; BENCHMARKS.md).
            .set_str(
                "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
                "0.5",
            );
        // On a cluster the executors hold the memory and spill: the settings travel with the
        // session, the runtime stays theirs.
        let on_cluster = config.engine.cluster.is_some();
        let ctx = match &config.engine.cluster {
            Some(url) => cluster::remote_context(url, session).await?,
            None => {
                SessionContext::new_with_config_rt(session, runtime(config, warehouse.spill_dir())?)
            }
        };
        crate::periods::register(&ctx);
        crate::periods::register_report_time(&ctx, timezone);
        // At least two ranges: on one core they cost nothing more than one stream. A cluster
        // gets none: its tables are plain file listings every process can read.
        let cores = ctx.state().config().target_partitions();
        let parts = if on_cluster {
            CustomerParts::default()
        } else {
            CustomerParts::of(&warehouse, cores.max(2))
        };
        for table in TABLES {
            register_table(&ctx, &warehouse, table, &parts, on_cluster).await?;
        }
        let as_of = match as_of {
            Some(d) => d,
            None => {
                let day = match as_of_from_manifest(&warehouse, timezone) {
                    Some(day) => day,
                    None => default_as_of(&ctx, timezone).await?,
                };
                // Never past the day after the last load: rows dated later (loaded before
                // the warehouse checked times, or a clock ahead) must not move "today".
                match last_load_day(&warehouse, timezone) {
                    Some(load_day) => day.min(load_day + Duration::days(1)),
                    None => day,
                }
            }
        };
        let params = params_batch(config, as_of, timezone)?;
        register_param_functions(&ctx, &params)?;
        ctx.register_batch("params", params)
            .map_err(|e| Error::query("params", e))?;
        ctx.register_batch("load_stats", load_stats_batch(&warehouse)?)
            .map_err(|e| Error::query("load_stats", e))?;
        let sorted = !warehouse
            .manifest
            .tables
            .get("transactions")
            .is_none_or(|t| t.sorted_by.is_empty());
        register_views(&ctx, sorted, parts.count(), on_cluster).await?;
        pause_for_test();
        Ok(Engine {
            ctx,
            as_of,
            timezone,
            warehouse,
        })
    }

    /// Runs SQL written by the user: queries only, no DDL, DML or statements.
    pub async fn user_sql(&self, name: &str, sql: &str) -> Result<DataFrame> {
        let opts = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        self.ctx
            .sql_with_options(sql, opts)
            .await
            .map_err(|e| Error::query(name, e))
    }

    /// All rows of a registered view or table.
    pub async fn view(&self, name: &str) -> Result<DataFrame> {
        self.ctx
            .table(name)
            .await
            .map_err(|e| Error::query(name, e))
    }

    pub async fn collect(&self, name: &str, df: DataFrame) -> Result<Vec<RecordBatch>> {
        df.collect().await.map_err(|e| Error::query(name, e))
    }

    /// The query `queries/outputs/<name>.sql`, its placeholders `$1`, `$2`, ... bound to
    /// `params` in order.
    pub async fn output(&self, name: &str, params: Vec<ScalarValue>) -> Result<DataFrame> {
        let df = self.user_sql(name, output_sql(name)).await?;
        if params.is_empty() {
            return Ok(df);
        }
        df.with_param_values(params)
            .map_err(|e| Error::query(name, e))
    }

    /// The rows of `queries/outputs/<name>.sql` (see [`Engine::output`]) and their schema, which
    /// an empty result has too.
    pub async fn read(&self, name: &str, params: Vec<ScalarValue>) -> Result<Rows> {
        let df = self.output(name, params).await?;
        let schema = df.schema().inner().clone();
        let batches = self.collect(name, df).await?;
        Ok(Rows { schema, batches })
    }

    pub fn has_view(name: &str) -> bool {
        QUERIES.iter().any(|(_, n, _)| *n == name)
    }
}

/// The runtime: with `engine.memory_limit`, a fair spilling pool of that size (every spilling
/// operator gets an equal share, so a sort and an aggregation in one plan both fit) that names
/// its largest consumers when a query still cannot fit. Without it, DataFusion's unbounded
/// default. Spill files go to the reader lease's folder in the warehouse (`spill`), which the
/// next load removes if this process is killed.
fn runtime(config: &Config, spill: Option<std::path::PathBuf>) -> Result<Arc<RuntimeEnv>> {
    let limit = config
        .engine
        .memory_limit_bytes()
        .map_err(|m| Error::config(&config.path, format!("engine.memory_limit: {m}")))?;
    let mut builder = RuntimeEnvBuilder::new()
        .with_object_store_registry(crate::warehouse::remote::Stores::registry());
    if let Some(dir) = spill {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        builder = builder.with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir])),
        );
    }
    if let Some(bytes) = limit {
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            std::num::NonZeroUsize::new(3).expect("3 > 0"),
        );
        builder = builder.with_memory_pool(Arc::new(pool));
    }
    builder
        .build_arc()
        .map_err(|e| Error::analysis("engine", format!("cannot set up the query engine: {e}")))
}

/// Environment variable naming a file the engine waits for once it has opened its version of
/// the warehouse: the test of snapshot reads runs a load at that moment.
pub const PAUSE_ENV: &str = "CRM_TEST_PAUSE_AFTER_OPEN";

fn pause_for_test() {
    let Some(go) = std::env::var_os(PAUSE_ENV) else {
        return;
    };
    let go = std::path::PathBuf::from(go);
    let ready = go.with_extension("opened");
    let _ = std::fs::write(&ready, b"");
    let start = std::time::Instant::now();
    while !go.exists() && start.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
