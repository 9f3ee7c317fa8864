//! crm: an analytical CRM engine. The modules follow the pipeline: `ingest` (exports ->
//! validated rows) -> `warehouse` (Parquet + manifest) -> `engine` (DataFusion over the
//! warehouse and the SQL in `queries/`) -> commands that write tables and reports.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod models;
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
        Command::Interactions(a) => cmd::report::run(cmd::report::INTERACTIONS, a),
        Command::Service(a) => cmd::report::run(cmd::report::SERVICE, a),
        Command::Affinity(a) => cmd::report::run(cmd::report::AFFINITY, a),
        Command::Quality(a) => cmd::quality::run(a),
        Command::Clv(a) => cmd::clv::run(a),
        Command::Cluster(a) => cmd::cluster::run(a),
        Command::Report(a) => cmd::report_html::run(a),
        Command::Run(a) => cmd::run::run(a),
    }
}
