//! DATA-CONTRACT.md "Privacy": nothing under the report folder, and nothing `crm` prints, holds
//! a personal field or a raw record, with pseudonymisation on or off; with it on, the warehouse
//! holds none in clear either, rejects included.

use std::path::Path;

use crate::common::*;

/// The sample's e-mail addresses, phone numbers and full names, from its customers export
/// (columns Email, Phone, Full Name), the well-formed lines and the ragged ones alike.
fn personal_values() -> Vec<String> {
    let bytes = std::fs::read(repo().join("sample-data/customers.csv")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let mut values = Vec::new();
    for line in text.lines().skip(1) {
        // Split by hand: ragged lines are part of the point.
        for field in line.split(',') {
            let f = field.trim_matches('"').trim();
            let email = f.contains('@');
            let phone = f.starts_with('+') && f.chars().filter(char::is_ascii_digit).count() >= 8;
            // Full names: two or more capitalised words, no digits (cities are excluded below).
            let name = f.split(' ').count() >= 2
                && f.split(' ')
                    .all(|w| w.chars().next().is_some_and(char::is_uppercase))
                && !f.chars().any(|c| c.is_ascii_digit());
            if email || phone || name {
                values.push(f.to_string());
            }
        }
    }
    // Place names have the shape of a full name: they are not personal.
    let places: std::collections::HashSet<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() == 16).then(|| [f[7].to_string(), f[8].to_string(), f[12].to_string()])
        })
        .flatten()
        .collect();
    values.retain(|v| !places.contains(v));
    values.sort();
    values.dedup();
    values
}

/// A file's text as a reader of it would get it: Parquet decoded to its values, anything else
/// as its bytes (SVG, HTML, CSV, JSON; a PNG's text chunks).
fn readable_text(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "parquet") {
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        return datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
    }
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

fn assert_no_personal_data(what: &str, text: &str, values: &[String]) {
    for v in values {
        assert!(
            !text.contains(v.as_str()),
            "{what} holds the personal value {v:?}"
        );
    }
}

fn run_and_check(pseudonymise: bool) {
    let values = personal_values();
    // The detector finds what it must: e-mails, phones and names of hundreds of customers.
    assert!(values.len() > 3000, "{}", values.len());
    assert!(values.iter().any(|v| v == "rosa.wilson0@example.com"));
    assert!(values.iter().any(|v| v == "+31 555 0236 835"));
    assert!(values.iter().any(|v| v == "Rosa Wilson"));

    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    if pseudonymise {
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "# [privacy]\n# pseudonymize = [\"email\", \"phone\", \"name\"]",
            "[privacy]\npseudonymize = [\"email\", \"phone\", \"name\"]",
        );
        assert!(text.contains("\n[privacy]\n"));
        std::fs::write(&cfg, text).unwrap();
    }
    let cfg_s = cfg.to_str().unwrap();
    let args = ["run", "--config", cfg_s, "--out", "reports"];
    let out = sb
        .cmd(&args)
        .env("CRM_PSEUDONYM_KEY", "a-test-key-of-32-characters-0123")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&args, &out));
    // The log a cron job keeps: everything the run printed.
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_personal_data("the run's output", &log, &values);

    let files = files_under(&sb.path("reports"));
    assert!(files.len() > 40, "{files:?}");
    for kind in ["csv", "parquet", "svg", "png", "html", "json"] {
        assert!(
            files
                .iter()
                .any(|f| f.extension().is_some_and(|e| e == kind)),
            "no {kind} file in the report"
        );
    }
    for f in &files {
        assert_no_personal_data(&f.display().to_string(), &readable_text(f), &values);
    }
    // The report's rejects say where and why, not what.
    let rejects = std::fs::read_to_string(sb.path("reports/2025-01-01/rejects.csv")).unwrap();
    assert!(
        rejects.starts_with("table,source_file,record_number,reason,kept\n"),
        "{rejects}"
    );
    assert!(rejects.lines().count() > 700, "every reject is listed");
    // quality.csv beside the warehouse is a report too.
    let quality = sb.path("target/sample-warehouse/quality.csv");
    assert_no_personal_data("quality.csv", &readable_text(&quality), &values);

    if pseudonymise {
        // The warehouse itself: customers and every reject's raw record, ragged lines included.
        for f in files_under(&sb.path("target/sample-warehouse"))
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        {
            assert_no_personal_data(&f.display().to_string(), &readable_text(f), &values);
        }
    } else {
        // Without pseudonymisation the warehouse's rejects keep the records as they came.
        let raw = sb.csv(
            &cfg,
            "select raw_record from rejects where \"table\" = 'customers' and reason like 'wrong field count%'",
            &[],
        );
        assert!(raw[1..].iter().any(|r| r[0].contains('@')), "{raw:?}");
    }
}

#[test]
fn no_personal_field_leaves_the_warehouse_without_pseudonymisation() {
    run_and_check(false);
}

#[test]
fn no_personal_field_is_kept_anywhere_in_clear_with_pseudonymisation() {
    run_and_check(true);
}

#[test]
fn a_key_of_spaces_is_refused() {
    let sb = Sandbox::new();
    sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[privacy]\npseudonymize = [\"email\"]\n[sources.customers]\npath = \"c.csv\"\n",
    );
    sb.write("c.csv", "customer_id,email\nc1,a@example.com\n");
    for key in [
        " ".repeat(16),
        format!("{}abc", " ".repeat(20)),
        "short-key-15chr".into(),
    ] {
        let out = sb
            .cmd(&["ingest"])
            .env("CRM_PSEUDONYM_KEY", &key)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("at least 16 characters other than spaces"),
            "{err}"
        );
    }
    let out = sb
        .cmd(&["ingest"])
        .env("CRM_PSEUDONYM_KEY", "sixteen-chars-ok")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&["ingest"], &out));
}
