//! `crm interactions`, `crm service`, `crm affinity`: commands that print a set of tables, each
//! an output query (`queries/outputs/`) over a view of `queries/analysis/`.

use crate::cli::{OutputFormat, ReportArgs};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// The tables of one command, in the order they are printed: each the output query
/// `queries/outputs/<name>.sql`.
pub type TableSet = &'static [&'static str];

pub use crate::analyses::{AFFINITY, INTERACTIONS, SERVICE};

pub fn run(set: TableSet, args: ReportArgs) -> Result<()> {
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.retention.period = p;
    }
    let tables: Vec<_> = match &args.table {
        Some(t) => {
            let found: Vec<&str> = set.iter().copied().filter(|n| n == t).collect();
            if found.is_empty() {
                return Err(Error::usage(format!(
                    "no table {t:?} in this report; its tables: {}",
                    set.join(", ")
                )));
            }
            found
        }
        None => set.to_vec(),
    };
    let human = args.output.format == OutputFormat::Table && args.output.out.is_none();
    if tables.len() > 1 && !human {
        return Err(Error::usage(
            format!(
                "--format {:?} writes one table: pick it with --table ({})",
                args.output.format,
                set.join(", ")
            )
            .to_lowercase(),
        ));
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        for name in tables {
            if human {
                crate::output::say_line(format!("{name} (as of {})", engine.as_of))?;
            }
            super::print_output(&engine, name, vec![], &args.output).await?;
        }
        Ok(())
    })
}
