//! Writing warehouse Parquet files with polars' Parquet writer (polars-parquet) driven directly,
//! so that the load chooses each column's encoding instead of having the writer try a
//! dictionary for every string column of every row group.
//!
//! polars' `ParquetWriter` tries dictionary encoding for each string column: it estimates the
//! column's distinct values and, below three in four, builds the dictionary in a hash map. For
//! the load's temporary run files (read once, then removed) that was a fifth of the load's CPU
//! (perf, 10M lines); in the warehouse files the id columns (`transaction_id`, `order_id`:
//! nearly one value per row, never grouped by the engine, which uses the keys) pay for it too.
//! Those are written plainly; every other column as polars would.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_arrow::array::{
    Array, DictionaryArray, MutableArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::write::{
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter,
    ParquetType, StatisticsOptions, Version, WriteOptions, array_to_columns, array_to_pages,
    compress, fallible_streaming_iterator, to_nested, to_parquet_leaves, to_parquet_schema,
};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

/// Columns written without a dictionary in every warehouse file: ids of nearly one row each,
/// hashes, instants to the minute and amounts to the cent, whose dictionaries (polars tries one
/// for every integer and string column) hold most of their rows. At 10M lines the attempts were
/// 7% of the load's CPU, and `order_key` and `ts` came out larger than written plainly.
const PLAIN: [&str; 7] = [
    "transaction_id",
    "order_id",
    "order_key",
    "record_hash",
    "source_record",
    "ts",
    "amount",
];

/// What a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A warehouse file: dictionaries where they pay.
    Warehouse,
    /// A temporary file the load reads once: no dictionaries.
    Scratch,
}

/// One Parquet file being written, a row group at a time.
pub struct Writer {
    path: PathBuf,
    file: FileWriter<BufWriter<File>>,
    fields: Vec<polars_parquet::write::ParquetType>,
    encodings: polars_buffer::Buffer<Vec<Encoding>>,
    options: WriteOptions,
}

impl Writer {
    /// A file at `path` (its folder created) for frames of `schema`.
    pub fn create(path: &Path, schema: &Schema, purpose: Purpose) -> Result<Writer> {
        let err = |e: PolarsError| Error::warehouse(path, e);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let arrow = schema.to_arrow(CompatLevel::newest());
        let fields = to_parquet_schema(&arrow).map_err(err)?.fields().to_vec();
        let encodings = arrow
            .iter_values()
            .map(|f| {
                let dictionary = purpose == Purpose::Warehouse && !PLAIN.contains(&f.name.as_str());
                polars_parquet::write::get_dtype_encoding(&f.dtype)
                    .into_iter()
                    .map(|e| match e {
                        Encoding::RleDictionary if !dictionary => Encoding::Plain,
                        e => e,
                    })
                    .collect()
            })
            .collect::<Vec<Vec<Encoding>>>()
            .into();
        let options = WriteOptions {
            // No column statistics: see `super::parquet_writer`.
            statistics: StatisticsOptions::empty(),
            version: Version::V1,
            // LZ4 (LZ4_RAW, the Parquet codec without Hadoop's framing) for the warehouse: at
            // 10M lines the load 0.5-0.7 s of CPU faster than zstd at level 1 (8.09-8.47 s user
            // against 8.83-9.01 s), RFM and the cohort matrix 10-15% less CPU to decompress,
            // for a file a third larger (386 MB against 289 MB; the CSV is 700 MB). Snappy,
            // what DuckDB writes by default, loads alike but is larger (397 MB) and reads
            // slower. Scratch files (the sorted runs of a load not grouped by customer, read
            // back once by the merge) uncompressed: LZ4 was an eighth of the CPU of a
            // time-ordered 10M-line load; without it 15.1-16.6 s user against 16.9-19.0 s,
            // for about twice the temporary disk (BENCHMARKS.md).
            compression: if purpose == Purpose::Scratch {
                CompressionOptions::Uncompressed
            } else {
                CompressionOptions::Lz4Raw
            },
            data_page_size: None,
        };
        let file = FileWriter::try_new(BufWriter::with_capacity(1 << 20, file), arrow, options)
            .map_err(err)?;
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            fields,
            encodings,
            options,
        })
    }

    /// Writes `df` as one row group. A column written plainly is written a page set per chunk
    /// as it lies; only a column with a dictionary (one per column chunk) is made one chunk
    /// first. Copying every column into one chunk was a tenth of a 10M-line load's page faults.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let err = |e: PolarsError| Error::warehouse(&self.path, e);
        let rows = df.height() as u64;
        // Each column encoded and compressed on its own core (polars' writer encodes in
        // parallel but compresses as it writes, on one), then written in order.
        let options = self.options;
        let columns: Vec<Vec<CompressedPage>> = df
            .columns()
            .par_iter()
            .zip(self.fields.par_iter())
            .zip(self.encodings.par_iter())
            .map(
                |((column, field), encoding)| -> PolarsResult<Vec<CompressedPage>> {
                    let mut series = column.as_materialized_series().clone();
                    if series.n_chunks() > 1 && encoding.contains(&Encoding::RleDictionary) {
                        series = series.rechunk();
                    }
                    let mut pages = Vec::new();
                    for chunk in 0..series.n_chunks() {
                        let array = series.to_arrow(chunk, CompatLevel::newest());
                        if array.is_empty() {
                            continue;
                        }
                        if let Some(strings) = array.as_any().downcast_ref::<Utf8ViewArray>()
                            && encoding.contains(&Encoding::RleDictionary)
                        {
                            for page in string_pages(strings, field, options)? {
                                pages.push(compress(page?, Vec::new(), options.compression)?);
                            }
                            continue;
                        }
                        for leaf in array_to_columns(&array, field.clone(), options, encoding)? {
                            for page in leaf {
                                pages.push(compress(page?, Vec::new(), options.compression)?);
                            }
                        }
                    }
                    Ok(pages)
                },
            )
            .collect::<PolarsResult<_>>()
            .map_err(err)?;
        let group = DynIter::new(columns.iter().map(|pages| {
            Ok(DynStreamingIterator::new(
                fallible_streaming_iterator::convert(pages.iter().map(PolarsResult::Ok)),
            ))
        }));
        self.file.write(rows, group).map_err(err)?;
        Ok(())
    }

    /// Writes the footer.
    pub fn finish(mut self) -> Result<()> {
        self.file
            .end(None)
            .map_err(|e| Error::warehouse(&self.path, e))?;
        let mut inner = self.file.into_inner();
        std::io::Write::flush(&mut inner).map_err(|e| Error::io(&self.path, e))
    }
}

/// The pages of a string column that may take a dictionary: with the dictionary built by
/// [`dictionary_of`] where it pays, plainly where it does not.
fn string_pages(
    strings: &Utf8ViewArray,
    field: &ParquetType,
    options: WriteOptions,
) -> PolarsResult<DynIter<'static, PolarsResult<polars_parquet::write::Page>>> {
    let nested = to_nested(strings, field)?;
    let leaf = to_parquet_leaves(field.clone());
    let (nested, leaf) = (&nested[0], leaf[0].clone());
    match dictionary_of(strings) {
        Some(dictionary) => {
            array_to_pages(&dictionary, leaf, nested, options, Encoding::RleDictionary)
        }
        None => array_to_pages(strings, leaf, nested, options, Encoding::Plain),
    }
}

/// The dictionary of a string column, in the order values are first seen (the order
/// polars-parquet gives its own, so the file is the same). polars-parquet first estimates the
/// column's distinct values, hashing each, then hashes each again to build the dictionary
/// (together 5% of a 10M-line load's CPU, perf); here a value equal to the row before's (a
/// customer's id on each of its rows of a sorted file, a currency) is keyed without hashing.
/// `None` where more than three values in four are distinct, as polars-parquet decides (the
/// column is then written plainly), or where every value is null.
fn dictionary_of(strings: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let rows = strings.len();
    let most = if rows > 128 { rows / 4 * 3 } else { rows };
    let mut index: FxHashMap<&str, u32> = FxHashMap::default();
    let mut values = MutableBinaryViewArray::<str>::new();
    let mut keys: Vec<u32> = Vec::with_capacity(rows);
    let mut last: Option<(&str, u32)> = None;
    for value in strings.iter() {
        let Some(value) = value else {
            // A null row's key is never read (the validity says null); 0 keeps it in bounds.
            keys.push(0);
            continue;
        };
        let key = match last {
            Some((before, key)) if before == value => key,
            _ => {
                let key = *index.entry(value).or_insert_with(|| {
                    values.push_value(value);
                    (values.len() - 1) as u32
                });
                if values.len() > most {
                    return None;
                }
                last = Some((value, key));
                key
            }
        };
        keys.push(key);
    }
    if values.is_empty() {
        return None;
    }
    let keys = PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        strings.validity().cloned(),
    );
    let dtype = ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    );
    DictionaryArray::try_new(dtype, keys, values.freeze().boxed()).ok()
}

/// A thread that writes the row groups it is sent into one Parquet file.
pub struct RowGroupWriter {
    path: PathBuf,
    groups: crossbeam_channel::Sender<DataFrame>,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl RowGroupWriter {
    pub fn start(path: PathBuf) -> RowGroupWriter {
        // One row group waiting while one is written: memory stays at about two row groups.
        let (groups, rx) = crossbeam_channel::bounded::<DataFrame>(1);
        let file = path.clone();
        let thread = std::thread::spawn(move || -> Result<()> {
            let path = file;
            let mut writer: Option<Writer> = None;
            for mut group in rx {
                let w = match &mut writer {
                    Some(w) => w,
                    None => {
                        writer.insert(Writer::create(&path, group.schema(), Purpose::Warehouse)?)
                    }
                };
                w.write(&mut group)?;
            }
            if let Some(w) = writer {
                w.finish()?;
            }
            Ok(())
        });
        RowGroupWriter {
            path,
            groups,
            thread,
        }
    }

    /// Sends a row group; a writer that stopped gives its error.
    pub fn send(self, group: DataFrame) -> Result<RowGroupWriter> {
        match self.groups.send(group) {
            Ok(()) => Ok(self),
            Err(_) => {
                let path = self.path.clone();
                Err(self.finish().err().unwrap_or_else(|| {
                    Error::warehouse(path, "internal: the Parquet writer stopped early")
                }))
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        drop(self.groups);
        let path = self.path;
        self.thread
            .join()
            .map_err(|_| Error::warehouse(path, "internal: the Parquet writer panicked"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[Option<&str>]) -> Utf8ViewArray {
        let mut a = MutableBinaryViewArray::<str>::new();
        for v in values {
            a.push(*v);
        }
        a.freeze()
    }

    /// Every valid row reads back through its key; the dictionary holds each value once, in the
    /// order first seen.
    #[test]
    fn dictionary_reads_back_every_row() {
        let rows = [
            Some("C1"),
            Some("C1"),
            None,
            Some("C2"),
            Some("C1"),
            Some("a value longer than twelve bytes"),
            Some("a value longer than twelve bytes"),
            Some(""),
            None,
            Some("C2"),
        ];
        let d = dictionary_of(&strings(&rows)).expect("a dictionary");
        let values = d.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        let dictionary: Vec<&str> = values.values_iter().collect();
        assert_eq!(
            dictionary,
            ["C1", "C2", "a value longer than twelve bytes", ""]
        );
        for (i, row) in rows.iter().enumerate() {
            match row {
                Some(v) => {
                    assert!(d.keys().is_valid(i));
                    assert_eq!(values.value(d.keys().value(i) as usize), *v, "row {i}");
                }
                None => assert!(!d.keys().is_valid(i), "row {i}"),
            }
        }
    }

    /// More than three distinct values in four, or no value at all: no dictionary.
    #[test]
    fn dictionary_only_where_it_pays() {
        let ids: Vec<String> = (0..1000).map(|i| format!("T{}", i % 760)).collect();
        let rows: Vec<Option<&str>> = ids.iter().map(|s| Some(s.as_str())).collect();
        assert!(dictionary_of(&strings(&rows)).is_none());
        let ids: Vec<String> = (0..1000).map(|i| format!("T{}", i % 750)).collect();
        let rows: Vec<Option<&str>> = ids.iter().map(|s| Some(s.as_str())).collect();
        assert_eq!(dictionary_of(&strings(&rows)).unwrap().values().len(), 750);
        assert!(dictionary_of(&strings(&[None, None])).is_none());
    }
}
