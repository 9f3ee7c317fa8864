//! The CSV load: 500k order lines in the benchmark export's shape (semicolons, European
//! timestamps, an unmapped column kept as attributes) into an empty warehouse, the whole of
//! `crm ingest --no-quality`: cutting, parsing, record hashes, the duplicate check, Parquet.
//! A second case puts an inch mark in an unquoted field on the first line, so that the whole
//! file is cut by csv-core's state machine instead of by counting quotes.
//!
//! Run: `cargo bench --bench ingest` (criterion reports the time per load).

use std::fmt::Write as _;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crm::config::Config;
use crm::ingest::{IngestOptions, ingest};

const LINES: usize = 500_000;

fn export(stray_quote: bool) -> String {
    let mut out = String::from(
        "Order ID;Line ID;Customer ID;Order Date;SKU;Category;Qty;Total;Currency;Sales Channel;Store;Coupon\n",
    );
    for i in 0..LINES {
        let customer = i / 100;
        let order = i / 3;
        let note = if stray_quote && i == 0 {
            "12\" off"
        } else if i % 7 == 0 {
            "SPRING"
        } else {
            ""
        };
        writeln!(
            out,
            "SO-{customer}-{order};SO-{customer}-{order}-{};C{customer:07};{:02}.{:02}.2024 {:02}:{:02};SKU-{:04};{};{};{}.{:02};EUR;{};{};{note}",
            i % 3 + 1,
            i % 28 + 1,
            i % 12 + 1,
            i % 24,
            i % 60,
            i % 997,
            ["Books", "Garden", "Toys", "Music"][i % 4],
            i % 3 + 1,
            i % 200 + 1,
            i % 100,
            ["web", "store", "app"][i % 3],
            if i % 3 == 1 { "ST-01" } else { "" },
        )
        .unwrap();
    }
    out
}

fn config(dir: &Path) -> Config {
    let toml = format!(
        r#"[warehouse]
path = "{}"

[sources.transactions]
path = "orders.csv"
format = "csv"
delimiter = ";"
timestamp_format = "%d.%m.%Y %H:%M"

[sources.transactions.columns]
transaction_id = "Line ID"
order_id = "Order ID"
customer_id = "Customer ID"
ts = "Order Date"
amount = "Total"
currency = "Currency"
quantity = "Qty"
product_id = "SKU"
product_category = "Category"
channel = "Sales Channel"
store_id = "Store"
"#,
        dir.join("warehouse").display()
    );
    let path = dir.join("crm.toml");
    std::fs::write(&path, &toml).unwrap();
    Config::load(&path).expect("bench config")
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(LINES as u64));
    for (name, stray) in [
        ("csv_500k_lines", false),
        ("csv_500k_lines_cut_by_csv_core", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("orders.csv"), export(stray)).unwrap();
        let config = config(dir.path());
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let _ = std::fs::remove_dir_all(dir.path().join("warehouse"));
                let report = ingest(&config, &IngestOptions { force: true }).expect("load");
                assert_eq!(report.files[0].loaded, LINES as u64);
                report
            })
        });
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
