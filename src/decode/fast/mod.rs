//! The fast path: the Axon's own layout scanned in one pass, prices parsed into the slot.
//!
//! In: [`Expected`], a status-200 body, the miner's slot. Out: `Some(verdict)` when the body is in
//! the shape this scanner fully understands, `None` (give up, let [`exact`](super::exact) decide)
//! otherwise; on CORRECT the slot holds every price.
//!
//! One concern per file, in the order a body flows through them:
//! - [`envelope`]: the synapse object around the prices (what the Axon prints, nothing else);
//! - [`lane`]: which loop reads the paths on this CPU, and those loops;
//! - `simd` (x86-64): the SSSE3 / AVX2 kernels that read a run of prices 64 bytes at a time;
//! - [`number`]: one price token → value, digit rule, end (the SWAR parser and the general one);
//! - here: the ordered checks over what the scan found, with the messages of
//!   [`verdict`](super::verdict).
//!
//! Measured on the synthetic 605 KB reply of `examples/scan_speed.rs` (1000 paths × 61 prices),
//! instructions in this module per price by `N=10 valgrind --tool=callgrind
//! ./target/release/examples/scan_speed` (deterministic), and one-core MB/s by
//! `N=300 ./target/release/examples/scan_speed` (noisy: a shared 2-core VM at load average
//! ≈ 4; each figure is a range over runs interleaved with the baseline, same load):
//!
//! | lane | instructions / price | MB/s one core |
//! |---|---|---|
//! | SWAR only (before, commit 1b874fa) | 166.7 | 450–830 (≈ 650–750 interleaved) |
//! | SSSE3 | 67.9 | 1 650–2 500 |
//! | x86-64-v3 (AVX2) | 56.7 | 2 450–3 050 |

mod envelope;
mod lane;
mod number;
#[cfg(target_arch = "x86_64")]
mod simd;

use crate::decode::Rules;
use crate::decode::Verdict;
use crate::request::Expected;
use envelope::{Scanned, Scanner};
use lane::Lane;

/// Decides a status-200 body in the Axon's layout, or gives up (`None`).
pub fn decode(exp: &Expected, body: &[u8], slot: &mut [f64]) -> Option<Verdict> {
    decode_spanned(exp, body, slot).map(|(v, _)| v)
}

/// [`decode`], with where `simulation_output`'s value lies in the body (when it is not `null`):
/// inside this path's subset its tokens are compact JSON numbers, each exactly what the
/// validator's `V` holds.
pub fn decode_spanned(
    exp: &Expected,
    body: &[u8],
    slot: &mut [f64],
) -> Option<(Verdict, Option<std::ops::Range<usize>>)> {
    decode_lane_spanned(exp, body, slot, Lane::best())
}

/// [`decode`] with the path loop chosen (the tests run every lane this CPU has on the same
/// bodies). `lane` must be one the CPU supports ([`Lane::supported`]).
#[cfg(test)]
fn decode_lane(exp: &Expected, body: &[u8], slot: &mut [f64], lane: Lane) -> Option<Verdict> {
    decode_lane_spanned(exp, body, slot, lane).map(|(v, _)| v)
}

fn decode_lane_spanned(
    exp: &Expected,
    body: &[u8],
    slot: &mut [f64],
    lane: Lane,
) -> Option<(Verdict, Option<std::ops::Range<usize>>)> {
    if slot.len() != exp.slot_len() || !lane.supported() {
        return None;
    }
    let mut s = Scanner { b: body, i: 0, lane, rules: exp.rules };
    let output = s.envelope(exp, slot)?;
    let span = output.as_ref().map(|o| o.span.clone());
    Some((verdict(exp, output), span))
}

/// Synth's checks (conformance README, stage F) over a scanned reply.
fn verdict(exp: &Expected, output: Option<Scanned>) -> Verdict {
    let Some(expected_start) = exp.start else {
        return Verdict::ErrorDuringValidation;
    };
    let Some(out) = output else {
        return Verdict::ResponseEmpty;
    };
    if out.start != expected_start {
        return Verdict::wrong_start(expected_start, out.start);
    }
    if out.increment != exp.increment {
        return Verdict::wrong_increment(exp.increment, out.increment);
    }
    if i128::from(out.paths) != i128::from(exp.paths) {
        return Verdict::wrong_path_count(exp.paths, out.paths);
    }
    if exp.increment == 0 {
        return Verdict::ErrorDuringValidation;
    }
    let length = out.first_bad_length.map(|(at, got)| (at, Verdict::wrong_point_count(exp.points, got)));
    match (length, out.first_bad_price) {
        (None, None) => Verdict::Correct,
        (Some((_, l)), None) => l,
        (None, Some((_, p))) => p,
        // v2 checks path after path (a path's length before its prices); v3 checks every
        // path's shape before any price.
        (Some((at_l, l)), Some((at_p, p))) => match exp.rules {
            Rules::V2 if at_p < at_l => p,
            _ => l,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn exp(paths: i64, points: i64) -> Expected {
        Expected { start: Some(1795528920), increment: 60, paths, points, rules: Rules::V2 }
    }

    const ENVELOPE: &str = r#"{"name":"Simulation","timeout":12.0,"total_size":3106,"header_size":0,"dendrite":{"status_code":null,"status_message":null,"process_time":null,"ip":null,"port":null,"version":null,"nonce":null,"uuid":null,"hotkey":null,"signature":null},"axon":{"status_code":200,"status_message":"Success","process_time":0.016006946563720703,"ip":null,"port":null,"version":null,"nonce":null,"uuid":null,"hotkey":null,"signature":null},"computed_body_hash":"","simulation_input":{"asset":"BTC","start_time":"2026-11-24T14:02:00+00:00","time_increment":60,"time_length":600,"num_simulations":3},"simulation_output":"#;

    pub(super) fn body(output: &str) -> Vec<u8> {
        format!("{ENVELOPE}{output}}}").into_bytes()
    }

    pub(super) fn run(e: &Expected, output: &str) -> (Option<Verdict>, Vec<f64>) {
        let mut slot = vec![f64::NAN; e.slot_len()];
        let v = decode(e, &body(output), &mut slot);
        (v, slot)
    }

    #[test]
    fn real_axon_reply_is_correct_and_fills_the_slot() {
        let raw =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/wire-samples/synapse/response-body.json"))
                .expect("the shared wire samples beside the repo");
        let e = exp(3, 11);
        let mut slot = vec![0.0; 33];
        assert_eq!(decode(&e, &raw, &mut slot), Some(Verdict::Correct));
        assert_eq!(slot[0], 91234.56);
        assert_eq!(slot[1], 91230.271);
        assert_eq!(slot[32], 91232.175);
    }

    #[test]
    fn checks_run_in_the_validators_order() {
        let e = exp(2, 2);
        let m = |o: &str| run(&e, o).0.map(|v| v.as_str().to_owned());
        assert_eq!(m("[1795528920,60,[1.5,2.5],[3.5,4.5]]").as_deref(), Some("CORRECT"));
        assert_eq!(
            m("[1795528921,61,[1.5],[3.5,4.5]]").as_deref(),
            Some("Start time timestamp is incorrect: expected 1795528920, got 1795528921")
        );
        assert_eq!(m("[1795528920,61,[1.5]]").as_deref(), Some("Time increment is incorrect: expected 60, got 61"));
        // The path count is judged before any path.
        assert_eq!(
            m("[1795528920,60,[1.123456789,2.5]]").as_deref(),
            Some("Number of paths is incorrect: expected 2, got 1")
        );
        // A path's length before its prices; paths in order.
        assert_eq!(
            m("[1795528920,60,[1.123456789],[3.5,4.5,5.5]]").as_deref(),
            Some("Number of time points is incorrect: expected 2, got 1")
        );
        assert_eq!(
            m("[1795528920,60,[1.5,12345678.0],[1.123456789,4.5]]").as_deref(),
            Some("Price format is incorrect: too many digits 12345678.0")
        );
        assert_eq!(
            m("[1795528920,60,[1.5,2.5],[-99999999,4.5]]").as_deref(),
            Some("Price format is incorrect: too many digits -99999999")
        );
        assert_eq!(m("null").as_deref(), Some("Response is empty"));
    }

    #[test]
    fn prices_equal_std_parse_bit_for_bit() {
        let e = exp(1, 9);
        let toks = [
            "91234.56",
            "0.1",
            "3.0e-3",
            "1.7976931348623157e308",
            "5e-324",
            "123456.78901234567",
            "2.2250738585072014e-308",
            "-91234.567",
            "9007199254740993.0",
        ];
        let (v, slot) = run(&e, &format!("[1795528920,60,[{}]]", toks.join(",")));
        assert!(v.is_some());
        for (t, got) in toks.iter().zip(&slot) {
            assert_eq!(got.to_bits(), t.parse::<f64>().unwrap().to_bits(), "{t}");
        }
    }
}
