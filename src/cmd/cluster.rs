//! `crm cluster`: k-means behavioural segments with profiles a manager can read
//! (`crate::analyses::clusters`).

use crate::analyses::clusters;
use crate::cli::ClusterArgs;
use crate::engine::Engine;
use crate::error::Result;
use crate::output;

pub fn run(args: ClusterArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    let k = args.k.or(config.cluster.k);
    let seed = args.seed.unwrap_or(config.cluster.seed);
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let fit = clusters::fit(&engine, k, seed).await?;
        if let Some(note) = clusters::k_note(&fit.clustering) {
            eprintln!("{note}");
        }
        let batch = if args.assignments {
            clusters::assignments_batch(&fit.clustering, &fit.data)
        } else {
            clusters::profiles_batch(&fit.clustering)
        };
        let schema = batch.schema();
        output::write(
            &[batch],
            &schema,
            args.output.format,
            args.output.out.as_deref(),
        )
    })
}
