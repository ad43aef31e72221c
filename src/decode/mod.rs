//! One miner's reply → the Python validator's exact `format_validation` verdict, and the prices.
//!
//! In: an [`Expected`] (from the request), the HTTP status and the raw body bytes, and the miner's
//! slot of the cycle's price buffer (`paths × points` f64). Out: a [`Verdict`]; when it is
//! [`Verdict::Correct`] the slot holds every price, path after path.
//!
//! Two paths, one answer:
//! - [`fast`] scans the body in the Axon's own layout (compact UTF-8, known members) and parses
//!   each price straight into the slot with the digit rule fused in. It never guesses: on anything
//!   it does not fully understand it gives up, having written nothing that matters.
//! - [`exact`] is a model of Python's `json` module plus pydantic's coercions and synth's checks,
//!   built for fidelity, not speed. It decides every body the fast path gave up on.
//!
//! Both are pinned by the conformance corpus (`tests/conformance.rs`).

pub mod exact;
pub mod fast;
pub mod pyrepr;
pub mod rules;
pub mod verdict;

pub use rules::Rules;
pub use verdict::Verdict;

/// The powers of ten a double holds exactly (up to 1e22): a decimal mantissa below 2^53 scaled
/// by one of them in a single multiply or divide is correctly rounded (Clinger's fast path).
pub(crate) const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

use crate::call::RawCall;
use crate::request::Expected;

/// Decides one reply that arrived with an HTTP status.
pub fn decode_body(exp: &Expected, status: u16, body: &[u8], slot: &mut [f64]) -> Verdict {
    decode_body_traced(exp, status, body, slot, &mut Vec::new()).0
}

/// [`decode_body`], also saying how the prices were written ([`PriceForm`]): the fast path first,
/// the exact path for whatever it gives up on (`ints` is cleared and filled there).
pub fn decode_body_traced(
    exp: &Expected,
    status: u16,
    body: &[u8],
    slot: &mut [f64],
    ints: &mut Vec<u32>,
) -> (Verdict, PriceForm) {
    ints.clear();
    if status == 200 {
        if let Some((v, span)) = fast::decode_spanned(exp, body, slot) {
            return (v, span.map_or(PriceForm::Doubles, PriceForm::Tokens));
        }
    }
    (exact::decode_ints(exp, status, body, slot, ints), PriceForm::Doubles)
}

/// Decides one call, whatever became of it. Transport failures never reach the body rules.
pub fn decode_call(exp: &Expected, call: &RawCall<'_>, slot: &mut [f64]) -> Verdict {
    decode_call_traced(exp, call, slot, &mut Vec::new()).0
}

/// How a CORRECT reply's prices were written, beyond their doubles: what a writer of the
/// validator's JSON text needs to print each one as `V` holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PriceForm {
    /// Decided by the fast path: `simulation_output`'s value is this range of the body, compact
    /// JSON whose number tokens are `V`'s values (an int token is a Python int).
    Tokens(std::ops::Range<usize>),
    /// Decided by the exact path: the prices `V` holds as Python ints are those listed in the
    /// `ints` the decoder filled; all others are floats.
    #[default]
    Doubles,
}

/// [`decode_call`], also saying how the prices were written ([`PriceForm`]); `ints` is cleared and
/// filled for the exact path.
pub fn decode_call_traced(
    exp: &Expected,
    call: &RawCall<'_>,
    slot: &mut [f64],
    ints: &mut Vec<u32>,
) -> (Verdict, PriceForm) {
    match (call.error, call.status, call.body) {
        (None, Some(status), Some(body)) => decode_body_traced(exp, status, body, slot, ints),
        _ => {
            ints.clear();
            (Verdict::NoResponse, PriceForm::Doubles)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Rules, SimulationInput};

    /// A request for 0 paths is judged like any other (README F, rules 6–11, and note 14:
    /// `[start, increment]` alone is CORRECT then). Verdicts are the Python validator's, from the
    /// `v3_short_outputs/n0-*` cases of `../shared/conformance/v3/cases.jsonl` (bodies shortened to
    /// the members that matter; v2's corpus has no such case, and these rules are the same in v2).
    #[test]
    fn zero_path_requests_are_judged_by_both_paths() {
        let si = SimulationInput {
            asset: "SPYX".into(),
            start_time: "2025-02-03T21:36:00+00:00".into(),
            time_increment: 300,
            time_length: 900,
            num_simulations: 0,
        };
        let exp = Expected::from_input(&si, Rules::V3);
        assert_eq!((exp.paths, exp.slot_len()), (0, 0));
        let body = |output: &str| {
            format!(
                r#"{{"name":"Simulation","timeout":60.0,"total_size":0,"header_size":0,"axon":{{"status_code":200,"status_message":"Success","process_time":0.04213}},"computed_body_hash":"","simulation_input":{{"asset":"SPYX","start_time":"2025-02-03T21:36:00+00:00","time_increment":300,"time_length":900,"num_simulations":0}},"simulation_output":{output}}}"#
            )
        };
        // (reply, verdict, whether the fast path decides it rather than handing it over)
        for (output, want, fast_decides) in [
            ("[1738618560,300]", "CORRECT", true),
            ("[1738618560,300,[1.0]]", "Number of paths is incorrect: expected 0, got 1", true),
            ("[1738618560,300,[]]", "Number of paths is incorrect: expected 0, got 1", true),
            ("[1738618560,600]", "Time increment is incorrect: expected 300, got 600", true),
            ("[1738618560]", "error during validation", false),
            ("[1738618560.0,300]", "CORRECT", false),
            ("[1738618560,false,null]", "Time increment is incorrect: expected 300, got False", false),
        ] {
            let b = body(output);
            let mut slot: [f64; 0] = [];
            let exact = exact::decode(&exp, 200, b.as_bytes(), &mut slot);
            assert_eq!(exact.as_str(), want, "exact: {output}");
            let dispatched = decode_body(&exp, 200, b.as_bytes(), &mut slot);
            assert_eq!(dispatched.as_str(), want, "dispatched: {output}");
            let fast = fast::decode(&exp, b.as_bytes(), &mut slot);
            assert_eq!(fast.is_some(), fast_decides, "fast decides: {output}");
            if let Some(v) = fast {
                assert_eq!(v.as_str(), want, "fast: {output}");
            }
        }
        // Rule 11 (`I == 0`) still fires once the path count (0) has passed.
        let zero_increment = Expected { increment: 0, ..exp };
        let b = body("[1738618560,0]");
        let v = decode_body(&zero_increment, 200, b.as_bytes(), &mut []);
        assert_eq!(v, Verdict::ErrorDuringValidation);
        assert_eq!(exact::decode(&zero_increment, 200, b.as_bytes(), &mut []), v);
    }
}
