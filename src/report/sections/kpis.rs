//! The report's headline figures: the last complete period against the one before.

use super::{Analyses, f, s};
use crate::analyses::forecast;
use crate::error::Result;
use crate::output::thousands as money;
use crate::report::html::Kpi;

pub(super) async fn headline(a: &mut Analyses<'_>) -> Result<Vec<Kpi>> {
    let mut kpis = Vec::new();
    let history = forecast::history_of(a.table("revenue_history").await?)?;
    if history.len() >= 2 {
        let (now, before) = (&history[history.len() - 1], &history[history.len() - 2]);
        let currency = currency(a).await?;
        kpis.push(Kpi {
            label: format!("Net revenue, {}", now.1),
            value: format!("{} {currency}", money(now.2))
                .trim_end()
                .to_string(),
            change: change(now.2, before.2, &before.1),
            caption:
                "Sum of all transaction amounts in the period, refunds included (net revenue)."
                    .into(),
        });
    }
    let rr = a.json("retention_rate").await?;
    if rr.len() >= 2 {
        let (now, before) = (&rr[rr.len() - 1], &rr[rr.len() - 2]);
        let (p, p0) = (s(now, "period"), s(before, "period"));
        let (e, e0) = (f(now, "E").unwrap_or(0.0), f(before, "E").unwrap_or(0.0));
        kpis.push(Kpi {
            label: format!("Active customers, {p}"),
            value: money(e),
            change: change(e, e0, &p0),
            caption: "Customers with a purchase in the period (E of the retention formula).".into(),
        });
        let (n, n0) = (f(now, "N").unwrap_or(0.0), f(before, "N").unwrap_or(0.0));
        kpis.push(Kpi {
            label: format!("New customers, {p}"),
            value: money(n),
            change: change(n, n0, &p0),
            caption: "Customers whose first purchase falls in the period (N).".into(),
        });
        let strict = "strict_retention_rate";
        if let (Some(st), st0) = (f(now, strict), f(before, strict)) {
            kpis.push(Kpi {
                label: format!("Strict retention, {p}"),
                value: format!("{st:.1}%"),
                change: st0.map(|b| format!("{:+.1} points vs {p0}", st - b)),
                caption: "Of the customers active in the period before, the share active again in this one.".into(),
            });
        }
    }
    let rejected: f64 = a
        .json("data_quality_headline")
        .await?
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
    Ok(kpis)
}

/// The currency of the transactions, as the exports name it: the one code when they agree,
/// the codes joined by "/" (most used first) when they do not, empty when no export names one.
async fn currency(a: &mut Analyses<'_>) -> Result<String> {
    let rows = a
        .engine
        .user_sql(
            "currency",
            "select currency, count(*) as n from stg_transactions where currency is not null \
             and currency <> '' group by currency order by n desc, currency limit 3",
        )
        .await?;
    let batches = a.engine.collect("currency", rows).await?;
    let json = crate::output::to_json(
        &batches,
        &batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty())),
    )?;
    let codes: Vec<String> = json
        .as_array()
        .map(|rows| rows.iter().map(|r| s(r, "currency")).collect())
        .unwrap_or_default();
    Ok(codes.join("/"))
}

fn change(now: f64, before: f64, label: &str) -> Option<String> {
    (before != 0.0).then(|| format!("{:+.1}% vs {label}", 100.0 * (now - before) / before.abs()))
}
