//! Customer lifetime value: BG/NBD + Gamma-Gamma per customer (P(alive), expected purchases,
//! expected order value, discounted CLV), the fitted parameters, and the holdout comparison
//! (`crm clv`, the `clv` table of `crm run`, the report's CLV charts).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use chrono::NaiveDate;

use crate::config::{ClvModel, Config};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::clv::{self, GammaGamma, Purchases, Summary, WEEKS_PER_MONTH};

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

/// The models fitted on the customers, and how the purchase model was chosen.
pub struct Fitted {
    /// The purchase model the per-customer figures use.
    pub model: Purchases,
    /// Every purchase model fitted on these customers (both with `auto`), for the parameters.
    pub models: Vec<Purchases>,
    pub gg: GammaGamma,
    /// With `clv.model = "auto"`: how each model predicted the holdout.
    pub choice: Option<Choice>,
}

/// The model choice of `auto`: both models fitted on the customers as of `holdout_from`, their
/// predictions of each customer's repeat purchases up to `as_of` against what they did.
#[derive(Debug, Clone)]
pub struct Choice {
    pub holdout_from: NaiveDate,
    pub as_of: NaiveDate,
    pub weeks: f64,
    /// Customers of the calibration period.
    pub customers: usize,
    /// One per model, BG/NBD first.
    pub scores: Vec<HoldoutScore>,
    /// The key (`bgnbd`, `pnbd`) of the model with the lower per-customer MAE.
    pub chosen: &'static str,
}

/// One model's predictions of a holdout.
#[derive(Debug, Clone)]
pub struct HoldoutScore {
    /// Fitted on the calibration period.
    pub model: Purchases,
    pub predicted: f64,
    pub actual: f64,
    /// Mean absolute and root mean square error of the per-customer predictions.
    pub mae: f64,
    pub rmse: f64,
    /// The calibration-vs-holdout rows (Fader, Hardie & Lee 2005, Figure 3).
    pub table: RecordBatch,
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
    let fitted = fit(config, engine, &data, config.clv.model, None).await?;
    let months = config.clv.horizon_months;
    let horizon = months as f64 * WEEKS_PER_MONTH;
    let per_customer = per_customer(&fitted, &data, horizon, months, config.clv.discount);
    Ok(Scored {
        fitted,
        per_customer,
    })
}

/// Fits one purchase model.
fn fit_purchases(data: &[Summary], model: ClvModel) -> Result<Purchases> {
    match model {
        ClvModel::Pnbd => clv::fit_pnbd(data)
            .map(Purchases::ParetoNbd)
            .map_err(|e| Error::analysis("Pareto/NBD", e)),
        _ => clv::fit_bgnbd(data)
            .map(Purchases::BgNbd)
            .map_err(|e| Error::analysis("BG/NBD", e)),
    }
}

/// Fits `model` and Gamma-Gamma on `data` (the customers of `engine`). `auto` first fits both
/// purchase models on the customers as of `holdout_from` (default [`default_holdout`]) and
/// keeps the one that predicts the holdout better.
pub async fn fit(
    config: &Config,
    engine: &Engine,
    data: &[Summary],
    model: ClvModel,
    holdout_from: Option<NaiveDate>,
) -> Result<Fitted> {
    // The purchase model first: its error (no repeat buyers) says what to try.
    let gg = || clv::fit_gamma_gamma(data).map_err(|e| Error::analysis("Gamma-Gamma", e));
    if model != ClvModel::Auto {
        let m = fit_purchases(data, model)?;
        let gg = gg()?;
        return Ok(Fitted {
            model: m,
            models: vec![m],
            gg,
            choice: None,
        });
    }
    let split = match holdout_from {
        Some(d) => d,
        None => default_holdout(engine.as_of, data)?,
    };
    let choice = choose(config, engine, split).await?;
    let models = vec![
        fit_purchases(data, ClvModel::Bgnbd)?,
        fit_purchases(data, ClvModel::Pnbd)?,
    ];
    let model = *models
        .iter()
        .find(|m| m.key() == choice.chosen)
        .expect("the chosen model is one of the two");
    let gg = gg()?;
    Ok(Fitted {
        model,
        models,
        gg,
        choice: Some(choice),
    })
}

/// The holdout `auto` compares the models on: the last 39 weeks (as Fader, Hardie & Lee 2005
/// hold out 39 of 78) when the customers' history spans at least 78 weeks, else its second half.
pub fn default_holdout(as_of: NaiveDate, data: &[Summary]) -> Result<NaiveDate> {
    let span = data.iter().map(|s| s.t).fold(0.0, f64::max);
    let weeks = if span >= 78.0 { 39.0 } else { span / 2.0 };
    if weeks < 4.0 {
        return Err(Error::analysis(
            "CLV model choice",
            format!(
                "{span:.1} weeks of history: too little to hold out a period and compare the models; set clv.model (or --model) to bgnbd or pnbd"
            ),
        ));
    }
    Ok(as_of - chrono::Duration::days((weeks * 7.0).round() as i64))
}

/// Both models fitted on the customers as of `split`, scored on their purchases from `split` to
/// the `end` engine's as_of.
pub async fn choose(config: &Config, end: &Engine, split: NaiveDate) -> Result<Choice> {
    let calibration = Engine::open(config, Some(split)).await?;
    let data = summaries(&calibration).await?;
    let actual = holdout_purchases(end, split).await?;
    let weeks = (end.as_of - split).num_days() as f64 / 7.0;
    let mut scores = Vec::new();
    for kind in [ClvModel::Bgnbd, ClvModel::Pnbd] {
        let model = fit_purchases(&data, kind)?;
        scores.push(holdout_score(model, &data, &actual, weeks));
    }
    let chosen = if scores[1].mae < scores[0].mae {
        scores[1].model.key()
    } else {
        scores[0].model.key()
    };
    Ok(Choice {
        holdout_from: split,
        as_of: end.as_of,
        weeks,
        customers: data.len(),
        scores,
        chosen,
    })
}

/// How `model` predicts each customer's repeat purchases in the `weeks` after calibration.
fn holdout_score(
    model: Purchases,
    data: &[Summary],
    actual: &std::collections::HashMap<String, f64>,
    weeks: f64,
) -> HoldoutScore {
    let (mut predicted, mut observed, mut abs, mut sq) = (0.0, 0.0, 0.0, 0.0);
    for s in data {
        let p = model.expected_purchases(weeks, s.frequency, s.recency, s.t);
        let a = actual.get(&s.customer_id).copied().unwrap_or(0.0);
        predicted += p;
        observed += a;
        abs += (p - a).abs();
        sq += (p - a) * (p - a);
    }
    let n = data.len().max(1) as f64;
    HoldoutScore {
        model,
        predicted,
        actual: observed,
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        table: holdout_table(&model, data, actual, weeks),
    }
}

/// The holdout check of `--holdout-from`: the model of `clv.model` fitted on the customers as of
/// `split`, its predicted repeat purchases from `split` to the `end` engine's as_of against what
/// they did (see [`holdout_table`]); with `auto`, both models and the choice. Returns the table
/// of the model used (the chosen one with `auto`), the choice with `auto`, and the customers
/// fitted on.
pub async fn holdout(
    config: &Config,
    model: ClvModel,
    end: &Engine,
    split: NaiveDate,
) -> Result<(RecordBatch, Option<Choice>, usize)> {
    if model == ClvModel::Auto {
        let choice = choose(config, end, split).await?;
        let used = choice
            .scores
            .iter()
            .find(|s| s.model.key() == choice.chosen)
            .expect("the chosen model is scored");
        return Ok((used.table.clone(), Some(choice.clone()), choice.customers));
    }
    let calibration = Engine::open(config, Some(split)).await?;
    let data = summaries(&calibration).await?;
    let fitted = fit_purchases(&data, model)?;
    let actual = holdout_purchases(end, split).await?;
    let weeks = (end.as_of - split).num_days() as f64 / 7.0;
    Ok((
        holdout_table(&fitted, &data, &actual, weeks),
        None,
        data.len(),
    ))
}

/// The parameters of every fitted model (`bgnbd`, `pnbd`, `gamma_gamma`), which purchase model
/// the figures use (`model`), and with `auto` the comparison that chose it (`choice`).
pub fn params_json(f: &Fitted) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("model".into(), f.model.key().into());
    for m in &f.models {
        out.insert(m.key().into(), m.params_json());
    }
    out.insert(
        "gamma_gamma".into(),
        serde_json::json!({
            "p": f.gg.p, "q": f.gg.q, "gamma": f.gg.gamma, "log_likelihood": f.gg.log_likelihood,
            "customers": f.gg.customers, "excluded_non_positive": f.gg.excluded_non_positive,
        }),
    );
    if let Some(c) = &f.choice {
        out.insert("choice".into(), choice_json(c));
    }
    serde_json::Value::Object(out)
}

/// The comparison of `auto` as JSON: the holdout, and per model its calibration fit, totals,
/// errors and calibration-by-frequency rows.
pub fn choice_json(c: &Choice) -> serde_json::Value {
    let mut models = serde_json::Map::new();
    for s in &c.scores {
        let rows = crate::output::to_json(std::slice::from_ref(&s.table), &s.table.schema())
            .unwrap_or_default();
        models.insert(
            s.model.key().into(),
            serde_json::json!({
                "calibration_params": s.model.params_json(),
                "predicted_purchases": s.predicted,
                "actual_purchases": s.actual,
                "total_error": s.predicted - s.actual,
                "mae": s.mae,
                "rmse": s.rmse,
                "by_calibration_frequency": rows,
            }),
        );
    }
    serde_json::json!({
        "holdout_from": c.holdout_from.to_string(),
        "as_of": c.as_of.to_string(),
        "weeks": c.weeks,
        "customers": c.customers,
        "chosen": c.chosen,
        "criterion": "per-customer mean absolute error of the holdout's repeat purchases",
        "models": models,
    })
}

/// The lines `crm clv` prints to stderr about the choice of `auto`.
pub fn choice_lines(c: &Choice) -> String {
    let mut out = format!(
        "model choice: both fitted on the {} customers before {}, predicting their repeat purchases to {} ({:.1} weeks):",
        c.customers, c.holdout_from, c.as_of, c.weeks
    );
    for s in &c.scores {
        out.push_str(&format!(
            "\n  {:<10} predicted {:.0} vs actual {:.0} ({:+.1}%), per customer MAE {:.4}, RMSE {:.4}",
            s.model.title(),
            s.predicted,
            s.actual,
            if s.actual > 0.0 { 100.0 * (s.predicted - s.actual) / s.actual } else { 0.0 },
            s.mae,
            s.rmse
        ));
    }
    let title = c
        .scores
        .iter()
        .find(|s| s.model.key() == c.chosen)
        .map(|s| s.model.title())
        .unwrap_or(c.chosen);
    out.push_str(&format!("\n  chosen: {title} (lower MAE)"));
    out
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
        p_alive.push(f.model.p_alive(s.frequency, s.recency, s.t));
        expected.push(
            f.model
                .expected_purchases(horizon_weeks, s.frequency, s.recency, s.t),
        );
        let v = f.gg.expected_order_value(s.frequency, s.monetary_value);
        value.push(v);
        clv_v.push(clv::clv(&f.model, v, s, months, discount));
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
                    f.model
                        .expected_purchases(w as f64, s.frequency, s.recency, s.t)
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
    model: &Purchases,
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
        groups[k].2 += model.expected_purchases(weeks, s.frequency, s.recency, s.t);
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
