//! `crm run`, the nightly batch, on the shipped sample.

use crate::common::*;

#[test]
fn run_on_the_sample_writes_a_dated_folder_with_tables_and_summary() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    let out = sb.ok(&["run", "--config", cfg, "--out", "reports"]);
    assert!(out.contains("report written to"), "{out}");
    let dirs: Vec<_> = std::fs::read_dir(sb.path("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let day = dirs[0].to_string_lossy().into_owned();
    // The sample covers 2023-01-01 up to 2025-01-01: as_of is the day after the last purchase.
    assert_eq!(day, "2025-01-01");
    let dir = sb.path("reports").join(&day);
    for f in [
        "rfm.csv",
        "rfm.parquet",
        "rfm_segment_summary.csv",
        "rfm_segment_summary.parquet",
        "rejects.csv",
        "summary.json",
        "targets/champions.csv",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["as_of"], day);
    assert_eq!(summary["status"], "ok", "{}", summary["failed_steps"]);
    assert_eq!(summary["failed_steps"], serde_json::json!([]));
    // Each step's time, in the order they ran: ingest first, the report near the end.
    let steps: Vec<(&str, f64)> = summary["step_seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["seconds"].as_f64().unwrap()))
        .collect();
    assert_eq!(steps[0].0, "ingest");
    for step in [
        "rfm",
        "retention_cohorts",
        "k-means",
        "forecasts",
        "CLV",
        "report",
    ] {
        assert!(
            steps.iter().any(|s| s.0 == step),
            "{step} missing: {steps:?}"
        );
    }
    assert!(steps.iter().all(|s| s.1 >= 0.0));
    let rfm_rows = summary["tables"]["rfm"].as_u64().unwrap();
    let seg_total: u64 = summary["rfm_segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(rfm_rows, seg_total);
    // Lifecycle counts every known customer: the customers table and the orphans.
    let statuses: u64 = summary["lifecycle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(
        statuses,
        summary["warehouse"]["rows"]["customers"].as_u64().unwrap() + orphan_customers(&sb, cfg)
    );
    // The models: k-means profiles, CLV per customer, forecasts with the recommended model.
    for f in [
        "cluster_profiles.csv",
        "cluster_assignments.csv",
        "clv.csv",
        "forecasts.csv",
        "forecast_backtest.csv",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    // The run's BG/NBD is the one `crm clv` fits on the same warehouse and day.
    let params: serde_json::Value = serde_json::from_str(&sb.ok(&[
        "clv", "--config", cfg, "--as-of", &day, "--params", "--format", "json",
    ]))
    .unwrap();
    for p in ["r", "alpha", "a", "b", "log_likelihood"] {
        assert_eq!(
            summary["models"]["clv"]["bgnbd"][p], params["bgnbd"][p],
            "{p}: {}",
            summary["models"]
        );
    }
    // k is the one with the best silhouette, and the report's tables have k clusters.
    let kmeans = &summary["models"]["kmeans"];
    let k = kmeans["k"].as_u64().unwrap();
    let best = kmeans["silhouettes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s[0].as_u64().unwrap(), s[1].as_f64().unwrap()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(k, best.0, "{kmeans}");
    assert_eq!(kmeans["profiles"].as_array().unwrap().len() as u64, k);
    let assigned: std::collections::BTreeSet<String> =
        parse_csv(&std::fs::read_to_string(dir.join("cluster_assignments.csv")).unwrap())[1..]
            .iter()
            .map(|r| r[1].clone())
            .collect();
    assert_eq!(assigned.len() as u64, k, "{assigned:?}");
    assert!(summary["models"]["forecast"]["recommended"].is_string());
    let csv_rows = std::fs::read_to_string(dir.join("rfm.csv"))
        .unwrap()
        .lines()
        .count() as u64
        - 1;
    assert_eq!(csv_rows, rfm_rows);
    assert!(
        summary["ingest"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["read"].as_u64().unwrap() > 0)
    );

    // Run again (as cron does): nothing new to load, the same report, replaced whole.
    let first = std::fs::read_to_string(dir.join("rfm.csv")).unwrap();
    let out = sb.ok(&["run", "--config", cfg, "--out", "reports", "--as-of", &day]);
    assert!(out.contains("unchanged, skipped"), "{out}");
    assert_eq!(std::fs::read_to_string(dir.join("rfm.csv")).unwrap(), first);
    assert_eq!(
        std::fs::read_dir(sb.path("reports")).unwrap().count(),
        1,
        "no partial folders left"
    );
}

#[test]
fn run_fails_with_a_clear_message_and_non_zero_exit() {
    let sb = Sandbox::new();
    sb.write(
        "crm.toml",
        "[sources.transactions]\npath = \"orders.csv\"\n",
    );
    let err = sb.fails(&["run"]);
    assert!(
        err.starts_with("crm: error:") && err.contains("orders.csv"),
        "{err}"
    );
}

/// Customers known only from their transactions (orphans): counted in lifecycle, not in the
/// customers table.
fn orphan_customers(sb: &Sandbox, cfg: &str) -> u64 {
    let rows = sb.csv(
        std::path::Path::new(cfg),
        "select count(distinct customer_id) from stg_transactions where customer_id not in (select customer_id from customers)",
        &[],
    );
    rows[1][0].parse().unwrap()
}

/// A nightly run that cannot do every analysis it promises still writes what it can, says
/// which steps failed in summary.json, and exits with status 4 so that cron mails it.
#[test]
fn a_run_whose_models_cannot_be_fitted_writes_the_report_and_exits_with_status_4() {
    let sb = Sandbox::new();
    sb.write(
        "orders.csv",
        "transaction_id,customer_id,ts,amount\nT1,C1,2024-01-05,10.00\n",
    );
    sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"orders.csv\"\n",
    );
    let args = ["run", "--config", "crm.toml", "--out", "reports"];
    let out = sb.cmd(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&args, &out));
    assert!(err.contains("k-means"), "{err}");
    assert!(err.contains("CLV"), "{err}");
    let dir = sb.path("reports/2024-01-06");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "failed");
    let steps: Vec<&str> = summary["failed_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"k-means") && steps.contains(&"CLV"),
        "{steps:?}"
    );
    for s in summary["failed_steps"].as_array().unwrap() {
        assert!(!s["error"].as_str().unwrap().is_empty(), "{s}");
    }
    // The analyses that could run are there.
    assert!(dir.join("rfm.csv").exists());
    assert!(dir.join("retention_rate.csv").exists());
}

/// `clv.model = "auto"` in the nightly run: the choice and both models' holdout figures are in
/// summary.json, the CLV table is the chosen model's, and the report's holdout chart and its
/// sentence show both models on the holdout the choice was made on.
#[test]
fn a_run_with_the_clv_model_on_auto_reports_the_choice_and_both_models() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let text = std::fs::read_to_string(&cfg).unwrap() + "\n[clv]\nmodel = \"auto\"\n";
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["run", "--config", cfg, "--out", "reports"]);
    let dir = sb.path("reports/2025-01-01");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "ok", "{}", summary["failed_steps"]);
    let clv = &summary["models"]["clv"];
    let choice = &clv["choice"];
    let chosen = choice["chosen"].as_str().unwrap();
    assert!(chosen == "bgnbd" || chosen == "pnbd", "{choice}");
    assert_eq!(clv["model"], chosen);
    let (bg, pn) = (&choice["models"]["bgnbd"], &choice["models"]["pnbd"]);
    let lower = if pn["mae"].as_f64() < bg["mae"].as_f64() {
        "pnbd"
    } else {
        "bgnbd"
    };
    assert_eq!(chosen, lower);
    // The sample spans two years: the holdout is its last 39 weeks.
    assert_eq!(choice["holdout_from"], "2024-04-03");
    // The CLV table is the chosen model's: the same as `crm clv --model <chosen>`.
    let table = std::fs::read_to_string(dir.join("clv.csv")).unwrap();
    let direct = sb.ok(&["clv", "--config", cfg, "--model", chosen, "--format", "csv"]);
    assert_eq!(table.lines().count(), direct.lines().count());
    assert_eq!(table.lines().nth(1), direct.lines().nth(1));
    let svg = std::fs::read_to_string(dir.join("clv_holdout.svg")).unwrap();
    assert!(svg.contains("BG/NBD prediction") && svg.contains("Pareto/NBD prediction"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("the CLV uses"),
        "the report does not say which model the CLV uses"
    );
}

/// `[alerts]` on a tiny history worked by hand (monthly): a, b and c buy 10.00 each in December
/// and January, only a in February; one line of the export has no valid time. As of 1 March:
/// strict retention fell from 100% (January: all 3 of December again) to 33.3% (February: a of
/// 3), 66.7 points; net revenue fell 66.7% (30 to 10); the load rejected 1 of 8 records (12.5%).
/// With limits 50 points, 70%, 10% and churned-up 10% (January churned nobody: no rate), the
/// retention and reject alerts fire, revenue does not.
#[test]
fn alerts_are_checked_listed_first_and_fail_the_run_on_request() {
    let sb = Sandbox::new();
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\n\
         t1,a,2023-12-05,10\nt2,b,2023-12-06,10\nt3,c,2023-12-07,10\n\
         t4,a,2024-01-05,10\nt5,b,2024-01-06,10\nt6,c,2024-01-07,10\n\
         t7,a,2024-02-05,10\nt8,d,not a time,10\n",
    );
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[report]\nout = \"reports\"\n\
         [alerts]\nretention_drop_points = 50\nrevenue_change_pct = 70\nreject_rate_pct = 10\nchurned_up_pct = 10\n\
         [sources.transactions]\npath = \"t.csv\"\nmax_reject_rate = 0.5\n",
    );
    let cfg = cfg.to_str().unwrap();
    let out = sb
        .cmd(&[
            "run",
            "--config",
            cfg,
            "--as-of",
            "2024-03-01",
            "--fail-on-alert",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", describe(&["run"], &out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 alert threshold(s) crossed"), "{err}");
    let dir = sb.path("reports/2024-03-01");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let alerts = summary["alerts"].as_array().unwrap();
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["retention_drop_points", "reject_rate_pct"],
        "{alerts:?}"
    );
    // retention_rate carries strict retention to 2 decimals: 100.0 - 33.33.
    assert!(
        (alerts[0]["value"].as_f64().unwrap() - 66.67).abs() < 1e-9,
        "{alerts:?}"
    );
    assert!((alerts[1]["value"].as_f64().unwrap() - 12.5).abs() < 1e-9);
    // The report opens with them, before what moved and the headline figures.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(
        at("id=\"alerts\"") < at("id=\"movements\"")
            && at("id=\"movements\"") < at("id=\"summary\"")
    );
    assert!(
        html.contains("strict retention fell 66.7 points in 2024-02"),
        "retention alert"
    );
    assert!(
        html.contains("rejected 1 of 8 records (12.50%)"),
        "reject alert"
    );
    assert!(
        html.contains("Net revenue in 2024-02 was 10: -66.7% against 2024-01."),
        "revenue sentence"
    );

    // Without --fail-on-alert the run succeeds and still lists them; a second run loads
    // nothing, so the reject alert is gone.
    let out = sb
        .cmd(&["run", "--config", cfg, "--as-of", "2024-03-01"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&["run"], &out));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["alerts"].as_array().unwrap().len(),
        1,
        "{}",
        summary["alerts"]
    );
}
