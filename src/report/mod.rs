//! The report a manager reads: `report.html` with its charts (SVG inlined, PNG beside it for
//! e-mail), built from a run's analyses. `sections/` composes each section from the tables and
//! fitted models of [`crate::analyses::Analyses`]; `charts/` draws; `html.rs` lays out the page.

pub mod charts;
pub mod html;
mod sections;

pub use sections::write;
