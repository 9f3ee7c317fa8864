//! JSON Lines exports, one record per line, read in batches.

use std::path::Path;

use super::{BATCH_ROWS, each_line, flush, open, source_name};
use crate::config::SourceConfig;
use crate::error::Result;
use crate::ingest::load::Merger;
use crate::ingest::parse::{Raws, RowParser, Spec};
use crate::warehouse::Fingerprinting;

pub(super) fn read_jsonl(
    path: &Path,
    cfg: &SourceConfig,
    spec: &Spec,
    merger: &mut Merger,
    hashing: &Fingerprinting,
) -> Result<()> {
    let (mut reader, progress) = open(path, cfg, hashing)?;
    let mut header: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut parser = RowParser::new(spec, &header);
    let mut batch = parser.batch(BATCH_ROWS, Raws::Stored(Vec::new()));
    let mut checked = false;
    each_line(&mut reader, path, |number, line, flag| {
        if line.trim().is_empty() {
            return Ok(());
        }
        let mut values: Vec<Option<String>> = Vec::new();
        let mut problem = None;
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(map)) => {
                let before = header.len();
                values = vec![None; header.len()];
                for (k, v) in map {
                    let i = *index.entry(k.clone()).or_insert_with(|| {
                        header.push(k);
                        header.len() - 1
                    });
                    if i >= values.len() {
                        values.resize(i + 1, None);
                    }
                    values[i] = json_text(v);
                }
                if header.len() != before {
                    // New keys: the batch so far belongs to the old header.
                    flush(&mut batch, &parser, merger)?;
                    parser = RowParser::new(spec, &header);
                }
                values.resize(header.len(), None);
            }
            Ok(_) => problem = Some("not a JSON object".to_string()),
            Err(e) => problem = Some(format!("invalid JSON: {e}")),
        }
        if !checked && problem.is_none() {
            parser.check_required(&source_name(path))?;
            checked = true;
        }
        let fields: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
        parser.parse(
            &mut batch,
            number,
            &fields,
            &|| line.to_string(),
            problem,
            flag,
        );
        if batch.read() as usize >= BATCH_ROWS {
            flush(&mut batch, &parser, merger)?;
        }
        Ok(())
    })?;
    merger.merge(batch, &parser)?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    Ok(())
}

fn json_text(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}
