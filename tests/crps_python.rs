//! The scoring kernels against the real thing: properscoring's `crps_ensemble` (its numba kernel)
//! and NumPy's `ndarray.sum`, bit for bit, on random and adversarial inputs.
//!
//! Needs the `.venv` of `scripts/setup-venv.sh` (numpy, numba, properscoring from PyPI); fails
//! loudly without it.

use std::io::Write;
use std::process::{Command, Stdio};

mod common;

use synth_forward::score::crps::crps_ensemble;
use synth_forward::score::sum::numpy_sum;

/// Runs `script` with the cases on stdin (one per line, floats as `float.hex`), returning one
/// double per line of its output (also `float.hex`).
fn python_doubles(script: &str, input: String) -> Vec<f64> {
    python_lines(script, input).iter().map(|l| unhex(l)).collect()
}

/// Runs `script` with `input` on stdin; its output lines.
fn python_lines(script: &str, input: String) -> Vec<String> {
    let mut child = Command::new(common::python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the .venv python (scripts/setup-venv.sh)");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

fn hex(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let bits = x.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mant = bits & ((1 << 52) - 1);
    match exp {
        0 if mant == 0 => format!("{sign}0x0.0p+0"),
        0 => format!("{sign}0x0.{mant:013x}p-1022"),
        _ => format!("{sign}0x1.{mant:013x}p{:+}", exp - 1023),
    }
}

fn unhex(s: &str) -> f64 {
    let s = s.trim();
    match s {
        "nan" | "-nan" => return f64::NAN,
        "inf" => return f64::INFINITY,
        "-inf" => return f64::NEG_INFINITY,
        _ => {}
    }
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let s = s.strip_prefix("0x").unwrap();
    let (mant, exp) = s.split_once('p').unwrap();
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut m = u64::from_str_radix(int, 16).unwrap() as f64;
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        m += c.to_digit(16).unwrap() as f64 * scale;
        scale /= 16.0;
    }
    let v = m * 2f64.powi(exp.parse::<i32>().unwrap());
    if neg { -v } else { v }
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// A deterministic generator of doubles shaped like the scorer's inputs.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A basis-point return: a sum of uniforms (roughly normal), scaled.
    fn bps(&mut self, scale: f64) -> f64 {
        ((0..4).map(|_| self.unit()).sum::<f64>() - 2.0) * scale
    }
}

/// (observation, members) cases: random ensembles of the sizes upstream uses and odd ones, then
/// ties, NaNs, one member, an observation outside the ensemble or on a member, ±0, huge and tiny.
fn crps_cases() -> Vec<(f64, Vec<f64>)> {
    let mut g = Gen(0x5DEE_CE66_D1CE_4E5B);
    let mut cases = Vec::new();
    for &n in &[1usize, 2, 3, 7, 8, 9, 16, 100, 999, 1000] {
        for k in 0..12 {
            let scale = [0.01, 1.0, 35.0, 1e4][k % 4];
            let members: Vec<f64> = (0..n).map(|_| g.bps(scale)).collect();
            let obs = match k % 3 {
                0 => g.bps(scale),
                1 => g.bps(scale) * 10.0,
                _ => members[(g.next() as usize) % n],
            };
            cases.push((obs, members));
        }
    }
    let nan = f64::NAN;
    let adversarial: Vec<(f64, Vec<f64>)> = vec![
        (0.0, vec![0.0; 1000]),
        (1.0, vec![1.0; 1000]),
        (1.0, vec![0.5; 7]),
        (-3.0, vec![1.0, 1.0, 2.0, 2.0, 2.0, 5.0]),
        (2.0, vec![1.0, 1.0, 2.0, 2.0, 2.0, 5.0]),
        (9.0, vec![1.0, 1.0, 2.0, 2.0, 2.0, 5.0]),
        (0.3, vec![nan, 0.1, 0.5, nan, 0.2]),
        (0.3, vec![nan]),
        (0.3, vec![nan, nan, nan]),
        (nan, vec![0.1, 0.2]),
        (0.0, vec![-0.0, 0.0, -0.0, 0.0]),
        (-0.0, vec![0.0, -0.0]),
        (5.0, vec![4.0]),
        (1e300, vec![-1e300, 1e300, 0.0]),
        (1e-300, vec![5e-324, -5e-324, 1e-310]),
        (91234.56, vec![91234.55, 91234.57, 91234.56, 91234.56]),
    ];
    cases.extend(adversarial);
    // A full lf column: 1000 members with heavy ties (prices of 8 significant digits).
    let members: Vec<f64> = (0..1000).map(|_| (g.bps(3.0) * 100.0).round() / 100.0).collect();
    cases.push((0.07, members));
    cases
}

const CRPS: &str = r#"
import sys
import numpy as np
from properscoring import crps_ensemble
for line in sys.stdin:
    xs = [float.fromhex(t) for t in line.split()]
    # As upstream calls it: a scalar observation, a 1-D column of the members.
    r = crps_ensemble(xs[0], np.array(xs[1:], dtype=np.float64))
    print(float(r).hex())
"#;

#[test]
fn crps_equals_properscoring_bit_for_bit() {
    let cases = crps_cases();
    let mut input = String::new();
    for (obs, members) in &cases {
        input.push_str(&hex(*obs));
        for m in members {
            input.push(' ');
            input.push_str(&hex(*m));
        }
        input.push('\n');
    }
    let theirs = python_doubles(CRPS, input);
    assert_eq!(theirs.len(), cases.len());
    let mut scratch = Vec::new();
    let mut differ = Vec::new();
    for (i, ((obs, members), want)) in cases.iter().zip(&theirs).enumerate() {
        let ours = crps_ensemble(*obs, members, &mut scratch);
        if !same(ours, *want) {
            differ.push(format!("case {i} (n = {}): ours {ours:e}, properscoring {want:e}", members.len()));
        }
    }
    assert!(differ.is_empty(), "{} of {} differ:\n{}", differ.len(), cases.len(), differ.join("\n"));
}

const SUM: &str = r#"
import sys
import numpy as np
for line in sys.stdin:
    xs = np.array([float.fromhex(t) for t in line.split()], dtype=np.float64)
    print(float(xs.sum()).hex())
"#;

#[test]
fn sum_equals_numpy_bit_for_bit() {
    let mut g = Gen(0x2545_F491_4F6C_DD1D);
    let mut arrays: Vec<Vec<f64>> = Vec::new();
    // Every length through three blocks, then long ones; magnitudes mixed so order shows.
    for n in (0..=300).chain([511, 512, 513, 1000, 1024, 4095, 4096, 8191, 8192, 8193, 10_000, 65_536, 100_001]) {
        arrays.push((0..n).map(|_| g.bps(1.0) * 10f64.powi((g.next() % 12) as i32 - 4)).collect());
    }
    arrays.push(vec![-0.0]);
    arrays.push(vec![-0.0, -0.0]);
    arrays.push(vec![1e16, 1.0, -1e16, 1.0, 3.0, 1e-3, 7.0, 1e16, -1e16]);
    let mut input = String::new();
    for a in &arrays {
        input.push_str(&a.iter().map(|x| hex(*x)).collect::<Vec<_>>().join(" "));
        input.push('\n');
    }
    let theirs = python_doubles(SUM, input);
    assert_eq!(theirs.len(), arrays.len());
    let differ: Vec<String> = arrays
        .iter()
        .zip(&theirs)
        .filter(|(a, want)| !same(numpy_sum(a), **want))
        .map(|(a, want)| format!("n = {}: ours {:e}, numpy {want:e}", a.len(), numpy_sum(a)))
        .collect();
    assert!(differ.is_empty(), "{} of {} differ:\n{}", differ.len(), arrays.len(), differ.join("\n"));
}

/// One miner's score by the independent reference (`tests/interop/synth_reference.py`, written
/// from the public description of upstream's scoring).
const MINER: &str = r#"
import json, sys
sys.path.insert(0, "tests/interop")
import numpy as np
from synth_reference import total_score

for line in sys.stdin:
    case = json.loads(line)
    sim = np.array([float.fromhex(x) for x in case["sim"]]).reshape(-1, case["points"])
    real = np.array([float.fromhex(x) for x in case["real"]])
    total, rows = total_score(sim, real, case["increment"], case["intervals"], case["vol"])
    print(json.dumps([float(total).hex(), [[n, float(v).hex()] for n, v in rows]]))
"#;

struct MinerCase {
    sim: Vec<f64>,
    points: usize,
    real: Vec<f64>,
    increment: i64,
    intervals: Vec<synth_forward::score::miner::Interval>,
    vol: Vec<synth_forward::score::miner::VolBlock>,
}

/// Random-walk paths around a price, of the two prompt shapes and odd ones; real paths with NaN
/// gaps (single points, runs, the last price), a zero price, flat paths.
fn miner_cases() -> Vec<MinerCase> {
    use synth_forward::score::miner::{Interval, VolBlock, intervals_for, vol_blocks_for};
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mut walk = |n: usize, start: f64, vol: f64| -> Vec<f64> {
        let mut p = start;
        (0..n)
            .map(|_| {
                let v = (p * 1e2).round() / 1e2;
                p *= 1.0 + g.bps(vol) / 10_000.0;
                v
            })
            .collect()
    };
    let mut cases = Vec::new();
    let shapes: [(i64, i64, usize); 3] = [(3600, 60, 50), (86_400, 300, 40), (3600, 60, 1000)];
    for (k, &(length, increment, paths)) in shapes.iter().enumerate() {
        let points = (length / increment) as usize + 1;
        for variant in 0..5 {
            let mut sim = Vec::new();
            for _ in 0..paths {
                sim.extend(walk(points, 91_234.56, 8.0));
            }
            let mut real = walk(points, 91_234.56, 8.0);
            match variant {
                1 => real[7] = f64::NAN,
                2 => real[10..25].iter_mut().for_each(|x| *x = f64::NAN),
                3 => *real.last_mut().unwrap() = f64::NAN,
                4 if k == 0 => sim[123] = 0.0,
                4 => real.iter_mut().skip(1).for_each(|x| *x = f64::NAN),
                _ => {}
            }
            let (intervals, vol) = (intervals_for(length).unwrap(), vol_blocks_for(length));
            cases.push(MinerCase { sim, points, real, increment, intervals, vol });
        }
    }
    // A flat ensemble, the observation on it; odd interval lists.
    cases.push(MinerCase {
        sim: vec![100.0; 8 * 13],
        points: 13,
        real: vec![100.0; 13],
        increment: 60,
        intervals: vec![Interval::new("1min", 60), Interval::new("3min", 180), Interval::new("12min_abs", 720)],
        vol: vec![VolBlock { name: "vol_4min".into(), seconds: 240, weight: 0.5 }],
    });
    cases.push(MinerCase {
        sim: walk(3 * 5, 10.0, 50.0),
        points: 5,
        real: vec![10.0, f64::NAN, 10.5, f64::NAN, 9.0],
        increment: 60,
        intervals: vec![Interval::new("1min", 60), Interval::new("0_2min_gaps", 120), Interval::new("9min_abs", 540)],
        vol: vec![
            VolBlock { name: "vol_2min".into(), seconds: 120, weight: 1.0 / 3.0 },
            VolBlock { name: "vol_4min".into(), seconds: 240, weight: 0.25 },
        ],
    });
    cases
}

#[test]
fn miner_score_equals_a_python_reference() {
    use synth_forward::score::miner::{Scratch, total_score};
    let cases = miner_cases();
    let mut input = String::new();
    for c in &cases {
        let line = serde_json::json!({
            "sim": c.sim.iter().map(|x| hex(*x)).collect::<Vec<_>>(),
            "real": c.real.iter().map(|x| hex(*x)).collect::<Vec<_>>(),
            "points": c.points,
            "increment": c.increment,
            "intervals": c.intervals.iter().map(|i| (i.name.clone(), i.seconds)).collect::<Vec<_>>(),
            "vol": c.vol.iter().map(|v| (v.name.clone(), v.seconds, v.weight)).collect::<Vec<_>>(),
        });
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let theirs: Vec<serde_json::Value> =
        python_lines(MINER, input).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(theirs.len(), cases.len());
    let mut scratch = Scratch::default();
    let mut rejected = 0;
    for (i, (c, want)) in cases.iter().zip(&theirs).enumerate() {
        let want_total = unhex(want[0].as_str().unwrap());
        match total_score(&c.sim, c.points, &c.real, c.increment, &c.intervals, &c.vol, &mut scratch) {
            Err(_) => {
                assert_eq!(want_total, -1.0, "case {i}: we rejected, the reference did not");
                rejected += 1;
            }
            Ok(ours) => {
                assert!(same(ours.total, want_total), "case {i}: total {} vs {want_total}", ours.total);
                let rows: Vec<(String, f64)> = want[1]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| (r[0].as_str().unwrap().to_owned(), unhex(r[1].as_str().unwrap())))
                    .collect();
                assert_eq!(ours.detail.len(), rows.len(), "case {i}: {:?} vs {rows:?}", ours.detail);
                for (o, (name, v)) in ours.detail.iter().zip(&rows) {
                    assert!(o.interval == *name && same(o.crps, *v), "case {i}: {o:?} vs {name} {v}");
                }
            }
        }
    }
    assert_eq!(rejected, 1);
}

/// The prompt scores by the independent reference (NumPy's median, minimum, percentile).
const PROMPT: &str = r#"
import json, sys
sys.path.insert(0, "tests/interop")
import numpy as np
from synth_reference import prompt_scores

for line in sys.stdin:
    form, values = json.loads(line)
    got = prompt_scores([float.fromhex(x) for x in values], form)
    if got is None:
        print("null")
        continue
    out, fill, lowest, capped = got
    print(json.dumps([[float(x).hex() for x in out], float(fill).hex(), float(lowest).hex(), capped]))
"#;

#[test]
fn prompt_scores_equal_numpys() {
    use synth_forward::score::prompt::{Normalisation, prompt_scores_with};
    let mut g = Gen(0xD1B5_4A32_D192_ED03);
    let mut fields: Vec<Vec<f64>> = Vec::new();
    for n in (1..=40).chain([64, 99, 100, 101, 255, 256]) {
        for k in 0..4 {
            let field: Vec<f64> = (0..n)
                .map(|_| match (g.next() % 20, k) {
                    (0..=3, _) => -1.0,
                    (4, 1) => g.unit() * 1e6,
                    (5, 2) => 1e30,
                    _ => 50.0 + g.bps(30.0).abs() + g.unit(),
                })
                .collect();
            fields.push(field);
        }
    }
    fields.push(vec![-1.0; 5]);
    fields.push(vec![-1.0, 7.0]);
    fields.push(vec![0.0, 0.0, -1.0]);
    fields.push(vec![1.0, 1e9, 1e9, 1e9, -1.0]);
    fields.push(vec![3.0, 3.0, 3.0]);
    let forms = [Normalisation::MedianCapP95Fill, Normalisation::P90Cap];
    let cases: Vec<(Normalisation, &Vec<f64>)> =
        forms.iter().flat_map(|&n| fields.iter().map(move |f| (n, f))).collect();
    let mut input = String::new();
    for (form, f) in &cases {
        let values: Vec<String> = f.iter().map(|x| hex(*x)).collect();
        input.push_str(&serde_json::to_string(&(form.name(), values)).unwrap());
        input.push('\n');
    }
    let theirs = python_lines(PROMPT, input);
    assert_eq!(theirs.len(), cases.len());
    for (i, ((form, f), want)) in cases.iter().zip(&theirs).enumerate() {
        let ours = prompt_scores_with(f, *form);
        let want: serde_json::Value = serde_json::from_str(want).unwrap();
        let Some(ours) = ours else {
            assert!(want.is_null(), "field {i}: we skipped it");
            continue;
        };
        let scores: Vec<f64> = want[0].as_array().unwrap().iter().map(|x| unhex(x.as_str().unwrap())).collect();
        assert!(
            ours.scores.iter().zip(&scores).all(|(a, b)| same(*a, *b)),
            "field {i}: {:?} vs {scores:?}",
            ours.scores
        );
        assert!(same(ours.percentile95, unhex(want[1].as_str().unwrap())), "field {i}: p95");
        assert!(same(ours.lowest, unhex(want[2].as_str().unwrap())), "field {i}: lowest");
        let capped: Vec<bool> = want[3].as_array().unwrap().iter().map(|c| c.as_bool().unwrap()).collect();
        assert_eq!(ours.capped, capped, "field {i}");
    }
}
