//! The binary end to end over loopback: `serve --verify` a recording, `run --record` a signed
//! cycle against it with a real hotkey keyfile, `replay` what was recorded; all three agree.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

use common::{BIN, wallet};

/// `synth-forward run` on a request file, with a wallets folder and extra flags.
fn run_with(request: &Path, out: &Path, wallets: &Path, extra: &[&str]) -> std::process::Output {
    common::run_command(request, out, wallets, extra).output().unwrap()
}

fn json_line(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

#[test]
fn serve_run_record_replay_agree() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow");
    let request = dir.path().join("request.json");
    // The fixture predates rule sets (v2); the request the fleet writes asks for v3.
    let _fleet = common::serve(
        &fixture,
        &request,
        &["--time-scale", "0.01", "--verify", "--rules", "v3"],
        2.0,
        Duration::from_secs(30),
    );

    let recorded = dir.path().join("live.cycle.arrow");
    let upstream = dir.path().join("upstream.jsonl");
    let live = json_line(
        &Command::new(BIN)
            .arg("run")
            .arg("--request")
            .arg(&request)
            .arg("--out")
            .arg(dir.path().join("live"))
            .arg("--record")
            .arg(&recorded)
            .arg("--wallet.path")
            .arg(wallet(dir.path()))
            .arg("--upstream-out")
            .arg(&upstream)
            .output()
            .unwrap(),
    );
    let live_keys = [
        "sign",
        "first_body",
        "decode",
        "encode",
        "last_body",
        "network",
        "rows",
        "decode_tail",
        "record",
        // The upstream-shape sink reads the cycle's batch.
        "batch",
        "write",
        "after_network",
        "total",
    ];
    let timing_keys = |s: &serde_json::Value| {
        s["timings_ms"].as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(timing_keys(&live), live_keys.iter().map(|k| k.to_string()).collect(), "{live}");
    assert_eq!(live["source"], "live");
    let replayed = json_line(
        &Command::new(BIN).arg("replay").arg(&recorded).arg("--out").arg(dir.path().join("again")).output().unwrap(),
    );
    let original = json_line(
        &Command::new(BIN).arg("replay").arg(&fixture).arg("--out").arg(dir.path().join("orig")).output().unwrap(),
    );
    // Every signature passed the fleet's checks: the verdicts are the recording's own.
    assert_eq!(live["verdicts"], original["verdicts"], "live vs the fixture");
    assert_eq!(live["verdicts"], replayed["verdicts"], "live vs replay of its recording");
    // One meaning per key: a replay has no network phase, and says so by leaving those keys out.
    let replay_keys = ["read", "decode", "encode", "rows", "write", "total"];
    assert_eq!(timing_keys(&replayed), replay_keys.iter().map(|k| k.to_string()).collect(), "{replayed}");
    assert_eq!(replayed["source"], "replay");
    // The rules travel: request → live cycle → its recording → the replay; the fixture keeps its own.
    assert_eq!((&live["rules"], &replayed["rules"], &original["rules"]), (&"v3".into(), &"v3".into(), &"v2".into()));
    assert_eq!(live["recording"], recorded.display().to_string());
    // One upstream-shape line per queried miner, in the request's order.
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&upstream).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let req: serde_json::Value = serde_json::from_slice(&std::fs::read(&request).unwrap()).unwrap();
    let uids: Vec<&serde_json::Value> = req["axons"].as_array().unwrap().iter().map(|a| &a["uid"]).collect();
    assert_eq!(lines.iter().map(|l| &l["uid"]).collect::<Vec<_>>(), uids);
    assert_eq!(live["upstream"], upstream.display().to_string());
    // The same pipeline behind both sources: the replay of the live cycle's recording is the live
    // file, byte for byte.
    let a = std::fs::read(live["parquet"].as_str().unwrap()).unwrap();
    let b = std::fs::read(replayed["parquet"].as_str().unwrap()).unwrap();
    assert!(!a.is_empty() && a == b, "live and replayed files differ ({} vs {} bytes)", a.len(), b.len());
}

#[test]
fn run_reports_a_missing_wallet_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let request = dir.path().join("r.json");
    std::fs::write(
        &request,
        r#"{"simulation_input":{"asset":"BTC","start_time":"2026-11-24T12:01:00+00:00","time_increment":60,"time_length":600,"num_simulations":3},"timeout_s":5.0,"protocol":"synapse","axons":[{"uid":0,"ip":"127.0.0.1","port":9,"hotkey":"5CXhQmTAVFLkun74AxwsGRzUo4LmNuAqgQZuiYcHqqCLwpmc"}]}"#,
    )
    .unwrap();
    let o = run_with(&request, dir.path(), &dir.path().join("nowhere"), &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("nowhere"), "names the keyfile: {err}");
}

#[test]
fn run_refuses_bad_requests_before_any_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let base = r#"{"simulation_input":{"asset":"BTC","start_time":"2026-11-24T12:01:00+00:00","time_increment":60,"time_length":3600,"num_simulations":1000},"timeout_s":5.0,"protocol":"PROTO","axons":AXONS}"#;
    let one = r#"[{"uid":0,"ip":"IP","port":PORT,"hotkey":"5CXhQmTAVFLkun74AxwsGRzUo4LmNuAqgQZuiYcHqqCLwpmc"}]"#;
    let axon = |ip: &str, port: &str| one.replace("IP", ip).replace("PORT", port);
    for (proto, axons, extra, want) in [
        ("synapse", "[]".to_owned(), vec![], "no axons"),
        ("synapse", axon("not-an-ip", "9000"), vec![], "not an IPv4 or IPv6 address"),
        ("synapse", axon("127.0.0.1", "0"), vec![], "port 0"),
        ("carrier-pigeon", axon("127.0.0.1", "9000"), vec![], "carrier-pigeon"),
        ("synapse", axon("127.0.0.1", "9000"), vec!["--max-memory", "100K"], "more than --max-memory"),
    ] {
        let request = dir.path().join("r.json");
        std::fs::write(&request, base.replace("PROTO", proto).replace("AXONS", &axons)).unwrap();
        let o = run_with(&request, dir.path(), &dir.path().join("no-wallet-needed"), &extra);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(want), "{want:?} in {err}");
    }
}

/// The keyfile warning as an operator meets it: on `run`'s stderr, for a hotkey file that group or
/// others can read, and never with any secret in it. (A process of its own: tracing's global
/// callsite state made an in-process version of this check flaky under parallel tests.)
#[test]
fn run_warns_about_a_keyfile_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let wallets = wallet(dir.path());
    let keyfile = wallets.join("default/hotkeys/default");
    let key: serde_json::Value = serde_json::from_slice(&std::fs::read(&keyfile).unwrap()).unwrap();
    let secrets: Vec<String> = ["secretSeed", "privateKey", "secretPhrase"]
        .iter()
        .map(|k| key[k].as_str().unwrap().trim_start_matches("0x").to_owned())
        .collect();
    // One miner on a closed loopback port: the cycle is over as soon as the connection is refused.
    let mut req = synth_forward::recording::Recording::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow"),
    )
    .unwrap()
    .request;
    req.axons.truncate(1);
    req.axons[0].ip = "127.0.0.1".into();
    req.axons[0].port = 1;
    req.timeout_s = 2.0;
    let request = dir.path().join("request.json");
    std::fs::write(&request, req.to_json()).unwrap();
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = run_with(&request, &dir.path().join("out"), &wallets, &["--overwrite"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert_eq!(err.contains("group/others") && err.contains(&format!("{mode:o}")), warned, "mode {mode:o}: {err}");
        for s in &secrets {
            assert!(!err.contains(s.as_str()) && !err.contains(&s.to_uppercase()), "a secret leaked: {err}");
        }
    }
}
