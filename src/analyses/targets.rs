//! Target lists: one CSV of customer ids per segment, for a campaign tool. No personal fields.

use std::path::Path;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;

use crate::engine::Engine;
use crate::error::{Error, Result};

/// Segment -> (action, customer ids), in the order of the segment rules.
pub async fn rfm_lists(engine: &Engine) -> Result<Vec<(String, String, Vec<String>)>> {
    let rows = engine.read("rfm_target_lists", vec![]).await?;
    let mut lists: Vec<(String, String, Vec<String>)> = Vec::new();
    for b in &rows.batches {
        let seg = text(b.column(0))?;
        let act = text(b.column(1))?;
        let ids = text(b.column(2))?;
        for i in 0..b.num_rows() {
            let (s, a, id) = (seg.value(i), act.value(i), ids.value(i));
            match lists.last_mut() {
                Some((ls, _, v)) if ls == s => v.push(id.to_string()),
                _ => lists.push((s.to_string(), a.to_string(), vec![id.to_string()])),
            }
        }
    }
    Ok(lists)
}

fn text(column: &std::sync::Arc<dyn Array>) -> Result<StringArray> {
    let c = datafusion::arrow::compute::cast(column, &DataType::Utf8)
        .map_err(|e| Error::query("target lists", e))?;
    Ok(c.as_string::<i32>().clone())
}

/// One CSV per segment: `customer_id,segment,action`.
pub fn write_rfm_lists(dir: &Path, lists: &[(String, String, Vec<String>)]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (segment, action, ids) in lists {
        let path = dir.join(format!("{}.csv", slug(segment)));
        let mut w = csv::Writer::from_path(&path).map_err(|e| Error::io(&path, e))?;
        w.write_record(["customer_id", "segment", "action"])
            .map_err(|e| Error::io(&path, e))?;
        for id in ids {
            w.write_record([id.as_str(), segment, action])
                .map_err(|e| Error::io(&path, e))?;
        }
        w.flush().map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// One CSV per segment of each dimension of the customer profile (`age_band`, `country`, ...):
/// `<dimension>-<segment>.csv` with `customer_id,dimension,segment`. Returns the files written.
pub async fn write_profile_lists(engine: &Engine, dims: &[&str], dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = 0;
    for dim in dims {
        let param = ScalarValue::Utf8(Some(dim.to_string()));
        let rows = engine.read("segment_members", vec![param]).await?;
        let mut current: Option<(String, csv::Writer<std::fs::File>)> = None;
        for b in &rows.batches {
            let (ids, segs) = (text(b.column(0))?, text(b.column(2))?);
            for i in 0..b.num_rows() {
                let seg = segs.value(i);
                if current.as_ref().is_none_or(|(s, _)| s != seg) {
                    if let Some((_, mut w)) = current.take() {
                        w.flush().map_err(|e| Error::io(dir, e))?;
                    }
                    let path = dir.join(format!("{dim}-{}.csv", slug(seg)));
                    let mut w = csv::Writer::from_path(&path).map_err(|e| Error::io(&path, e))?;
                    w.write_record(["customer_id", "dimension", "segment"])
                        .map_err(|e| Error::io(&path, e))?;
                    files += 1;
                    current = Some((seg.to_string(), w));
                }
                let (_, w) = current.as_mut().expect("opened");
                w.write_record([ids.value(i), dim, seg])
                    .map_err(|e| Error::io(dir, e))?;
            }
        }
        if let Some((_, mut w)) = current.take() {
            w.flush().map_err(|e| Error::io(dir, e))?;
        }
    }
    Ok(files)
}

/// `Can't Lose Them` -> `cant_lose_them`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c == ' ' && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert_eq!(super::slug("Can't Lose Them"), "cant_lose_them");
        assert_eq!(super::slug("Champions"), "champions");
    }
}
