//! `crm retention`: the seed retention rate per period (METRICS.md "Retention rate"), cohort
//! matrices and the mean curve ("Cohort retention"), and growth accounting.

use crate::cli::{CohortMode, OutputFormat, RetentionArgs};
use crate::engine::Engine;
use crate::error::Result;

/// The output query of `crm retention --cohorts` for a mode.
fn cohorts_output(mode: CohortMode, revenue: bool) -> &'static str {
    match (mode, revenue) {
        (_, true) => "retention_cohorts_revenue",
        (CohortMode::On, false) => "retention_cohorts_on",
        (CohortMode::OnOrAfter, false) => "retention_cohorts_on_or_after",
    }
}

pub fn run(args: RetentionArgs) -> Result<()> {
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.retention.period = p;
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        super::note_incomplete(&engine).await?;
        if args.cohorts && !args.days.is_empty() {
            if args.days.contains(&0) {
                return Err(crate::error::Error::usage(
                    "--days counts days after the first purchase day: 1 or more",
                ));
            }
            let days: Vec<String> = args.days.iter().map(u32::to_string).collect();
            let days = datafusion::common::ScalarValue::Utf8(Some(days.join(",")));
            return super::print_output(&engine, "retention_days", vec![days], &args.output).await;
        }
        if args.cohorts {
            let name = cohorts_output(args.mode, args.revenue);
            if args.output.format == OutputFormat::Table && args.output.out.is_none() {
                return print_matrix(&engine, name, args.revenue).await;
            }
            return super::print_output(&engine, name, vec![], &args.output).await;
        }
        let name = if args.growth {
            "growth_accounting"
        } else if args.mean {
            "retention_cohort_mean"
        } else {
            "retention_rate"
        };
        super::print_output(&engine, name, vec![], &args.output).await
    })
}

/// The cohort matrix as people read it: a row per cohort, a column per age, percentages.
async fn print_matrix(engine: &Engine, output: &str, revenue: bool) -> Result<()> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
    let batches = engine.read(output, vec![]).await?.batches;
    let mut rows: Vec<(String, i64, Vec<Option<f64>>)> = Vec::new();
    let cast = |a: &datafusion::arrow::array::ArrayRef, t: &DataType| {
        datafusion::arrow::compute::cast(a, t)
            .map_err(|e| crate::error::Error::query("retention_cohorts", e))
    };
    for b in &batches {
        let cohort = cast(b.column(0), &DataType::Utf8)?;
        let age = cast(b.column(1), &DataType::Int64)?;
        let size = cast(b.column(2), &DataType::Int64)?;
        let ret = cast(b.column(4), &DataType::Float64)?;
        let (cohort, age, size, ret) = (
            cohort.as_string::<i32>(),
            age.as_primitive::<Int64Type>(),
            size.as_primitive::<Int64Type>(),
            ret.as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            let c = cohort.value(i).to_string();
            if rows.last().is_none_or(|r| r.0 != c) {
                rows.push((c, size.value(i), Vec::new()));
            }
            let cells = &mut rows.last_mut().expect("pushed").2;
            let k = age.value(i) as usize;
            cells.resize(k + 1, None);
            cells[k] = (!ret.is_null(i)).then(|| ret.value(i));
        }
    }
    let ages = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec!["cohort".to_string(), "size".to_string()];
    header.extend((0..ages).map(|k| k.to_string()));
    t.set_header(header);
    for (c, size, cells) in &rows {
        let mut row = vec![c.clone(), size.to_string()];
        row.extend((0..ages).map(|k| match cells.get(k).copied().flatten() {
            Some(v) => format!("{:.1}%", v * 100.0),
            None => String::new(),
        }));
        t.add_row(row);
    }
    crate::output::say_line(format!(
        "{} retention by cohort (rows) and age in periods (columns); empty cells are not reached yet or incomplete",
        if revenue { "revenue" } else { "customer" }
    ))?;
    crate::output::say_line(format!("{t}"))?;
    if !revenue {
        let batches = engine.read("retention_cohort_mean", vec![]).await?.batches;
        let mut line = String::from("weighted mean:");
        for b in &batches {
            let age = cast(b.column(0), &DataType::Int64)?;
            let ret = cast(b.column(3), &DataType::Float64)?;
            for i in 0..b.num_rows() {
                line.push_str(&format!(
                    " {}={:.1}%",
                    age.as_primitive::<Int64Type>().value(i),
                    ret.as_primitive::<Float64Type>().value(i) * 100.0
                ));
            }
        }
        crate::output::say_line(line.to_string())?;
    }
    Ok(())
}
