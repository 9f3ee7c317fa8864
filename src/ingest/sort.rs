//! The layout of a transactions load: its file sorted by (customer_key, order_key), so that the
//! engine aggregates per customer and per order as the rows stream by, one customer at a time,
//! instead of holding a hash table of every order (BENCHMARKS.md: 3.4 s and 81 MiB against
//! 10.7 s and 4 GiB for the RFM core over 100M lines).
//!
//! The sort keeps memory bounded whatever the load's size: a histogram of customer keys cuts
//! the key range into buckets of at most [`BUCKET_ROWS`] rows; one pass splits the load's rows
//! into a temporary file per bucket, and each bucket, read back whole, is sorted and appended
//! to the final file. Keys are dense integers, so the histogram is one counter per customer.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::load::RowGroupWriter;
use super::{parquet_writer, read_slices};
use crate::error::{Error, Result};

/// The order of every transactions file the load writes.
pub const SORT_KEYS: [&str; 2] = ["customer_key", "order_key"];

/// Rows per row group of a sorted file (about: row groups end where a customer ends). Four to a
/// bucket: a nightly load of a million lines that touches every customer still covers them in
/// four key ranges, so the engine can give each core its own range of every load.
pub const SORTED_ROW_GROUP_ROWS: usize = 1 << 18;

/// Rows sorted in memory at once (all columns of about 1M transactions: a few hundred MB;
/// 2M cost 0.4 GB more peak memory at 10M lines for no gain in time).
pub const BUCKET_ROWS: usize = 1 << 20;

/// Environment variable setting the bucket size instead, for the tests that prove a table cut
/// into many row groups (one bucket or more each) gives the same answers as one.
pub const BUCKET_ENV: &str = "CRM_SORT_BUCKET_ROWS";

/// [`BUCKET_ROWS`], or the size [`BUCKET_ENV`] sets.
pub fn bucket_rows() -> usize {
    super::size_from_env(BUCKET_ENV, BUCKET_ROWS)
}

/// Rows read from the unsorted file at a time.
const SLICE_ROWS: usize = 1 << 20;

/// Writes the rows of `unsorted` to `sorted` in [`SORT_KEYS`] order, with row groups of
/// `row_group_rows`; temporary files go to `tmp(i)` and are removed. A row of one customer
/// keeps its place among that customer's rows of equal order key (a stable sort).
///
/// A bucket is written as row groups of its own, each ending where a customer ends: a
/// customer's rows share a row group unless the customer alone has more rows than one.
pub fn sort_file(
    unsorted: &Path,
    sorted: PathBuf,
    row_group_rows: usize,
    bucket_rows: usize,
    tmp: &dyn Fn(usize) -> PathBuf,
) -> Result<Sorted> {
    let err = |e: PolarsError| Error::warehouse(unsorted, e);

    // Rows per customer key.
    let mut counts: Vec<u64> = Vec::new();
    read_slices(unsorted, Some(&SORT_KEYS[..1]), SLICE_ROWS, |df| {
        for k in df
            .column(SORT_KEYS[0])
            .map_err(err)?
            .i64()
            .map_err(err)?
            .iter()
        {
            let k = k.unwrap_or(0).max(0) as usize;
            if k >= counts.len() {
                counts.resize((k + 1).max(counts.len() * 2), 0);
            }
            counts[k] += 1;
        }
        Ok(())
    })?;
    // Consecutive key ranges of at most bucket_rows rows (one customer may hold more).
    let mut bucket_of = vec![0u32; counts.len()];
    let mut bucket = 0u32;
    let mut filled = 0u64;
    for (k, &n) in counts.iter().enumerate() {
        if filled > 0 && filled + n > bucket_rows as u64 {
            bucket += 1;
            filled = 0;
        }
        bucket_of[k] = bucket;
        filled += n;
    }
    let buckets = bucket as usize + 1;
    drop(counts);

    let mut out = RowGroupWriter::start(sorted);
    let mut done = Sorted::default();
    if buckets == 1 {
        let df = ParquetReader::new(File::open(unsorted).map_err(|e| Error::io(unsorted, e))?)
            .finish()
            .map_err(err)?;
        out = sorted_into(out, df, row_group_rows, unsorted, &mut done)?;
    } else {
        // Split: each slice's rows go to their bucket's file, in file order.
        let paths: Vec<PathBuf> = (0..buckets).map(tmp).collect();
        let mut writers: Vec<Option<polars::io::parquet::write::BatchedWriter<File>>> =
            (0..buckets).map(|_| None).collect();
        read_slices(unsorted, None, SLICE_ROWS, |df| {
            let keys = df.column(SORT_KEYS[0]).map_err(err)?.i64().map_err(err)?;
            let mut rows_of: Vec<Vec<IdxSize>> = vec![Vec::new(); buckets];
            for (row, k) in keys.iter().enumerate() {
                let k = k.unwrap_or(0).max(0) as usize;
                rows_of[bucket_of[k] as usize].push(row as IdxSize);
            }
            for (b, idx) in rows_of.into_iter().enumerate() {
                if idx.is_empty() {
                    continue;
                }
                let part = df.take(&IdxCa::from_vec("".into(), idx)).map_err(err)?;
                let path = &paths[b];
                let w = match &mut writers[b] {
                    Some(w) => w,
                    None => writers[b].insert(
                        parquet_writer(path)?
                            .with_compression(ParquetCompression::Lz4Raw)
                            .batched(part.schema())
                            .map_err(|e| Error::warehouse(path, e))?,
                    ),
                };
                w.write_batch(&part)
                    .map_err(|e| Error::warehouse(path, e))?;
            }
            Ok(())
        })?;
        for w in writers.iter_mut() {
            if let Some(w) = w.take() {
                w.finish().map_err(err)?;
            }
        }
        give_back_free_memory();
        // Sort: a bucket at a time, in key order.
        for path in &paths {
            if !path.exists() {
                continue;
            }
            let df = ParquetReader::new(File::open(path).map_err(|e| Error::io(path, e))?)
                .finish()
                .map_err(|e| Error::warehouse(path, e))?;
            out = sorted_into(out, df, row_group_rows, path, &mut done)?;
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            give_back_free_memory();
        }
    }
    out.finish()?;
    Ok(done)
}

/// Hands the heap's free pages back to the system. glibc keeps what a bucket's rows occupied
/// (in the arena of whichever thread freed them) for reuse, and the next bucket, read and
/// sorted on other threads, takes fresh pages instead: at 10M lines the sort's peak was 1 GB of
/// such free memory (MALLOC_TRIM_THRESHOLD_=0 showed it, at 40% more time).
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What [`sort_file`] learnt of the rows it wrote.
#[derive(Debug, Default)]
pub struct Sorted {
    /// The first and last customer key of each row group, in file order.
    pub row_group_keys: Vec<(i64, i64)>,
    /// The latest `ts` (micros since the epoch, UTC), if the load has a `ts` column.
    pub latest_ts: Option<i64>,
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

/// Sorts `df` (read from `source`) and sends it to `out` in row groups of `row_group_rows`;
/// records each row group's key range and the latest time in `done`.
fn sorted_into(
    mut out: RowGroupWriter,
    df: DataFrame,
    row_group_rows: usize,
    source: &Path,
    done: &mut Sorted,
) -> Result<RowGroupWriter> {
    let options = SortMultipleOptions::default().with_maintain_order(true);
    let unsorted = df;
    let df = unsorted
        .sort(SORT_KEYS, options)
        .map_err(|e| Error::warehouse(source, e))?;
    // The rows in their first order are no longer needed (shadowing would keep them).
    drop(unsorted);
    let keys = df
        .column(SORT_KEYS[0])
        .and_then(|c| c.i64().map(|c| c.rechunk().into_owned()))
        .map_err(|e| Error::warehouse(source, e))?;
    let key = |i: usize| keys.get(i).unwrap_or(0);
    let n = df.height();
    let mut start = 0;
    while start < n {
        // End the row group where a customer ends (a customer of more rows than a row group
        // aside), so that a range of customers reads whole row groups.
        let mut end = (start + row_group_rows).min(n);
        if end < n {
            let mut at = end;
            while at > start + 1 && key(at) == key(at - 1) {
                at -= 1;
            }
            if key(at) != key(at - 1) {
                end = at;
            }
        }
        let group = df.slice(start as i64, end - start);
        done.add_row_group(&group)
            .map_err(|e| Error::warehouse(source, e))?;
        out = out.send(group)?;
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, df: &mut DataFrame) {
        ParquetWriter::new(File::create(path).unwrap())
            .with_row_group_size(Some(1000))
            .finish(df)
            .unwrap();
    }

    fn read(path: &Path) -> DataFrame {
        ParquetReader::new(File::open(path).unwrap())
            .finish()
            .unwrap()
    }

    /// Sorted in one piece or through many buckets, the file holds the same rows in key order,
    /// rows of equal keys in their first order, and a customer larger than a bucket whole.
    #[test]
    fn a_load_sorted_through_buckets_keeps_every_row_in_key_order() {
        let n = 20_000usize;
        // Customer 7 alone has 3,000 rows: more than a bucket.
        let customer: Vec<i64> = (0..n)
            .map(|i| {
                if i % 5 == 0 && i < 15_000 {
                    7
                } else {
                    (i * 7919 % 311) as i64 + 1
                }
            })
            .collect();
        let order: Vec<i64> = (0..n).map(|i| ((i * 104_729) % 13) as i64 - 6).collect();
        let seq: Vec<i64> = (0..n as i64).collect();
        let text: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let mut df = DataFrame::new(
            n,
            vec![
                Series::new("transaction_id".into(), &text).into_column(),
                Series::new("customer_key".into(), &customer).into_column(),
                Series::new("order_key".into(), &order).into_column(),
                Series::new("seq".into(), &seq).into_column(),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let unsorted = dir.path().join("u.parquet");
        write(&unsorted, &mut df);
        for bucket_rows in [n, 2_500, 1_000] {
            let out = dir.path().join(format!("s{bucket_rows}.parquet"));
            let tmp = |i: usize| dir.path().join(format!("b{bucket_rows}-{i}.parquet"));
            let done = sort_file(&unsorted, out.clone(), 777, bucket_rows, &tmp).unwrap();
            // Row groups hold whole customers but customer 7 (3,000 rows), and say so.
            for pair in done.row_group_keys.windows(2) {
                assert!(pair[0].1 < pair[1].0 || pair[0].1 == 7, "{pair:?}");
            }
            let s = read(&out);
            assert_eq!(s.height(), n);
            let c = s.column("customer_key").unwrap().i64().unwrap();
            let o = s.column("order_key").unwrap().i64().unwrap();
            let q = s.column("seq").unwrap().i64().unwrap();
            let mut seen = vec![false; n];
            for i in 0..n {
                let key = (c.get(i).unwrap(), o.get(i).unwrap(), q.get(i).unwrap());
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
                        "rows {} and {i} out of order: {prev:?} {key:?}",
                        i - 1
                    );
                }
            }
            assert!(seen.iter().all(|s| *s), "a row went missing");
            // Temporary bucket files are gone.
            assert!(!tmp(0).exists());
        }
    }
}
