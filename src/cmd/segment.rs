//! `crm segment --by rfm|demographic|geographic|behavioural`: every segment's size, revenue,
//! order value and retention, and target lists per segment.

use datafusion::common::ScalarValue;

use crate::analyses::{clusters, targets};
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

pub fn run(args: SegmentArgs) -> Result<()> {
    if args.by == Segmentation::Kmeans {
        if args.export.is_some() {
            return Err(Error::usage(
                "--export with --by kmeans: use `crm cluster --assignments --format csv`",
            ));
        }
        return kmeans(args);
    }
    let mut config = super::resolve_config(&args.warehouse)?;
    if let Some(p) = args.period {
        config.retention.period = p;
    }
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        if args.migration {
            if args.by != Segmentation::Rfm {
                return Err(Error::usage(
                    "--migration follows the RFM segments: use it with --by rfm",
                ));
            }
            let m = crate::analyses::migration::migration(&config, &engine).await?;
            if args.output.format == OutputFormat::Table && args.output.out.is_none() {
                crate::output::say_line(format!(
                    "RFM segment migration: segment as of {} (one {} before) against as of {}",
                    m.previous_as_of,
                    config.retention.period.name(),
                    m.as_of
                ))?;
            }
            let schema = m.table.schema();
            return crate::output::write(
                &[m.table],
                &schema,
                args.output.format,
                args.output.out.as_deref(),
            );
        }
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
        let by = ScalarValue::Utf8(Some(name(args.by).to_string()));
        super::print_output(&engine, "segments_by", vec![by], &args.output).await
    })
}

/// The k-means clusters' profiles, as `crm cluster` prints them with the config's k and seed.
fn kmeans(args: SegmentArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let fit = clusters::fit(&engine, config.cluster.k, config.cluster.seed).await?;
        if let Some(note) = clusters::k_note(&fit.clustering) {
            eprintln!("{note}");
        }
        let batch = clusters::profiles_batch(&fit.clustering);
        let schema = batch.schema();
        crate::output::write(
            &[batch],
            &schema,
            args.output.format,
            args.output.out.as_deref(),
        )
    })
}

/// One CSV per dimension and segment: `customer_id,dimension,segment`; no personal fields.
async fn export(engine: &Engine, by: Segmentation, dir: &std::path::Path) -> Result<usize> {
    let dims: &[&str] = match by {
        Segmentation::Rfm => {
            let lists = targets::rfm_lists(engine).await?;
            targets::write_rfm_lists(dir, &lists)?;
            return Ok(lists.len());
        }
        Segmentation::Demographic => &["age_band", "gender", "income_band"],
        Segmentation::Geographic => &["country", "region", "city"],
        Segmentation::Behavioural => &["preferred_channel", "preferred_category", "frequency_band"],
        Segmentation::Kmeans => unreachable!("handled by kmeans()"),
    };
    targets::write_profile_lists(engine, dims, dir).await
}
