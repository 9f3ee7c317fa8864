//! `crm forecast` with every model: forecasts with intervals, the backtest, the recommended
//! model, and a clear word when the history is too short (METRICS.md "Sales forecast").

use crate::common::*;

#[test]
fn every_model_is_backtested_and_the_lowest_mase_is_recommended() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg]);
    let rows = parse_csv(&sb.ok(&[
        "forecast", "--config", cfg, "--table", "backtest", "--format", "csv",
    ]));
    assert_eq!(
        rows[0],
        [
            "model",
            "origins",
            "mae",
            "rmse",
            "mape",
            "smape",
            "mase",
            "coverage_80",
            "coverage_95",
            "recommended",
            "note"
        ]
    );
    let models: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(models, ["seed", "seasonal_naive", "ets", "mstl_ets"]);
    let recommended: Vec<&Vec<String>> = rows[1..].iter().filter(|r| r[9] == "true").collect();
    assert_eq!(recommended.len(), 1);
    let best: f64 = recommended[0][6].parse().unwrap();
    for r in rows[1..].iter().filter(|r| !r[6].is_empty()) {
        assert!(best <= r[6].parse::<f64>().unwrap(), "{r:?}");
        let smape: f64 = r[5].parse().unwrap();
        assert!((0.0..=2.0).contains(&smape));
    }
    // 24 months of sample history: too short for a yearly decomposition, and it says so.
    let mstl = rows.iter().find(|r| r[0] == "mstl_ets").unwrap();
    assert_eq!(
        mstl[10],
        "mstl_ets: 24 periods of history, it needs at least 25"
    );

    let rows = parse_csv(&sb.ok(&[
        "forecast",
        "--config",
        cfg,
        "--table",
        "forecasts",
        "--format",
        "csv",
    ]));
    assert_eq!(
        rows[0],
        [
            "model", "period", "h", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"
        ]
    );
    for r in rows[1..].iter().filter(|r| r[0] != "seed") {
        let v: Vec<f64> = r[3..8].iter().map(|x| x.parse().unwrap()).collect();
        let (f, l80, u80, l95, u95) = (v[0], v[1], v[2], v[3], v[4]);
        assert!(l95 <= l80 && l80 <= f && f <= u80 && u80 <= u95, "{r:?}");
    }
    assert_eq!(
        rows.iter()
            .filter(|r| r[0] == "ets")
            .map(|r| r[1].clone())
            .collect::<Vec<_>>(),
        [
            "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"
        ]
    );
}

#[test]
fn a_history_too_short_for_every_model_gets_a_clear_message() {
    let sb = Sandbox::new();
    sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt1,a,2024-01-10,10\nt2,b,2024-02-11,20\n",
    );
    sb.ok(&["ingest"]);
    let out = sb.ok(&["forecast", "--as-of", "2024-03-01"]);
    assert!(out.contains("no model has enough history"), "{out}");
    assert!(
        out.contains("seed: 2 periods of history, it needs at least 12"),
        "{out}"
    );
}
