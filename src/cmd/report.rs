//! `crm report`: charts (SVG and PNG) and `report.html` for the warehouse as of a day
//! (`crate::report`; `crm run` writes the same report beside its tables).

use crate::analyses::Analyses;
use crate::cli::ReportHtmlArgs;
use crate::engine::Engine;
use crate::error::Result;
use crate::report;

pub fn run(args: ReportHtmlArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let dir = args.out.clone().unwrap_or_else(|| {
            config
                .resolve(&config.report.out)
                .join(engine.as_of.to_string())
        });
        let mut a = Analyses::new(&engine, &config);
        let alerts = crate::analyses::alerts::check(&mut a, None).await?;
        let path = report::write(&mut a, &dir, &alerts).await?;
        crate::output::say_line(format!("report written to {}", path.display()))
    })
}
