//! `crm run`: the batch entry point cron calls every night (`crate::nightly`).

use crate::cli::RunArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::nightly;

pub fn run(args: RunArgs) -> Result<()> {
    let mut config = Config::load(&args.config)?;
    super::set_memory_limit(&mut config, args.memory_limit.as_deref())?;
    super::set_cluster(&mut config, args.cluster.as_deref())?;
    let out_root = args
        .out
        .clone()
        .unwrap_or_else(|| config.resolve(&config.report.out));
    let outcome = nightly::run(&config, args.as_of, &out_root)?;
    crate::output::say_line(format!("report written to {}", outcome.dir.display()))?;
    for alert in &outcome.alerts {
        eprintln!("alert: {}", alert.message);
    }
    if outcome.failed.is_empty() {
        if args.fail_on_alert && !outcome.alerts.is_empty() {
            return Err(Error::Alerts(format!(
                "{} alert threshold(s) crossed (summary.json, \"alerts\"); exiting with status 5 as --fail-on-alert asks",
                outcome.alerts.len()
            )));
        }
        return Ok(());
    }
    let steps: Vec<String> = outcome
        .failed
        .iter()
        .map(|f| format!("{}: {}", f.step, f.error))
        .collect();
    Err(Error::StepsFailed(format!(
        "{} of the run's analyses could not run, the report lacks them (summary.json, \"failed_steps\"):\n  {}",
        steps.len(),
        steps.join("\n  ")
    )))
}
