//! `crm clv`: BG/NBD or Pareto/NBD (or the better of the two on a holdout) + Gamma-Gamma per
//! customer (P(alive), expected purchases, expected order value, discounted CLV), the fitted
//! parameters, and the holdout comparison (`crate::analyses::clv`).

use crate::analyses::clv::{
    TABLE_DECIMALS, aggregate, choice_lines, fit, holdout, params_json, per_customer, summaries,
};
use crate::cli::{ClvArgs, OutputFormat};
use crate::config::ClvModel;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::clv::WEEKS_PER_MONTH;
use crate::output;

pub fn run(args: ClvArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    let months = args.clv_months.unwrap_or(config.clv.horizon_months);
    let discount = args.discount.unwrap_or(config.clv.discount);
    if !(0.0..1.0).contains(&discount) {
        return Err(Error::usage(
            "--discount is a monthly rate between 0 and 1 (0.01 is 1% a month)",
        ));
    }
    let horizon = args
        .horizon_weeks
        .unwrap_or(months as f64 * WEEKS_PER_MONTH);
    let model = args.model.unwrap_or(config.clv.model);
    super::runtime()?.block_on(async {
        if let (Some(split), false) = (args.holdout_from, args.params && model == ClvModel::Auto) {
            let end = Engine::open(&config, args.warehouse.as_of).await?;
            if split >= end.as_of {
                return Err(Error::usage(format!("--holdout-from {split} must be before as_of {}", end.as_of)));
            }
            let (table, choice, customers) = holdout(&config, model, &end, split).await?;
            let weeks = (end.as_of - split).num_days() as f64 / 7.0;
            if let Some(choice) = &choice {
                eprintln!("{}", choice_lines(choice));
            }
            let table = output::for_format(table, args.output.format, TABLE_DECIMALS);
            eprintln!(
                "holdout {split} .. {}: {:.1} weeks; fitted on {customers} customers before {split}",
                end.as_of,
                weeks,
            );
            let schema = table.schema();
            return output::write(&[table], &schema, args.output.format, args.output.out.as_deref());
        }
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        if let Some(split) = args.holdout_from
            && split >= engine.as_of
        {
            return Err(Error::usage(format!("--holdout-from {split} must be before as_of {}", engine.as_of)));
        }
        let data = summaries(&engine).await?;
        let fitted = fit(&config, &engine, &data, model, args.holdout_from).await?;
        if let Some(choice) = &fitted.choice {
            eprintln!("{}", choice_lines(choice));
        }
        if fitted.gg.excluded_non_positive > 0 {
            eprintln!(
                "note: {} customers with repeat purchases of mean value <= 0 (refunds) are left out of Gamma-Gamma; \
                 they get the population mean order value",
                fitted.gg.excluded_non_positive
            );
        }
        if args.params {
            let json = params_json(&fitted);
            return match args.output.format {
                OutputFormat::Json | OutputFormat::Table => crate::output::say_line(serde_json::to_string_pretty(&json).expect("json")),
                other => Err(Error::usage(format!("--params prints JSON; --format {other:?} does not apply").to_lowercase())),
            };
        }
        let table = if args.aggregate { aggregate(&fitted, &data, horizon) } else { per_customer(&fitted, &data, horizon, months, discount) };
        // The aggregate's weekly figures are counts of purchases: two decimals in a table.
        let decimals: &[(&str, i32)] = if args.aggregate { &[("expected_purchases", 2), ("cumulative_expected_purchases", 2)] } else { TABLE_DECIMALS };
        let table = output::for_format(table, args.output.format, decimals);
        let schema = table.schema();
        output::write(&[table], &schema, args.output.format, args.output.out.as_deref())
    })
}
