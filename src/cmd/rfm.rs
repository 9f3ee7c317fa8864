//! `crm rfm`: RFM scores and named segments per customer, and per-segment target lists.

use crate::analyses::targets;
use crate::cli::RfmArgs;
use crate::engine::Engine;
use crate::error::Result;
use crate::output;

pub fn run(args: RfmArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let rows = engine.read("rfm", vec![]).await?;
        if let Some(dir) = &args.export {
            let lists = targets::rfm_lists(&engine).await?;
            targets::write_rfm_lists(dir, &lists)?;
            eprintln!("wrote {} target lists to {}", lists.len(), dir.display());
        }
        output::write(
            &rows.batches,
            &rows.schema,
            args.output.format,
            args.output.out.as_deref(),
        )
    })
}
