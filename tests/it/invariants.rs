//! Invariants that hold on any data (METRICS.md), checked on the shipped sample and on generated
//! data with other seeds and a mid-month as_of: counts add up, shares sum to 100, growth
//! accounting identities, one lifecycle status per customer, k = 0 is 100%, nothing past as_of.

use crate::common::*;

fn check_invariants(sb: &Sandbox, cfg: &std::path::Path, as_of: &[&str]) {
    let one = |sql: &str| -> Vec<Vec<String>> { sb.csv(cfg, sql, as_of)[1..].to_vec() };
    // A filter on the data-quality checks returns those checks only (the report's headline
    // table filters them so; once every check came back, each unrelated one as a row over no
    // input).
    let all = one("select check_name from data_quality");
    for check in ["malformed_emails", "rows_read", "null_rate"] {
        let picked = one(&format!(
            "select check_name from data_quality where check_name = '{check}'"
        ));
        assert!(picked.iter().all(|r| r[0] == check), "{check}: {picked:?}");
        assert_eq!(
            picked.len(),
            all.iter().filter(|r| r[0] == check).count(),
            "{check}"
        );
    }
    // Segments: within each dimension, customers add up to the customers with a purchase and
    // shares sum to 100 (up to the rounding of each share to 2 decimals).
    let buyers = one("select count(*) from customer_cohorts")[0][0].clone();
    for r in one(
        "select dimension, sum(customers), sum(share_pct), sum(revenue_share_pct), count(*) from segments group by dimension",
    ) {
        assert_eq!(r[1], buyers, "{r:?}");
        let n: f64 = r[4].parse().unwrap();
        for share in [&r[2], &r[3]] {
            let s: f64 = share.parse().unwrap();
            assert!((s - 100.0).abs() <= 0.005 * n + 1e-9, "{r:?}");
        }
    }
    // RFM segment counts add up to the customers scored.
    let r = &one(
        "select (select count(*) from rfm) as scored, sum(customers) from rfm_segment_summary",
    )[0];
    assert_eq!(r[0], r[1]);
    // Growth accounting identities in every period.
    for r in one(
        "select period, active, new + \"returning\" + resurrecting, active_previous, \"returning\" + dormant from growth_accounting",
    ) {
        assert_eq!(r[1], r[2], "active = new + returning + resurrecting: {r:?}");
        assert_eq!(r[3], r[4], "previous = returning + dormant: {r:?}");
    }
    // The seed formula's parts: retained <= S and E, reactivated >= 0, N inside E.
    for r in one("select period, \"S\", \"E\", \"N\", retained, reactivated from retention_rate") {
        let v: Vec<i64> = r[1..].iter().map(|x| x.parse().unwrap()).collect();
        let (s, e, n, retained, reactivated) = (v[0], v[1], v[2], v[3], v[4]);
        assert!(
            retained <= s && retained <= e && n <= e && reactivated >= 0,
            "{r:?}"
        );
        assert_eq!(e - n - retained, reactivated);
    }
    // Every known customer has exactly one lifecycle status.
    let r = &one(
        "select (select count(*) from lifecycle) as rows, (select count(distinct customer_id) from lifecycle) as ids, \
         (select count(*) from (select customer_id from stg_customers union select customer_id from stg_transactions)) as known, \
         (select sum(customers) from lifecycle_summary) as counted",
    )[0];
    assert!(r.iter().all(|x| x == &r[0]), "{r:?}");
    // Cohorts: k = 0 is 100%; no cell in a period at or after as_of has a value.
    assert_eq!(
        one(
            "select count(*) from retention_cohorts where age = 0 and active is not null and retention <> 1.0"
        )[0][0],
        "0"
    );
    assert_eq!(
        one(
            "select count(*) from retention_cohorts as c join periods as p on p.period = c.period where not p.is_complete and c.active is not null"
        )[0][0],
        "0"
    );
    assert_eq!(
        one("select count(*) from periods, params where period_start >= as_of_date")[0][0],
        "0"
    );
    // Lifecycle shares sum to 100.
    let s: f64 = one("select sum(share_pct) from lifecycle_summary")[0][0]
        .parse()
        .unwrap();
    assert!((s - 100.0).abs() <= 0.025, "{s}");
}

#[test]
fn invariants_hold_on_the_shipped_sample() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    sb.ok(&["ingest", "--config", cfg.to_str().unwrap()]);
    check_invariants(&sb, &cfg, &[]);
    check_invariants(&sb, &cfg, &["--as-of", "2024-06-15"]);
}

#[test]
fn invariants_hold_on_generated_data_for_other_seeds_and_periods() {
    for (seed, period) in [("11", "quarter"), ("12", "year")] {
        let sb = Sandbox::new();
        sb.ok(&[
            "sample",
            "--customers",
            "400",
            "--seed",
            seed,
            "--months",
            "18",
            "--out",
            "s",
        ]);
        let cfg = std::fs::read_to_string(repo().join("sample-data/pipeline.toml")).unwrap();
        let cfg = cfg.replace("../target/sample-warehouse", "wh").replace(
            "[rfm]",
            &format!("[retention]\nperiod = \"{period}\"\n\n[rfm]"),
        );
        let cfg = sb.write("s/pipeline.toml", &cfg);
        sb.ok(&["ingest", "--config", cfg.to_str().unwrap()]);
        check_invariants(&sb, &cfg, &["--as-of", "2024-05-20"]);
    }
}
