//! The fixture generator: deterministic, the intended outcome mix, bodies in the Axon's layout with
//! 8-digit Python-repr prices, failure kinds that fail the intended way; and the committed
//! `fixtures/small.cycle.arrow` is what the generator makes.
//!
//! Ignored (run by hand):
//! - `regenerate_small_fixture`: rewrites `fixtures/small.cycle.arrow`.
//! - `measure_large_presets` (use `--release`): generates hf-90mb (and lf-full with
//!   `SYNTH_FORWARD_MEASURE_LF=1`) under `fixtures/large/` and times generation and reading.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use synth_forward::call::CallError;
use synth_forward::decode::pyrepr::float_repr;
use synth_forward::fixture::{self, Cycle, DEFAULT_SEED, Outcome, Preset, Spec};
use synth_forward::recording::{RecordedCall, Recording};

/// A preset shrunk to test size: same uids and outcome mix, 5 paths.
fn shrunk(p: Preset) -> Spec {
    let mut s = p.spec();
    s.paths = 5;
    s
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn counts(outcomes: &[Outcome]) -> BTreeMap<Outcome, usize> {
    let mut m = BTreeMap::new();
    for o in outcomes {
        *m.entry(*o).or_insert(0) += 1;
    }
    m
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = shrunk(Preset::Small);
    let a = dir.path().join("a.cycle.arrow");
    let b = dir.path().join("b.cycle.arrow");
    let c = dir.path().join("c.cycle.arrow");
    fixture::write_spec(&spec, 42, &a).unwrap();
    fixture::write_spec(&spec, 42, &b).unwrap();
    fixture::write_spec(&spec, 43, &c).unwrap();
    let (a, b, c) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap(), std::fs::read(c).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
    // In memory too, and however rows are scheduled: row by row equals all at once.
    let (req, started, calls) = fixture::generate_spec(&spec, 42);
    let cycle = Cycle::new(&spec, 42);
    assert_eq!(req, cycle.request);
    assert_eq!(started, cycle.started_at);
    for row in (0..calls.len()).rev() {
        assert_eq!(cycle.call(row), calls[row]);
    }
}

#[test]
fn outcome_mix_per_preset() {
    for p in Preset::ALL {
        let spec = shrunk(p);
        let cycle = Cycle::new(&spec, DEFAULT_SEED);
        let got = counts(&cycle.outcomes);
        for o in Outcome::ALL {
            assert_eq!(got.get(&o).copied().unwrap_or(0), spec.count(o), "{p}: {o}");
        }
        assert_eq!(cycle.rows(), if p == Preset::Small { 16 } else { 256 });
        let correct = got[&Outcome::Correct];
        match p {
            Preset::Small => assert_eq!(correct, 7),
            Preset::Hf90mb => assert_eq!(correct, 150),
            Preset::LfFull => assert_eq!(correct, 200),
        }
        // uids are all there, once, and not sorted; ports and ips follow the uid.
        let uids: Vec<u16> = cycle.request.axons.iter().map(|a| a.uid).collect();
        let mut sorted = uids.clone();
        sorted.sort();
        assert_eq!(sorted, (0..uids.len() as u16).collect::<Vec<_>>());
        assert_ne!(uids, sorted, "{p}: uids should be shuffled");
        for a in &cycle.request.axons {
            assert_eq!((a.ip.as_str(), a.port), ("127.0.0.1", 9000 + a.uid));
            assert_eq!(a.hotkey.len(), 48);
            assert!(a.hotkey.starts_with('5'));
        }
        // Outcomes are spread over the rows, not in blocks.
        assert_ne!(
            cycle.outcomes[..spec.count(Outcome::Correct)],
            vec![Outcome::Correct; spec.count(Outcome::Correct)][..]
        );
    }
}

/// The price tokens of a body's `simulation_output` text, per path.
fn price_tokens(body: &str) -> Vec<Vec<&str>> {
    let start = body.find("\"simulation_output\":[").expect("an output list") + "\"simulation_output\":[".len();
    let inner = &body[start..body.len() - 2]; // drop "]}"
    let first_path = inner.find('[').unwrap();
    inner[first_path..].split("],[").map(|p| p.trim_matches(|c| c == '[' || c == ']').split(',').collect()).collect()
}

fn sig_digits(p: &str) -> usize {
    let d: String = p.chars().filter(|c| c.is_ascii_digit()).collect();
    d.trim_start_matches('0').trim_end_matches('0').len().max(1)
}

fn header<'a>(c: &'a RecordedCall, name: &str) -> Option<&'a str> {
    c.headers.as_ref()?.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// What every 200 reply carries, whatever its output.
fn check_200_envelope(c: &RecordedCall, v: &Value, spec: &Spec) {
    let names: Vec<&str> = c.headers.as_ref().unwrap().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "date",
            "server",
            "content-length",
            "content-type",
            "name",
            "timeout",
            "bt_header_axon_status_code",
            "bt_header_axon_status_message",
            "bt_header_axon_process_time",
            "bt_header_input_obj_simulation_input",
            "header_size",
            "total_size",
            "computed_body_hash"
        ]
    );
    let body = c.body.as_ref().unwrap();
    assert_eq!(header(c, "content-length").unwrap(), body.len().to_string());
    assert_eq!(v["name"], "Simulation");
    assert_eq!(v["timeout"].as_f64(), Some(12.0));
    assert_eq!(v["axon"]["status_code"], 200);
    assert_eq!(v["axon"]["status_message"], "Success");
    // serde_json's float parse is not exact; take the text and Rust's exact parse.
    let text = std::str::from_utf8(body).unwrap();
    let key = "\"axon\":{\"status_code\":200,\"status_message\":\"Success\",\"process_time\":";
    let at = text.find(key).unwrap() + key.len();
    let pt_text = &text[at..at + text[at..].find(',').unwrap()];
    let pt: f64 = pt_text.parse().unwrap();
    assert_eq!(float_repr(pt), pt_text);
    assert_eq!(header(c, "bt_header_axon_process_time").unwrap(), pt_text);
    assert!(v["axon"]["process_time"].is_f64());
    assert!(v["dendrite"].as_object().unwrap().values().all(Value::is_null));
    assert_eq!(v["computed_body_hash"], "");
    let si = &v["simulation_input"];
    assert_eq!(si["asset"], spec.asset.as_str());
    assert_eq!(si["start_time"], spec.start_time.as_str());
    assert_eq!(si["time_increment"], spec.time_increment);
    assert_eq!(si["time_length"], spec.time_length);
    assert_eq!(si["num_simulations"], spec.paths as i64);
    let s = std::str::from_utf8(body).unwrap();
    assert!(
        s.starts_with("{\"name\":\"Simulation\",\"timeout\":12.0,\"total_size\":3106,\"header_size\":0,\"dendrite\":{")
    );
    assert!(!s.contains(' '), "compact separators");
    assert!(pt > 0.0 && c.ttfb_ms.unwrap() > pt * 1000.0 && c.elapsed_ms > c.ttfb_ms.unwrap());
}

#[test]
fn bodies_parse_and_fail_as_intended() {
    for p in Preset::ALL {
        let spec = shrunk(p);
        let (req, _, calls) = fixture::generate_spec(&spec, 7);
        let cycle = Cycle::new(&spec, 7);
        let points = spec.points();
        for (row, c) in calls.iter().enumerate() {
            assert_eq!((c.uid, c.hotkey.as_str()), (req.axons[row].uid, req.axons[row].hotkey.as_str()));
            let o = cycle.outcomes[row];
            match o {
                Outcome::Timeout => {
                    assert_eq!(
                        (c.status, c.error, &c.body, &c.headers, c.ttfb_ms),
                        (None, Some(CallError::Timeout), &None, &None, None)
                    );
                    assert!((spec.timeout_s * 1000.0..spec.timeout_s * 1000.0 + 100.0).contains(&c.elapsed_ms));
                    continue;
                }
                Outcome::Connect => {
                    assert_eq!(
                        (c.status, c.error, &c.body, &c.headers, c.ttfb_ms),
                        (None, Some(CallError::Connect), &None, &None, None)
                    );
                    assert!(c.elapsed_ms < 20.0);
                    continue;
                }
                Outcome::Http500 => {
                    assert_eq!((c.status, c.error), (Some(500), None));
                    let body = std::str::from_utf8(c.body.as_ref().unwrap()).unwrap();
                    let v: Value = serde_json::from_str(body).unwrap();
                    let msg = v["message"].as_str().unwrap();
                    let uuid = msg.strip_prefix("Internal Server Error #").unwrap();
                    assert_eq!((uuid.len(), &uuid[14..15]), (36, "4"), "uuid4: {uuid}");
                    assert_eq!(body, format!("{{\"message\":\"{msg}\"}}"));
                    let hs = c.headers.as_ref().unwrap();
                    assert_eq!(hs.len(), 27);
                    assert_eq!((hs[0].0.as_str(), hs[1].1.as_str()), ("date", "uvicorn"));
                    assert_eq!(hs[25], ("content-length".into(), body.len().to_string()));
                    assert_eq!(hs[26], ("content-type".into(), "application/json".into()));
                    assert_eq!(header(c, "bt_header_axon_status_message"), Some(msg));
                    assert_eq!(header(c, "bt_header_axon_status_code"), Some("500"));
                    assert_eq!(header(c, "timeout"), Some("60.0"));
                    assert_eq!(header(c, "bt_header_axon_port").unwrap(), req.axons[row].port.to_string());
                    assert_eq!(header(c, "bt_header_axon_hotkey"), Some(req.axons[row].hotkey.as_str()));
                    assert_eq!(header(c, "bt_header_axon_signature").unwrap().len(), 130);
                    continue;
                }
                _ => {}
            }
            assert_eq!((c.status, c.error), (Some(200), None), "{o}");
            let body = std::str::from_utf8(c.body.as_ref().unwrap()).unwrap();
            let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{p} row {row} {o}: {e}"));
            check_200_envelope(c, &v, &spec);
            let out = &v["simulation_output"];
            if o == Outcome::NullOutput {
                assert!(out.is_null());
                assert!(body.ends_with(",\"simulation_output\":null}"));
                continue;
            }
            let out = out.as_array().unwrap();
            let want_paths = if o == Outcome::WrongPaths { spec.paths - 1 } else { spec.paths };
            let want_start = spec.start_unix + if o == Outcome::WrongStart { spec.time_increment } else { 0 };
            let want_inc = spec.time_increment * if o == Outcome::WrongIncrement { 2 } else { 1 };
            assert_eq!(out.len(), 2 + want_paths, "{o}");
            assert_eq!(out[0].as_i64(), Some(want_start), "{o}");
            assert_eq!(out[1].as_i64(), Some(want_inc), "{o}");
            let tokens = price_tokens(body);
            assert_eq!(tokens.len(), want_paths);
            let mut short = 0;
            let mut nine = 0;
            for (pi, path) in tokens.iter().enumerate() {
                assert_eq!(path[0], "91234.56", "first point is the start price");
                assert_eq!(out[2 + pi].as_array().unwrap().len(), path.len());
                if path.len() != points {
                    assert_eq!(path.len(), points - 1);
                    assert_ne!(pi, 0, "the short path is never the first");
                    short += 1;
                }
                for t in path {
                    let x: f64 = t.parse().unwrap();
                    assert_eq!(float_repr(x), *t, "repr round trip");
                    assert!(!t.contains('e') && t.contains('.'), "{t}");
                    match sig_digits(t) {
                        0..=8 => {}
                        9 => nine += 1,
                        _ => panic!("{t}"),
                    }
                }
            }
            assert_eq!(short, usize::from(o == Outcome::WrongPoints), "{o}");
            assert_eq!(nine, usize::from(o == Outcome::TooManyDigits), "{o}");
        }
    }
}

#[test]
fn correct_replies_take_a_few_seconds_sized_by_body() {
    let spec = Preset::Hf90mb.spec(); // full size: timing depends on body size
    let cycle = Cycle::new(&spec, DEFAULT_SEED);
    let row = cycle.outcomes.iter().position(|o| *o == Outcome::Correct).unwrap();
    let c = cycle.call(row);
    let len = c.body.as_ref().unwrap().len();
    assert!((550_000..700_000).contains(&len), "hf body {len} bytes");
    assert!((100.0..20_000.0).contains(&c.ttfb_ms.unwrap()));
}

#[test]
fn committed_small_fixture_is_what_the_generator_makes() {
    let path = crate_dir().join("fixtures/small.cycle.arrow");
    let rec = Recording::read(&path).unwrap_or_else(|e| {
        panic!("{e} (regenerate: cargo run --release -- fixture --preset small --out fixtures/small.cycle.arrow)")
    });
    let (req, started_at, calls) = fixture::generate(Preset::Small, DEFAULT_SEED);
    // The committed file predates rule sets (its request has no `rules`, read as v2: see
    // tests/rules.rs); it is kept so, as the pre-rules recording. The generator now writes v3.
    assert_eq!(req.rules, Some(synth_forward::request::Rules::V3));
    let req = synth_forward::request::CycleRequest { rules: Some(synth_forward::request::Rules::V2), ..req };
    assert_eq!(rec.request, req);
    assert_eq!(rec.started_at, started_at);
    assert_eq!(rec.rows(), calls.len());
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(&rec.recorded(i), c, "row {i}");
    }
}

#[test]
fn ensure_writes_only_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/small.cycle.arrow");
    let s = fixture::ensure(Preset::Small, &path).unwrap().expect("written");
    assert_eq!((s.rows, s.seed, s.preset.as_deref()), (16, DEFAULT_SEED, Some("small")));
    assert_eq!(s.outcomes.values().sum::<usize>(), 16);
    assert_eq!(s.outcomes["correct"], 7);
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(fixture::ensure(Preset::Small, &path).unwrap().is_none());
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
}
