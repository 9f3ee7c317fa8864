//! Whitespace-aligned text, as old systems write it (`delimiter = "whitespace"`): fields
//! separated by runs of spaces or tabs, leading and trailing blanks ignored, CRLF or LF line
//! ends, no quoting. CDNOW's original `CDNOW_master.txt` is such a file:
//! `   00001 19970101  1  11.77`. Read line by line, in batches, like JSON Lines; a line with
//! the wrong number of fields is rejected with its line number and text.

use std::io::BufRead;
use std::path::Path;

use super::{BATCH_ROWS, flush, open, source_name};
use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::ingest::load::Merger;
use crate::ingest::parse::{Raws, RowParser, Spec};
use crate::warehouse::Fingerprinting;

pub(super) fn read_whitespace(
    path: &Path,
    cfg: &SourceConfig,
    spec: &Spec,
    merger: &mut Merger,
    hashing: &Fingerprinting,
) -> Result<()> {
    let (mut reader, progress) = open(path, cfg, hashing)?;
    let mut parser: Option<RowParser> = None;
    let mut batch = None;
    let mut expected = 0usize;
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::source(path, format!("read failed: {e}")))?;
        if n == 0 {
            break;
        }
        number += 1;
        let (line, flag) = match std::str::from_utf8(&buf) {
            Ok(s) => (std::borrow::Cow::Borrowed(s), None),
            Err(_) => (
                String::from_utf8_lossy(&buf),
                Some("non-UTF-8 bytes, decoded lossily".to_string()),
            ),
        };
        let line = line.trim_end_matches(['\n', '\r']);
        let fields: Vec<&str> = fields(line);
        if fields.is_empty() {
            continue;
        }
        let Some(p) = &parser else {
            // The first line that holds anything: the header, or the field count.
            let names: Vec<String> = if cfg.has_header {
                let mut names: Vec<String> = fields
                    .iter()
                    .map(|f| f.trim_start_matches('\u{feff}').to_string())
                    .collect();
                super::csv::dedupe_names(&mut names);
                names
            } else {
                (1..=fields.len()).map(|i| format!("column_{i}")).collect()
            };
            expected = names.len();
            let p = RowParser::new(spec, &names);
            p.check_required(&source_name(path))?;
            batch = Some(p.batch(BATCH_ROWS, Raws::Stored(Vec::new())));
            parser = Some(p);
            if cfg.has_header {
                continue;
            }
            let p = parser.as_ref().expect("just set");
            parse_line(
                p,
                batch.as_mut().expect("just set"),
                number,
                &fields,
                line,
                expected,
                flag,
            );
            continue;
        };
        let b = batch.as_mut().expect("set with the parser");
        parse_line(p, b, number, &fields, line, expected, flag);
        if b.read() as usize >= BATCH_ROWS {
            flush(b, p, merger)?;
        }
    }
    let (Some(parser), Some(batch)) = (parser, batch) else {
        return Err(Error::source(path, "empty file: no header"));
    };
    merger.merge(batch, &parser)?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    Ok(())
}

/// The fields of a line: the runs of characters between blanks (spaces and tabs).
fn fields(line: &str) -> Vec<&str> {
    line.split([' ', '\t']).filter(|f| !f.is_empty()).collect()
}

fn parse_line(
    parser: &RowParser,
    batch: &mut crate::ingest::parse::Batch,
    number: u64,
    fields: &[&str],
    line: &str,
    expected: usize,
    flag: Option<String>,
) {
    let problem = (fields.len() != expected).then(|| {
        format!(
            "wrong field count: expected {expected}, found {}",
            fields.len()
        )
    });
    let values: Vec<Option<&str>> = fields.iter().map(|f| Some(*f)).collect();
    parser.parse(batch, number, &values, &|| line.to_string(), problem, flag);
}

#[cfg(test)]
mod tests {
    use super::fields;

    #[test]
    fn runs_of_blanks_separate_fields_and_edges_are_ignored() {
        assert_eq!(
            fields("   00001 19970101  1  11.77"),
            ["00001", "19970101", "1", "11.77"]
        );
        assert_eq!(fields("a\t\tb \t c  "), ["a", "b", "c"]);
        assert!(fields("   \t ").is_empty());
        assert!(fields("").is_empty());
    }
}
