#![no_main]
//! Fuzz target `stream`: see `../harness.rs`.

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::stream(data));
