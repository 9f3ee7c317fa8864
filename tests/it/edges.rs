//! Edge cases of METRICS.md: an empty period, a customer whose purchases are all refunded, a
//! period with no starting customers, and a time zone that moves a purchase across a month.

use crate::common::*;

fn warehouse(sb: &Sandbox, transactions: &str, extra_config: &str) {
    sb.write("t.csv", transactions);
    sb.write(
        "crm.toml",
        &format!(
            "[warehouse]\npath = \"wh\"\n{extra_config}\n[sources.transactions]\npath = \"t.csv\"\n"
        ),
    );
    sb.ok(&["ingest"]);
}

#[test]
fn an_empty_month_counts_as_zero_activity_and_the_month_after_it_has_no_rate() {
    let sb = Sandbox::new();
    warehouse(
        &sb,
        "transaction_id,customer_id,ts,amount\nt1,a,2024-01-10,10\nt2,b,2024-01-11,10\nt3,a,2024-03-05,10\n",
        "",
    );
    // February has no transaction at all: it is still a period. Everyone active in January is
    // lost in it (0.0, a number); March starts from nobody, so its rates are empty, not 0.
    assert_eq!(
        sb.ok(&["retention", "--as-of", "2024-04-01", "--format", "csv"]),
        "period,S,E,N,retained,reactivated,retention_rate,strict_retention_rate\n\
         2024-01,0,2,2,0,0,,\n2024-02,2,0,0,0,0,0.0,0.0\n2024-03,0,1,0,0,1,,\n"
    );
    assert_eq!(
        sb.ok(&[
            "retention",
            "--growth",
            "--as-of",
            "2024-04-01",
            "--format",
            "csv"
        ]),
        "period,new,returning,resurrecting,dormant,active,active_previous\n\
         2024-01,2,0,0,0,2,0\n2024-02,0,0,0,2,0,2\n2024-03,0,0,1,0,1,0\n"
    );
    assert_eq!(
        sb.ok(&[
            "retention",
            "--cohorts",
            "--as-of",
            "2024-04-01",
            "--format",
            "csv"
        ]),
        "cohort,age,cohort_size,active,retention\n2024-01,0,2,2,1.0\n2024-01,1,2,0,0.0\n2024-01,2,2,1,0.5\n"
    );
}

#[test]
fn a_customer_whose_only_purchase_is_refunded_is_a_buyer_with_zero_net_revenue() {
    let sb = Sandbox::new();
    warehouse(
        &sb,
        "transaction_id,customer_id,order_id,ts,amount\nt1,x,o1,2024-01-10,50\nt2,x,o1,2024-01-20,-50\nt3,y,o2,2024-01-15,30\n",
        "",
    );
    let out = sb.ok(&["rfm", "--as-of", "2024-02-01", "--format", "csv"]);
    let rows = parse_csv(&out);
    let x = rows.iter().find(|r| r[0] == "x").unwrap();
    // R counts from the purchase day, not the refund; F = 1 purchase order; M = 0 net.
    assert_eq!(&x[1..4], ["22", "1", "0.0"]);
    let out = sb.ok(&[
        "lifecycle",
        "--customers",
        "--as-of",
        "2024-02-01",
        "--format",
        "csv",
    ]);
    assert!(out.contains("x,new,2024-01-10,2024-01-10,22"), "{out}");
    let out = sb.ok(&[
        "forecast",
        "--method",
        "seed",
        "--as-of",
        "2024-02-01",
        "--format",
        "csv",
    ]);
    assert!(
        out.contains("2024-01,actual,,30.0,"),
        "refund nets out: {out}"
    );
}

#[test]
fn the_report_time_zone_moves_a_late_evening_purchase_into_the_next_month() {
    let tx = "transaction_id,customer_id,ts,amount\nt1,a,2024-01-31T23:30:00Z,10\nt2,b,2024-01-15T12:00:00Z,10\n";
    let utc = Sandbox::new();
    warehouse(&utc, tx, "");
    assert_eq!(
        utc.ok(&["retention", "--as-of", "2024-03-01", "--format", "csv"]),
        "period,S,E,N,retained,reactivated,retention_rate,strict_retention_rate\n2024-01,0,2,2,0,0,,\n2024-02,2,0,0,0,0,0.0,0.0\n"
    );
    let paris = Sandbox::new();
    warehouse(&paris, tx, "[report]\ntimezone = \"Europe/Paris\"");
    // 23:30 UTC on 31 January is 00:30 on 1 February in Paris.
    assert_eq!(
        paris.ok(&["retention", "--as-of", "2024-03-01", "--format", "csv"]),
        "period,S,E,N,retained,reactivated,retention_rate,strict_retention_rate\n2024-01,0,1,1,0,0,,\n2024-02,1,1,1,0,0,0.0,0.0\n"
    );
    // Days count in the zone too: as_of 2024-02-02 is 1 day after a's local purchase day.
    let rows = parse_csv(&paris.ok(&["rfm", "--as-of", "2024-02-02", "--format", "csv"]));
    assert_eq!(rows.iter().find(|r| r[0] == "a").unwrap()[1], "1");
    // The default as_of is the day after the last local transaction day.
    let out = paris.ok(&[
        "query",
        "--sql",
        "select as_of_date from params",
        "--format",
        "csv",
    ]);
    assert_eq!(out, "as_of_date\n2024-02-02\n");
}

#[test]
fn an_incomplete_period_is_left_out_of_period_rows_and_empty_in_cohort_cells() {
    let sb = Sandbox::new();
    warehouse(
        &sb,
        "transaction_id,customer_id,ts,amount\nt1,a,2024-01-10,10\nt2,a,2024-02-10,10\n",
        "",
    );
    let out = sb
        .cmd(&["retention", "--as-of", "2024-02-15", "--format", "csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2024-02 is incomplete"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "period,S,E,N,retained,reactivated,retention_rate,strict_retention_rate\n2024-01,0,1,1,0,0,,\n"
    );
    assert_eq!(
        sb.ok(&[
            "retention",
            "--cohorts",
            "--as-of",
            "2024-02-15",
            "--format",
            "csv"
        ]),
        "cohort,age,cohort_size,active,retention\n2024-01,0,1,1,1.0\n2024-01,1,1,,\n"
    );
}

/// The default as_of found from the latest time each load recorded in the manifest equals the
/// one a scan of the transactions finds: in a steady zone, and just after a clock change,
/// where an earlier instant is later on the wall clock (the manifest then defers to the scan).
#[test]
fn the_default_as_of_from_the_manifest_equals_the_scanned_one() {
    let as_of = |sb: &Sandbox| {
        sb.ok(&[
            "query",
            "--sql",
            "select as_of, as_of_date from params",
            "--format",
            "csv",
        ])
    };
    for (zone, tx, want) in [
        (
            "Europe/Paris",
            "transaction_id,customer_id,ts,amount\nt1,a,2024-03-10T23:30:00Z,10\nt2,b,2024-03-09T12:00:00Z,10\n",
            "2024-03-12",
        ),
        (
            // 00:50 UTC is 02:50 summer time; 01:10 UTC, after the change, is 02:10.
            "Europe/Paris",
            "transaction_id,customer_id,ts,amount\nt1,a,2024-10-27T00:50:00Z,10\nt2,b,2024-10-27T01:10:00Z,10\n",
            "2024-10-28",
        ),
        (
            "America/Santiago",
            "transaction_id,customer_id,ts,amount\nt1,a,2024-04-07T02:30:00Z,10\nt2,b,2024-04-07T03:30:00Z,10\n",
            "2024-04-07",
        ),
    ] {
        let sb = Sandbox::new();
        warehouse(&sb, tx, &format!("[report]\ntimezone = \"{zone}\""));
        let m = manifest(&sb.path("wh"));
        let latest = m["tables"]["transactions"]["latest_ts"]
            .as_object()
            .unwrap();
        assert_eq!(latest.len(), 1);
        let recorded = as_of(&sb);
        assert!(
            recorded.ends_with(&format!(",{want}\n")),
            "{zone}: {recorded}"
        );
        let mut m = m;
        m["tables"]["transactions"]
            .as_object_mut()
            .unwrap()
            .remove("latest_ts");
        std::fs::write(
            sb.path("wh/manifest.json"),
            serde_json::to_string_pretty(&m).unwrap(),
        )
        .unwrap();
        assert_eq!(as_of(&sb), recorded, "{zone}");
    }
}

/// ISO weeks in the report's zone, worked by hand. Paris is UTC+1 in early March 2024.
/// - a: Sunday 3 March 22:30 UTC = Sunday 23:30 in Paris (week 2024-W09, 26 Feb - 3 Mar), and
///   Monday 11 March (W11);
/// - b: Sunday 3 March 23:30 UTC = Monday 00:30 in Paris (W10), and Tuesday 5 March (W10);
/// - c: Monday 26 February (W09) and Monday 4 March (W10).
///
/// Active per week: W09 {a, c}, W10 {b, c}, W11 {a}; as_of Monday 18 March, so W11 is the last
/// complete week. W10: S = 2, E = 2, N = 1 (b), retained 1 (c): rate (E - N) / S = 50%, strict
/// 50%. W11: S = 2, E = 1, N = 0, reactivated 1 (a): rate 50%, strict 0%. Cohorts: W09 {a, c}
/// active 2, 1 (c), 1 (a) at ages 0, 1, 2; W10 {b} active 1, 0.
#[test]
fn weekly_periods_are_iso_weeks_of_the_report_zone() {
    let tx = "transaction_id,customer_id,ts,amount\n\
              a1,a,2024-03-03T22:30:00Z,10\na2,a,2024-03-11T10:00:00Z,10\n\
              b1,b,2024-03-03T23:30:00Z,10\nb2,b,2024-03-05T12:00:00Z,10\n\
              c1,c,2024-02-26T09:00:00Z,10\nc2,c,2024-03-04T09:00:00Z,10\n";
    let paris = Sandbox::new();
    warehouse(&paris, tx, "[report]\ntimezone = \"Europe/Paris\"");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "retention",
            "--period",
            "week",
            "--as-of",
            "2024-03-18",
            "--format",
            "csv",
        ];
        a.extend_from_slice(extra);
        a
    };
    assert_eq!(
        paris.ok(&args(&[])),
        "period,S,E,N,retained,reactivated,retention_rate,strict_retention_rate\n\
         2024-W09,0,2,2,0,0,,\n2024-W10,2,2,1,1,0,50.0,50.0\n2024-W11,2,1,0,0,1,50.0,0.0\n"
    );
    assert_eq!(
        paris.ok(&args(&["--cohorts"])),
        "cohort,age,cohort_size,active,retention\n\
         2024-W09,0,2,2,1.0\n2024-W09,1,2,1,0.5\n2024-W09,2,2,1,0.5\n\
         2024-W10,0,1,1,1.0\n2024-W10,1,1,0,0.0\n"
    );
    // In UTC, b's first purchase is still Sunday: it joins the W09 cohort.
    let utc = Sandbox::new();
    warehouse(&utc, tx, "");
    let out = utc.ok(&args(&["--cohorts"]));
    assert!(out.contains("2024-W09,0,3,3,1.0\n"), "{out}");
    // Days: labels are the zone's calendar days.
    let out = paris.ok(&[
        "retention",
        "--cohorts",
        "--period",
        "day",
        "--as-of",
        "2024-03-18",
        "--format",
        "csv",
    ]);
    assert!(
        out.contains("\n2024-03-03,0,1,1,1.0\n"),
        "a's Sunday: {out}"
    );
    assert!(
        out.contains("\n2024-03-04,0,1,1,1.0\n"),
        "b's Monday: {out}"
    );
}

/// N-day retention, worked by hand. a buys on 1 January, again on days 1 and 7 after; b on
/// 5 January and day 15 after; c on 30 January only. as_of 3 February: day N of a customer is
/// eligible when first day + N is before it. Day 1: all 3 eligible, a returned on it (and
/// within it). Day 7: a and b eligible (c's day 7 is 6 February), a returned on it. Day 30: only
/// a (b's is 4 February), who bought within 30 days but not on day 30.
#[test]
fn n_day_retention_counts_the_days_after_each_first_purchase() {
    let sb = Sandbox::new();
    warehouse(
        &sb,
        "transaction_id,customer_id,ts,amount\n\
         a1,a,2024-01-01,10\na2,a,2024-01-02,10\na3,a,2024-01-08,10\n\
         b1,b,2024-01-05,10\nb2,b,2024-01-20,10\nc1,c,2024-01-30,10\n",
        "",
    );
    assert_eq!(
        sb.ok(&[
            "retention",
            "--cohorts",
            "--days",
            "1,7,30",
            "--as-of",
            "2024-02-03",
            "--format",
            "csv",
        ]),
        "cohort,day,cohort_size,eligible,returned_on_day,returned_within,retention_on_day,retention_within\n\
         2024-01,1,3,3,1,1,33.33,33.33\n2024-01,7,3,2,1,1,50.0,50.0\n2024-01,30,3,1,0,1,0.0,100.0\n"
    );
    let err = sb.fails(&["retention", "--cohorts", "--days", "0,7"]);
    assert!(err.contains("1 or more"), "{err}");
}
