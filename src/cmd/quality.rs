//! `crm quality`: the data-quality report of METRICS.md "Data quality", per table.

use crate::cli::QualityArgs;
use crate::engine::Engine;
use crate::error::Result;

pub fn run(args: QualityArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        super::print_output(&engine, "data_quality", vec![], &args.output).await
    })
}
