//! The upstream return shape (`--upstream-out`, `synth_forward::upstream`), against the v3 corpus.
//!
//! Every CORRECT case of `../shared/conformance/v3/` becomes a small recorded cycle: the case's
//! reply, a miner that timed out and one whose reply is empty, queried in an order that is not
//! uid order. Each is replayed into the upstream-shape file in both forms. The float32 blob must
//! hash to the corpus's `float32_sha256` (upstream's own `encode_paths` output), the lines must
//! come in request order, and the real Python interpreter must read the plain form's prices back
//! equal to `json.loads` of the reply, and its process times as `str(float)`.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use synth_forward::Engine;
use synth_forward::call::CallError;
use synth_forward::recording::{self, Compression, RecordedCall};
use synth_forward::request::{CycleRequest, Rules, SimulationInput};
use synth_forward::sink::upstream::UpstreamSink;
use synth_forward::source::replay::ReplayOptions;

mod common;

struct Case {
    name: String,
    input: SimulationInput,
    body: Vec<u8>,
    sha256: String,
}

fn correct_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/v3");
    let mut text = std::fs::read_to_string(dir.join("cases.jsonl")).expect("the v3 corpus beside the repo");
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join("cases-large.jsonl.gz")).expect("cases-large"))
        .read_to_string(&mut text)
        .expect("gunzip");
    let b64 = base64::engine::general_purpose::STANDARD;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|c| c["expected"] == "CORRECT")
        .filter_map(|c| {
            let input: SimulationInput = serde_json::from_value(c["simulation_input"].clone()).ok()?;
            Some(Case {
                name: c["name"].as_str().unwrap().to_owned(),
                input,
                body: b64.decode(c["body_b64"].as_str().unwrap()).unwrap(),
                sha256: c["float32_sha256"].as_str().unwrap().to_owned(),
            })
        })
        .collect()
}

const HOTKEY: &str = "5CXhQmTAVFLkun74AxwsGRzUo4LmNuAqgQZuiYcHqqCLwpmc";

/// The case's cycle: uid 7 (the case), 2 (timed out), 5 (empty reply), queried in that order.
fn cycle_of(case: &Case) -> (CycleRequest, Vec<RecordedCall>) {
    let call = |uid: u16, body: Option<Vec<u8>>, elapsed_ms: f64| RecordedCall {
        uid,
        hotkey: HOTKEY.into(),
        status: body.as_ref().map(|_| 200),
        error: if body.is_some() { None } else { Some(CallError::Timeout) },
        ttfb_ms: body.as_ref().map(|_| 1.0),
        elapsed_ms,
        headers: body.as_ref().map(|_| Vec::new()),
        body,
    };
    let empty =
        format!(r#"{{"simulation_input":{},"simulation_output":null}}"#, serde_json::to_string(&case.input).unwrap());
    let calls =
        vec![call(7, Some(case.body.clone()), 123.456), call(2, None, 5000.0), call(5, Some(empty.into()), 17.5)];
    let request = common::request_for(&case.input, &calls, Some(Rules::V3));
    (request, calls)
}

#[test]
fn upstream_shape_matches_the_v3_corpus_and_pythons_reading() {
    let cases = correct_cases();
    assert!(cases.len() >= 200, "only {} CORRECT v3 cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::with_threads(2).unwrap();
    let mut manifest = Vec::new();
    let mut checked = 0;
    for (k, case) in cases.iter().enumerate() {
        let (request, calls) = cycle_of(case);
        // The engine refuses requests the validator could never send (checked elsewhere).
        if request.shape().is_err() {
            continue;
        }
        let rec = dir.path().join(format!("{k}.cycle.arrow"));
        recording::write(&rec, &request, "2026-11-24T12:00:00.250Z", &calls, Compression::None).unwrap();
        let (plain, blob) = (dir.path().join(format!("{k}.jsonl")), dir.path().join(format!("{k}.f32.jsonl")));
        // One sink per cycle: two sinks of one name would be refused (their outputs would collide).
        for (path, float32) in [(&plain, false), (&blob, true)] {
            let sinks: Vec<Box<dyn synth_forward::sink::Sink>> = vec![Box::new(UpstreamSink::new(path, float32))];
            let s = engine.replay(&rec, sinks, &ReplayOptions::default()).unwrap().summary;
            assert!(s.sink_errors.is_empty(), "{}: {:?}", case.name, s.sink_errors);
            assert_eq!(s.outputs["upstream"], serde_json::json!(path.display().to_string()));
        }

        let lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&blob).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let uids: Vec<u64> = lines.iter().map(|l| l["uid"].as_u64().unwrap()).collect();
        assert_eq!(uids, [7, 2, 5], "{}: request order", case.name);
        assert_eq!(lines[0]["format_validation"], "CORRECT", "{}", case.name);
        let bytes = base64::engine::general_purpose::STANDARD.decode(lines[0]["output"].as_str().unwrap()).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), case.sha256, "{}: float32 blob", case.name);
        assert_eq!(
            lines[1],
            serde_json::json!({"uid": 2, "hotkey": HOTKEY, "process_time": null, "output": null,
                "format_validation": "time out or internal server error (process time is None)"})
        );
        assert_eq!(lines[2]["format_validation"], "Response is empty");
        assert_eq!(lines[2]["output"], serde_json::Value::Null);
        manifest.push(serde_json::json!({"name": case.name, "plain": plain, "body_b64":
            base64::engine::general_purpose::STANDARD.encode(&case.body)}));
        checked += 1;
    }
    assert!(checked >= 200, "only {checked} cases ran");

    // Python reads the plain form back: prices equal to `json.loads` of the reply (floats as
    // Python holds them), start and increment as ints, process times Python's own `str(float)`.
    let manifest_path = dir.path().join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let script = r#"
import base64, json, sys
bad = []
for m in json.load(open(sys.argv[1])):
    lines = [json.loads(l) for l in open(m["plain"])]
    want = json.loads(base64.b64decode(m["body_b64"]))["simulation_output"]
    got = lines[0]["output"]
    ok = (type(got[0]) is int and got[0] == int(float(want[0])) and type(got[1]) is int and got[1] == int(float(want[1]))
          and len(got) == len(want)
          and all([float(p) for p in w] == g for w, g in zip(want[2:], got[2:])))
    pt = lines[0]["process_time"]
    ok = ok and pt == str(float(pt)) and float(pt) == 0.123456 and lines[2]["process_time"] == "0.0175"
    if not ok:
        bad.append(m["name"])
print(json.dumps({"checked": len(json.load(open(sys.argv[1]))), "bad": bad}))
"#;
    let out = Command::new(common::python()).args(["-c", script]).arg(&manifest_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["bad"], serde_json::json!([]), "{report}");
    assert_eq!(report["checked"], checked);
}
