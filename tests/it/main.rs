//! The integration tests: every test runs the real `crm` binary in its own temporary folder,
//! as a user runs it. One test crate with modules keeps link time down.

mod bad_input;
mod cdnow;
mod cli;
mod cluster;
mod clv;
mod common;
mod data_tests;
mod edges;
mod forecast;
mod ingest;
mod invariants;
mod keys;
mod pg;
mod privacy;
mod properties;
mod report;
mod retention;
mod rfm;
mod run;
mod s3;
mod sample;
mod service;
mod snapshot;
mod sources;
