//! `crm query NAME | FILE.sql | --sql "..."`: read-only SQL over the warehouse and the views.

use crate::cli::QueryArgs;
use crate::engine::{Engine, QUERIES};
use crate::error::{Error, Result};
use crate::output;

pub fn run(args: QueryArgs) -> Result<()> {
    if args.list {
        for (layer, name, sql) in QUERIES {
            let grain = sql
                .lines()
                .find_map(|l| l.trim().strip_prefix("-- Grain:"))
                .map(str::trim)
                .unwrap_or("");
            crate::output::say_line(format!("{layer:<9} {name:<28} {grain}"))?;
        }
        return Ok(());
    }
    let config = super::resolve_config(&args.warehouse)?;
    let (name, sql) = match (&args.sql, &args.query) {
        (Some(sql), _) => ("--sql".to_string(), sql.clone()),
        (None, Some(q)) if q.ends_with(".sql") => {
            let sql = std::fs::read_to_string(q).map_err(|e| Error::io(q, e))?;
            (q.clone(), sql)
        }
        (None, Some(q)) if Engine::has_view(q) || crate::engine::TABLES.contains(&q.as_str()) => {
            (q.clone(), format!("select * from {q}"))
        }
        (None, Some(q)) => {
            return Err(Error::usage(format!(
                "no view named {q:?} and not a .sql file; `crm query --list` shows the views"
            )));
        }
        (None, None) => unreachable!("clap requires one"),
    };
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let df = engine.user_sql(&name, &sql).await?;
        let schema = df.schema().inner().clone();
        let batches = engine.collect(&name, df).await?;
        output::write(
            &batches,
            &schema,
            args.output.format,
            args.output.out.as_deref(),
        )
    })
}
