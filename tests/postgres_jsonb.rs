//! The prediction text against a real PostgreSQL server: for a corpus of awkward floats, the
//! text `synth_forward::sink::postgres::jsonb` produces equals, byte for byte, what the server
//! stores when the validator's own path is taken — CPython's `json.dumps` of the values, cast with
//! `::jsonb` — as `prediction::text` shows it.

mod common;

use std::process::Command;

use common::postgres::Postgres;
use synth_forward::sink::postgres::jsonb;

/// Doubles of every magnitude and the shapes that print differently: repr with and without an
/// exponent, long and short digit strings, negative values, zeros, denormals, the extremes.
fn corpus() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1e-5,
        1e-4,
        9.999e-5,
        1e15,
        1e16,
        1e17,
        1e22,
        1e23,
        1.5e3,
        100000.0,
        91234.56,
        -91234.567,
        12345678.0,
        0.30000000000000004,
        1.5e-7,
        1.2345678e20,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        4.9406564584124654e-300,
        123456789012345680.0,
        9007199254740993.0,
        3.4028235e38,
        1e-46,
        0.000012345,
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let bits = next();
        let x = f64::from_bits(bits);
        if x.is_finite() {
            v.push(x);
        }
        let digits = (next() % 100_000_000) as f64;
        v.push(digits * 10f64.powi((next() % 50) as i32 - 30));
        v.push(-((next() % 10_000_000) as f64) / 1000.0);
    }
    v
}

#[test]
fn prediction_text_equals_the_servers_jsonb_rendering() {
    let values = corpus();
    // The validator's side: CPython's json.dumps of the floats (sent as exact hex).
    let hex: Vec<String> = values.iter().map(|v| format!("{v:e}")).collect();
    let script = "import json, sys\nvals = [float(t) for t in sys.stdin.read().split()]\nprint(json.dumps(vals))";
    let mut child = Command::new(common::python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(hex.join(" ").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let dumped = String::from_utf8(out.stdout).unwrap();
    // `{:e}` round-trips exactly, so Python holds the very doubles we do.
    assert_eq!(dumped.trim().matches(", ").count() + 1, values.len());

    let pg = Postgres::start();
    let stored = pg.psql(&format!("SELECT $j${}$j$::jsonb::text", dumped.trim()));

    let mut ours = String::from("[");
    for (k, v) in values.iter().enumerate() {
        if k > 0 {
            ours.push_str(", ");
        }
        jsonb::write_float(&mut ours, *v);
    }
    ours.push(']');
    let stored = stored.trim_end();
    if stored != ours {
        let theirs: Vec<&str> = stored.trim_matches(['[', ']']).split(", ").collect();
        let mine: Vec<&str> = ours.trim_matches(['[', ']']).split(", ").collect();
        let diffs: Vec<String> = theirs
            .iter()
            .zip(&mine)
            .zip(&values)
            .filter(|((t, m), _)| t != m)
            .take(10)
            .map(|((t, m), v)| format!("{v:e}: server {t}, ours {m}"))
            .collect();
        panic!("{} values differ, e.g.:\n{}", diffs.len(), diffs.join("\n"));
    }

    // A whole prediction, as the validator stores a CORRECT reply.
    let mut prediction = Vec::new();
    jsonb::write_prediction(&mut prediction, 1795521660, 60, 3, &[91234.5, 1e-5, 100000.0, -0.25, 1e16, 7.0]);
    let prediction = String::from_utf8(prediction).unwrap();
    let python = Command::new(common::python())
        .args(["-c", "import json; print(json.dumps([1795521660, 60, [91234.5, 1e-5, 100000.0], [-0.25, 1e16, 7.0]]))"])
        .output()
        .unwrap();
    let sent = String::from_utf8(python.stdout).unwrap();
    assert_eq!(pg.psql(&format!("SELECT $j${}$j$::jsonb::text", sent.trim())).trim_end(), prediction);
}
