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
pub mod verdict;

pub use verdict::Verdict;

use crate::call::RawCall;
use crate::request::Expected;

/// Decides one reply that arrived with an HTTP status.
pub fn decode_body(exp: &Expected, status: u16, body: &[u8], slot: &mut [f64]) -> Verdict {
    if status == 200 {
        if let Some(v) = fast::decode(exp, body, slot) {
            return v;
        }
    }
    exact::decode(exp, status, body, slot)
}

/// Decides one call, whatever became of it. Transport failures never reach the body rules.
pub fn decode_call(exp: &Expected, call: &RawCall<'_>, slot: &mut [f64]) -> Verdict {
    match (call.error, call.status, call.body) {
        (None, Some(status), Some(body)) => decode_body(exp, status, body, slot),
        _ => Verdict::NoResponse,
    }
}
