//! The second stage of validating export records: a [`Merger`] per export, fed the batches of
//! `parse.rs`'s `RowParser` in file order: derived-id occurrence numbers, duplicates against the
//! warehouse and earlier records, superseded customers and flags. The surviving rows go to the
//! output: streamed into a Parquet file one row group at a time, or kept (customers, which are
//! merged with the warehouse's rows afterwards).
//!
//! Every record read ends up loaded, rejected (with its reason) or counted as a duplicate; the
//! two stages only split that decision between the part that runs in parallel (parse) and the
//! part that depends on the records before (merge).

use std::path::PathBuf;

use polars::prelude::*;
use rustc_hash::FxHashMap;

use super::idmap::IdKey;
use super::keys::{CustomerKeys, add_keys};
use super::parquet::RowGroupWriter;
use super::parse::*;
use super::schema;
use super::sort::{self, Sorted, SortedWriter};
use crate::config::Table;
use crate::error::Result;
use crate::warehouse::FileStats;

/// What the warehouse already holds for a table: id -> record hash. Rows loaded earlier in the
/// same run are added, so two exports in one run are deduplicated against each other too.
pub type KnownIds = super::idmap::IdMap;

/// How many records ahead the merge asks for the id map's memory (4 to 16 measured alike on
/// the 10M-row export, none 0.7 s more processor time).
const PREFETCH_ROWS: usize = 8;

/// Where the merger sends the surviving rows.
enum Output<'a> {
    /// Appended tables: streamed into one Parquet file, a row group at a time, by a writer
    /// thread (encoding and compressing a row group overlaps with merging the next).
    Stream {
        path: PathBuf,
        writer: Option<RowGroupWriter>,
        pending: Option<DataFrame>,
        rows: usize,
    },
    /// Transactions: one Parquet file sorted by customer (sort.rs).
    Sorted {
        writer: SortedWriter<'a>,
        rows: usize,
    },
    /// Customers: kept with their keep-masks, since a later record can supersede an earlier one.
    Keep {
        frames: Vec<DataFrame>,
        keep: Vec<Vec<bool>>,
    },
}

/// Checks batches against everything before them, in file order, and writes what survives.
pub struct Merger<'a> {
    table: Table,
    source_file: String,
    load_version: u64,
    known: &'a mut KnownIds,
    keys: &'a mut CustomerKeys,
    /// Derived ids: content key -> identical records seen in earlier batches.
    occurrences: FxHashMap<[u8; 16], u32>,
    /// Customers: id -> (frame, row) of the copy loaded from this export.
    loaded_at: FxHashMap<IdKey, (usize, usize)>,
    stats: FileStats,
    rejects: Vec<RejectRow>,
    out: Output<'a>,
}

/// What an export's load produced.
pub struct Merged {
    /// Appended tables: rows written to the file given to [`Merger::new`] (0: no file).
    pub written: usize,
    /// Customers: the rows to merge into the table.
    pub frame: Option<DataFrame>,
    /// A sorted file: what it holds.
    pub sorted: Option<Sorted>,
    pub rejects: Rejects,
    pub stats: FileStats,
}

impl<'a> Merger<'a> {
    /// `path`: the Parquet file appended tables stream into (created only if a row survives).
    pub fn new(
        table: Table,
        source_file: String,
        load_version: u64,
        known: &'a mut KnownIds,
        keys: &'a mut CustomerKeys,
        path: PathBuf,
    ) -> Merger<'a> {
        let out = if table == Table::Customers {
            Output::Keep {
                frames: Vec::new(),
                keep: Vec::new(),
            }
        } else {
            Output::Stream {
                path,
                writer: None,
                pending: None,
                rows: 0,
            }
        };
        Merger {
            table,
            source_file,
            load_version,
            known,
            keys,
            occurrences: FxHashMap::default(),
            loaded_at: FxHashMap::default(),
            stats: FileStats {
                table: table.name().into(),
                ..Default::default()
            },
            rejects: Vec::new(),
            out,
        }
    }

    fn raw_of(parser: &RowParser, raws: &Raws, row: usize) -> String {
        match raws {
            Raws::Stored(v) => v[row].clone(),
            Raws::Csv {
                bytes,
                starts,
                delimiter,
                quote,
            } => {
                let mut rdr = csv::ReaderBuilder::new()
                    .delimiter(*delimiter)
                    .quote(*quote)
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&bytes[starts[row] as usize..]);
                let mut rec = csv::ByteRecord::new();
                let _ = rdr.read_byte_record(&mut rec);
                let fields: Vec<String> = rec
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                let refs: Vec<Option<&str>> = fields.iter().map(|f| Some(f.as_str())).collect();
                parser.raw_text(&refs, &|| raw_csv(&fields, *delimiter, *quote))
            }
        }
    }

    pub fn merge(&mut self, batch: Batch, parser: &RowParser) -> Result<()> {
        let Batch {
            cols,
            attributes,
            record_hash,
            source_record,
            mut keys,
            derived,
            flags,
            rejects,
            read,
            raws,
            ..
        } = batch;
        self.stats.read += read;
        for r in rejects {
            self.count_reject(&r);
            self.rejects.push(r);
        }
        let n = record_hash.len();
        if n == 0 {
            return Ok(());
        }
        let id_name = schema::id_column(self.table);
        let mut columns = Vec::with_capacity(cols.len() + 5);
        for col in cols {
            columns.push(col.finish()?.into_column());
        }
        // Derived ids of records identical to ones in earlier batches: the occurrence number
        // counts those too.
        let mut fixes: Vec<(usize, String)> = Vec::new();
        for d in &derived {
            let key: [u8; 16] = d.content[..16].try_into().expect("16 bytes");
            let before = self.occurrences.get(&key).copied().unwrap_or(0);
            if before > 0 {
                let id = derived_id(&d.content, before + d.occurrence);
                keys[d.row] = IdKey::of(&id);
                fixes.push((d.row, id));
            }
        }
        for d in &derived {
            let key: [u8; 16] = d.content[..16].try_into().expect("16 bytes");
            *self.occurrences.entry(key).or_insert(0) += 1;
        }
        let id_index = columns
            .iter()
            .position(|c| c.name().as_str() == id_name)
            .expect("id column");
        if !fixes.is_empty() {
            let mut ids: Vec<Option<String>> = columns[id_index]
                .str()?
                .iter()
                .map(|s| s.map(str::to_string))
                .collect();
            for (row, id) in fixes {
                ids[row] = Some(id);
            }
            columns[id_index] = Series::new(id_name.into(), ids).into_column();
        }
        columns.push(Series::new("attributes".into(), attributes).into_column());
        columns.push(Series::new("record_hash".into(), &record_hash).into_column());
        columns.push(StringChunked::full("source_file".into(), &self.source_file, n).into_column());
        columns.push(Series::new("source_record".into(), &source_record).into_column());
        columns.push(
            Int64Chunked::full("load_version".into(), self.load_version as i64, n).into_column(),
        );
        let df = DataFrame::new(n, columns)?;
        let ids = df.column(id_name)?.str()?.clone();

        let frame_index = match &self.out {
            Output::Keep { frames, .. } => frames.len(),
            Output::Stream { .. } | Output::Sorted { .. } => 0,
        };
        let mut keep = vec![true; n];
        let mut flags = flags.into_iter().peekable();
        for row in 0..n {
            // The id map's lines for a record a few rows on are fetched while this one is handled
            // (idmap.rs): in a large map nearly every probe misses the cache.
            if let Some(ahead) = keys.get(row + PREFETCH_ROWS) {
                self.known.prefetch(*ahead);
            }
            let key = keys[row];
            let hash = record_hash[row];
            let flag = match flags.peek() {
                Some((r, _, _)) if *r == row => flags.next(),
                _ => None,
            };
            // One probe of the id map per record: a new id is recorded here, a customer seen
            // before gets its new content's hash.
            match self.known.get_or_insert(key, hash) {
                Some(held) if held == hash => {
                    self.stats.duplicates += 1;
                    keep[row] = false;
                    continue;
                }
                Some(_) if self.table != Table::Customers => {
                    let id = ids.get(row).unwrap_or_default();
                    let r = RejectRow {
                        record_number: source_record[row] as u64,
                        raw_record: Self::raw_of(parser, &raws, row),
                        reason: format!("duplicate {id_name} {id:?} with different content"),
                        kept: false,
                    };
                    self.count_reject(&r);
                    self.rejects.push(r);
                    keep[row] = false;
                    continue;
                }
                Some(_) => self.known.insert(key, hash),
                None => {}
            }
            // A customer seen again updates the row: the earlier copy from this export is
            // superseded.
            if let Some(&(frame, at)) = self.loaded_at.get(&key) {
                match &mut self.out {
                    Output::Keep { keep: masks, .. } if frame < frame_index => {
                        masks[frame][at] = false
                    }
                    _ => keep[at] = false,
                }
                self.stats.loaded -= 1;
                self.stats.duplicates += 1;
            }
            if let Some((_, flag, raw)) = flag {
                self.rejects.push(RejectRow {
                    record_number: source_record[row] as u64,
                    raw_record: raw,
                    reason: flag,
                    kept: true,
                });
                self.stats.flagged += 1;
            }
            if self.table == Table::Customers {
                self.loaded_at.insert(key, (frame_index, row));
            }
            self.stats.loaded += 1;
        }
        match &mut self.out {
            Output::Keep {
                frames,
                keep: masks,
            } => {
                let mut df = df;
                add_keys(self.table, &mut df, self.keys)?;
                frames.push(df);
                masks.push(keep);
            }
            Output::Stream { .. } | Output::Sorted { .. } => {
                let mut df = if keep.iter().all(|k| *k) {
                    df
                } else {
                    df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?
                };
                add_keys(self.table, &mut df, self.keys)?;
                self.write(df, false)?;
            }
        }
        Ok(())
    }

    /// Writes the file sorted by customer (sort.rs), with temporary run files at `tmp(i)`.
    /// The ids new to the warehouse get their keys in the order of their text (keys.rs), so
    /// that the file does not depend on the order of the export's lines.
    pub fn sorted(mut self, tmp: impl Fn(usize) -> PathBuf + 'a) -> Self {
        if let Output::Stream { path, .. } = &self.out {
            let runs = sort::run_rows();
            let new_from = self.keys.mark();
            self.out = Output::Sorted {
                writer: SortedWriter::new(path.clone(), runs, sort::row_group_rows(runs), tmp)
                    .constant_columns(&["source_file", "load_version"])
                    .new_keys_from(new_from),
                rows: 0,
            };
        }
        self
    }

    /// Makes room in the id map for about `rows` more ids at once, instead of growing it (and
    /// copying it) step by step through a large export.
    pub fn expect_rows(&mut self, rows: usize) {
        self.known.reserve(rows);
    }

    /// Frees the id map once no more records of the table are to be checked against it.
    pub fn forget_ids(&mut self) {
        *self.known = KnownIds::default();
    }

    fn count_reject(&mut self, r: &RejectRow) {
        if !r.kept {
            self.stats.rejected += 1;
            let kind = reason_kind(&r.reason);
            let first = self
                .stats
                .examples
                .entry(kind.clone())
                .or_insert_with(|| (r.record_number, r.reason.clone()));
            if r.record_number < first.0 {
                *first = (r.record_number, r.reason.clone());
            }
            *self.stats.reasons.entry(kind).or_default() += 1;
        }
    }

    /// Appends rows to the streamed file; a row group is written once enough rows are pending
    /// (or at the end).
    fn write(&mut self, df: DataFrame, last: bool) -> Result<()> {
        if let Output::Sorted { writer, rows } = &mut self.out {
            *rows += df.height();
            if !self.keys.in_text_order() {
                writer.new_keys_out_of_text_order();
            }
            return writer.push(df);
        }
        let Output::Stream {
            path,
            writer,
            pending,
            rows,
        } = &mut self.out
        else {
            return Ok(());
        };
        if df.height() > 0 {
            *rows += df.height();
            match pending {
                Some(p) => {
                    p.vstack_mut_owned(df)?;
                }
                None => *pending = Some(df),
            }
        }
        let full = pending
            .as_ref()
            .is_some_and(|p| p.height() >= super::ROW_GROUP_ROWS);
        if !(full || last) {
            return Ok(());
        }
        let Some(group) = pending.take() else {
            return Ok(());
        };
        if group.height() == 0 {
            return Ok(());
        }
        let w = match writer.take() {
            Some(w) => w,
            None => RowGroupWriter::start(path.clone()),
        };
        *writer = Some(w.send(group)?);
        Ok(())
    }

    /// Everything of the export written; its counts and rejects.
    pub fn finish(mut self) -> Result<Merged> {
        self.write(DataFrame::empty(), true)?;
        let (written, frame, sorted) = match self.out {
            Output::Stream { writer, rows, .. } => {
                if let Some(w) = writer {
                    w.finish()?;
                }
                (rows, None, None)
            }
            Output::Sorted { writer, rows } => (rows, None, writer.finish(self.keys.renumber())?),
            Output::Keep { frames, keep } => {
                let mut merged: Option<DataFrame> = None;
                for (df, keep) in frames.into_iter().zip(keep) {
                    let df = if keep.iter().all(|k| *k) {
                        df
                    } else {
                        df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?
                    };
                    match &mut merged {
                        Some(m) => {
                            m.vstack_mut_owned(df)?;
                        }
                        None => merged = Some(df),
                    }
                }
                (0, merged.filter(|m| m.height() > 0), None)
            }
        };
        debug_assert_eq!(
            self.stats.read,
            self.stats.loaded + self.stats.rejected + self.stats.duplicates
        );
        Ok(Merged {
            written,
            frame,
            sorted,
            rejects: Rejects {
                table: self.table,
                source_file: self.source_file,
                rows: self.rejects,
            },
            stats: self.stats,
        })
    }
}
