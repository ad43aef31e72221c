//! The exact path: Python's `json.loads(bytes)` + pydantic's `Simulation` model + synth's checks.
//!
//! In: status, raw body, [`Expected`], the miner's slot. Out: the verdict, and the prices in the
//! slot when it is CORRECT. Built for fidelity, not speed: every body the fast path gives up on
//! lands here, and the conformance corpus (`tests/conformance.rs`) pins it.
//!
//! The stages of `../shared/conformance/README.md`, one file each, in data-flow order:
//! - A (HTTP status) is decided here;
//! - B [`text`]: bytes → text (encoding sniffing, `surrogatepass`);
//! - C [`json`]: text → [`value::Value`] (Python's `json` grammar, big ints, nesting limit);
//! - D [`synapse`]: the envelope's members against bittensor's model ([`lax`] is pydantic's
//!   string → number parsing, [`pynum`] Python's `int()` / `float()`);
//! - E [`output`]: `simulation_output` → `V`, all-or-nothing coercion;
//! - F [`checks`]: the ordered checks and their messages (G, `str()`, lives in
//!   [`value::Value::number_str`] and `crate::decode::pyrepr`).

pub mod checks;
pub mod json;
pub mod lax;
pub mod output;
pub mod pynum;
pub mod synapse;
pub mod text;
pub mod value;

use crate::decode::Verdict;
use crate::request::Expected;
use value::Value;

/// Python's recursion limit (1000) less the frames the validator already stands on when
/// `json.loads` runs: nesting deeper than this anywhere in the body raises `RecursionError`.
/// (The corpus pins only "200 is fine, 3000+ fails"; bare `json.loads` gives up at 994.)
pub const MAX_BODY_DEPTH: usize = 950;

/// Nesting inside `simulation_output` beyond which the Python validator's forward crashes (a
/// recursive size computation in a log line, from roughly 500 levels); no verdict exists there,
/// and it counts as a reply that did not arrive. Depths up to 250 behave normally.
pub const MAX_OUTPUT_DEPTH: usize = 400;

/// Decides any reply exactly as the Python validator does.
pub fn decode(exp: &Expected, status: u16, body: &[u8], slot: &mut [f64]) -> Verdict {
    decode_ints(exp, status, body, slot, &mut Vec::new())
}

/// [`decode`], also noting (in `ints`, ascending) which prices of a CORRECT reply `V` holds as
/// Python ints: the validator's `json.dumps` prints those without a `.0`.
pub fn decode_ints(exp: &Expected, status: u16, body: &[u8], slot: &mut [f64], ints: &mut Vec<u32>) -> Verdict {
    // A: only 2xx replies are read at all.
    if !(200..=299).contains(&status) {
        return Verdict::NoResponse;
    }
    let Ok(text) = text::decode(body) else {
        return Verdict::NoResponse;
    };
    let Ok(top) = json::parse(&text, MAX_BODY_DEPTH) else {
        return Verdict::NoResponse;
    };
    if status != 200 {
        // Another 2xx: the JSON object's `message` is read, the synapse never is.
        let message_ok =
            matches!(top, Value::Object(_)) && matches!(top.get("message"), None | Some(Value::Null | Value::Str(_)));
        return if message_ok { checks::check(exp, None) } else { Verdict::NoResponse };
    }
    // D: the envelope.
    if !synapse::accepts(&top) {
        return Verdict::NoResponse;
    }
    let raw_output = top.get("simulation_output");
    if raw_output.is_some_and(|o| o.depth() > MAX_OUTPUT_DEPTH) {
        return Verdict::NoResponse;
    }
    // E, F.
    let v = output::coerce(raw_output);
    let verdict = checks::check(exp, v);
    if verdict.is_correct() && slot.len() == exp.slot_len() {
        write_prices(v, slot, ints);
    }
    verdict
}

/// Copies a CORRECT `V`'s prices into the slot, path after path, as the doubles Python holds
/// (floats as parsed, ints rounded to the nearest double).
fn write_prices(v: Option<output::Output<'_>>, slot: &mut [f64], ints: &mut Vec<u32>) {
    let (items, coerced) = match v {
        Some(output::Output::Coerced(items)) => (items, true),
        Some(output::Output::Raw(Value::Array(items))) => (items.as_slice(), false),
        _ => return,
    };
    let prices = items.iter().skip(2).flat_map(|path| match path {
        Value::Array(prices) => prices.as_slice(),
        _ => &[],
    });
    for (k, (dst, raw)) in slot.iter_mut().zip(prices).enumerate() {
        let price = if coerced { output::price(raw) } else { None };
        *dst = match price.as_deref().unwrap_or(raw) {
            Value::Float(f) => *f,
            Value::Int(i) => {
                ints.push(k as u32);
                i.to_f64()
            }
            Value::Bool(b) => {
                ints.push(k as u32);
                f64::from(u8::from(*b))
            }
            _ => f64::NAN,
        };
    }
}
