//! The report: charts and one self-contained HTML page a manager can read.

pub mod charts;
pub mod html;
pub mod more_charts;
