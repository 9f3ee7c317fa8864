//! Reading export files record by record: CSV (any delimiter, optional gzip), JSON Lines and
//! Parquet. Every record keeps its number (line for text, row for Parquet) and its raw text so
//! that a rejected record can be shown as it was.
//!
//! CSV and JSON Lines are read with the `csv` crate and serde_json rather than polars' readers:
//! the rejects table needs each bad record's line number and raw text, and a ragged line must be
//! a rejected record, not a failed file; polars' readers do not expose either.
//!
//! A CSV export is read in parallel: one thread cuts the byte stream into chunks at record
//! boundaries, the workers parse the chunks into batches, and the calling thread merges the
//! batches in file order (duplicates, derived ids) and writes them. Record boundaries are found
//! by counting quotes, which is exact as long as quotes only open fields; at the first quote
//! that does not (`12" screen` in an unquoted field), the cutter switches to a full CSV state
//! machine (csv-core, the same one the parser uses) for the rest of the file, so a chunk never
//! starts inside a record.
//!
//! `files.rs` lists the files a source names (one, a folder's, a pattern's). One file per format: `csv.rs` (the parallel cutter and parser), `whitespace.rs`
//! (whitespace-aligned text), `jsonl.rs`, `parquet.rs`, `excel.rs` (workbooks).

mod csv;
pub mod excel;
pub mod files;
mod jsonl;
mod parquet;
pub mod postgres;
mod whitespace;

pub use csv::CHUNK_ENV;
use csv::read_csv;
use excel::read_excel;
use jsonl::read_jsonl;
use parquet::read_parquet;
use whitespace::read_whitespace;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::load::Merger;
use super::parse::{Batch, Raws, RowParser, Spec};
use crate::config::{Format, SourceConfig};
use crate::error::{Error, Result};
use crate::warehouse::{self, Fingerprinting, SourceFingerprint};

/// Rows per batch for the sequential readers (JSON Lines, Parquet).
const BATCH_ROWS: usize = 64 * 1024;
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

fn open(
    path: &Path,
    cfg: &SourceConfig,
    hashing: &Fingerprinting,
) -> Result<(Box<dyn BufRead + Send>, Option<ProgressBar>)> {
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
    // The file's own bytes are hashed, compressed or not, as `warehouse::fingerprint` does.
    let file = hashing.reader(file);
    let inner: Box<dyn Read + Send> = match &progress {
        Some(pb) => Box::new(pb.wrap_read(file)),
        None => Box::new(file),
    };
    let reader: Box<dyn Read + Send> = if cfg.gzip_of(path) {
        Box::new(flate2::read::MultiGzDecoder::new(inner))
    } else {
        inner
    };
    Ok((
        Box::new(BufReader::with_capacity(1 << 20, reader)),
        progress,
    ))
}

/// Reads one export into the merger, record by record in file order, and gives its
/// fingerprint: of the bytes read (CSV and JSON lines, hashed on the way), or of the file read
/// again (Parquet, which is read at random).
pub fn read(
    path: &Path,
    cfg: &SourceConfig,
    spec: &Spec,
    merger: &mut Merger,
) -> Result<SourceFingerprint> {
    let hashing = Fingerprinting::new(path, warehouse::source_size(path)?);
    match cfg.format_of(path) {
        Format::Csv if cfg.whitespace_delimited() => {
            read_whitespace(path, cfg, spec, merger, &hashing)?
        }
        Format::Csv => read_csv(path, cfg, spec, merger, &hashing)?,
        Format::Jsonl => read_jsonl(path, cfg, spec, merger, &hashing)?,
        Format::Parquet => {
            read_parquet(path, spec, merger)?;
            return warehouse::fingerprint(path);
        }
        Format::Excel => {
            read_excel(path, cfg, spec, merger)?;
            return warehouse::fingerprint(path);
        }
    }
    hashing.finish()
}

/// How a file is named in the load's counts and its rejects: its path, and for a workbook the
/// sheet read (`orders.xlsx#Orders`).
pub fn shown(path: &Path, cfg: &SourceConfig) -> Result<String> {
    if cfg.url.is_some() {
        return Ok(postgres::shown(cfg));
    }
    Ok(match cfg.format_of(path) {
        Format::Excel => format!("{}#{}", path.display(), excel::sheet_of(path, cfg)?),
        _ => path.display().to_string(),
    })
}

/// Calls `each` with every line of a text export: its number (from 1), its text without the line
/// end (LF or CRLF), and a flag when the line was not UTF-8 (then decoded lossily).
fn each_line(
    reader: &mut dyn BufRead,
    path: &Path,
    mut each: impl FnMut(u64, &str, Option<String>) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::source(path, format!("read failed: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let (line, flag) = match std::str::from_utf8(&buf) {
            Ok(s) => (std::borrow::Cow::Borrowed(s), None),
            Err(_) => (
                String::from_utf8_lossy(&buf),
                Some("non-UTF-8 bytes, decoded lossily".to_string()),
            ),
        };
        each(number, line.trim_end_matches(['\n', '\r']), flag)?;
    }
}

fn source_name(path: &Path) -> String {
    path.display().to_string()
}

/// Hands a sequential reader's batch to the merger and starts an empty one in its place.
fn flush(batch: &mut Batch, parser: &RowParser, merger: &mut Merger) -> Result<()> {
    let full = std::mem::replace(batch, parser.batch(BATCH_ROWS, Raws::Stored(Vec::new())));
    merger.merge(full, parser)
}
