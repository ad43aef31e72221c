//! Stage F: synth's ordered checks on `V` (README section F, rules 1–16).
//!
//! In: the [`Expected`] values from the request and `V` (`None` for Python's `None`). Out: the
//! verdict; the first failing rule decides it, its message built by [`Verdict`]'s constructors
//! from the values printed as Python prints them.

use std::borrow::Cow;

use super::output::{self, Output};
use super::value::Value;
use crate::decode::rules::{PriceFault, v3_fault};
use crate::decode::{Rules, Verdict};
use crate::request::Expected;

/// The element as `V` holds it: coerced through the slot / price rule, or raw.
fn view(e: &Value, coerced: bool, rule: fn(&Value) -> Option<Cow<'_, Value>>) -> Cow<'_, Value> {
    if coerced { rule(e).unwrap_or(Cow::Borrowed(e)) } else { Cow::Borrowed(e) }
}

/// Runs the checks of a reply that arrived.
pub fn check(exp: &Expected, v: Option<Output<'_>>) -> Verdict {
    // Rule 1: `fromisoformat` of the request's start time raises inside the `try`.
    let Some(start) = exp.start else {
        return Verdict::ErrorDuringValidation;
    };
    let Some(v) = v else {
        return Verdict::ResponseEmpty;
    };
    let (items, coerced) = match v {
        Output::Coerced(items) => (items, true),
        Output::Raw(Value::Array(items)) => (items.as_slice(), false),
        Output::Raw(other) => {
            return Verdict::wrong_output_type(other.type_name());
        }
    };
    let view_slot = |e| view(e, coerced, output::slot);

    let Some(first) = items.first().map(view_slot) else {
        return Verdict::ResponseEmpty;
    };
    if !first.is_py_int() {
        return Verdict::wrong_start_type(first.type_name());
    }
    // `response[1]` raises IndexError.
    let Some(second) = items.get(1).map(view_slot) else {
        return Verdict::ErrorDuringValidation;
    };
    if !second.is_py_int() {
        return Verdict::wrong_increment_type(second.type_name());
    }
    if first.int_ne(start) {
        return Verdict::wrong_start(start, first.number_str().unwrap_or_default());
    }
    if second.int_ne(exp.increment) {
        return Verdict::wrong_increment(exp.increment, second.number_str().unwrap_or_default());
    }
    let paths = &items[2..];
    if i64::try_from(paths.len()).ok() != Some(exp.paths) {
        return Verdict::wrong_path_count(exp.paths, paths.len());
    }
    // `time_length // time_increment` raises ZeroDivisionError.
    if exp.increment == 0 {
        return Verdict::ErrorDuringValidation;
    }
    match exp.rules {
        Rules::V2 => paths_v2(exp, paths, coerced),
        Rules::V3 => paths_v3(exp, paths, coerced),
    }
}

/// Rules 12–13 on one path as `V` holds it: its prices, or the verdict on its type or length.
fn path_prices<'v>(exp: &Expected, path: &'v Value) -> Result<&'v [Value], Verdict> {
    let Value::Array(prices) = path else {
        return Err(Verdict::wrong_path_type(path.type_name()));
    };
    if i64::try_from(prices.len()).ok() != Some(exp.points) {
        return Err(Verdict::wrong_point_count(exp.points, prices.len()));
    }
    Ok(prices)
}

/// v2, rules 12–15: each path's type and length, then its prices, path after path.
fn paths_v2(exp: &Expected, paths: &[Value], coerced: bool) -> Verdict {
    for path in paths.iter().map(|e| view(e, coerced, output::slot)) {
        let prices = match path_prices(exp, &path) {
            Ok(prices) => prices,
            Err(v) => return v,
        };
        for price in prices.iter().map(|p| view(p, coerced, output::price)) {
            let Some(digits) = price.digit_count() else {
                return Verdict::wrong_price_type(price.type_name());
            };
            if digits > 8 {
                return Verdict::too_many_digits(price.number_str().unwrap_or_default());
            }
        }
    }
    Verdict::Correct
}

/// v3, rules 12–14: every path's type and length first (the shape pass), then every price in
/// scan order through the point rule.
fn paths_v3(exp: &Expected, paths: &[Value], coerced: bool) -> Verdict {
    for path in paths.iter().map(|e| view(e, coerced, output::slot)) {
        if let Err(v) = path_prices(exp, &path) {
            return v;
        }
    }
    for path in paths {
        let Value::Array(prices) = path else { continue };
        for price in prices.iter().map(|p| view(p, coerced, output::price)) {
            if let Some(v) = point_rule_v3(&price) {
                return v;
            }
        }
    }
    Verdict::Correct
}

/// The v3 point rule (a–f) on one price as `V` holds it.
fn point_rule_v3(price: &Value) -> Option<Verdict> {
    let fault = match price {
        Value::Int(i) => {
            let v = i.to_f64();
            // b: `float(x)` overflows (an int past a double's range).
            if v.is_infinite() { Some(PriceFault::TooManyDigits) } else { v3_fault(v) }
        }
        Value::Float(f) => v3_fault(*f),
        // a: a bool (only after the raw fallback: coerced, it is the int 0 or 1) or not a number.
        other => return Some(Verdict::wrong_price_type(other.type_name())),
    };
    fault.map(|f| f.verdict(price.number_str().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::exact::json;

    fn exp(paths: i64, points: i64, increment: i64) -> Expected {
        Expected { start: Some(1741091640), increment, paths, points, rules: Rules::V2 }
    }

    fn run(e: &Expected, s: &str) -> String {
        let v = json::parse(s.as_bytes(), 100).expect("test JSON");
        check(e, output::coerce(Some(&v))).as_str().to_owned()
    }

    #[test]
    fn rules_in_order() {
        let e = exp(1, 2, 60);
        assert_eq!(run(&e, "[1741091640,60,[1.5,2]]"), "CORRECT");
        assert_eq!(run(&e, "{}"), "Response format is incorrect: expected tuple or list, got <class 'dict'>");
        assert_eq!(run(&e, "true"), "Response format is incorrect: expected tuple or list, got <class 'bool'>");
        assert_eq!(run(&e, "[]"), "Response is empty");
        assert_eq!(run(&e, "[null]"), "Start time format is incorrect: expected int, got <class 'NoneType'>");
        assert_eq!(run(&e, "[1]"), "error during validation");
        assert_eq!(run(&e, "[1,1.5]"), "Time increment format is incorrect: expected int, got <class 'float'>");
        assert_eq!(run(&e, "[true,60]"), "Start time timestamp is incorrect: expected 1741091640, got 1");
        assert_eq!(run(&e, "[true,60,null]"), "Start time timestamp is incorrect: expected 1741091640, got True");
        assert_eq!(run(&e, "[1741091640,60]"), "Number of paths is incorrect: expected 1, got 0");
        assert_eq!(run(&e, "[1741091640,false,null]"), "Time increment is incorrect: expected 60, got False");
        assert_eq!(run(&e, "[1741091640,60,\"x\"]"), "Path format is incorrect: expected list, got <class 'str'>");
        assert_eq!(run(&e, "[1741091640,60,5.0]"), "Path format is incorrect: expected list, got <class 'int'>");
        assert_eq!(run(&e, "[1741091640,60,[1]]"), "Number of time points is incorrect: expected 2, got 1");
        assert_eq!(
            run(&e, "[1741091640,60,[1,\"x\"]]"),
            "Price format is incorrect: expected int or float, got <class 'str'>"
        );
        assert_eq!(run(&e, "[1741091640,60,[1,12345678.0]]"), "Price format is incorrect: too many digits 12345678.0");
        assert_eq!(run(&e, "[1741091640,60,[1,\"12345678.0\"]]"), "CORRECT");
        assert_eq!(run(&e, "[1741091640,60,[true,NaN]]"), "CORRECT");
        assert_eq!(run(&e, "[1741091640,60,[-99999999,1]]"), "Price format is incorrect: too many digits -99999999");
        let zero = exp(0, 0, 0);
        assert_eq!(run(&zero, "[1741091640,0]"), "error during validation");
        let none = Expected { start: None, ..e };
        assert_eq!(run(&none, "[]"), "error during validation");
        assert_eq!(check(&e, None).as_str(), "Response is empty");
    }
}
