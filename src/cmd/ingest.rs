//! `crm ingest --config FILE`: load the exports into the warehouse and print what happened to
//! every record of every file.

use crate::cli::IngestArgs;
use crate::config::Config;
use crate::error::Result;
use crate::ingest::{self, IngestOptions};

pub fn run(args: IngestArgs) -> Result<()> {
    let config = Config::load(&args.config)?;
    let report = ingest::ingest(&config, &IngestOptions { force: args.force })?;
    crate::output::say(report.summary())?;
    if report.changed && !args.no_quality {
        let lines = super::runtime()?.block_on(crate::analyses::quality::after_ingest(&config))?;
        crate::output::say(lines)?;
    }
    Ok(())
}
