//! `crm segment --by rfm|demographic|geographic|behavioural`: every segment's size, revenue,
//! order value and retention, and target lists per segment.

use crate::cli::{OutputFormat, SegmentArgs, Segmentation};
use crate::engine::Engine;
use crate::error::{Error, Result};

fn name(by: Segmentation) -> &'static str {
    match by {
        Segmentation::Rfm => "rfm",
        Segmentation::Demographic => "demographic",
        Segmentation::Geographic => "geographic",
        Segmentation::Behavioural => "behavioural",
        Segmentation::Kmeans => "kmeans",
    }
}

pub fn segments_sql(by: Segmentation) -> String {
    format!(
        "select dimension, segment, customers, share_pct, net_revenue, revenue_share_pct, avg_order_value, \
         purchases_per_customer, strict_retention_pct from segments where segmentation = '{}' \
         order by dimension, customers desc, segment",
        name(by)
    )
}

pub fn run(args: SegmentArgs) -> Result<()> {
    if args.by == Segmentation::Kmeans {
        if args.export.is_some() {
            return Err(Error::usage(
                "--export with --by kmeans: use `crm cluster --assignments --format csv`",
            ));
        }
        let cluster = crate::cli::ClusterArgs {
            k: None,
            seed: None,
            assignments: false,
            warehouse: args.warehouse,
            output: args.output,
        };
        return super::cluster::run(cluster);
    }
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.retention.period = p;
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        if let Some(dir) = &args.export {
            let n = export(&engine, args.by, dir).await?;
            eprintln!("wrote {n} target lists to {}", dir.display());
        }
        if args.output.format == OutputFormat::Table && args.output.out.is_none() {
            crate::output::say_line(format!(
                "{} segments as of {} (customers with a purchase before that day)",
                name(args.by),
                engine.as_of
            ))?;
        }
        super::print_sql(&engine, "segments", &segments_sql(args.by), &args.output).await
    })
}

/// One CSV per dimension and segment: `customer_id,dimension,segment`; no personal fields.
async fn export(engine: &Engine, by: Segmentation, dir: &std::path::Path) -> Result<usize> {
    if by == Segmentation::Rfm {
        let lists = super::rfm::target_lists(engine).await?;
        super::rfm::write_target_lists(dir, &lists)?;
        return Ok(lists.len());
    }
    let dims: &[&str] = match by {
        Segmentation::Demographic => &["age_band", "gender", "income_band"],
        Segmentation::Geographic => &["country", "region", "city"],
        Segmentation::Behavioural => &["preferred_channel", "preferred_category", "frequency_band"],
        Segmentation::Rfm | Segmentation::Kmeans => unreachable!("handled above"),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = 0;
    for dim in dims {
        let sql = format!(
            "select customer_id, {dim} as segment from customer_profile order by {dim}, customer_id"
        );
        let df = engine.user_sql("customer_profile", &sql).await?;
        let batches = engine.collect("customer_profile", df).await?;
        let mut current: Option<(String, csv::Writer<std::fs::File>)> = None;
        for b in &batches {
            let ids = datafusion::arrow::compute::cast(
                b.column(0),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .map_err(|e| Error::query("export", e))?;
            let segs = datafusion::arrow::compute::cast(
                b.column(1),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .map_err(|e| Error::query("export", e))?;
            let ids = datafusion::arrow::array::AsArray::as_string::<i32>(&ids);
            let segs = datafusion::arrow::array::AsArray::as_string::<i32>(&segs);
            for i in 0..b.num_rows() {
                let seg = segs.value(i);
                if current.as_ref().is_none_or(|(s, _)| s != seg) {
                    if let Some((_, mut w)) = current.take() {
                        w.flush().map_err(|e| Error::io(dir, e))?;
                    }
                    let path = dir.join(format!("{dim}-{}.csv", super::rfm::slug(seg)));
                    let mut w = csv::Writer::from_path(&path).map_err(|e| Error::io(&path, e))?;
                    w.write_record(["customer_id", "dimension", "segment"])
                        .map_err(|e| Error::io(&path, e))?;
                    files += 1;
                    current = Some((seg.to_string(), w));
                }
                let (_, w) = current.as_mut().expect("opened");
                w.write_record([ids.value(i), dim, seg])
                    .map_err(|e| Error::io(dir, e))?;
            }
        }
        if let Some((_, mut w)) = current.take() {
            w.flush().map_err(|e| Error::io(dir, e))?;
        }
    }
    Ok(files)
}
