//! Pieces shared by the integration tests that drive live cycles (`mod common;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use synth_forward::fetch::OutgoingRequest;
use synth_forward::live::{run_cycle, LiveOptions};
use synth_forward::replay::CycleSummary;
use synth_forward::request::CycleRequest;
use synth_forward::sink::parquet::ParquetOptions;

pub const BIN: &str = env!("CARGO_BIN_EXE_synth-forward");

/// A bittensor wallets folder under `dir` whose default wallet and hotkey are the shared
/// throwaway validator hotkey (`--wallet.path <returned>` is all `run` needs).
pub fn wallet(dir: &Path) -> PathBuf {
    let hotkeys = dir.join("wallets/default/hotkeys");
    std::fs::create_dir_all(&hotkeys).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wire-samples/wallet/validator-hotkey.json");
    let dst = hotkeys.join("default");
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e} (../shared must sit beside the repo)", src.display()));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir.join("wallets")
}

/// `synth-forward run` on a request file, with a wallets folder and extra flags (not yet started).
pub fn run_command(request: &Path, out: &Path, wallets: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("run").arg("--request").arg(request).arg("--out").arg(out).arg("--wallet.path").arg(wallets).args(extra);
    c
}

/// Unsigned requests (a fleet without `--verify` takes them), one per axon.
pub fn plain_requests(req: &CycleRequest) -> Vec<OutgoingRequest> {
    let body = Bytes::from(serde_json::to_vec(&serde_json::json!({"simulation_input": req.simulation_input})).unwrap());
    req.axons
        .iter()
        .map(|a| OutgoingRequest {
            url: format!("http://{}:{}/Simulation", a.ip, a.port),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.clone(),
        })
        .collect()
}

/// A live cycle of unsigned requests against `request`'s axons, default Parquet options, no
/// signal handling; `record` also writes the recording.
pub fn plain_cycle(request: &CycleRequest, out_dir: &Path, record: Option<PathBuf>) -> CycleSummary {
    let opts = LiveOptions {
        out_dir: out_dir.into(),
        parquet: ParquetOptions::default(),
        record,
        sign_ms: 0.0,
        max_memory: 1 << 30,
        on_call: None,
        stop_on_signals: false,
    };
    run_cycle(request, plain_requests(request), &opts).unwrap().summary
}
