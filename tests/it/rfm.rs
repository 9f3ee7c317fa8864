//! RFM against values worked out by hand (METRICS.md "RFM", "Named RFM segments").

use crate::common::*;

fn tiny(sb: &Sandbox, dataset: &str) -> std::path::PathBuf {
    let data = repo()
        .join("tests/data")
        .join(dataset)
        .join("transactions.csv");
    sb.write(
        "crm.toml",
        &format!(
            "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = {:?}\n",
            data.to_str().unwrap()
        ),
    );
    sb.ok(&["ingest"]);
    sb.path("crm.toml")
}

/// tests/data/rfm_tiny/EXPECTED.md works every number out.
#[test]
fn rfm_on_the_tiny_data_set_equals_the_hand_computed_table() {
    let sb = Sandbox::new();
    tiny(&sb, "rfm_tiny");
    let out = sb.ok(&["rfm", "--as-of", "2024-01-11", "--format", "csv"]);
    let expected = "\
customer_id,recency_days,frequency,monetary,r_score,f_score,m_score,rfm_cell,segment
A,1,3,180.0,4,5,4,454,Loyal Customers
B,3,1,40.0,3,1,2,312,About to Sleep
C,9,1,400.0,2,1,5,215,Hibernating
D,27,2,20.0,1,4,1,141,At Risk
E,1,1,60.0,4,1,3,413,Promising
G,71,1,5.0,1,1,1,111,Hibernating
";
    assert_eq!(out, expected);
}

#[test]
fn score_direction_largest_m_and_f_and_smallest_r_get_the_top_score() {
    let sb = Sandbox::new();
    tiny(&sb, "rfm_direction");
    // as_of defaults to the day after the last transaction day: 2024-03-06.
    let out = sb.ok(&["rfm", "--format", "csv"]);
    let rows = parse_csv(&out);
    let by_id = |id: &str| rows.iter().find(|r| r[0] == id).unwrap().clone();
    assert_eq!(
        by_id("T"),
        ["T", "1", "5", "250.0", "5", "5", "5", "555", "Champions"]
    );
    assert_eq!(
        by_id("P"),
        ["P", "5", "1", "10.0", "1", "1", "1", "111", "Hibernating"]
    );
    // Five distinct values over five customers: the scores are exactly 1..5.
    for (id, k) in [("P", "1"), ("Q", "2"), ("R", "3"), ("S", "4"), ("T", "5")] {
        let r = by_id(id);
        assert_eq!([&r[4], &r[5], &r[6]], [k, k, k], "{r:?}");
    }
}

/// METRICS.md's RF grid, row R = 5 first.
const GRID: [[&str; 5]; 5] = [
    [
        "New Customers",
        "Potential Loyalists",
        "Potential Loyalists",
        "Champions",
        "Champions",
    ],
    [
        "Promising",
        "Potential Loyalists",
        "Potential Loyalists",
        "Loyal Customers",
        "Loyal Customers",
    ],
    [
        "About to Sleep",
        "About to Sleep",
        "Need Attention",
        "Loyal Customers",
        "Loyal Customers",
    ],
    [
        "Hibernating",
        "Hibernating",
        "At Risk",
        "At Risk",
        "Can't Lose Them",
    ],
    [
        "Hibernating",
        "Hibernating",
        "At Risk",
        "At Risk",
        "Can't Lose Them",
    ],
];

#[test]
fn every_one_of_the_125_cells_lands_in_exactly_one_segment_as_the_grid_says() {
    let sb = Sandbox::new();
    let cfg = tiny(&sb, "rfm_tiny");
    let sql = "with d as (select * from unnest([1, 2, 3, 4, 5]) as t(v)), \
        cells as (select r.v as r, f.v as f, m.v as m from d as r cross join d as f cross join d as m), \
        matched as ( \
            select c.r, c.f, c.m, s.segment, row_number() over (partition by c.r, c.f, c.m order by s.priority) as k \
            from cells as c join rfm_segment_rules as s \
            on c.r between s.r_min and s.r_max and c.f between s.f_min and s.f_max and c.m between s.m_min and s.m_max) \
        select r, f, m, segment from matched where k = 1 order by r, f, m";
    let rows = sb.csv(&cfg, sql, &[]);
    assert_eq!(rows.len(), 126, "every cell matches a rule");
    for row in &rows[1..] {
        let (r, f): (usize, usize) = (row[0].parse().unwrap(), row[1].parse().unwrap());
        assert_eq!(row[3], GRID[5 - r][f - 1], "cell {row:?}");
    }
    // Each segment has its recommended action.
    let rows = sb.csv(&cfg, "select segment, action from rfm_segment_rules", &[]);
    assert_eq!(rows.len(), 11);
    assert!(rows[1..].iter().all(|r| !r[1].is_empty()));
}

#[test]
fn export_writes_one_target_list_per_segment_without_personal_fields() {
    let sb = Sandbox::new();
    tiny(&sb, "rfm_tiny");
    sb.ok(&[
        "rfm",
        "--as-of",
        "2024-01-11",
        "--export",
        "targets",
        "--format",
        "csv",
    ]);
    let mut files: Vec<String> = std::fs::read_dir(sb.path("targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "about_to_sleep.csv",
            "at_risk.csv",
            "hibernating.csv",
            "loyal_customers.csv",
            "promising.csv"
        ]
    );
    let text = std::fs::read_to_string(sb.path("targets/hibernating.csv")).unwrap();
    assert_eq!(
        text,
        "customer_id,segment,action\nC,Hibernating,Offer other relevant products and special discounts\n\
         G,Hibernating,Offer other relevant products and special discounts\n"
    );
}

#[test]
fn segment_counts_add_up_to_the_customers_scored_and_shares_to_100() {
    let sb = Sandbox::new();
    let cfg = sb.with_sample();
    sb.ok(&["ingest", "--config", cfg.to_str().unwrap()]);
    let rows = sb.csv(
        &cfg,
        "select (select count(*) from rfm) as scored, sum(customers), round(sum(share_pct), 1), round(sum(revenue_share_pct), 1) from rfm_segment_summary",
        &[],
    );
    assert_eq!(rows[1][0], rows[1][1]);
    assert!(rows[1][0].parse::<u64>().unwrap() > 1000);
    assert_eq!(rows[1][2], "100.0");
    assert_eq!(rows[1][3], "100.0");
}

/// Segment migration on the tiny set, worked out by hand in tests/data/rfm_tiny/EXPECTED.md
/// ("Segment migration"): D moved from About to Sleep to At Risk, G stayed Hibernating, the
/// other four are new.
#[test]
fn segment_migration_on_the_tiny_data_set_equals_the_hand_computed_table() {
    let sb = Sandbox::new();
    tiny(&sb, "rfm_tiny");
    let out = sb.ok(&[
        "segment",
        "--migration",
        "--as-of",
        "2024-01-11",
        "--format",
        "csv",
    ]);
    assert_eq!(
        out,
        "from_segment,to_segment,customers,share_of_from,revenue\n\
         (new customer),About to Sleep,1,25.0,40.0\n\
         (new customer),Hibernating,1,25.0,400.0\n\
         (new customer),Loyal Customers,1,25.0,180.0\n\
         (new customer),Promising,1,25.0,60.0\n\
         About to Sleep,At Risk,1,100.0,20.0\n\
         Hibernating,Hibernating,1,100.0,5.0\n"
    );
    // The segments one period back are the RFM as of that day.
    let then = sb.ok(&["rfm", "--as-of", "2023-12-11", "--format", "csv"]);
    assert_eq!(
        then,
        "customer_id,recency_days,frequency,monetary,r_score,f_score,m_score,rfm_cell,segment\n\
         D,10,1,10.0,3,1,3,313,About to Sleep\nG,40,1,5.0,1,1,1,111,Hibernating\n"
    );
    let err = sb.fails(&["segment", "--migration", "--by", "geographic"]);
    assert!(err.contains("--by rfm"), "{err}");
}
