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
            let file = File::create(path).map_err(|e| Error::io(path, e))?;
            write_to(batches, schema, format, file).map_err(|e| Error::io(path, e))
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
