//! The CSV path whole: the cutter that splits the file into chunks at record boundaries, the
//! record splitter (memchr and csv-core), the record parser and the merge.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load("csv", data));
