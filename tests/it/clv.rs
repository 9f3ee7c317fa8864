//! Customer lifetime value on CDNOW against the published values (Fader, Hardie & Lee 2005,
//! "Counting Your Customers the Easy Way"; Fader & Hardie's Gamma-Gamma note), as listed in
//! tests/data/cdnow/README.md: calibration 1997-01-01 to 1997-09-30, weeks.

use std::collections::HashMap;

use crate::common::*;

fn cdnow_sample() -> Sandbox {
    let sb = Sandbox::new();
    let data = cdnow("cdnow_sample.csv");
    sb.write(
        "crm.toml",
        &format!("[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = {:?}\n[sources.transactions.columns]\nts = \"date\"\n", data.to_str().unwrap()),
    );
    sb.ok(&["ingest"]);
    sb
}

/// Four significant digits: |a - b| < 0.5 in the fourth significant digit of b.
fn sig4(a: f64, b: f64) -> bool {
    let scale = 10f64.powf(b.abs().log10().floor() - 3.0);
    (a - b).abs() <= 0.5 * scale + 1e-12
}

#[test]
fn summary_equals_the_papers_per_customer_summary_for_all_2357_customers() {
    let sb = cdnow_sample();
    let out = sb.ok(&[
        "query",
        "--sql",
        "select customer_id, frequency, recency, t from clv_summary",
        "--as-of",
        "1997-10-01",
        "--format",
        "csv",
    ]);
    let ours: HashMap<String, (String, f64, f64)> = parse_csv(&out)[1..]
        .iter()
        .map(|r| {
            (
                r[0].clone(),
                (r[1].clone(), r[2].parse().unwrap(), r[3].parse().unwrap()),
            )
        })
        .collect();
    let ids: HashMap<String, String> =
        parse_csv(&std::fs::read_to_string(cdnow("cdnow_sample_id_map.csv")).unwrap())[1..]
            .iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
    let paper =
        parse_csv(&std::fs::read_to_string(cdnow("cdnow_sample_paper_summary.csv")).unwrap());
    assert_eq!(paper.len() - 1, 2357);
    assert_eq!(ours.len(), 2357);
    for r in &paper[1..] {
        let id = &ids[&r[0]];
        let (x, tx, t) = &ours[id];
        assert_eq!(x, &r[1], "frequency of sample id {} (customer {id})", r[0]);
        assert!(
            (tx - r[2].parse::<f64>().unwrap()).abs() < 0.005 + 1e-9,
            "recency of {}: {tx} vs {}",
            r[0],
            r[2]
        );
        assert!(
            (t - r[3].parse::<f64>().unwrap()).abs() < 0.005 + 1e-9,
            "T of {}: {t} vs {}",
            r[0],
            r[3]
        );
    }
}

#[test]
fn bgnbd_and_gamma_gamma_reproduce_fader_hardie_lee_2005_on_cdnow_to_4_significant_digits() {
    let sb = cdnow_sample();
    let out = sb.ok(&[
        "clv",
        "--as-of",
        "1997-10-01",
        "--params",
        "--format",
        "json",
    ]);
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bg = &p["bgnbd"];
    for (name, published) in [
        ("r", 0.2426),
        ("alpha", 4.4136),
        ("a", 0.7929),
        ("b", 2.4259),
    ] {
        let v = bg[name].as_f64().unwrap();
        assert!(
            sig4(v, published),
            "BG/NBD {name} = {v}, published {published}"
        );
    }
    let ll = bg["log_likelihood"].as_f64().unwrap();
    assert!((ll - -9582.43).abs() < 0.01, "log-likelihood {ll}");
    let gg = &p["gamma_gamma"];
    // Published to 3 significant digits in the note: p = 6.25, q = 3.74, gamma = 15.44.
    for (name, published, tol) in [
        ("p", 6.25, 0.005),
        ("q", 3.74, 0.005),
        ("gamma", 15.44, 0.005),
    ] {
        let v = gg[name].as_f64().unwrap();
        assert!(
            (v - published).abs() <= tol * published.max(1.0),
            "Gamma-Gamma {name} = {v}, published {published}"
        );
    }
    assert_eq!(
        gg["customers"], 946,
        "the 946 customers with repeat purchases"
    );
    assert_eq!(gg["excluded_non_positive"], 0);
}

#[test]
fn per_customer_values_have_the_stable_shape_and_hold_their_invariants() {
    let sb = cdnow_sample();
    let out = sb.ok(&[
        "clv",
        "--as-of",
        "1997-10-01",
        "--horizon-weeks",
        "39",
        "--clv-months",
        "12",
        "--format",
        "csv",
    ]);
    let rows = parse_csv(&out);
    assert_eq!(
        rows[0],
        [
            "customer_id",
            "frequency",
            "recency",
            "t",
            "monetary_value",
            "p_alive",
            "expected_purchases",
            "expected_order_value",
            "clv"
        ]
    );
    assert_eq!(rows.len() - 1, 2357);
    let mut total_expected = 0.0;
    for r in &rows[1..] {
        let p: f64 = r[5].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{r:?}");
        let e: f64 = r[6].parse().unwrap();
        assert!(e >= 0.0);
        total_expected += e;
        assert!(r[8].parse::<f64>().unwrap() >= 0.0);
        if r[1] == "0" {
            assert_eq!(
                r[5], "1.0",
                "no repeat purchase: alive by the model's assumption"
            );
            assert_eq!(r[4], "");
        }
    }
    // The model's conditional expectation for the 39 weeks after calibration against what the
    // 2,357 customers actually did in those weeks (distinct purchase days, as the model counts).
    let actual = sb.csv(
        &sb.path("crm.toml"),
        "select count(*) from (select distinct customer_id, local_date from stg_transactions \
         where not is_refund and local_date >= date '1997-10-01')",
        &["--as-of", "1998-07-01"],
    );
    let actual: f64 = actual[1][0].parse().unwrap();
    assert!(
        (total_expected - actual).abs() < 0.15 * actual,
        "expected {total_expected:.0}, actual {actual}"
    );
}

/// `crm clv --model MODEL` on CDNOW with the paper's calibration/holdout split, as rows.
fn paper_holdout(sb: &Sandbox, model: &str) -> Vec<Vec<String>> {
    parse_csv(&sb.ok(&[
        "clv",
        "--model",
        model,
        "--holdout-from",
        "1997-10-01",
        "--as-of",
        "1998-07-01",
        "--format",
        "csv",
    ]))
}

#[test]
fn holdout_mode_compares_predicted_and_actual_repeat_purchases_per_calibration_frequency() {
    let sb = cdnow_sample();
    let rows = paper_holdout(&sb, "bgnbd");
    assert_eq!(
        rows[0],
        [
            "calibration_frequency",
            "customers",
            "actual_mean",
            "predicted_mean",
            "error"
        ]
    );
    let customers: u64 = rows[1..].iter().map(|r| r[1].parse::<u64>().unwrap()).sum();
    assert_eq!(customers, 2357);
    assert_eq!(rows[1][0], "0");
    assert_eq!(rows.last().unwrap()[0], "7+");
    // Customers who bought more in calibration buy more in the holdout, and the model follows.
    let actual: Vec<f64> = rows[1..].iter().map(|r| r[2].parse().unwrap()).collect();
    let predicted: Vec<f64> = rows[1..].iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(actual.first() < actual.last() && predicted.first() < predicted.last());
    for (a, p) in actual.iter().zip(&predicted) {
        assert!((a - p).abs() < 1.5, "{a} vs {p}");
    }
}

/// The calibration/holdout check of Fader, Hardie & Lee (2005) on CDNOW (weeks 1-39 against
/// weeks 40-78), per calibration frequency 0..6 and 7+: the customers per bucket and their mean
/// holdout repeat purchases equal the comparison matrix of the BTYD R package on the same data,
/// and Pareto/NBD's conditional expectations equal an independent implementation's with the
/// published parameters (values and sources in tests/data/cdnow/README.md).
#[test]
fn the_holdout_check_on_cdnow_matches_the_published_comparison_per_calibration_frequency() {
    let sb = cdnow_sample();
    let rows = paper_holdout(&sb, "pnbd");
    let labels: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(labels, ["0", "1", "2", "3", "4", "5", "6", "7+"]);
    let customers: Vec<u64> = rows[1..].iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(customers, [1411, 439, 214, 100, 62, 38, 29, 64]);
    let actual = [
        0.2367116, 0.6970387, 1.392523, 1.560000, 2.532258, 2.947368, 3.862069, 6.359375,
    ];
    let pnbd = [0.138, 0.600, 1.196, 1.714, 2.399, 2.907, 3.819, 6.403];
    for (i, r) in rows[1..].iter().enumerate() {
        let (a, p): (f64, f64) = (r[2].parse().unwrap(), r[3].parse().unwrap());
        assert!(
            (a - actual[i]).abs() < 5e-7,
            "bucket {}: actual {a} vs {}",
            r[0],
            actual[i]
        );
        // The reference rounds to three decimals and used beta = 11.656 (ours 11.669).
        assert!(
            (p - pnbd[i]).abs() < 0.002,
            "bucket {}: Pareto/NBD {p} vs {}",
            r[0],
            pnbd[i]
        );
    }
}

/// Pareto/NBD through the command line: the published CDNOW parameters (tests/data/cdnow/README.md)
/// and the per-customer table of BG/NBD's shape.
#[test]
fn pareto_nbd_reproduces_the_published_cdnow_values_through_crm_clv() {
    let sb = cdnow_sample();
    let out = sb.ok(&[
        "clv",
        "--model",
        "pnbd",
        "--as-of",
        "1997-10-01",
        "--params",
        "--format",
        "json",
    ]);
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["model"], "pnbd");
    assert!(p.get("bgnbd").is_none(), "{p}");
    for (name, published) in [
        ("r", 0.5533),
        ("alpha", 10.5777),
        ("s", 0.6062),
        ("beta", 11.6687),
    ] {
        let v = p["pnbd"][name].as_f64().unwrap();
        assert!(
            sig4(v, published),
            "Pareto/NBD {name} = {v}, published {published}"
        );
    }
    let ll = p["pnbd"]["log_likelihood"].as_f64().unwrap();
    assert!((ll - -9594.98).abs() < 0.01, "log-likelihood {ll}");

    let table = |model: &str| {
        parse_csv(&sb.ok(&[
            "clv",
            "--model",
            model,
            "--as-of",
            "1997-10-01",
            "--horizon-weeks",
            "39",
            "--format",
            "csv",
        ]))
    };
    let (bg, pn) = (table("bgnbd"), table("pnbd"));
    assert_eq!(bg[0], pn[0], "the same columns whichever model");
    assert_eq!(bg.len(), pn.len());
    let col = |rows: &Vec<Vec<String>>, name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let (alive, expected) = (col(&pn, "p_alive"), col(&pn, "expected_purchases"));
    let mut differ = 0;
    for (b, r) in bg[1..].iter().zip(&pn[1..]) {
        assert_eq!(b[0], r[0], "customer order");
        let p: f64 = r[alive].parse().unwrap();
        let e: f64 = r[expected].parse().unwrap();
        assert!((0.0..=1.0).contains(&p) && e >= 0.0, "{r:?}");
        differ += usize::from(b[expected] != r[expected]);
    }
    assert!(differ > 2000, "the two models gave the same expectations");
}

/// `auto` on CDNOW with the paper's split (calibration to 1997-09-30, holdout weeks 40-78): each
/// model is fitted on the calibration period, so its parameters there are the published ones;
/// the choice is the model with the lower per-customer MAE, and the errors are consistent with
/// the totals.
#[test]
fn auto_fits_both_models_on_the_calibration_period_and_keeps_the_better_predictor() {
    let sb = cdnow_sample();
    let out = sb
        .cmd(&[
            "clv",
            "--model",
            "auto",
            "--holdout-from",
            "1997-10-01",
            "--as-of",
            "1998-07-01",
            "--params",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&["clv"], &out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chosen:") && err.contains("Pareto/NBD") && err.contains("BG/NBD"),
        "{err}"
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &p["choice"];
    assert_eq!(c["customers"], 2357);
    assert!((c["weeks"].as_f64().unwrap() - 39.0).abs() < 1e-9);
    let models = &c["models"];
    for (model, name, published) in [
        ("bgnbd", "r", 0.2426),
        ("bgnbd", "alpha", 4.4136),
        ("bgnbd", "a", 0.7929),
        ("bgnbd", "b", 2.4259),
        ("pnbd", "r", 0.5533),
        ("pnbd", "alpha", 10.5777),
        ("pnbd", "s", 0.6062),
        ("pnbd", "beta", 11.6687),
    ] {
        let v = models[model]["calibration_params"][name].as_f64().unwrap();
        assert!(
            sig4(v, published),
            "{model} {name} = {v}, published {published}"
        );
    }
    let (bg, pn) = (&models["bgnbd"], &models["pnbd"]);
    // The same customers, the same holdout: the same actual purchases for both.
    assert_eq!(bg["actual_purchases"], pn["actual_purchases"]);
    let actual = bg["actual_purchases"].as_f64().unwrap();
    assert!(actual > 1000.0, "{actual}");
    for m in [bg, pn] {
        let (mae, rmse) = (m["mae"].as_f64().unwrap(), m["rmse"].as_f64().unwrap());
        let total = (m["predicted_purchases"].as_f64().unwrap() - actual).abs();
        // |sum of errors| <= sum of |errors| = n * MAE, and MAE <= RMSE.
        assert!(total <= 2357.0 * mae + 1e-6 && mae <= rmse, "{m}");
        // Both models predict the cohort's holdout total within 15% (the paper: within a few %).
        assert!(total < 0.15 * actual, "{m}");
        let rows = m["by_calibration_frequency"].as_array().unwrap();
        let n: u64 = rows.iter().map(|r| r["customers"].as_u64().unwrap()).sum();
        assert_eq!(n, 2357);
    }
    let better = if pn["mae"].as_f64() < bg["mae"].as_f64() {
        "pnbd"
    } else {
        "bgnbd"
    };
    assert_eq!(c["chosen"], better);
    assert_eq!(p["model"], better);
    // The figures use the chosen model refitted on every customer up to as_of; both are given.
    assert!(p["bgnbd"]["r"].as_f64().is_some() && p["pnbd"]["r"].as_f64().is_some());
}

#[test]
fn a_fit_without_repeat_buyers_says_what_to_try() {
    let sb = Sandbox::new();
    sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt1,a,2024-01-01,10\nt2,b,2024-01-02,20\n",
    );
    sb.ok(&["ingest"]);
    let err = sb.fails(&["clv"]);
    assert!(
        err.contains("no customer made a repeat purchase") && err.contains("longer calibration"),
        "{err}"
    );
}

#[test]
fn kmeans_segments_of_the_sample_add_up_and_repeat_for_the_same_seed() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg]);
    let a = sb.ok(&[
        "cluster",
        "--config",
        cfg,
        "--k",
        "4",
        "--assignments",
        "--format",
        "csv",
    ]);
    let b = sb.ok(&[
        "cluster",
        "--config",
        cfg,
        "--k",
        "4",
        "--assignments",
        "--format",
        "csv",
    ]);
    assert_eq!(a, b, "same input and seed, same assignments");
    let profiles = parse_csv(&sb.ok(&[
        "segment", "--by", "kmeans", "--config", cfg, "--format", "csv",
    ]));
    assert_eq!(
        profiles[0][..4],
        ["cluster", "label", "customers", "share_pct"]
    );
    let clustered: u64 = profiles[1..]
        .iter()
        .map(|r| r[2].parse::<u64>().unwrap())
        .sum();
    let scored = sb.csv(std::path::Path::new(cfg), "select count(*) from rfm", &[]);
    assert_eq!(clustered.to_string(), scored[1][0]);
    // Ordered by mean monetary value, descending.
    let means: Vec<f64> = profiles[1..]
        .iter()
        .map(|r| r[8].parse().unwrap())
        .collect();
    assert!(means.windows(2).all(|w| w[0] >= w[1]), "{means:?}");
}

/// Scripts get every digit; people get four decimals. A P(alive) of 1.6e-7 printed as 0.0, or
/// a CLV cut to cents, made 19 CDNOW customers differ from lifetimes' values by more than 1e-3
/// relative through rounding alone.
#[test]
fn machine_readable_formats_carry_full_precision_and_only_the_table_rounds() {
    let sb = cdnow_sample();
    let args = |format: &'static str| {
        vec![
            "clv",
            "--as-of",
            "1997-10-01",
            "--horizon-weeks",
            "39",
            "--format",
            format,
        ]
    };
    let csv = parse_csv(&sb.ok(&args("csv")));
    let decimals = |v: &str| {
        v.split_once('.').map_or(0, |(_, d)| {
            d.trim_end_matches(|c: char| !c.is_ascii_digit()).len()
        })
    };
    let long = |col: usize| csv[1..].iter().filter(|r| decimals(&r[col]) > 4).count();
    // expected_purchases and clv of nearly every customer need more than four decimals, and
    // so does p_alive for the 946 with repeat purchases (it is 1 for the others).
    let repeat = csv[1..].iter().filter(|r| r[1] != "0").count();
    assert_eq!(repeat, 946);
    assert!(long(5) > 900, "p_alive rounded: {}", long(5));
    assert!(long(6) > 2000, "expected_purchases rounded: {}", long(6));
    assert!(long(8) > 2000, "clv rounded: {}", long(8));
    let json: serde_json::Value = serde_json::from_str(&sb.ok(&args("json"))).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), csv.len() - 1);
    for (j, c) in rows.iter().zip(&csv[1..]) {
        assert_eq!(j["customer_id"].as_str().unwrap(), c[0]);
        // To the last bit but one: serde_json's default float parsing (this test's, not crm's
        // output) may land one ulp off.
        let (p, q) = (j["p_alive"].as_f64().unwrap(), c[5].parse::<f64>().unwrap());
        assert!((p - q).abs() <= 2.0 * f64::EPSILON * q.abs(), "{c:?} {p}");
    }
    // The table for people: four decimals at most.
    let table = sb.ok(&args("table"));
    let line = table
        .lines()
        .find(|l| l.contains("| 1 ") || l.contains("| 2 "))
        .expect(&table);
    for cell in line.split('|').map(str::trim).filter(|c| c.contains('.')) {
        assert!(decimals(cell) <= 4, "{line}");
    }
}
