//! The fuzz targets' findings and deepest inputs, replayed on stable Rust as ordinary tests.
//!
//! In: every file of `tests/data/fuzz/<target>/` (a crash or mismatch the fuzzer found, minimized,
//! or a seed that reached deep). Out: each goes through the very checks its fuzz target runs
//! (`fuzz/oracle.rs`, shared by `#[path]`); one failure lists every file that fails, with the
//! check's message. A missing or empty folder is a failure, never a skip. How to fuzz and what
//! was found: `fuzz/README.md`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "../fuzz/oracle.rs"]
mod oracle;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!("FUZZ REGRESSION DATA MISSING: cannot read {} ({e}); refusing to pass without it", dir.display())
        })
        .map(|e| e.expect("read_dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "FUZZ REGRESSION DATA MISSING: {} holds no inputs", dir.display());
    let mut failures = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&bytes))) {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failures.push(format!("{}: {msg}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {target} inputs fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    eprintln!("{target}: {} inputs replayed", files.len());
}

#[test]
fn decode_body_inputs_pass_the_oracle() {
    replay("decode_body", oracle::decode_body);
}

#[test]
fn recording_reader_inputs_are_read_or_refused_cleanly() {
    replay("recording_reader", oracle::recording);
}
