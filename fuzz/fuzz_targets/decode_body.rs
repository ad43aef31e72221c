//! Arbitrary bytes as a miner's 200 body: the dispatcher (fast path, then exact) must agree with
//! the exact path alone, verdict and CORRECT prices bit for bit, and write nothing outside the
//! slot. The checks are in `fuzz/oracle.rs` (shared with `tests/fuzz_regressions.rs`).
#![no_main]

#[path = "../oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|body: &[u8]| oracle::decode_body(body));
