//! `crm sample`: deterministic, realistic exports.

use crate::common::*;

fn read_all(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// A Parquet file's rows and the rows of each of its row groups.
fn read_parquet(p: &std::path::Path) -> (polars::prelude::DataFrame, Vec<usize>) {
    use polars::prelude::*;
    let mut reader = ParquetReader::new(std::fs::File::open(p).unwrap());
    let groups = reader
        .get_metadata()
        .unwrap()
        .row_groups
        .iter()
        .map(|g| g.num_rows())
        .collect();
    (reader.finish().unwrap(), groups)
}

#[test]
fn the_same_seed_writes_the_same_files_and_another_seed_does_not() {
    let sb = Sandbox::new();
    sb.ok(&["sample", "--customers", "150", "--seed", "7", "--out", "a"]);
    sb.ok(&["sample", "--customers", "150", "--seed", "7", "--out", "b"]);
    sb.ok(&["sample", "--customers", "150", "--seed", "8", "--out", "c"]);
    for f in ["customers.csv", "orders.csv.gz", "interactions.jsonl.gz"] {
        assert_eq!(
            read_all(&sb.path("a").join(f)),
            read_all(&sb.path("b").join(f)),
            "{f}"
        );
        assert_ne!(
            read_all(&sb.path("a").join(f)),
            read_all(&sb.path("c").join(f)),
            "{f}"
        );
    }
}

#[test]
fn the_shipped_sample_is_what_its_readme_says() {
    let sb = Sandbox::new();
    sb.ok(&[
        "sample",
        "--customers",
        "2000",
        "--seed",
        "42",
        "--out",
        "fresh",
    ]);
    for f in ["customers.csv", "orders.csv.gz", "interactions.jsonl.gz"] {
        assert_eq!(
            read_all(&sb.path("fresh").join(f)),
            read_all(&repo().join("sample-data").join(f)),
            "{f}: regenerate with the command in sample-data/README.md"
        );
    }
}

#[test]
fn generated_data_carries_the_structure_the_analyses_look_for() {
    let sb = Sandbox::new();
    sb.ok(&[
        "sample",
        "--customers",
        "1500",
        "--seed",
        "3",
        "--out",
        "s",
        "--bad-rows",
        "0",
    ]);
    let cfg = std::fs::read_to_string(repo().join("sample-data/pipeline.toml")).unwrap();
    let cfg = sb.write(
        "s/pipeline.toml",
        &cfg.replace("../target/sample-warehouse", "wh"),
    );
    let out = sb.ok(&["ingest", "--config", cfg.to_str().unwrap()]);
    assert!(out.contains("rejected 0"), "{out}");
    let one = |sql: &str| -> f64 { sb.csv(&cfg, sql, &[])[1][0].parse().unwrap() };
    // Refunds: a few percent of transactions are negative.
    let refunds = one("select avg(case when amount < 0 then 1.0 else 0.0 end) from transactions");
    assert!((0.01..0.08).contains(&refunds), "refund share {refunds}");
    // Repeat buyers: a real share buy more than once, and rates are heterogeneous.
    let repeat = one("select avg(case when frequency > 1 then 1.0 else 0.0 end) from rfm");
    assert!((0.3..0.9).contains(&repeat), "repeat share {repeat}");
    let heavy = one("select avg(case when frequency >= 8 then 1.0 else 0.0 end) from rfm");
    assert!(heavy > 0.03, "heavy buyers {heavy}");
    // Yearly season: December sells more than February; weekly: Saturday more than Tuesday.
    let dec_feb = one(
        "select sum(case when date_part('month', local_at) = 12 then amount end) / sum(case when date_part('month', local_at) = 2 then amount end) from stg_transactions",
    );
    assert!(dec_feb > 1.3, "December/February {dec_feb}");
    let sat_tue = one(
        "select sum(case when extract(dow from local_at) = 6 then 1 end) * 1.0 / sum(case when extract(dow from local_at) = 2 then 1 end) from stg_transactions",
    );
    assert!(sat_tue > 1.15, "Saturday/Tuesday {sat_tue}");
    // Trend: the second year sells more than the first.
    let trend = one(
        "select sum(case when date_part('year', local_at) = 2024 then amount end) / sum(case when date_part('year', local_at) = 2023 then amount end) from stg_transactions",
    );
    assert!(trend > 1.2, "year over year {trend}");
    // Co-purchase affinity: Electronics buyers buy Accessories far more often than Garden.
    let lift = one("with c as (select customer_id, \
            max(case when product_category = 'Electronics' then 1 else 0 end) as el, \
            max(case when product_category = 'Accessories' then 1 else 0 end) as ac, \
            max(case when product_category = 'Garden' then 1 else 0 end) as gd \
            from transactions group by customer_id) \
         select (sum(el * ac) * 1.0 / sum(ac)) / (sum(el * gd) * 1.0 / sum(gd)) from c");
    assert!(lift > 1.5, "affinity {lift}");
    // Interactions of every kind, campaign funnels that narrow, tickets with resolution times.
    let kinds = sb.csv(
        &cfg,
        "select kind, count(*) from interactions group by kind order by kind",
        &[],
    );
    let count = |k: &str| {
        kinds
            .iter()
            .find(|r| r[0] == k)
            .map(|r| r[1].parse::<u64>().unwrap())
            .unwrap_or(0)
    };
    assert!(
        count("campaign_sent") > count("campaign_open")
            && count("campaign_open") > count("campaign_click")
            && count("campaign_click") > 0
    );
    assert!(count("ticket") > 0 && count("survey") > 0);
    let resolved =
        one("select count(*) from interactions where kind = 'ticket' and resolved_ts > ts");
    assert!(resolved > 0.0);
    let nps = one("select count(*) from interactions where nps is not null");
    let csat = one("select count(*) from interactions where csat between 1 and 5");
    assert!(nps > 0.0 && csat > 0.0);
    // Demographic and geographic attributes are filled in.
    let filled = one(
        "select avg(case when country is not null and city is not null and birth_date is not null and income_band is not null and acquisition_channel is not null then 1.0 else 0.0 end) from customers",
    );
    assert!(filled > 0.99, "{filled}");
}

/// `--order time` writes the same order lines as the default export grouped by customer, by
/// order time (lines of one minute in the order they were drawn), and the other files unchanged;
/// both exports load to the same warehouse and the same answers.
#[test]
fn the_time_ordered_export_holds_the_same_lines_by_time_and_loads_to_the_same_answers() {
    let sb = Sandbox::new();
    let args = |order: &'static str, out: &'static str| {
        vec![
            "sample",
            "--customers",
            "300",
            "--order",
            order,
            "--out",
            out,
        ]
    };
    sb.ok(&args("customer", "g"));
    sb.ok(&args("time", "t"));
    for f in ["customers.csv", "interactions.jsonl.gz"] {
        assert_eq!(
            read_all(&sb.path("g").join(f)),
            read_all(&sb.path("t").join(f)),
            "{f}"
        );
    }
    let lines = |dir: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(
                std::fs::File::open(sb.path(dir).join("orders.csv.gz")).unwrap(),
            ),
            &mut text,
        )
        .unwrap();
        text.lines().map(str::to_string).collect::<Vec<String>>()
    };
    let (grouped, by_time) = (lines("g"), lines("t"));
    assert_eq!(grouped[0], by_time[0], "the header first");
    let mut a = grouped[1..].to_vec();
    let mut b = by_time[1..].to_vec();
    assert!(a != b, "the time-ordered lines are in another order");
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same lines");
    // Every line whose date parses is no earlier than the one before it.
    let mut last = None;
    let mut dated = 0;
    for l in &by_time[1..] {
        let Some(field) = l.split(';').nth(3) else {
            continue;
        };
        let Ok(ts) = chrono::NaiveDateTime::parse_from_str(field, "%d.%m.%Y %H:%M") else {
            continue;
        };
        assert!(last <= Some(ts), "{l} after {last:?}");
        last = Some(ts);
        dated += 1;
    }
    assert!(dated as f64 > 0.95 * (by_time.len() - 1) as f64, "{dated}");

    // Loaded through the shipped pipeline, and the order lines alone (every customer key then
    // given by the order lines), in runs of 500 lines so that the time-ordered export goes
    // through the merge: the same warehouse. The transactions file holds the same values in
    // the same order and row groups, but for the columns naming each row's line in its export
    // (source_file, source_record); the key dictionary and the customers file are the same.
    let pipeline = std::fs::read_to_string(repo().join("sample-data/pipeline.toml")).unwrap();
    let orders_only = format!(
        "[warehouse]\npath = \"wh-orders\"\n\n{}",
        &pipeline[pipeline.find("[sources.transactions]").unwrap()
            ..pipeline.find("# The help desk").unwrap()]
    );
    let pipeline = pipeline.replace("path = \"../target/sample-warehouse\"", "path = \"wh\"");
    for dir in ["g", "t"] {
        for (name, text) in [("pipeline.toml", &pipeline), ("orders.toml", &orders_only)] {
            let config = sb.write(&format!("{dir}/{name}"), text);
            let out = sb
                .cmd(&["ingest", "--config", config.to_str().unwrap()])
                .env("CRM_SORT_RUN_ROWS", "500")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", describe(&["ingest"], &out));
        }
    }
    for wh in ["wh", "wh-orders"] {
        let (g, t) = (sb.path("g").join(wh), sb.path("t").join(wh));
        let tables = |m: &serde_json::Value| m["tables"].as_object().unwrap().clone();
        let (mg, mt) = (manifest(&g), manifest(&t));
        assert_eq!(
            tables(&mg).keys().collect::<Vec<_>>(),
            tables(&mt).keys().collect::<Vec<_>>()
        );
        for (table, entry) in tables(&mg) {
            let other = &tables(&mt)[&table];
            assert_eq!(entry["rows"], other["rows"], "{wh} {table}");
            if table == "rejects" {
                // Rejected lines are named by their record number in the export.
                continue;
            }
            let file = |dir: &std::path::Path, e: &serde_json::Value| {
                let files = e["files"].as_array().unwrap();
                assert_eq!(files.len(), 1, "{wh} {table}");
                dir.join(files[0].as_str().unwrap())
            };
            let (fg, ft) = (
                read_parquet(&file(&g, &entry)),
                read_parquet(&file(&t, other)),
            );
            let lineage = ["source_file", "source_record"];
            let values = |df: polars::prelude::DataFrame| df.drop_many(lineage);
            let (vg, vt) = (values(fg.0), values(ft.0));
            assert!(vg.height() > 0, "{wh} {table}");
            assert!(vg.equals_missing(&vt), "{wh} {table}:\n{vg}\n{vt}");
            assert_eq!(fg.1, ft.1, "{wh} {table}: row groups");
            if table == "transactions" {
                let keys =
                    |m: &serde_json::Value| m["tables"]["transactions"]["row_group_keys"].clone();
                assert_eq!(
                    keys(&mg).as_object().unwrap().values().collect::<Vec<_>>(),
                    keys(&mt).as_object().unwrap().values().collect::<Vec<_>>()
                );
                assert!(fg.1.len() > 3, "{wh}: {} row groups", fg.1.len());
            }
        }
    }
    let (cg, ct) = (sb.path("g/pipeline.toml"), sb.path("t/pipeline.toml"));
    for args in [
        vec!["rfm", "--format", "csv"],
        vec!["retention", "--cohorts", "--format", "csv"],
        vec!["segment", "--format", "csv"],
    ] {
        let run = |c: &std::path::Path| {
            let mut a = args.clone();
            a.extend(["--config", c.to_str().unwrap()]);
            sb.ok(&a)
        };
        assert_eq!(run(&cg), run(&ct), "{args:?}");
    }
}
