//! CDNOW (../shared/data/cdnow): real transactions loaded through a mapping alone.

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
