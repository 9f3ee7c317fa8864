//! One error type for the whole crate. Each variant names the stage that failed and carries the
//! context a user needs to act: the file, the record, the query name.

use std::path::PathBuf;

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

    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

    #[error("{0}")]
    Usage(String),
}

impl Error {
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
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }
}
