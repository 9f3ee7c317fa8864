//! `crm interactions`, `crm service`, `crm affinity`: reports made of several tables, each one
//! a view of `queries/analysis/` selected in a stable column order.

use crate::cli::{OutputFormat, ReportArgs};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// (table name, SQL) of one report, in the order they are printed.
pub type Report = &'static [(&'static str, &'static str)];

pub const INTERACTIONS: Report = &[
    (
        "channel_mix",
        "select period, channel, interactions, customers, share_pct from channel_mix where is_complete order by period_index, channel",
    ),
    (
        "interactions_per_customer",
        "select channel, interactions, customers, interactions_per_customer, per_known_customer from interactions_per_customer \
         order by channel = 'all', channel",
    ),
    (
        "campaign_conversion",
        "select campaign_id, first_sent_date, sent, opened, clicked, converted, open_rate_pct, click_rate_pct, \
         conversion_rate_pct, revenue from campaign_conversion order by campaign_id = 'all', first_sent_date, campaign_id",
    ),
];

pub const SERVICE: Report = &[
    (
        "service_summary",
        "select tickets, open_backlog, median_resolution_hours, p90_resolution_hours, tickets_per_100_customers, \
         repeat_contact_customers from service_summary",
    ),
    (
        "service_tickets",
        "select period, tickets, resolved, median_resolution_hours, p90_resolution_hours, tickets_per_100_customers \
         from service_tickets where is_complete order by period_index",
    ),
    (
        "satisfaction",
        "select period, csat_responses, csat_mean, csat_satisfied_pct, nps_responses, promoters_pct, detractors_pct, nps \
         from satisfaction where is_complete order by period_index",
    ),
    (
        "satisfaction_by_segment",
        "select segment, csat_responses, csat_mean, csat_satisfied_pct, nps_responses, nps from satisfaction_by_segment order by segment",
    ),
];

pub const AFFINITY: Report = &[
    (
        "category_affinity",
        "select category_a, category_b, both_customers, customers_a, customers_b, support, confidence, lift \
         from category_affinity order by lift desc, category_a, category_b",
    ),
    (
        "next_category",
        "select customer_id, next_category, because_of, lift, confidence, support from next_category order by customer_id",
    ),
    (
        "region_category_growth",
        "select period, country, region, category, net_revenue, net_revenue_before, growth_pct, region_share_pct \
         from region_category_growth order by country, region, net_revenue desc, category",
    ),
];

pub fn run(report: Report, args: ReportArgs) -> Result<()> {
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.retention.period = p;
    }
    let tables: Vec<_> = match &args.table {
        Some(t) => {
            let found: Vec<_> = report.iter().filter(|(n, _)| n == t).collect();
            if found.is_empty() {
                let names: Vec<&str> = report.iter().map(|(n, _)| *n).collect();
                return Err(Error::usage(format!(
                    "no table {t:?} in this report; its tables: {}",
                    names.join(", ")
                )));
            }
            found
        }
        None => report.iter().collect(),
    };
    let human = args.output.format == OutputFormat::Table && args.output.out.is_none();
    if tables.len() > 1 && !human {
        return Err(Error::usage(
            format!(
                "--format {:?} writes one table: pick it with --table ({})",
                args.output.format,
                report
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .to_lowercase(),
        ));
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        for (name, sql) in tables {
            if human {
                crate::output::say_line(format!("{name} (as of {})", engine.as_of))?;
            }
            super::print_sql(&engine, name, sql, &args.output).await?;
        }
        Ok(())
    })
}
