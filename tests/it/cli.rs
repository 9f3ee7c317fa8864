//! The command line as a user meets it: help, read-only queries, clear errors.

use crate::common::*;

fn small_warehouse(sb: &Sandbox) {
    sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount\nt1,c1,2024-01-01,10\nt2,c2,2024-01-02,20\n",
    );
    sb.ok(&["ingest"]);
}

#[test]
fn help_lists_every_command() {
    let sb = Sandbox::new();
    let out = sb.ok(&["--help"]);
    for cmd in ["sample", "ingest", "query", "rfm", "run"] {
        assert!(out.contains(cmd), "{cmd} missing from\n{out}");
    }
}

#[test]
fn user_sql_is_read_only() {
    let sb = Sandbox::new();
    small_warehouse(&sb);
    for sql in [
        "create table x as select 1",
        "drop view rfm",
        "insert into transactions select * from transactions",
        "set datafusion.execution.batch_size = 1",
    ] {
        let err = sb.fails(&["query", "--sql", sql]);
        assert!(
            err.contains("not supported")
                || err.contains("not allowed")
                || err.contains("DDL")
                || err.contains("DML")
                || err.contains("Statement"),
            "{sql}: {err}"
        );
    }
    assert_eq!(
        sb.ok(&[
            "query",
            "--sql",
            "select count(*) as n from transactions",
            "--format",
            "csv"
        ]),
        "n\n2\n"
    );
}

#[test]
fn query_runs_views_files_and_sql_in_every_format() {
    let sb = Sandbox::new();
    small_warehouse(&sb);
    let list = sb.ok(&["query", "--list"]);
    assert!(
        list.contains("rfm")
            && list.contains("stg_transactions")
            && list.contains("one row per customer"),
        "{list}"
    );
    sb.write(
        "q.sql",
        "select customer_id, amount from stg_transactions order by customer_id",
    );
    assert_eq!(
        sb.ok(&["query", "q.sql", "--format", "csv"]),
        "customer_id,amount\nc1,10.0\nc2,20.0\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&sb.ok(&["query", "q.sql", "--format", "json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"customer_id": "c1", "amount": 10.0}, {"customer_id": "c2", "amount": 20.0}])
    );
    // No rows is an empty array, not a broken document.
    let empty = sb.ok(&[
        "query",
        "--sql",
        "select customer_id from stg_transactions where amount > 1000",
        "--format",
        "json",
    ]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&empty).unwrap(),
        serde_json::json!([]),
        "{empty}"
    );
    let table = sb.ok(&["query", "rfm"]);
    assert!(
        table.contains("| customer_id |") && table.contains("2 rows"),
        "{table}"
    );
    // as_of reaches the SQL through params: only events strictly before it count.
    let out = sb.ok(&[
        "query",
        "--sql",
        "select count(*) as n, max(as_of_date) as d from stg_transactions, params",
        "--as-of",
        "2024-01-02",
        "--format",
        "csv",
    ]);
    assert_eq!(out, "n,d\n1,2024-01-02\n");
    sb.ok(&[
        "query",
        "q.sql",
        "--format",
        "parquet",
        "--out",
        "out/q.parquet",
    ]);
    assert!(sb.path("out/q.parquet").metadata().unwrap().len() > 0);
    let err = sb.fails(&["query", "q.sql", "--format", "parquet"]);
    assert!(err.contains("--out"), "{err}");
    let err = sb.fails(&["query", "no_such_view"]);
    assert!(
        err.contains("no_such_view") && err.contains("--list"),
        "{err}"
    );
    // Empty results still carry the header.
    assert_eq!(
        sb.ok(&[
            "query",
            "--sql",
            "select customer_id from rfm where 1 = 0",
            "--format",
            "csv"
        ]),
        "customer_id\n"
    );
}

#[test]
fn reading_without_a_warehouse_says_how_to_make_one() {
    let sb = Sandbox::new();
    let err = sb.fails(&["rfm"]);
    assert!(err.contains("--config"), "{err}");
    let err = sb.fails(&["rfm", "--warehouse", "nowhere"]);
    assert!(
        err.contains("nowhere") && err.contains("crm ingest"),
        "{err}"
    );
}

/// `--memory-limit` puts the queries in a spilling pool of that size: an aggregation whose hash
/// table is larger than the limit still completes (it spills), with the exact answer, and work
/// that cannot spill fails with a message that names the limit and what to do.
#[test]
fn memory_limit_spills_what_can_spill_and_explains_what_cannot() {
    let sb = Sandbox::new();
    small_warehouse(&sb);
    // 3M groups: well over 64 MiB of hash table.
    let grouped = "select count(*) as n from (select value % 3000000 as k, count(*) as c \
                   from generate_series(1, 6000000) group by value % 3000000)";
    assert_eq!(
        sb.ok(&[
            "query",
            "--memory-limit",
            "64MiB",
            "--sql",
            grouped,
            "--format",
            "csv"
        ]),
        "n\n3000000\n"
    );
    let unspillable = "select cardinality(v) as n from \
                       (select array_agg(value) as v from generate_series(1, 30000000))";
    let err = sb.fails(&["query", "--memory-limit", "64MiB", "--sql", unspillable]);
    assert!(err.contains("64.0 MB"), "{err}");
    assert!(err.contains("raise --memory-limit"), "{err}");

    let err = sb.fails(&["rfm", "--memory-limit", "lots"]);
    assert!(
        err.contains("--memory-limit") && err.contains("not a size"),
        "{err}"
    );
    sb.write(
        "bad.toml",
        "[warehouse]\npath = \"wh\"\n[engine]\nmemory_limit = \"2 furlongs\"\n",
    );
    let err = sb.fails(&["rfm", "--config", "bad.toml"]);
    assert!(
        err.contains("engine.memory_limit") && err.contains("unknown unit"),
        "{err}"
    );
}

/// A business with only a sales export: `crm run` (the nightly batch) writes the whole report,
/// the interaction, service and survey tables empty, instead of failing on them.
#[test]
fn run_with_only_a_transactions_export_writes_the_report() {
    let sb = Sandbox::new();
    sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[report]\nout = \"reports\"\n[sources.transactions]\npath = \"t.csv\"\n",
    );
    let mut csv = String::from("transaction_id,customer_id,ts,amount\n");
    for i in 0..120 {
        csv.push_str(&format!(
            "t{i},c{},2024-{:02}-{:02},{}\n",
            i % 9,
            i % 12 + 1,
            i % 27 + 1,
            10 + i % 37
        ));
    }
    sb.write("t.csv", &csv);
    let out = sb.ok(&["run", "--as-of", "2025-01-01"]);
    assert!(out.contains("report written to"), "{out}");
    assert_eq!(out.matches("data-quality report:").count(), 1, "{out}");
    assert!(sb.path("wh/quality.csv").exists());
    // Without --as-of the checks after the load are the report's own data_quality table:
    // still printed once, still written beside the warehouse.
    std::fs::remove_file(sb.path("wh/quality.csv")).unwrap();
    csv.push_str("t999,c1,2024-12-30,5\n");
    sb.write("t.csv", &csv);
    let again = sb.ok(&["run"]);
    assert_eq!(again.matches("data-quality report:").count(), 1, "{again}");
    assert!(sb.path("wh/quality.csv").exists());
    let dir = sb.path("reports/2025-01-01");
    assert!(dir.join("report.html").exists(), "{out}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(summary.is_object(), "{summary}");
}
