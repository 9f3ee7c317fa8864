//! `crm sample`: write realistic exports for a seed (and, with `--postgres`, the same data into
//! an Odoo-like database with the pipeline config that reads it).

use crate::cli::SampleArgs;
use crate::error::Result;
use crate::sample::{self, SampleOptions, postgres};

pub fn run(args: SampleArgs) -> Result<()> {
    let opts = SampleOptions {
        customers: args.customers,
        seed: args.seed,
        start: args.start,
        months: args.months,
        bad_rows: args.bad_rows,
        purchase_rate: args.purchase_rate,
        compress: !args.uncompressed,
        interactions: !args.no_interactions,
        order: args.order,
        out: args.out,
    };
    let r = sample::generate(&opts)?;
    crate::output::say_line(format!(
        "wrote {} customers, {} order lines, {} interactions to {} ({} + {} + {} deliberately bad rows)",
        r.customers,
        r.order_lines,
        r.interactions,
        opts.out.display(),
        r.bad_customers,
        r.bad_order_lines,
        r.bad_interactions
    ))?;
    if let Some(url) = &args.postgres {
        let exports = postgres::Exports {
            dir: &opts.out,
            customers: sample::CUSTOMERS_FILE,
            orders: opts.orders_file(),
            interactions: opts.interactions.then(|| opts.interactions_file()),
        };
        let db = postgres::load(&exports, url, &args.password_env)?;
        crate::output::say_line(format!(
            "wrote {} partners, {} sale orders with {} lines, {} messages to {url} \
             ({} export rows no table can hold left out, {} values their column's type cannot hold stored as NULL)\n\
             read them with: crm run --config {}",
            db.partners,
            db.orders,
            db.order_lines,
            db.messages,
            db.left_out,
            db.nulled,
            opts.out.join(postgres::PIPELINE_FILE).display()
        ))?;
    }
    Ok(())
}
