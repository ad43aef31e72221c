//! The `Simulation` request body: one cycle's simulation input → the exact bytes a Synth validator
//! posts to every miner, whichever protocol carries them.
//!
//! In: a [`SimulationInput`]. Out: compact JSON in the layout of
//! `shared/wire-samples/synapse/request-body.json`.
//!
//! Synth's multiprocess dendrite dumps the *parent's* `Simulation` (`synapse.model_dump()`) and
//! httpx 0.28 encodes it with `json.dumps(ensure_ascii=False, separators=(",", ":"))`. So the body
//! says `"timeout":12.0` (the class default), `"header_size":0`, empty `dendrite`/`axon` terminals,
//! `"computed_body_hash":""` and no output, whatever the real timeout or target is. `total_size` is
//! the parent synapse's `sys.getsizeof` total, a CPython detail nobody reads; we send the value of
//! the capture ([`BODY_TOTAL_SIZE`]).
//!
//! String escaping: Python's `json.dumps(ensure_ascii=False)` and serde_json escape the same
//! characters the same way (`\"`, `\\`, `\b \f \n \r \t`, other controls as lower-case `\u00XX`,
//! everything else raw UTF-8), so serde_json writes the two strings.

use crate::request::SimulationInput;

/// `total_size` in the body: the parent synapse's recursive `sys.getsizeof` in the capture.
/// Nothing on the miner side reads it.
pub const BODY_TOTAL_SIZE: u64 = 3106;

const TERMINAL_NULLS: &str = r#"{"status_code":null,"status_message":null,"process_time":null,"ip":null,"port":null,"version":null,"nonce":null,"uuid":null,"hotkey":null,"signature":null}"#;

/// The request body for `input`, byte for byte as Synth's validator sends it.
pub fn simulation_body(input: &SimulationInput) -> Vec<u8> {
    let mut s = String::with_capacity(600);
    s.push_str(r#"{"name":"Simulation","timeout":12.0,"total_size":"#);
    s.push_str(&BODY_TOTAL_SIZE.to_string());
    s.push_str(r#","header_size":0,"dendrite":"#);
    s.push_str(TERMINAL_NULLS);
    s.push_str(r#","axon":"#);
    s.push_str(TERMINAL_NULLS);
    s.push_str(r#","computed_body_hash":"","simulation_input":{"asset":"#);
    s.push_str(&json_string(&input.asset));
    s.push_str(r#","start_time":"#);
    s.push_str(&json_string(&input.start_time));
    s.push_str(r#","time_increment":"#);
    s.push_str(&input.time_increment.to_string());
    s.push_str(r#","time_length":"#);
    s.push_str(&input.time_length.to_string());
    s.push_str(r#","num_simulations":"#);
    s.push_str(&input.num_simulations.to_string());
    s.push_str(r#"},"simulation_output":null}"#);
    s.into_bytes()
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_python_json_without_ascii_escaping() {
        assert_eq!(json_string("BTC"), r#""BTC""#);
        assert_eq!(json_string("a\"b\\c\n\u{1}é\u{7f}"), "\"a\\\"b\\\\c\\n\\u0001é\u{7f}\"");
    }
}
