//! The Python objects a reply becomes: what `json.loads` returns, and what the checks look at.
//!
//! In: built by the JSON parser ([`super::json`]) and by the coercions ([`super::output`]).
//! Out: read by the synapse model, the coercions and the checks, which need Python's view of
//! each value: its class name, `str()`, and equality with an int.

use crate::decode::pyrepr;

/// A Python `int` of any size (JSON allows up to 4300 digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Int {
    Small(i64),
    /// Canonical decimal text (`-` for negatives, no leading zeros), always outside `i64`.
    Big(Box<str>),
}

impl Int {
    /// From an optional `-` and ASCII digits (leading zeros allowed, `-0` is 0).
    pub fn from_digits(negative: bool, digits: &str) -> Int {
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Int::Small(0);
        }
        let text = if negative { format!("-{digits}") } else { digits.to_owned() };
        match text.parse::<i64>() {
            Ok(v) => Int::Small(v),
            Err(_) => Int::Big(text.into_boxed_str()),
        }
    }

    /// Python's `str(int)`.
    pub fn to_py_str(&self) -> String {
        match self {
            Int::Small(v) => v.to_string(),
            Int::Big(s) => s.to_string(),
        }
    }

    pub fn eq_i64(&self, other: i64) -> bool {
        matches!(self, Int::Small(v) if *v == other)
    }

    /// The nearest double (Python's `float(int)`, round half to even; huge values give ±inf).
    pub fn to_f64(&self) -> f64 {
        match self {
            Int::Small(v) => *v as f64,
            Int::Big(s) => s.parse().unwrap_or(f64::NAN),
        }
    }
}

/// A JSON value as Python's `json` module builds it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(Int),
    Float(f64),
    /// Generalized UTF-8 (lone surrogates allowed), see [`super::text`].
    Str(Box<[u8]>),
    Array(Vec<Value>),
    /// Every member in document order, duplicates included; [`Value::get`] picks the last, as a
    /// Python dict built from the pairs would.
    Object(Vec<(Box<[u8]>, Value)>),
}

impl Value {
    /// Python's class name (`type(x).__name__`) of the object this value is.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Array(_) => "list",
            Value::Object(_) => "dict",
        }
    }

    /// The member `key` of an object (last occurrence wins); `None` when absent or not an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => {
                members.iter().rev().find(|(k, _)| &k[..] == key.as_bytes()).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The string's text when it is valid UTF-8 (a string holding a lone surrogate is not; no
    /// numeric rule ever accepts one).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(s) => std::str::from_utf8(s).ok(),
            _ => None,
        }
    }

    /// `isinstance(x, int)`: booleans count.
    pub fn is_py_int(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Bool(_))
    }

    /// `str(x)` for the numbers the checks print (ints, bools, floats).
    pub fn number_str(&self) -> Option<String> {
        match self {
            Value::Int(i) => Some(i.to_py_str()),
            Value::Bool(true) => Some("True".to_owned()),
            Value::Bool(false) => Some("False".to_owned()),
            Value::Float(f) => Some(pyrepr::float_repr(*f)),
            _ => None,
        }
    }

    /// `x != n` for an int or bool `x` (`True == 1`).
    pub fn int_ne(&self, n: i64) -> bool {
        match self {
            Value::Int(i) => !i.eq_i64(n),
            Value::Bool(b) => i64::from(*b) != n,
            _ => true,
        }
    }

    /// The deepest nesting of arrays/objects within this value (a scalar is 0, `[]` is 1),
    /// computed without recursion.
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack: Vec<(&Value, usize)> = vec![(self, 0)];
        while let Some((v, d)) = stack.pop() {
            match v {
                Value::Array(items) => {
                    max = max.max(d + 1);
                    stack.extend(items.iter().map(|x| (x, d + 1)));
                }
                Value::Object(members) => {
                    max = max.max(d + 1);
                    stack.extend(members.iter().map(|(_, x)| (x, d + 1)));
                }
                _ => {}
            }
        }
        max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_normalise() {
        assert_eq!(Int::from_digits(true, "0"), Int::Small(0));
        assert_eq!(Int::from_digits(false, "007"), Int::Small(7));
        assert_eq!(Int::from_digits(false, "9223372036854775807"), Int::Small(i64::MAX));
        assert_eq!(Int::from_digits(true, "9223372036854775808"), Int::Small(i64::MIN));
        assert_eq!(Int::from_digits(false, "9223372036854775808").to_py_str(), "9223372036854775808");
        assert_eq!(Int::from_digits(true, "00018446744073709551616").to_py_str(), "-18446744073709551616");
        assert!(!Int::from_digits(false, "18446744073709551616").eq_i64(0));
    }

    #[test]
    fn depth_is_iterative() {
        let mut v = Value::Int(Int::Small(1));
        for _ in 0..50_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(v.depth(), 50_000);
        // Dropping a deep tree recursively would overflow the stack; unwrap it by hand.
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }
}
