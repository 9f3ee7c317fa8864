//! `crm lifecycle`: one status per customer as of the date, the counts, churn per period
//! (METRICS.md "Growth accounting and lifecycle").

use crate::cli::LifecycleArgs;
use crate::engine::Engine;
use crate::error::Result;

pub fn run(args: LifecycleArgs) -> Result<()> {
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.retention.period = p;
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let name = if args.customers {
            "lifecycle"
        } else if args.churn {
            super::note_incomplete(&engine).await?;
            "churn"
        } else {
            "lifecycle_summary"
        };
        super::print_output(&engine, name, vec![], &args.output).await
    })
}
