//! Whitespace-aligned text, as old systems write it (`delimiter = "whitespace"`): fields
//! separated by runs of spaces or tabs, leading and trailing blanks ignored, CRLF or LF line
//! ends, no quoting. CDNOW's original `CDNOW_master.txt` is such a file:
//! `   00001 19970101  1  11.77`. Read line by line, in batches, like JSON Lines; a line with
//! the wrong number of fields is rejected with its line number and text.

use std::path::Path;

use super::{BATCH_ROWS, each_line, flush, open, source_name};
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
    each_line(&mut reader, path, |number, line, flag| {
        let fields: Vec<&str> = fields(line);
        if fields.is_empty() {
            return Ok(());
        }
        let (p, b) = match (&parser, &mut batch) {
            (Some(p), Some(b)) => (p, b),
            _ => {
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
                    return Ok(());
                }
                (
                    parser.as_ref().expect("just set"),
                    batch.as_mut().expect("just set"),
                )
            }
        };
        parse_line(p, b, number, &fields, line, expected, flag);
        if b.read() as usize >= BATCH_ROWS {
            flush(b, p, merger)?;
        }
        Ok(())
    })?;
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
