//! SIGTERM / SIGINT in the middle of a live cycle: `run` stops asking, decodes what arrived,
//! writes the whole Parquet file with the unfinished miners `cancelled`, and exits 128 + n
//! promptly, long before the cycle's deadline.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Row, rows_of};
use synth_forward::fleet::{Fault, FaultMap, Fleet, FleetOptions};
use synth_forward::recording::Recording;
use synth_forward::sink::parquet::ParquetOptions;
use synth_forward::source::replay::replay_to_parquet as replay;

const T: &str = "time out or internal server error (process time is None)";

fn small() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow")
}

fn cut_by(signal: &str, code: i32) {
    let rec = Recording::read(&small()).unwrap();
    // The recorded timeout row hangs; one more miner drips its body forever: both are in flight
    // when the signal comes.
    let uids: Vec<u16> = (0..rec.rows()).map(|r| rec.uid(r)).collect();
    let dir = tempfile::tempdir().unwrap();
    let clean =
        rows_of(&replay(&small(), &dir.path().join("clean"), &ParquetOptions::default()).unwrap().parquet().unwrap());
    let dripping = clean.iter().find(|r| r.verdict == "CORRECT").unwrap().uid;
    let hanging: Vec<u16> = (0..rec.rows())
        .filter(|&r| rec.call(r).error.map(|e| e.as_str()) == Some("timeout"))
        .map(|r| rec.uid(r))
        .collect();
    assert!(!hanging.is_empty());
    let fleet = Fleet::start(
        &rec,
        FleetOptions {
            host: "127.0.0.1".parse().unwrap(),
            base_port: 0,
            time_scale: 0.0,
            verify: None,
            faults: FaultMap::from([(dripping, Fault::SlowDrip)]),
        },
    )
    .unwrap();
    let mut request = fleet.request().clone();
    request.timeout_s = 60.0;
    let request_file = dir.path().join("request.json");
    std::fs::write(&request_file, request.to_json()).unwrap();
    let out_dir = dir.path().join("out");
    let wallets = common::wallet(dir.path());
    let child = common::run_command(&request_file, &out_dir, &wallets, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until every reachable miner has been asked (the refused ones never count), then give
    // the quick answers a moment to land.
    let reachable =
        (0..rec.rows()).filter(|&r| rec.call(r).error.map(|e| e.as_str()) != Some("connect")).count() as u64;
    let t = Instant::now();
    while uids.iter().map(|&u| fleet.hits(u)).sum::<u64>() < reachable {
        assert!(t.elapsed() < Duration::from_secs(30), "run never reached every miner");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    let kill =
        std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    fleet.stop();

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "exit status after {signal}; stderr: {stderr}");
    assert!(took < Duration::from_secs(10), "stopped {took:?} after the signal, not at the 60 s deadline");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(summary["stopped_by"], signal_name(signal));
    let parquet = Path::new(summary["parquet"].as_str().unwrap());
    let files: Vec<_> = common::tree(&out_dir).into_iter().filter(|p| p.is_file()).collect();
    assert_eq!(files, vec![parquet.to_path_buf()], "one whole file, no temp file left");

    let rows = rows_of(parquet);
    assert_eq!(rows.len(), clean.len());
    for (got, want) in rows.iter().zip(&clean) {
        if got.uid == dripping || hanging.contains(&got.uid) {
            let cancelled = Row {
                uid: got.uid,
                verdict: T.into(),
                status: None,
                error: Some("cancelled".into()),
                response_bytes: 0,
                prices: vec![],
            };
            assert_eq!(got, &cancelled, "a miner still in flight when {signal} came");
        } else {
            assert_eq!(got, want, "a miner that had answered is decoded as in a replay");
        }
    }
}

fn signal_name(signal: &str) -> String {
    format!("SIG{signal}")
}

#[test]
fn sigterm_mid_cycle_keeps_what_arrived_and_exits_143() {
    cut_by("TERM", 143);
}

#[test]
fn sigint_mid_cycle_keeps_what_arrived_and_exits_130() {
    cut_by("INT", 130);
}
