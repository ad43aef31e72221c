//! `synth-forward score` end to end: cycles written by `replay` (float64, float32 and decimal
//! prices; the 1 h and the 24 h prompt), a price CSV with gaps, the scores table checked number by
//! number against the independent Python reference (`tests/interop/check_scores.py`: pyarrow,
//! properscoring, NumPy) and read back by DuckDB and polars; then the run's promises: a cycle the
//! prices do not settle is listed, not scored; scores already written are left alone; a bad file
//! costs only itself; the older normalisation goes to its own table.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use synth_forward::fixture::{Outcome, Spec, write_spec};
use synth_forward::recording::Compression;

const HOUR: i64 = 3600;
/// The first cycle's start (2026-11-24T12:00:00Z).
const T0: i64 = 1_795_521_600;

fn spec(start: i64, increment: i64, length: i64, paths: usize, correct: usize) -> Spec {
    use Outcome::*;
    let iso = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
    Spec {
        asset: "BTC".into(),
        start_time: iso(start),
        start_unix: start,
        started_at: chrono::DateTime::from_timestamp(start - 61, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        time_increment: increment,
        time_length: length,
        paths,
        timeout_s: 60.0,
        mix: vec![(Correct, correct), (Timeout, 2), (Connect, 1), (Http500, 1), (WrongPaths, 1), (NullOutput, 1)],
        compression: Compression::Zstd,
        batch_rows: 16,
    }
}

fn run(args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = Command::new(common::BIN).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(serde_json::Value::Null);
    (out.status.success(), summary, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Writes a cycle recording and replays it into `out` with `prices` (`f64`, `f32`, `decimal`).
fn cycle(dir: &Path, out: &Path, name: &str, spec: &Spec, seed: u64, prices: &str) {
    let rec = dir.join(format!("{name}.cycle.arrow"));
    write_spec(spec, seed, &rec).unwrap();
    let (ok, _, err) = run(&["replay", rec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--prices", prices]);
    assert!(ok, "replay {name}: {err}");
}

/// BTC every minute from `from` to `to` (a slow random walk), missing where `gap` says.
fn write_prices(path: &Path, from: i64, to: i64, gap: impl Fn(i64) -> bool) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut p = 91_234.56f64;
    let mut text = String::from("asset,timestamp,price\n");
    for t in (from..=to).step_by(60) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        p *= 1.0 + (u - 0.5) * 1e-3;
        let price = (p * 100.0).round() / 100.0;
        if gap(t) {
            text.push_str(&format!("BTC,{t},\n"));
        } else {
            text.push_str(&format!("BTC,{t},{price}\n"));
        }
    }
    std::fs::write(path, text).unwrap();
}

fn check(table: &Path, prices: &Path, form: &str) -> serde_json::Value {
    let out = Command::new(common::python())
        .args(["tests/interop/check_scores.py", table.to_str().unwrap(), prices.to_str().unwrap(), form])
        .output()
        .unwrap();
    assert!(out.status.success(), "check_scores.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

#[test]
fn scores_equal_the_reference_and_runs_keep_their_promises() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out) = (tmp.path(), tmp.path().join("out"));
    // Two 1 h cycles (float64, float32), one 24 h cycle (decimal), and a 1 h cycle whose last
    // grid time has no price yet.
    cycle(dir, &out, "hf-a", &spec(T0, 60, HOUR, 60, 12), 1, "f64");
    cycle(dir, &out, "hf-b", &spec(T0 + HOUR, 60, HOUR, 60, 10), 2, "f32");
    cycle(dir, &out, "lf", &spec(T0, 300, 24 * HOUR, 40, 9), 3, "decimal");
    // The first cycle again, in a decimal table: one cycle, scored once.
    let rec = dir.join("hf-a.cycle.arrow");
    let (ok, _, err) = run(&["replay", rec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--prices", "decimal"]);
    assert!(ok, "{err}");
    let late = T0 + 30 * HOUR;
    cycle(dir, &out, "hf-late", &spec(late, 60, HOUR, 30, 5), 4, "f64");
    let prices = dir.join("btc.csv");
    // Gaps: a single minute and a 7-minute run inside the first hour, a run in the second, and
    // nothing after `late + 30 min`.
    write_prices(&prices, T0 - 600, late + 1800, |t| {
        t == T0 + 600 || (T0 + 1500..T0 + 1920).contains(&t) || (T0 + HOUR + 2400..T0 + HOUR + 2700).contains(&t)
    });

    let rank = dir.join("rank.csv");
    let args = ["score", out.to_str().unwrap(), "--prices", prices.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let (ok, s, err) = run(&[&args[..], &["--rank", rank.to_str().unwrap()]].concat());
    assert!(ok, "{err}");
    assert_eq!(
        (s["files"].as_u64(), s["cycles_scored"].as_u64(), s["unscorable"].as_u64()),
        (Some(5), Some(3), Some(1)),
        "{s}"
    );
    assert_eq!(s["duplicates"], 1, "{s}");
    assert_eq!(s["errors"], 0, "{s}");
    assert!(s["unscorable_files"][0]["reason"].as_str().unwrap().contains("last grid time"), "{s}");
    assert_eq!(s["miners_scored"], 12 + 10 + 9, "{s}");
    let table = out.join("layout-2/scores_median10x-cap-p95-fill");
    let checked = check(&table, &prices, "median10x-cap-p95-fill");
    assert_eq!((checked["files"].as_u64(), checked["scored"].as_u64()), (Some(3), Some(31)), "{checked}");
    // The ranking: every miner seen, best first, the summary's top its head.
    let ranking = std::fs::read_to_string(&rank).unwrap();
    let lines: Vec<&str> = ranking.lines().collect();
    // Each fixture has its own hotkeys: 18 + 16 miners of the 1 h prompt, 15 of the 24 h one,
    // ranked within their prompt.
    assert_eq!(lines[0], "time_length,rank,uid,hotkey,cycles,scored,capped,mean_prompt_score,mean_crps");
    assert_eq!(lines.len(), 1 + 34 + 15, "{ranking}");
    assert!(lines[1].starts_with(&format!("3600,1,{},", s["top"][0]["uid"])), "{ranking}");
    assert!(lines[35].starts_with("86400,1,"), "{ranking}");
    assert_eq!(s["top"].as_array().unwrap().len(), 10, "{s}");
    // Within each prompt: ranks 1, 2, … and mean prompt scores never falling.
    for prompt in ["3600", "86400"] {
        let rows: Vec<Vec<&str>> =
            lines[1..].iter().map(|l| l.split(',').collect::<Vec<_>>()).filter(|r| r[0] == prompt).collect();
        let ranks: Vec<usize> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
        assert_eq!(ranks, (1..=rows.len()).collect::<Vec<_>>());
        let means: Vec<f64> = rows.iter().map(|r| r[7].parse().unwrap()).collect();
        assert!(means.windows(2).all(|w| w[0] <= w[1]), "{prompt}: {means:?}");
    }

    // Again: nothing rescored, nothing touched.
    let before: Vec<(PathBuf, std::time::SystemTime)> =
        files_under(&table).into_iter().map(|p| (p.clone(), p.metadata().unwrap().modified().unwrap())).collect();
    let rank2 = dir.join("rank2.csv");
    let (ok, s2, err) = run(&[&args[..], &["--rank", rank2.to_str().unwrap()]].concat());
    assert!(ok, "{err}");
    assert_eq!((s2["cycles_scored"].as_u64(), s2["already_scored"].as_u64()), (Some(0), Some(3)), "{s2}");
    // The ranking still covers every cycle: the earlier files feed it.
    assert_eq!(std::fs::read_to_string(&rank2).unwrap(), ranking);
    assert_eq!(s2["top"], s["top"]);
    let after: Vec<(PathBuf, std::time::SystemTime)> =
        files_under(&table).into_iter().map(|p| (p.clone(), p.metadata().unwrap().modified().unwrap())).collect();
    assert_eq!(before, after);

    // The older normalisation: its own table, checked the same way.
    let (ok, s3, err) = run(&[&args[..], &["--normalisation", "p90-cap"]].concat());
    assert!(ok, "{err}");
    assert_eq!(s3["cycles_scored"], 3, "{s3}");
    let checked = check(&out.join("layout-2/scores_p90-cap"), &prices, "p90-cap");
    assert_eq!(checked["files"], 3);

    // A broken file and a Parquet file that is no cycle, beside a good one: only they are lost.
    let mixed = dir.join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    let good = files_under(&out.join("layout-2/3600_60_60_f64"))[0].clone();
    std::fs::copy(&good, mixed.join("good.parquet")).unwrap();
    std::fs::write(mixed.join("broken.parquet"), b"PAR1 not really").unwrap();
    let not_cycle = files_under(&table)[0].clone();
    std::fs::copy(&not_cycle, mixed.join("scores.parquet")).unwrap();
    let out2 = dir.join("out2");
    let (ok, s4, err) =
        run(&["score", mixed.to_str().unwrap(), "--prices", prices.to_str().unwrap(), "--out", out2.to_str().unwrap()]);
    assert!(!ok, "a broken file fails the run: {s4}");
    assert!(err.contains("1 of 3 files could not be scored"), "{err}");
    assert_eq!(
        (s4["cycles_scored"].as_u64(), s4["errors"].as_u64(), s4["not_cycles"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{s4}"
    );
    assert!(s4["error_files"][0]["reason"].as_str().unwrap().contains("not a readable Parquet file"), "{s4}");
    assert_eq!(files_under(&out2.join("layout-2/scores_median10x-cap-p95-fill")).len(), 1);

    // Inputs that name nothing, and prices without the asset, are clear errors.
    let (ok, _, err) = run(&["score", dir.join("nope").to_str().unwrap(), "--prices", prices.to_str().unwrap()]);
    assert!(!ok && err.contains("nope"), "{err}");
    let eth = dir.join("eth.csv");
    std::fs::write(&eth, "asset,timestamp,price\nETH,1,1.0\n").unwrap();
    let (ok, s5, _) = run(&["score", good.to_str().unwrap(), "--prices", eth.to_str().unwrap()]);
    assert!(ok);
    assert_eq!(s5["unscorable_files"][0]["reason"], "no real prices for asset BTC", "{s5}");
}
