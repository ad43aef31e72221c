//! Builds the seed corpora of the fuzz targets (run by `scripts/fuzz.sh`; never committed).
//!
//! `seeds REPO OUT`: writes `OUT/decode_body/` (every body of `REPO/fixtures/small.cycle.arrow`
//! and of both conformance corpora, `REPO/../shared/conformance/{,v3/}cases.jsonl`) and `OUT/recording_reader/` (small synthetic
//! recordings: a few rows of every outcome, each compression, one and several batches). Files are
//! named by a hash of their content, so a rerun adds nothing twice.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use base64::Engine;
use synth_forward::fixture::{self, Outcome, Preset};
use synth_forward::recording::{Compression, Recording};

fn put(dir: &Path, bytes: &[u8]) -> bool {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    let path = dir.join(format!("seed-{:016x}", h.finish()));
    let new = !path.exists();
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    new
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [repo, out] = args.as_slice() else {
        eprintln!("usage: seeds REPO OUT");
        std::process::exit(2);
    };
    let bodies = out.join("decode_body");
    let recordings = out.join("recording_reader");
    for d in [&bodies, &recordings] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
    }

    // Bodies: the committed fixture's (100 × 61, every outcome) …
    let fx = repo.join("fixtures/small.cycle.arrow");
    let rec = Recording::read(&fx).unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    for row in 0..rec.rows() {
        if let Some(b) = rec.body(row) {
            n += usize::from(put(&bodies, b));
        }
    }
    // … and every conformance case's (small shapes, every rule; statuses ignored: all are fed
    // as 200 bodies).
    // Both corpora: v2's and today's (v3), whose cases add bools, non-finite and float32-range
    // prices, significant-digit boundaries and shape-versus-price precedence.
    for corpus in ["conformance/cases.jsonl", "conformance/v3/cases.jsonl"] {
        let cases = repo.join("../shared").join(corpus);
        let text = std::fs::read_to_string(&cases).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the shared/ folder beside the repository)",
                cases.display()
            )
        });
        let b64 = base64::engine::general_purpose::STANDARD;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("a case is JSON");
            let body = b64
                .decode(v["body_b64"].as_str().expect("body_b64"))
                .expect("body_b64 is base64");
            n += usize::from(put(&bodies, &body));
        }
    }
    // … and the bodies of a tiny cycle (2 paths × 3 points), the oracle's tiny request: short
    // CORRECT bodies for the fast path's whole price loop.
    let tiny = tiny_spec(Compression::None, 16);
    for call in fixture::generate_spec(&tiny, 7).2 {
        if let Some(b) = &call.body {
            n += usize::from(put(&bodies, b));
        }
    }
    println!("decode_body: {n} new seeds in {}", bodies.display());

    // Recordings: tiny cycles (2 paths × 3 points) with one row of each outcome, in every
    // compression, one batch and one row a batch.
    let tmp = out.join("tmp.cycle.arrow");
    let mut m = 0;
    for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
        for batch_rows in [1, 16] {
            let spec = tiny_spec(compression, batch_rows);
            fixture::write_spec(&spec, 7, &tmp).unwrap_or_else(|e| panic!("{e}"));
            m += usize::from(put(&recordings, &std::fs::read(&tmp).expect("read back")));
        }
    }
    let _ = std::fs::remove_file(&tmp);
    println!(
        "recording_reader: {m} new seeds in {}",
        recordings.display()
    );
}

/// The small fixture's request cut to 2 paths × 3 points (the oracle's tiny request), one row of
/// each outcome.
fn tiny_spec(compression: Compression, batch_rows: usize) -> fixture::Spec {
    let mut spec = Preset::Small.spec();
    spec.paths = 2;
    spec.time_length = 2 * spec.time_increment;
    spec.mix = Outcome::ALL.iter().map(|&o| (o, 1)).collect();
    spec.compression = compression;
    spec.batch_rows = batch_rows;
    spec
}
