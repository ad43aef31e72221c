//! The rule set a cycle runs under: chosen per request, stored in the recording and the file,
//! overridable on replay and on the command line, reported in the summary.
//!
//! One recording holds three replies the two rule sets judge differently (a 9-character price
//! that has 8 significant digits, a NaN, and a short path after a bad price), plus an ordinary
//! CORRECT one; each test checks which verdicts came out and where the rules were written.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use parquet::file::reader::{FileReader, SerializedFileReader};
use synth_forward::Engine;
use synth_forward::recording::{self, Compression, RecordedCall};
use synth_forward::request::{Rules, SimulationInput};
use synth_forward::sink::parquet::{ParquetOptions, ParquetSink, REQUEST_KEY, RULES_KEY};
use synth_forward::source::replay::ReplayOptions;

const HOTKEY: &str = "5CXhQmTAVFLkun74AxwsGRzUo4LmNuAqgQZuiYcHqqCLwpmc";

fn input() -> SimulationInput {
    SimulationInput {
        asset: "BTC".into(),
        start_time: "2026-11-24T12:01:00+00:00".into(),
        time_increment: 60,
        time_length: 60,
        num_simulations: 2,
    }
}

/// (uid, simulation_output, v2 verdict, v3 verdict)
const REPLIES: [(u16, &str, &str, &str); 4] = [
    (1, "[1795521660, 60, [91234.5, 91230.25], [91234.5, 91231.0]]", "CORRECT", "CORRECT"),
    (
        2,
        "[1795521660, 60, [12345678.0, 1.5], [1.5, 1.5]]",
        "Price format is incorrect: too many digits 12345678.0",
        "CORRECT",
    ),
    (3, "[1795521660, 60, [NaN, 1.5], [1.5, 1.5]]", "CORRECT", "Price format is incorrect: non-finite value nan"),
    (
        4,
        "[1795521660, 60, [0.30000000000000004, 1.5], [1.5]]",
        "Price format is incorrect: too many digits 0.30000000000000004",
        "Number of time points is incorrect: expected 2, got 1",
    ),
];

/// Writes the recording with `rules` in its request (`None`: the request left it out).
fn recording(dir: &Path, rules: Option<Rules>) -> PathBuf {
    let si = input();
    let calls: Vec<RecordedCall> = REPLIES
        .iter()
        .map(|(uid, out, _, _)| RecordedCall {
            uid: *uid,
            hotkey: HOTKEY.into(),
            status: Some(200),
            error: None,
            ttfb_ms: Some(1.0),
            elapsed_ms: 2.0,
            headers: Some(Vec::new()),
            body: Some(
                format!(r#"{{"simulation_input":{},"simulation_output":{out}}}"#, serde_json::to_string(&si).unwrap())
                    .into_bytes(),
            ),
        })
        .collect();
    let request = common::request_for(&si, &calls, rules);
    let path = dir.join("rules.cycle.arrow");
    recording::write(&path, &request, "2026-11-24T12:00:00.250Z", &calls, Compression::None).unwrap();
    path
}

/// The verdict counts the summary should show under `rules`.
fn want_verdicts(rules: Rules) -> serde_json::Value {
    let mut want = serde_json::Map::new();
    for (_, _, v2, v3) in REPLIES {
        let v = if rules == Rules::V2 { v2 } else { v3 };
        let n = want.get(v).and_then(|n| n.as_u64()).unwrap_or(0);
        want.insert(v.to_owned(), (n + 1).into());
    }
    want.into()
}

/// The file's `synth.rules` key and the rules inside its `synth.request`.
fn file_rules(parquet: &Path) -> (String, String) {
    let reader = SerializedFileReader::new(std::fs::File::open(parquet).unwrap()).unwrap();
    let kv = reader.metadata().file_metadata().key_value_metadata().unwrap().clone();
    let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone()).unwrap();
    let request: serde_json::Value = serde_json::from_str(&get(REQUEST_KEY)).unwrap();
    (get(RULES_KEY), request["rules"].as_str().unwrap().to_owned())
}

#[test]
fn a_request_without_rules_runs_v3_and_every_output_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(dir.path(), None);
    // The recording stores the rules it will replay under.
    let stored = recording::Recording::read(&rec).unwrap();
    assert_eq!(stored.request.rules, Some(Rules::V3));

    let engine = Engine::with_threads(2).unwrap();
    let out = dir.path().join("out");
    let sink = ParquetSink::new(&out, ParquetOptions::default());
    let s = engine.replay(&rec, vec![Box::new(sink)], &ReplayOptions::default()).unwrap().summary;
    let line = serde_json::to_value(&s).unwrap();
    assert_eq!(line["rules"], "v3");
    assert_eq!(line["verdicts"], want_verdicts(Rules::V3));
    assert_eq!(file_rules(&s.parquet().unwrap()), ("v3".into(), "v3".into()));
}

#[test]
fn replay_keeps_the_recordings_rules_unless_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(dir.path(), Some(Rules::V2));
    let engine = Engine::with_threads(2).unwrap();
    for (opts, want) in [
        (ReplayOptions::default(), Rules::V2),
        (ReplayOptions { rules: Some(Rules::V3), ..ReplayOptions::default() }, Rules::V3),
    ] {
        let out = dir.path().join(format!("out-{want}"));
        let sink = ParquetSink::new(&out, ParquetOptions::default());
        let s = engine.replay(&rec, vec![Box::new(sink)], &opts).unwrap().summary;
        assert_eq!(s.rules, want);
        assert_eq!(serde_json::to_value(&s.verdicts).unwrap(), want_verdicts(want), "{want}");
        assert_eq!(file_rules(&s.parquet().unwrap()), (want.to_string(), want.to_string()));
    }
}

/// A recording made before rule sets existed has no `rules` in its request: its cycle was
/// judged by v2, and it replays so (the committed small fixture is one).
#[test]
fn a_recording_older_than_the_rule_sets_replays_under_v2() {
    let small = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow");
    let rec = recording::Recording::read(&small).unwrap();
    assert_eq!(rec.request.rules, Some(Rules::V2));
}

#[test]
fn the_command_line_overrides_and_reports_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(dir.path(), None);
    for (flag, want) in [(None, Rules::V3), (Some("v2"), Rules::V2), (Some("v3"), Rules::V3)] {
        let out = dir.path().join(format!("cli-{}", flag.unwrap_or("none")));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_synth-forward"));
        cmd.arg("replay").arg(&rec).arg("--out").arg(&out);
        if let Some(f) = flag {
            cmd.args(["--rules", f]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(line["rules"], want.as_str(), "{flag:?}");
        assert_eq!(line["verdicts"], want_verdicts(want), "{flag:?}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_synth-forward"))
        .arg("replay")
        .arg(&rec)
        .args(["--out", "unused", "--rules", "v4"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected \"v2\" or \"v3\""));
}
