//! The report's interactions and service section: channel mix, campaign conversion, ticket
//! resolution times, NPS and CSAT.

use std::path::Path;

use serde_json::Value;

use super::{Analyses, col, f, s, strings, table_rows, texts};
use crate::error::Result;
use crate::report::charts::{self, render};
use crate::report::html::Section;

pub(super) async fn section(a: &mut Analyses<'_>, dir: &Path) -> Result<Section> {
    let (as_of, period) = (a.engine.as_of.to_string(), a.config.retention.period.name());
    let channel_mix = channel_mix(&a.json("channel_mix").await?, &as_of, period);
    let sat = a.json("satisfaction").await?;
    let satisfaction = charts::Satisfaction {
        as_of: as_of.clone(),
        period: period.into(),
        labels: texts(&sat, "period"),
        nps: sat.iter().map(|r| f(r, "nps")).collect(),
        csat_satisfied: sat.iter().map(|r| f(r, "csat_satisfied_pct")).collect(),
    };
    let service = a.json("service_summary").await?;
    let (per_campaign, all): (Vec<Value>, Vec<Value>) = a
        .json("campaign_conversion")
        .await?
        .into_iter()
        .partition(|r| s(r, "campaign_id") != "all");
    let conversion = charts::Bars {
        title: format!(
            "Campaign conversion within {} days of the send (as of {as_of})",
            a.config.campaign.attribution_days
        ),
        y_desc: "customers sent who bought (%)".into(),
        labels: texts(&per_campaign, "campaign_id"),
        values: col(&per_campaign, "conversion_rate_pct"),
        highlight: vec![],
    };
    let hours = a.json("ticket_resolution_hours").await?;
    let resolution = charts::Histogram {
        title: format!("Ticket resolution time (as of {as_of})"),
        x_desc: "hours from opened to resolved".into(),
        counted: "tickets".into(),
        values: hours
            .iter()
            .filter_map(|r| f(r, "resolution_hours"))
            .collect(),
        bins: 30,
    };
    Ok(Section {
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
                strings(&["tickets", "open backlog", "median hours", "p90 hours", "per 100 customers", "repeat contacts"]),
                table_rows(&service, &["tickets", "open_backlog", "median_resolution_hours", "p90_resolution_hours", "tickets_per_100_customers", "repeat_contact_customers"]),
            ),
            (
                "All campaigns: customers sent, converted within the attribution window, and the revenue of those purchases.".into(),
                strings(&["sent", "converted", "conversion %", "revenue"]),
                table_rows(&all, &["sent", "converted", "conversion_rate_pct", "revenue"]),
            ),
        ],
    })
}

/// Interactions per channel (a series each) per period.
fn channel_mix(rows: &[Value], as_of: &str, period: &str) -> charts::ChannelMix {
    let mut mix = charts::ChannelMix {
        as_of: as_of.into(),
        period: period.into(),
        labels: vec![],
        series: vec![],
    };
    for r in rows {
        let p = s(r, "period");
        if mix.labels.last() != Some(&p) {
            mix.labels.push(p);
        }
    }
    for r in rows {
        let (p, c) = (s(r, "period"), s(r, "channel"));
        let i = mix.labels.iter().position(|l| *l == p).expect("listed");
        let n = mix.labels.len();
        let slot = match mix.series.iter().position(|(name, _)| *name == c) {
            Some(k) => k,
            None => {
                mix.series.push((c, vec![0.0; n]));
                mix.series.len() - 1
            }
        };
        mix.series[slot].1[i] = f(r, "interactions").unwrap_or(0.0);
    }
    mix
}
