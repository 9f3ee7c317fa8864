//! SQL data tests (queries/tests/*.sql): each query returns the rows that break an invariant of
//! METRICS.md, so it must return none. Run over the shipped sample's warehouse, as
//! `crm query FILE.sql` runs them for a user on theirs.

use crate::common::*;

#[test]
fn every_sql_data_test_returns_no_rows_on_the_sample() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg, "--no-quality"]);
    let mut tests: Vec<_> = std::fs::read_dir(repo().join("queries/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 5, "{tests:?}");
    for t in &tests {
        let path = t.to_str().unwrap();
        let rows = parse_csv(&sb.ok(&["query", "--config", cfg, "--format", "csv", path]));
        assert!(!rows.is_empty(), "{path}: no header");
        assert_eq!(
            rows.len(),
            1,
            "{path} found rows that break its invariant: {rows:?}"
        );
    }
}

/// Every output query (queries/outputs/*.sql: what the commands print, `crm run` writes and the
/// report reads) runs on the sample as a user runs it, its columns named. The few with
/// placeholders (`$1`) run through their commands: `crm segment --by`, `--export`, `crm clv
/// --holdout-from`.
#[test]
fn every_output_query_runs_on_the_sample() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg, "--no-quality"]);
    let mut outputs: Vec<_> = std::fs::read_dir(repo().join("queries/outputs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    outputs.sort();
    assert!(outputs.len() >= 30, "{outputs:?}");
    let mut ran = 0;
    for o in &outputs {
        let sql = std::fs::read_to_string(o).unwrap();
        assert!(
            sql.starts_with("-- Shape:"),
            "{o:?} does not say what reads it"
        );
        if sql.contains("$1") {
            continue;
        }
        let path = o.to_str().unwrap();
        let rows = parse_csv(&sb.ok(&["query", "--config", cfg, "--format", "csv", path]));
        assert!(
            rows.first()
                .is_some_and(|h| h.iter().all(|c| !c.is_empty())),
            "{path}: no header"
        );
        ran += 1;
    }
    assert!(ran >= 30, "{ran}");
}
