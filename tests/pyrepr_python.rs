//! `pyrepr` against the real thing: CPython's `repr(float)` over many doubles.
//!
//! Needs a `python3` (or `$SYNTH_FORWARD_PYTHON`); fails loudly without one.

use std::io::Write;
use std::process::{Command, Stdio};

mod common;

use common::python;
use synth_forward::decode::pyrepr::{float_digit_count, float_repr};

/// A deterministic spread of doubles: random bit patterns, 8-significant-digit prices across
/// magnitudes, and the boundaries of Python's fixed/exponent switch.
fn samples() -> Vec<f64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut v = Vec::new();
    for _ in 0..20_000 {
        let f = f64::from_bits(next());
        if f.is_finite() {
            v.push(f);
        }
    }
    for _ in 0..20_000 {
        let m = (next() % 100_000_000) as f64;
        let e = (next() % 40) as i32 - 20;
        v.push(format!("{m}e{e}").parse().unwrap());
    }
    for e in -330..=310 {
        for m in [1.0, 1.5, 9.999_999_9, 1.234_567_8] {
            v.push(format!("{m}e{e}").parse().unwrap());
        }
    }
    v.extend([0.0, -0.0, 1e16, 1e15, 9_999_999_999_999_998.0, 0.0001, 0.000_099_999_999]);
    v.retain(|x| x.is_finite());
    v
}

#[test]
fn float_repr_equals_cpython_repr() {
    let xs = samples();
    let mut child = Command::new(python())
        .args(["-c", "import sys\nfor l in sys.stdin: print(repr(float.fromhex(l.strip())))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (set SYNTH_FORWARD_PYTHON to another interpreter)");
    let mut input = String::new();
    for x in &xs {
        input.push_str(&hex(*x));
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "python failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), xs.len());
    let mut bad = Vec::new();
    for (x, want) in xs.iter().zip(lines) {
        let got = float_repr(*x);
        if got != want {
            bad.push(format!("{x:e}: ours {got}, python {want}"));
        }
        assert_eq!(float_digit_count(*x), want.replace('.', "").len());
    }
    assert!(bad.is_empty(), "{} mismatches, first: {:?}", bad.len(), &bad[..bad.len().min(10)]);
}

/// `float.hex()` form, exact for every finite double.
fn hex(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0x0p+0".into() } else { "0x0p+0".into() };
    }
    let bits = x.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let man = bits & ((1u64 << 52) - 1);
    if exp == 0 { format!("{sign}0x0.{man:013x}p-1022") } else { format!("{sign}0x1.{man:013x}p{}", exp - 1023) }
}
