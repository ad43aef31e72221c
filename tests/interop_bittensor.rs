//! Interop against the real Python peers: `synth-forward run` sends a live cycle to
//!
//! - a real bittensor 10.0.1 `Axon` serving Synth's `Simulation` synapse (protocol `synapse`),
//!   `tests/interop/bt10_axon.py`;
//! - a loopback server that authenticates with bittensor 11's own `bittensor.http_auth.verify`
//!   (protocol `btauth`), `tests/interop/bt11_verify_server.py`.
//!
//! Needs the two venvs (`scripts/setup-bt-venvs.sh`, or `$SYNTH_FORWARD_BT10_PYTHON` /
//! `$SYNTH_FORWARD_BT11_PYTHON`); fails loudly without them, never skips. No chain access.
//! Every wait is bounded: a peer gets 60 s to come up, each `run` 60 s.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const NO_RESPONSE: &str = "time out or internal server error (process time is None)";
const WAIT: Duration = Duration::from_secs(60);

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A throwaway capture key from `../shared/wire-samples/wallet` (as tests/wire_keys.rs finds it).
fn wallet_sample(file: &str) -> PathBuf {
    let p = manifest().join("../shared/wire-samples/wallet").join(file);
    assert!(p.exists(), "{} not found", p.display());
    p
}

fn ss58_of(keyfile: &Path) -> String {
    let v: Value = serde_json::from_slice(&std::fs::read(keyfile).unwrap()).unwrap();
    v["ss58Address"].as_str().unwrap().to_owned()
}

/// A Python peer: killed (and reaped) on drop; its stdout lines are JSON events.
struct Peer {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Peer {
    fn start(name: &'static str, python: &Path, script: &str, dir: &Path) -> (Peer, Value) {
        let stderr = dir.join(format!("{name}.stderr"));
        let mut child = Command::new(python)
            .arg(manifest().join("tests/interop").join(script))
            .arg(wallet_sample("miner-hotkey.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = Peer { name, child, lines, stderr };
        let ready = peer.event(WAIT);
        assert_eq!(ready["event"], "ready", "{name}: {ready}");
        (peer, ready)
    }

    fn event(&mut self, within: Duration) -> Value {
        match self.lines.recv_timeout(within) {
            Ok(line) => serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.name)),
            Err(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{}: no event within {within:?} ({e}); stderr:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                )
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `<dir>/wallets/validator/hotkeys/default`: the throwaway validator hotkey, mode 600.
fn validator_wallet(dir: &Path) -> PathBuf {
    let wallets = dir.join("wallets");
    let hot = wallets.join("validator/hotkeys");
    std::fs::create_dir_all(&hot).unwrap();
    let key = hot.join("default");
    std::fs::copy(wallet_sample("validator-hotkey.json"), &key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    wallets
}

/// A cycle request for one axon; start time is the next minute + 60 s, as Synth's validator
/// picks it, written with `+00:00`.
fn request(protocol: &str, port: u64, hotkey: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    let start = chrono::DateTime::from_timestamp((now / 60 + 2) * 60, 0).unwrap();
    json!({
        "simulation_input": {
            "asset": "BTC",
            "start_time": start.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            "time_increment": 60,
            "time_length": 600,
            "num_simulations": 3
        },
        "timeout_s": 12.0,
        "protocol": protocol,
        "axons": [{"uid": 7, "ip": "127.0.0.1", "port": port, "hotkey": hotkey}]
    })
}

/// `synth-forward run` with the test wallet (and `extra` arguments), bounded to 60 s; returns the
/// summary line.
fn run(dir: &Path, wallets: &Path, label: &str, req: &Value, extra: &[&str]) -> Value {
    let req_path = dir.join(format!("{label}.request.json"));
    std::fs::write(&req_path, serde_json::to_vec_pretty(req).unwrap()).unwrap();
    let stdout = dir.join(format!("{label}.stdout"));
    let stderr = dir.join(format!("{label}.stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_synth-forward"))
        .arg("run")
        .arg("--request")
        .arg(&req_path)
        .arg("--out")
        .arg(dir.join(format!("{label}.out")))
        .arg("--wallet.path")
        .arg(wallets)
        .args(["--wallet.name", "validator", "--wallet.hotkey", "default"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("starting synth-forward");
    let end = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{label}: synth-forward run did not end within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(status.success(), "{label}: synth-forward run failed ({status}):\n{err}");
    let out = std::fs::read_to_string(&stdout).unwrap();
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{label}: summary not JSON ({e}): {out}\n{err}"))
}

fn verdicts(summary: &Value) -> &Value {
    &summary["verdicts"]
}

/// The `status_code` column of the cycle's Parquet file (the HTTP status each miner answered).
fn status_codes(summary: &Value) -> Vec<Option<u16>> {
    use arrow::array::{Array, UInt16Array};
    let path = summary["parquet"].as_str().expect("the summary names its Parquet file");
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = batch.column_by_name("status_code").expect("a status_code column");
        let col = col.as_any().downcast_ref::<UInt16Array>().expect("status_code is uint16");
        out.extend((0..col.len()).map(|i| col.is_valid(i).then(|| col.value(i))));
    }
    out
}

#[test]
fn bittensor_10_axon_accepts_our_synapse_requests_and_refuses_forged_ones() {
    let py = common::python_for("SYNTH_FORWARD_BT10_PYTHON", ".venv-bt10", "scripts/setup-bt-venvs.sh");
    let dir = tempfile::tempdir().unwrap();
    let wallets = validator_wallet(dir.path());
    let (mut axon, ready) = Peer::start("bt10_axon", &py, "bt10_axon.py", dir.path());
    assert_eq!(ready["bittensor"], "10.0.1");
    let port = ready["port"].as_u64().unwrap();
    let miner = ready["hotkey"].as_str().unwrap().to_owned();
    assert_eq!(miner, ss58_of(&wallet_sample("miner-hotkey.json")));

    // 1. Our signed request, straight to the Axon: verified, forwarded, the reply decodes CORRECT.
    //    With an external IP other than the miner's, as in the capture, we connect to 127.0.0.1.
    let s = run(dir.path(), &wallets, "direct", &request("synapse", port, &miner), &["--external-ip", "203.0.113.10"]);
    assert_eq!(verdicts(&s), &json!({"CORRECT": 1}), "direct: {s}");
    assert_eq!(status_codes(&s), [Some(200)]);

    // 2. The same request bound to another receiver (the validator's own hotkey, a valid ss58):
    //    the Axon rebuilds the message with its own hotkey, the signature fails, 401. (Default
    //    external IP 127.0.0.1 = the miner's IP: Synth's dendrite then connects to 0.0.0.0.)
    let other = ss58_of(&wallet_sample("validator-hotkey.json"));
    assert_ne!(other, miner);
    let s = run(dir.path(), &wallets, "wrong-receiver", &request("synapse", port, &other), &[]);
    assert_eq!(verdicts(&s), &json!({NO_RESPONSE: 1}), "wrong receiver: {s}");
    assert_eq!(status_codes(&s), [Some(401)], "the Axon's refusal, not a transport failure");

    // 3. Through the relay, which sends our exact request to the Axon with its signature tampered,
    //    as is, replayed, and unsigned (signature header dropped, nonce + 1); the caller gets the
    //    answer to the request as is.
    let tamper_port = ready["tamper_port"].as_u64().unwrap();
    let s = run(dir.path(), &wallets, "relay", &request("synapse", tamper_port, &miner), &[]);
    assert_eq!(verdicts(&s), &json!({"CORRECT": 1}), "relay: {s}");
    let ev = axon.event(WAIT);
    assert_eq!(ev["event"], "relay", "{ev}");
    let st = &ev["statuses"];
    assert_eq!(st["tampered"], 401, "a flipped signature digit must be refused: {ev}");
    assert_eq!(st["original"], 200, "{ev}");
    assert_eq!(st["replay"], 401, "the same nonce twice must be refused: {ev}");
    // bittensor 10's default_verify skips the signature check when the signature is empty
    // (`if synapse.dendrite.signature and not keypair.verify(...)`): a request without one, with
    // a fresh nonce, is served. Pinned here so a change in the real peer shows up.
    assert_eq!(st["unsigned"], 200, "{ev}");
}

#[test]
fn bittensor_11_http_auth_verifies_our_btauth_requests() {
    let py = common::python_for("SYNTH_FORWARD_BT11_PYTHON", ".venv-bt11", "scripts/setup-bt-venvs.sh");
    let dir = tempfile::tempdir().unwrap();
    let wallets = validator_wallet(dir.path());
    let (mut server, ready) = Peer::start("bt11_verify_server", &py, "bt11_verify_server.py", dir.path());
    assert!(ready["bittensor"].as_str().unwrap().starts_with("11."), "{ready}");
    let port = ready["port"].as_u64().unwrap();
    let miner = ready["hotkey"].as_str().unwrap().to_owned();
    let validator = ss58_of(&wallet_sample("validator-hotkey.json"));

    // 1. Our request verifies; the same bytes with one body byte changed do not; a replay does not.
    let s = run(dir.path(), &wallets, "btauth", &request("btauth", port, &miner), &[]);
    assert_eq!(verdicts(&s), &json!({"CORRECT": 1}), "btauth: {s}");
    assert_eq!(status_codes(&s), [Some(200)]);
    let ev = server.event(WAIT);
    assert_eq!(ev["path"], "/Simulation", "{ev}");
    assert_eq!(ev["results"]["original"], "ok", "{ev}");
    assert_eq!(ev["results"]["tampered"], "BadSignature", "{ev}");
    assert_eq!(ev["results"]["replay"], "ReplayedRequest", "{ev}");
    assert_eq!(ev["headers"]["x-bittensor-hotkey"], validator.as_str(), "{ev}");
    assert_eq!(ev["headers"]["x-bittensor-receiver"], miner.as_str(), "{ev}");

    // 2. Bound to another receiver: WrongReceiver, 401, no reply.
    let s = run(dir.path(), &wallets, "btauth-wrong-receiver", &request("btauth", port, &validator), &[]);
    assert_eq!(verdicts(&s), &json!({NO_RESPONSE: 1}), "wrong receiver: {s}");
    assert_eq!(status_codes(&s), [Some(401)]);
    let ev = server.event(WAIT);
    assert_eq!(ev["results"]["original"], "WrongReceiver", "{ev}");
}
