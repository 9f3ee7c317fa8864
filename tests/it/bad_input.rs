//! The bad-input corpus (tests/data/bad/cases.toml): every file loads without a panic, with a
//! clear message naming the file where it cannot load, and every record accounted for where it
//! can. Also the cases a corpus file cannot hold: Parquet types, a FIFO, a very wide header,
//! a far-future row's effect on as_of, and the refusal of a load that rejects too much.

use std::path::Path;

use crate::common::*;

#[derive(serde::Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    file: String,
    #[serde(default = "transactions")]
    table: String,
    why: String,
    #[serde(default)]
    config: String,
    #[serde(default = "all")]
    max_reject_rate: f64,
    #[serde(default)]
    exit: i32,
    #[serde(default)]
    error: String,
    read: Option<u64>,
    loaded: Option<u64>,
    #[serde(default)]
    duplicates: u64,
    #[serde(default)]
    flagged: u64,
    #[serde(default)]
    rejected: Vec<(u64, String)>,
}

fn transactions() -> String {
    "transactions".into()
}
fn all() -> f64 {
    1.0
}

/// A config that loads `export` as source `s` into the warehouse `wh` of the sandbox.
fn config_for(sb: &Sandbox, export: &Path, table: &str, rate: f64, extra: &str) -> String {
    let text = format!(
        "[warehouse]\npath = \"wh\"\n\n[sources.s]\npath = {:?}\ntable = \"{table}\"\nmax_reject_rate = {rate}\n{extra}\n",
        export.to_str().unwrap()
    );
    sb.write("crm.toml", &text).to_str().unwrap().to_string()
}

#[test]
fn every_file_of_the_bad_input_corpus_loads_as_its_case_says() {
    let dir = repo().join("tests/data/bad");
    let corpus: Corpus =
        toml::from_str(&std::fs::read_to_string(dir.join("cases.toml")).unwrap()).unwrap();
    assert!(corpus.case.len() >= 14);
    for case in &corpus.case {
        let sb = Sandbox::new();
        let export = sb.path(&case.file);
        std::fs::copy(dir.join(&case.file), &export).unwrap();
        let cfg = config_for(
            &sb,
            &export,
            &case.table,
            case.max_reject_rate,
            &case.config,
        );
        let args = ["ingest", "--config", cfg.as_str(), "--no-quality"];
        let out = sb.cmd(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let context = format!(
            "case {} ({})\n{}",
            case.file,
            case.why,
            describe(&args, &out)
        );
        assert!(!stderr.contains("panicked"), "{context}");
        assert_eq!(out.status.code(), Some(case.exit), "{context}");
        if case.exit != 0 {
            assert!(stderr.contains(&case.error), "{context}");
            assert!(
                stderr.contains(&case.file),
                "the message names the file\n{context}"
            );
            // Nothing was committed and nothing of the load is left behind.
            assert!(!sb.path("wh/manifest.json").exists(), "{context}");
            let left: Vec<_> = files_under(&sb.path("wh"))
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect();
            assert!(left.is_empty(), "{left:?}\n{context}");
            continue;
        }
        let m = manifest(&sb.path("wh"));
        let f = &m["loads"].as_array().unwrap().last().unwrap()["files"][0];
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(n("read"), case.read.unwrap(), "{context}");
        assert_eq!(n("loaded"), case.loaded.unwrap(), "{context}");
        assert_eq!(n("duplicates"), case.duplicates, "{context}");
        assert_eq!(n("flagged"), case.flagged, "{context}");
        assert_eq!(n("rejected"), case.rejected.len() as u64, "{context}");
        assert_eq!(
            n("read"),
            n("loaded") + n("rejected") + n("duplicates"),
            "{context}"
        );
        let rows = sb.csv(
            Path::new(&cfg),
            "select record_number, reason, source_file from rejects where not kept order by record_number",
            &[],
        );
        let got: Vec<(u64, String)> = rows[1..]
            .iter()
            .map(|r| (r[0].parse().unwrap(), r[1].clone()))
            .collect();
        assert_eq!(got.len(), case.rejected.len(), "{got:?}\n{context}");
        for ((number, reason), (want_number, want_kind)) in got.iter().zip(&case.rejected) {
            assert_eq!(number, want_number, "{got:?}\n{context}");
            assert!(reason.starts_with(want_kind.as_str()), "{got:?}\n{context}");
        }
        for r in &rows[1..] {
            assert!(r[2].ends_with(&case.file), "{r:?}\n{context}");
        }
    }
}

/// A transactions export as Parquet, written by `crm query` from SQL (arrow types as given).
fn parquet_export(sb: &Sandbox, name: &str, sql: &str) -> std::path::PathBuf {
    // Any warehouse will do for a query that reads no table.
    sb.write(
        "seed/orders.csv",
        "transaction_id,customer_id,ts,amount\nT0,C0,2024-01-01,1.00\n",
    );
    sb.write(
        "seed/crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"orders.csv\"\n",
    );
    sb.ok(&["ingest", "--config", "seed/crm.toml", "--no-quality"]);
    let out = sb.path(name);
    sb.ok(&[
        "query",
        "--config",
        "seed/crm.toml",
        "--format",
        "parquet",
        "--out",
        out.to_str().unwrap(),
        "--sql",
        sql,
    ]);
    out
}

#[test]
fn parquet_decimals_load_exactly_and_lists_and_structs_do_not_stop_the_load() {
    let sb = Sandbox::new();
    let export = parquet_export(
        &sb,
        "dec.parquet",
        "select * from (values \
           ('D1', 'C001', cast('2024-01-05' as date), arrow_cast(12.34, 'Decimal128(10,2)'), arrow_cast(0.5, 'Decimal128(5,3)'), make_array(1, 2), named_struct('a', 1, 'b', 'x')), \
           ('D2', 'C002', cast('2024-01-06' as date), arrow_cast(-3.10, 'Decimal128(10,2)'), arrow_cast(1.25, 'Decimal128(5,3)'), make_array(3), named_struct('a', 2, 'b', 'y'))) \
         as t(transaction_id, customer_id, ts, amount, discount, tags, meta)",
    );
    let cfg = config_for(&sb, &export, "transactions", 0.1, "");
    let out = sb.ok(&["ingest", "--config", &cfg, "--no-quality"]);
    assert!(out.contains("read 2 = loaded 2 + rejected 0"), "{out}");
    let rows = sb.csv(
        Path::new(&cfg),
        "select transaction_id, amount, attributes from transactions order by transaction_id",
        &[],
    );
    assert_eq!(rows[1][0], "D1");
    assert_eq!(rows[1][1], "12.34");
    assert_eq!(rows[2][1], "-3.1");
    // The unmapped columns are kept, whatever their type.
    assert!(rows[1][2].contains("\"discount\":\"0.500\""), "{rows:?}");
    assert!(rows[1][2].contains("\"tags\":\"[1, 2]\""), "{rows:?}");
    assert!(rows[1][2].contains("\"meta\""), "{rows:?}");

    // A list where the amount should be: each record rejected with a reason, no abort.
    let export = parquet_export(
        &sb,
        "list.parquet",
        "select 'L1' as transaction_id, 'C001' as customer_id, cast('2024-01-05' as date) as ts, make_array(1.5, 2.5) as amount",
    );
    let cfg = config_for(&sb, &export, "transactions", 1.0, "");
    let out = sb.ok(&["ingest", "--config", &cfg, "--no-quality"]);
    assert!(out.contains("read 1 = loaded 0 + rejected 1"), "{out}");
    assert!(out.contains("unparsable number in amount"), "{out}");
}

#[test]
fn a_fifo_or_a_device_as_an_export_fails_at_once_naming_it() {
    let sb = Sandbox::new();
    let fifo = sb.path("orders.csv");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let cfg = config_for(&sb, &fifo, "transactions", 0.1, "");
    // Were the FIFO opened, the command would block here for ever: nothing writes to it.
    let err = sb.fails(&["ingest", "--config", &cfg]);
    assert!(err.contains("orders.csv"), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let cfg = config_for(&sb, Path::new("/dev/zero"), "transactions", 0.1, "");
    let err = sb.fails(&["ingest", "--config", &cfg]);
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file"),
        "{err}"
    );
}

#[test]
fn a_header_of_100k_columns_loads_its_row() {
    let sb = Sandbox::new();
    let mut header = String::from("transaction_id,customer_id,ts,amount");
    let mut row = String::from("T1,C1,2024-01-05,1.00");
    for _ in 0..100_000 {
        header.push(',');
        row.push_str(",x");
    }
    let export = sb.write("wide.csv", &format!("{header}\n{row}\n"));
    let cfg = config_for(&sb, &export, "transactions", 0.1, "");
    let out = sb.ok(&["ingest", "--config", &cfg, "--no-quality"]);
    assert!(out.contains("read 1 = loaded 1 + rejected 0"), "{out}");
}

#[test]
fn a_far_future_row_is_rejected_and_as_of_stays_at_the_data() {
    let sb = Sandbox::new();
    let export = sb.write(
        "orders.csv",
        "transaction_id,customer_id,ts,amount\nT1,C1,2024-01-05,10.00\nT2,C2,2024-03-10,5.00\nT3,C2,9999-12-31,7.00\n",
    );
    let cfg = config_for(&sb, &export, "transactions", 0.5, "");
    let out = sb.ok(&["ingest", "--config", &cfg, "--no-quality"]);
    assert!(out.contains("rejected 1"), "{out}");
    let rows = sb.csv(Path::new(&cfg), "select as_of_date from params", &[]);
    assert_eq!(rows[1][0], "2024-03-11");
}

#[test]
fn a_load_that_rejects_too_much_is_refused_with_status_3_and_its_reasons() {
    let sb = Sandbox::new();
    let good = sb.write(
        "orders.csv",
        "transaction_id,customer_id,ts,amount\nT1,C1,2024-01-05,10.00\nT2,C2,2024-01-06,5.00\n",
    );
    let cfg = config_for(&sb, &good, "transactions", 0.1, "");
    sb.ok(&["ingest", "--config", &cfg, "--no-quality"]);
    let before = std::fs::read_to_string(sb.path("wh/manifest.json")).unwrap();
    // The next night's export changed its date format: 3 of 4 records rejected.
    sb.write(
        "orders.csv",
        "transaction_id,customer_id,ts,amount\nT3,C1,01/02/2024,10.00\nT4,C2,02/02/2024,5.00\nT5,C3,2024-02-03,abc\nT6,C3,2024-02-03,1.00\n",
    );
    for command in ["ingest", "run"] {
        let args = [command, "--config", cfg.as_str()];
        let out = sb.cmd(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{}", describe(&args, &out));
        assert!(
            err.contains("orders.csv: 3 of 4 records rejected (75.0%)"),
            "{err}"
        );
        assert!(err.contains("max_reject_rate = 10%"), "{err}");
        assert!(err.contains("warehouse stays at version 1"), "{err}");
        // The top reasons, the most frequent first, each with its first record and value.
        let date = err.find("2  unparsable date in ts").expect(&err);
        let number = err.find("1  unparsable number in amount").expect(&err);
        assert!(date < number, "{err}");
        assert!(
            err.contains("first: record 2: unparsable date in ts: \"01/02/2024\""),
            "{err}"
        );
        assert!(
            err.contains("first: record 4: unparsable number in amount: \"abc\""),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(sb.path("wh/manifest.json")).unwrap(),
            before
        );
    }
    // No report was written for the refused night.
    assert!(!sb.path("reports").exists());
    // With the rate raised, the same export loads and its rejects are kept.
    let cfg = config_for(&sb, &good, "transactions", 0.8, "");
    let out = sb.ok(&["ingest", "--config", &cfg, "--no-quality"]);
    assert!(out.contains("read 4 = loaded 1 + rejected 3"), "{out}");
}

#[test]
fn usage_errors_exit_with_status_2() {
    let sb = Sandbox::new();
    let out = sb
        .cmd(&[
            "rfm",
            "--warehouse",
            "wh",
            "--memory-limit",
            "99999999999999999999999GiB",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than any machine"));
    let out = sb.cmd(&["rfm", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A symbolic link planted where crm writes a file (quality.csv beside the warehouse) is
/// replaced, never written through: ingest once overwrote a file outside the warehouse so.
#[test]
fn a_symbolic_link_at_an_output_name_is_replaced_not_followed() {
    let sb = Sandbox::new();
    let export = sb.write(
        "orders.csv",
        "transaction_id,customer_id,ts,amount\nT1,C1,2024-01-05,10.00\n",
    );
    let cfg = config_for(&sb, &export, "transactions", 0.1, "");
    let outside = sb.write("precious.txt", "not crm's to write\n");
    std::fs::create_dir_all(sb.path("wh")).unwrap();
    std::os::unix::fs::symlink(&outside, sb.path("wh/quality.csv")).unwrap();
    sb.ok(&["ingest", "--config", &cfg]);
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "not crm's to write\n"
    );
    let meta = std::fs::symlink_metadata(sb.path("wh/quality.csv")).unwrap();
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert!(
        std::fs::read_to_string(sb.path("wh/quality.csv"))
            .unwrap()
            .starts_with("table_name")
    );
}
