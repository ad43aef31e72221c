//! Interop with pyarrow (the Python peer is `tests/interop/recording_peer.py`):
//! a recording written by pyarrow (ZSTD, two batches, pyarrow's default nullability) reads here;
//! ours reads in pyarrow; and every 200 body of the committed fixture is exactly what Python's
//! `json.dumps(json.loads(body), separators=(",", ":"))` gives back, prices within 8 digits.
//!
//! The interpreter is `$SYNTH_FORWARD_PYTHON`, else `<crate>/.venv/bin/python`; without one that
//! has pyarrow these tests fail (they do not skip): run `scripts/setup-venv.sh`.

mod common;

use common::python;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use synth_forward::call::CallError;
use synth_forward::fixture::{self, Cycle, DEFAULT_SEED, Outcome, Preset};
use synth_forward::recording::Recording;
use synth_forward::request::Protocol;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn peer(args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(crate_dir().join("tests/interop/recording_peer.py"))
        .args(args)
        .output()
        .expect("running the pyarrow peer");
    assert!(out.status.success(), "pyarrow peer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn reads_a_recording_written_by_pyarrow() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("py.cycle.arrow");
    peer(&["write", path_str(&path)]);
    let rec = Recording::read(&path).unwrap();
    assert_eq!(rec.started_at, "2026-11-24T12:00:00.250+00:00");
    assert_eq!(rec.request.protocol, Protocol::Btauth);
    assert_eq!(rec.request.simulation_input.asset, "ETH");
    assert_eq!(rec.batches(), 2);
    assert_eq!(rec.rows(), 3);
    assert_eq!((rec.uid(0), rec.uid(1), rec.uid(2)), (4, 1, 3));
    assert_eq!(rec.hotkey(2), "5Three");

    let body0: &[u8] = b"{\"simulation_output\":[1795521660,60,[3000.0,3001.5,2999.25],[3000.0,2990.0,3010.125]]}";
    let c = rec.call(0);
    assert_eq!(
        (c.status, c.error, c.ttfb_ms, c.elapsed_ms, c.body),
        (Some(200), None, Some(812.5), 815.0, Some(body0))
    );
    assert_eq!(rec.headers(0), Some(vec![("content-length", "86"), ("date", "Tue, 24 Nov 2026 12:00:01 GMT")]));
    let c = rec.call(1);
    assert_eq!(
        (c.status, c.error, c.ttfb_ms, c.elapsed_ms, c.body),
        (None, Some(CallError::Connect), None, 1.25, None)
    );
    assert_eq!(rec.headers(1), None);
    let c = rec.call(2);
    assert_eq!((c.status, c.error, c.body), (Some(500), None, Some(&b""[..])));
    assert_eq!(rec.headers(2), Some(vec![]));
    assert_eq!(rec.body_bytes(), body0.len() as u64);
}

#[test]
fn pyarrow_reads_ours_and_python_agrees_with_every_body() {
    let path = crate_dir().join("fixtures/small.cycle.arrow");
    let rec = Recording::read(&path).unwrap();
    let v: Value = serde_json::from_str(&peer(&["read", path_str(&path)])).unwrap();
    assert_eq!(v["metadata"]["synth.recording.version"], "1");
    assert_eq!(v["metadata"]["synth.started_at"], rec.started_at.as_str());
    let req: Value = serde_json::from_str(v["metadata"]["synth.request"].as_str().unwrap()).unwrap();
    assert_eq!(req["axons"].as_array().unwrap().len(), rec.rows());
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), rec.rows());
    let cycle = Cycle::new(&Preset::Small.spec(), DEFAULT_SEED);
    for (i, r) in rows.iter().enumerate() {
        let c = rec.call(i);
        assert_eq!(r["uid"], rec.uid(i));
        assert_eq!(r["hotkey"], rec.hotkey(i));
        assert_eq!(r["status"].as_u64(), c.status.map(u64::from));
        assert_eq!(r["error"].as_str(), c.error.map(|e| e.as_str()));
        // serde_json's float parse may be one ulp off Python's exact text.
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
            (a, b) => a.is_none() && b.is_none(),
        };
        assert!(close(r["ttfb_ms"].as_f64(), c.ttfb_ms), "row {i}");
        assert!(close(r["elapsed_ms"].as_f64(), Some(c.elapsed_ms)), "row {i}");
        assert_eq!(r["body_len"].as_u64(), c.body.map(|b| b.len() as u64));
        let hs: Option<Vec<(String, String)>> = r["headers"].as_array().map(|a| {
            a.iter().map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_str().unwrap().to_owned())).collect()
        });
        let ours = rec.headers(i).map(|v| v.into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect());
        assert_eq!(hs, ours);
        if c.status == Some(200) {
            assert_eq!(r["python_redump_equal"], true, "row {i}: Python re-dumps the body differently");
            let want = match cycle.outcomes[i] {
                Outcome::NullOutput => None,
                Outcome::TooManyDigits => Some(9),
                _ => Some(8),
            };
            assert_eq!(r["max_digits"].as_u64(), want, "row {i} ({})", cycle.outcomes[i]);
        }
    }
    // The generator's bytes, not just the file's, match what pyarrow saw.
    let (_, _, calls) = fixture::generate(Preset::Small, DEFAULT_SEED);
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(rows[i]["body_len"].as_u64(), c.body.as_ref().map(|b| b.len() as u64));
    }
}
