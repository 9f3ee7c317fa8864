//! Sales forecasts: net revenue per period and every model side by side (the seed formula,
//! seasonal naive, ETS, MSTL + ETS) with 80% and 95% intervals, a rolling-origin backtest of
//! each, and the recommended model (METRICS.md "Sales forecast").

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::forecast::{self, Accuracy, Method};

/// (period index, label, net revenue) of every complete period.
pub async fn history(engine: &Engine) -> Result<Vec<(i64, String, f64)>> {
    history_of(&engine.read("revenue_history", vec![]).await?)
}

/// (period index, label, net revenue) of the rows of `queries/outputs/revenue_history.sql`.
pub fn history_of(rows: &crate::engine::Rows) -> Result<Vec<(i64, String, f64)>> {
    let mut out = Vec::new();
    for b in &rows.batches {
        let idx = b
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("i64")
            .clone();
        let lab = datafusion::arrow::compute::cast(b.column(1), &DataType::Utf8)
            .map_err(|e| Error::query("revenue_history", e))?;
        let lab = lab
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8")
            .clone();
        let rev = b
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64")
            .clone();
        for i in 0..b.num_rows() {
            out.push((idx.value(i), lab.value(i).to_string(), rev.value(i)));
        }
    }
    Ok(out)
}

pub struct Report {
    pub forecasts: RecordBatch,
    pub backtest: RecordBatch,
    pub recommended: Option<&'static str>,
}

/// Forecasts and backtests every method that has enough history; the others are listed in the
/// backtest table with the reason.
pub async fn report(engine: &Engine, config: &Config, methods: &[Method]) -> Result<Report> {
    let hist = history(engine).await?;
    let y: Vec<f64> = hist.iter().map(|h| h.2).collect();
    let period = config.forecast.period;
    let season = period.season_length();
    let (lookback, horizon, origins) = (
        config.forecast.lookback as usize,
        config.forecast.horizon as usize,
        config.forecast.backtest_origins as usize,
    );
    let last = hist.last().map(|h| h.0);
    let mut f_rows: Vec<ForecastRow> = Vec::new();
    let mut b_rows: Vec<(&'static str, Option<Accuracy>, String)> = Vec::new();
    for &m in methods {
        if m == Method::MstlEts && season < 2 {
            b_rows.push((
                m.name(),
                None,
                format!("no season in {} periods", period.name()),
            ));
            continue;
        }
        match forecast::predict(m, &y, season, lookback, horizon) {
            Ok(p) => {
                for h in 0..horizon {
                    let idx = last.expect("history is not empty when a model fits") + h as i64 + 1;
                    let label = crate::periods::label(idx, period.name()).unwrap_or_default();
                    let i80 = p.interval80.as_ref().map(|(l, u)| (l[h], u[h]));
                    let i95 = p.interval95.as_ref().map(|(l, u)| (l[h], u[h]));
                    f_rows.push((m.name(), label, h as i64 + 1, p.point[h], i80, i95));
                }
                match forecast::backtest(m, &y, season, lookback, horizon, origins) {
                    Ok(acc) => b_rows.push((m.name(), Some(acc), String::new())),
                    Err(e) => b_rows.push((m.name(), None, format!("not backtested: {e}"))),
                }
            }
            Err(e) => b_rows.push((m.name(), None, e.to_string())),
        }
    }
    let recommended = b_rows
        .iter()
        .filter_map(|(n, a, _)| a.as_ref().and_then(|a| a.mase).map(|mase| (*n, mase)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(n, _)| n);
    let r2 = |v: f64| (v * 100.0).round() / 100.0;
    let r4 = |v: f64| (v * 10_000.0).round() / 10_000.0;
    let opt = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let forecasts = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("period", DataType::Utf8, false),
            Field::new("h", DataType::Int64, false),
            Field::new("forecast", DataType::Float64, false),
            Field::new("lower_80", DataType::Float64, true),
            Field::new("upper_80", DataType::Float64, true),
            Field::new("lower_95", DataType::Float64, true),
            Field::new("upper_95", DataType::Float64, true),
        ])),
        vec![
            Arc::new(StringArray::from(
                f_rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                f_rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                f_rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                f_rows.iter().map(|r| r2(r.3)).collect::<Vec<_>>(),
            )),
            opt(f_rows.iter().map(|r| r.4.map(|i| r2(i.0))).collect()),
            opt(f_rows.iter().map(|r| r.4.map(|i| r2(i.1))).collect()),
            opt(f_rows.iter().map(|r| r.5.map(|i| r2(i.0))).collect()),
            opt(f_rows.iter().map(|r| r.5.map(|i| r2(i.1))).collect()),
        ],
    )
    .expect("columns match");
    let acc = |f: &dyn Fn(&Accuracy) -> Option<f64>| -> ArrayRef {
        opt(b_rows
            .iter()
            .map(|(_, a, _)| a.as_ref().and_then(f).map(r4))
            .collect())
    };
    let backtest = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("origins", DataType::Int64, true),
            Field::new("mae", DataType::Float64, true),
            Field::new("rmse", DataType::Float64, true),
            Field::new("mape", DataType::Float64, true),
            Field::new("smape", DataType::Float64, true),
            Field::new("mase", DataType::Float64, true),
            Field::new("coverage_80", DataType::Float64, true),
            Field::new("coverage_95", DataType::Float64, true),
            Field::new("recommended", DataType::Boolean, false),
            Field::new("note", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from(
                b_rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                b_rows
                    .iter()
                    .map(|r| r.1.as_ref().map(|a| a.origins as i64))
                    .collect::<Vec<_>>(),
            )),
            acc(&|a| Some(a.mae)),
            acc(&|a| Some(a.rmse)),
            acc(&|a| a.mape),
            acc(&|a| Some(a.smape)),
            acc(&|a| a.mase),
            acc(&|a| a.coverage80),
            acc(&|a| a.coverage95),
            Arc::new(BooleanArray::from(
                b_rows
                    .iter()
                    .map(|r| Some(r.0) == recommended)
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                b_rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
            )),
        ],
    )
    .expect("columns match");
    Ok(Report {
        forecasts,
        backtest,
        recommended,
    })
}

/// One forecast row: method, period label, steps ahead (from 1), point forecast, and the 80%
/// and 95% intervals where the method gives them.
type ForecastRow = (
    &'static str,
    String,
    i64,
    f64,
    Option<(f64, f64)>,
    Option<(f64, f64)>,
);
