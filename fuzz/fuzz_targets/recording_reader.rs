//! Arbitrary bytes as a recording file: `Recording::from_bytes` returns `Ok` (every row is then
//! walked and decided) or a one-line `Err`; never a panic (not even one its backstop catches), an
//! abort or an out-of-memory. The checks are in `fuzz/oracle.rs` (shared with
//! `tests/fuzz_regressions.rs`).
#![no_main]

#[path = "../oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| oracle::recording(bytes));
