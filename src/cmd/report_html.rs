//! `crm report` (and the last step of `crm run`): charts (SVG and PNG) and `report.html`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::ReportHtmlArgs;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::report::charts::{self, render};
use crate::report::html::{self, Kpi, Section};
use crate::report::more_charts;

async fn rows(engine: &Engine, name: &str, sql: &str) -> Result<Vec<Value>> {
    let df = engine.user_sql(name, sql).await?;
    let schema = df.schema().inner().clone();
    let batches = engine.collect(name, df).await?;
    Ok(crate::output::to_json(&batches, &schema)?
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}
fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn change(now: f64, before: f64, label: &str) -> Option<String> {
    (before != 0.0).then(|| format!("{:+.1}% vs {label}", 100.0 * (now - before) / before.abs()))
}

fn money(v: f64) -> String {
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// Model results a caller already has (`crm run` fits them for its tables), so that the report
/// does not fit them again.
#[derive(Default)]
pub struct Fitted {
    pub clusters: Option<(
        crate::models::cluster::Clustering,
        Vec<crate::models::cluster::Rfm>,
    )>,
    pub clv: Option<Vec<f64>>,
    /// The forecasts and their backtest.
    pub forecast: Option<super::forecast::Report>,
}

/// Writes the charts and `report.html` into `dir`; returns the report's path.
pub async fn write(
    engine: &Engine,
    config: &Config,
    dir: &Path,
    fitted: Fitted,
) -> Result<PathBuf> {
    let as_of = engine.as_of.to_string();
    let period = config.retention.period.name().to_string();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

    // Retention.
    let rr = rows(engine, "retention_rate", super::retention::RATE_SQL).await?;
    let retention = charts::RetentionRate {
        as_of: as_of.clone(),
        period: period.clone(),
        labels: rr.iter().map(|r| s(r, "period")).collect(),
        rate: rr.iter().map(|r| f(r, "retention_rate")).collect(),
        strict: rr.iter().map(|r| f(r, "strict_retention_rate")).collect(),
        retained: rr.iter().map(|r| f(r, "retained").unwrap_or(0.0)).collect(),
        reactivated: rr
            .iter()
            .map(|r| f(r, "reactivated").unwrap_or(0.0))
            .collect(),
    };
    let ga = rows(engine, "growth_accounting", super::retention::GROWTH_SQL).await?;
    let growth = charts::GrowthAccounting {
        as_of: as_of.clone(),
        period: period.clone(),
        labels: ga.iter().map(|r| s(r, "period")).collect(),
        new: ga.iter().map(|r| f(r, "new").unwrap_or(0.0)).collect(),
        returning: ga
            .iter()
            .map(|r| f(r, "returning").unwrap_or(0.0))
            .collect(),
        resurrecting: ga
            .iter()
            .map(|r| f(r, "resurrecting").unwrap_or(0.0))
            .collect(),
        dormant: ga.iter().map(|r| f(r, "dormant").unwrap_or(0.0)).collect(),
    };
    let cells = rows(
        engine,
        "retention_cohorts",
        "select cohort, age, retention from retention_cohorts order by cohort_index, age",
    )
    .await?;
    let mut heat = charts::CohortHeatmap {
        as_of: as_of.clone(),
        period: period.clone(),
        cohorts: vec![],
        cells: vec![],
    };
    for c in &cells {
        let cohort = s(c, "cohort");
        if heat.cohorts.last() != Some(&cohort) {
            heat.cohorts.push(cohort);
            heat.cells.push(vec![]);
        }
        heat.cells
            .last_mut()
            .expect("pushed")
            .push(f(c, "retention"));
    }

    let mean = rows(engine, "retention_cohort_mean", super::retention::MEAN_SQL).await?;
    let curves = more_charts::RetentionCurves {
        as_of: as_of.clone(),
        period: period.clone(),
        cohorts: heat
            .cohorts
            .iter()
            .cloned()
            .zip(heat.cells.iter().cloned())
            .collect(),
        mean: mean.iter().filter_map(|r| f(r, "retention")).collect(),
    };

    // Segments.
    let seg = rows(engine, "rfm_segment_summary", "select segment, customers, share_pct, revenue_share_pct, action from rfm_segment_summary order by customers desc, segment").await?;
    let segments = charts::SegmentShares {
        as_of: as_of.clone(),
        title: "RFM segments: customers and revenue".into(),
        segments: seg.iter().map(|r| s(r, "segment")).collect(),
        customers_pct: seg
            .iter()
            .map(|r| f(r, "share_pct").unwrap_or(0.0))
            .collect(),
        revenue_pct: seg
            .iter()
            .map(|r| f(r, "revenue_share_pct").unwrap_or(0.0))
            .collect(),
    };

    let grid_rows = rows(engine, "rfm_grid", "select r, f, segment, n from rfm_grid").await?;
    let mut grid = more_charts::RfGrid {
        as_of: as_of.clone(),
        counts: [[0; 5]; 5],
        segments: Default::default(),
    };
    if config.rfm.bins == 5 {
        for r in &grid_rows {
            let (ri, fi) = (
                f(r, "r").unwrap_or(1.0) as usize - 1,
                f(r, "f").unwrap_or(1.0) as usize - 1,
            );
            grid.counts[ri][fi] = f(r, "n").unwrap_or(0.0) as u64;
            grid.segments[ri][fi] = s(r, "segment");
        }
    }
    let mut clusters = more_charts::Clusters {
        as_of: as_of.clone(),
        points: vec![],
        labels: vec![],
    };
    let fitted_clusters = match fitted.clusters {
        Some(c) => Ok(c),
        None => super::cluster::fit(engine, config.cluster.k, config.cluster.seed).await,
    };
    if let Ok((c, data)) = fitted_clusters {
        // At most 5,000 points, every n/5000-th customer, so the SVG stays light.
        let step = (data.len() / 5000).max(1);
        clusters.points = data
            .iter()
            .zip(&c.assignments)
            .step_by(step)
            .map(|(d, k)| (d.recency, d.monetary, *k))
            .collect();
        clusters.labels = c.profiles.iter().map(|p| p.label.clone()).collect();
    }

    // Interactions and service.
    let mix = rows(engine, "channel_mix", "select period, channel, interactions from channel_mix where is_complete order by period_index, channel").await?;
    let mut channel_mix = more_charts::ChannelMix {
        as_of: as_of.clone(),
        period: period.clone(),
        labels: vec![],
        series: vec![],
    };
    for r in &mix {
        let p = s(r, "period");
        if channel_mix.labels.last() != Some(&p) {
            channel_mix.labels.push(p);
        }
    }
    for r in &mix {
        let (p, c) = (s(r, "period"), s(r, "channel"));
        let i = channel_mix
            .labels
            .iter()
            .position(|l| *l == p)
            .expect("listed");
        let n = channel_mix.labels.len();
        let slot = match channel_mix.series.iter().position(|(name, _)| *name == c) {
            Some(k) => k,
            None => {
                channel_mix.series.push((c, vec![0.0; n]));
                channel_mix.series.len() - 1
            }
        };
        channel_mix.series[slot].1[i] = f(r, "interactions").unwrap_or(0.0);
    }
    let sat = rows(engine, "satisfaction", "select period, nps, csat_satisfied_pct from satisfaction where is_complete order by period_index").await?;
    let satisfaction = more_charts::Satisfaction {
        as_of: as_of.clone(),
        period: period.clone(),
        labels: sat.iter().map(|r| s(r, "period")).collect(),
        nps: sat.iter().map(|r| f(r, "nps")).collect(),
        csat_satisfied: sat.iter().map(|r| f(r, "csat_satisfied_pct")).collect(),
    };
    let service = rows(engine, "service_summary", super::report::SERVICE[0].1).await?;
    let per_campaign = rows(
        engine,
        "campaign_conversion",
        "select campaign_id, conversion_rate_pct from campaign_conversion where campaign_id <> 'all' order by first_sent_date, campaign_id",
    )
    .await?;
    let conversion = more_charts::Bars {
        title: format!(
            "Campaign conversion within {} days of the send (as of {as_of})",
            config.campaign.attribution_days
        ),
        y_desc: "customers sent who bought (%)".into(),
        labels: per_campaign.iter().map(|r| s(r, "campaign_id")).collect(),
        values: per_campaign
            .iter()
            .map(|r| f(r, "conversion_rate_pct").unwrap_or(0.0))
            .collect(),
        highlight: vec![],
    };
    let hours = rows(
        engine,
        "tickets",
        "select resolution_hours from tickets where resolution_hours is not null",
    )
    .await?;
    let resolution = more_charts::Histogram {
        title: format!("Ticket resolution time (as of {as_of})"),
        x_desc: "hours from opened to resolved".into(),
        values: hours
            .iter()
            .filter_map(|r| f(r, "resolution_hours"))
            .collect(),
        bins: 30,
    };
    let campaigns = rows(engine, "campaign_conversion", "select sent, converted, conversion_rate_pct, revenue from campaign_conversion where campaign_id = 'all'").await?;

    // Value and forecast.
    let history = super::forecast::history(engine).await?;
    let fr = match fitted.forecast {
        Some(fr) => fr,
        None => {
            super::forecast::report(engine, config, &crate::models::forecast::Method::ALL).await?
        }
    };
    let fschema = fr.forecasts.schema();
    let frows = crate::output::to_json(std::slice::from_ref(&fr.forecasts), &fschema)?
        .as_array()
        .cloned()
        .unwrap_or_default();
    let model = fr.recommended.unwrap_or("seed");
    let mine: Vec<&Value> = frows.iter().filter(|r| s(r, "model") == model).collect();
    let mut labels: Vec<String> = history.iter().map(|h| h.1.clone()).collect();
    labels.extend(mine.iter().map(|r| s(r, "period")));
    let mut actual: Vec<Option<f64>> = history.iter().map(|h| Some(h.2)).collect();
    actual.extend(mine.iter().map(|_| None));
    let forecast = charts::Forecast {
        as_of: as_of.clone(),
        period: config.forecast.period.name().into(),
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
    };
    let bschema = fr.backtest.schema();
    let brows = crate::output::to_json(std::slice::from_ref(&fr.backtest), &bschema)?
        .as_array()
        .cloned()
        .unwrap_or_default();
    let scored: Vec<&Value> = brows.iter().filter(|r| f(r, "mase").is_some()).collect();
    let backtest = more_charts::Bars {
        title: format!("Forecast backtest: MASE per model, lower is better (as of {as_of})"),
        y_desc: "MASE (1 = in-sample seasonal naive error)".into(),
        labels: scored.iter().map(|r| s(r, "model")).collect(),
        values: scored.iter().map(|r| f(r, "mase").unwrap_or(0.0)).collect(),
        highlight: scored
            .iter()
            .map(|r| r.get("recommended") == Some(&Value::Bool(true)))
            .collect(),
    };
    let clv_values = match fitted.clv {
        Some(v) => v,
        None => {
            let data = super::clv::summaries(engine).await?;
            match super::clv::fit(&data) {
                Ok(model) => {
                    let months = config.clv.horizon_months;
                    let horizon = months as f64 * crate::models::clv::WEEKS_PER_MONTH;
                    let batch = super::clv::per_customer(
                        &model,
                        &data,
                        horizon,
                        months,
                        config.clv.discount,
                    );
                    let col = batch.column_by_name("clv").expect("clv column");
                    let col = col
                        .as_any()
                        .downcast_ref::<datafusion::arrow::array::Float64Array>()
                        .expect("f64");
                    col.values().to_vec()
                }
                Err(_) => vec![],
            }
        }
    };
    let clv_hist = more_charts::Histogram {
        title: format!(
            "Customer lifetime value over {} months, discounted (as of {as_of})",
            config.clv.horizon_months
        ),
        x_desc: "CLV (currency of the exports)".into(),
        values: clv_values,
        bins: 30,
    };

    // CLV check on the last 26 weeks, when there is history enough before them.
    let split = engine.as_of - chrono::Duration::weeks(26);
    let mut holdout = charts::ClvHoldout {
        as_of: as_of.clone(),
        labels: vec![],
        actual: vec![],
        predicted: vec![],
    };
    let mut clv_note =
        String::from("Not enough history before the last 26 weeks to check the CLV model.");
    if let Ok(calibration) = Engine::open(config, Some(split)).await {
        let data = super::clv::summaries(&calibration).await?;
        if let Ok(fitted) = super::clv::fit(&data) {
            let end = engine;
            let actual = super::clv::holdout_purchases(end, split).await?;
            let table = super::clv::holdout_table(&fitted, &data, &actual, 26.0);
            let schema = table.schema();
            for r in crate::output::to_json(&[table], &schema)?
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                holdout.labels.push(s(&r, "calibration_frequency"));
                holdout.actual.push(f(&r, "actual_mean").unwrap_or(0.0));
                holdout
                    .predicted
                    .push(f(&r, "predicted_mean").unwrap_or(0.0));
            }
            clv_note = format!(
                "BG/NBD fitted on purchases before {split}, compared with what the same customers did from {split} to {as_of}."
            );
        }
    }

    // Headline figures: the last complete period against the one before.
    let mut kpis = Vec::new();
    if history.len() >= 2 {
        let (now, before) = (&history[history.len() - 1], &history[history.len() - 2]);
        kpis.push(Kpi {
            label: format!("Net revenue, {}", now.1),
            value: money(now.2),
            change: change(now.2, before.2, &before.1),
            caption:
                "Sum of all transaction amounts in the period, refunds included (net revenue)."
                    .into(),
        });
    }
    if rr.len() >= 2 {
        let (now, before) = (&rr[rr.len() - 1], &rr[rr.len() - 2]);
        let (e, e0) = (f(now, "E").unwrap_or(0.0), f(before, "E").unwrap_or(0.0));
        kpis.push(Kpi {
            label: format!("Active customers, {}", s(now, "period")),
            value: money(e),
            change: change(e, e0, &s(before, "period")),
            caption: "Customers with a purchase in the period (E of the retention formula).".into(),
        });
        let (n, n0) = (f(now, "N").unwrap_or(0.0), f(before, "N").unwrap_or(0.0));
        kpis.push(Kpi {
            label: format!("New customers, {}", s(now, "period")),
            value: money(n),
            change: change(n, n0, &s(before, "period")),
            caption: "Customers whose first purchase falls in the period (N).".into(),
        });
        if let (Some(st), st0) = (
            f(now, "strict_retention_rate"),
            f(before, "strict_retention_rate"),
        ) {
            kpis.push(Kpi {
                label: format!("Strict retention, {}", s(now, "period")),
                value: format!("{st:.1}%"),
                change: st0.map(|b| format!("{:+.1} points vs {}", st - b, s(before, "period"))),
                caption: "Of the customers active in the period before, the share active again in this one.".into(),
            });
        }
    }
    let quality = rows(
        engine,
        "data_quality",
        "select table_name, check_name, value, detail from data_quality where check_name in ('rows_read', 'rows_loaded', 'rows_rejected', 'duplicates_skipped', 'orphan_rows', 'future_dated', 'malformed_emails', 'amount_outliers', 'rejected') order by table_name, check_name, detail",
    )
    .await?;
    let rejected: f64 = quality
        .iter()
        .filter(|r| s(r, "check_name") == "rows_rejected")
        .filter_map(|r| f(r, "value"))
        .sum();
    kpis.push(Kpi {
        label: "Records rejected at ingest".into(),
        value: money(rejected),
        change: None,
        caption: "Export records that failed validation; each is kept with its reason in the rejects table.".into(),
    });

    let sections = vec![
        Section {
            title: "Retention".into(),
            intro: "A customer is active in a period when they bought in it. The seed rate (E - N) / S counts customers who come back after a gap; strict retention counts only those active in both periods.".into(),
            charts: vec![
                (render(dir, "retention_rate", &retention)?, "Retention Rate = (E - N) / S * 100: S active in the period before, E active in the period, N first purchase in the period. Empty where S = 0.".into()),
                (render(dir, "cohort_heatmap", &heat)?, "Cell (c, k): customers of cohort c (period of first purchase) with a purchase k periods later, as a share of the cohort. Cells not reached yet are empty.".into()),
                (render(dir, "retention_curves", &curves)?, "Each grey line is a cohort; the red line is their mean at each age, weighted by cohort size, over the cohorts that reached that age.".into()),
                (render(dir, "growth_accounting", &growth)?, "New: first purchase in the period; returning: bought in this period and the one before; resurrecting: bought after a gap; dormant: bought in the period before, not in this one.".into()),
            ],
            tables: vec![],
        },
        Section {
            title: "Segments".into(),
            intro: "RFM scores rank customers by recency, frequency and monetary value (1 to 5); the R and F scores place each customer in a named segment with a recommended action.".into(),
            charts: vec![
                (render(dir, "rfm_segments", &segments)?, "Share of the customers scored and share of their net revenue, per segment.".into()),
                (render(dir, "rf_grid", &grid)?, "Each cell: customers with that recency and frequency score; the colour is the segment the cell belongs to.".into()),
                (render(dir, "clusters", &clusters)?, "k-means on log recency, frequency and spend, standardised; clusters numbered by mean spend, highest first.".into()),
            ],
            tables: vec![(
                "What to do with each segment.".into(),
                vec!["segment".into(), "customers".into(), "action".into()],
                seg.iter().map(|r| vec![s(r, "segment"), s(r, "customers"), s(r, "action")]).collect(),
            )],
        },
        Section {
            title: "Value and forecast".into(),
            intro: format!("Models were backtested on rolling origins; the one with the lowest MASE ({model}) is drawn. {clv_note}"),
            charts: vec![
                (render(dir, "forecast", &forecast)?, "Net revenue of complete periods and the recommended model's forecast with its 80% and 95% intervals.".into()),
                (render(dir, "forecast_backtest", &backtest)?, "Mean absolute error scaled by the in-sample seasonal naive error, over rolling origins; the recommended model in orange.".into()),
                (render(dir, "clv_distribution", &clv_hist)?, "Expected order value (Gamma-Gamma) times expected purchases (BG/NBD) month by month, discounted 1% a month by default; the last bar holds the top 1%.".into()),
                (render(dir, "clv_holdout", &holdout)?, "Mean repeat purchases in the holdout by the number of repeat purchases before it: actual against the BG/NBD prediction.".into()),
            ],
            tables: vec![(
                "Backtest errors per model (MASE below 1 beats the seasonal naive baseline in-sample).".into(),
                vec!["model".into(), "MAE".into(), "MAPE %".into(), "MASE".into(), "coverage 95%".into(), "note".into()],
                brows.iter().map(|r| vec![s(r, "model"), s(r, "mae"), s(r, "mape"), s(r, "mase"), s(r, "coverage_95"), s(r, "note")]).collect(),
            )],
        },
        Section {
            title: "Interactions and service".into(),
            intro: "Campaign conversion: of the customers sent a campaign, the share with a purchase within the attribution window after it. NPS = % promoters (9-10) - % detractors (0-6); CSAT = share of scores 4 or 5.".into(),
            charts: vec![
                (render(dir, "channel_mix", &channel_mix)?, "Interactions per channel per period, all kinds together (campaigns, tickets, surveys, notes).".into()),
                (render(dir, "campaign_conversion", &conversion)?, "Of the customers sent each campaign, the share with a purchase within the attribution window.".into()),
                (render(dir, "ticket_resolution", &resolution)?, "Tickets resolved before as_of, by hours from opened to resolved; the last bar holds the slowest 1%.".into()),
                (render(dir, "satisfaction", &satisfaction)?, "NPS from -100 to 100 and the share of CSAT answers scoring 4 or 5, per period.".into()),
            ],
            tables: vec![
                (
                    "Support tickets before as_of: resolution time from opened to resolved, the backlog still open at as_of, repeat-contact customers (3 or more tickets in 90 days).".into(),
                    vec!["tickets".into(), "open backlog".into(), "median hours".into(), "p90 hours".into(), "per 100 customers".into(), "repeat contacts".into()],
                    service
                        .iter()
                        .map(|r| {
                            ["tickets", "open_backlog", "median_resolution_hours", "p90_resolution_hours", "tickets_per_100_customers", "repeat_contact_customers"]
                                .iter()
                                .map(|k| s(r, k))
                                .collect()
                        })
                        .collect(),
                ),
                (
                    "All campaigns: customers sent, converted within the attribution window, and the revenue of those purchases.".into(),
                    vec!["sent".into(), "converted".into(), "conversion %".into(), "revenue".into()],
                    campaigns.iter().map(|r| ["sent", "converted", "conversion_rate_pct", "revenue"].iter().map(|k| s(r, k)).collect()).collect(),
                ),
            ],
        },
        Section {
            title: "Data quality".into(),
            intro: "Every record of every export is loaded, rejected with a reason, or skipped as a duplicate; orphans (a customer id the customer export does not know) are kept and flagged.".into(),
            charts: vec![],
            tables: vec![(
                "Checks per table (crm quality has the full report).".into(),
                vec!["table".into(), "check".into(), "value".into(), "detail".into()],
                quality.iter().map(|r| vec![s(r, "table_name"), s(r, "check_name"), s(r, "value"), s(r, "detail")]).collect(),
            )],
        },
    ];
    let page = html::page(
        "Customer report",
        &format!(
            "As of {as_of} (events before this day), periods in {period}s, time zone {}",
            engine.timezone
        ),
        &kpis,
        &sections,
    );
    let path = dir.join("report.html");
    std::fs::write(&path, page).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

pub fn run(args: ReportHtmlArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let dir = args.out.clone().unwrap_or_else(|| {
            config
                .resolve(&config.report.out)
                .join(engine.as_of.to_string())
        });
        let path = write(&engine, &config, &dir, Fitted::default()).await?;
        crate::output::say_line(format!("report written to {}", path.display()))
    })
}
