//! The committed small fixture, replayed by the real binary, read back by pyarrow, DuckDB and polars.
//!
//! Needs the interop venv (`scripts/setup-venv.sh`, or `$SYNTH_FORWARD_PYTHON`); fails loudly
//! without it.

mod common;

use common::python;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow")
}

fn replay(out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_synth-forward"))
        .arg("replay")
        .arg(fixture())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("running synth-forward");
    assert!(o.status.success(), "replay failed: {}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "exactly one line on stdout: {stdout}");
    serde_json::from_str(&stdout).expect("the summary is JSON")
}

fn check_with_python(parquet: &str, out: &Path, mode: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_replay.py");
    let o = Command::new(python())
        .arg(script)
        .arg(fixture())
        .arg(parquet)
        .arg(out)
        .arg(mode)
        .output()
        .expect("running the interop Python");
    assert!(
        o.status.success(),
        "pyarrow/DuckDB check failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("the checker prints JSON")
}

#[test]
fn replayed_small_fixture_reads_back_in_pyarrow_duckdb_and_polars() {
    let dir = tempfile::tempdir().unwrap();
    let summary = replay(dir.path(), &[]);
    let parquet = summary["parquet"].as_str().unwrap();
    let table = dir.path().join("layout-2/3600_60_100_f64");
    assert!(Path::new(parquet).starts_with(table.join("asset=BTC/date=2026-11-24")), "{parquet}");
    for k in ["read", "decode", "encode", "rows", "write", "total"] {
        assert!(summary["timings_ms"][k].as_f64().is_some(), "timing {k}");
    }
    let checked = check_with_python(parquet, dir.path(), "default");
    // Our summary's verdict counts are the ones Python re-derived.
    assert_eq!(summary["verdicts"], checked["verdicts"]);
    assert_eq!(summary["rows"], checked["rows"]);
    assert!(checked["verdicts"]["CORRECT"].as_u64().unwrap() >= 5);
}

#[test]
fn compact_mode_reads_back_the_same_prices() {
    let dir = tempfile::tempdir().unwrap();
    let summary = replay(dir.path(), &["--compact"]);
    // The checker compares prices as floats: decimals must decode to the identical doubles.
    let checked = check_with_python(summary["parquet"].as_str().unwrap(), dir.path(), "compact");
    assert_eq!(summary["verdicts"], checked["verdicts"]);
}

/// `--prices f32`: every price the recorded double rounded to the nearest float32, bit for bit
/// (pyarrow, DuckDB and polars all read the FLOAT pages), null rows null.
#[test]
fn f32_mode_reads_back_each_price_rounded_to_f32() {
    let dir = tempfile::tempdir().unwrap();
    let summary = replay(dir.path(), &["--prices", "f32"]);
    let parquet = summary["parquet"].as_str().unwrap();
    assert!(Path::new(parquet).starts_with(dir.path().join("layout-2/3600_60_100_f32")), "{parquet}");
    let checked = check_with_python(parquet, dir.path(), "f32");
    assert_eq!(summary["verdicts"], checked["verdicts"]);
}

/// `--prices decimal` and its alias `--compact` write the same file; the two flags together are
/// refused before anything runs.
#[test]
fn prices_decimal_is_compact() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = (replay(&a, &["--prices", "decimal"]), replay(&b, &["--compact"]));
    let (a, b) = (a["parquet"].as_str().unwrap(), b["parquet"].as_str().unwrap());
    assert!(a.contains("/layout-2/3600_60_100_dec3/"), "{a}");
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let o = Command::new(env!("CARGO_BIN_EXE_synth-forward"))
        .arg("replay")
        .arg(fixture())
        .args(["--out", dir.path().join("c").to_str().unwrap(), "--compact", "--prices", "f32"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.path().join("c").exists());
}

#[test]
fn replay_refuses_to_overwrite_and_reports_bad_input_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    replay(dir.path(), &[]);
    let bin = env!("CARGO_BIN_EXE_synth-forward");
    let again = Command::new(bin).arg("replay").arg(fixture()).arg("--out").arg(dir.path()).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    replay(dir.path(), &["--overwrite"]);

    let not_a_recording = dir.path().join("x.cycle.arrow");
    std::fs::write(&not_a_recording, b"not arrow at all").unwrap();
    for bad in [dir.path().join("missing.cycle.arrow"), not_a_recording] {
        let o = Command::new(bin).arg("replay").arg(&bad).arg("--out").arg(dir.path()).output().unwrap();
        assert!(!o.status.success());
        assert!(o.stdout.is_empty(), "no summary on failure");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
        assert!(err.contains(bad.file_name().unwrap().to_str().unwrap()), "names the file: {err}");
    }
}
