//! Segment migration (METRICS.md "Segment migration"): every scored customer's RFM segment one
//! period before `as_of` and now, counted per (from, to) pair with the revenue they carry. What a
//! manager asks first of a segment table: who moved, and where to.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Months, NaiveDate};
use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::config::{Config, Period};
use crate::engine::{Engine, Rows};
use crate::error::{Error, Result};

/// The segment of a customer who had no purchase before the previous as_of.
pub const NEW: &str = "(new customer)";

/// The as_of one `period` before `as_of`: the same day a month, quarter or year earlier (the
/// month's last day when it is shorter), a week or a day earlier.
pub fn previous_as_of(as_of: NaiveDate, period: Period) -> Option<NaiveDate> {
    match period {
        Period::Day => as_of.pred_opt(),
        Period::Week => as_of.checked_sub_days(chrono::Days::new(7)),
        Period::Month => as_of.checked_sub_months(Months::new(1)),
        Period::Quarter => as_of.checked_sub_months(Months::new(3)),
        Period::Year => as_of.checked_sub_months(Months::new(12)),
    }
}

/// The migration table and the two days it compares.
pub struct Migration {
    pub previous_as_of: NaiveDate,
    pub as_of: NaiveDate,
    /// `from_segment, to_segment, customers, share_of_from, revenue`: one row per pair, the
    /// largest movements (from != to) first, then those who stayed.
    pub table: RecordBatch,
}

/// (segment, monetary) per customer of an `rfm` result.
fn segments(rows: &Rows) -> Result<HashMap<String, (String, f64)>> {
    let mut out = HashMap::new();
    for b in &rows.batches {
        let col = |name: &str, t: &DataType| {
            let c = b
                .column_by_name(name)
                .ok_or_else(|| Error::query("rfm", format!("no column {name}")))?;
            datafusion::arrow::compute::cast(c, t).map_err(|e| Error::query("rfm", e))
        };
        let ids = col("customer_id", &DataType::Utf8)?;
        let segs = col("segment", &DataType::Utf8)?;
        let money = col("monetary", &DataType::Float64)?;
        let ids = ids.as_any().downcast_ref::<StringArray>().expect("utf8");
        let segs = segs.as_any().downcast_ref::<StringArray>().expect("utf8");
        let money = money.as_any().downcast_ref::<Float64Array>().expect("f64");
        for i in 0..b.num_rows() {
            let m = if money.is_null(i) {
                0.0
            } else {
                money.value(i)
            };
            out.insert(ids.value(i).to_string(), (segs.value(i).to_string(), m));
        }
    }
    Ok(out)
}

/// Each customer scored at `engine`'s as_of, with their segment one `retention.period` before
/// (or [`NEW`]), counted per pair. revenue = the customers' RFM monetary value now.
pub async fn migration(config: &Config, engine: &Engine) -> Result<Migration> {
    let period = config.retention.period;
    let previous_as_of = previous_as_of(engine.as_of, period)
        .ok_or_else(|| Error::analysis("segment migration", "no day one period before as_of"))?;
    let before = Engine::open(config, Some(previous_as_of)).await?;
    let then = segments(&before.read("rfm", vec![]).await?)?;
    let now = segments(&engine.read("rfm", vec![]).await?)?;
    let mut pairs: BTreeMap<(String, String), (i64, f64)> = BTreeMap::new();
    let mut from_sizes: BTreeMap<String, i64> = BTreeMap::new();
    for (id, (to, money)) in &now {
        let from = then
            .get(id)
            .map(|(s, _)| s.clone())
            .unwrap_or_else(|| NEW.to_string());
        *from_sizes.entry(from.clone()).or_default() += 1;
        let cell = pairs.entry((from, to.clone())).or_default();
        cell.0 += 1;
        cell.1 += money;
    }
    let mut rows: Vec<((String, String), (i64, f64))> = pairs.into_iter().collect();
    // Movements first, largest first; ties by name, so the order never depends on a hash.
    rows.sort_by(|a, b| {
        let stayed = |r: &((String, String), (i64, f64))| r.0.0 == r.0.1;
        stayed(a)
            .cmp(&stayed(b))
            .then(b.1.0.cmp(&a.1.0))
            .then(a.0.cmp(&b.0))
    });
    let schema = Arc::new(Schema::new(vec![
        Field::new("from_segment", DataType::Utf8, false),
        Field::new("to_segment", DataType::Utf8, false),
        Field::new("customers", DataType::Int64, false),
        Field::new("share_of_from", DataType::Float64, false),
        Field::new("revenue", DataType::Float64, false),
    ]));
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.0.0.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.0.1.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.0))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| {
            round(100.0 * r.1.0 as f64 / from_sizes[&r.0.0] as f64, 2)
        }))),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| round(r.1.1, 2)),
        )),
    ];
    let table = RecordBatch::try_new(schema, columns).expect("columns match the schema");
    Ok(Migration {
        previous_as_of,
        as_of: engine.as_of,
        table,
    })
}

/// The largest movements (from != to, new customers left out) as sentences:
/// "412 Loyal Customers became At Risk (revenue 51,200.00)".
pub fn largest_movements(m: &Migration, n: usize) -> Vec<(String, String, i64, f64)> {
    let from = m
        .table
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("utf8");
    let to = m
        .table
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("utf8");
    let customers = m
        .table
        .column(2)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("i64");
    let revenue = m
        .table
        .column(4)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("f64");
    (0..m.table.num_rows())
        .filter(|&i| from.value(i) != to.value(i) && from.value(i) != NEW)
        .take(n)
        .map(|i| {
            (
                from.value(i).to_string(),
                to.value(i).to_string(),
                customers.value(i),
                revenue.value(i),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_as_of_is_one_period_earlier() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            previous_as_of(d("2024-03-31"), Period::Month),
            Some(d("2024-02-29"))
        );
        assert_eq!(
            previous_as_of(d("2024-01-11"), Period::Month),
            Some(d("2023-12-11"))
        );
        assert_eq!(
            previous_as_of(d("2024-05-15"), Period::Quarter),
            Some(d("2024-02-15"))
        );
        assert_eq!(
            previous_as_of(d("2024-02-29"), Period::Year),
            Some(d("2023-02-28"))
        );
        assert_eq!(
            previous_as_of(d("2024-01-04"), Period::Week),
            Some(d("2023-12-28"))
        );
        assert_eq!(
            previous_as_of(d("2024-01-01"), Period::Day),
            Some(d("2023-12-31"))
        );
    }
}
