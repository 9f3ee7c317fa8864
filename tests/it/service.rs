//! Interactions, service, cross-sell and data quality against
//! tests/data/service_tiny/EXPECTED.md, worked out by hand.

use crate::common::*;

fn tiny() -> Sandbox {
    let sb = Sandbox::new();
    for f in [
        "customers.csv",
        "transactions.csv",
        "interactions.jsonl",
        "crm.toml",
    ] {
        std::fs::copy(repo().join("tests/data/service_tiny").join(f), sb.path(f)).unwrap();
    }
    let out = sb.ok(&["ingest"]);
    assert!(
        out.contains("data quality: interactions 1 orphan_rows"),
        "{out}"
    );
    sb
}

fn table(sb: &Sandbox, cmd: &str, table: &str) -> String {
    sb.ok(&[
        cmd,
        "--table",
        table,
        "--as-of",
        "2024-03-01",
        "--format",
        "csv",
    ])
}

#[test]
fn channel_mix_and_campaign_conversion_equal_the_hand_computed_ones() {
    let sb = tiny();
    assert_eq!(
        table(&sb, "interactions", "channel_mix"),
        "period,channel,interactions,customers,share_pct\n\
         2024-01,chat,2,1,20.0\n2024-01,email,6,3,60.0\n2024-01,web,2,2,20.0\n\
         2024-02,chat,2,2,22.22\n2024-02,email,2,2,22.22\n2024-02,phone,1,1,11.11\n2024-02,web,4,4,44.44\n"
    );
    assert_eq!(
        table(&sb, "interactions", "campaign_conversion"),
        "campaign_id,first_sent_date,sent,opened,clicked,converted,open_rate_pct,click_rate_pct,conversion_rate_pct,revenue\n\
         CMP1,2024-01-01,3,1,1,2,33.33,33.33,66.67,70.0\n\
         CMP2,2024-02-01,2,0,0,1,0.0,0.0,50.0,55.0\n\
         all,2024-01-01,5,1,1,3,20.0,20.0,60.0,125.0\n"
    );
}

#[test]
fn tickets_backlog_and_satisfaction_equal_the_hand_computed_ones() {
    let sb = tiny();
    assert_eq!(
        table(&sb, "service", "service_summary"),
        "tickets,open_backlog,median_resolution_hours,p90_resolution_hours,tickets_per_100_customers,repeat_contact_customers\n\
         5,2,10.0,21.2,100.0,1\n"
    );
    assert_eq!(
        table(&sb, "service", "service_tickets"),
        "period,tickets,resolved,median_resolution_hours,p90_resolution_hours,tickets_per_100_customers\n\
         2024-01,2,2,17.0,22.6,40.0\n2024-02,3,1,4.0,4.0,60.0\n"
    );
    assert_eq!(
        table(&sb, "service", "satisfaction"),
        "period,csat_responses,csat_mean,csat_satisfied_pct,nps_responses,promoters_pct,detractors_pct,nps\n\
         2024-01,2,3.5,50.0,1,100.0,0.0,100.0\n2024-02,1,4.0,100.0,3,33.33,33.33,0.0\n"
    );
}

#[test]
fn affinity_and_next_category_equal_the_hand_computed_ones() {
    let sb = tiny();
    assert_eq!(
        table(&sb, "affinity", "category_affinity"),
        "category_a,category_b,both_customers,customers_a,customers_b,support,confidence,lift\n\
         Accessories,Electronics,1,1,2,0.25,1.0,2.0\n\
         Electronics,Accessories,1,2,1,0.25,0.5,2.0\n\
         Books,Stationery,1,3,1,0.25,0.3333,1.3333\n\
         Stationery,Books,1,1,3,0.25,1.0,1.3333\n\
         Books,Electronics,1,3,2,0.25,0.3333,0.6667\n\
         Electronics,Books,1,2,3,0.25,0.5,0.6667\n"
    );
    assert_eq!(
        table(&sb, "affinity", "next_category"),
        "customer_id,next_category,because_of,lift,confidence,support\nB,Accessories,Electronics,2.0,0.5,0.25\nD,Stationery,Books,1.3333,0.3333,0.25\n"
    );
}

#[test]
fn quality_reports_orphans_malformed_emails_and_counts_that_add_up() {
    let sb = tiny();
    let rows = parse_csv(&sb.ok(&["quality", "--format", "csv"]));
    let value = |table: &str, check: &str| -> f64 {
        rows.iter()
            .find(|r| r[0] == table && r[1] == check)
            .unwrap_or_else(|| panic!("{table} {check}"))[3]
            .parse()
            .unwrap()
    };
    assert_eq!(value("interactions", "orphan_rows"), 1.0);
    assert_eq!(value("transactions", "orphan_rows"), 0.0);
    assert_eq!(value("customers", "malformed_emails"), 1.0);
    assert_eq!(value("interactions", "rows_read"), 19.0);
    for t in ["customers", "transactions", "interactions"] {
        assert_eq!(
            value(t, "rows_read"),
            value(t, "rows_loaded") + value(t, "rows_rejected") + value(t, "duplicates_skipped")
        );
        assert_eq!(value(t, "rows"), value(t, "rows_loaded"));
    }
    // A null rate per optional column: csat is set on 3 of 19 interactions.
    let csat = rows
        .iter()
        .find(|r| r[0] == "interactions" && r[1] == "null_rate" && r[2] == "csat")
        .unwrap();
    assert!(
        (csat[3].parse::<f64>().unwrap() - 16.0 / 19.0).abs() < 1e-9,
        "{csat:?}"
    );
}
