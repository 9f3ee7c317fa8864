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
use datafusion::arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, IntervalMonthDayNanoArray, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Field, IntervalMonthDayNano, IntervalUnit, Schema, SchemaRef, TimeUnit,
};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext, SessionState};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TableProviderFilterPushDown, Volatility,
};
use datafusion::physical_plan::{ExecutionPlan, collect_partitioned};
use datafusion::prelude::DataFrame;

use crate::config::{Config, Monetary};
use crate::error::{Error, Result};
use crate::warehouse::Warehouse;
use crate::warehouse::tables::{self, Kind};

include!(concat!(env!("OUT_DIR"), "/queries.rs"));

/// Warehouse tables registered in every session.
pub const TABLES: [&str; 5] = [
    "customers",
    "transactions",
    "interactions",
    "rejects",
    tables::CUSTOMER_KEYS,
];

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
        let warehouse = Warehouse::open_snapshot(&config.warehouse_dir())?;
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
        let ctx =
            SessionContext::new_with_config_rt(session, runtime(config, warehouse.spill_dir())?);
        crate::periods::register(&ctx);
        crate::periods::register_report_time(&ctx, timezone);
        // At least two ranges: on one core they cost nothing more than one stream.
        let cores = ctx.state().config().target_partitions();
        let parts = CustomerParts::of(&warehouse, cores.max(2));
        for table in TABLES {
            register_table(&ctx, &warehouse, table, &parts).await?;
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
        register_views(&ctx, sorted, parts.count()).await?;
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

    pub fn has_view(name: &str) -> bool {
        QUERIES.iter().any(|(_, n, _)| *n == name)
    }
}

/// The Arrow schema of a warehouse table, as ingest writes it: timestamps are UTC instants;
/// `to_report_time(ts)` gives the wall clock of the report's zone.
pub fn table_schema(table: &str) -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    if table == "rejects" {
        return Arc::new(Schema::new(vec![
            Field::new("table", DataType::Utf8View, true),
            Field::new("source_file", DataType::Utf8View, true),
            Field::new("record_number", DataType::Int64, true),
            Field::new("raw_record", DataType::Utf8View, true),
            Field::new("reason", DataType::Utf8View, true),
            Field::new("kept", DataType::Boolean, true),
            Field::new("record_hash", DataType::Int64, true),
            Field::new("load_version", DataType::Int64, true),
        ]));
    }
    if table == tables::CUSTOMER_KEYS {
        return Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8View, true),
            Field::new("customer_key", DataType::Int64, true),
            Field::new("load_version", DataType::Int64, true),
        ]));
    }
    let t = crate::config::Table::from_name(table).expect("known table");
    let mut fields: Vec<Field> = tables::columns(t)
        .iter()
        .map(|c| {
            let dt = match c.kind {
                Kind::Str | Kind::Enum(_) => DataType::Utf8View,
                Kind::Date => DataType::Date32,
                Kind::Timestamp => ts.clone(),
                Kind::Decimal => DataType::Float64,
                Kind::Int | Kind::Score(..) => DataType::Int64,
                Kind::Bool => DataType::Boolean,
            };
            Field::new(c.name, dt, true)
        })
        .collect();
    fields.push(Field::new("attributes", DataType::Utf8View, true));
    fields.push(Field::new("record_hash", DataType::Int64, true));
    fields.push(Field::new("source_file", DataType::Utf8View, true));
    fields.push(Field::new("source_record", DataType::Int64, true));
    fields.push(Field::new("load_version", DataType::Int64, true));
    fields.push(Field::new("customer_key", DataType::Int64, true));
    if t == crate::config::Table::Transactions {
        fields.push(Field::new("order_key", DataType::Int64, true));
    }
    Arc::new(Schema::new(fields))
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
    let mut builder = RuntimeEnvBuilder::new();
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

/// `param_<name>()` for every column of `params`: a constant the planner folds into the plan,
/// so the hot views (every transaction passes through stg_transactions) filter and compute
/// against literals instead of joining each row with the one-row `params` table.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ParamFunction {
    name: String,
    value: ScalarValue,
    signature: Signature,
}

impl ScalarUDFImpl for ParamFunction {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(self.value.data_type())
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
    fn simplify(
        &self,
        _: Vec<Expr>,
        _: &SimplifyContext,
    ) -> datafusion::error::Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            self.value.clone(),
            None,
        )))
    }
}

fn register_param_functions(ctx: &SessionContext, params: &RecordBatch) -> Result<()> {
    for (field, column) in params.schema().fields().iter().zip(params.columns()) {
        let value =
            ScalarValue::try_from_array(column, 0).map_err(|e| Error::query("params", e))?;
        ctx.register_udf(ScalarUDF::new_from_impl(ParamFunction {
            name: format!("param_{}", field.name()),
            value,
            signature: Signature::exact(vec![], Volatility::Immutable),
        }));
    }
    Ok(())
}

async fn register_table(
    ctx: &SessionContext,
    wh: &Warehouse,
    table: &str,
    parts: &CustomerParts,
) -> Result<()> {
    let schema = table_schema(table);
    let files = wh.table_files(table);
    let err = |e: datafusion::error::DataFusionError| {
        Error::warehouse(&wh.dir, format!("table {table}: {e}"))
    };
    if files.is_empty() {
        let empty = MemTable::try_new(schema, vec![vec![]]).map_err(err)?;
        ctx.register_table(table, Arc::new(empty)).map_err(err)?;
        return Ok(());
    }
    let urls = files
        .iter()
        .map(|f| {
            let abs = std::path::absolute(f).map_err(|e| Error::io(f, e))?;
            ListingTableUrl::parse(abs.to_string_lossy()).map_err(err)
        })
        .collect::<Result<Vec<_>>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let listing = |options: ListingOptions| {
        let config = ListingTableConfig::new_with_multi_paths(urls.clone())
            .with_listing_options(options)
            .with_schema(schema.clone());
        ListingTable::try_new(config).map(Arc::new).map_err(err)
    };
    let plain = listing(options.clone())?;
    // Files written in an order (ingest/sort.rs) say so to the plans that stream over them.
    let provider: Arc<dyn TableProvider> = match wh.manifest.tables.get(table) {
        Some(entry) if !entry.sorted_by.is_empty() => {
            let order = entry
                .sorted_by
                .iter()
                .map(|c| datafusion::prelude::col(c.as_str()).sort(true, false))
                .collect();
            Arc::new(OrderedForOneStream {
                plain,
                ordered: listing(options.with_file_sort_order(vec![order]))?,
                parts: if table == "transactions" {
                    parts.clone()
                } else {
                    CustomerParts::default()
                },
            })
        }
        _ => plain,
    };
    ctx.register_table(table, provider).map_err(err)?;
    Ok(())
}

/// A table whose files are sorted. The order is declared to DataFusion only for plans run as
/// one stream (one target partition: the ordered marts of BY_CUSTOMER_RANGE), which then
/// aggregate a customer at a time. Over several partitions DataFusion would keep a declared
/// order by merging the partitions again after every hash repartition, slower than hashing
/// without it (BENCHMARKS.md), so those plans see the plain table. A plan whose session names a
/// [`CustomerPart`] reads only that range of customers.
#[derive(Debug)]
struct OrderedForOneStream {
    plain: Arc<ListingTable>,
    ordered: Arc<ListingTable>,
    /// The customer ranges a one-stream plan may be restricted to (a [`CustomerPart`] in its
    /// session config).
    parts: CustomerParts,
}

/// The customers one stream reads: part `index` of the table's [`CustomerParts`]. Set in the
/// session config of each of the plans a streamed mart runs side by side (CachedView).
#[derive(Debug, Clone, Copy)]
struct CustomerPart {
    index: usize,
    /// The range's rows in key order (one ordered stream), or as they come (hashed).
    ordered: bool,
}

/// The sorted transactions cut into ranges of customer keys of about equal rows, so that a
/// per-customer aggregate runs as one ordered stream per range, the ranges side by side: every
/// row of a customer is in one range, so the results of the ranges are simply put together.
/// From the first and last key of each row group the load recorded (`row_group_keys` in the
/// manifest); a table without them for every file is one range.
#[derive(Debug, Clone, Default)]
struct CustomerParts {
    /// Range i is the keys `cuts[i - 1] <= key < cuts[i]`, unbounded at both ends.
    cuts: Vec<i64>,
    /// Per file (its path relative to the warehouse): the key range of each row group.
    row_groups: Vec<(String, Vec<(i64, i64)>)>,
}

impl CustomerParts {
    fn of(wh: &Warehouse, wanted: usize) -> CustomerParts {
        let Some(entry) = wh.manifest.tables.get("transactions") else {
            return CustomerParts::default();
        };
        if entry.sorted_by.is_empty()
            || wanted < 2
            || !entry
                .files
                .iter()
                .all(|f| entry.row_group_keys.contains_key(f))
        {
            return CustomerParts::default();
        }
        let row_groups: Vec<(String, Vec<(i64, i64)>)> = entry
            .files
            .iter()
            .map(|f| (f.clone(), entry.row_group_keys[f].clone()))
            .collect();
        // Each row group by its first key, weighed by one (row groups hold about equal rows);
        // a cut at the first key of the row group where the count passes i/wanted of them.
        let mut firsts: Vec<i64> = row_groups
            .iter()
            .flat_map(|(_, groups)| groups.iter().map(|g| g.0))
            .collect();
        firsts.sort_unstable();
        let mut cuts: Vec<i64> = (1..wanted)
            .map(|i| firsts[i * firsts.len() / wanted])
            .filter(|&k| k > firsts[0])
            .collect();
        cuts.dedup();
        CustomerParts { cuts, row_groups }
    }

    fn count(&self) -> usize {
        self.cuts.len() + 1
    }

    /// The keys of part `i`: `lo <= key < hi`.
    fn range(&self, i: usize) -> (i64, i64) {
        let lo = if i == 0 { i64::MIN } else { self.cuts[i - 1] };
        let hi = self.cuts.get(i).copied().unwrap_or(i64::MAX);
        (lo, hi)
    }

    /// `plan` (a scan of every file, in key order within each) restricted to part `i`: each
    /// file reads only its row groups that hold keys of the part, the files are merged in key
    /// order, and rows of other parts in those row groups are filtered out.
    fn restrict(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        i: usize,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        use datafusion::datasource::physical_plan::parquet::ParquetAccessPlan;
        use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
        use datafusion::datasource::source::DataSourceExec;
        use datafusion::logical_expr::Operator;
        use datafusion::physical_expr::expressions::{binary, col, lit};
        use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
        use datafusion::physical_plan::empty::EmptyExec;
        use datafusion::physical_plan::filter::FilterExec;
        use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;

        let internal = |what: &str| {
            datafusion::error::DataFusionError::Execution(format!(
                "customer range of the sorted transactions: {what}"
            ))
        };
        let (lo, hi) = self.range(i);
        let config = plan
            .downcast_ref::<DataSourceExec>()
            .and_then(|e| e.data_source().downcast_ref::<FileScanConfig>())
            .ok_or_else(|| internal("the scan is not a Parquet file scan"))?;
        let mut groups = Vec::new();
        let mut whole = true;
        for file in config.file_groups.iter().flat_map(|g| g.iter()) {
            let location = file.object_meta.location.as_ref();
            let (_, keys) = self
                .row_groups
                .iter()
                .find(|(rel, _)| location.ends_with(rel.as_str()))
                .ok_or_else(|| internal(&format!("no row group keys for {location}")))?;
            let mut access = ParquetAccessPlan::new_none(keys.len());
            let mut any = false;
            for (g, &(first, last)) in keys.iter().enumerate() {
                if last >= lo && first < hi {
                    access.scan(g);
                    any = true;
                    whole &= first >= lo && last < hi;
                }
            }
            if any {
                let file = file.clone().with_extension(access);
                groups.push(FileGroup::new(vec![file]));
            }
        }
        if groups.is_empty() {
            return Ok(Arc::new(EmptyExec::new(plan.schema())));
        }
        let mut config = config.clone();
        let several = groups.len() > 1;
        config.file_groups = groups;
        config.preserve_order = true;
        let mut exec: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        // A file a partition: each in key order (over several files in one partition the
        // scan promises none), merged into one stream in key order.
        // A file a partition: each in key order (over several files in one partition the
        // scan promises none), merged into one stream in key order; or, unordered, one after
        // the other.
        match exec.properties().output_ordering().cloned() {
            Some(ordering) if several => {
                exec = Arc::new(SortPreservingMergeExec::new(ordering, exec));
            }
            None if several => {
                exec = Arc::new(CoalescePartitionsExec::new(exec));
            }
            _ => {}
        }
        if !whole {
            let schema = exec.schema();
            let key = col(tables::SORT_KEYS[0], &schema)?;
            let from = binary(key.clone(), Operator::GtEq, lit(lo), &schema)?;
            let to = binary(key, Operator::Lt, lit(hi), &schema)?;
            let within = binary(from, Operator::And, to, &schema)?;
            exec = Arc::new(FilterExec::try_new(within, exec)?);
        }
        Ok(exec)
    }
}

#[async_trait::async_trait]
impl TableProvider for OrderedForOneStream {
    fn schema(&self) -> SchemaRef {
        self.plain.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        self.plain.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        if state.config().target_partitions() != 1 {
            return self.plain.scan(state, projection, filters, limit).await;
        }
        match state.config().get_extension::<CustomerPart>() {
            Some(part) if self.parts.count() > 1 => {
                let table = if part.ordered {
                    &self.ordered
                } else {
                    &self.plain
                };
                let plan = table.scan(state, projection, filters, limit).await?;
                self.parts.restrict(plan, part.index)
            }
            _ => self.ordered.scan(state, projection, filters, limit).await,
        }
    }
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

/// The default as_of (the day after the last transaction day in the report's zone) from the
/// latest `ts` each transactions file recorded, without reading the files. None when a file
/// has no record of it, or when the zone's offset changed in the two days before the latest
/// instant: then an earlier instant could be later on the wall clock, and only a scan knows.
/// (An instant more than two days earlier is earlier on any wall clock: offsets differ by
/// at most 26 hours.)
fn as_of_from_manifest(wh: &Warehouse, tz: Tz) -> Option<NaiveDate> {
    use chrono::{Offset, TimeZone};
    let entry = wh.manifest.tables.get("transactions")?;
    if entry.files.is_empty() {
        return None;
    }
    let latest = entry
        .files
        .iter()
        .map(|f| entry.latest_ts.get(f).copied())
        .collect::<Option<Vec<i64>>>()?
        .into_iter()
        .max()?;
    let at = chrono::DateTime::from_timestamp_micros(latest)?;
    let offset = |t: chrono::DateTime<chrono::Utc>| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let here = offset(at);
    let steady = (1..=48).all(|h| offset(at - Duration::hours(h)) == here);
    steady.then(|| at.with_timezone(&tz).date_naive() + Duration::days(1))
}

/// The day of the warehouse's last load in the report's zone (None for a manifest without a
/// time of its own).
fn last_load_day(wh: &Warehouse, tz: Tz) -> Option<NaiveDate> {
    let at = chrono::DateTime::parse_from_rfc3339(&wh.manifest.updated_at).ok()?;
    Some(at.with_timezone(&tz).date_naive())
}

async fn default_as_of(ctx: &SessionContext, tz: Tz) -> Result<NaiveDate> {
    // With no transaction at all, today in the report's zone.
    let df = ctx
        .sql("select max(to_report_time(ts)) as last_ts from transactions")
        .await
        .map_err(|e| Error::query("as_of", e))?;
    let batches = df.collect().await.map_err(|e| Error::query("as_of", e))?;
    let last = batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .cloned()
        })
        .and_then(|a| {
            if a.is_empty() || a.is_null(0) {
                None
            } else {
                Some(a.value(0))
            }
        });
    match last {
        Some(micros) => {
            let _ = tz;
            let day = chrono::DateTime::from_timestamp_micros(micros)
                .expect("valid")
                .naive_utc()
                .date();
            Ok(day + Duration::days(1))
        }
        None => Ok(chrono::Utc::now().with_timezone(&tz).date_naive()),
    }
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn midnight_micros(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros()
}

fn params_batch(config: &Config, as_of: NaiveDate, tz: Tz) -> Result<RecordBatch> {
    let window_start = config
        .rfm
        .window_days
        .map(|d| midnight_micros(as_of - Duration::days(d as i64)));
    let monetary = match config.rfm.monetary {
        Monetary::Net => "net",
        Monetary::Gross => "gross",
        Monetary::MeanOrder => "mean_order",
    };
    let naive_ts = || DataType::Timestamp(TimeUnit::Microsecond, None);
    let int = |name: &str, v: u32| {
        (
            Field::new(name, DataType::Int64, false),
            Arc::new(Int64Array::from(vec![v as i64])) as ArrayRef,
        )
    };
    let text = |name: &str, v: &str| {
        (
            Field::new(name, DataType::Utf8, false),
            Arc::new(StringArray::from(vec![v.to_string()])) as ArrayRef,
        )
    };
    let columns: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("as_of", naive_ts(), false),
            Arc::new(TimestampMicrosecondArray::from(vec![midnight_micros(
                as_of,
            )])),
        ),
        (
            Field::new("as_of_date", DataType::Date32, false),
            Arc::new(Date32Array::from(vec![days(as_of)])),
        ),
        text("timezone", &tz.to_string()),
        int("rfm_bins", config.rfm.bins),
        // No window: the start of time (year 1), so that `ts >= rfm_window_start` keeps all.
        (
            Field::new("rfm_window_start", naive_ts(), false),
            Arc::new(TimestampMicrosecondArray::from(vec![
                window_start.unwrap_or(-62_135_596_800_000_000),
            ])),
        ),
        text("rfm_monetary", monetary),
        text("period", config.retention.period.name()),
        int("active_periods", config.retention.active_periods),
        int("active_days", config.retention.active_days),
        int("new_days", config.lifecycle.new_days),
        int("at_risk_days", config.lifecycle.at_risk_days),
        text("forecast_period", config.forecast.period.name()),
        int("forecast_lookback", config.forecast.lookback),
        int("forecast_horizon", config.forecast.horizon),
        int("attribution_days", config.campaign.attribution_days),
        (
            Field::new(
                "attribution_window",
                DataType::Interval(IntervalUnit::MonthDayNano),
                false,
            ),
            Arc::new(IntervalMonthDayNanoArray::from(vec![
                IntervalMonthDayNano::new(0, config.campaign.attribution_days as i32, 0),
            ])),
        ),
        (
            Field::new("min_support", DataType::Float64, false),
            Arc::new(Float64Array::from(vec![config.affinity.min_support])),
        ),
    ];
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| Error::query("params", e))
}

/// Every load's per-file counts from the manifest, as the table `load_stats`.
fn load_stats_batch(wh: &Warehouse) -> Result<RecordBatch> {
    let files: Vec<(u64, &str, &crate::warehouse::FileStats)> = wh
        .manifest
        .loads
        .iter()
        .flat_map(|l| l.files.iter().map(move |f| (l.version, l.at.as_str(), f)))
        .collect();
    let ints = |f: &dyn Fn(&crate::warehouse::FileStats) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from(
            files
                .iter()
                .map(|(_, _, s)| f(s) as i64)
                .collect::<Vec<_>>(),
        ))
    };
    let texts = |f: &dyn Fn(&(u64, &str, &crate::warehouse::FileStats)) -> String| -> ArrayRef {
        Arc::new(StringArray::from(files.iter().map(f).collect::<Vec<_>>()))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("load_version", DataType::Int64, false),
        Field::new("loaded_at", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("rows_read", DataType::Int64, false),
        Field::new("rows_loaded", DataType::Int64, false),
        Field::new("rows_rejected", DataType::Int64, false),
        Field::new("duplicates", DataType::Int64, false),
        Field::new("flagged", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(
            files.iter().map(|(v, _, _)| *v as i64).collect::<Vec<_>>(),
        )),
        texts(&|(_, at, _)| at.to_string()),
        texts(&|(_, _, s)| s.source.clone()),
        texts(&|(_, _, s)| s.table.clone()),
        texts(&|(_, _, s)| s.path.clone()),
        ints(&|s| s.read),
        ints(&|s| s.loaded),
        ints(&|s| s.rejected),
        ints(&|s| s.duplicates),
        ints(&|s| s.flagged),
    ];
    RecordBatch::try_new(schema, columns).map_err(|e| Error::query("load_stats", e))
}

/// Creates every query file's view. Views of one layer may use each other in any order: a view
/// whose inputs are not there yet is retried after the others.
/// A mart (queries/marts) computed at most once per session: the first query that reads it runs
/// its plan and keeps the rows; every later reference, in the same query or the next, reads them
/// from memory. DataFusion plans each reference to a view afresh, so without this a view read
/// three times scans the transactions three times. Marts have customer or customer-period grain,
/// far fewer rows than the transactions they are computed from.
#[derive(Debug)]
struct CachedView {
    name: String,
    plan: LogicalPlan,
    schema: SchemaRef,
    rows: tokio::sync::OnceCell<Vec<Vec<RecordBatch>>>,
    /// Computed per range of customers (see BY_CUSTOMER_RANGE), or as any query.
    by_range: Option<ByRange>,
    /// The customer ranges of the sorted transactions, computed side by side.
    parts: usize,
}

/// How a mart over the sorted transactions is computed per range of customers: each range as
/// one ordered stream (a customer at a time), or each range hashed on its own (no exchange of
/// rows between the ranges, whose customers differ).
#[derive(Debug, Clone, Copy, PartialEq)]
enum ByRange {
    Ordered,
    Hashed,
}

#[async_trait::async_trait]
impl TableProvider for CachedView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let partitions = self
            .rows
            .get_or_try_init(|| async {
                if let Some(mode) = self.by_range
                    && (self.parts > 1 || mode == ByRange::Ordered)
                    && let Some(s) = state.as_any().downcast_ref::<SessionState>()
                {
                    let mut s = s.clone();
                    s.config_mut().options_mut().execution.target_partitions = 1;
                    if self.parts < 2 {
                        let plan = s.create_physical_plan(&self.plan).await?;
                        return Ok(compact(collect_partitioned(plan, s.task_ctx()).await?));
                    }
                    // One task per customer range, so that the ranges run on every core.
                    let mut tasks = Vec::new();
                    for index in 0..self.parts {
                        let mut s = s.clone();
                        s.config_mut().set_extension(Arc::new(CustomerPart {
                            index,
                            ordered: mode == ByRange::Ordered,
                        }));
                        let plan = s.create_physical_plan(&self.plan).await?;
                        let task = s.task_ctx();
                        tasks.push(tokio::spawn(datafusion::physical_plan::collect(plan, task)));
                    }
                    let mut partitions = Vec::new();
                    for task in tasks {
                        let batches = task.await.map_err(|e| {
                            datafusion::error::DataFusionError::External(Box::new(e))
                        })??;
                        partitions.push(batches);
                    }
                    if mode == ByRange::Ordered {
                        // One partition, as one stream gives: what reads the RFM inputs ranks
                        // all customers, a sort of one partition.
                        return Ok(compact(vec![partitions.into_iter().flatten().collect()]));
                    }
                    return Ok(compact(partitions));
                }
                let plan = state.create_physical_plan(&self.plan).await?;
                let partitions = collect_partitioned(plan, state.task_ctx()).await?;
                Ok::<_, datafusion::error::DataFusionError>(compact(partitions))
            })
            .await
            .map_err(|e| e.context(format!("computing {}", self.name)))?;
        let exec =
            MemorySourceConfig::try_new_exec(partitions, self.schema.clone(), projection.cloned())?;
        Ok(exec)
    }
}

/// A mart's rows with their text columns copied into buffers of their own. Text a join looked
/// up (customer ids from customer_keys) arrives as views into the whole looked-up column, and
/// DataFusion counts that column again for every batch: the 917k RFM rows at 100M lines counted
/// as 1 GB in a sort, and under `--memory-limit 2GiB` the ranking failed to merge its spills.
fn compact(partitions: Vec<Vec<RecordBatch>>) -> Vec<Vec<RecordBatch>> {
    use datafusion::arrow::array::AsArray;
    partitions
        .into_iter()
        .map(|batches| {
            batches
                .into_iter()
                .map(|batch| {
                    let columns = batch
                        .columns()
                        .iter()
                        .map(|c| match c.data_type() {
                            DataType::Utf8View => Arc::new(c.as_string_view().gc()) as ArrayRef,
                            DataType::BinaryView => Arc::new(c.as_binary_view().gc()) as ArrayRef,
                            _ => c.clone(),
                        })
                        .collect();
                    RecordBatch::try_new(batch.schema(), columns).expect("same schema")
                })
                .collect()
        })
        .collect()
}

async fn register_cached_view(
    ctx: &SessionContext,
    name: &str,
    sql: &str,
    by_range: Option<ByRange>,
    parts: usize,
) -> datafusion::error::Result<()> {
    let plan = ctx.sql(sql).await?.into_unoptimized_plan();
    let schema = Arc::new(plan.schema().as_arrow().clone());
    ctx.register_table(
        name,
        Arc::new(CachedView {
            name: name.to_string(),
            plan,
            schema,
            rows: tokio::sync::OnceCell::new(),
            by_range,
            parts,
        }),
    )?;
    Ok(())
}

/// Marts that aggregate the transactions per customer, computed over transactions sorted by
/// customer once per range of customers ([`CustomerParts`]), the ranges side by side.
/// The RFM inputs stream each range in key order, a customer at a time. (Split over hash
/// partitions, the ordered rows are re-merged by hash: slower than one stream; BENCHMARKS.md.)
/// customer_periods hashes each range: its groups (customer and month) are few enough that one
/// ordered stream per range was no faster than hashing on both cores.
const BY_CUSTOMER_RANGE: [(&str, ByRange); 2] = [
    ("customer_rfm_inputs", ByRange::Ordered),
    ("customer_periods", ByRange::Hashed),
];

async fn register_views(ctx: &SessionContext, sorted: bool, parts: usize) -> Result<()> {
    let mut pending: Vec<&(&str, &str, &str)> = QUERIES.iter().collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        for q in &pending {
            let (layer, name, sql) = **q;
            let sql = sql.trim().trim_end_matches(';');
            let registered = if layer == "marts" {
                let by_range = BY_CUSTOMER_RANGE
                    .iter()
                    .find(|(mart, _)| *mart == name)
                    .filter(|_| sorted)
                    .map(|(_, mode)| *mode);
                register_cached_view(ctx, name, sql, by_range, parts).await
            } else {
                ctx.sql(&format!("create view {name} as {sql}"))
                    .await
                    .map(|_| ())
            };
            if let Err(e) = registered {
                errors.push((format!("{layer}/{name}.sql"), e.to_string()));
                failed.push(*q);
            }
        }
        if failed.len() == pending.len() {
            // Report the views that fail for a reason of their own, not for a missing input
            // that is itself one of the failing views.
            let waiting_on_pending = |msg: &str| {
                failed
                    .iter()
                    .any(|(_, n, _)| msg.contains(&format!("public.{n}' not found")))
            };
            let root: Vec<_> = errors
                .iter()
                .filter(|(_, m)| !waiting_on_pending(m))
                .collect();
            let shown = if root.is_empty() {
                errors.iter().collect()
            } else {
                root
            };
            let (name, msg) = shown[0];
            return Err(Error::query(name.clone(), msg));
        }
        pending = failed;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::{Manifest, TableEntry};

    fn warehouse(files: &[(&str, Vec<(i64, i64)>)], sorted: bool) -> Warehouse {
        let mut entry = TableEntry::default();
        for (name, groups) in files {
            entry.files.push(name.to_string());
            if !groups.is_empty() {
                entry
                    .row_group_keys
                    .insert(name.to_string(), groups.clone());
            }
        }
        if sorted {
            entry.sorted_by = vec!["customer_key".into(), "order_key".into()];
        }
        let mut manifest = Manifest::default();
        manifest.tables.insert("transactions".into(), entry);
        Warehouse::with_manifest("wh".into(), manifest)
    }

    /// Ranges are cut at row-group starts, about equal in row groups, cover every key once,
    /// and there is one range when a file has no record or the table no order.
    #[test]
    fn customer_ranges_cut_the_recorded_row_groups_evenly() {
        let one = warehouse(&[("a", vec![(1, 10), (11, 20), (21, 30), (31, 40)])], true);
        let parts = CustomerParts::of(&one, 2);
        assert_eq!(parts.cuts, vec![21]);
        assert_eq!(parts.range(0), (i64::MIN, 21));
        assert_eq!(parts.range(1), (21, i64::MAX));
        assert_eq!(CustomerParts::of(&one, 4).cuts, vec![11, 21, 31]);

        // Two loads whose customers interleave: cuts at starts of either's row groups.
        let two = warehouse(
            &[
                ("a", vec![(1, 10), (11, 20), (21, 30), (31, 40)]),
                ("b", vec![(1, 15), (16, 25), (26, 35), (36, 45)]),
            ],
            true,
        );
        assert_eq!(CustomerParts::of(&two, 2).cuts, vec![21]);

        // One row group spanning every customer: nowhere to cut.
        assert_eq!(
            CustomerParts::of(&warehouse(&[("a", vec![(1, 40)])], true), 2).count(),
            1
        );
        // A file without its record, or a table without order: one range.
        let partly = warehouse(&[("a", vec![(1, 10), (11, 20)]), ("b", vec![])], true);
        assert_eq!(CustomerParts::of(&partly, 2).count(), 1);
        let unsorted = warehouse(&[("a", vec![(1, 10), (11, 20)])], false);
        assert_eq!(CustomerParts::of(&unsorted, 2).count(), 1);
    }
}
