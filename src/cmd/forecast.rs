//! `crm forecast`: net revenue per period and every model side by side with 80% and 95%
//! intervals, a rolling-origin backtest of each, and the recommended model
//! (`crate::analyses::forecast`, METRICS.md "Sales forecast").

use datafusion::arrow::array::RecordBatch;

use crate::analyses::forecast::report;
use crate::cli::{ForecastArgs, ForecastMethod, OutputFormat};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::forecast::Method;
use crate::output;

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
    if config.forecast.horizon == 0 {
        return Err(Error::usage("--horizon must be at least 1 period"));
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let methods: Vec<Method> = match args.method {
            ForecastMethod::Seed => return super::print_output(&engine, "forecast_seed", vec![], &args.output).await,
            ForecastMethod::All => Method::ALL.to_vec(),
            ForecastMethod::SeasonalNaive => vec![Method::SeasonalNaive],
            ForecastMethod::Ets => vec![Method::Ets],
            ForecastMethod::MstlEts => vec![Method::MstlEts],
        };
        let r = report(&engine, &config, &methods).await?;
        let human = args.output.format == OutputFormat::Table && args.output.out.is_none();
        let tables: Vec<(&str, &RecordBatch)> = match args.table.as_deref() {
            Some("forecasts") => vec![("forecasts", &r.forecasts)],
            Some("backtest") => vec![("backtest", &r.backtest)],
            Some(other) => return Err(Error::usage(format!("no table {other:?}: forecasts or backtest"))),
            None if human => vec![("forecasts", &r.forecasts), ("backtest", &r.backtest)],
            None => return Err(Error::usage("--format csv/json/parquet writes one table: add --table forecasts or --table backtest")),
        };
        if r.forecasts.num_rows() == 0 && human {
            crate::output::say_line("no model has enough history to forecast: see the notes below")?;
        }
        for (name, batch) in tables {
            if human {
                crate::output::say_line(format!("{name} ({} revenue, as of {})", config.forecast.period.name(), engine.as_of))?;
            }
            output::write(std::slice::from_ref(batch), &batch.schema(), args.output.format, args.output.out.as_deref())?;
        }
        if human && let Some(m) = r.recommended {
            crate::output::say_line(format!("recommended: {m} (lowest backtest MASE)"))?;
        }
        Ok(())
    })
}
