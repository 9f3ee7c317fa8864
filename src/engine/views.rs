//! Every query file of `queries/` as a named view, layer by layer; the marts computed once per
//! session (CachedView).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::context::{SessionContext, SessionState};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, collect_partitioned};

use crate::error::{Error, Result};

use super::QUERIES;
use super::scan::CustomerPart;

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
pub(super) enum ByRange {
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

/// Creates every query file's view. Views of one layer may use each other in any order: a view
/// whose inputs are not there yet is retried after the others.
/// On a cluster the marts are plain views: a cached mart is rows in this process, which the
/// executors cannot read.
pub(super) async fn register_views(
    ctx: &SessionContext,
    sorted: bool,
    parts: usize,
    on_cluster: bool,
) -> Result<()> {
    let mut pending: Vec<&(&str, &str, &str)> = QUERIES.iter().collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        for q in &pending {
            let (layer, name, sql) = **q;
            let sql = sql.trim().trim_end_matches(';');
            let registered = if layer == "marts" && !on_cluster {
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
