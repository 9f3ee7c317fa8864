//! `crm forecast`: net revenue per period and the seed projection (METRICS.md "Sales forecast").

use crate::cli::{ForecastArgs, ForecastMethod};
use crate::engine::Engine;
use crate::error::{Error, Result};

pub const SEED_SQL: &str = "select period, kind, h, net_revenue, average_sales, growth_rate from forecast_seed order by kind, period";

pub fn run(args: ForecastArgs) -> Result<()> {
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.forecast.period = p;
    }
    if let Some(h) = args.horizon {
        config.forecast.horizon = h;
    }
    if let Some(n) = args.lookback {
        if n < 2 {
            return Err(Error::usage(
                "--lookback must be at least 2 periods: a growth rate needs two",
            ));
        }
        config.forecast.lookback = n;
    }
    match args.method {
        ForecastMethod::Seed => {}
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        super::print_sql(&engine, "forecast_seed", SEED_SQL, &args.output).await
    })
}
