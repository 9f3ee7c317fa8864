//! Customer lifetime value: BG/NBD + Gamma-Gamma per customer (P(alive), expected purchases,
//! expected order value, discounted CLV), the fitted parameters, and the holdout comparison
//! (`crm clv`, the `clv` table of `crm run`, the report's CLV charts).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::clv::{self, BgNbd, GammaGamma, Summary, WEEKS_PER_MONTH};

/// The per-customer summary of `clv_summary.sql`.
pub async fn summaries(engine: &Engine) -> Result<Vec<Summary>> {
    let rows = engine.read("clv_inputs", vec![]).await?;
    let mut out = Vec::new();
    for b in &rows.batches {
        let col = |i: usize, t: &DataType| {
            datafusion::arrow::compute::cast(b.column(i), t)
                .map_err(|e| Error::query("clv_summary", e))
        };
        let ids = col(0, &DataType::Utf8)?;
        let ids = ids.as_any().downcast_ref::<StringArray>().expect("utf8");
        let f = |i| -> Result<Float64Array> {
            Ok(col(i, &DataType::Float64)?
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("f64")
                .clone())
        };
        let (x, tx, t, m) = (f(1)?, f(2)?, f(3)?, f(4)?);
        for i in 0..b.num_rows() {
            use datafusion::arrow::array::Array;
            out.push(Summary {
                customer_id: ids.value(i).to_string(),
                frequency: x.value(i),
                recency: tx.value(i),
                t: t.value(i),
                monetary_value: (!m.is_null(i)).then(|| m.value(i)),
            });
        }
    }
    Ok(out)
}

pub struct Fitted {
    pub bg: BgNbd,
    pub gg: GammaGamma,
}

/// The model fitted on every customer and each customer scored over the config's horizon.
pub struct Scored {
    pub fitted: Fitted,
    /// One row per customer (see [`per_customer`]).
    pub per_customer: RecordBatch,
}

impl Scored {
    /// Every customer's discounted CLV, in customer order.
    pub fn clv(&self) -> Vec<f64> {
        let col = self.per_customer.column_by_name("clv").expect("clv column");
        let col = col.as_any().downcast_ref::<Float64Array>().expect("f64");
        col.values().to_vec()
    }
}

/// Fits the models on the engine's customers and scores them with `clv.horizon_months` and
/// `clv.discount`.
pub async fn score(engine: &Engine, config: &Config) -> Result<Scored> {
    let data = summaries(engine).await?;
    let fitted = fit(&data)?;
    let months = config.clv.horizon_months;
    let horizon = months as f64 * WEEKS_PER_MONTH;
    let per_customer = per_customer(&fitted, &data, horizon, months, config.clv.discount);
    Ok(Scored {
        fitted,
        per_customer,
    })
}

/// The holdout check: the model fitted on the customers as of `split`, their predicted
/// repeat purchases from `split` to the `end` engine's as_of against what they did (see
/// [`holdout_table`]). Returns the table and the customers fitted on.
pub async fn holdout(
    config: &Config,
    end: &Engine,
    split: chrono::NaiveDate,
) -> Result<(RecordBatch, usize)> {
    let calibration = Engine::open(config, Some(split)).await?;
    let data = summaries(&calibration).await?;
    let fitted = fit(&data)?;
    let actual = holdout_purchases(end, split).await?;
    let weeks = (end.as_of - split).num_days() as f64 / 7.0;
    Ok((holdout_table(&fitted, &data, &actual, weeks), data.len()))
}

pub fn fit(data: &[Summary]) -> Result<Fitted> {
    let bg = clv::fit_bgnbd(data).map_err(|e| Error::analysis("BG/NBD", e))?;
    let gg = clv::fit_gamma_gamma(data).map_err(|e| Error::analysis("Gamma-Gamma", e))?;
    Ok(Fitted { bg, gg })
}

pub fn params_json(f: &Fitted) -> serde_json::Value {
    serde_json::json!({
        "bgnbd": {"r": f.bg.r, "alpha": f.bg.alpha, "a": f.bg.a, "b": f.bg.b, "log_likelihood": f.bg.log_likelihood},
        "gamma_gamma": {
            "p": f.gg.p, "q": f.gg.q, "gamma": f.gg.gamma, "log_likelihood": f.gg.log_likelihood,
            "customers": f.gg.customers, "excluded_non_positive": f.gg.excluded_non_positive,
        },
    })
}

/// The decimals `--format table` shows of the CLV tables' figures; CSV, JSON and Parquet
/// carry every digit.
pub const TABLE_DECIMALS: &[(&str, i32)] = &[
    ("recency", 4),
    ("t", 4),
    ("monetary_value", 2),
    ("p_alive", 4),
    ("expected_purchases", 4),
    ("expected_order_value", 2),
    ("clv", 2),
    ("cumulative_expected_purchases", 2),
    ("actual_mean", 4),
    ("predicted_mean", 4),
    ("error", 4),
];

/// One row per customer: `customer_id,frequency,recency,t,monetary_value,p_alive,
/// expected_purchases,expected_order_value,clv`.
pub fn per_customer(
    f: &Fitted,
    data: &[Summary],
    horizon_weeks: f64,
    months: u32,
    discount: f64,
) -> RecordBatch {
    let n = data.len();
    let (mut p_alive, mut expected, mut value, mut clv_v) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for s in data {
        p_alive.push(f.bg.p_alive(s.frequency, s.recency, s.t));
        expected.push(f.bg.expected_purchases(horizon_weeks, s.frequency, s.recency, s.t));
        let v = f.gg.expected_order_value(s.frequency, s.monetary_value);
        value.push(v);
        clv_v.push(clv::clv(&f.bg, v, s, months, discount));
    }
    let f64s = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("frequency", DataType::Int64, false),
        Field::new("recency", DataType::Float64, false),
        Field::new("t", DataType::Float64, false),
        Field::new("monetary_value", DataType::Float64, true),
        Field::new("p_alive", DataType::Float64, false),
        Field::new("expected_purchases", DataType::Float64, false),
        Field::new("expected_order_value", DataType::Float64, false),
        Field::new("clv", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(
            data.iter()
                .map(|s| s.customer_id.clone())
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            data.iter().map(|s| s.frequency as i64).collect::<Vec<_>>(),
        )),
        f64s(data.iter().map(|s| s.recency).collect()),
        f64s(data.iter().map(|s| s.t).collect()),
        Arc::new(Float64Array::from(
            data.iter().map(|s| s.monetary_value).collect::<Vec<_>>(),
        )),
        f64s(p_alive),
        f64s(expected),
        f64s(value),
        f64s(clv_v),
    ];
    RecordBatch::try_new(schema, columns).expect("columns match the schema")
}

/// Expected repeat purchases of all customers in the weeks after calibration, week by week and
/// cumulative: the sum of each customer's conditional expectation.
pub fn aggregate(f: &Fitted, data: &[Summary], horizon_weeks: f64) -> RecordBatch {
    let weeks: Vec<i64> = (1..=horizon_weeks.ceil() as i64).collect();
    let cumulative: Vec<f64> = weeks
        .iter()
        .map(|&w| {
            data.iter()
                .map(|s| {
                    f.bg.expected_purchases(w as f64, s.frequency, s.recency, s.t)
                })
                .sum::<f64>()
        })
        .collect();
    let weekly: Vec<f64> = cumulative
        .iter()
        .enumerate()
        .map(|(i, c)| c - if i == 0 { 0.0 } else { cumulative[i - 1] })
        .collect();
    let f64s = |v: &[f64]| -> ArrayRef { Arc::new(Float64Array::from(v.to_vec())) };
    let schema = Arc::new(Schema::new(vec![
        Field::new("week", DataType::Int64, false),
        Field::new("expected_purchases", DataType::Float64, false),
        Field::new("cumulative_expected_purchases", DataType::Float64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(weeks)),
            f64s(&weekly),
            f64s(&cumulative),
        ],
    )
    .expect("columns match")
}

/// Holdout: per calibration frequency, the mean predicted and actual repeat purchases in the
/// holdout (the calibration-vs-holdout chart), and the errors.
pub fn holdout_table(
    f: &Fitted,
    data: &[Summary],
    actual: &std::collections::HashMap<String, f64>,
    weeks: f64,
) -> RecordBatch {
    const TOP: usize = 7;
    let mut groups = [(0usize, 0.0f64, 0.0f64); TOP + 1];
    for s in data {
        let k = (s.frequency as usize).min(TOP);
        groups[k].0 += 1;
        groups[k].1 += actual.get(&s.customer_id).copied().unwrap_or(0.0);
        groups[k].2 += f.bg.expected_purchases(weeks, s.frequency, s.recency, s.t);
    }
    let labels: Vec<String> = (0..=TOP)
        .map(|k| {
            if k == TOP {
                format!("{TOP}+")
            } else {
                k.to_string()
            }
        })
        .collect();
    let keep: Vec<usize> = (0..=TOP).filter(|&k| groups[k].0 > 0).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("calibration_frequency", DataType::Utf8, false),
        Field::new("customers", DataType::Int64, false),
        Field::new("actual_mean", DataType::Float64, false),
        Field::new("predicted_mean", DataType::Float64, false),
        Field::new("error", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(
            keep.iter().map(|&k| labels[k].clone()).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            keep.iter().map(|&k| groups[k].0 as i64).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            keep.iter()
                .map(|&k| groups[k].1 / groups[k].0 as f64)
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            keep.iter()
                .map(|&k| groups[k].2 / groups[k].0 as f64)
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            keep.iter()
                .map(|&k| (groups[k].2 - groups[k].1) / groups[k].0 as f64)
                .collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, columns).expect("columns match the schema")
}

/// Distinct purchase days per customer from `split` to as_of (repeat purchases in the holdout).
pub async fn holdout_purchases(
    engine: &Engine,
    split: chrono::NaiveDate,
) -> Result<std::collections::HashMap<String, f64>> {
    let split = datafusion::common::ScalarValue::Date32(Some(
        (split - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32,
    ));
    let rows = engine.read("holdout_purchases", vec![split]).await?;
    let mut out = std::collections::HashMap::new();
    for b in &rows.batches {
        let ids = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)
            .map_err(|e| Error::query("holdout", e))?;
        let ids = ids.as_any().downcast_ref::<StringArray>().expect("utf8");
        let n = b
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64");
        for i in 0..b.num_rows() {
            out.insert(ids.value(i).to_string(), n.value(i));
        }
    }
    Ok(out)
}
