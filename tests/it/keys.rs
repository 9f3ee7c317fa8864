//! The surrogate keys ingest assigns (src/ingest/keys.rs): one dense key per customer id, the
//! same in every table and load, and the upgrade of a warehouse written before them.

use std::path::Path;

use crate::common::*;

/// Every row of `tables` carries the customer_key that names its own customer_id in the
/// dictionary, which holds each id once under keys 1..n.
fn assert_keys_consistent(sb: &Sandbox, cfg: &Path, tables: &[&str]) {
    let dict = sb.csv(
        cfg,
        "select count(*), count(distinct customer_id), count(distinct customer_key), \
         min(customer_key), max(customer_key) from customer_keys",
        &[],
    );
    let n = dict[1][0].as_str();
    assert_ne!(n, "0");
    assert_eq!(dict[1], [n, n, n, "1", n], "{dict:?}");
    for table in tables {
        let rows = sb.csv(
            cfg,
            &format!(
                "select count(*), count(k.customer_id), \
                 sum(case when k.customer_id = t.customer_id then 1 else 0 end) \
                 from {table} as t left join customer_keys as k on k.customer_key = t.customer_key"
            ),
            &[],
        );
        let all = rows[1][0].as_str();
        assert_ne!(all, "0", "{table}");
        assert_eq!(rows[1], [all, all, all], "{table}: {rows:?}");
    }
}

const ALL_TABLES: [&str; 3] = ["customers", "transactions", "interactions"];

fn transaction_files(manifest: &serde_json::Value) -> usize {
    manifest["tables"]["transactions"]["files"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn every_table_carries_the_dictionary_key_of_its_customer() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    sb.ok(&["ingest", "--config", cfg.to_str().unwrap()]);
    assert_keys_consistent(&sb, &cfg, &ALL_TABLES);
}

#[test]
fn a_later_load_keeps_the_keys_and_numbers_new_customers_on() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.customers]\npath = \"c.csv\"\n\
         [sources.transactions]\npath = \"t.csv\"\n",
    );
    sb.write("c.csv", "customer_id,country\nc2,DE\nc1,FR\n");
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount,order_id\n\
         t1,c1,2024-01-01,10,o1\nt2,c3,2024-01-02,20,\nt3,c1,2024-01-02,5,o1\n",
    );
    sb.ok(&["ingest"]);
    // Customers are loaded first: c2 and c1 in export order, then c3 from the transactions.
    let keys = sb.csv(
        &cfg,
        "select customer_id, customer_key from customer_keys order by 2",
        &[],
    );
    assert_eq!(keys[1..], [["c2", "1"], ["c1", "2"], ["c3", "3"]]);
    // Two lines of order o1 share an order key; a line without an order id is its own order.
    let orders = sb.csv(
        &cfg,
        "select count(distinct order_key) from transactions where customer_id = 'c1'",
        &[],
    );
    assert_eq!(orders[1], ["1"]);

    sb.write("c.csv", "customer_id,country\nc2,DE\nc1,FR\nc4,ES\n");
    sb.write(
        "t.csv",
        "transaction_id,customer_id,ts,amount,order_id\n\
         t1,c1,2024-01-01,10,o1\nt2,c3,2024-01-02,20,\nt3,c1,2024-01-02,5,o1\n\
         t4,c5,2024-02-01,7,o9\nt5,c3,2024-02-02,8,o9\n",
    );
    sb.ok(&["ingest"]);
    let keys = sb.csv(
        &cfg,
        "select customer_id, customer_key from customer_keys order by 2",
        &[],
    );
    assert_eq!(
        keys[1..],
        [
            ["c2", "1"],
            ["c1", "2"],
            ["c3", "3"],
            ["c4", "4"],
            ["c5", "5"]
        ]
    );
    assert_keys_consistent(&sb, &cfg, &["customers", "transactions"]);
    // Each load's transactions file is sorted by customer, and the manifest says so.
    let m = manifest(&sb.path("wh"));
    assert_eq!(transaction_files(&m), 2);
    assert_eq!(
        m["tables"]["transactions"]["sorted_by"],
        serde_json::json!(["customer_key", "order_key"])
    );
    // One order id used by two customers is two orders.
    let rfm = sb.csv(
        &cfg,
        "select customer_id, frequency from rfm order by 1",
        &[],
    );
    assert_eq!(rfm[1..], [["c1", "1"], ["c3", "2"], ["c5", "1"]]);
}

/// Rewrites a warehouse as the build before surrogate keys left it: no key columns, no
/// dictionary, format 1.
fn strip_keys(wh: &Path) {
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let mut m = manifest(wh);
    for rel in m["tables"]["customer_keys"]["files"].as_array().unwrap() {
        std::fs::remove_file(wh.join(rel.as_str().unwrap())).unwrap();
    }
    m["tables"].as_object_mut().unwrap().remove("customer_keys");
    m["format"] = 1.into();
    for table in ["customers", "transactions", "interactions"] {
        for rel in m["tables"][table]["files"].as_array().unwrap() {
            let path = wh.join(rel.as_str().unwrap());
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            let batches: Vec<RecordBatch> = reader
                .map(|b| {
                    let b = b.unwrap();
                    let keep: Vec<usize> = (0..b.num_columns())
                        .filter(|i| {
                            let name = b.schema().field(*i).name().clone();
                            name != "customer_key" && name != "order_key"
                        })
                        .collect();
                    b.project(&keep).unwrap()
                })
                .collect();
            let mut w = ArrowWriter::try_new(
                std::fs::File::create(&path).unwrap(),
                batches[0].schema(),
                None,
            )
            .unwrap();
            for b in &batches {
                w.write(b).unwrap();
            }
            w.close().unwrap();
        }
    }
    std::fs::write(
        wh.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_warehouse_from_before_the_keys_is_refused_then_upgraded_by_ingest_with_the_same_answers() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg]);
    let rfm = sb.ok(&["rfm", "--config", cfg, "--format", "csv"]);
    let cohorts = sb.ok(&["retention", "--cohorts", "--config", cfg, "--format", "csv"]);
    let lifecycle = sb.ok(&["query", "lifecycle", "--config", cfg, "--format", "csv"]);
    let wh = sb.path("target/sample-warehouse");
    let rows_before = manifest(&wh)["tables"]["transactions"]["rows"].clone();

    strip_keys(&wh);
    let err = sb.fails(&["rfm", "--config", cfg]);
    assert!(
        err.contains("without customer keys") && err.contains("crm ingest"),
        "{err}"
    );

    let out = sb.ok(&["ingest", "--config", cfg]);
    assert!(out.contains("upgraded the warehouse"), "{out}");
    assert!(out.contains("nothing new"), "{out}");
    let m = manifest(&wh);
    assert_eq!(m["format"], 3);
    assert_eq!(m["tables"]["transactions"]["rows"], rows_before);
    assert_keys_consistent(&sb, Path::new(cfg), &ALL_TABLES);
    assert_eq!(sb.ok(&["rfm", "--config", cfg, "--format", "csv"]), rfm);
    assert_eq!(
        sb.ok(&["retention", "--cohorts", "--config", cfg, "--format", "csv"]),
        cohorts
    );
    // The lifecycle view has no order: compare its rows as a set.
    let sorted = |text: String| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    let after = sb.ok(&["query", "lifecycle", "--config", cfg, "--format", "csv"]);
    assert!(
        sorted(after) == sorted(lifecycle),
        "lifecycle differs after the upgrade"
    );
}

/// `crm args` (an ingest) with the load sorted in runs of `rows` rows (row groups of two
/// thirds of that): many runs merged and many row groups, as a load of millions of lines has.
fn ingest_in_runs(sb: &Sandbox, args: &[&str], rows: &str) {
    let out = sb
        .cmd(args)
        .env("CRM_SORT_RUN_ROWS", rows)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(args, &out));
}

/// Row groups of the one transactions file, by their recorded first and last customer key.
fn row_group_keys(manifest: &serde_json::Value) -> Vec<(i64, i64)> {
    let keys = manifest["tables"]["transactions"]["row_group_keys"]
        .as_object()
        .expect("row_group_keys recorded");
    keys.values()
        .flat_map(|groups| groups.as_array().unwrap())
        .map(|g| (g[0].as_i64().unwrap(), g[1].as_i64().unwrap()))
        .collect()
}

/// The RFM and the cohort matrix over sorted files, computed as one range of customers (one row
/// group), as several ranges side by side (a load sorted in small runs: many row groups),
/// and over the same rows without the promise of order, give the same answers.
#[test]
fn rfm_over_sorted_files_equals_rfm_over_the_same_rows_unordered() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    sb.ok(&["ingest", "--config", cfg]);
    let wh = sb.path("target/sample-warehouse");
    let mut m = manifest(&wh);
    assert_eq!(
        m["tables"]["transactions"]["sorted_by"],
        serde_json::json!(["customer_key", "order_key"])
    );
    assert_eq!(row_group_keys(&m).len(), 1);
    let one_range = sb.ok(&["rfm", "--config", cfg, "--format", "csv"]);
    let cohorts = ["retention", "--cohorts", "--config", cfg, "--format", "csv"];
    let cohorts_one_range = sb.ok(&cohorts);
    m["tables"]["transactions"]
        .as_object_mut()
        .unwrap()
        .remove("sorted_by");
    std::fs::write(
        wh.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    let hashed = sb.ok(&["rfm", "--config", cfg, "--format", "csv"]);
    let cohorts_hashed = sb.ok(&cohorts);
    assert!(one_range.lines().count() > 100);
    assert!(one_range == hashed, "streamed and hashed RFM differ");
    assert!(cohorts_hashed.lines().count() > 10);
    assert!(cohorts_one_range == cohorts_hashed, "cohorts differ");

    // The same exports sorted in runs of 500 rows: row groups of about 125 rows, each holding
    // whole customers, in key order.
    let small = Sandbox::new();
    let cfg = small.with_sample();
    let cfg = cfg.to_str().unwrap();
    ingest_in_runs(&small, &["ingest", "--config", cfg], "500");
    let groups = row_group_keys(&manifest(&small.path("target/sample-warehouse")));
    assert!(groups.len() > 10, "{} row groups", groups.len());
    for pair in groups.windows(2) {
        assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
    }
    let ranges = small.ok(&["rfm", "--config", cfg, "--format", "csv"]);
    assert!(ranges == hashed, "RFM over customer ranges differs");
    let cohorts = ["retention", "--cohorts", "--config", cfg, "--format", "csv"];
    assert!(
        small.ok(&cohorts) == cohorts_hashed,
        "cohorts over customer ranges differ"
    );
}

/// Two loads, each sorted, whose rows interleave by customer: the RFM inputs and the customer
/// periods, computed per range of customers, still give each customer (and month) one row
/// with all its orders.
#[test]
fn rfm_over_two_sorted_loads_counts_a_customer_of_both_once() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.first]\ntable = \"transactions\"\npath = \"a.csv\"\n\
         [sources.second]\ntable = \"transactions\"\npath = \"b.csv\"\n",
    );
    sb.write(
        "a.csv",
        "transaction_id,customer_id,ts,amount,order_id\n\
         t1,c1,2024-01-01,10,o1\nt2,c2,2024-01-02,20,o2\nt3,c3,2024-01-03,30,o3\n",
    );
    sb.write(
        "b.csv",
        "transaction_id,customer_id,ts,amount,order_id\n\
         t4,c3,2024-02-01,5,o4\nt5,c1,2024-02-02,7,o5\nt6,c1,2024-02-03,8,o6\nt7,c2,2024-02-04,1,o7\n",
    );
    // Runs of two rows and row groups of one row (c1's two rows of the second file in two); a
    // range of customers reads row groups of both files, merged, and some only in part.
    ingest_in_runs(&sb, &["ingest"], "2");
    let m = manifest(&sb.path("wh"));
    assert_eq!(transaction_files(&m), 2);
    assert!(row_group_keys(&m).len() >= 4);
    let rfm = sb.csv(
        &cfg,
        "select customer_id, frequency, monetary from customer_rfm_inputs order by 1",
        &[],
    );
    assert_eq!(
        rfm[1..],
        [
            ["c1", "3", "25.0"],
            ["c2", "2", "21.0"],
            ["c3", "2", "35.0"]
        ]
    );
    // The customer-period mart, hashed per range of customers: one row per customer and month.
    let periods = sb.csv(
        &cfg,
        "select k.customer_id, period_label(p.period_index, 'month') as month, p.net_revenue \
         from customer_periods as p join customer_keys as k on k.customer_key = p.customer_key \
         order by 1, 2",
        &[],
    );
    assert_eq!(
        periods[1..],
        [
            ["c1", "2024-01", "10.0"],
            ["c1", "2024-02", "15.0"],
            ["c2", "2024-01", "20.0"],
            ["c2", "2024-02", "1.0"],
            ["c3", "2024-01", "30.0"],
            ["c3", "2024-02", "5.0"]
        ]
    );
}

/// A sorted load from before the manifest recorded its row groups' key ranges and latest time
/// gets them at the next ingest, equal to what a load records now.
#[test]
fn ingest_records_the_key_ranges_and_latest_time_of_older_sorted_loads() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    let cfg = cfg.to_str().unwrap();
    ingest_in_runs(&sb, &["ingest", "--config", cfg], "500");
    let wh = sb.path("target/sample-warehouse");
    let recorded = manifest(&wh);
    let facts = |m: &serde_json::Value| {
        (
            m["tables"]["transactions"]["row_group_keys"].clone(),
            m["tables"]["transactions"]["latest_ts"].clone(),
        )
    };
    assert!(row_group_keys(&recorded).len() > 10);
    let mut older = recorded.clone();
    for field in ["row_group_keys", "latest_ts"] {
        older["tables"]["transactions"]
            .as_object_mut()
            .unwrap()
            .remove(field);
    }
    std::fs::write(
        wh.join("manifest.json"),
        serde_json::to_string_pretty(&older).unwrap(),
    )
    .unwrap();
    sb.ok(&["ingest", "--config", cfg]);
    let again = manifest(&wh);
    assert_eq!(facts(&again), facts(&recorded));
    assert_eq!(again["version"], recorded["version"]);
}
