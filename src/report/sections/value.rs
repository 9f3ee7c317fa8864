//! The report's value and forecast section: the recommended forecast, the backtest, the CLV
//! distribution and its holdout check.

use std::path::Path;

use serde_json::Value;

use super::{Analyses, f, s, strings, table_rows};
use crate::analyses::{clv, forecast};
use crate::error::{Error, Result};
use crate::report::charts::{self, render};
use crate::report::html::Section;

pub(super) async fn section(a: &mut Analyses<'_>, dir: &Path) -> Result<Section> {
    let as_of = a.engine.as_of.to_string();
    let history = forecast::history_of(a.table("revenue_history").await?)?;
    let period = a.config.forecast.period.name().to_string();
    let fr = match a.forecast().await {
        Ok(fr) => fr,
        Err(e) => return Err(Error::analysis("forecast", e.to_string())),
    };
    let model = fr.recommended.unwrap_or("seed");
    let forecast = forecast_chart(&history, &rows_of(&fr.forecasts)?, model, &as_of, &period);
    let brows = rows_of(&fr.backtest)?;
    let scored: Vec<&Value> = brows.iter().filter(|r| f(r, "mase").is_some()).collect();
    let backtest = charts::Bars {
        title: format!("Forecast backtest: MASE per model, lower is better (as of {as_of})"),
        y_desc: "MASE (1 = in-sample seasonal naive error)".into(),
        labels: scored.iter().map(|r| s(r, "model")).collect(),
        values: scored.iter().map(|r| f(r, "mase").unwrap_or(0.0)).collect(),
        highlight: scored
            .iter()
            .map(|r| r.get("recommended") == Some(&Value::Bool(true)))
            .collect(),
    };
    let clv_hist = charts::Histogram {
        title: format!(
            "Customer lifetime value over {} months, discounted (as of {as_of})",
            a.config.clv.horizon_months
        ),
        x_desc: "CLV (currency of the exports)".into(),
        counted: "customers".into(),
        values: a.clv().await.map(clv::Scored::clv).unwrap_or_default(),
        bins: 30,
    };
    let (holdout, clv_note) = holdout(a, &as_of).await;
    Ok(Section {
        title: "Value and forecast".into(),
        intro: format!("Models were backtested on rolling origins; the one with the lowest MASE ({model}) is drawn. {clv_note}"),
        charts: vec![
            (render(dir, "forecast", &forecast)?, "Net revenue of complete periods and the recommended model's forecast with its 80% and 95% intervals.".into()),
            (render(dir, "forecast_backtest", &backtest)?, "Mean absolute error scaled by the in-sample seasonal naive error, over rolling origins; the recommended model in orange.".into()),
            (render(dir, "clv_distribution", &clv_hist)?, "Expected order value (Gamma-Gamma) times expected purchases (BG/NBD) month by month, discounted 1% a month by default; the last bar holds the top 1%.".into()),
            (render(dir, "clv_holdout", &holdout)?, "Mean repeat purchases in the holdout by the number of repeat purchases before it: actual against the model's prediction (both models' with clv.model = auto).".into()),
        ],
        tables: vec![(
            "Backtest errors per model (MASE below 1 beats the seasonal naive baseline in-sample).".into(),
            strings(&["model", "MAE", "MAPE %", "MASE", "coverage 95%", "note"]),
            table_rows(&brows, &["model", "mae", "mape", "mase", "coverage_95", "note"]),
        )],
    })
}

fn rows_of(batch: &datafusion::arrow::array::RecordBatch) -> Result<Vec<Value>> {
    Ok(
        crate::output::to_json(std::slice::from_ref(batch), &batch.schema())?
            .as_array()
            .cloned()
            .unwrap_or_default(),
    )
}

/// The complete periods' revenue and the recommended model's forecast after them.
fn forecast_chart(
    history: &[(i64, String, f64)],
    frows: &[Value],
    model: &str,
    as_of: &str,
    period: &str,
) -> charts::Forecast {
    let mine: Vec<&Value> = frows.iter().filter(|r| s(r, "model") == model).collect();
    let mut labels: Vec<String> = history.iter().map(|h| h.1.clone()).collect();
    labels.extend(mine.iter().map(|r| s(r, "period")));
    let mut actual: Vec<Option<f64>> = history.iter().map(|h| Some(h.2)).collect();
    actual.extend(mine.iter().map(|_| None));
    charts::Forecast {
        as_of: as_of.into(),
        period: period.into(),
        model: model.into(),
        labels,
        actual,
        forecast: mine
            .iter()
            .map(|r| {
                let p = f(r, "forecast").unwrap_or(0.0);
                (
                    p,
                    f(r, "lower_80").unwrap_or(p),
                    f(r, "upper_80").unwrap_or(p),
                    f(r, "lower_95").unwrap_or(p),
                    f(r, "upper_95").unwrap_or(p),
                )
            })
            .collect(),
    }
}

/// The CLV check on the last 26 weeks, when there is history enough before them (with
/// `clv.model = "auto"`, on the holdout the model was chosen on); and the sentence that says
/// what was checked.
async fn holdout(a: &mut Analyses<'_>, as_of: &str) -> (charts::ClvHoldout, String) {
    let mut chart = charts::ClvHoldout {
        as_of: as_of.into(),
        labels: vec![],
        actual: vec![],
        predicted: vec![],
    };
    let model = a.config.clv.model;
    let chosen_on = match a.clv().await {
        Ok(scored) => scored.fitted.choice.clone(),
        Err(_) => None,
    };
    let (split, table, choice) = match chosen_on {
        Some(c) => (c.holdout_from, None, Some(c)),
        None => {
            let split = a.engine.as_of - chrono::Duration::weeks(26);
            let Ok((table, choice, _)) = clv::holdout(a.config, model, a.engine, split).await
            else {
                let note = "Not enough history before the last 26 weeks to check the CLV model.";
                return (chart, note.into());
            };
            (split, Some(table), choice)
        }
    };
    // With auto, both models' predictions (the same customers, buckets and actuals).
    let tables: Vec<(String, datafusion::arrow::array::RecordBatch)> = match &choice {
        Some(c) => c
            .scores
            .iter()
            .map(|s| (s.model.title().to_string(), s.table.clone()))
            .collect(),
        None => {
            let name = if model == crate::config::ClvModel::Pnbd {
                "Pareto/NBD"
            } else {
                "BG/NBD"
            };
            vec![(name.to_string(), table.expect("a table without a choice"))]
        }
    };
    for (i, (name, table)) in tables.iter().enumerate() {
        let mut means = Vec::new();
        for r in rows_of(table).unwrap_or_default() {
            if i == 0 {
                chart.labels.push(s(&r, "calibration_frequency"));
                chart.actual.push(f(&r, "actual_mean").unwrap_or(0.0));
            }
            means.push(f(&r, "predicted_mean").unwrap_or(0.0));
        }
        chart.predicted.push((name.clone(), means));
    }
    let note = match &choice {
        Some(c) => {
            let score = |key: &str| c.scores.iter().find(|s| s.model.key() == key);
            let (Some(bg), Some(pn)) = (score("bgnbd"), score("pnbd")) else {
                unreachable!("auto scores both models")
            };
            let chosen = if c.chosen == "pnbd" {
                "Pareto/NBD"
            } else {
                "BG/NBD"
            };
            format!(
                "BG/NBD and Pareto/NBD fitted on purchases before {split}, compared with what the same customers did from {split} to {as_of}: per-customer mean absolute error {:.3} (BG/NBD) and {:.3} (Pareto/NBD); the CLV uses {chosen}.",
                bg.mae, pn.mae
            )
        }
        None => {
            let name = if model == crate::config::ClvModel::Pnbd {
                "Pareto/NBD"
            } else {
                "BG/NBD"
            };
            format!(
                "{name} fitted on purchases before {split}, compared with what the same customers did from {split} to {as_of}."
            )
        }
    };
    (chart, note)
}
