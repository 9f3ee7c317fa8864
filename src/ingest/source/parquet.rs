//! Parquet exports, read in batches of rows; a rejected row is shown as its values' text.

use std::fs::File;
use std::path::Path;

use super::{BATCH_ROWS, flush, source_name};
use crate::error::{Error, Result};
use crate::ingest::load::Merger;
use crate::ingest::parse::{Raws, RowParser, Spec};

/// Reads a Parquet export a batch at a time (memory: one batch, whatever the file's size)
/// through arrow's reader, which knows every Parquet type: each value becomes the text a CSV
/// export would hold, and is parsed and checked like one. Decimals print exactly; lists and
/// structs (never a canonical column's type) as arrow displays them, so they are rejected with
/// a reason where a canonical column is mapped to them and kept as attributes otherwise.
pub(super) fn read_parquet(path: &Path, spec: &Spec, merger: &mut Merger) -> Result<()> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = File::open(path).map_err(|e| Error::source(path, format!("cannot open: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::source(path, format!("not a readable Parquet file: {e}")))?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let parser = RowParser::new(spec, &names);
    parser.check_required(&source_name(path))?;
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| Error::source(path, format!("not a readable Parquet file: {e}")))?;
    let mut batch = parser.batch(BATCH_ROWS, Raws::Stored(Vec::new()));
    let mut number = 0u64;
    for rb in reader {
        let rb =
            rb.map_err(|e| Error::source(path, format!("unreadable after row {number}: {e}")))?;
        let columns = rb
            .columns()
            .iter()
            .zip(&names)
            .map(|(c, name)| {
                parquet_texts(c).map_err(|e| {
                    Error::source(path, format!("column {name:?} cannot be read as text: {e}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for row in 0..rb.num_rows() {
            number += 1;
            let fields: Vec<Option<&str>> = columns.iter().map(|c| c[row].as_deref()).collect();
            let plain = || {
                serde_json::Value::Object(
                    names
                        .iter()
                        .zip(&fields)
                        .map(|(k, v)| {
                            let v = v
                                .map(|v| serde_json::Value::String(v.to_string()))
                                .unwrap_or(serde_json::Value::Null);
                            (k.clone(), v)
                        })
                        .collect(),
                )
                .to_string()
            };
            parser.parse(&mut batch, number, &fields, &plain, None, None);
            if batch.read() as usize >= BATCH_ROWS {
                flush(&mut batch, &parser, merger)?;
            }
        }
    }
    merger.merge(batch, &parser)
}

/// A Parquet column's values as text. Timestamps as ISO 8601: with a zone they are instants
/// (written as UTC), without one wall-clock times that the source's `timezone` places.
fn parquet_texts(
    col: &datafusion::arrow::array::ArrayRef,
) -> std::result::Result<Vec<Option<String>>, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{
        DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
        TimestampNanosecondType, TimestampSecondType,
    };
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    if let DataType::Timestamp(unit, tz) = col.data_type() {
        let micros: Vec<Option<i64>> = match unit {
            TimeUnit::Second => col
                .as_primitive::<TimestampSecondType>()
                .iter()
                .map(|v| v.and_then(|v| v.checked_mul(1_000_000)))
                .collect(),
            TimeUnit::Millisecond => col
                .as_primitive::<TimestampMillisecondType>()
                .iter()
                .map(|v| v.and_then(|v| v.checked_mul(1000)))
                .collect(),
            TimeUnit::Microsecond => col
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .collect(),
            TimeUnit::Nanosecond => col
                .as_primitive::<TimestampNanosecondType>()
                .iter()
                .map(|v| v.map(|v| v.div_euclid(1000)))
                .collect(),
        };
        let fmt = if tz.is_some() {
            "%Y-%m-%dT%H:%M:%S%.fZ"
        } else {
            "%Y-%m-%dT%H:%M:%S%.f"
        };
        return Ok(micros
            .into_iter()
            .map(|m| {
                chrono::DateTime::from_timestamp_micros(m?)
                    .map(|d| d.naive_utc().format(fmt).to_string())
            })
            .collect());
    }
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(col.as_ref(), &options)?;
    Ok((0..col.len())
        .map(|i| (!col.is_null(i)).then(|| formatter.value(i).to_string()))
        .collect())
}
