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
    // A reject-rate threshold the sample's 2% of deliberately bad rows crosses: the alert must
    // open the rendered page.
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[alerts]\nreject_rate_pct = 1\n");
    std::fs::write(&cfg, text).unwrap();
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
        html.matches("<div class=\"wide\"><svg").count(),
        charts.len(),
        "every chart inline"
    );
    assert_eq!(
        html.matches("<div class=\"narrow\">").count(),
        charts.len(),
        "every chart has its narrow variant"
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
    let alerts = dom
        .split("<section id=\"alerts\" class=\"alerts\"><h2>Alerts</h2>")
        .nth(1)
        .expect("the alerts section");
    assert!(
        dom.find("id=\"alerts\"") < dom.find("What moved"),
        "the alerts come first"
    );
    assert!(
        alerts.contains("this run's load rejected") && alerts.contains("the limit is 1%"),
        "{}",
        &alerts[..alerts.len().min(400)]
    );
    // Figures as people write them: the revenue in the exports' currency with separators, and
    // no table cell with more than two decimals.
    let kpi = dom
        .split("Net revenue, 2024-12</div><div class=\"value\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("the net revenue figure");
    assert!(kpi.ends_with(" USD") && kpi.contains(','), "{kpi}");
    for cell in dom
        .split("<td>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap())
    {
        let decimals = cell
            .split_once('.')
            .map(|(_, d)| d.trim_end_matches('%').len());
        let numeric = cell
            .chars()
            .all(|c| c.is_ascii_digit() || ",.-%".contains(c));
        assert!(
            !numeric || decimals.unwrap_or(0) <= 2,
            "a table cell {cell:?}"
        );
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

/// The `<title>` tooltips of an SVG: "series, label: value" or "label: value".
fn tooltips(svg: &str) -> Vec<String> {
    svg.split("<title>")
        .skip(1)
        .map(|t| t.split("</title>").next().unwrap().replace("&amp;", "&"))
        .collect()
}

/// The sum of the values of an SVG's tooltips (a histogram's or a grid's counts).
fn tooltip_total(svg: &str) -> f64 {
    tooltips(svg)
        .iter()
        .map(|t| number_of(t.split_once(": ").unwrap().1))
        .sum()
}

/// The number a tooltip's value starts with, its separators and unit removed.
fn number_of(value: &str) -> f64 {
    let number: String = value
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no number in {value:?}"))
}

/// Every chart carries its values (tooltips at its marks and a folded table beside it), and for
/// the charts drawn from a table of the run folder those values are the table's; the page fits a
/// 400 px screen without scrolling sideways, every chart shown; and printing gives a section a
/// page.
#[test]
fn every_chart_carries_its_values_the_page_fits_a_phone_and_prints_a_section_a_page() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    sb.ok(&["run", "--config", cfg.to_str().unwrap(), "--out", "reports"]);
    let dir = sb.path("reports/2025-01-01");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let svg = |name: &str| std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
    let csv =
        |name: &str| parse_csv(&std::fs::read_to_string(dir.join(format!("{name}.csv"))).unwrap());
    let figures = html.matches("<figure").count();
    assert_eq!(
        html.matches("<details class=\"values\">").count(),
        figures,
        "a values table per chart"
    );
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                !tooltips(&text).is_empty(),
                "{} carries no values",
                p.display()
            );
        }
    }
    let find = |tips: &[String], series: &str, label: &str| {
        let prefix = if series.is_empty() {
            format!("{label}: ")
        } else {
            format!("{series}, {label}: ")
        };
        tips.iter()
            .find_map(|t| t.strip_prefix(&prefix))
            .map(number_of)
            .unwrap_or_else(|| panic!("no value for {series:?} {label:?}"))
    };
    let close = |a: f64, b: f64, what: &str| {
        assert!((a - b).abs() < 0.006, "{what}: chart {a} vs table {b}")
    };

    // Retention rate: every period's seed and strict rate, retained and reactivated.
    let tips = tooltips(&svg("retention_rate"));
    let rows = csv("retention_rate");
    let mut checked = 0;
    for r in &rows[1..] {
        if let Ok(rate) = r[6].parse::<f64>() {
            close(find(&tips, "seed rate (E - N) / S", &r[0]), rate, &r[0]);
            close(
                find(&tips, "strict retention: retained / S", &r[0]),
                r[7].parse().unwrap(),
                &r[0],
            );
            checked += 1;
        }
        close(find(&tips, "retained", &r[0]), r[4].parse().unwrap(), &r[0]);
        close(
            find(&tips, "reactivated", &r[0]),
            r[5].parse().unwrap(),
            &r[0],
        );
    }
    assert!(checked > 20, "{checked}");
    // Growth accounting: the four components of every period.
    let tips = tooltips(&svg("growth_accounting"));
    for r in &csv("growth_accounting")[1..] {
        for (k, name) in [
            (1, "new"),
            (2, "returning"),
            (3, "resurrecting"),
            (4, "dormant"),
        ] {
            close(
                find(&tips, name, &r[0]),
                r[k].parse().unwrap(),
                &format!("{} {name}", r[0]),
            );
        }
    }
    // The cohort heatmap: every complete cell, in percent.
    let tips = tooltips(&svg("cohort_heatmap"));
    let mut cells = 0;
    for r in &csv("retention_cohorts")[1..] {
        if let Ok(v) = r[4].parse::<f64>() {
            close(
                find(&tips, &r[0], &format!("age {}", r[1])),
                100.0 * v,
                &format!("{} age {}", r[0], r[1]),
            );
            cells += 1;
        }
    }
    assert_eq!(cells, tips.len(), "a tooltip per cell, no more");
    // RFM segments: both shares of every segment.
    let tips = tooltips(&svg("rfm_segments"));
    for r in &csv("rfm_segment_summary")[1..] {
        close(
            find(&tips, "share of customers", &r[0]),
            r[2].parse().unwrap(),
            &r[0],
        );
        close(
            find(&tips, "share of net revenue", &r[0]),
            r[4].parse().unwrap(),
            &r[0],
        );
    }
    // The R x F grid holds every scored customer.
    let grid = tooltip_total(&svg("rf_grid"));
    assert_eq!(grid as usize, csv("rfm").len() - 1);
    // Channel mix: interactions per channel and period.
    let tips = tooltips(&svg("channel_mix"));
    for r in &csv("channel_mix")[1..] {
        close(
            find(&tips, &r[1], &r[0]),
            r[2].parse().unwrap(),
            &format!("{} {}", r[0], r[1]),
        );
    }
    // Segment migration: the largest movements, in the table's order.
    let tips = tooltips(&svg("segment_migration"));
    let table = csv("segment_migration");
    let moved: Vec<&Vec<String>> = table[1..]
        .iter()
        .filter(|r| r[0] != r[1] && r[0] != "(new customer)")
        .take(tips.len())
        .collect();
    assert!(!moved.is_empty());
    for (t, r) in tips.iter().zip(&moved) {
        let (label, value) = t.split_once(": ").unwrap();
        assert_eq!(label, format!("{} \u{2192} {}", r[0], r[1]));
        close(number_of(value), r[2].parse().unwrap(), label);
    }

    // Satisfaction: NPS and CSAT satisfied per period, where there were answers.
    let tips = tooltips(&svg("satisfaction"));
    for r in &csv("satisfaction")[1..] {
        if let Ok(v) = r[7].parse::<f64>() {
            close(
                find(&tips, "NPS: % promoters - % detractors", &r[0]),
                v,
                &r[0],
            );
        }
        if let Ok(v) = r[3].parse::<f64>() {
            close(find(&tips, "CSAT: % scoring 4 or 5", &r[0]), v, &r[0]);
        }
    }
    // Campaign conversion per campaign; the backtest's MASE per scored model.
    let tips = tooltips(&svg("campaign_conversion"));
    let campaigns = csv("campaign_conversion");
    let per_campaign: Vec<&Vec<String>> = campaigns[1..].iter().filter(|r| r[0] != "all").collect();
    assert_eq!(tips.len(), per_campaign.len());
    for r in per_campaign {
        close(find(&tips, "", &r[0]), r[8].parse().unwrap(), &r[0]);
    }
    let tips = tooltips(&svg("forecast_backtest"));
    let backtest = csv("forecast_backtest");
    let scored: Vec<&Vec<String>> = backtest[1..].iter().filter(|r| !r[6].is_empty()).collect();
    assert_eq!(tips.len(), scored.len());
    for r in scored {
        close(find(&tips, "", &r[0]), r[6].parse().unwrap(), &r[0]);
    }
    // The forecast drawn is the recommended model's, period by period.
    let tips = tooltips(&svg("forecast"));
    let recommended = backtest[1..]
        .iter()
        .find(|r| r[9] == "true")
        .map(|r| r[0].clone())
        .expect("a recommended model");
    let forecasts = csv("forecasts");
    let drawn: Vec<&Vec<String>> = forecasts[1..]
        .iter()
        .filter(|r| r[0] == recommended)
        .collect();
    assert!(!drawn.is_empty());
    for r in drawn {
        close(find(&tips, "forecast", &r[1]), r[3].parse().unwrap(), &r[1]);
    }
    // The mean retention curve, age by age; each cluster's size.
    let tips = tooltips(&svg("retention_curves"));
    for r in &csv("retention_cohort_mean")[1..] {
        let v: f64 = r[3].parse().unwrap();
        close(
            find(&tips, "weighted mean", &format!("age {}", r[0])),
            100.0 * v,
            &r[0],
        );
    }
    let tips = tooltips(&svg("clusters"));
    for r in &csv("cluster_profiles")[1..] {
        close(
            find(&tips, &format!("cluster {}", r[0]), &r[1]),
            r[2].parse().unwrap(),
            &r[1],
        );
    }
    // The CLV distribution counts every customer of clv.csv once.
    let customers = tooltip_total(&svg("clv_distribution"));
    assert_eq!(customers as usize, csv("clv").len() - 1);

    // The CLV holdout check: actual and predicted means per calibration frequency are those of
    // `crm clv --holdout-from` for the report's split (26 weeks before as_of with clv.model =
    // bgnbd, the sample's).
    let tips = tooltips(&svg("clv_holdout"));
    let holdout = parse_csv(&sb.ok(&[
        "clv",
        "--config",
        cfg.to_str().unwrap(),
        "--as-of",
        "2025-01-01",
        "--holdout-from",
        "2024-07-03",
        "--format",
        "csv",
    ]));
    assert!(holdout.len() > 3, "{holdout:?}");
    for r in &holdout[1..] {
        close(find(&tips, "actual", &r[0]), r[2].parse().unwrap(), &r[0]);
        close(
            find(&tips, "BG/NBD prediction", &r[0]),
            r[3].parse().unwrap(),
            &r[0],
        );
    }
    assert_eq!(tips.len(), 2 * (holdout.len() - 1), "two series, no more");

    // The resolution histogram counts every ticket resolved before as_of, in tickets.
    let tips = tooltips(&svg("ticket_resolution"));
    assert!(tips.iter().all(|t| t.ends_with(" tickets")), "{tips:?}");
    let tickets = tooltip_total(&svg("ticket_resolution"));
    let resolved: f64 = csv("service_tickets")[1..]
        .iter()
        .map(|r| r[2].parse::<f64>().unwrap())
        .sum();
    assert_eq!(tickets, resolved);

    // A phone: a test page frames the report 400 px wide and reads its layout (the report
    // itself has no script): the page's width, the visible charts' widths and the size their
    // text is drawn at.
    let frame = sb.write(
        "reports/2025-01-01/phone.html",
        "<!DOCTYPE html><html><body><iframe id=\"f\" src=\"report.html\" style=\"width:400px;height:900px;border:0\"></iframe>\
         <script>const f=document.getElementById('f');f.onload=()=>{const d=f.contentDocument.documentElement;\
         const v=[...f.contentDocument.querySelectorAll('figure svg')].filter(s=>s.getBoundingClientRect().width>0);\
         const w=v.map(s=>s.getBoundingClientRect().width);\
         const px=v.flatMap(s=>{const k=s.getBoundingClientRect().width/parseFloat(s.getAttribute('width'));\
           return [...s.querySelectorAll('text')].map(t=>parseFloat(t.getAttribute('font-size'))*k);});\
         document.body.setAttribute('data-layout',[d.scrollWidth,d.clientWidth,Math.min(...w),Math.max(...w),w.length,Math.min(...px)].join(' '));};</script></body></html>",
    );
    let out = Command::new(chromium())
        .args(chromium_args(&sb.path("profile-phone")))
        .args([
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", frame.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let layout: Vec<f64> = dom
        .split("data-layout=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("the phone page did not lay out: {dom}"))
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let [scroll, client, narrowest, widest, charts, smallest_text] = layout[..] else {
        panic!("{layout:?}")
    };
    assert!(
        scroll <= client,
        "the page scrolls sideways at 400 px: {scroll} > {client}"
    );
    assert_eq!(charts as usize, figures);
    assert!(
        narrowest > 300.0 && widest <= 400.0,
        "charts {narrowest}..{widest} px wide"
    );
    // Legible: the phone shows the narrow variants, whose smallest text is still some 7 px on
    // the screen (the wide charts shrunk to 400 px wrote 3-4 px).
    assert!(
        smallest_text >= 7.0,
        "chart text {smallest_text:.1} px on a 400 px screen"
    );

    // Print: with the report's print rules a section starts a page, so the PDF has more pages
    // than the same page printed without them, and at least one per section.
    let pages = |name: &str, page: &str| {
        let path = dir.join(page);
        let pdf = sb.path(name);
        let out = Command::new(chromium())
            .args(chromium_args(&sb.path(&format!("profile-{name}"))))
            .arg("--no-pdf-header-footer")
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(format!("file://{}", path.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&pdf).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        text.match_indices("/Type /Page")
            .filter(|(i, _)| !text[i + 11..].starts_with('s'))
            .count()
    };
    let start = html.find("@media print").expect("print rules");
    let end = start + html[start..].find("\n}\n").expect("the block's end") + 3;
    sb.write(
        "reports/2025-01-01/no-print-rules.html",
        &format!("{}{}", &html[..start], &html[end..]),
    );
    let (with, without) = (
        pages("with.pdf", "report.html"),
        pages("without.pdf", "no-print-rules.html"),
    );
    let sections = html.matches("<section").count();
    assert!(
        with >= sections && with > without,
        "{with} pages with the print rules, {without} without, {sections} sections"
    );
}
