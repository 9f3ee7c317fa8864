//! The JSON Lines reader: lines, objects with keys appearing mid-file, nested values.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load("jsonl", data));
