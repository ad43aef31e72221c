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
            Value::Object(members) => members.iter().rev().find(|(k, _)| &k[..] == key.as_bytes()).map(|(_, v)| v),
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

    /// `len(str(x).replace(".", ""))` for a number (the digit rule), without building the text;
    /// `None` for anything that is not an int, bool or float.
    pub fn digit_count(&self) -> Option<usize> {
        match self {
            Value::Int(Int::Small(v)) => {
                let digits = v.unsigned_abs().checked_ilog10().map_or(1, |l| l as usize + 1);
                Some(digits + usize::from(*v < 0))
            }
            Value::Int(Int::Big(s)) => Some(s.len()),
            Value::Bool(b) => Some(if *b { 4 } else { 5 }),
            Value::Float(f) => Some(float_digit_count(*f)),
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

/// [`pyrepr::float_digit_count`], fast for the common price.
///
/// If `m / 10^f` (m < 2^53, f ≤ 8) is exactly the double `|x|`, that decimal round-trips, and
/// since two decimals of at most 15 significant digits never share a double, it *is* Python's
/// shortest repr (with the smallest such `f`, `m` has no trailing zero). In fixed notation
/// (1e-4 ≤ |x| < 1e16) the digit count then follows from `m` and `f` alone. Anything else goes
/// through the formatter.
pub fn float_digit_count(x: f64) -> usize {
    let pow10 = &crate::decode::POW10[..9];
    let a = x.abs();
    if (1e-4..1e8).contains(&a) {
        let mut f = 0;
        while f < pow10.len() {
            let p = pow10[f];
            let m = (a * p).round();
            if m < 9_007_199_254_740_992.0 && m / p == a {
                let int_digits = if a >= 1.0 { decimal_digits(a.trunc()) } else { 1 };
                let frac_digits = f.max(1); // an integral value prints `.0`
                return int_digits + frac_digits + usize::from(x < 0.0);
            }
            f += 1;
        }
    }
    pyrepr::float_digit_count(x)
}

/// Digits of a positive integral double below 1e16.
fn decimal_digits(v: f64) -> usize {
    let mut n = 1;
    let mut bound = 10.0;
    while v >= bound {
        n += 1;
        bound *= 10.0;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_digit_count_agrees_with_repr() {
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15u64);
        let mut values = vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e16,
            1e15,
            0.0001,
            1e-5,
            5e-324,
            f64::MAX,
            12345678.0,
            0.1234567,
            -1234567.8,
        ];
        for _ in 0..20_000 {
            values.push(f64::from_bits(next()));
            let digits = (next() % 100_000_000) as f64;
            values.push(digits / 10f64.powi((next() % 12) as i32));
        }
        for x in values {
            assert_eq!(float_digit_count(x), pyrepr::float_digit_count(x), "{x:e}");
        }
        for (v, n) in [(0i64, 1), (7, 1), (-1, 2), (99999999, 8), (-99999999, 9), (i64::MIN, 20), (i64::MAX, 19)] {
            assert_eq!(Value::Int(Int::Small(v)).digit_count(), Some(n), "{v}");
        }
    }

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
