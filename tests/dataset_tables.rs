//! One `--out` folder holding high- and low-frequency cycles (61 and 289 points) of two assets and
//! two days, each written with `--prices f64`, `f32` and `decimal` by the binary: every table
//! folder reads whole through the reader examples of `schemas/output.md` (pyarrow.dataset,
//! polars.scan_parquet, DuckDB), run verbatim with only the folder replaced, and every row each
//! reader returns is a row the engine wrote.
//!
//! Needs the interop venv (`scripts/setup-venv.sh`, or `$SYNTH_FORWARD_PYTHON`); fails loudly
//! without it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use synth_forward::fixture::{self, Outcome, Spec};
use synth_forward::recording::Compression;

/// The folder the documented examples open; the test puts each table's folder in its place.
const DOC_TABLE: &str = "out/layout-2/3600_60_1000_f64";

/// A small recorded cycle: 6 miners (3 CORRECT, a timeout, a 500, a path a point short).
fn spec(asset: &str, day: i64, time_length: i64, time_increment: i64, paths: usize) -> Spec {
    let start_unix = fixture::START_UNIX + (day - 24) * 86_400;
    Spec {
        asset: asset.into(),
        start_time: format!("2026-11-{day}T12:01:00+00:00"),
        start_unix,
        started_at: format!("2026-11-{day}T12:00:00.250Z"),
        time_increment,
        time_length,
        paths,
        timeout_s: 5.0,
        mix: vec![(Outcome::Correct, 3), (Outcome::Timeout, 1), (Outcome::Http500, 1), (Outcome::WrongPoints, 1)],
        compression: Compression::None,
        batch_rows: 8,
    }
}

/// The fenced blocks of `schemas/output.md` that follow a `<!-- reader-example` marker.
fn documented_examples() -> Vec<String> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/output.md")).unwrap();
    let mut lines = doc.lines();
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if !line.starts_with("<!-- reader-example") {
            continue;
        }
        assert_eq!(lines.next(), Some("```python"), "a reader example is a python block right after its marker");
        let code: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        out.push(code.join("\n") + "\n");
    }
    out
}

/// What each row of a table should read as: `[asset, date, start_unix, uid, verdict, price count,
/// first and last price as f64 bits]`, from every file below `root` through parquet-rs.
fn expected_rows(root: &Path) -> Vec<Value> {
    let mut rows = Vec::new();
    for file in common::tree(root).into_iter().filter(|p| p.is_file()) {
        let part = |key: &str| {
            let dir = file.ancestors().find_map(|a| a.file_name()?.to_str()?.strip_prefix(key).map(str::to_owned));
            dir.unwrap_or_else(|| panic!("{} has no {key} folder", file.display()))
        };
        let (asset, date) = (part("asset="), part("date="));
        let start: i64 = file.file_stem().unwrap().to_str().unwrap().parse().expect("<start_unix>.parquet");
        for r in common::rows_of(&file) {
            let correct = r.verdict == "CORRECT";
            rows.push(json!([
                asset,
                date,
                start,
                r.uid,
                r.verdict,
                correct.then_some(r.prices.len()),
                r.prices.first(),
                r.prices.last(),
            ]));
        }
    }
    sorted(rows)
}

fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// Runs `example` with [`DOC_TABLE`] replaced by `root`; what it read, as `table_rows.py` prints it.
fn read_with(example: &str, root: &Path, scratch: &Path) -> Value {
    let variable = match example {
        e if e.contains("import pyarrow") => "table",
        e if e.contains("import polars") => "df",
        e if e.contains("import duckdb") => "rel",
        e => panic!("which reader is this example for?\n{e}"),
    };
    assert_eq!(example.matches(DOC_TABLE).count(), 1, "the example names {DOC_TABLE} once:\n{example}");
    let file = scratch.join(format!("{variable}.py"));
    std::fs::write(&file, example.replace(DOC_TABLE, root.to_str().unwrap())).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/table_rows.py");
    let o = Command::new(common::python()).arg(script).arg(&file).arg(variable).output().unwrap();
    assert!(
        o.status.success(),
        "the {variable} example failed on {}:\n{example}\n{}",
        root.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn every_table_folder_reads_whole_with_the_documented_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hf = |asset, day| spec(asset, day, 3600, 60, 5);
    let lf = |asset, day| spec(asset, day, 86_400, 300, 4);
    let cycles = [hf("BTC", 24), hf("BTC", 25), hf("ETH", 24), lf("BTC", 24), lf("ETH", 25)];
    for (i, spec) in cycles.iter().enumerate() {
        let recording = dir.path().join(format!("{i}.cycle.arrow"));
        fixture::write_spec(spec, 100 + i as u64, &recording).unwrap();
        for prices in ["f64", "f32", "decimal"] {
            let o = Command::new(common::BIN)
                .arg("replay")
                .arg(&recording)
                .arg("--out")
                .arg(&out)
                .args(["--prices", prices])
                .output()
                .unwrap();
            assert!(o.status.success(), "replay {i} --prices {prices}: {}", String::from_utf8_lossy(&o.stderr));
        }
    }

    // One folder per `paths` type. Decimal tables carry their scale, which follows the asset's
    // price level (8 significant digits: BTC ≈ 91234.56, ETH ≈ 3000.1234).
    let tables: BTreeMap<&str, (usize, &str)> = BTreeMap::from([
        ("3600_60_5_f64", (3, "double")),
        ("3600_60_5_f32", (3, "float")),
        ("3600_60_5_dec3", (2, "decimal128(18, 3)")),
        ("3600_60_5_dec4", (1, "decimal128(18, 4)")),
        ("86400_300_4_f64", (2, "double")),
        ("86400_300_4_f32", (2, "float")),
        ("86400_300_4_dec3", (1, "decimal128(18, 3)")),
        ("86400_300_4_dec4", (1, "decimal128(18, 4)")),
    ]);
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&out), ["layout-2"]);
    let mut want: Vec<&str> = tables.keys().copied().collect();
    want.sort();
    assert_eq!(names(&out.join("layout-2")), want);

    let examples = documented_examples();
    assert_eq!(examples.len(), 3, "pyarrow, polars and DuckDB examples in schemas/output.md");
    let scratch = dir.path().join("examples");
    std::fs::create_dir_all(&scratch).unwrap();
    for (table, (files, leaf)) in tables {
        let root: PathBuf = out.join("layout-2").join(table);
        let parquet: Vec<PathBuf> = common::tree(&root).into_iter().filter(|p| p.is_file()).collect();
        assert_eq!(parquet.len(), files, "{table}: {parquet:?}");
        let expected = expected_rows(&root);
        assert_eq!(expected.len(), 6 * files);
        let correct = expected.iter().filter(|r| r[4] == "CORRECT").count();
        assert_eq!(correct, 3 * files);
        for example in &examples {
            let got = read_with(example, &root, &scratch);
            assert_eq!(got["rows"], expected.len(), "{table}: {example}");
            assert_eq!(got["leaf"], leaf, "{table}: {example}");
            let rows = sorted(got["table"].as_array().unwrap().clone());
            assert_eq!(rows, expected, "{table}: {example}");
        }
    }
}
