//! The report a manager opens: report.html of the sample run, loaded in headless Chromium
//! (Debian's `chromium`, which .ci/run installs), screenshotted, and checked for what a person
//! would see.

use std::process::Command;

use crate::common::*;

fn chromium() -> String {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("which")
            .arg(c)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_string();
        }
    }
    panic!("no chromium on this machine: install Debian's chromium package (.ci/run does)");
}

fn chromium_args(profile: &std::path::Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,5200",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

#[test]
fn the_sample_report_opens_offline_in_headless_chromium_and_shows_the_headline_figures() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    sb.ok(&["run", "--config", cfg.to_str().unwrap(), "--out", "reports"]);
    let dir = sb.path("reports/2025-01-01");
    let report = dir.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    // Self-contained: charts inline, no external scripts, styles, images or fonts.
    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "<script",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(attr), "external asset: {attr}");
    }
    let charts = [
        "retention_rate",
        "cohort_heatmap",
        "growth_accounting",
        "rfm_segments",
        "rf_grid",
        "clusters",
        "forecast",
        "clv_holdout",
        "channel_mix",
        "satisfaction",
        "retention_curves",
        "forecast_backtest",
        "clv_distribution",
        "campaign_conversion",
        "ticket_resolution",
        "segment_migration",
    ];
    assert_eq!(
        html.matches("<svg").count(),
        charts.len(),
        "every chart inline"
    );
    for chart in charts {
        // Every chart says what it shows and as of when.
        let svg = std::fs::read_to_string(dir.join(format!("{chart}.svg"))).unwrap();
        assert!(
            svg.contains("as of 2025-01-01"),
            "{chart}.svg has no as-of date in its title"
        );
        assert!(
            dir.join(format!("{chart}.png")).exists() && dir.join(format!("{chart}.svg")).exists(),
            "{chart}"
        );
    }

    let browser = chromium();
    let url = format!("file://{}", report.display());
    let shot = sb.path("report.png");
    let out = Command::new(&browser)
        .args(chromium_args(&sb.path("profile-1")))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console_errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE(") && (l.contains("Error") || l.contains("Uncaught")))
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors: {console_errors:?}"
    );
    assert!(
        shot.metadata().unwrap().len() > 50_000,
        "the screenshot shows a page"
    );

    let dom = Command::new(&browser)
        .args(chromium_args(&sb.path("profile-2")))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(dom.status.success());
    let dom = String::from_utf8_lossy(&dom.stdout);
    for text in [
        "Customer report",
        "As of 2025-01-01",
        "Net revenue, 2024-12",
        "Active customers, 2024-12",
        "New customers, 2024-12",
        "Strict retention, 2024-12",
        "Records rejected at ingest",
        "Retention rate per month (as of 2025-01-01)",
        "Data quality",
        "Interactions and service",
        "Customers per recency and frequency score",
        "What moved",
        "Largest RFM segment movements since 2024-12-01",
    ] {
        assert!(dom.contains(text), "the page does not show {text:?}");
    }
    // The opening's segment sentence is the migration table's largest movement.
    let migration = std::fs::read_to_string(dir.join("segment_migration.csv")).unwrap();
    let top = parse_csv(&migration)[1].clone();
    assert_ne!(top[0], top[1], "the first row is a movement");
    let sentence = format!(
        "{} {} customers became {} since 2024-12-01",
        top[2], top[0], top[1]
    );
    assert!(
        dom.contains(&sentence),
        "the page does not say {sentence:?}"
    );
}
