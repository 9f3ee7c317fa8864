//! The report's data-quality section: the checks a manager reads, per table.

use super::{Analyses, strings, table_rows};
use crate::error::Result;
use crate::report::html::Section;

pub(super) async fn section(a: &mut Analyses<'_>) -> Result<Section> {
    let quality = a.json("data_quality_headline").await?;
    Ok(Section {
        title: "Data quality".into(),
        intro: "Every record of every export is loaded, rejected with a reason, or skipped as a duplicate; orphans (a customer id the customer export does not know) are kept and flagged.".into(),
        charts: vec![],
        tables: vec![(
            "Checks per table (crm quality has the full report).".into(),
            strings(&["table", "check", "value", "detail"]),
            table_rows(&quality, &["table_name", "check_name", "value", "detail"]),
        )],
    })
}
