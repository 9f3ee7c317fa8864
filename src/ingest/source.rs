//! Reading export files record by record: CSV (any delimiter, optional gzip), JSON Lines and
//! Parquet. Every record keeps its number (line for text, row for Parquet) and its raw text so
//! that a rejected record can be shown as it was.
//!
//! CSV and JSON Lines are read with the `csv` crate and serde_json rather than polars' readers:
//! the rejects table needs each bad record's line number and raw text, and a ragged line must be
//! a rejected record, not a failed file; polars' readers do not expose either.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Format, SourceConfig};
use crate::error::{Error, Result};

/// One export record, its fields aligned with the source's header.
#[derive(Debug, Default)]
pub struct Record {
    /// Line number in a text file (the header is line 1), row number in a Parquet file.
    pub number: u64,
    pub values: Vec<Option<String>>,
    pub raw: String,
    /// The record cannot be read as fields at all (wrong field count, not a JSON object).
    pub problem: Option<String>,
    /// Read, but with a caveat to flag (non-UTF-8 bytes decoded lossily).
    pub flag: Option<String>,
}

/// Called once with the header, then once per record. The header of a JSON Lines file grows as
/// new keys appear; `Sink::header` is called again each time it does.
pub trait Sink {
    fn header(&mut self, names: &[String]) -> Result<()>;
    fn record(&mut self, record: Record) -> Result<()>;
}

const PROGRESS_MIN_BYTES: u64 = 64 << 20;

fn open(path: &Path, cfg: &SourceConfig) -> Result<(Box<dyn BufRead>, Option<ProgressBar>)> {
    let file = File::open(path).map_err(|e| Error::source(path, format!("cannot open: {e}")))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = (len >= PROGRESS_MIN_BYTES).then(|| {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        pb.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        pb
    });
    let inner: Box<dyn Read> = match &progress {
        Some(pb) => Box::new(pb.wrap_read(file)),
        None => Box::new(file),
    };
    let reader: Box<dyn Read> = if cfg.gzip() {
        Box::new(flate2::read::MultiGzDecoder::new(inner))
    } else {
        inner
    };
    Ok((
        Box::new(BufReader::with_capacity(1 << 20, reader)),
        progress,
    ))
}

pub fn read(path: &Path, cfg: &SourceConfig, sink: &mut dyn Sink) -> Result<()> {
    if !path.exists() {
        return Err(Error::source(path, "file not found"));
    }

    match cfg.format() {
        Format::Csv => read_csv(path, cfg, sink),
        Format::Jsonl => read_jsonl(path, cfg, sink),
        Format::Parquet => read_parquet(path, sink),
    }
}

fn decode(bytes: &[u8], flag: &mut Option<String>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            *flag = Some("non-UTF-8 bytes, decoded lossily".into());
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// The record written back as one CSV line with the source's delimiter and quoting.
fn raw_csv(fields: &[String], delim: u8, quote: u8) -> String {
    let mut out = String::new();
    let q = quote as char;
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(delim as char);
        }
        if f.bytes()
            .any(|b| b == delim || b == quote || b == b'\n' || b == b'\r')
        {
            out.push(q);
            out.push_str(&f.replace(q, &format!("{q}{q}")));
            out.push(q);
        } else {
            out.push_str(f);
        }
    }
    out
}

fn read_csv(path: &Path, cfg: &SourceConfig, sink: &mut dyn Sink) -> Result<()> {
    let (reader, progress) = open(path, cfg)?;
    let delim = cfg.delimiter.as_bytes()[0];
    let quote = cfg.quote.as_bytes()[0];
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .quote(quote)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Vec<String>> = None;
    let read_err = |e: csv::Error| {
        let what = if e.is_io_error() {
            "read failed"
        } else {
            "malformed CSV"
        };
        Error::source(path, format!("{what}: {e}"))
    };
    loop {
        let more = rdr.read_byte_record(&mut record).map_err(read_err)?;
        if !more {
            break;
        }
        let number = record.position().map(|p| p.line()).unwrap_or(0);
        let mut flag = None;
        let fields: Vec<String> = record.iter().map(|f| decode(f, &mut flag)).collect();
        let Some(names) = &header else {
            let names = if cfg.has_header {
                let mut names: Vec<String> = fields
                    .iter()
                    .map(|f| f.trim().trim_start_matches('\u{feff}').to_string())
                    .collect();
                dedupe_names(&mut names);
                names
            } else {
                (1..=fields.len()).map(|i| format!("column_{i}")).collect()
            };
            sink.header(&names)?;
            header = Some(names);
            if cfg.has_header {
                continue;
            }
            let names = header.as_ref().expect("set above");
            emit_csv(sink, number, fields, names.len(), delim, quote, flag)?;
            continue;
        };
        if fields.len() == 1 && fields[0].trim().is_empty() && names.len() > 1 {
            continue; // a blank line is not a record
        }
        emit_csv(sink, number, fields, names.len(), delim, quote, flag)?;
    }
    if header.is_none() {
        return Err(Error::source(path, "empty file: no header"));
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    Ok(())
}

fn emit_csv(
    sink: &mut dyn Sink,
    number: u64,
    fields: Vec<String>,
    expected: usize,
    delim: u8,
    quote: u8,
    flag: Option<String>,
) -> Result<()> {
    let raw = raw_csv(&fields, delim, quote);
    let problem = (fields.len() != expected).then(|| {
        format!(
            "wrong field count: expected {expected}, found {}",
            fields.len()
        )
    });
    let values = fields.into_iter().map(Some).collect();
    sink.record(Record {
        number,
        values,
        raw,
        problem,
        flag,
    })
}

fn dedupe_names(names: &mut [String]) {
    for i in 1..names.len() {
        let mut n = 2;
        while names[..i].contains(&names[i]) {
            names[i] = format!("{}_{n}", names[i].trim_end_matches(&format!("_{}", n - 1)));
            n += 1;
        }
    }
}

fn read_jsonl(path: &Path, cfg: &SourceConfig, sink: &mut dyn Sink) -> Result<()> {
    let (mut reader, progress) = open(path, cfg)?;
    let mut header: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    sink.header(&header)?;
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
        let mut flag = None;
        let line = decode(&buf, &mut flag);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let mut rec = Record {
            number,
            raw: line.to_string(),
            flag,
            ..Default::default()
        };
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(map)) => {
                let before = header.len();
                let mut values = vec![None; header.len()];
                for (k, v) in map {
                    let i = *index.entry(k.clone()).or_insert_with(|| {
                        header.push(k);
                        header.len() - 1
                    });
                    if i >= values.len() {
                        values.resize(i + 1, None);
                    }
                    values[i] = json_text(v);
                }
                if header.len() != before {
                    sink.header(&header)?;
                }
                values.resize(header.len(), None);
                rec.values = values;
            }
            Ok(_) => rec.problem = Some("not a JSON object".into()),
            Err(e) => rec.problem = Some(format!("invalid JSON: {e}")),
        }
        sink.record(rec)?;
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    Ok(())
}

fn json_text(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn read_parquet(path: &Path, sink: &mut dyn Sink) -> Result<()> {
    use polars::prelude::*;
    let file = File::open(path).map_err(|e| Error::source(path, format!("cannot open: {e}")))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::source(path, format!("not a readable Parquet file: {e}")))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    sink.header(&names)?;
    let mut columns = Vec::with_capacity(names.len());
    for c in df.columns() {
        let s = c.as_materialized_series();
        let text = match s.dtype() {
            // Timestamps as ISO 8601 text: with a zone they are instants (written as UTC), without
            // one they are wall-clock times that the source's `timezone` places.
            DataType::Datetime(unit, tz) => {
                let per_micro = match unit {
                    TimeUnit::Nanoseconds => -1000,
                    TimeUnit::Microseconds => 1,
                    TimeUnit::Milliseconds => 1000,
                };
                let fmt = if tz.is_some() {
                    "%Y-%m-%dT%H:%M:%S%.fZ"
                } else {
                    "%Y-%m-%dT%H:%M:%S%.f"
                };
                let ints = s.cast(&DataType::Int64)?;
                let strings: Vec<Option<String>> = ints
                    .i64()?
                    .iter()
                    .map(|v| {
                        let micros = if per_micro < 0 {
                            v? / 1000
                        } else {
                            v? * per_micro
                        };
                        chrono::DateTime::from_timestamp_micros(micros)
                            .map(|d| d.naive_utc().format(fmt).to_string())
                    })
                    .collect();
                Series::new(s.name().clone(), strings)
            }
            _ => s.cast(&DataType::String)?,
        };
        columns.push(text.str()?.clone());
    }
    for row in 0..df.height() {
        let values: Vec<Option<String>> = columns
            .iter()
            .map(|c| c.get(row).map(str::to_string))
            .collect();
        let raw = serde_json::Value::Object(
            names
                .iter()
                .zip(&values)
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.clone()
                            .map(serde_json::Value::String)
                            .unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
        )
        .to_string();
        sink.record(Record {
            number: row as u64 + 1,
            values,
            raw,
            problem: None,
            flag: None,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_csv_requotes_fields() {
        let f = vec!["a".to_string(), "b;c".to_string(), "say \"hi\"".to_string()];
        assert_eq!(raw_csv(&f, b';', b'"'), "a;\"b;c\";\"say \"\"hi\"\"\"");
    }

    #[test]
    fn duplicate_header_names_are_made_unique() {
        let mut n = vec!["a".to_string(), "a".to_string(), "a".to_string()];
        dedupe_names(&mut n);
        assert_eq!(n, ["a", "a_2", "a_3"]);
    }
}
