//! Pieces shared by the integration tests that drive live cycles (`mod common;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use synth_forward::fetch::OutgoingRequest;
use synth_forward::request::CycleRequest;
use synth_forward::sink::parquet::{ParquetOptions, ParquetSink};
use synth_forward::{Cancel, CycleSummary, LiveOptions};

#[allow(dead_code)]
pub mod corpus;
#[allow(dead_code)]
pub mod postgres;

pub const BIN: &str = env!("CARGO_BIN_EXE_synth-forward");

/// A child process, killed and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `synth-forward serve RECORDING --request-out REQUEST ARGS…`, returned once the request file
/// exists (within `wait_at_most`), with the request's deadline then set to `timeout_s` (the
/// recordings' 60 s would hold the hanging miners that long).
pub fn serve(recording: &Path, request: &Path, args: &[&str], timeout_s: f64, wait_at_most: Duration) -> Killed {
    let fleet = Killed(
        Command::new(BIN)
            .arg("serve")
            .arg(recording)
            .arg("--request-out")
            .arg(request)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while !request.exists() {
        assert!(t.elapsed() < wait_at_most, "serve never wrote its request");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut req: serde_json::Value = serde_json::from_slice(&std::fs::read(request).unwrap()).unwrap();
    req["timeout_s"] = timeout_s.into();
    std::fs::write(request, req.to_string()).unwrap();
    fleet
}

/// The interop Python: `$SYNTH_FORWARD_PYTHON`, else the crate's `.venv` (pyarrow, DuckDB,
/// polars; `scripts/setup-venv.sh`).
pub fn python() -> PathBuf {
    let py = python_for("SYNTH_FORWARD_PYTHON", ".venv", "scripts/setup-venv.sh");
    let ok = Command::new(&py).args(["-c", "import pyarrow"]).output();
    let ok = ok.unwrap_or_else(|e| panic!("cannot run {}: {e}; run scripts/setup-venv.sh", py.display()));
    let err = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{} has no pyarrow: {}; run scripts/setup-venv.sh", py.display(), err.trim());
    py
}

/// A Python from `$var`, else from the crate's `venv` folder, which `setup` makes; a missing one
/// is a clear failure, never a skipped test.
pub fn python_for(var: &str, venv: &str, setup: &str) -> PathBuf {
    if let Ok(p) = std::env::var(var) {
        assert!(Path::new(&p).exists(), "${var} = {p} does not exist: run {setup}");
        return p.into();
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(venv).join("bin/python");
    assert!(p.exists(), "no {venv}: run {setup} (or set {var})");
    p
}

/// Every file and folder below `dir`, sorted.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if p.is_dir() {
            out.extend(tree(&p));
        }
    }
    out.sort();
    out
}

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

/// A request of `si` to exactly the miners of `calls`, in their order (each axon's uid and hotkey
/// the call's; the address is never dialled), as a recording of those calls needs.
pub fn request_for(
    si: &synth_forward::request::SimulationInput,
    calls: &[synth_forward::recording::RecordedCall],
    rules: Option<synth_forward::request::Rules>,
) -> CycleRequest {
    use synth_forward::request::{Axon, Protocol};
    CycleRequest {
        simulation_input: si.clone(),
        timeout_s: 5.0,
        protocol: Protocol::Synapse,
        axons: calls
            .iter()
            .map(|c| Axon { uid: c.uid, ip: "127.0.0.1".into(), port: 9, hotkey: c.hotkey.clone() })
            .collect(),
        rules,
        request_time: None,
    }
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

/// A live cycle of unsigned requests against `request`'s axons on the shared engine, default
/// Parquet options, never cancelled; `record` also writes the recording.
pub fn plain_cycle(request: &CycleRequest, out_dir: &Path, record: Option<PathBuf>) -> CycleSummary {
    let opts = LiveOptions { record, max_memory: 1 << 30, ..LiveOptions::default() };
    let sink = ParquetSink::new(out_dir, ParquetOptions::default());
    synth_forward::engine::shared()
        .run_requests(request, plain_requests(request), vec![Box::new(sink)], &Cancel::new(), &opts)
        .unwrap()
        .summary
}

/// One output row, everything that does not depend on timing.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub uid: u16,
    pub verdict: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response_bytes: u64,
    /// Price bits, empty unless CORRECT (a float32 file's prices widened to f64, which is exact).
    pub prices: Vec<u64>,
}

/// Every row of a Parquet file the engine wrote, in file order.
pub fn rows_of(parquet: &Path) -> Vec<Row> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Float64Type, UInt16Type, UInt64Type};
    let file = std::fs::File::open(parquet).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let b = batch.unwrap();
        let col = |name: &str| b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}")).clone();
        let uid = col("uid").as_primitive::<UInt16Type>().clone();
        let verdict = arrow::compute::cast(&col("format_validation"), &DataType::Utf8).unwrap();
        let verdict = verdict.as_string::<i32>();
        let status = col("status_code").as_primitive::<UInt16Type>().clone();
        let error = arrow::compute::cast(&col("error"), &DataType::Utf8).unwrap();
        let error = error.as_string::<i32>();
        let bytes = col("response_bytes").as_primitive::<UInt64Type>().clone();
        let paths = col("paths").as_fixed_size_list().clone();
        for r in 0..b.num_rows() {
            let prices = if paths.is_valid(r) {
                let row = paths.value(r);
                let leaf = arrow::compute::cast(row.as_fixed_size_list().values(), &DataType::Float64).unwrap();
                leaf.as_primitive::<Float64Type>().values().iter().map(|x| x.to_bits()).collect()
            } else {
                Vec::new()
            };
            out.push(Row {
                uid: uid.value(r),
                verdict: verdict.value(r).to_owned(),
                status: status.is_valid(r).then(|| status.value(r)),
                error: error.is_valid(r).then(|| error.value(r).to_owned()),
                response_bytes: bytes.value(r),
                prices,
            });
        }
    }
    out
}
