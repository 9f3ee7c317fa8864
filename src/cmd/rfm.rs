//! `crm rfm`: RFM scores and named segments per customer, and per-segment target lists.

use std::path::Path;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};

use crate::cli::RfmArgs;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::output;

/// The columns of `crm rfm --format csv`, in this order (a stable shape for scripts).
pub const RFM_COLUMNS: &str =
    "customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, rfm_cell, segment";

pub fn run(args: RfmArgs) -> Result<()> {
    let config = super::resolve_config(&args.warehouse)?;
    super::runtime()?.block_on(async {
        let engine = Engine::open(&config, args.warehouse.as_of).await?;
        let batches = rfm_table(&engine).await?;
        if let Some(dir) = &args.export {
            let lists = target_lists(&engine).await?;
            write_target_lists(dir, &lists)?;
            eprintln!("wrote {} target lists to {}", lists.len(), dir.display());
        }
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => engine
                .user_sql("rfm", &format!("select {RFM_COLUMNS} from rfm"))
                .await?
                .schema()
                .inner()
                .clone(),
        };
        output::write(
            &batches,
            &schema,
            args.output.format,
            args.output.out.as_deref(),
        )
    })
}

pub async fn rfm_table(engine: &Engine) -> Result<Vec<RecordBatch>> {
    let df = engine
        .user_sql(
            "rfm",
            &format!("select {RFM_COLUMNS} from rfm order by customer_id"),
        )
        .await?;
    engine.collect("rfm", df).await
}

/// Segment -> (action, customer ids), in the order of the segment rules.
pub async fn target_lists(engine: &Engine) -> Result<Vec<(String, String, Vec<String>)>> {
    let sql = "select r.segment, r.action, r.customer_id from rfm as r \
               join rfm_segment_rules as s on s.segment = r.segment \
               order by s.priority, r.customer_id";
    let df = engine.user_sql("rfm target lists", sql).await?;
    let batches = engine.collect("rfm target lists", df).await?;
    let mut lists: Vec<(String, String, Vec<String>)> = Vec::new();
    for b in &batches {
        let seg = b.column(0).cast_to_string()?;
        let act = b.column(1).cast_to_string()?;
        let ids = b.column(2).cast_to_string()?;
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

trait CastToString {
    fn cast_to_string(&self) -> Result<datafusion::arrow::array::StringArray>;
}

impl CastToString for std::sync::Arc<dyn Array> {
    fn cast_to_string(&self) -> Result<datafusion::arrow::array::StringArray> {
        let c =
            datafusion::arrow::compute::cast(self, &datafusion::arrow::datatypes::DataType::Utf8)
                .map_err(|e| Error::query("cast", e))?;
        Ok(c.as_string::<i32>().clone())
    }
}

/// One CSV per segment: `customer_id,segment,action`; no personal fields.
pub fn write_target_lists(dir: &Path, lists: &[(String, String, Vec<String>)]) -> Result<()> {
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
