//! The value parsers: timestamps (ISO 8601, configured formats and their fixed-layout fast
//! path, zones with DST gaps), dates, amounts and scores, each checked against its promise.
#![no_main]

use crm::config::Table;
use crm::ingest::schema::{self, TimeFormats, Value};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let zones = [chrono_tz::UTC, chrono_tz::Europe::Paris, chrono_tz::America::New_York];
    let formats = [
        None,
        Some("%d.%m.%Y %H:%M"),
        Some("%Y%m%d"),
        Some("%Y-%m-%d %H:%M:%S"),
        Some("%m/%d/%Y %I:%M %p"),
    ];
    for (i, f) in formats.iter().enumerate() {
        let tf = TimeFormats::new(f.map(String::from), f.map(String::from), zones[i % 3])
            .valid_between(0, 4_102_444_800_000_000);
        let _ = schema::parse_timestamp(text, &tf);
        let _ = schema::parse_date(text, &tf);
        for spec in schema::columns(Table::Transactions)
            .iter()
            .chain(schema::columns(Table::Interactions))
        {
            match schema::parse_value(spec, Some(text), &tf) {
                Ok(Value::F64(v)) => assert!(v.abs() < schema::MAX_AMOUNT, "{text:?} -> {v}"),
                Ok(Value::Timestamp(t)) => assert!((0..4_102_444_800_000_000).contains(&t)),
                Ok(Value::Str(s)) if spec.name.ends_with("_id") => {
                    assert!(!s.contains(['\0', '\n', '\r']), "{text:?}")
                }
                _ => {}
            }
        }
    }
});
