//! The experiment behind BENCHMARKS.md's "sorted layout" figures: the RFM core (purchase
//! orders per customer, then per-customer sums) over one Parquet file, timed in DataFusion with
//! and without the file's sort order declared, at a chosen number of target partitions.
//!
//!     cargo run --release --example sorted_groupby -- FILE.parquet [QUERY...]
//!
//! Environment: `SORTED=1` declares the file sorted by (customer_key, order_key), so DataFusion
//! can aggregate as the rows stream by; `TP=n` sets target partitions (default 2). QUERY picks
//! among `orders_then_customers` (the shape of queries/marts/customer_rfm_inputs.sql) and
//! `count_distinct` (one group-by with count(distinct order_key)); default both. The file needs
//! the columns customer_key, order_key, amount and ts, as the warehouse's transaction files have.
//! Not part of crm: the experiment that led to sorting each load (src/ingest/sort.rs) and to
//! streaming the RFM inputs as one partition (src/engine.rs, STREAMED_MARTS). `EXTRA=k=v,...`
//! sets further DataFusion options and `EXPLAIN=1` prints the plans.

use std::time::Instant;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::*;

const QUERIES: [(&str, &str); 2] = [
    (
        "orders_then_customers",
        "select count(*), sum(n) from (
            select customer_key, count(case when hp then 1 end) as n, sum(net), max(m), sum(g)
            from (
                select customer_key, order_key, bool_or(amount > 0) as hp, sum(amount) as net,
                    max(case when amount > 0 then ts end) as m,
                    sum(case when amount > 0 then amount else 0 end) as g
                from t group by 1, 2
            ) group by 1
        )",
    ),
    (
        "count_distinct",
        "select count(*), sum(n) from (
            select customer_key, count(distinct case when amount > 0 then order_key end) as n,
                sum(amount), max(ts)
            from t group by 1
        )",
    ),
];

#[tokio::main]
async fn main() -> datafusion::error::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: sorted_groupby FILE.parquet [QUERY...]");
    let which: Vec<String> = args.collect();
    let partitions = std::env::var("TP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let config = SessionConfig::new()
        .with_target_partitions(partitions)
        .set_str(
            "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
            "0.5",
        );
    let mut config = config;
    // EXTRA="key=value,key=value": further DataFusion settings to try.
    if let Ok(extra) = std::env::var("EXTRA") {
        for kv in extra.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').expect("key=value");
            config = config.set_str(k, v);
        }
    }
    let ctx = SessionContext::new_with_config(config);
    let mut options = ParquetReadOptions::default();
    if std::env::var("SORTED").is_ok() {
        options = options.file_sort_order(vec![vec![
            col("customer_key").sort(true, false),
            col("order_key").sort(true, false),
        ]]);
    }
    ctx.register_parquet("t", &path, options).await?;
    if std::env::var("EXPLAIN").is_ok() {
        for (name, sql) in QUERIES {
            let plan = ctx.sql(&format!("explain {sql}")).await?.collect().await?;
            println!("{name}\n{}", pretty_format_batches(&plan)?);
        }
    }
    for (name, sql) in QUERIES {
        if !which.is_empty() && !which.iter().any(|w| w == name) {
            continue;
        }
        let start = Instant::now();
        let batches = ctx.sql(sql).await?.collect().await?;
        let answer = pretty_format_batches(&batches)?.to_string();
        let row = answer.lines().nth(3).unwrap_or_default().to_string();
        println!("{name}: {:.2} s {row}", start.elapsed().as_secs_f64());
    }
    Ok(())
}
