//! Excel and OpenDocument workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) through calamine:
//! one sheet (`sheet`, else the first), its first non-empty row the header (unless `has_header`
//! is false), every later row a record numbered as Excel numbers it. A cell becomes the text a
//! CSV export would hold: a date cell (an Excel serial number shown as a date) its ISO date or
//! time, a whole number without a decimal point; a text date stays text and parses with the
//! source's `date_format` / `timestamp_format` like any export's. A cell holding an Excel error
//! (`#DIV/0!`, `#N/A`) rejects its row, naming the column.

use std::path::Path;

use calamine::{Data, Reader};

use super::{BATCH_ROWS, flush, source_name};
use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::ingest::load::Merger;
use crate::ingest::parse::{Raws, RowParser, Spec};

/// The sheet a source reads: the configured one, else the workbook's first.
pub fn sheet_of(path: &Path, cfg: &SourceConfig) -> Result<String> {
    let book = calamine::open_workbook_auto(path)
        .map_err(|e| Error::source(path, format!("cannot open the workbook: {e}")))?;
    pick_sheet(path, cfg, &book.sheet_names())
}

fn pick_sheet(path: &Path, cfg: &SourceConfig, names: &[String]) -> Result<String> {
    match &cfg.sheet {
        Some(s) if names.contains(s) => Ok(s.clone()),
        Some(s) => Err(Error::source(
            path,
            format!(
                "no sheet named {s:?}; the workbook has {}",
                names.join(", ")
            ),
        )),
        None => names
            .first()
            .cloned()
            .ok_or_else(|| Error::source(path, "the workbook has no sheet")),
    }
}

pub(super) fn read_excel(
    path: &Path,
    cfg: &SourceConfig,
    spec: &Spec,
    merger: &mut Merger,
) -> Result<()> {
    let mut book = calamine::open_workbook_auto(path)
        .map_err(|e| Error::source(path, format!("cannot open the workbook: {e}")))?;
    let sheet = pick_sheet(path, cfg, &book.sheet_names())?;
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| Error::source(path, format!("cannot read sheet {sheet:?}: {e}")))?;
    // Row numbers as Excel shows them: the range starts at the sheet's first used cell.
    let first_row = range.start().map_or(1, |(r, _)| u64::from(r) + 1);
    let mut rows = range
        .rows()
        .enumerate()
        .map(|(i, row)| (first_row + i as u64, row))
        .filter(|(_, row)| row.iter().any(|c| !matches!(c, Data::Empty)));
    let Some((_, first)) = rows.next() else {
        return Err(Error::source(
            path,
            format!("sheet {sheet:?} is empty: no header"),
        ));
    };
    let mut pending = None;
    let names: Vec<String> = if cfg.has_header {
        let mut names: Vec<String> = first
            .iter()
            .map(|c| cell_text(c).0.unwrap_or_default().trim().to_string())
            .collect();
        super::csv::dedupe_names(&mut names);
        names
    } else {
        pending = Some((first_row, first));
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    };
    let parser = RowParser::new(spec, &names);
    parser.check_required(&source_name(path))?;
    let mut batch = parser.batch(BATCH_ROWS, Raws::Stored(Vec::new()));
    for (number, row) in pending.into_iter().chain(rows) {
        let cells: Vec<(Option<String>, Option<String>)> = row.iter().map(cell_text).collect();
        let problem = cells
            .iter()
            .zip(&names)
            .find_map(|((_, err), name)| err.as_ref().map(|e| format!("{e} in {name}")));
        let fields: Vec<Option<&str>> = cells.iter().map(|(v, _)| v.as_deref()).collect();
        let raw = || {
            let values: Vec<String> = cells
                .iter()
                .map(|(v, _)| v.clone().unwrap_or_default())
                .collect();
            format!(
                "{sheet}!{number}: {}",
                crate::ingest::parse::raw_csv(&values, b',', b'"')
            )
        };
        parser.parse(&mut batch, number, &fields, &raw, problem, None);
        if batch.read() as usize >= BATCH_ROWS {
            flush(&mut batch, &parser, merger)?;
        }
    }
    merger.merge(batch, &parser)
}

/// A cell as the text a CSV export would hold, or the reason it cannot be read.
fn cell_text(cell: &Data) -> (Option<String>, Option<String>) {
    match cell {
        Data::Empty => (None, None),
        Data::String(s) => (Some(s.clone()), None),
        Data::Int(i) => (Some(i.to_string()), None),
        Data::Float(f) => (Some(number_text(*f)), None),
        Data::Bool(b) => (Some(b.to_string()), None),
        Data::DateTime(d) => match d.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN && d.is_datetime() => {
                (Some(dt.format("%Y-%m-%d").to_string()), None)
            }
            Some(dt) if d.is_datetime() => {
                (Some(dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string()), None)
            }
            _ => (Some(number_text(d.as_f64())), None),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => (Some(s.clone()), None),
        Data::Error(e) => (None, Some(format!("Excel error value {e}"))),
    }
}

/// A number as an export writes it: whole numbers without a decimal point (an id typed as a
/// number is still `1001`), others in the shortest form that reads back the same.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_an_export_writes_them() {
        assert_eq!(cell_text(&Data::Float(1001.0)).0.as_deref(), Some("1001"));
        assert_eq!(cell_text(&Data::Float(10.5)).0.as_deref(), Some("10.5"));
        assert_eq!(cell_text(&Data::Int(7)).0.as_deref(), Some("7"));
        assert_eq!(cell_text(&Data::Empty), (None, None));
        let err = cell_text(&Data::Error(calamine::CellErrorType::Div0))
            .1
            .unwrap();
        assert!(err.starts_with("Excel error value"), "{err}");
    }
}
