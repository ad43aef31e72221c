//! Stage D: whether the reply's top-level object passes bittensor's `Simulation` synapse model.
//!
//! In: the decoded top-level [`Value`]. Out: `true` when pydantic (with bittensor's `int()` /
//! `float()` casting validators) accepts every member it looks at; any failure means the reply
//! did not "arrive". The values themselves are never used: only `simulation_output` matters,
//! and stage E reads that.

use super::lax;
use super::pynum;
use super::value::Value;

/// Whether the members of the reply object validate (README section D).
pub fn accepts(top: &Value) -> bool {
    if !matches!(top, Value::Object(_)) {
        return false;
    }
    let member = |k: &str| top.get(k);
    simulation_input_ok(member("simulation_input"))
        && optional(member("timeout"), py_float_ok)
        && optional(member("total_size"), py_int_ok)
        && optional(member("header_size"), py_int_ok)
        && optional(member("dendrite"), terminal_info_ok)
        && optional(member("axon"), terminal_info_ok)
        && optional(member("computed_body_hash"), is_str)
}

/// Absent and `null` are accepted; anything else goes to `check`.
fn optional(v: Option<&Value>, check: fn(&Value) -> bool) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(v) => check(v),
    }
}

fn is_str(v: &Value) -> bool {
    matches!(v, Value::Str(_))
}

/// `simulation_input`: required object; str members must be strings, int members lax ints;
/// a member may be missing (default) but not `null`.
fn simulation_input_ok(v: Option<&Value>) -> bool {
    let Some(obj @ Value::Object(_)) = v else {
        return false;
    };
    let strs = ["asset", "start_time"].iter().all(|k| obj.get(k).is_none_or(is_str));
    let ints = ["time_increment", "time_length", "num_simulations"].iter().all(|k| obj.get(k).is_none_or(lax_int_ok));
    strs && ints
}

/// pydantic's lax `int` field.
fn lax_int_ok(v: &Value) -> bool {
    match v {
        Value::Int(_) | Value::Bool(_) => true,
        Value::Float(f) => float_is_i64_integral(*f),
        Value::Str(_) => v.as_text().and_then(lax::str_to_int).is_some(),
        _ => false,
    }
}

/// A finite integral double strictly between −2^63 and 2^63 (pydantic's float → int).
pub fn float_is_i64_integral(f: f64) -> bool {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    f.is_finite() && f.fract() == 0.0 && f > -TWO_63 && f < TWO_63
}

/// Python's `float(x)` for a JSON value.
fn py_float_ok(v: &Value) -> bool {
    match v {
        // `float(int)` overflows past the double range.
        Value::Int(i) => i.to_f64().is_finite(),
        Value::Float(_) | Value::Bool(_) => true,
        Value::Str(_) => v.as_text().is_some_and(pynum::float_ok),
        _ => false,
    }
}

/// Python's `int(x)` for a JSON value.
fn py_int_ok(v: &Value) -> bool {
    match v {
        Value::Int(_) | Value::Bool(_) => true,
        // `int(nan)` and `int(inf)` raise; anything finite truncates.
        Value::Float(f) => f.is_finite(),
        Value::Str(_) => v.as_text().is_some_and(pynum::int_ok),
        _ => false,
    }
}

/// `dendrite` / `axon` (bittensor `TerminalInfo`).
fn terminal_info_ok(v: &Value) -> bool {
    if !matches!(v, Value::Object(_)) {
        return false;
    }
    let ints = ["status_code", "port", "version", "nonce"];
    let strs = ["status_message", "ip", "uuid", "hotkey", "signature"];
    ints.iter().all(|k| optional(v.get(k), py_int_ok))
        && optional(v.get("process_time"), py_float_ok)
        && strs.iter().all(|k| optional(v.get(k), is_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::exact::json;

    fn ok(s: &str) -> bool {
        accepts(&json::parse(s.as_bytes(), 100).expect("test JSON"))
    }

    const SI: &str = r#""simulation_input":{"asset":"BTC","start_time":"x","time_increment":60,"time_length":3600,"num_simulations":1}"#;

    #[test]
    fn members() {
        assert!(ok(&format!("{{{SI}}}")));
        assert!(!ok("{}"));
        assert!(!ok("[]"));
        for good in [
            r#""timeout":"12.5""#,
            r#""timeout":NaN"#,
            r#""timeout":"1_0""#,
            r#""timeout":null"#,
            r#""timeout":true"#,
            r#""timeout":"-inf""#,
            r#""timeout":"٥""#,
            r#""dendrite":{"port":1.9}"#,
            r#""header_size":" 1_000 ""#,
            r#""total_size":1e300"#,
            r#""dendrite":{}"#,
            r#""axon":null"#,
            r#""computed_body_hash":"h""#,
            r#""name":[1]"#,
            r#""simulation_output":{"x":1}"#,
            r#""dendrite":{"process_time":"nan","hotkey":null,"extra":[1]}"#,
        ] {
            assert!(ok(&format!("{{{SI},{good}}}")), "{good}");
        }
        let huge = format!(r#""timeout":{}"#, "9".repeat(400));
        for bad in [
            r#""timeout":"abc""#,
            r#""timeout":"""#,
            r#""timeout":[1]"#,
            r#""timeout":{}"#,
            huge.as_str(),
            r#""total_size":Infinity"#,
            r#""total_size":NaN"#,
            r#""total_size":"1.5""#,
            r#""header_size":"abc""#,
            r#""dendrite":[1,2]"#,
            r#""dendrite":"x""#,
            r#""dendrite":{"port":"x"}"#,
            r#""axon":{"hotkey":5}"#,
            r#""computed_body_hash":5"#,
        ] {
            assert!(!ok(&format!("{{{SI},{bad}}}")), "{bad}");
        }
    }

    #[test]
    fn simulation_input_members() {
        let with = |si: &str| ok(&format!(r#"{{"simulation_input":{si}}}"#));
        assert!(with("{}"));
        assert!(with(r#"{"time_increment":"60","time_length":3600.0,"num_simulations":true,"x":null}"#));
        assert!(with(r#"{"time_increment":99999999999999999999999}"#));
        assert!(with(r#"{"time_increment":" 3.00 "}"#));
        for bad in [
            "null",
            "\"x\"",
            "[]",
            r#"{"asset":1}"#,
            r#"{"asset":null}"#,
            r#"{"time_increment":null}"#,
            r#"{"time_increment":1.5}"#,
            r#"{"time_increment":9.3e18}"#,
            r#"{"time_increment":"1e3"}"#,
            r#"{"time_length":NaN}"#,
            r#"{"num_simulations":[1]}"#,
            r#"{"start_time":123}"#,
        ] {
            assert!(!with(bad), "{bad}");
        }
        assert!(!ok(r#"{"simulation_input":null}"#));
    }
}
