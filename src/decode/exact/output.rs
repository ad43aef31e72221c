//! Stage E: the reply's `simulation_output` → `V`, the value synth's checks see.
//!
//! In: the JSON value of `simulation_output` (absent counts as `null`). Out: `None` for
//! Python's `None`, else `V` (pydantic's `tuple[int | list[int | float], ...] | None` behind a
//! wrapper that hands back the input unchanged when validation fails): the coerced sequence
//! when every element coerces, otherwise the value exactly as JSON decoded it.
//!
//! The coerced sequence is a *view*: the elements stay in the decoded tree and [`slot`] /
//! [`price`] give each one's coerced value on demand, so a large reply is never copied (only a
//! string or a boolean ever needs a new value).

use std::borrow::Cow;

use super::lax;
use super::synapse::float_is_i64_integral;
use super::value::{Int, Value};

/// `V` for a reply whose `simulation_output` is not `None`.
#[derive(Clone, Copy, Debug)]
pub enum Output<'a> {
    /// Validation failed (or the value is not an array): `V` is this value unchanged.
    Raw(&'a Value),
    /// Every element coerced: `V` is the tuple of `slot(e)` for these elements.
    Coerced(&'a [Value]),
}

/// Applies the all-or-nothing coercion.
pub fn coerce(output: Option<&Value>) -> Option<Output<'_>> {
    match output {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.iter().all(|e| slot(e).is_some()) => Some(Output::Coerced(items)),
        Some(other) => Some(Output::Raw(other)),
    }
}

/// A top-level element as `int | list[int | float]`, `None` where validation fails. A path is
/// returned as is: its prices are viewed one by one through [`price`].
pub fn slot(v: &Value) -> Option<Cow<'_, Value>> {
    match v {
        Value::Int(_) => Some(Cow::Borrowed(v)),
        Value::Bool(b) => Some(Cow::Owned(Value::Int(Int::Small(i64::from(*b))))),
        Value::Float(f) if float_is_i64_integral(*f) => Some(Cow::Owned(Value::Int(Int::Small(*f as i64)))),
        Value::Str(_) => v.as_text().and_then(lax::str_to_int).map(|i| Cow::Owned(Value::Int(i))),
        Value::Array(prices) if prices.iter().all(|p| price(p).is_some()) => Some(Cow::Borrowed(v)),
        _ => None,
    }
}

/// An element of a path as `int | float`, `None` where validation fails.
pub fn price(v: &Value) -> Option<Cow<'_, Value>> {
    match v {
        Value::Int(_) | Value::Float(_) => Some(Cow::Borrowed(v)),
        Value::Bool(b) => Some(Cow::Owned(Value::Int(Int::Small(i64::from(*b))))),
        Value::Str(_) => {
            let s = v.as_text()?;
            match lax::str_to_int(s) {
                Some(i) => Some(Cow::Owned(Value::Int(i))),
                None => lax::str_to_float(s).map(|f| Cow::Owned(Value::Float(f))),
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

    /// The coerced `V` materialised, for comparisons.
    fn materialise(items: &[Value]) -> Value {
        Value::Array(
            items
                .iter()
                .map(|e| match slot(e).expect("coerces").into_owned() {
                    Value::Array(ps) => {
                        Value::Array(ps.iter().map(|p| price(p).expect("coerces").into_owned()).collect())
                    }
                    other => other,
                })
                .collect(),
        )
    }

    #[test]
    fn all_or_nothing() {
        let ok = v(r#"[1732000000.0, "300", [1, 2.0, "3.00", "1e3", true, " 7 "]]"#);
        let Some(Output::Coerced(items)) = coerce(Some(&ok)) else { panic!("coerces") };
        assert_eq!(materialise(items), v(r#"[1732000000, 300, [1, 2.0, 3, 1000.0, 1, 7]]"#));
        // One bad price undoes every coercion.
        let bad = v(r#"[1732000000.0, "300", [1, null]]"#);
        assert!(matches!(coerce(Some(&bad)), Some(Output::Raw(b)) if *b == bad));
        assert!(matches!(coerce(Some(&v("[1.5, 300]"))), Some(Output::Raw(_))));
        assert!(coerce(Some(&v("null"))).is_none());
        assert!(coerce(None).is_none());
        assert!(matches!(coerce(Some(&v("{}"))), Some(Output::Raw(Value::Object(_)))));
    }

    #[test]
    fn slot_rule() {
        let one = |s: &str| slot(&v(s)).map(Cow::into_owned);
        assert_eq!(one("-0.0"), Some(v("0")));
        assert_eq!(one("true"), Some(v("1")));
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
