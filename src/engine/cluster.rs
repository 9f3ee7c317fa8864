//! Cluster runs on Apache Ballista. A plan leaves the client as a datafusion-proto message, the
//! scheduler splits it into stages and the executors run them; every process must understand
//! every node of a crm plan. What crm adds to DataFusion's wire form is here, in one codec that
//! the client, `crm scheduler` and `crm executor` all use:
//!
//! - crm's functions carry what they are bound to: `to_report_time` / `to_report_date` their
//!   time zone, `param_*()` their value (the planner folds those into literals before a plan
//!   leaves, so they travel only when it did not); `period_*` travel by name;
//! - an in-memory table (`params`, `load_stats`, a seed) travels with its rows as Arrow IPC.
//!
//! Everything else goes to Ballista's own codecs. A process without this codec (a stock Ballista
//! executor) cannot decode a crm function and fails the task with DataFusion's "not provided for
//! scalar function" error, which the client reports as a cluster error: never a wrong answer.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, ScalarValue, TableReference};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use super::params::{ParamFunction, param_udf};

type DfResult<T> = datafusion::error::Result<T>;

/// How a crm function is written on the wire: a tag, then what it is bound to.
const TAG_REPORT_TIME: u8 = 1;
const TAG_PARAM: u8 = 2;
const TAG_PERIOD: u8 = 3;
/// The tag of an in-memory table's rows.
const TAG_MEM_TABLE: u8 = 0xC7;

/// crm's functions and in-memory tables in a logical plan (client -> scheduler).
#[derive(Debug, Default)]
pub struct CrmLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

/// crm's functions in a physical plan (scheduler -> executors).
#[derive(Debug, Default)]
pub struct CrmPhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
    let name = node.name();
    if let Some(r) = node.inner().downcast_ref::<crate::periods::ReportTime>() {
        buf.push(TAG_REPORT_TIME);
        buf.extend_from_slice(r.zone.name().as_bytes());
    } else if let Some(p) = node.inner().downcast_ref::<ParamFunction>() {
        buf.push(TAG_PARAM);
        let one = ScalarValue::iter_to_array([p.value.clone()])?;
        let batch = RecordBatch::try_from_iter([("v", one)])?;
        buf.extend_from_slice(&ipc(&batch.schema(), &[batch])?);
    } else if crate::periods::udfs().iter().any(|u| u.name() == name) {
        buf.push(TAG_PERIOD);
    }
    Ok(())
}

fn decode_udf(name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
    let unknown = || {
        DataFusionError::Plan(format!(
            "this process does not know the function {name}: every process of a crm cluster must be `crm scheduler` / `crm executor` of the same crm version"
        ))
    };
    match buf.first() {
        Some(&TAG_REPORT_TIME) => {
            let zone: chrono_tz::Tz = std::str::from_utf8(&buf[1..])
                .ok()
                .and_then(|z| z.parse().ok())
                .ok_or_else(|| DataFusionError::Plan(format!("{name}: not a time zone")))?;
            crate::periods::report_time_udfs(zone)
                .into_iter()
                .find(|u| u.name() == name)
                .map(Arc::new)
                .ok_or_else(unknown)
        }
        Some(&TAG_PARAM) => {
            let batches = from_ipc(&buf[1..])?;
            let value = ScalarValue::try_from_array(batches[0].column(0), 0)?;
            Ok(Arc::new(param_udf(name, value)))
        }
        Some(&TAG_PERIOD) => crate::periods::udfs()
            .into_iter()
            .find(|u| u.name() == name)
            .map(Arc::new)
            .ok_or_else(unknown),
        // DataFusion's own functions outside the registry Ballista gives a task (`range`, the
        // other nested-type functions).
        _ => datafusion::functions::all_default_functions()
            .into_iter()
            .chain(datafusion::functions_nested::all_default_nested_functions())
            .find(|f| f.name() == name || f.aliases().iter().any(|a| a == name))
            .ok_or_else(unknown),
    }
}

fn ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> DfResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new(&mut out, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    drop(w);
    Ok(out)
}

fn from_ipc(buf: &[u8]) -> DfResult<Vec<RecordBatch>> {
    let reader = StreamReader::try_new(buf, None)?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

impl LogicalExtensionCodec for CrmLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> DfResult<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        if buf.first() == Some(&TAG_MEM_TABLE) {
            let batches = from_ipc(&buf[1..])?;
            return Ok(Arc::new(MemTable::try_new(schema, vec![batches])?));
        }
        self.ballista
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        if let Some(mem) = node.downcast_ref::<MemTable>() {
            let mut batches = Vec::new();
            for partition in mem.batches.iter() {
                // Nothing writes a registered table's rows: the lock is free.
                let rows = partition.try_read().map_err(|_| {
                    DataFusionError::Plan(format!("table {table_ref} is being written"))
                })?;
                batches.extend(rows.iter().cloned());
            }
            buf.push(TAG_MEM_TABLE);
            buf.extend_from_slice(&ipc(&mem.schema(), &batches)?);
            return Ok(());
        }
        self.ballista
            .try_encode_table_provider(table_ref, node, buf)
            .map_err(|e| {
                DataFusionError::Plan(format!(
                    "table {table_ref} cannot be sent to a cluster ({e})"
                ))
            })
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> DfResult<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<AggregateUDF>> {
        self.ballista.try_decode_udaf(name, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<WindowUDF>> {
        self.ballista.try_decode_udwf(name, buf)
    }
}

impl PhysicalExtensionCodec for CrmPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.ballista.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        self.ballista.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<AggregateUDF>> {
        self.ballista.try_decode_udaf(name, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<WindowUDF>> {
        self.ballista.try_decode_udwf(name, buf)
    }
}

/// The scheduler's host and port in a `df://HOST:PORT` address (the port defaults to 50050,
/// Ballista's).
pub fn scheduler_address(url: &str) -> std::result::Result<(String, u16), String> {
    let rest = url.strip_prefix("df://").ok_or_else(|| {
        format!("cluster address {url:?}: write it as df://HOST:PORT (the Ballista scheduler)")
    })?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("cluster address {url:?}: {p:?} is not a port"))?,
        ),
        None => (rest, 50050),
    };
    if host.is_empty() {
        return Err(format!("cluster address {url:?} names no host"));
    }
    Ok((host.to_string(), port))
}

/// A session whose queries run on the cluster at `url`, with crm's codec and `config`'s
/// settings (the report's zone, the aggregation thresholds), which Ballista hands on to the
/// scheduler and the executors. Fails at once, naming the address, when nothing answers there.
pub async fn remote_context(
    url: &str,
    config: datafusion::execution::context::SessionConfig,
) -> crate::error::Result<datafusion::execution::context::SessionContext> {
    use ballista::prelude::{SessionConfigExt, SessionContextExt};
    use datafusion::execution::SessionStateBuilder;
    use datafusion::execution::context::SessionContext;
    let fail = |m: String| crate::error::Error::analysis("cluster", m);
    let (host, port) = scheduler_address(url).map_err(fail)?;
    let reachable = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    match reachable {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(fail(format!(
                "cannot reach the Ballista scheduler at {url}: {e} (is `crm scheduler --port {port}` running there?)"
            )));
        }
        Err(_) => {
            return Err(fail(format!(
                "cannot reach the Ballista scheduler at {url}: no answer in 5 s"
            )));
        }
    }
    // A dynamic filter is shared in memory between the operators of one process; split across
    // executors it is not, and decoding a top-k sort's filter trips DataFusion's own check
    // ("topk_emitter_count > 0"). The scheduler plans with this session's settings.
    crate::error::set_query_cluster(url);
    let config = config
        .set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false)
        .upgrade_for_ballista()
        .with_ballista_logical_extension_codec(Arc::new(CrmLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(CrmPhysicalCodec::default()))
        .with_ballista_job_name("crm")
        .with_ballista_adaptive_query_planner(false);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_runtime_env(object_storage_runtime(None)?)
        .build();
    let ctx = SessionContext::remote_with_state(&format!("df://{host}:{port}"), state)
        .await
        .map_err(|e| fail(format!("cluster {url}: {e}")))?;
    // A branch the optimizer proves empty becomes an EmptyRelation that keeps its input's
    // columns; the wire form of an EmptyRelation carries no columns, and the scheduler then
    // rejects the plan ("No field named customers.signup_date": a data-quality branch filtered
    // away). Those rules stay off on the cluster: the branch stays a Filter that is false.
    for rule in [
        "eliminate_filter",
        "propagate_empty_relation",
        "eliminate_limit",
        "eliminate_join",
    ] {
        ctx.remove_optimizer_rule(rule);
    }
    Ok(ctx)
}

/// Runs a Ballista scheduler on `bind:port` that knows crm's plans, until the process is
/// stopped.
pub async fn run_scheduler(bind: &str, external: &str, port: u16) -> crate::error::Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let fail = |e: ballista_core::error::BallistaError| {
        crate::error::Error::analysis("scheduler", e.to_string())
    };
    let config = SchedulerConfig {
        bind_host: bind.to_string(),
        external_host: external.to_string(),
        bind_port: port,
        // An executor that stops answering is given up after 20 s (Ballista's default: 180 s),
        // and its tasks run again elsewhere: a killed executor delays a query, not a night.
        executor_timeout_seconds: 20,
        expire_dead_executor_interval_seconds: 5,
        no_executors_grace_period_seconds: 20,
        override_logical_codec: Some(Arc::new(CrmLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(CrmPhysicalCodec::default())),
        // The scheduler lists a warehouse's files when it plans: it reads object storage too.
        override_session_builder: Some(Arc::new(|config| {
            let state = ballista_core::utils::default_session_builder(config)?;
            let runtime = object_storage_runtime(None)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            Ok(
                datafusion::execution::SessionStateBuilder::new_from_existing(state)
                    .with_runtime_env(runtime)
                    .build(),
            )
        })),
        ..Default::default()
    };
    let addr = format!("{bind}:{port}")
        .parse()
        .map_err(|e| crate::error::Error::usage(format!("--bind {bind}: {e}")))?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(fail)?;
    ballista_scheduler::scheduler_process::start_server(cluster, addr, Arc::new(config))
        .await
        .map_err(fail)
}

/// Where an executor listens and which scheduler it serves.
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind: String,
    pub external: String,
    pub port: u16,
    pub grpc_port: u16,
    pub vcores: usize,
    pub work_dir: Option<String>,
}

/// Ballista's execution engine, reporting no per-operator metrics. The scheduler merges a stage's
/// metrics by position, and Ballista 55 lists only the operators that recorded some: two tasks
/// of one stage (a UNION whose branches ran in different tasks) report lists of different
/// lengths, the scheduler refuses the second task's status ("task metrics array size 18 does not
/// equal ... 17") and the job never finishes. A task without metrics is accepted as it is.
struct WithoutOperatorMetrics(ballista_executor::execution_engine::DefaultExecutionEngine);

impl ballista_executor::execution_engine::ExecutionEngine for WithoutOperatorMetrics {
    fn create_query_stage_exec(
        &self,
        job_id: ballista_core::JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &datafusion::prelude::SessionConfig,
    ) -> DfResult<Arc<dyn ballista_executor::execution_engine::QueryStageExecutor>> {
        let inner = self.0.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(StageWithoutMetrics(inner)))
    }
}

struct StageWithoutMetrics(Arc<dyn ballista_executor::execution_engine::QueryStageExecutor>);

impl std::fmt::Debug for StageWithoutMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for StageWithoutMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

#[async_trait::async_trait]
impl ballista_executor::execution_engine::QueryStageExecutor for StageWithoutMetrics {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<Vec<ballista_core::serde::protobuf::ShuffleWritePartition>> {
        self.0.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<datafusion::physical_plan::metrics::MetricsSet> {
        Vec::new()
    }

    fn collect_runtime_stats_reports(
        &self,
    ) -> Vec<ballista_core::serde::protobuf::RuntimeStatsReport> {
        self.0.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(
        &self,
    ) -> DfResult<Vec<ballista_core::serde::protobuf::WindowStateReport>> {
        self.0.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<ballista_core::serde::protobuf::TaskColumnStats> {
        self.0.collect_column_stats()
    }
}

/// A runtime that reads local files and object storage (warehouse/remote.rs), spilling to
/// `temp` when given.
fn object_storage_runtime(
    temp: Option<String>,
) -> crate::error::Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    let mut builder = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_object_store_registry(crate::warehouse::remote::Stores::registry());
    if let Some(dir) = temp {
        builder = builder.with_temp_file_path(dir);
    }
    builder
        .build_arc()
        .map_err(|e| crate::error::Error::analysis("engine", e))
}

/// Runs a Ballista executor that knows crm's plans, until the process is stopped.
pub async fn run_executor(opts: ExecutorOptions) -> crate::error::Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let work_dir = opts.work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: opts.bind,
        external_host: Some(opts.external),
        port: opts.port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler_host,
        scheduler_port: opts.scheduler_port,
        scheduler_connect_timeout_seconds: 10,
        vcores: opts.vcores,
        work_dir: opts.work_dir,
        // Heartbeats often enough that a killed executor is noticed within a query.
        executor_heartbeat_interval_seconds: 5,
        override_logical_codec: Some(Arc::new(CrmLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(CrmPhysicalCodec::default())),
        // Without Ballista's client pool (private to its executor crate): each shuffle fetch
        // opens its own connection.
        override_execution_engine: Some(Arc::new(WithoutOperatorMetrics(
            ballista_executor::execution_engine::DefaultExecutionEngine::new(),
        ))),
        // Ballista's own runtime with the object stores of a warehouse on S3 (a client per
        // bucket, configured from this process's environment).
        override_runtime_producer: Some(Arc::new(move |_| {
            object_storage_runtime(work_dir.clone())
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
        })),
        ..Default::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| crate::error::Error::analysis("executor", e.to_string()))
}

/// Log lines of the cluster processes on standard error: `log` records at info and above.
pub fn log_to_stderr() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.level() <= log::Level::Info
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) {
                eprintln!(
                    "{} {:<5} {}: {}",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    r.level(),
                    r.target(),
                    r.args()
                );
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_address_is_df_host_port() {
        assert_eq!(
            scheduler_address("df://10.0.0.5:50050").unwrap(),
            ("10.0.0.5".to_string(), 50050)
        );
        assert_eq!(scheduler_address("df://sched").unwrap().1, 50050);
        assert!(scheduler_address("http://sched:50050").is_err());
        assert!(scheduler_address("df://sched:port").is_err());
        assert!(scheduler_address("df://:50050").is_err());
    }

    /// Each crm function comes back from its wire form as the same function: the zone and
    /// the parameter's value travel with it.
    #[test]
    fn crm_functions_round_trip_through_the_codec() {
        let zone: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let codec = CrmPhysicalCodec::default();
        let mut udfs: Vec<ScalarUDF> = crate::periods::report_time_udfs(zone).into();
        udfs.extend(crate::periods::udfs());
        udfs.push(param_udf("param_as_of", ScalarValue::Int32(Some(19_999))));
        for udf in udfs {
            let mut buf = Vec::new();
            codec.try_encode_udf(&udf, &mut buf).unwrap();
            assert!(!buf.is_empty(), "{} has no wire form", udf.name());
            let back = codec.try_decode_udf(udf.name(), &buf).unwrap();
            assert_eq!(back.name(), udf.name());
            if let Some(r) = udf.inner().downcast_ref::<crate::periods::ReportTime>() {
                assert!(*back == udf, "{} changed on the way", udf.name());
                assert_eq!(r.zone, zone);
            }
            if let Some(p) = back.inner().downcast_ref::<ParamFunction>() {
                assert_eq!(p.value, ScalarValue::Int32(Some(19_999)));
            }
        }
        let utc = &crate::periods::report_time_udfs(chrono_tz::UTC)[0];
        let mut buf = Vec::new();
        codec.try_encode_udf(utc, &mut buf).unwrap();
        let back = codec.try_decode_udf("to_report_time", &buf).unwrap();
        assert!(*back == *utc);
        assert!(*back != crate::periods::report_time_udfs(zone)[0]);
        let err = codec.try_decode_udf("to_report_time", &[]).unwrap_err();
        assert!(err.to_string().contains("crm executor"), "{err}");
    }
}
