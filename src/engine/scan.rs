//! The warehouse tables as DataFusion sees them: their Arrow schemas, the sorted transactions
//! read one customer range at a time (CustomerParts), and their registration in a session.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::error::{Error, Result};
use crate::warehouse::Warehouse;
use crate::warehouse::tables::{self, Kind};

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

pub(super) async fn register_table(
    ctx: &SessionContext,
    wh: &Warehouse,
    table: &str,
    parts: &CustomerParts,
    on_cluster: bool,
) -> Result<()> {
    let schema = table_schema(table);
    let files = wh.table_locations(table)?;
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
        .map(|f| ListingTableUrl::parse(f).map_err(err))
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
        Some(entry) if !entry.sorted_by.is_empty() && !on_cluster => {
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
pub(super) struct OrderedForOneStream {
    plain: Arc<ListingTable>,
    ordered: Arc<ListingTable>,
    /// The customer ranges a one-stream plan may be restricted to (a [`CustomerPart`] in its
    /// session config).
    parts: CustomerParts,
}

/// The customers one stream reads: part `index` of the table's [`CustomerParts`]. Set in the
/// session config of each of the plans a streamed mart runs side by side (CachedView).
#[derive(Debug, Clone, Copy)]
pub(super) struct CustomerPart {
    pub(super) index: usize,
    /// The range's rows in key order (one ordered stream), or as they come (hashed).
    pub(super) ordered: bool,
}

/// The sorted transactions cut into ranges of customer keys of about equal rows, so that a
/// per-customer aggregate runs as one ordered stream per range, the ranges side by side: every
/// row of a customer is in one range, so the results of the ranges are simply put together.
/// From the first and last key of each row group the load recorded (`row_group_keys` in the
/// manifest); a table without them for every file is one range.
#[derive(Debug, Clone, Default)]
pub(super) struct CustomerParts {
    /// Range i is the keys `cuts[i - 1] <= key < cuts[i]`, unbounded at both ends.
    cuts: Vec<i64>,
    /// Per file (its path relative to the warehouse): the key range of each row group.
    row_groups: Vec<(String, Vec<(i64, i64)>)>,
}

impl CustomerParts {
    pub(super) fn of(wh: &Warehouse, wanted: usize) -> CustomerParts {
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

    pub(super) fn count(&self) -> usize {
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
