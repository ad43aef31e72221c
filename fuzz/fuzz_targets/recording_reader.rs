//! Arbitrary bytes as a recording file: `Recording::from_bytes` returns `Ok` (every row is then
//! walked and decided) or a one-line `Err`; never an abort, an out-of-memory or a panic, except
//! the known upstream arrow panics that the reader's backstop turns into an error. The checks are
//! in `fuzz/oracle.rs` (shared with `tests/fuzz_regressions.rs`).
#![no_main]

#[path = "../oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    oracle::let_arrow_panics_unwind();
    oracle::recording(bytes)
});
