//! One export loaded as a user's config would load it: the bytes as an orders file of the given
//! format, into a fresh warehouse, every reject allowed. A panic anywhere is a finding; so are
//! counts that do not add up.

use crm::config::Config;
use crm::ingest::{IngestOptions, ingest};

pub fn load(format: &str, data: &[u8]) {
    // Small chunks, so that the CSV cutter's boundaries fall inside what the fuzzer writes.
    // SAFETY: set before any thread of this process reads the environment.
    unsafe { std::env::set_var(crm::ingest::source::CHUNK_ENV, "64") };
    let dir = tempfile::tempdir_in(scratch()).expect("temp dir");
    let export = dir.path().join(format!("orders.{format}"));
    std::fs::write(&export, data).expect("write export");
    let text = format!(
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = {:?}\nmax_reject_rate = 1.0\n",
        export.to_str().expect("utf-8 path")
    );
    let config = Config::parse(&text, &dir.path().join("crm.toml")).expect("config");
    if let Ok(report) = ingest(&config, &IngestOptions::default()) {
        for f in report.files {
            assert_eq!(f.read, f.loaded + f.rejected + f.duplicates, "{f:?}");
        }
    }
}

/// A memory-backed folder where there is one: the loads write Parquet files.
fn scratch() -> std::path::PathBuf {
    let shm = std::path::PathBuf::from("/dev/shm");
    if shm.is_dir() { shm } else { std::env::temp_dir() }
}
