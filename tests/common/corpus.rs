//! The shared conformance corpus (`../shared/conformance/`, v3 in its `v3/` folder), read case by
//! case: what `tests/conformance.rs` checks verdicts against and other tests feed through sinks.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use synth_forward::request::Rules;

pub struct Case {
    pub name: String,
    /// v3 only: sha256 (hex) of the float32 blob upstream's worker returns for a CORRECT case.
    pub float32_sha256: Option<String>,
    pub input: serde_json::Value,
    pub status: u16,
    pub body: Vec<u8>,
    pub expected: String,
    pub stored: bool,
}

/// The corpus of one rule set: v2 in `../shared/conformance/`, v3 in its `v3/` folder.
pub fn corpus_dir(rules: Rules) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    let dir = match rules {
        Rules::V2 => root,
        Rules::V3 => root.join("v3"),
    };
    assert!(
        dir.join("cases.jsonl").is_file() && dir.join("cases-large.jsonl.gz").is_file(),
        "CONFORMANCE CORPUS MISSING: expected cases.jsonl and cases-large.jsonl.gz in {} \
         (the shared/ folder beside the repository). Refusing to pass without it.",
        dir.display()
    );
    dir
}

pub fn read_cases(text: &str, file: &str) -> Vec<Case> {
    let b64 = base64::engine::general_purpose::STANDARD;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: not JSON: {e}", i + 1));
            let field = |k: &str| v.get(k).unwrap_or_else(|| panic!("{file}:{}: no `{k}`", i + 1));
            Case {
                name: field("name").as_str().expect("name is a string").to_owned(),
                float32_sha256: v.get("float32_sha256").and_then(|h| h.as_str()).map(str::to_owned),
                input: field("simulation_input").clone(),
                status: u16::try_from(field("status").as_u64().expect("status is an int")).expect("status fits u16"),
                body: b64
                    .decode(field("body_b64").as_str().expect("body_b64 is a string"))
                    .expect("body_b64 is base64"),
                expected: field("expected").as_str().expect("expected is a string").to_owned(),
                stored: field("stored").as_bool().expect("stored is a bool"),
            }
        })
        .collect()
}

pub fn all_cases(rules: Rules) -> Vec<Case> {
    let dir = corpus_dir(rules);
    let small = std::fs::read_to_string(dir.join("cases.jsonl")).expect("read cases.jsonl");
    let mut gz = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join("cases-large.jsonl.gz")).expect("open cases-large"))
        .read_to_string(&mut gz)
        .expect("gunzip cases-large.jsonl.gz");
    let mut cases = read_cases(&small, "cases.jsonl");
    cases.extend(read_cases(&gz, "cases-large.jsonl.gz"));
    cases
}
