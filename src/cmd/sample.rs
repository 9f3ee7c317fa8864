//! `crm sample`: write realistic exports for a seed.

use crate::cli::SampleArgs;
use crate::error::Result;
use crate::sample::{self, SampleOptions};

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
    Ok(())
}
