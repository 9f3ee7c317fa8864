//! CSV exports, read in parallel: one thread cuts the byte stream into chunks at record
//! boundaries, the workers parse the chunks into batches, and the calling thread merges the
//! batches in file order (see `mod.rs`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::{open, source_name};
use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::ingest::load::Merger;
use crate::ingest::parse::{Batch, Raws, RowParser, Spec, raw_csv};
use crate::warehouse::Fingerprinting;

/// Bytes per CSV chunk handed to a worker.
const CHUNK_BYTES: usize = 4 << 20;
/// Environment variable setting the chunk size instead, for the tests that prove a file cut into
/// many chunks loads exactly as one chunk does.
pub const CHUNK_ENV: &str = "CRM_INGEST_CHUNK_BYTES";

fn chunk_bytes() -> usize {
    crate::ingest::size_from_env(CHUNK_ENV, CHUNK_BYTES)
}

fn csv_reader(bytes: &[u8], delim: u8, quote: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delim)
        .quote(quote)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

/// A piece of a CSV file that starts and ends at record boundaries.
struct Chunk {
    seq: u64,
    bytes: Vec<u8>,
    /// Line number of the chunk's first line in the file.
    first_line: u64,
    /// The file's last chunk only: where its last record starts when that record opens a
    /// quote the file never closes (the record runs to the end of the file).
    open_quote_from: Option<usize>,
}

pub(super) fn read_csv(
    path: &Path,
    cfg: &SourceConfig,
    spec: &Spec,
    merger: &mut Merger,
    hashing: &Fingerprinting,
) -> Result<()> {
    let (mut reader, progress) = open(path, cfg, hashing)?;
    let delim = cfg.delimiter.as_bytes()[0];
    let quote = cfg.quote.as_bytes()[0];
    let read_err = |e: std::io::Error| Error::source(path, format!("read failed: {e}"));

    // The first record, read whole: the header (or, without one, the field count).
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    let (first, consumed) = loop {
        let mut rdr = csv_reader(&buf, delim, quote);
        let mut rec = csv::ByteRecord::new();
        let got = rdr.read_byte_record(&mut rec).unwrap_or(false);
        let consumed = rdr.position().byte() as usize;
        if got && (consumed < buf.len() || eof) {
            break (Some(rec), consumed);
        }
        if eof {
            break (None, 0);
        }
        eof = fill(&mut reader, &mut buf, 1 << 16).map_err(read_err)?;
    };
    let Some(first) = first else {
        return Err(Error::source(path, "empty file: no header"));
    };
    // The line the first chunk starts on: after the header's lines (and any blank ones before).
    let (names, rest, first_line) = if cfg.has_header {
        let mut names: Vec<String> = first
            .iter()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_string()
            })
            .collect();
        dedupe_names(&mut names);
        let lines = memchr::memchr_iter(b'\n', &buf[..consumed]).count() as u64;
        (names, buf.split_off(consumed), 1 + lines)
    } else {
        let names = (1..=first.len()).map(|i| format!("column_{i}")).collect();
        (names, buf, 1)
    };
    let parser = RowParser::new(spec, &names);
    parser.check_required(&source_name(path))?;
    let expected = names.len();
    // Records expected, from the file's size and the lines read so far (a gzip export's size
    // understates them; the map then grows as usual).
    if !cfg.gzip_of(path) && rest.len() > 4096 {
        let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let lines = memchr::memchr_iter(b'\n', &rest).count().max(1);
        let estimate = file_bytes as f64 / (rest.len() as f64 / lines as f64);
        merger.expect_rows(estimate as usize);
    }

    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(workers * 2);
    // Parsed batches waiting for the merge: one a worker (about 40k records, 15 MB each; twice
    // as many held 30 MB more at no gain in time).
    let (batch_tx, batch_rx) = crossbeam_channel::bounded::<(u64, Batch)>(workers);
    let parser = &parser;
    let result = std::thread::scope(|s| -> Result<()> {
        let cutter = s.spawn(move || {
            let cut = Cut {
                delim,
                quote,
                chunk_bytes: chunk_bytes(),
            };
            cut.chunks(&mut reader, rest, first_line, eof, chunk_tx)
        });
        for _ in 0..workers {
            let rx = chunk_rx.clone();
            let tx = batch_tx.clone();
            s.spawn(move || {
                for chunk in rx {
                    let seq = chunk.seq;
                    let batch = parse_chunk(parser, chunk, delim, quote, expected);
                    if tx.send((seq, batch)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(chunk_rx);
        drop(batch_tx);
        // Merge in file order; batches arrive in any order.
        let mut waiting: BTreeMap<u64, Batch> = BTreeMap::new();
        let mut next = 0u64;
        for (seq, batch) in &batch_rx {
            waiting.insert(seq, batch);
            while let Some(batch) = waiting.remove(&next) {
                merger.merge(batch, parser)?;
                next += 1;
            }
        }
        drop(batch_rx);
        if !waiting.is_empty() {
            return Err(Error::source(
                path,
                "internal: a chunk of the file was not parsed",
            ));
        }
        cutter
            .join()
            .map_err(|_| Error::source(path, "internal: the reading thread panicked"))?
            .map_err(read_err)
    });
    result?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    Ok(())
}

/// Appends up to `n` bytes from the reader; true at the end of the input.
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, n: usize) -> std::io::Result<bool> {
    let got = (&mut *reader).take(n as u64).read_to_end(buf)?;
    Ok(got == 0)
}

struct Cut {
    delim: u8,
    quote: u8,
    chunk_bytes: usize,
}

impl Cut {
    /// Cuts the stream after the first record into chunks of whole records, in order.
    fn chunks(
        &self,
        reader: &mut dyn Read,
        mut buf: Vec<u8>,
        mut line: u64,
        mut eof: bool,
        tx: crossbeam_channel::Sender<Chunk>,
    ) -> std::io::Result<()> {
        let Cut {
            delim,
            quote,
            chunk_bytes,
        } = *self;
        let mut seq = 0u64;
        // The last byte before `buf`: what the first quote in it follows.
        let mut before: u8 = b'\n';
        let mut in_quote = false;
        // Bytes of `buf` looked at, and the end of the last whole record among them.
        let mut scanned = 0usize;
        let mut boundary = 0usize;
        let mut exact: Option<csv_core::Reader> = None;
        let mut scratch = vec![0u8; 1 << 16];
        let mut ends = vec![0usize; 1024];
        loop {
            if exact.is_none() {
                let mut irregular = false;
                for pos in memchr::memchr2_iter(quote, b'\n', &buf[scanned..]) {
                    let pos = scanned + pos;
                    if buf[pos] == quote {
                        if !in_quote {
                            let prev = if pos == 0 { before } else { buf[pos - 1] };
                            if !(prev == delim || prev == b'\n' || prev == b'\r' || prev == quote) {
                                irregular = true;
                                break;
                            }
                        }
                        in_quote = !in_quote;
                    } else if !in_quote {
                        boundary = pos + 1;
                    }
                }
                if irregular {
                    // `buf` starts at a record boundary: parse it exactly from there on.
                    exact = Some(
                        csv_core::ReaderBuilder::new()
                            .delimiter(delim)
                            .quote(quote)
                            .build(),
                    );
                    scanned = 0;
                    boundary = 0;
                } else {
                    scanned = buf.len();
                }
            }
            if let Some(r) = &mut exact {
                loop {
                    let (res, nin, _, _) = r.read_record(&buf[scanned..], &mut scratch, &mut ends);
                    scanned += nin;
                    match res {
                        csv_core::ReadRecordResult::Record => boundary = scanned,
                        csv_core::ReadRecordResult::OutputFull
                        | csv_core::ReadRecordResult::OutputEndsFull => {}
                        csv_core::ReadRecordResult::InputEmpty
                        | csv_core::ReadRecordResult::End => break,
                    }
                }
            }
            let cut = if eof {
                buf.len()
            } else if buf.len() >= chunk_bytes && boundary > 0 {
                boundary
            } else {
                0
            };
            // At the end, a last record still inside a quote: in the exact path, told by the
            // parity of its quote bytes (an escaped quote is two).
            let open_quote_from = (eof && boundary < buf.len())
                .then(|| match &exact {
                    None => in_quote,
                    Some(_) => memchr::memchr_iter(quote, &buf[boundary..]).count() % 2 == 1,
                })
                .filter(|open| *open)
                .map(|_| boundary);
            if cut > 0 {
                // The rest goes into a buffer the size of a chunk, so filling it never reallocates.
                let mut rest = Vec::with_capacity(chunk_bytes + (1 << 20));
                rest.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                let bytes = std::mem::replace(&mut buf, rest);
                before = bytes[cut - 1];
                let lines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
                let chunk = Chunk {
                    seq,
                    bytes,
                    first_line: line,
                    open_quote_from,
                };
                if tx.send(chunk).is_err() {
                    return Ok(()); // the merge stopped (an error it reports itself)
                }
                seq += 1;
                line += lines;
                scanned -= cut;
                boundary = 0;
            }
            if eof {
                return Ok(());
            }
            eof = fill(reader, &mut buf, chunk_bytes.min(1 << 20))?;
        }
    }
}

/// Parses one chunk of whole records into a batch.
///
/// A chunk without a quote byte, whose carriage returns all end lines (nearly every export
/// cut from a database), is split at line ends and delimiters with memchr: in such a chunk a
/// line is a record and a delimiter ends a field, exactly what csv-core reads there, at a
/// fraction of its per-byte state machine. Any other chunk is read by csv-core. A chunk that is
/// valid UTF-8 as a whole is checked once, not field by field.
fn parse_chunk(parser: &RowParser, chunk: Chunk, delim: u8, quote: u8, expected: usize) -> Batch {
    let mut batch = parser.batch(
        chunk.bytes.len() / 64,
        Raws::Csv {
            bytes: Vec::new(),
            starts: Vec::new(),
            delimiter: delim,
            quote,
        },
    );
    let mut starts: Vec<u32> = Vec::with_capacity(chunk.bytes.len() / 64);
    let bytes = &chunk.bytes[..];
    // Fields cut from valid UTF-8 at ASCII bytes (delimiters, quotes, line ends), with ASCII
    // quotes taken out, are valid UTF-8.
    let utf8 = delim.is_ascii() && quote.is_ascii() && std::str::from_utf8(bytes).is_ok();
    {
        let mut record = |line: u64, start: usize, rec: &[&[u8]]| {
            let number = chunk.first_line + line - 1;
            let fields_n = rec.len();
            if fields_n == 1 && expected > 1 && rec[0].trim_ascii().is_empty() {
                return; // a blank line is not a record
            }
            let problem = if chunk.open_quote_from.is_some_and(|from| start >= from) {
                let lines = memchr::memchr_iter(b'\n', &bytes[start..]).count();
                Some(format!(
                    "unterminated quote: a quoted field opened in this record is never closed, \
                     so the record runs over the {} line(s) to the end of the file",
                    lines + 1
                ))
            } else {
                (fields_n != expected)
                    .then(|| format!("wrong field count: expected {expected}, found {fields_n}"))
            };
            let rows_before = batch.rows();
            // The fields borrowed from the record: on the stack unless the record is wide.
            let mut arr: [Option<&str>; 32] = [None; 32];
            let wide: Vec<Option<&str>>;
            let mut valid = true;
            let fields: &[Option<&str>] = if utf8 {
                if fields_n <= 32 {
                    for (slot, f) in arr.iter_mut().zip(rec) {
                        // SAFETY: `f` is a field of a chunk found valid UTF-8 (see above).
                        *slot = Some(unsafe { std::str::from_utf8_unchecked(f) });
                    }
                    &arr[..fields_n]
                } else {
                    wide = rec
                        .iter()
                        // SAFETY: as above.
                        .map(|f| Some(unsafe { std::str::from_utf8_unchecked(f) }))
                        .collect();
                    &wide
                }
            } else if fields_n <= 32 {
                for (slot, f) in arr.iter_mut().zip(rec) {
                    match std::str::from_utf8(f) {
                        Ok(f) => *slot = Some(f),
                        Err(_) => valid = false,
                    }
                }
                &arr[..fields_n]
            } else {
                wide = rec.iter().map(|f| std::str::from_utf8(f).ok()).collect();
                valid = wide.iter().all(Option::is_some);
                &wide
            };
            if valid {
                let plain = || {
                    let owned: Vec<String> =
                        fields.iter().map(|f| f.unwrap_or("").to_string()).collect();
                    raw_csv(&owned, delim, quote)
                };
                parser.parse(&mut batch, number, fields, &plain, problem, None);
            } else {
                let owned: Vec<String> = rec
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                let fields: Vec<Option<&str>> = owned.iter().map(|f| Some(f.as_str())).collect();
                let plain = || raw_csv(&owned, delim, quote);
                let flag = Some("non-UTF-8 bytes, decoded lossily".to_string());
                parser.parse(&mut batch, number, &fields, &plain, problem, flag);
            }
            if batch.rows() > rows_before {
                starts.push(start as u32);
            }
        };
        each_record(bytes, delim, quote, &mut record);
    }
    batch.raws = Raws::Csv {
        bytes: chunk.bytes,
        starts,
        delimiter: delim,
        quote,
    };
    batch
}

/// Called once per record: its line number, its byte offset in the chunk and its fields.
type OnRecord<'a> = dyn FnMut(u64, usize, &[&[u8]]) + 'a;

/// Calls `f` with each record of `bytes` (whole records): its line (from 1), where it starts,
/// and its fields.
fn each_record(bytes: &[u8], delim: u8, quote: u8, f: &mut OnRecord<'_>) {
    if plain_lines(bytes, quote) && delim != b'\r' && delim != b'\n' {
        split_lines(bytes, delim, f)
    } else {
        csv_records(bytes, delim, quote, f)
    }
}

/// `bytes` holds no quote and no carriage return but at a line's end: its lines are its
/// records, its delimiters end its fields.
fn plain_lines(bytes: &[u8], quote: u8) -> bool {
    memchr::memchr(quote, bytes).is_none()
        && memchr::memchr_iter(b'\r', bytes).all(|i| bytes.get(i + 1) == Some(&b'\n'))
}

/// The records of `bytes` as csv-core reads them where [`plain_lines`] holds: each line
/// (without its `\r\n` or `\n`) that is not empty, cut at every delimiter.
fn split_lines<'a>(bytes: &'a [u8], delim: u8, f: &mut OnRecord<'_>) {
    let mut arr: [&'a [u8]; 32] = [&[]; 32];
    let mut wide: Vec<&'a [u8]> = Vec::new();
    let mut n = 0;
    let push = |n: usize, field: &'a [u8], arr: &mut [&'a [u8]; 32], wide: &mut Vec<&'a [u8]>| {
        if n < 32 {
            arr[n] = field;
        } else {
            if n == 32 {
                wide.clear();
                wide.extend_from_slice(arr);
            }
            wide.push(field);
        }
    };
    let mut line = 0u64;
    let mut start = 0usize;
    let mut from = 0usize;
    // One pass over the chunk for delimiters and line feeds together.
    for at in memchr::memchr2_iter(delim, b'\n', bytes).chain([bytes.len()]) {
        if at < bytes.len() && bytes[at] == delim {
            push(n, &bytes[from..at], &mut arr, &mut wide);
            n += 1;
            from = at + 1;
            continue;
        }
        if start >= bytes.len() {
            break;
        }
        line += 1;
        let last = &bytes[from..at];
        let last = last.strip_suffix(b"\r").unwrap_or(last);
        if n > 0 || !last.is_empty() {
            push(n, last, &mut arr, &mut wide);
            n += 1;
            f(line, start, if n <= 32 { &arr[..n] } else { &wide });
        }
        n = 0;
        start = at + 1;
        from = at + 1;
    }
}

/// The records of `bytes` read by csv-core. csv places a record where it began reading it:
/// before the line feed of a CRLF and before blank lines. Past those is where the record
/// starts, on the line the file shows it.
fn csv_records(bytes: &[u8], delim: u8, quote: u8, f: &mut OnRecord<'_>) {
    let mut rdr = csv_reader(bytes, delim, quote);
    let mut rec = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut rec).unwrap_or(false) {
        let pos = rec.position().expect("read records have a position");
        let (mut line, mut start) = (pos.line(), pos.byte() as usize);
        while let Some(&b @ (b'\r' | b'\n')) = bytes.get(start) {
            line += (b == b'\n') as u64;
            start += 1;
        }
        let fields: Vec<&[u8]>;
        let mut arr: [&[u8]; 32] = [&[]; 32];
        let fields = if rec.len() <= 32 {
            for (slot, field) in arr.iter_mut().zip(rec.iter()) {
                *slot = field;
            }
            &arr[..rec.len()]
        } else {
            fields = rec.iter().collect();
            &fields[..]
        };
        f(line, start, fields);
    }
}

pub(super) fn dedupe_names(names: &mut [String]) {
    // A set of the names taken and the next suffix per name: a header of 100k columns is
    // renamed in one pass, not by comparing every name with all before it.
    let mut taken: std::collections::HashSet<String> =
        std::collections::HashSet::with_capacity(names.len());
    let mut next: std::collections::HashMap<String, usize> = Default::default();
    for name in names.iter_mut() {
        if taken.insert(name.clone()) {
            continue;
        }
        let n = next.entry(name.clone()).or_insert(2);
        loop {
            let candidate = format!("{name}_{n}");
            *n += 1;
            if taken.insert(candidate.clone()) {
                *name = candidate;
                break;
            }
        }
    }
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
        let mut n: Vec<String> = ["a", "a", "a_2", "", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        dedupe_names(&mut n);
        assert_eq!(n, ["a", "a_2", "a_2_2", "", "_2"]);
        // 100k unnamed columns: every name distinct (this took minutes when each name was
        // compared with all before it).
        let mut n = vec![String::new(); 100_000];
        dedupe_names(&mut n);
        let distinct: std::collections::HashSet<&String> = n.iter().collect();
        assert_eq!(distinct.len(), 100_000);
    }

    fn records(
        each: fn(&[u8], u8, &mut OnRecord<'_>),
        bytes: &[u8],
    ) -> Vec<(u64, usize, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        each(bytes, b';', &mut |line, start, fields| {
            out.push((line, start, fields.iter().map(|f| f.to_vec()).collect()))
        });
        out
    }

    /// Where a chunk has no quote and no carriage return but before a line feed, splitting it
    /// at line ends and delimiters gives what csv-core reads: the same records, lines, starts
    /// and fields, for blank lines, CRLF, trailing delimiters, a missing last line end,
    /// records wider than the 32 fields held on the stack, and bytes that are not UTF-8.
    #[test]
    fn split_lines_reads_what_csv_core_reads() {
        let pieces: [&[u8]; 9] = [
            b"a",
            b"bc",
            b";",
            b";",
            b"\n",
            b"\r\n",
            b" ",
            "é".as_bytes(),
            b"\xff",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n\n".to_vec(),
            b"a;b\r\n\r\nc;d".to_vec(),
            b" \n;\n;;\n".to_vec(),
            [b"x;".repeat(40), b"\ny\n".to_vec()].concat(),
        ];
        for _ in 0..3000 {
            let len = (next() % 60) as usize;
            let mut bytes = Vec::new();
            for _ in 0..len {
                bytes.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            cases.push(bytes);
        }
        for bytes in &cases {
            assert!(plain_lines(bytes, b'"'));
            let csv = records(|b, d, f| csv_records(b, d, b'"', f), bytes);
            assert_eq!(
                records(split_lines, bytes),
                csv,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // A record is on the line the file shows it on, past blank lines and CRLFs.
        let lines: Vec<u64> = records(split_lines, b"a;b\r\n\r\n\nc;d\r\ne")
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(lines, [1, 4, 5]);
        assert!(!plain_lines(b"a;b\rc\n", b'"'));
        assert!(!plain_lines(b"a;b\r", b'"'));
        assert!(!plain_lines(b"a;\"b\"\n", b'"'));
    }
}
