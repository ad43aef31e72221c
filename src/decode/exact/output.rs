//! Stage E: the reply's `simulation_output` → `V`, the value synth's checks see.
//!
//! In: the JSON value of `simulation_output` (absent counts as `null`). Out: `None` for
//! Python's `None`, else `V`: the coerced sequence when every element coerces, otherwise the
//! value exactly as JSON decoded it (pydantic's `tuple[int | list[int | float], ...] | None`
//! behind a wrapper that hands back the input unchanged when validation fails).

use std::borrow::Cow;

use super::lax;
use super::synapse::float_is_i64_integral;
use super::value::{Int, Value};

/// Applies the all-or-nothing coercion.
pub fn coerce(output: Option<&Value>) -> Option<Cow<'_, Value>> {
    match output {
        None | Some(Value::Null) => None,
        Some(raw @ Value::Array(items)) => {
            let coerced: Option<Vec<Value>> = items.iter().map(slot).collect();
            Some(match coerced {
                Some(items) => Cow::Owned(Value::Array(items)),
                None => Cow::Borrowed(raw),
            })
        }
        Some(other) => Some(Cow::Borrowed(other)),
    }
}

/// A top-level element: `int | list[int | float]`.
fn slot(v: &Value) -> Option<Value> {
    match v {
        Value::Int(i) => Some(Value::Int(i.clone())),
        Value::Bool(b) => Some(Value::Int(Int::Small(i64::from(*b)))),
        Value::Float(f) if float_is_i64_integral(*f) => Some(Value::Int(Int::Small(*f as i64))),
        Value::Str(_) => v.as_text().and_then(lax::str_to_int).map(Value::Int),
        Value::Array(prices) => prices.iter().map(price).collect::<Option<Vec<_>>>().map(Value::Array),
        _ => None,
    }
}

/// An element of a path: `int | float`.
fn price(v: &Value) -> Option<Value> {
    match v {
        Value::Int(i) => Some(Value::Int(i.clone())),
        Value::Float(f) => Some(Value::Float(*f)),
        Value::Bool(b) => Some(Value::Int(Int::Small(i64::from(*b)))),
        Value::Str(_) => {
            let s = v.as_text()?;
            match lax::str_to_int(s) {
                Some(i) => Some(Value::Int(i)),
                None => lax::str_to_float(s).map(Value::Float),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::exact::json;

    fn v(s: &str) -> Value {
        json::parse(s.as_bytes(), 100).expect("test JSON")
    }

    #[test]
    fn all_or_nothing() {
        let ok = v(r#"[1732000000.0, "300", [1, 2.0, "3.00", "1e3", true, " 7 "]]"#);
        let got = coerce(Some(&ok)).expect("some");
        assert_eq!(
            *got,
            v(r#"[1732000000, 300, [1, 2.0, 3, 1000.0, 1, 7]]"#)
        );
        // One bad price undoes every coercion.
        let bad = v(r#"[1732000000.0, "300", [1, null]]"#);
        assert!(matches!(coerce(Some(&bad)), Some(Cow::Borrowed(b)) if *b == bad));
        let bad = v(r#"[1.5, 300]"#);
        assert!(matches!(coerce(Some(&bad)), Some(Cow::Borrowed(_))));
        assert!(coerce(Some(&v("null"))).is_none());
        assert!(coerce(None).is_none());
        assert_eq!(*coerce(Some(&v("{}"))).expect("some"), v("{}"));
    }

    #[test]
    fn slot_rule() {
        let one = |s: &str| slot(&v(s));
        assert_eq!(one("-0.0"), Some(v("0")));
        assert_eq!(one("9.223372036854775e18"), Some(v("9223372036854774784")));
        assert_eq!(one("9223372036854775808.0"), None);
        assert_eq!(one("NaN"), None);
        assert_eq!(one("\"1.7e9\""), None);
        assert_eq!(one("\"1741091640\""), Some(v("1741091640")));
        assert_eq!(one("{}"), None);
        assert_eq!(one("null"), None);
        assert_eq!(one("[[1]]"), None);
        assert_eq!(one("[]"), Some(v("[]")));
    }
}
