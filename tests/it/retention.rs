//! Retention, growth accounting, cohorts, lifecycle, segments and the seed forecast against
//! tests/data/retention_tiny/EXPECTED.md, worked out by hand.

use crate::common::*;

fn tiny() -> Sandbox {
    let sb = Sandbox::new();
    for f in ["customers.csv", "transactions.csv", "crm.toml"] {
        std::fs::copy(repo().join("tests/data/retention_tiny").join(f), sb.path(f)).unwrap();
    }
    sb.ok(&["ingest"]);
    sb
}

const AS_OF: [&str; 2] = ["--as-of", "2024-05-01"];

fn run_csv(sb: &Sandbox, args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.extend_from_slice(&AS_OF);
    a.extend_from_slice(&["--format", "csv"]);
    sb.ok(&a)
}

#[test]
fn seed_retention_rate_per_month_equals_the_hand_computed_table() {
    let sb = tiny();
    assert_eq!(
        run_csv(&sb, &["retention", "--period", "month"]),
        "period,S,E,N,retained,reactivated,retention_rate,strict_retention_rate\n\
         2024-01,0,3,3,0,0,,\n\
         2024-02,3,1,1,0,0,0.0,0.0\n\
         2024-03,1,4,1,1,2,300.0,100.0\n\
         2024-04,4,1,0,1,0,25.0,25.0\n"
    );
}

#[test]
fn growth_accounting_equals_the_hand_computed_table() {
    let sb = tiny();
    assert_eq!(
        run_csv(&sb, &["retention", "--growth"]),
        "period,new,returning,resurrecting,dormant,active,active_previous\n\
         2024-01,3,0,0,0,3,0\n\
         2024-02,1,0,0,3,1,3\n\
         2024-03,1,1,2,0,4,1\n\
         2024-04,0,1,0,3,1,4\n"
    );
}

#[test]
fn cohort_matrices_in_both_modes_and_revenue_equal_the_hand_computed_cells() {
    let sb = tiny();
    assert_eq!(
        run_csv(&sb, &["retention", "--cohorts", "--period", "month"]),
        "cohort,age,cohort_size,active,retention\n\
         2024-01,0,3,3,1.0\n2024-01,1,3,0,0.0\n2024-01,2,3,2,0.6667\n2024-01,3,3,1,0.3333\n\
         2024-02,0,1,1,1.0\n2024-02,1,1,1,1.0\n2024-02,2,1,0,0.0\n\
         2024-03,0,1,1,1.0\n2024-03,1,1,0,0.0\n"
    );
    assert_eq!(
        run_csv(&sb, &["retention", "--cohorts", "--mode", "on-or-after"]),
        "cohort,age,cohort_size,active,retention\n\
         2024-01,0,3,3,1.0\n2024-01,1,3,2,0.6667\n2024-01,2,3,2,0.6667\n2024-01,3,3,1,0.3333\n\
         2024-02,0,1,1,1.0\n2024-02,1,1,1,1.0\n2024-02,2,1,0,0.0\n\
         2024-03,0,1,1,1.0\n2024-03,1,1,0,0.0\n"
    );
    assert_eq!(
        run_csv(&sb, &["retention", "--cohorts", "--revenue"]),
        "cohort,age,cohort_size,net_revenue,revenue_retention\n\
         2024-01,0,3,150.0,1.0\n2024-01,1,3,0.0,0.0\n2024-01,2,3,110.0,0.7333\n2024-01,3,3,30.0,0.2\n\
         2024-02,0,1,200.0,1.0\n2024-02,1,1,100.0,0.5\n2024-02,2,1,-20.0,-0.1\n\
         2024-03,0,1,80.0,1.0\n2024-03,1,1,0.0,0.0\n"
    );
    assert_eq!(
        run_csv(&sb, &["retention", "--mean"]),
        "age,cohorts,customers,retention,retention_on_or_after\n\
         0,3,5,1.0,1.0\n1,3,5,0.2,0.6\n2,2,4,0.5,0.5\n3,1,3,0.3333,0.3333\n"
    );
    // The matrix as people read it.
    let table = sb.ok(&["retention", "--cohorts", "--as-of", "2024-05-01"]);
    assert!(
        table.contains("2024-01")
            && table.contains("66.7%")
            && table.contains("weighted mean: 0=100.0% 1=20.0% 2=50.0% 3=33.3%"),
        "{table}"
    );
}

#[test]
fn lifecycle_statuses_counts_and_churn_equal_the_hand_computed_ones() {
    let sb = tiny();
    assert_eq!(
        run_csv(&sb, &["lifecycle", "--customers"]),
        "customer_id,status,first_purchase_date,last_purchase_date,days_since_last\n\
         A,active,2024-01-05,2024-04-03,28\n\
         B,at_risk,2024-01-20,2024-03-15,47\n\
         C,at_risk,2024-02-01,2024-03-02,60\n\
         D,new,2024-03-30,2024-03-30,32\n\
         E,churned,2024-01-12,2024-01-12,110\n\
         F,prospect,,,\n\
         G,prospect,,,\n"
    );
    assert_eq!(
        run_csv(&sb, &["lifecycle"]),
        "status,customers,share_pct\nprospect,2,28.57\nnew,1,14.29\nactive,1,14.29\nat_risk,2,28.57\nchurned,1,14.29\n"
    );
    assert_eq!(
        run_csv(&sb, &["lifecycle", "--churn"]),
        "period,active_at_start,churned,churn_rate\n2024-01,0,0,\n2024-02,3,3,100.0\n2024-03,1,0,0.0\n2024-04,4,3,75.0\n"
    );
}

#[test]
fn geographic_and_demographic_segments_equal_the_hand_computed_rows() {
    let sb = tiny();
    let out = run_csv(&sb, &["segment", "--by", "geographic"]);
    let rows = parse_csv(&out);
    assert_eq!(
        rows[0],
        [
            "dimension",
            "segment",
            "customers",
            "share_pct",
            "net_revenue",
            "revenue_share_pct",
            "avg_order_value",
            "purchases_per_customer",
            "strict_retention_pct"
        ]
    );
    let country: Vec<_> = rows.iter().filter(|r| r[0] == "country").cloned().collect();
    assert_eq!(
        country,
        [
            [
                "country", "DE", "2", "40.0", "280.0", "43.08", "56.0", "2.5", "50.0"
            ],
            [
                "country", "FR", "2", "40.0", "360.0", "55.38", "120.0", "1.5", "0.0"
            ],
            [
                "country", "US", "1", "20.0", "10.0", "1.54", "10.0", "1.0", ""
            ],
        ]
        .map(|r| r.map(str::to_string).to_vec())
    );
    let out = run_csv(&sb, &["segment", "--by", "demographic"]);
    let ages: Vec<(String, String)> = parse_csv(&out)
        .into_iter()
        .filter(|r| r[0] == "age_band")
        .map(|r| (r[1].clone(), r[2].clone()))
        .collect();
    let mut ages = ages;
    ages.sort();
    assert_eq!(
        ages,
        [
            ("18-24", "1"),
            ("25-34", "1"),
            ("35-44", "1"),
            ("55-64", "1"),
            ("65+", "1")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let out = run_csv(&sb, &["segment", "--by", "behavioural"]);
    let cats: Vec<(String, String)> = parse_csv(&out)
        .into_iter()
        .filter(|r| r[0] == "preferred_category")
        .map(|r| (r[1].clone(), r[2].clone()))
        .collect();
    assert_eq!(cats[0], ("Books".to_string(), "2".to_string()));
    assert_eq!(cats.len(), 4, "{cats:?}");
    // Target lists per segment, no personal fields.
    sb.ok(&[
        "segment",
        "--by",
        "geographic",
        "--as-of",
        "2024-05-01",
        "--export",
        "targets",
    ]);
    let text = std::fs::read_to_string(sb.path("targets/country-de.csv")).unwrap();
    assert_eq!(
        text,
        "customer_id,dimension,segment\nA,country,DE\nB,country,DE\n"
    );
}

#[test]
fn seed_forecast_equals_the_hand_computed_projection() {
    let sb = tiny();
    assert_eq!(
        run_csv(&sb, &["forecast", "--method", "seed"]),
        "period,kind,h,net_revenue,average_sales,growth_rate\n\
         2024-02,actual,,180.0,160.0,-0.177203\n\
         2024-03,actual,,290.0,160.0,-0.177203\n\
         2024-04,actual,,10.0,160.0,-0.177203\n\
         2024-05,forecast,1,131.65,160.0,-0.177203\n\
         2024-06,forecast,2,108.32,160.0,-0.177203\n"
    );
}
