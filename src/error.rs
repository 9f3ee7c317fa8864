//! One error type for the whole crate. Each variant names the stage that failed and carries the
//! context a user needs to act: the file, the record, the query name.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The cluster this process's queries run on, once a session has connected to one: a failed
/// query names it, so a night's error says where to look.
static QUERY_CLUSTER: OnceLock<String> = OnceLock::new();

/// What a failed query's message adds when it ran on the cluster at `url`: where, and, when an
/// executor refused its tasks, the usual reason.
fn on_cluster(message: &str, url: &str) -> String {
    let mut more = format!("\n  (the query ran on the cluster at {url})");
    if message.contains("could not be prepared or was rejected by executor") {
        more.push_str(
            "\n  an executor could not run the plan: every executor must be `crm executor` of this crm version (a stock Ballista executor does not know crm's functions); its log says which",
        );
    }
    more
}

/// Records the cluster the queries run on (the first one a process connects to).
pub fn set_query_cluster(url: &str) {
    let _ = QUERY_CLUSTER.set(url.to_string());
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },

    #[error("ingest {path}: {message}")]
    Source { path: PathBuf, message: String },

    #[error("warehouse {path}: {message}")]
    Warehouse { path: PathBuf, message: String },

    #[error("query {name}: {message}")]
    Query { name: String, message: String },

    /// An analysis or the machinery it runs on could not do its work (a model that cannot be
    /// fitted on this data, a query engine that cannot start).
    #[error("{step}: {message}")]
    Analysis { step: String, message: String },

    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

    #[error("{0}")]
    Usage(String),

    /// An export rejected more of its records than its source allows: nothing was committed.
    #[error("{0}")]
    Rejected(String),

    /// `crm run` wrote what it could, but an analysis it promises did not run.
    #[error("{0}")]
    StepsFailed(String),

    /// `crm run --fail-on-alert` crossed a threshold of `[alerts]` (the report was written).
    #[error("{0}")]
    Alerts(String),
}

/// The exit statuses `crm` documents (README "Exit status", `crm --help`): a cron job or a
/// script tells a bad night's input from a broken setup by them.
pub mod exit {
    pub const OK: u8 = 0;
    /// Any other error: a file that cannot be read, a config or warehouse problem, a query.
    pub const ERROR: u8 = 1;
    /// The command line is wrong (clap uses 2 for its own usage errors too).
    pub const USAGE: u8 = 2;
    /// An export's reject rate was above its `max_reject_rate`: the load was not committed.
    pub const REJECTED_INPUT: u8 = 3;
    /// `crm run` could not run every analysis it promises (summary.json names the step).
    pub const STEP_FAILED: u8 = 4;
    /// `crm run --fail-on-alert` crossed an alert threshold (summary.json lists `alerts`).
    pub const ALERT: u8 = 5;
}

impl Error {
    /// The exit status this error ends the process with ([`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Rejected(_) => exit::REJECTED_INPUT,
            Error::StepsFailed(_) => exit::STEP_FAILED,
            Error::Alerts(_) => exit::ALERT,
            _ => exit::ERROR,
        }
    }

    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Error::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            message: message.into(),
        }
    }
    pub fn source(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Source {
            path: path.into(),
            message: message.into(),
        }
    }
    pub fn warehouse(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Warehouse {
            path: path.into(),
            message: message.to_string(),
        }
    }
    pub fn query(name: impl Into<String>, err: impl std::fmt::Display) -> Self {
        let mut message = err.to_string();
        if let Some(url) = QUERY_CLUSTER.get() {
            message.push_str(&on_cluster(&message, url));
        }
        if message.contains("Resources exhausted") {
            message.push_str(
                "\n  the query needs more memory than the limit allows even with spilling: \
                 raise --memory-limit (or engine.memory_limit), or narrow the query",
            );
        }
        Error::Query {
            name: name.into(),
            message,
        }
    }
    pub fn analysis(step: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Analysis {
            step: step.into(),
            message: err.to_string(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_cluster_query_names_the_cluster_and_a_refused_task_the_likely_reason() {
        let plain = on_cluster("Execution error: Job 1 failed: disk full", "df://h:50050");
        assert!(plain.contains("df://h:50050") && !plain.contains("crm executor"));
        let refused = on_cluster(
            "Job 038J failed: task could not be prepared or was rejected by executor",
            "df://h:50050",
        );
        assert!(refused.contains("df://h:50050") && refused.contains("`crm executor`"));
    }
}
