//! What a load did, as the table `crm ingest` and `crm run` print: per file
//! `read = loaded + rejected + duplicates`, then the rejects by reason.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use super::IngestReport;

impl IngestReport {
    /// The summary printed after a load: per file `read = loaded + rejected + duplicates`, then
    /// the rejects by reason.
    pub fn summary(&self) -> String {
        let report = self;
        let mut out = String::new();
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header([
            "source",
            "table",
            "read",
            "loaded",
            "rejected",
            "duplicates",
            "flagged",
            "file",
        ]);
        for f in &report.files {
            let n = |v: u64| {
                Cell::new(if f.skipped { "-".into() } else { v.to_string() })
                    .set_alignment(CellAlignment::Right)
            };
            t.add_row(vec![
                Cell::new(&f.source),
                Cell::new(&f.table),
                n(f.read),
                n(f.loaded),
                n(f.rejected),
                n(f.duplicates),
                n(f.flagged),
                Cell::new(if f.skipped {
                    format!("{} (unchanged, skipped)", f.path)
                } else {
                    f.path.clone()
                }),
            ]);
        }
        out.push_str(&format!("{t}\n"));
        for f in report.files.iter().filter(|f| !f.skipped) {
            out.push_str(&format!(
                "{}: read {} = loaded {} + rejected {} + duplicates {}\n",
                f.source, f.read, f.loaded, f.rejected, f.duplicates
            ));
        }
        let mut reasons = Table::new();
        reasons.load_preset(UTF8_FULL_CONDENSED);
        reasons.set_header(["source", "reason", "records"]);
        let mut any = false;
        for f in &report.files {
            for (reason, n) in &f.reasons {
                any = true;
                reasons.add_row(vec![
                    Cell::new(&f.source),
                    Cell::new(reason),
                    Cell::new(n).set_alignment(CellAlignment::Right),
                ]);
            }
        }
        if any {
            out.push_str(&format!("rejected records by reason (all kept in the rejects table: `crm query rejects`):\n{reasons}\n"));
        }
        for (key, path) in &report.vanished {
            out.push_str(&format!(
                "{key}: {path} was loaded before and is no longer there; its rows stay in the warehouse\n"
            ));
        }
        if report.removed_leftovers > 0 {
            out.push_str(&format!(
                "removed {} files left by an interrupted load\n",
                report.removed_leftovers
            ));
        }
        if let Some(v) = report.upgraded_at {
            out.push_str(&format!(
                "upgraded the warehouse (written by an earlier crm) with customer and order keys: version {v}\n"
            ));
        }
        if report.changed {
            out.push_str(&format!("warehouse version {}\n", report.version));
        } else {
            out.push_str(&format!(
                "nothing new: warehouse unchanged at version {}\n",
                report.version
            ));
        }
        out
    }
}
