//! `crm scheduler` and `crm executor`: the processes of a Ballista cluster, from the same binary
//! so that every one of them knows crm's functions and tables (engine/cluster.rs). Each runs
//! until stopped, logging to standard error.

use crate::cli::{ExecutorArgs, SchedulerArgs};
use crate::engine::cluster;
use crate::error::{Error, Result};

pub fn scheduler(args: SchedulerArgs) -> Result<()> {
    cluster::log_to_stderr();
    let external = args.external_host.unwrap_or_else(|| args.bind.clone());
    super::runtime()?.block_on(cluster::run_scheduler(&args.bind, &external, args.port))
}

pub fn executor(args: ExecutorArgs) -> Result<()> {
    cluster::log_to_stderr();
    let address = if args.scheduler.starts_with("df://") {
        args.scheduler.clone()
    } else {
        format!("df://{}", args.scheduler)
    };
    let (scheduler_host, scheduler_port) = cluster::scheduler_address(&address)
        .map_err(|m| Error::usage(format!("--scheduler: {m}")))?;
    let grpc_port = match args.grpc_port {
        Some(p) => p,
        None => args
            .port
            .checked_add(1)
            .ok_or_else(|| Error::usage("--port 65535 leaves no port for --grpc-port"))?,
    };
    let opts = cluster::ExecutorOptions {
        scheduler_host,
        scheduler_port,
        external: args.external_host.unwrap_or_else(|| args.bind.clone()),
        bind: args.bind,
        port: args.port,
        grpc_port,
        vcores: args.concurrency,
        work_dir: args.work_dir.map(|d| d.display().to_string()),
    };
    super::runtime()?.block_on(cluster::run_executor(opts))
}
