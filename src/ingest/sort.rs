//! The layout of a transactions load: its file sorted by (customer_key, order_key), so that the
//! engine aggregates per customer and per order as the rows stream by, one customer at a time,
//! instead of holding a hash table of every order (BENCHMARKS.md: 3.4 s and 81 MiB against
//! 10.7 s and 4 GiB for the RFM core over 100M lines).
//!
//! The sort keeps memory bounded whatever the load's size, and reads the load's rows back at
//! most once: [`SortedWriter`] takes the rows as the load checks them and sorts them in runs of
//! at most [`RUN_ROWS`] rows. A load of one run (a nightly load) is written straight to its
//! file. A larger load sorts each run on a thread of its own, while the load reads on. While
//! each sorted run begins past the customers of the runs before it (an export grouped by
//! customer, whose keys are given in order of first sight), its rows go straight into the file,
//! the rows of its last customer held back for the next run, which may hold more of them. Any
//! other run, and every one after it, is written to a temporary file (the file as written so
//! far becoming the first of them), and the runs are then merged into the file: each run is
//! read in pieces, and every row below the least key any run has yet to read is sorted and
//! written.
//!
//! The order itself (what comes before what) is row_order.rs's.
//!
//! One file of about 1,200 lines (330 of them tests), on purpose: the run writer, the spill to
//! temporary files and the merge keep one invariant together (a row is written only when no run
//! has a smaller key left to read), and it reads best where all three can be seen at once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polars::prelude::*;
use polars::series::IsSorted;
use rayon::prelude::*;

use super::parquet::{Purpose, RowGroupWriter, Writer};
pub use super::row_order::Renumbered;
use super::row_order::sorted_order;
use crate::error::{Error, Result};

pub use crate::warehouse::tables::SORT_KEYS;

/// Rows per row group of a sorted file (about: row groups end where a customer ends): 256k,
/// so that a nightly load of a million lines that touches every customer still covers them in
/// four key ranges and the engine can give each core its own range of every load.
pub const SORTED_ROW_GROUP_ROWS: usize = RUN_ROWS / 3 * 2;

/// Rows sorted in memory at once (all columns of 384k transactions: about 65 MB; the run being
/// filled and the one being written are held together). At 10M lines runs of 1M rows cost
/// 0.33 GB more peak memory than these for no gain in time, runs of 512k 0.06 GB more
/// (BENCHMARKS.md).
pub const RUN_ROWS: usize = 3 << 17;

/// Rows of a run while the runs come in customer order and go straight into the file: no
/// merge reads them back, so that smaller runs cost nothing but hold less (at 10M lines, 0.15
/// GB less peak memory than runs of [`RUN_ROWS`], which overlap the id map of the load).
pub const IN_ORDER_RUN_ROWS: usize = 1 << 17;

/// Environment variable setting the run size instead (and with it the row groups, two thirds
/// of a run), for the tests that prove a load cut into many runs and row groups gives the same
/// answers as one.
pub const RUN_ENV: &str = "CRM_SORT_RUN_ROWS";

/// [`RUN_ROWS`], or the size [`RUN_ENV`] sets.
pub fn run_rows() -> usize {
    super::size_from_env(RUN_ENV, RUN_ROWS)
}

/// Rows per row group of a sorted file for runs of `run_rows`.
pub fn row_group_rows(run_rows: usize) -> usize {
    (run_rows / 3 * 2).max(1)
}

/// Rows per row group of a temporary run file: the merge reads a run a few row groups at a
/// time, and at least one of every run, reading on at half a read left (255 runs at 100M
/// lines: up to 3.1M rows, read after the id map is freed).
const RUN_GROUP_ROWS: usize = 1 << 13;

/// Rows the merge reads of all runs together, about (at least a row group of each), and rows
/// a step of the merge sorts and writes at most, about.
const MERGE_BUFFER_ROWS: usize = RUN_ROWS;

/// Where each row of `df` lies: its chunk and its row in the chunk, for gathering rows from
/// the chunks as they are. A frame whose columns are cut into chunks at different rows (or held
/// as one value) is made one chunk per column first.
fn chunk_ids(df: &mut DataFrame) -> Vec<ChunkId> {
    let as_chunks = df.columns().iter().all(|c| c.as_series().is_some()) && !df.should_rechunk();
    let lengths: Vec<usize> = match df.columns().first().and_then(Column::as_series) {
        Some(s) if as_chunks => s.chunk_lengths().collect(),
        _ => {
            df.rechunk_mut_par();
            vec![df.height()]
        }
    };
    let mut ids = Vec::with_capacity(df.height());
    for (chunk, &len) in lengths.iter().enumerate() {
        ids.extend((0..len).map(|row| ChunkId::store(chunk as IdxSize, row as IdxSize)));
    }
    ids
}

/// Where the rows at `order` (row numbers of the whole frame) lie, from `ids` of [`chunk_ids`].
fn located(ids: &[ChunkId], order: &[IdxSize]) -> Vec<ChunkId> {
    order.iter().map(|&r| ids[r as usize]).collect()
}

/// The rows of `df` at `order` (row numbers of the whole frame), gathered from `df`'s chunks
/// as they are with `ids` from [`chunk_ids`]: no copy of the frame into one chunk first
/// (polars gathers strings from several chunks value by value, copying their bytes; gathered by
/// chunk id they keep their views).
fn gather(df: &DataFrame, ids: &[ChunkId], order: &[IdxSize]) -> DataFrame {
    let by = located(ids, order);
    // SAFETY: every row number in `order` is below `df.height()` (it comes from
    // `sorted_order(df)`), and `ids` places each of them in `df`'s chunks (`chunk_ids(df)`).
    unsafe { df._take_chunked_unchecked_hor_par(&by, IsSorted::Not) }
}

/// The rows of `df` at `order`, as [`gather`] gives them but with their strings copied into
/// buffers of their own. A gathered string column keeps every data buffer of the columns it was
/// gathered from; rows that are gathered again and again (the customer a run holds back for the
/// next, gathered with it) would otherwise keep the strings of every run before them alive: at
/// 10M lines the heap grew by 190 MB over the load.
fn gather_owned(df: &DataFrame, ids: &[ChunkId], order: &[IdxSize]) -> DataFrame {
    let by = located(ids, order);
    // SAFETY: as in `gather`.
    unsafe { df.take_chunked_unchecked(&by, IsSorted::Not, true) }
}

/// `df`'s rows sorted (see [`sorted_order`], with `new_from`), handed to `f` in pieces of
/// `rows` rows: the sorted copy is never held whole beside `df`.
fn sorted_pieces(
    mut df: DataFrame,
    rows: usize,
    new_from: Option<i64>,
    mut f: impl FnMut(DataFrame) -> Result<()>,
    err: impl Fn(PolarsError) -> Error,
) -> Result<()> {
    let order = sorted_order(&df, new_from).map_err(&err)?;
    let ids = match &order {
        Some(_) => chunk_ids(&mut df),
        None => Vec::new(),
    };
    for start in (0..df.height()).step_by(rows.max(1)) {
        let end = (start + rows).min(df.height());
        let piece = match &order {
            None => df.slice(start as i64, end - start),
            Some(order) => gather(&df, &ids, &order[start..end]),
        };
        f(piece)?;
    }
    Ok(())
}

/// `df`'s rows sorted (see [`sorted_order`]).
fn sort_frame(mut df: DataFrame) -> PolarsResult<DataFrame> {
    match sorted_order(&df, None)? {
        None => Ok(df),
        Some(order) => {
            let ids = chunk_ids(&mut df);
            Ok(gather(&df, &ids, &order))
        }
    }
}

/// Frames one after the other (an empty frame for none).
fn concat(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let mut frames = frames.into_iter();
    let mut all = frames.next().unwrap_or_default();
    for df in frames {
        all.vstack_mut_owned(df)?;
    }
    Ok(all)
}

/// The customer keys of a frame, as a vector (a missing key first, as [`sort_frame`] puts it).
fn customer_keys(df: &DataFrame) -> PolarsResult<Vec<i64>> {
    Ok(df
        .column(SORT_KEYS[0])?
        .i64()?
        .iter()
        .map(|k| k.unwrap_or(i64::MIN))
        .collect())
}

/// Columns of one value for a whole load (its source file and version): left out of the runs
/// and the merge (24 bytes a row that would be sorted, written, read and merged), and put back
/// into each row group as it is written.
#[derive(Debug, Default, Clone)]
struct Constants {
    names: Vec<&'static str>,
    /// Where each was in the load's frames, with its value (one row), in column order.
    taken: Option<Vec<(usize, Column)>>,
}

impl Constants {
    /// Takes the constant columns out of `df`, noting where they were and their value the
    /// first time.
    fn take_from(&mut self, df: &mut DataFrame) -> PolarsResult<()> {
        // Places in the whole frame: put back in ascending order, each lands where it was.
        let mut places: Vec<(usize, &str)> = self
            .names
            .iter()
            .filter_map(|name| Some((df.get_column_index(name)?, *name)))
            .collect();
        places.sort_unstable();
        let mut taken = Vec::new();
        for (at, name) in places {
            let column = df.drop_in_place(name)?;
            if self.taken.is_none() {
                taken.push((at, column.head(Some(1))));
            }
        }
        if self.taken.is_none() {
            self.taken = Some(taken);
        }
        Ok(())
    }

    /// `df` with the constant columns back in their places.
    fn put_back(&self, df: &mut DataFrame) -> PolarsResult<()> {
        for (at, column) in self.taken.iter().flatten() {
            let full = column.new_from_index(0, df.height());
            df.insert_column(*at, full)?;
        }
        Ok(())
    }
}

/// Writes a load's rows, in the order they are pushed, as one file sorted by [`SORT_KEYS`].
pub struct SortedWriter<'a> {
    path: PathBuf,
    /// The path of the i-th temporary run file.
    tmp: Box<dyn Fn(usize) -> PathBuf + 'a>,
    run_rows: usize,
    row_group_rows: usize,
    /// Set while the runs go straight into the file (see [`Direct`]), whose runs are of
    /// `in_order_run_rows` at most.
    in_order: Arc<AtomicBool>,
    in_order_run_rows: usize,
    pending: Vec<DataFrame>,
    pending_rows: usize,
    runs: Option<RunWriter>,
    shipped: usize,
    /// Row groups of a run file, and rows the merge holds of all runs together.
    run_group_rows: usize,
    merge_buffer_rows: usize,
    constants: Constants,
    /// The first key of the ids new to the warehouse, and whether they have come in the order
    /// of their text so far (see [`SortedWriter::new_keys_from`]).
    new_from: Option<i64>,
    new_in_text_order: Arc<AtomicBool>,
}

impl<'a> SortedWriter<'a> {
    /// A writer of the file at `path`, sorting in runs of `run_rows` and writing row groups of
    /// about `row_group_rows`; temporary run files go to `tmp(i)` and are removed.
    pub fn new(
        path: PathBuf,
        run_rows: usize,
        row_group_rows: usize,
        tmp: impl Fn(usize) -> PathBuf + 'a,
    ) -> SortedWriter<'a> {
        SortedWriter {
            path,
            tmp: Box::new(tmp),
            run_rows: run_rows.max(1),
            row_group_rows: row_group_rows.max(1),
            in_order: Arc::new(AtomicBool::new(true)),
            in_order_run_rows: IN_ORDER_RUN_ROWS,
            pending: Vec::new(),
            pending_rows: 0,
            runs: None,
            shipped: 0,
            run_group_rows: RUN_GROUP_ROWS,
            merge_buffer_rows: MERGE_BUFFER_ROWS,
            constants: Constants::default(),
            new_from: None,
            new_in_text_order: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Customer keys from `first` on are of ids new to the warehouse, numbered as first seen
    /// until the load ends and then in the order of their text ([`Renumbered`]). While they come
    /// in text order the two agree; once told they do not
    /// ([`SortedWriter::new_keys_out_of_text_order`]), runs put those customers in the order of
    /// their ids, and rows no longer go straight into the file.
    pub fn new_keys_from(mut self, first: i64) -> Self {
        self.new_from = Some(first);
        self
    }

    /// The new ids pushed so far were not first seen in the order of their text.
    pub fn new_keys_out_of_text_order(&self) {
        self.new_in_text_order.store(false, Ordering::Relaxed);
    }

    /// The columns `names` hold one value for the whole load: they are carried aside, not
    /// through the runs (see `Constants`).
    pub fn constant_columns(mut self, names: &[&'static str]) -> Self {
        self.constants.names = names.to_vec();
        self
    }

    /// Run files of row groups of `run_group_rows`, merged holding about `merge_buffer_rows`
    /// (the tests' small sizes: a merge that reads runs in many pieces).
    #[cfg(test)]
    fn with_merge_sizes(mut self, run_group_rows: usize, merge_buffer_rows: usize) -> Self {
        self.run_group_rows = run_group_rows;
        self.merge_buffer_rows = merge_buffer_rows;
        self
    }

    /// Runs of `rows` while they come in order.
    #[cfg(test)]
    fn with_in_order_runs(mut self, rows: usize) -> Self {
        self.in_order_run_rows = rows.max(1);
        self
    }

    /// The next rows of the load.
    pub fn push(&mut self, mut df: DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        self.constants
            .take_from(&mut df)
            .map_err(|e| Error::warehouse(&self.path, e))?;
        self.pending_rows += df.height();
        self.pending.push(df);
        while self.pending_rows >= self.next_run_rows() {
            self.ship()?;
        }
        Ok(())
    }

    /// Rows of the next run: fewer while the runs come in order.
    fn next_run_rows(&self) -> usize {
        if self.in_order.load(Ordering::Relaxed) {
            self.run_rows.min(self.in_order_run_rows)
        } else {
            self.run_rows
        }
    }

    /// The next run's pending rows (or all) as a frame.
    fn take_run(&mut self) -> Result<DataFrame> {
        let err = |e| Error::warehouse(&self.path, e);
        let mut all = concat(std::mem::take(&mut self.pending)).map_err(err)?;
        let rows = self.next_run_rows();
        if all.height() > rows {
            let rest = all.slice(rows as i64, all.height() - rows);
            all = all.slice(0, rows);
            self.pending.push(rest);
        }
        self.pending_rows -= all.height();
        Ok(all)
    }

    /// Sends the next run to be sorted and written to a file of its own.
    fn ship(&mut self) -> Result<()> {
        let run = self.take_run()?;
        let path = (self.tmp)(self.shipped);
        self.shipped += 1;
        let runs = match self.runs.take() {
            Some(r) => r,
            None => {
                let out = Groups::new(
                    self.path.clone(),
                    self.row_group_rows,
                    self.constants.clone(),
                );
                let in_order = self.in_order.clone();
                let new_keys = NewKeys {
                    from: self.new_from,
                    in_text_order: self.new_in_text_order.clone(),
                };
                RunWriter::start(self.run_group_rows, self.run_rows, out, in_order, new_keys)
            }
        };
        self.runs = Some(runs.send(run, path)?);
        Ok(())
    }

    /// Writes the file (none for a load without rows), its new customers' keys `renumbered`
    /// if given, and tells what it holds.
    pub fn finish(mut self, renumbered: Option<Renumbered>) -> Result<Option<Sorted>> {
        if self.runs.is_none() && self.pending_rows == 0 {
            return Ok(None);
        }
        let mut done = Sorted::default();
        let constants = std::mem::take(&mut self.constants);
        match self.runs.take() {
            None => {
                let mut out = Groups::new(self.path.clone(), self.row_group_rows, constants);
                let mut run = self.take_run()?;
                let err = |e| Error::warehouse(&self.path, e);
                if let Some(r) = &renumbered {
                    r.apply(&mut run).map_err(err)?;
                }
                let rows = self.row_group_rows;
                sorted_pieces(run, rows, None, |p| out.push(p, &mut done), err)?;
                out.finish(&mut done)?;
            }
            Some(mut runs) => {
                if self.pending_rows > 0 {
                    let run = self.take_run()?;
                    runs = runs.send(run, (self.tmp)(self.shipped))?;
                }
                let (files, prefix) = match runs.finish()? {
                    Spilled::Written(_) if renumbered.is_some() => {
                        return Err(Error::warehouse(
                            &self.path,
                            "internal: new customer keys renumbered after their rows were written",
                        ));
                    }
                    Spilled::Written(done) => return Ok(Some(done)),
                    Spilled::Files { files, prefix } => (files, prefix),
                };
                let per_read = self.merge_buffer_rows / files.len() / self.run_group_rows;
                let renumbered = renumbered.map(Arc::new);
                let mut opened = Vec::with_capacity(files.len());
                for (i, f) in files.iter().enumerate() {
                    opened.push(
                        match (i, prefix) {
                            // The file as written before the runs came out of order: row groups of
                            // the file's size, with the constant columns.
                            (0, true) => Run::open(f, 1)?.without(&constants.names),
                            _ => Run::open(f, per_read)?,
                        }
                        .renumbered(renumbered.clone()),
                    );
                }
                done.merged_runs = files.len();
                let mut out = Groups::new(self.path.clone(), self.row_group_rows, constants);
                merge(opened, self.merge_buffer_rows, &mut out, &mut done)?;
                out.finish(&mut done)?;
                for f in &files {
                    std::fs::remove_file(f).map_err(|e| Error::io(f, e))?;
                }
            }
        }
        Ok(Some(done))
    }
}

/// What the run thread made of a load's runs.
enum Spilled {
    /// Each run began past the customers of the runs before it: the file is written.
    Written(Sorted),
    /// Run files to merge, in load order; with `prefix`, the first is the file as written
    /// before a run came out of order (row groups of the file's size, constant columns in).
    Files { files: Vec<PathBuf>, prefix: bool },
}

/// The file written straight from the runs, while each begins past the ones before it.
struct Direct {
    out: Groups,
    done: Sorted,
    /// The greatest customer key written.
    last: Option<i64>,
    /// The rows of the last run's greatest key, sorted: the next run may hold more of them.
    carry: Option<DataFrame>,
    /// A customer held back with more rows than this sends the load to the merge instead.
    carry_limit: usize,
    /// Rows gathered and written at a time.
    piece_rows: usize,
}

impl Direct {
    /// Writes `run` (the carried rows first) into the file, holding back its greatest
    /// customer's rows; gives it back, whole, if it begins at or before a customer written.
    fn take(&mut self, mut run: DataFrame) -> Result<Option<DataFrame>> {
        let err = |e| Error::warehouse(&self.out.path, e);
        if let Some(carry) = self.carry.take() {
            let mut all = carry;
            all.vstack_mut_owned(run).map_err(err)?;
            run = all;
        }
        let n = run.height();
        if n == 0 {
            return Ok(None);
        }
        let order = sorted_order(&run, None).map_err(err)?;
        let keys = customer_keys(&run).map_err(err)?;
        let key_at = |i: usize| keys[order.as_ref().map_or(i, |o| o[i] as usize)];
        // The rows of the greatest key stay back: from `cut` on.
        let mut cut = n;
        while cut > 0 && key_at(cut - 1) == key_at(n - 1) {
            cut -= 1;
        }
        if self.last.is_some_and(|last| key_at(0) <= last) || n - cut > self.carry_limit {
            return Ok(Some(run));
        }
        let ids = match &order {
            Some(_) => chunk_ids(&mut run),
            None => Vec::new(),
        };
        let rows = |start: usize, end: usize| match &order {
            None => run.slice(start as i64, end - start),
            Some(order) => gather(&run, &ids, &order[start..end]),
        };
        // Pieces end where a customer ends, as [`Groups::push`] takes them.
        let mut start = 0;
        while start < cut {
            let mut end = (start + self.piece_rows).min(cut);
            while end < cut && key_at(end) == key_at(end - 1) {
                end += 1;
            }
            self.out.push(rows(start, end), &mut self.done)?;
            start = end;
        }
        if cut > 0 {
            self.last = Some(key_at(cut - 1));
        }
        self.carry = Some(match &order {
            None => run.slice(cut as i64, n - cut),
            Some(order) => gather_owned(&run, &ids, &order[cut..n]),
        });
        Ok(None)
    }

    /// The file with the carried rows written, and what it holds.
    fn finish(mut self) -> Result<Sorted> {
        if let Some(carry) = self.carry.take() {
            self.out.push(carry, &mut self.done)?;
        }
        self.out.finish(&mut self.done)?;
        Ok(self.done)
    }
}

/// The ids new to the warehouse of a load (see [`SortedWriter::new_keys_from`]).
struct NewKeys {
    from: Option<i64>,
    in_text_order: Arc<AtomicBool>,
}

impl NewKeys {
    /// Whether keys as first seen are in the order of the ids' text so far.
    fn in_text_order(&self) -> bool {
        self.in_text_order.load(Ordering::Relaxed)
    }

    /// Where a run's new customers go in the order of their ids (see [`sorted_order`]): from
    /// the first new key, once their keys are out of that order.
    fn sort_from(&self) -> Option<i64> {
        self.from.filter(|_| !self.in_text_order())
    }
}

/// A thread that sorts runs and writes them: into the file while they come in order
/// ([`Direct`]), then each to its temporary file.
struct RunWriter {
    runs: crossbeam_channel::Sender<(DataFrame, PathBuf)>,
    thread: std::thread::JoinHandle<Result<Spilled>>,
}

impl RunWriter {
    fn start(
        group_rows: usize,
        run_rows: usize,
        out: Groups,
        in_order: Arc<AtomicBool>,
        new_keys: NewKeys,
    ) -> RunWriter {
        // A run is handed over only once the previous one is written: memory stays at the run
        // being written (and a row group of it sorted) and the one being filled.
        let (runs, rx) = crossbeam_channel::bounded::<(DataFrame, PathBuf)>(0);
        let thread = std::thread::spawn(move || -> Result<Spilled> {
            let mut direct = Some(Direct {
                out,
                done: Sorted::default(),
                last: None,
                carry: None,
                carry_limit: run_rows / 2,
                piece_rows: group_rows.saturating_mul(8).max(1),
            });
            let mut written = Vec::new();
            let mut prefix = false;
            // The first run's path, unused while runs go straight into the file.
            let mut first: Option<PathBuf> = None;
            for (run, path) in rx {
                let first = first.get_or_insert_with(|| path.clone());
                // Rows go straight into the file only while their keys are in the order of
                // their ids: a run handed over after the new ids came out of text order is
                // sorted by id (`NewKeys::sort_from`) and merged.
                let run = match direct.as_mut() {
                    Some(d) if new_keys.in_text_order() => d.take(run)?,
                    _ => Some(run),
                };
                if let Some(run) = run {
                    if let Some(d) = direct.take() {
                        in_order.store(false, Ordering::Relaxed);
                        // Out of order: the file written so far becomes the first run to merge.
                        let file = d.out.path.clone();
                        let done = d.finish()?;
                        if !done.row_group_keys.is_empty() {
                            std::fs::rename(&file, &*first).map_err(|e| Error::io(&file, e))?;
                            written.push(first.clone());
                            prefix = true;
                        }
                    }
                    let mut w = Writer::create(&path, run.schema(), Purpose::Scratch)?;
                    let err = |e| Error::warehouse(&path, e);
                    let new_from = new_keys.sort_from();
                    sorted_pieces(run, group_rows, new_from, |mut p| w.write(&mut p), err)?;
                    w.finish()?;
                    written.push(path);
                }
            }
            Ok(match direct {
                Some(d) => Spilled::Written(d.finish()?),
                None => Spilled::Files {
                    files: written,
                    prefix,
                },
            })
        });
        RunWriter { runs, thread }
    }

    /// Sends a run; a writer that stopped gives its error.
    fn send(self, run: DataFrame, path: PathBuf) -> Result<RunWriter> {
        match self.runs.send((run, path.clone())) {
            Ok(()) => Ok(self),
            Err(_) => Err(self.finish().err().unwrap_or_else(|| {
                Error::warehouse(path, "internal: the run writer stopped early")
            })),
        }
    }

    /// The file, or the run files to merge, once all runs are written.
    fn finish(self) -> Result<Spilled> {
        drop(self.runs);
        self.thread
            .join()
            .map_err(|_| Error::warehouse("sorted runs", "internal: the run writer panicked"))?
    }
}

/// A sorted run file, read a few row groups at a time.
struct Run {
    path: PathBuf,
    /// Rows of each row group not read yet, in file order.
    groups: std::collections::VecDeque<usize>,
    offset: usize,
    /// Row groups read at a time.
    per_read: usize,
    /// The rows read and not yet taken: `buf`'s rows from `pos` on.
    buf: DataFrame,
    keys: Vec<i64>,
    pos: usize,
    /// Rows of the last read.
    last_read: usize,
    /// Columns of the file left out of what is read.
    without: Vec<&'static str>,
    /// New customer keys, given to the rows as they are read.
    renumbered: Option<Arc<Renumbered>>,
}

impl Run {
    fn open(path: &Path, per_read: usize) -> Result<Run> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let groups = ParquetReader::new(file)
            .get_metadata()
            .map_err(|e| Error::warehouse(path, e))?
            .row_groups
            .iter()
            .map(|g| g.num_rows())
            .collect();
        Ok(Run {
            path: path.to_path_buf(),
            groups,
            offset: 0,
            per_read: per_read.max(1),
            buf: DataFrame::empty(),
            keys: Vec::new(),
            pos: 0,
            last_read: 0,
            without: Vec::new(),
            renumbered: None,
        })
    }

    /// The run read with its new customers' keys `renumbered`: its rows are in the order of
    /// the new keys (see [`SortedWriter::new_keys_from`]).
    fn renumbered(mut self, renumbered: Option<Arc<Renumbered>>) -> Run {
        self.renumbered = renumbered;
        self
    }

    /// The run read without the columns `names`.
    fn without(mut self, names: &[&'static str]) -> Run {
        self.without = names.to_vec();
        self
    }

    /// More rows to read from the file.
    fn more(&self) -> bool {
        !self.groups.is_empty()
    }

    /// Down to half a read or less of rows not yet taken, with more to read: the merge reads
    /// on before the run runs out, so that the least last key of all runs (what each step can
    /// write up to) moves by about a read, not by the leftovers of the one run that sets it (at
    /// 255 runs, steps of a few thousand rows in 255 slices each).
    fn running_low(&self) -> bool {
        self.more() && self.left() * 2 <= self.last_read
    }

    /// Rows read and not yet taken.
    fn left(&self) -> usize {
        self.keys.len() - self.pos
    }

    /// The last key read: no row still in the file has a lower one.
    fn last(&self) -> i64 {
        self.keys.last().copied().unwrap_or(i64::MIN)
    }

    /// Reads the next row groups, after the rows not yet taken.
    fn read(&mut self) -> Result<()> {
        let k = self.per_read.min(self.groups.len());
        let rows: usize = self.groups.drain(..k).sum();
        self.last_read = rows;
        let err = |e| Error::warehouse(&self.path, e);
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut next = ParquetReader::new(file)
            .with_slice(Some((self.offset, rows)))
            .finish()
            .map_err(err)?
            .drop_many(self.without.iter().copied());
        if let Some(r) = &self.renumbered {
            r.apply(&mut next).map_err(err)?;
        }
        self.offset += rows;
        let mut buf = self.buf.slice(self.pos as i64, self.left());
        if buf.height() == 0 {
            buf = next;
        } else {
            buf.vstack_mut_owned(next).map_err(err)?;
        }
        self.keys = customer_keys(&buf).map_err(err)?;
        self.buf = buf;
        self.pos = 0;
        Ok(())
    }

    /// Rows read and not yet taken whose key is below `bound` (all, for none).
    fn count_below(&self, bound: Option<i64>) -> usize {
        match bound {
            Some(b) => self.keys[self.pos..].partition_point(|k| *k < b),
            None => self.left(),
        }
    }

    /// The key of the `i`-th row not yet taken.
    fn key_at(&self, i: usize) -> i64 {
        self.keys[self.pos + i]
    }

    /// Takes the rows read whose key is below `bound` (all, for none).
    fn take_below(&mut self, bound: Option<i64>) -> DataFrame {
        let end = self.pos + self.count_below(bound);
        let part = self.buf.slice(self.pos as i64, end - self.pos);
        self.pos = end;
        part
    }
}

/// Merges sorted runs (in load order) into `out`: a row of an earlier run comes before a row of
/// a later one with the same keys. The runs are read on a thread of their own, side by side,
/// while the rows read before are sorted here and the file's writer thread encodes the rows
/// sorted before them: at 100M lines the merge ran on one core as one loop.
fn merge(runs: Vec<Run>, cap: usize, out: &mut Groups, done: &mut Sorted) -> Result<()> {
    // One piece read ahead: memory holds at most three (being read, sorted, written).
    let (tx, rx) = crossbeam_channel::bounded::<DataFrame>(1);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            merge_pieces(runs, cap, |piece| {
                // The receiver is gone only when sorting failed: its error is the one told.
                Ok(tx.send(piece).is_ok())
            })
        });
        let mut sorted = || -> Result<()> {
            for piece in &rx {
                let piece = sort_frame(piece).map_err(|e| Error::warehouse(&out.path, e))?;
                out.push(piece, done)?;
            }
            Ok(())
        };
        let sorted = sorted();
        drop(rx);
        let read = reader
            .join()
            .map_err(|_| Error::warehouse("sorted runs", "internal: the run reader panicked"))?;
        sorted.and(read)
    })
}

/// Reads sorted runs (in load order) and hands `f` the rows each step makes safe to write, not
/// yet sorted among themselves: those below the least last key of the runs still being read,
/// about `cap` rows at most. `f` says whether to go on.
fn merge_pieces(
    mut runs: Vec<Run>,
    cap: usize,
    mut f: impl FnMut(DataFrame) -> Result<bool>,
) -> Result<()> {
    loop {
        runs.retain(|r| r.left() > 0 || r.more());
        if runs.is_empty() {
            return Ok(());
        }
        // Side by side: most runs run low together (each spans every customer).
        runs.par_iter_mut()
            .filter(|r| r.running_low())
            .try_for_each(Run::read)?;
        // Every row below the least last key of the runs still being read has been read.
        let bound = runs.iter().filter(|r| r.more()).map(Run::last).min();
        let bound = capped(&runs, bound, cap);
        let pieces: Vec<DataFrame> = runs
            .iter_mut()
            .map(|r| r.take_below(bound))
            .filter(|p| p.height() > 0)
            .collect();
        if pieces.is_empty() {
            // The rows left all belong to customers that go on past what the runs at the bound
            // have read: read more of those.
            runs.par_iter_mut()
                .filter(|r| r.more() && Some(r.last()) == bound)
                .try_for_each(Run::read)?;
            continue;
        }
        let piece = concat(pieces).map_err(|e| Error::warehouse("sorted runs", e))?;
        if !f(piece)? {
            return Ok(());
        }
    }
}

/// A bound at or below `bound` that about `cap` of the rows read lie below, for a merge step
/// of bounded size: with many runs, everything below the least last key is more than a merge
/// should hold at once (at 100M lines, 255 runs of which each holds a read: 4.7 GB peak).
/// Any bound at or below the least last key is safe; one with no row below it is not taken.
fn capped(runs: &[Run], bound: Option<i64>, cap: usize) -> Option<i64> {
    let below = |b: Option<i64>| runs.iter().map(|r| r.count_below(b)).sum::<usize>();
    let total = below(bound);
    if total <= cap {
        return bound;
    }
    // The runs hold keys alike: the key at the cap's share of the rows of the run with most.
    let most = runs.iter().max_by_key(|r| r.count_below(bound))?;
    let lower = most.key_at(most.count_below(bound) * cap / total);
    if below(Some(lower)) == 0 {
        bound
    } else {
        Some(lower)
    }
}

/// Sorted rows on their way into the file, cut into row groups that end where a customer ends
/// (a customer of more rows than a row group aside), so that a range of customers reads whole
/// row groups.
struct Groups {
    path: PathBuf,
    writer: Option<RowGroupWriter>,
    rows: usize,
    /// Sorted rows not yet in a row group; they end where a customer ends.
    pending: Vec<DataFrame>,
    pending_rows: usize,
    constants: Constants,
}

impl Groups {
    fn new(path: PathBuf, rows: usize, constants: Constants) -> Groups {
        Groups {
            constants,
            writer: Some(RowGroupWriter::start(path.clone())),
            path,
            rows,
            pending: Vec::new(),
            pending_rows: 0,
        }
    }

    /// The next sorted rows: each of their customer keys above any pushed before.
    fn push(&mut self, sorted: DataFrame, done: &mut Sorted) -> Result<()> {
        self.pending_rows += sorted.height();
        self.pending.push(sorted);
        if self.pending_rows >= self.rows {
            self.cut(false, done)?;
        }
        Ok(())
    }

    fn finish(mut self, done: &mut Sorted) -> Result<()> {
        self.cut(true, done)?;
        self.writer.take().expect("writer").finish()
    }

    /// Writes the pending rows as row groups, keeping back the rows after the last full one
    /// unless `last`.
    fn cut(&mut self, last: bool, done: &mut Sorted) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let err = |e| Error::warehouse(&self.path, e);
        let df = concat(std::mem::take(&mut self.pending)).map_err(err)?;
        let keys = customer_keys(&df).map_err(err)?;
        let n = df.height();
        let mut start = 0;
        while start < n && (last || n - start >= self.rows) {
            let mut end = (start + self.rows).min(n);
            if end < n {
                let mut at = end;
                while at > start + 1 && keys[at] == keys[at - 1] {
                    at -= 1;
                }
                if keys[at] != keys[at - 1] {
                    end = at;
                }
            }
            let mut group = df.slice(start as i64, end - start);
            self.constants.put_back(&mut group).map_err(err)?;
            done.add_row_group(&group).map_err(err)?;
            let writer = self.writer.take().expect("writer");
            self.writer = Some(writer.send(group)?);
            start = end;
        }
        self.pending_rows = n - start;
        if start < n {
            self.pending.push(df.slice(start as i64, n - start));
        }
        Ok(())
    }
}

/// What a [`SortedWriter`] learnt of the rows it wrote.
#[derive(Debug, Default)]
pub struct Sorted {
    /// The first and last customer key of each row group, in file order.
    pub row_group_keys: Vec<(i64, i64)>,
    /// The latest `ts` (micros since the epoch, UTC), if the load has a `ts` column.
    pub latest_ts: Option<i64>,
    /// Runs merged into the file (none when its rows were written as they came).
    pub merged_runs: usize,
}

impl Sorted {
    /// Records the next row group of a sorted file: its first and last customer key, and its
    /// times toward the latest.
    pub fn add_row_group(&mut self, group: &DataFrame) -> PolarsResult<()> {
        let keys = group.column(SORT_KEYS[0])?.i64()?;
        let key = |i: usize| keys.get(i).unwrap_or(0);
        self.row_group_keys
            .push((key(0), key(group.height().saturating_sub(1))));
        if let Ok(ts) = group.column("ts") {
            let latest = ts.cast(&DataType::Int64)?.i64()?.max();
            self.latest_ts = self.latest_ts.max(latest);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> DataFrame {
        ParquetReader::new(File::open(path).unwrap())
            .finish()
            .unwrap()
    }

    /// The order of a load's customers: scattered, grouped (each customer's rows together,
    /// keys rising, as an export by customer gives them), grouped for the first half only, or
    /// grouped with one customer of more rows than a run.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Layout {
        Scattered,
        Grouped,
        GroupedThenScattered,
        GroupedWithAGiant,
    }

    fn customers(layout: Layout, n: usize) -> Vec<i64> {
        let scattered = |i: usize| {
            // Customer 7 alone has 3,000 rows: more than a run.
            if i.is_multiple_of(5) && i < 15_000 {
                7
            } else {
                (i * 7919 % 311) as i64 + 1
            }
        };
        // Customers of 1 to 60 rows, in rising keys.
        let grouped = |i: usize| (i as i64 * 2 / 61) + 1;
        (0..n)
            .map(|i| match layout {
                Layout::Scattered => scattered(i),
                Layout::Grouped => grouped(i),
                Layout::GroupedThenScattered if i < n / 2 => grouped(i) + 400,
                Layout::GroupedThenScattered => scattered(i),
                Layout::GroupedWithAGiant if (8_000..11_000).contains(&i) => grouped(8_000),
                Layout::GroupedWithAGiant => grouped(i),
            })
            .collect()
    }

    /// The customer a run holds back for the next is gathered with the next run, again and
    /// again: it must own its strings, or each holds every earlier run's string buffers (a
    /// gathered string column shares the buffers of what it was gathered from) and a load's
    /// memory grows with its size.
    #[test]
    fn the_customer_held_back_between_runs_holds_only_its_own_strings() {
        let dir = tempfile::tempdir().unwrap();
        let out = Groups::new(dir.path().join("t.parquet"), 1_000, Constants::default());
        let mut direct = Direct {
            out,
            done: Sorted::default(),
            last: None,
            carry: None,
            carry_limit: 1_000,
            piece_rows: 100,
        };
        let (runs, per_run, per_customer) = (40, 3_000usize, 30usize);
        let mut carried_bytes = Vec::new();
        for r in 0..runs {
            let rows = r * per_run..(r + 1) * per_run;
            // Customers of 30 rows, in rising keys across runs; order keys scrambled within a
            // customer, so every run is gathered.
            let customer: Vec<i64> = rows.clone().map(|i| (i / per_customer) as i64).collect();
            let order: Vec<i64> = rows.clone().map(|i| ((i * 7_919) % 31) as i64).collect();
            // Longer than the 12 bytes a view holds inline: the text lives in data buffers.
            let text: Vec<String> = rows.map(|i| format!("transaction-{i:012}")).collect();
            let run = DataFrame::new(
                per_run,
                vec![
                    Series::new("transaction_id".into(), &text).into_column(),
                    Series::new("customer_key".into(), &customer).into_column(),
                    Series::new("order_key".into(), &order).into_column(),
                ],
            )
            .unwrap();
            assert!(
                direct.take(run).unwrap().is_none(),
                "runs in customer order"
            );
            let carry = direct.carry.as_ref().unwrap();
            assert_eq!(carry.height(), per_customer);
            let bytes: usize = carry
                .column("transaction_id")
                .unwrap()
                .str()
                .unwrap()
                .downcast_iter()
                .map(|a| a.total_buffer_len())
                .sum();
            carried_bytes.push(bytes);
        }
        // 30 values of 24 bytes each, whatever the number of runs before.
        let most = *carried_bytes.iter().max().unwrap();
        assert!(
            most <= 2 * 30 * 24,
            "the carry holds {carried_bytes:?} bytes"
        );
        let done = direct.finish().unwrap();
        let file = read(&dir.path().join("t.parquet"));
        assert_eq!(file.height(), runs * per_run);
        assert_eq!(done.row_group_keys.first().unwrap().0, 0);
    }

    /// Sorted as one run, written straight from runs in order, or merged from many, the file
    /// holds the same rows in key order, rows of equal keys in the order they were pushed, and
    /// a customer larger than a run or a piece of the merge whole.
    #[test]
    fn a_load_sorted_through_runs_keeps_every_row_in_key_order() {
        use Layout::*;
        for layout in [Scattered, Grouped, GroupedThenScattered, GroupedWithAGiant] {
            sorts_every_row_in_key_order(layout);
        }
    }

    fn sorts_every_row_in_key_order(layout: Layout) {
        use Layout::*;
        let n = 20_000usize;
        let customer = customers(layout, n);
        let order: Vec<i64> = (0..n).map(|i| ((i * 104_729) % 13) as i64 - 6).collect();
        let seq: Vec<i64> = (0..n as i64).collect();
        // Transaction ids in the order of the rows: lines of one order keep it.
        let text: Vec<String> = (0..n).map(|i| format!("t{i:06}")).collect();
        let df = DataFrame::new(
            n,
            vec![
                Series::new("transaction_id".into(), &text).into_column(),
                StringChunked::full("source_file".into(), "orders.csv", n).into_column(),
                Series::new("customer_key".into(), &customer).into_column(),
                Int64Chunked::full("load_version".into(), 3, n).into_column(),
                Series::new("order_key".into(), &order).into_column(),
                Series::new("seq".into(), &seq).into_column(),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // (rows per run, per row group of a run file, held by the merge; rows pushed at a time)
        let sizes = [
            (3 * n, 1 << 14, 1 << 20, 4096),
            (n, 1 << 14, 1 << 20, 4096),
            (2_500, 1 << 14, 1 << 20, 1000),
            (2_500, 100, 1_000, 1000),
            (1_000, 50, 100, 777),
            (100, 16, 16, 64),
        ];
        for (k, (run_rows, group_rows, held, batch)) in sizes.into_iter().enumerate() {
            let out = dir.path().join(format!("s{k}.parquet"));
            let tmp = |i: usize| dir.path().join(format!("r{k}-{i}.parquet"));
            let mut w = SortedWriter::new(out.clone(), run_rows, 777, tmp)
                .with_merge_sizes(group_rows, held)
                .with_in_order_runs(run_rows / 3)
                .constant_columns(&["load_version", "source_file"]);
            for start in (0..n).step_by(batch) {
                w.push(df.slice(start as i64, batch.min(n - start)))
                    .unwrap();
            }
            let done = w.finish(None).unwrap().expect("rows written");
            // Row groups hold whole customers but the one of 3,000 rows, and say so.
            let giant = match layout {
                Scattered | GroupedThenScattered => 7,
                Grouped | GroupedWithAGiant => customer[8_000],
            };
            for pair in done.row_group_keys.windows(2) {
                assert!(pair[0].1 < pair[1].0 || pair[0].1 == giant, "{pair:?}");
            }
            // Runs in order (of a third of a run here) go straight into the file; the rest is
            // merged. One run needs neither.
            let merged = match layout {
                _ if run_rows / 3 >= n => false,
                Grouped => false,
                // The giant's 3,000 rows wait for the next run only up to half a run.
                GroupedWithAGiant => run_rows / 2 < 3_000,
                Scattered | GroupedThenScattered => true,
            };
            assert_eq!(
                done.merged_runs > 0,
                merged,
                "{layout:?}, runs of {run_rows}"
            );
            let s = read(&out);
            assert_eq!(s.height(), n);
            // The constant columns, carried aside, are back in their places with their values.
            assert_eq!(s.get_column_names(), df.get_column_names());
            let file = s.column("source_file").unwrap().str().unwrap();
            assert!(file.iter().all(|f| f == Some("orders.csv")));
            let version = s.column("load_version").unwrap().i64().unwrap();
            assert!(version.iter().all(|v| v == Some(3)));
            let c = s.column("customer_key").unwrap().i64().unwrap();
            let o = s.column("order_key").unwrap().i64().unwrap();
            let q = s.column("seq").unwrap().i64().unwrap();
            let mut seen = vec![false; n];
            for i in 0..n {
                let key = (c.get(i).unwrap(), o.get(i).unwrap(), q.get(i).unwrap());
                assert!(!seen[key.2 as usize], "row {} twice", key.2);
                seen[key.2 as usize] = true;
                assert_eq!(customer[key.2 as usize], key.0);
                assert_eq!(order[key.2 as usize], key.1);
                if i > 0 {
                    let prev = (
                        c.get(i - 1).unwrap(),
                        o.get(i - 1).unwrap(),
                        q.get(i - 1).unwrap(),
                    );
                    assert!(
                        prev < key,
                        "{layout:?}, runs of {run_rows}: rows {} and {i} out of order: \
                         {prev:?} {key:?}",
                        i - 1
                    );
                }
            }
            assert!(seen.iter().all(|s| *s), "{layout:?}: a row went missing");
            let groups: usize = done.row_group_keys.len();
            assert!(groups >= n / 777 / 2, "{groups} row groups");
            // Temporary run files are gone.
            assert!(!tmp(0).exists());
        }
    }

    /// The same lines pushed grouped by customer (ids in text order) or in a scattered order,
    /// their keys given as a load gives them (first seen, then renumbered in id order), make
    /// the same file whatever the run sizes: the same rows, keys and order, lines of an order
    /// by transaction id.
    #[test]
    fn the_same_lines_in_any_order_make_the_same_file() {
        use crate::ingest::keys::CustomerKeys;
        let n = 12_000usize;
        // Line i: customer (i / 40) of 300, with ids numbered out of their text order ("c9" >
        // "c10"); orders of 1 to 4 lines; transaction ids whose text order is not the order
        // of the lines ("t10" < "t9").
        let line = |i: usize| {
            let customer = format!("c{}", (i / 40 * 7_919) % 300);
            let order = format!("{customer}-o{}", i % 40 / 4);
            let id = format!("{order}-t{}", (i % 4 * 5) % 11);
            (customer, order, id)
        };
        let grouped: Vec<usize> = {
            let mut rows: Vec<usize> = (0..n).collect();
            rows.sort_by_key(|&i| (line(i).0, i));
            rows
        };
        // Orders (blocks of 4 lines) scattered, each one's lines backwards.
        let scattered: Vec<usize> = (0..n / 4)
            .flat_map(|b| (0..4).rev().map(move |l| (b * 7_001 % (n / 4)) * 4 + l))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let load = |name: &str, rows: &[usize], run_rows: usize| -> DataFrame {
            // One stored id, key 1, so new keys start at 2.
            let mut keys = CustomerKeys::from_pairs([("c0", 1)].into_iter());
            let out = dir.path().join(format!("{name}.parquet"));
            let tmp = |i: usize| dir.path().join(format!("{name}-{i}.parquet"));
            let first = keys.mark();
            let mut w = SortedWriter::new(out.clone(), run_rows, 500, tmp)
                .with_merge_sizes(64, 512)
                .with_in_order_runs(run_rows / 2)
                .new_keys_from(first);
            for batch in rows.chunks(700) {
                let lines: Vec<_> = batch.iter().map(|&i| line(i)).collect();
                let key: Vec<i64> = lines.iter().map(|l| keys.key(&l.0)).collect();
                let order: Vec<i64> = lines
                    .iter()
                    .map(|l| crate::ingest::keys::order_key(Some(&l.1), &l.2))
                    .collect();
                let df = DataFrame::new(
                    batch.len(),
                    vec![
                        Series::new(
                            "transaction_id".into(),
                            lines.iter().map(|l| l.2.as_str()).collect::<Vec<_>>(),
                        )
                        .into_column(),
                        Series::new(
                            "customer_id".into(),
                            lines.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(),
                        )
                        .into_column(),
                        Series::new("customer_key".into(), &key).into_column(),
                        Series::new("order_key".into(), &order).into_column(),
                    ],
                )
                .unwrap();
                if !keys.in_text_order() {
                    w.new_keys_out_of_text_order();
                }
                w.push(df).unwrap();
            }
            w.finish(keys.renumber()).unwrap();
            read(&out)
        };
        let want = load("grouped-one-run", &grouped, 3 * n);
        // Keys 2.. in the order of the ids' text, the stored id keeping its own.
        let ids = want.column("customer_id").unwrap().str().unwrap();
        let keys = want.column("customer_key").unwrap().i64().unwrap();
        let mut seen: Vec<(&str, i64)> = ids.iter().flatten().zip(keys.iter().flatten()).collect();
        seen.dedup();
        assert_eq!(seen.len(), 300, "each customer's rows together");
        assert_eq!(seen[0], ("c0", 1));
        assert!(
            seen[1..]
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[1].1 == w[0].1 + 1),
            "{seen:?}"
        );
        assert_eq!(seen[1].1, 2);
        for (name, rows, run_rows) in [
            ("grouped-runs", &grouped, 1_000),
            ("scattered-one-run", &scattered, 3 * n),
            ("scattered-runs", &scattered, 1_000),
            ("scattered-small-runs", &scattered, 150),
        ] {
            let got = load(name, rows, run_rows);
            assert!(got.equals(&want), "{name}: {got} against {want}");
        }
    }

    /// With many runs each step of the merge hands on about `cap` rows, not everything below
    /// the least last key of all runs; every customer's rows in one step, steps in key order.
    #[test]
    fn a_merge_of_many_runs_goes_in_steps_of_about_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let (runs, per_run, cap) = (20usize, 5_000usize, 1_000usize);
        let mut opened = Vec::new();
        for r in 0..runs {
            let mut keys: Vec<i64> = (0..per_run)
                .map(|i| ((i * 7_919 + r * 104_729) % 10_000) as i64)
                .collect();
            keys.sort_unstable();
            let df = DataFrame::new(
                per_run,
                vec![
                    Series::new("customer_key".into(), &keys).into_column(),
                    Int64Chunked::full("order_key".into(), 0, per_run).into_column(),
                ],
            )
            .unwrap();
            let path = dir.path().join(format!("r{r}.parquet"));
            let mut w = Writer::create(&path, df.schema(), Purpose::Scratch).unwrap();
            for start in (0..per_run).step_by(500) {
                w.write(&mut df.slice(start as i64, 500)).unwrap();
            }
            w.finish().unwrap();
            opened.push(Run::open(&path, 1).unwrap());
        }
        let mut steps: Vec<(usize, i64, i64)> = Vec::new();
        merge_pieces(opened, cap, |piece| {
            let keys = customer_keys(&piece).unwrap();
            let (lo, hi) = (*keys.iter().min().unwrap(), *keys.iter().max().unwrap());
            steps.push((piece.height(), lo, hi));
            Ok(true)
        })
        .unwrap();
        assert_eq!(steps.iter().map(|s| s.0).sum::<usize>(), runs * per_run);
        assert!(
            steps.len() >= runs * per_run / cap / 2,
            "{} steps",
            steps.len()
        );
        for s in &steps {
            assert!(s.0 <= 2 * cap, "a step of {} rows", s.0);
        }
        for pair in steps.windows(2) {
            assert!(pair[0].2 < pair[1].1, "steps out of key order: {pair:?}");
        }
    }

    /// A load without rows writes no file.
    #[test]
    fn a_load_without_rows_writes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s.parquet");
        let w = SortedWriter::new(out.clone(), 10, 5, |i| dir.path().join(format!("r{i}")));
        assert!(w.finish(None).unwrap().is_none());
        assert!(!out.exists());
    }
}
