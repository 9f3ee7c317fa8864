//! Source kinds beyond one delimited file: whitespace-aligned text. Each loads through the config
//! alone, keeps read = loaded + rejected + duplicates, and gives the same analyses as the same
//! rows from CSV.

use std::path::Path;

use crate::common::*;

/// The loaded transactions, in id order, as `crm query` prints them.
fn transactions_of(sb: &Sandbox, cfg: &Path) -> Vec<Vec<String>> {
    sb.csv(
        cfg,
        "select transaction_id, customer_id, ts, amount, product_category from transactions order by transaction_id",
        &[],
    )
}

/// `crm rfm` as CSV for a config and as_of.
fn rfm_of(sb: &Sandbox, cfg: &Path, as_of: &str) -> String {
    sb.ok(&[
        "rfm",
        "--config",
        cfg.to_str().unwrap(),
        "--as-of",
        as_of,
        "--format",
        "csv",
    ])
}

/// CDNOW's original `CDNOW_master.txt` layout, written from the CSV the repository carries:
/// fields aligned by runs of spaces, leading spaces, dates as yyyymmdd, CRLF line ends, no
/// header. Loaded through `delimiter = "whitespace"` and a mapping, its RFM table is the CSV's,
/// byte for byte.
#[test]
fn cdnow_in_its_original_whitespace_layout_loads_through_the_config_and_matches_the_csv() {
    let sb = Sandbox::new();
    let csv = std::fs::read_to_string(cdnow("cdnow_master.csv")).unwrap();
    let mut txt = String::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let amount: f64 = f[3].parse().unwrap();
        txt.push_str(&format!(
            "{:>6} {} {:>2} {:>7.2}\r\n",
            f[0],
            f[1].replace('-', ""),
            f[2],
            amount
        ));
    }
    assert!(
        txt.starts_with("     1 19970101  1   11.77\r\n"),
        "{}",
        &txt[..40]
    );
    sb.write("CDNOW_master.txt", &txt);
    let cfg_txt = sb.write(
        "txt.toml",
        "[warehouse]\npath = \"wh-txt\"\n\
         [sources.transactions]\npath = \"CDNOW_master.txt\"\ndelimiter = \"whitespace\"\n\
         has_header = false\ntimestamp_format = \"%Y%m%d\"\n\
         [sources.transactions.columns]\ncustomer_id = \"column_1\"\nts = \"column_2\"\n\
         quantity = \"column_3\"\namount = \"column_4\"\n",
    );
    let cfg_csv = sb.write(
        "csv.toml",
        &format!(
            "[warehouse]\npath = \"wh-csv\"\n[sources.transactions]\npath = {:?}\n\
             [sources.transactions.columns]\nts = \"date\"\n",
            cdnow("cdnow_master.csv").to_str().unwrap()
        ),
    );
    let out = sb.ok(&["ingest", "--config", cfg_txt.to_str().unwrap()]);
    assert!(
        out.contains("transactions: read 69659 = loaded 69659 + rejected 0 + duplicates 0"),
        "{out}"
    );
    sb.ok(&["ingest", "--config", cfg_csv.to_str().unwrap()]);
    let (from_txt, from_csv) = (
        rfm_of(&sb, &cfg_txt, "1998-07-01"),
        rfm_of(&sb, &cfg_csv, "1998-07-01"),
    );
    assert_eq!(from_txt.lines().count(), 23502 + 1);
    assert!(from_txt == from_csv, "the RFM tables differ");
}

/// A line with a field too few or too many is rejected with its line number, counted, and the
/// rest loads; blank lines are not records.
#[test]
fn a_ragged_whitespace_line_is_rejected_with_its_line_number() {
    let sb = Sandbox::new();
    sb.write(
        "orders.txt",
        "id customer_id ts amount\n\
         \n\
         t1   c1   2024-01-05   10.00\r\n\
         t2   c2   2024-01-06\n\
         \t t3 c1 2024-02-01 5.50 extra\n\
         t4 c3 2024-02-03 7.25\n",
    );
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = \"orders.txt\"\n\
         delimiter = \"whitespace\"\nmax_reject_rate = 0.9\n\
         [sources.transactions.columns]\ntransaction_id = \"id\"\n",
    );
    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("transactions: read 4 = loaded 2 + rejected 2 + duplicates 0"),
        "{out}"
    );
    let rows = sb.csv(
        &cfg,
        "select record_number, reason from rejects where not kept order by record_number",
        &[],
    );
    assert_eq!(rows[1][0], "4");
    assert_eq!(rows[1][1], "wrong field count: expected 4, found 3");
    assert_eq!(rows[2][0], "5");
    assert_eq!(rows[2][1], "wrong field count: expected 4, found 5");
    let rows = sb.csv(
        &cfg,
        "select transaction_id, amount from transactions order by 1",
        &[],
    );
    assert_eq!(
        rows[1..],
        [["t1", "10.0"], ["t4", "7.25"]].map(|r| r.map(str::to_string).to_vec())
    );
}

/// A folder of daily drops named by a pattern: each file is fingerprinted on its own, a run
/// loads only the new day's file, a bad record's reject names its file and line, and a file
/// that vanished is reported while its rows stay.
#[test]
fn a_pattern_of_daily_exports_loads_each_new_file_once_and_reports_a_vanished_one() {
    let sb = Sandbox::new();
    let header = "transaction_id,customer_id,ts,amount\n";
    sb.write(
        "exports/orders-2024-12-05.csv",
        &format!("{header}a1,c1,2024-12-05T09:00:00Z,10\na2,c2,2024-12-05T10:00:00Z,20\na3,c1,2024-12-05T11:00:00Z,5\n"),
    );
    sb.write(
        "exports/orders-2024-12-06.csv",
        &format!("{header}b1,c3,2024-12-06T09:00:00Z,7\nb2,c1,2024-12-06T10:00:00Z,8\n"),
    );
    sb.write("exports/.orders-2024-12-07.csv.part", "half a file");
    let cfg = sb.write(
        "crm.toml",
        "[warehouse]\npath = \"wh\"\n[sources.orders]\ntable = \"transactions\"\n\
         path = \"exports/orders-*.csv\"\nmax_reject_rate = 0.5\n",
    );
    let count = || sb.csv(&cfg, "select count(*) from transactions", &[])[1][0].clone();

    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("orders/orders-2024-12-05.csv: read 3 = loaded 3 + rejected 0 + duplicates 0"),
        "{out}"
    );
    assert!(
        out.contains("orders/orders-2024-12-06.csv: read 2 = loaded 2 + rejected 0 + duplicates 0"),
        "{out}"
    );
    assert_eq!(count(), "5");

    // Nothing new: both files skipped, nothing loaded twice.
    let out = sb.ok(&["ingest"]);
    assert!(!out.contains(": read "), "{out}");
    assert_eq!(out.matches("(unchanged, skipped)").count(), 2, "{out}");
    assert_eq!(count(), "5");

    // The next day's drop, with one bad amount on its line 3: only that file is read.
    sb.write(
        "exports/orders-2024-12-07.csv",
        &format!("{header}c1,c2,2024-12-07T09:00:00Z,4\nc2,c3,2024-12-07T10:00:00Z,abc\nc3,c1,2024-12-07T11:00:00Z,6\n"),
    );
    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("orders/orders-2024-12-07.csv: read 3 = loaded 2 + rejected 1 + duplicates 0"),
        "{out}"
    );
    assert_eq!(out.matches(": read ").count(), 1, "{out}");
    assert_eq!(count(), "7");
    let rows = sb.csv(
        &cfg,
        "select record_number, reason, source_file from rejects",
        &[],
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], "3");
    assert!(
        rows[1][1].starts_with("unparsable number in amount"),
        "{rows:?}"
    );
    assert!(rows[1][2].ends_with("orders-2024-12-07.csv"), "{rows:?}");

    // A day's file removed from the folder: reported, its rows kept.
    std::fs::remove_file(sb.path("exports/orders-2024-12-05.csv")).unwrap();
    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("orders/orders-2024-12-05.csv:")
            && out.contains("is no longer there; its rows stay in the warehouse"),
        "{out}"
    );
    assert_eq!(count(), "7");

    // A pattern that matches nothing fails the run, naming the pattern.
    let cfg2 = sb.write(
        "none.toml",
        "[warehouse]\npath = \"wh2\"\n[sources.orders]\ntable = \"transactions\"\npath = \"exports/sales-*.csv\"\n",
    );
    let err = sb.fails(&["ingest", "--config", cfg2.to_str().unwrap()]);
    assert!(
        err.contains("sales-*.csv") && err.contains("no file matches"),
        "{err}"
    );
}

fn excel(name: &str) -> std::path::PathBuf {
    repo().join("tests/data/excel").join(name)
}

const EXCEL_COLUMNS: &str = "[sources.orders.columns]\ntransaction_id = \"Order Line\"\n\
    customer_id = \"Customer\"\nts = \"Date\"\namount = \"Total\"\nproduct_category = \"Category\"\n";

/// The workbook an account manager saved (tests/data/excel/make_workbooks.py writes it from
/// orders.csv): ids typed as numbers, timestamps as Excel date cells, the data on the second
/// sheet. Loaded through `sheet` and a mapping, its rows and its RFM equal the CSV's.
#[test]
fn an_excel_workbook_loads_through_a_mapping_and_its_rfm_equals_the_csv() {
    let sb = Sandbox::new();
    let cfg_xlsx = sb.write(
        "xlsx.toml",
        &format!(
            "[warehouse]\npath = \"wh-xlsx\"\n[sources.orders]\ntable = \"transactions\"\n\
             path = {:?}\nsheet = \"Orders\"\n{EXCEL_COLUMNS}",
            excel("orders.xlsx").to_str().unwrap()
        ),
    );
    let cfg_csv = sb.write(
        "csv.toml",
        &format!(
            "[warehouse]\npath = \"wh-csv\"\n[sources.orders]\ntable = \"transactions\"\npath = {:?}\n",
            excel("orders.csv").to_str().unwrap()
        ),
    );
    let out = sb.ok(&["ingest", "--config", cfg_xlsx.to_str().unwrap()]);
    assert!(
        out.contains("orders: read 34 = loaded 34 + rejected 0 + duplicates 0"),
        "{out}"
    );
    assert!(out.contains("orders.xlsx#Orders"), "{out}");
    sb.ok(&["ingest", "--config", cfg_csv.to_str().unwrap()]);
    // A second load of the unchanged workbook adds nothing.
    let again = sb.ok(&["ingest", "--config", cfg_xlsx.to_str().unwrap()]);
    assert!(
        again.contains("(unchanged, skipped)") && !again.contains(": read "),
        "{again}"
    );

    let (from_xlsx, from_csv) = (
        transactions_of(&sb, &cfg_xlsx),
        transactions_of(&sb, &cfg_csv),
    );
    assert_eq!(from_xlsx.len(), 35);
    assert_eq!(from_xlsx, from_csv);
    let (a, b) = (
        rfm_of(&sb, &cfg_xlsx, "2025-01-01"),
        rfm_of(&sb, &cfg_csv, "2025-01-01"),
    );
    assert_eq!(a.lines().count(), 12 + 1, "{a}");
    assert!(a == b, "the RFM tables differ:\n{a}\n{b}");
}

/// Text dates parse with the source's timestamp_format beside date cells; an amount that is no
/// number and an Excel error value reject their rows, named by the sheet and the row number
/// Excel shows; a sheet that is not there fails the load, listing the sheets there are.
#[test]
fn a_bad_excel_row_is_rejected_by_sheet_and_row() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        &format!(
            "[warehouse]\npath = \"wh\"\n[sources.orders]\ntable = \"transactions\"\npath = {:?}\n\
             timestamp_format = \"%d.%m.%Y %H:%M\"\nmax_reject_rate = 0.5\n{EXCEL_COLUMNS}",
            excel("orders_bad.xlsx").to_str().unwrap()
        ),
    );
    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("orders: read 5 = loaded 3 + rejected 2 + duplicates 0"),
        "{out}"
    );
    let rejects = sb.csv(
        &cfg,
        "select record_number, reason, source_file from rejects order by record_number",
        &[],
    );
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    assert_eq!(rejects[1][0], "4");
    assert!(
        rejects[1][1].starts_with("unparsable number in amount"),
        "{rejects:?}"
    );
    assert_eq!(rejects[2][0], "5");
    assert_eq!(rejects[2][1], "Excel error value #DIV/0! in Total");
    for r in &rejects[1..] {
        assert!(r[2].ends_with("orders_bad.xlsx#Orders"), "{r:?}");
    }
    let loaded = sb.csv(
        &cfg,
        "select transaction_id, ts, amount from transactions order by 1",
        &[],
    );
    assert_eq!(loaded[1][0], "1");
    assert!(
        loaded[1][1].starts_with("2024-12-05T09:30:00"),
        "{loaded:?}"
    );
    assert_eq!(loaded[2][0], "2");
    assert!(
        loaded[2][1].starts_with("2024-12-06T14:05:00"),
        "{loaded:?}"
    );
    assert_eq!(loaded[2][2], "20.5");

    let missing = sb.write(
        "missing.toml",
        &format!(
            "[warehouse]\npath = \"wh2\"\n[sources.orders]\ntable = \"transactions\"\npath = {:?}\n\
             sheet = \"Sales\"\n{EXCEL_COLUMNS}",
            excel("orders_bad.xlsx").to_str().unwrap()
        ),
    );
    let err = sb.fails(&["ingest", "--config", missing.to_str().unwrap()]);
    assert!(
        err.contains("no sheet named \"Sales\"; the workbook has Orders"),
        "{err}"
    );
}

/// An Odoo-like `sale_order_line` in a real PostgreSQL server, filled from the same orders.csv
/// the Excel and CSV tests load.
fn odoo_lines(pg: &crate::pg::PgServer) {
    let csv = repo().join("tests/data/excel/orders.csv");
    pg.psql(
        "create table sale_order_line (id integer primary key, partner_ref varchar, \
         create_date timestamp, price_total numeric(12, 2), categ varchar, write_date timestamp)",
        &repo(),
    );
    pg.psql(
        &format!(
            "\\copy sale_order_line (id, partner_ref, create_date, price_total, categ) from '{}' csv header",
            csv.display()
        ),
        &repo(),
    );
    pg.psql(
        "update sale_order_line set write_date = '2024-12-01 00:00'",
        &repo(),
    );
}

/// The same 34 order lines from PostgreSQL (a query over an Odoo-like table, the password from
/// the environment), from CSV and from Excel: the same rows and the same RFM from all three.
/// A second load adds nothing.
#[test]
fn postgresql_csv_and_excel_give_the_same_rows_and_rfm() {
    let pg = crate::pg::PgServer::start();
    odoo_lines(&pg);
    let sb = Sandbox::new();
    let cfg_pg = sb.write(
        "pg.toml",
        &format!(
            "[warehouse]\npath = \"wh-pg\"\n[sources.orders]\ntable = \"transactions\"\nurl = {:?}\n\
             password_env = {:?}\nquery = \"select l.id as transaction_id, l.partner_ref as customer_id, \
             l.create_date as ts, l.price_total as amount, l.categ as product_category from sale_order_line l\"\n",
            pg.url(),
            crate::pg::PASSWORD_ENV
        ),
    );
    let cfg_csv = sb.write(
        "csv.toml",
        &format!(
            "[warehouse]\npath = \"wh-csv\"\n[sources.orders]\ntable = \"transactions\"\npath = {:?}\n",
            excel("orders.csv").to_str().unwrap()
        ),
    );
    let cfg_xlsx = sb.write(
        "xlsx.toml",
        &format!(
            "[warehouse]\npath = \"wh-xlsx\"\n[sources.orders]\ntable = \"transactions\"\n\
             path = {:?}\nsheet = \"Orders\"\n{EXCEL_COLUMNS}",
            excel("orders.xlsx").to_str().unwrap()
        ),
    );
    let ingest_pg =
        || crate::pg::ok_with_password(&sb, &["ingest", "--config", cfg_pg.to_str().unwrap()]);
    let out = ingest_pg();
    assert!(
        out.contains("orders: read 34 = loaded 34 + rejected 0 + duplicates 0"),
        "{out}"
    );
    assert!(!out.contains(crate::pg::PASSWORD), "{out}");
    let again = ingest_pg();
    assert!(
        again.contains("orders: read 34 = loaded 0 + rejected 0 + duplicates 34"),
        "{again}"
    );
    sb.ok(&["ingest", "--config", cfg_csv.to_str().unwrap()]);
    sb.ok(&["ingest", "--config", cfg_xlsx.to_str().unwrap()]);

    let from_csv = transactions_of(&sb, &cfg_csv);
    assert_eq!(from_csv.len(), 35);
    assert_eq!(transactions_of(&sb, &cfg_pg), from_csv);
    assert_eq!(transactions_of(&sb, &cfg_xlsx), from_csv);
    let from_csv = rfm_of(&sb, &cfg_csv, "2025-01-01");
    assert_eq!(from_csv.lines().count(), 13);
    assert!(
        rfm_of(&sb, &cfg_pg, "2025-01-01") == from_csv,
        "PostgreSQL's RFM differs from the CSV's"
    );
    assert!(
        rfm_of(&sb, &cfg_xlsx, "2025-01-01") == from_csv,
        "Excel's RFM differs from the CSV's"
    );

    // A password in the URL is refused before anything connects.
    let bad = sb.write(
        "bad.toml",
        &format!(
            "[warehouse]\npath = \"wh-bad\"\n[sources.orders]\ntable = \"transactions\"\n\
             url = \"postgresql://postgres:{}@127.0.0.1:{}/postgres\"\ndb_table = \"sale_order_line\"\n",
            crate::pg::PASSWORD,
            pg.port
        ),
    );
    let err = sb.fails(&["ingest", "--config", bad.to_str().unwrap()]);
    assert!(err.contains("holds a password"), "{err}");
}

/// `incremental_column = "write_date"`: the next load reads only the rows written since the
/// last one (the watermark in the manifest); a row without a customer is rejected with its
/// position in the result.
#[test]
fn an_incremental_postgresql_load_reads_only_the_rows_changed_since_the_last() {
    let pg = crate::pg::PgServer::start();
    odoo_lines(&pg);
    let sb = Sandbox::new();
    let cfg = sb.write(
        "crm.toml",
        &format!(
            "[warehouse]\npath = \"wh\"\n[sources.orders]\ntable = \"transactions\"\nurl = {:?}\n\
             password_env = {:?}\ndb_table = \"public.sale_order_line\"\nincremental_column = \"write_date\"\n\
             max_reject_rate = 0.5\n\
             [sources.orders.columns]\ntransaction_id = \"id\"\ncustomer_id = \"partner_ref\"\n\
             ts = \"create_date\"\namount = \"price_total\"\nproduct_category = \"categ\"\n",
            pg.url(),
            crate::pg::PASSWORD_ENV
        ),
    );
    let ingest = || crate::pg::ok_with_password(&sb, &["ingest"]);
    let out = ingest();
    assert!(
        out.contains("orders: read 34 = loaded 34 + rejected 0 + duplicates 0"),
        "{out}"
    );
    let m = manifest(&sb.path("wh"));
    assert_eq!(
        m["sources"]["orders"]["watermark"], "2024-12-01 00:00:00",
        "{m}"
    );

    pg.psql(
        "insert into sale_order_line values \
         (2001, 'C001', '2024-12-07 10:00', 12.50, 'Books', '2024-12-08 09:00'), \
         (2002, null, '2024-12-07 11:00', 3.00, 'Toys', '2024-12-08 09:05')",
        &repo(),
    );
    let out = ingest();
    assert!(
        out.contains("orders: read 2 = loaded 1 + rejected 1 + duplicates 0"),
        "{out}"
    );
    let rejects = sb.csv(
        &cfg,
        "select record_number, reason, raw_record from rejects",
        &[],
    );
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert!(
        rejects[1][1].starts_with("missing required field customer_id"),
        "{rejects:?}"
    );
    // The row's position in the result, and the table's primary key.
    assert_eq!(rejects[1][0], "2", "{rejects:?}");
    assert!(rejects[1][2].starts_with("[id=2002] 2002,,"), "{rejects:?}");
    let count = sb.csv(
        &cfg,
        "select count(*), round(sum(amount), 2) from transactions",
        &[],
    );
    let csv_total: f64 = std::fs::read_to_string(excel("orders.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(count[1][0], "35");
    assert_eq!(
        count[1][1],
        format!("{}", ((csv_total + 12.5) * 100.0).round() / 100.0)
    );

    // Nothing written since: nothing read.
    let out = ingest();
    assert!(
        out.contains("orders: read 0 = loaded 0 + rejected 0 + duplicates 0"),
        "{out}"
    );
}

/// `crm sample --postgres`: the sample written into an Odoo-like database and read back through
/// the config it writes beside the exports. Counts add up for each source, the bad rows a typed
/// database can hold are rejected with their reasons, the RFM equals the one of the same sample
/// loaded from its CSV and JSON exports, and a second load reads no order line again
/// (`incremental_column = "write_date"`).
#[test]
fn the_sample_written_into_postgresql_reads_back_to_the_rfm_of_its_exports() {
    let pg = crate::pg::PgServer::start();
    let sb = Sandbox::new();
    let url = pg.url();
    let said = crate::pg::ok_with_password(
        &sb,
        &[
            "sample",
            "--customers",
            "400",
            "--out",
            "exports",
            "--postgres",
            &url,
            "--password-env",
            crate::pg::PASSWORD_ENV,
        ],
    );
    assert!(
        said.contains("partners") && said.contains("pipeline-postgres.toml"),
        "{said}"
    );

    let cfg_pg = sb.path("exports/pipeline-postgres.toml");
    let text = std::fs::read_to_string(&cfg_pg).unwrap();
    assert!(
        text.contains(&pg.url()) && !text.contains(crate::pg::PASSWORD),
        "{text}"
    );
    let shipped = std::fs::read_to_string(repo().join("sample-data/pipeline.toml")).unwrap();
    let cfg_csv = sb.write(
        "exports/pipeline.toml",
        &shipped
            .replace("../target/sample-warehouse", "warehouse-csv")
            .replace("../target/sample-reports", "reports-csv"),
    );
    let ingest_pg = || {
        let out =
            crate::pg::crm_with_password(&sb, &["ingest", "--config", cfg_pg.to_str().unwrap()]);
        // Bad rows are rejected: ingest exits with the rejected-input status and keeps the rest.
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            said.contains("transactions: read"),
            "{}",
            describe(&["ingest"], &out)
        );
        said
    };
    let first = ingest_pg();
    for line in first.lines().filter(|l| l.contains(": read ")) {
        let n: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(n[0], n[1] + n[2] + n[3], "{line}");
    }
    let rejected = sb.csv(
        &cfg_pg,
        "select \"table\", reason from rejects order by \"table\", record_number",
        &[],
    );
    let has = |table: &str, reason: &str| {
        rejected
            .iter()
            .any(|r| r[0] == table && r[1].contains(reason))
    };
    for (table, reason) in [
        ("transactions", "missing required field ts"),
        ("transactions", "missing required field amount"),
        ("transactions", "missing required field customer_id"),
        ("customers", "missing required field customer_id"),
        ("interactions", "channel"),
    ] {
        assert!(
            has(table, reason),
            "no {table} reject for {reason}: {rejected:?}"
        );
    }

    let _ = sb
        .cmd(&["ingest", "--config", cfg_csv.to_str().unwrap()])
        .output()
        .unwrap();
    let from_csv = rfm_of(&sb, &cfg_csv, "2025-01-01");
    assert!(from_csv.lines().count() > 300, "{from_csv}");
    assert!(
        rfm_of(&sb, &cfg_pg, "2025-01-01") == from_csv,
        "the database's RFM differs from the exports'"
    );

    let again = ingest_pg();
    assert!(
        again.contains("transactions: read 0 = loaded 0 + rejected 0 + duplicates 0"),
        "{again}"
    );
}
