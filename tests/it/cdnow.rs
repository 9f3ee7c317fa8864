//! CDNOW (tests/data/cdnow): real transactions loaded through a mapping alone.

use crate::common::*;

/// The golden values below come from an independent computation in plain Python over
/// cdnow_master.csv (METRICS.md "RFM": as_of 1998-07-01, F = rows with amount > 0 since the
/// export has no order ids, M = net revenue, ties share RANK()).
#[test]
fn cdnow_master_loads_all_69659_rows_through_a_mapping_and_its_rfm_matches_an_independent_computation()
 {
    let sb = Sandbox::new();
    let data = cdnow("cdnow_master.csv");
    assert!(data.exists(), "CDNOW data expected at {}", data.display());
    let cfg = sb.write(
        "crm.toml",
        &format!(
            "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = {:?}\n[sources.transactions.columns]\nts = \"date\"\n",
            data.to_str().unwrap()
        ),
    );
    let out = sb.ok(&["ingest"]);
    // No transaction ids in the export: identical rows get distinct derived ids, none is lost.
    assert!(
        out.contains("transactions: read 69659 = loaded 69659 + rejected 0 + duplicates 0"),
        "{out}"
    );

    let rows = sb.csv(
        &cfg,
        "select count(*), sum(frequency), round(sum(monetary), 2), \
         sum(case when r_score = 1 then 1 else 0 end), sum(case when r_score = 5 then 1 else 0 end), \
         sum(case when f_score = 1 then 1 else 0 end), sum(case when f_score = 2 then 1 else 0 end), \
         sum(case when m_score = 5 then 1 else 0 end) from rfm",
        &["--as-of", "1998-07-01"],
    );
    assert_eq!(
        rows[1],
        [
            "23502",
            "69579",
            "2500315.63",
            "4705",
            "4690",
            "11843",
            "0",
            "4700"
        ]
    );

    let rows = sb.csv(
        &cfg,
        "select segment, count(*) from rfm group by segment order by segment",
        &["--as-of", "1998-07-01"],
    );
    let expected = [
        ["About to Sleep", "3161"],
        ["At Risk", "882"],
        ["Can't Lose Them", "12"],
        ["Champions", "4125"],
        ["Hibernating", "8681"],
        ["Loyal Customers", "3327"],
        ["Need Attention", "965"],
        ["Potential Loyalists", "2348"],
        ["Promising", "1"],
    ];
    assert_eq!(rows[1..], expected.map(|r| r.map(str::to_string).to_vec()));

    let out = sb.ok(&["rfm", "--as-of", "1998-07-01", "--format", "csv"]);
    let rows = parse_csv(&out);
    let find = |id: &str| rows.iter().find(|r| r[0] == id).unwrap()[..7].to_vec();
    assert_eq!(find("1"), ["1", "546", "1", "11.77", "1", "1", "1"]);
    assert_eq!(find("3"), ["3", "34", "6", "156.46", "5", "5", "5"]);
    assert_eq!(find("23570"), ["23570", "462", "2", "94.08", "3", "3", "4"]);
}

/// Monthly cohorts and the quarterly seed retention rate on CDNOW master, against an independent
/// computation in plain Python (a purchase is amount > 0; as_of 1998-07-01). CDNOW's customers
/// all first bought in Jan-Mar 1997: three acquisition cohorts, plus two customers whose Q1 rows
/// were all 0.00, so that their first purchase falls in November 1997.
#[test]
fn cdnow_monthly_cohorts_and_quarterly_retention_rate_match_an_independent_computation() {
    let sb = Sandbox::new();
    let data = cdnow("cdnow_master.csv");
    sb.write(
        "crm.toml",
        &format!("[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = {:?}\n[sources.transactions.columns]\nts = \"date\"\n", data.to_str().unwrap()),
    );
    sb.ok(&["ingest"]);
    let cohorts = parse_csv(&sb.ok(&[
        "retention",
        "--cohorts",
        "--period",
        "month",
        "--as-of",
        "1998-07-01",
        "--format",
        "csv",
    ]));
    let cell = |c: &str, k: &str| {
        cohorts
            .iter()
            .find(|r| r[0] == c && r[1] == k)
            .unwrap_or_else(|| panic!("{c} {k}"))
            .clone()
    };
    let mut sizes: Vec<(String, String)> = cohorts[1..]
        .iter()
        .filter(|r| r[1] == "0")
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    sizes.sort();
    assert_eq!(
        sizes,
        [
            ("1997-01", "7814"),
            ("1997-02", "8455"),
            ("1997-03", "7231"),
            ("1997-11", "2")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for (c, expected) in [
        ("1997-01", ["1.0", "0.1478", "0.1234", "0.1037"]),
        ("1997-02", ["1.0", "0.1551", "0.1159", "0.0926"]),
        ("1997-03", ["1.0", "0.1427", "0.104", "0.1045"]),
    ] {
        for (k, want) in expected.iter().enumerate() {
            assert_eq!(cell(c, &k.to_string())[4], *want, "cohort {c} age {k}");
        }
        // Plausible for a music retailer: most first-time buyers never come back.
        let k1: f64 = cell(c, "1")[4].parse().unwrap();
        assert!((0.05..0.3).contains(&k1));
        // Ages run up to June 1998 and no further.
        let last_age = cohorts
            .iter()
            .filter(|r| r[0] == c)
            .map(|r| r[1].parse::<u32>().unwrap())
            .max()
            .unwrap();
        assert_eq!(
            c.to_string() + &last_age.to_string(),
            c.to_string() + &(17 - c[5..].parse::<u32>().unwrap() + 1).to_string()
        );
    }
    assert_eq!(
        sb.ok(&[
            "retention",
            "--period",
            "quarter",
            "--as-of",
            "1998-07-01",
            "--format",
            "csv"
        ]),
        "period,S,E,N,retained,reactivated,retention_rate,strict_retention_rate\n\
         1997-Q1,0,23500,23500,0,0,,\n\
         1997-Q2,23500,5376,0,5376,0,22.88,22.88\n\
         1997-Q3,5376,4263,0,2289,1974,79.3,42.58\n\
         1997-Q4,4263,4221,2,2063,2156,98.97,48.39\n\
         1998-Q1,4221,3817,0,1954,1863,90.43,46.29\n\
         1998-Q2,3817,3317,0,1760,1557,86.9,46.11\n"
    );
}
