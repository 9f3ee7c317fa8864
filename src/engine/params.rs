//! The one-row `params` table and its `param_<name>()` functions, the default as_of, and the
//! `load_stats` table of the manifest's per-file counts.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, IntervalMonthDayNanoArray, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Field, IntervalMonthDayNano, IntervalUnit, Schema, TimeUnit,
};
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::config::{Config, Monetary};
use crate::error::{Error, Result};
use crate::warehouse::Warehouse;

/// `param_<name>()` for every column of `params`: a constant the planner folds into the plan,
/// so the hot views (every transaction passes through stg_transactions) filter and compute
/// against literals instead of joining each row with the one-row `params` table.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ParamFunction {
    name: String,
    pub(super) value: ScalarValue,
    signature: Signature,
}

/// `name()` returning `value`.
pub(super) fn param_udf(name: &str, value: ScalarValue) -> ScalarUDF {
    ScalarUDF::new_from_impl(ParamFunction {
        name: name.to_string(),
        value,
        signature: Signature::exact(vec![], Volatility::Immutable),
    })
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

pub(super) fn register_param_functions(ctx: &SessionContext, params: &RecordBatch) -> Result<()> {
    for (field, column) in params.schema().fields().iter().zip(params.columns()) {
        let value =
            ScalarValue::try_from_array(column, 0).map_err(|e| Error::query("params", e))?;
        ctx.register_udf(param_udf(&format!("param_{}", field.name()), value));
    }
    Ok(())
}

/// The default as_of (the day after the last transaction day in the report's zone) from the
/// latest `ts` each transactions file recorded, without reading the files. None when a file
/// has no record of it, or when the zone's offset changed in the two days before the latest
/// instant: then an earlier instant could be later on the wall clock, and only a scan knows.
/// (An instant more than two days earlier is earlier on any wall clock: offsets differ by
/// at most 26 hours.)
pub(super) fn as_of_from_manifest(wh: &Warehouse, tz: Tz) -> Option<NaiveDate> {
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
pub(super) fn last_load_day(wh: &Warehouse, tz: Tz) -> Option<NaiveDate> {
    let at = chrono::DateTime::parse_from_rfc3339(&wh.manifest.updated_at).ok()?;
    Some(at.with_timezone(&tz).date_naive())
}

pub(super) async fn default_as_of(ctx: &SessionContext, tz: Tz) -> Result<NaiveDate> {
    // With no transaction at all, today in the report's zone.
    let df = ctx
        .sql(super::output_sql("last_transaction_time"))
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

pub(super) fn params_batch(config: &Config, as_of: NaiveDate, tz: Tz) -> Result<RecordBatch> {
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
pub(super) fn load_stats_batch(wh: &Warehouse) -> Result<RecordBatch> {
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
