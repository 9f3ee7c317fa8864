//! `crm lifecycle`: one status per customer as of the date, the counts, churn per period
//! (METRICS.md "Growth accounting and lifecycle").

use crate::cli::LifecycleArgs;
use crate::engine::Engine;
use crate::error::Result;

pub const SUMMARY_SQL: &str =
    "select status, customers, share_pct from lifecycle_summary order by status_order";
pub const CUSTOMERS_SQL: &str = "select customer_id, status, first_purchase_date, last_purchase_date, days_since_last from lifecycle order by customer_id";
pub const CHURN_SQL: &str =
    "select period, active_at_start, churned, churn_rate from churn order by period_index";

pub fn run(args: LifecycleArgs) -> Result<()> {
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.retention.period = p;
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let (name, sql) = if args.customers {
            ("lifecycle", CUSTOMERS_SQL)
        } else if args.churn {
            super::note_incomplete(&engine).await?;
            ("churn", CHURN_SQL)
        } else {
            ("lifecycle_summary", SUMMARY_SQL)
        };
        super::print_sql(&engine, name, sql, &args.output).await
    })
}
