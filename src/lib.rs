//! crm: an analytical CRM engine. The modules follow the pipeline: `ingest` (exports ->
//! validated rows) -> `warehouse` (Parquet + manifest) -> `engine` (DataFusion over the
//! warehouse and the SQL in `queries/`) -> `analyses` (engine -> model -> table, once) ->
//! `report` (charts and HTML); `cmd` sits on top, one thin adapter per subcommand
//! (docs/ARCHITECTURE.md).

pub mod analyses;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod models;
pub mod nightly;
pub mod output;
pub mod periods;
pub mod report;
pub mod sample;
pub mod warehouse;

pub use error::{Error, Result};

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> Result<()> {
    use cli::Command;
    match cli.command {
        Command::Sample(a) => cmd::sample::run(a),
        Command::Ingest(a) => cmd::ingest::run(a),
        Command::Query(a) => cmd::query::run(a),
        Command::Rfm(a) => cmd::rfm::run(a),
        Command::Segment(a) => cmd::segment::run(a),
        Command::Retention(a) => cmd::retention::run(a),
        Command::Lifecycle(a) => cmd::lifecycle::run(a),
        Command::Forecast(a) => cmd::forecast::run(a),
        Command::Interactions(a) => cmd::table_set::run(cmd::table_set::INTERACTIONS, a),
        Command::Service(a) => cmd::table_set::run(cmd::table_set::SERVICE, a),
        Command::Affinity(a) => cmd::table_set::run(cmd::table_set::AFFINITY, a),
        Command::Quality(a) => cmd::quality::run(a),
        Command::Clv(a) => cmd::clv::run(a),
        Command::Cluster(a) => cmd::cluster::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Scheduler(a) => cmd::serve::scheduler(a),
        Command::Executor(a) => cmd::serve::executor(a),
    }
}
