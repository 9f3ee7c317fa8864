//! Writing query results: an aligned table for people, CSV, JSON and Parquet for scripts.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};

/// Writes `batches` to `out`, or to standard output when `out` is None.
pub fn write(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    format: OutputFormat,
    out: Option<&Path>,
) -> Result<()> {
    match out {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            // Written beside the target and renamed over it: a reader never sees half a file,
            // and a symbolic link at the target's name is replaced, not written through (a
            // link planted in a report folder must not make crm overwrite a file elsewhere).
            let tmp = path.with_file_name(format!(
                ".{}.partial-{}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let written = write_to(batches, schema, format, file)
                .map_err(|e| Error::io(path, e))
                .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written
        }
        None => {
            if format == OutputFormat::Parquet {
                return Err(Error::usage("--format parquet needs --out PATH"));
            }
            let stdout = std::io::BufWriter::new(std::io::stdout());
            write_to(batches, schema, format, stdout).map_err(|e| Error::io("<stdout>", e))
        }
    }
}

pub fn write_to<W: Write + Send>(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    format: OutputFormat,
    mut w: W,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let batches: Vec<RecordBatch> = batches.iter().map(without_negative_zero).collect();
    let batches = &batches[..];
    match format {
        OutputFormat::Table => {
            let table = datafusion::arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(w, "{table}")?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            writeln!(w, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
        }
        OutputFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(w);
            if batches.is_empty() {
                // A header even for no rows, so that scripts can rely on it.
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(writer.into_inner(), "{}", names.join(","))?;
                return Ok(());
            }
            for b in batches {
                writer.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut w);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs)?;
            // Writes `[]` for no rows too (arrow-json 59 opens and closes the array in finish).
            writer.finish()?;
            writeln!(w)?;
        }
        OutputFormat::Parquet => {
            let mut writer = ArrowWriter::try_new(w, schema.clone(), None)?;
            for b in batches {
                writer.write(b)?;
            }
            writer.close()?;
        }
    }
    Ok(())
}

/// `batch` with every -0.0 of its Float64 columns written as 0.0. A sum of amounts that cancel
/// is -0.0 or 0.0 depending on the order the rows were added in (a customer's refund before or
/// after the purchase it refunds), and a person should not read "-0.0" nor a script see two
/// loads of the same lines differ by it.
fn without_negative_zero(batch: &RecordBatch) -> RecordBatch {
    use datafusion::arrow::array::{ArrayRef, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|col| match col.data_type() {
            DataType::Float64 => {
                let out: datafusion::arrow::array::Float64Array =
                    col.as_primitive::<Float64Type>().unary(|x| x + 0.0);
                std::sync::Arc::new(out) as ArrayRef
            }
            _ => col.clone(),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns).expect("same columns")
}

/// Query results as a JSON array of objects.
pub fn to_json(batches: &[RecordBatch], schema: &SchemaRef) -> Result<serde_json::Value> {
    let mut buf = Vec::new();
    write_to(batches, schema, OutputFormat::Json, &mut buf).map_err(|e| Error::query("json", e))?;
    serde_json::from_slice(&buf).map_err(|e| Error::query("json", e))
}

/// `batch` with the named Float64 columns rounded to their number of decimals, for
/// `--format table`: people read four decimals of a probability, scripts get every digit
/// (a P(alive) of 1.6e-7 is not 0 to a script comparing with another tool).
pub fn rounded(batch: &RecordBatch, decimals: &[(&str, i32)]) -> RecordBatch {
    use datafusion::arrow::array::{ArrayRef, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let columns: Vec<ArrayRef> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, col)| {
            let places = decimals
                .iter()
                .find(|(n, _)| n == field.name())
                .map(|d| d.1);
            match places {
                Some(d) if field.data_type() == &DataType::Float64 => {
                    let k = 10f64.powi(d);
                    let out: datafusion::arrow::array::Float64Array = col
                        .as_primitive::<Float64Type>()
                        .unary(|x| (x * k).round() / k);
                    std::sync::Arc::new(out) as ArrayRef
                }
                _ => col.clone(),
            }
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns).expect("same columns")
}

/// `rounded` when the output is for people, else the batch as it is.
pub fn for_format(
    batch: RecordBatch,
    format: OutputFormat,
    decimals: &[(&str, i32)],
) -> RecordBatch {
    match format {
        OutputFormat::Table => rounded(&batch, decimals),
        _ => batch,
    }
}

/// Writes text to standard output, returning the error (a closed pipe included) instead of
/// panicking as `print!` does; `main` treats a closed pipe as success.
pub fn say(text: impl std::fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    write!(out, "{text}")
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("<stdout>", e))
}

/// `say` with a newline.
pub fn say_line(text: impl std::fmt::Display) -> Result<()> {
    say(format_args!("{text}\n"))
}

/// Digits of a whole number with thousands separators: `1234567` -> `1,234,567`.
pub fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whole units with thousands separators: `-12,345` (and `0`, never `-0`).
pub fn thousands(v: f64) -> String {
    let out = group_thousands(&format!("{:.0}", v.abs()));
    if v < 0.0 && out != "0" {
        format!("-{out}")
    } else {
        out
    }
}

/// Text made safe inside HTML or SVG markup and its attributes.
pub fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Float64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn a_negative_zero_is_written_as_zero_in_every_format() {
        let schema =
            std::sync::Arc::new(Schema::new(vec![Field::new("m", DataType::Float64, true)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![std::sync::Arc::new(Float64Array::from(vec![
                Some(-0.0),
                Some(1.5),
                Some(-2.0),
                None,
            ]))],
        )
        .unwrap();
        let text = |format| {
            let mut out = Vec::new();
            write_to(std::slice::from_ref(&batch), &schema, format, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(OutputFormat::Csv), "m\n0.0\n1.5\n-2.0\n\"\"\n");
        let json = text(OutputFormat::Json);
        assert!(
            json.starts_with("[{\"m\":0.0},{\"m\":1.5},{\"m\":-2.0}"),
            "{json}"
        );
        assert!(!text(OutputFormat::Table).contains("-0"));
        assert_eq!(crate::report::charts::axis_number(-0.004), "0");
    }
}
