//! Properties of ingest over arbitrary input (DATA-CONTRACT.md "Bad input"): whatever bytes an
//! export holds, a load never panics, and when it loads, every record is accounted for.
//! Called through the library rather than the binary, so that hundreds of inputs take seconds.

use proptest::prelude::*;

use crm::config::Config;
use crm::ingest::{IngestOptions, ingest};

/// Bytes drawn mostly from what makes CSV and JSON hard: delimiters, quotes, line ends, braces,
/// NUL and invalid UTF-8, around digits and letters that parse as ids, dates and amounts.
fn export_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"abcC0123456789-.:T ".to_vec()),
        3 => prop::sample::select(b",;\"\n\r{}[]\\".to_vec()),
        1 => prop::sample::select(vec![0u8, 0xff, 0xc3, 0xa9, b'\t', b'e']),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..600)
}

/// A plausible beginning, so that many inputs get past the header to the records.
fn prefix() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![
        &b""[..],
        &b"transaction_id,customer_id,ts,amount\n"[..],
        &b"transaction_id,customer_id,ts,amount\nT1,C1,2024-01-05,10.00\n"[..],
        &b"{\"transaction_id\":\"T1\",\"customer_id\":\"C1\",\"ts\":\"2024-01-05\",\"amount\":1}\n"
            [..],
    ])
}

fn load(format: &str, bytes: &[u8]) -> Result<Vec<(u64, u64, u64, u64)>, String> {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join(format!("orders.{format}"));
    std::fs::write(&export, bytes).unwrap();
    let cfg_path = dir.path().join("crm.toml");
    let text = format!(
        "[warehouse]\npath = \"wh\"\n[sources.transactions]\npath = {:?}\nmax_reject_rate = 1.0\n",
        export.to_str().unwrap()
    );
    let config = Config::parse(&text, &cfg_path).unwrap();
    let report = ingest(&config, &IngestOptions::default()).map_err(|e| e.to_string())?;
    Ok(report
        .files
        .iter()
        .map(|f| (f.read, f.loaded, f.rejected, f.duplicates))
        .collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_in_no_panic_and_the_counts_add_up(
        head in prefix(),
        body in export_bytes(),
        jsonl in any::<bool>(),
    ) {
        let bytes = [head, &body[..]].concat();
        let format = if jsonl { "jsonl" } else { "csv" };
        // A panic fails the property; an error (no header, no required column) is an answer.
        if let Ok(files) = load(format, &bytes) {
            for (read, loaded, rejected, duplicates) in files {
                prop_assert_eq!(read, loaded + rejected + duplicates);
            }
        }
    }
}
