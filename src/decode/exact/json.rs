//! Stage C: text → value tree, exactly as Python's `json.loads` (C scanner, default settings).
//!
//! In: generalized UTF-8 text from [`super::text`] and a nesting limit. Out: a [`Value`], or an
//! error wherever Python raises (`JSONDecodeError`, the 4300-digit `ValueError`, or the
//! `RecursionError` the limit stands for).
//!
//! The parser is iterative (an explicit stack of open containers), so hostile nesting cannot
//! overflow the native stack; the limit only models Python's recursion limit.

use super::text::push_code_point;
use super::value::{Int, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON as Python's `json` reads it.
    Syntax,
    /// An integer literal of more than 4300 digits (`int()`'s limit).
    IntTooLong,
    /// Deeper than the nesting limit (Python's `RecursionError`).
    TooDeep,
}

/// Python's `sys.get_int_max_str_digits()` default.
pub const MAX_INT_DIGITS: usize = 4300;

/// Parses one JSON document; containers (empty ones too) nested deeper than `max_depth` fail.
pub fn parse(text: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    Parser { b: text, pos: 0 }.document(max_depth)
}

/// An open container: its members so far (and, for an object, the key awaiting its value).
enum Open {
    Array(Vec<Value>),
    Object(Vec<(Box<[u8]>, Value)>, Box<[u8]>),
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        let b = self.b;
        let mut p = self.pos;
        while p < b.len() && matches!(b[p], b' ' | b'\t' | b'\n' | b'\r') {
            p += 1;
        }
        self.pos = p;
    }

    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// `"key"` then `:`, leaving the position at the value.
    fn key(&mut self) -> Result<Box<[u8]>, JsonError> {
        self.expect(b'"')?;
        let k = self.string()?;
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        Ok(k)
    }

    fn document(mut self, max_depth: usize) -> Result<Value, JsonError> {
        let mut stack: Vec<Open> = Vec::new();
        self.skip_ws();
        loop {
            // Parse one value start; containers with members are opened and we loop back.
            let mut done = match self.peek().ok_or(JsonError::Syntax)? {
                c @ (b'[' | b'{') => {
                    if stack.len() + 1 > max_depth {
                        return Err(JsonError::TooDeep);
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if c == b'[' {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            Value::Array(Vec::new())
                        } else {
                            stack.push(Open::Array(Vec::new()));
                            continue;
                        }
                    } else if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Vec::new())
                    } else {
                        let k = self.key()?;
                        stack.push(Open::Object(Vec::new(), k));
                        continue;
                    }
                }
                b'"' => {
                    self.pos += 1;
                    Value::Str(self.string()?)
                }
                b'n' if self.literal(b"null") => Value::Null,
                b't' if self.literal(b"true") => Value::Bool(true),
                b'f' if self.literal(b"false") => Value::Bool(false),
                b'N' if self.literal(b"NaN") => Value::Float(f64::NAN),
                b'I' if self.literal(b"Infinity") => Value::Float(f64::INFINITY),
                b'-' if self.literal(b"-Infinity") => Value::Float(f64::NEG_INFINITY),
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(JsonError::Syntax),
            };
            // Attach the finished value to its container; close containers as they end.
            loop {
                let Some(top) = stack.last_mut() else {
                    self.skip_ws();
                    return if self.pos == self.b.len() { Ok(done) } else { Err(JsonError::Syntax) };
                };
                self.skip_ws();
                let sep = self.peek().ok_or(JsonError::Syntax)?;
                self.pos += 1;
                match top {
                    Open::Array(items) => {
                        items.push(done);
                        match sep {
                            b',' => {
                                self.skip_ws();
                                break;
                            }
                            b']' => {
                                let Some(Open::Array(items)) = stack.pop() else {
                                    // The top of the stack was just matched; never taken.
                                    return Err(JsonError::Syntax);
                                };
                                done = Value::Array(items);
                            }
                            _ => return Err(JsonError::Syntax),
                        }
                    }
                    Open::Object(members, key) => {
                        members.push((std::mem::take(key), done));
                        match sep {
                            b',' => {
                                self.skip_ws();
                                *key = self.key()?;
                                break;
                            }
                            b'}' => {
                                let Some(Open::Object(members, _)) = stack.pop() else {
                                    // The top of the stack was just matched; never taken.
                                    return Err(JsonError::Syntax);
                                };
                                done = Value::Object(members);
                            }
                            _ => return Err(JsonError::Syntax),
                        }
                    }
                }
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`; a fraction or exponent that is not
    /// followed by digits is not part of the number (and then fails as trailing text).
    fn number(&mut self) -> Result<Value, JsonError> {
        // Hot on large replies: plain index loops (this runs unoptimised in debug builds).
        let b = self.b;
        let len = b.len();
        let digit = |p: usize| p < len && b[p].wrapping_sub(b'0') < 10;
        let start = self.pos;
        let mut p = start;
        let negative = b[p] == b'-';
        if negative {
            p += 1;
        }
        let int_start = p;
        if p < len && b[p] == b'0' {
            p += 1;
        } else if digit(p) {
            while digit(p) {
                p += 1;
            }
        } else {
            return Err(JsonError::Syntax);
        }
        let int_end = p;
        let mut is_float = false;
        if p < len && b[p] == b'.' && digit(p + 1) {
            p += 2;
            while digit(p) {
                p += 1;
            }
            is_float = true;
        }
        if p < len && (b[p] == b'e' || b[p] == b'E') {
            let mut q = p + 1;
            if q < len && (b[q] == b'+' || b[q] == b'-') {
                q += 1;
            }
            if digit(q) {
                while digit(q) {
                    q += 1;
                }
                p = q;
                is_float = true;
            }
        }
        self.pos = p;
        if is_float {
            // The token is ASCII by construction. Rust's parser is correctly rounded like
            // Python's `float()`: overflow gives ±inf, underflow ±0.0.
            let token = std::str::from_utf8(&b[start..p]).map_err(|_| JsonError::Syntax)?;
            return token.parse::<f64>().map(Value::Float).map_err(|_| JsonError::Syntax);
        }
        let digits = &b[int_start..int_end];
        if digits.len() > MAX_INT_DIGITS {
            return Err(JsonError::IntTooLong);
        }
        if digits.len() <= 18 {
            let mut v: i64 = 0;
            for &d in digits {
                v = v * 10 + i64::from(d - b'0');
            }
            return Ok(Value::Int(Int::Small(if negative { -v } else { v })));
        }
        let digits = std::str::from_utf8(digits).map_err(|_| JsonError::Syntax)?;
        Ok(Value::Int(Int::from_digits(negative, digits)))
    }

    /// The rest of a string after its opening quote, unescaped, in generalized UTF-8.
    fn string(&mut self) -> Result<Box<[u8]>, JsonError> {
        let b = self.b;
        let mut out = Vec::new();
        loop {
            // Copy the run up to the next quote, backslash or control character in one go.
            let run_end = b[self.pos..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .map(|i| self.pos + i)
                .ok_or(JsonError::Syntax)?;
            out.extend_from_slice(&b[self.pos..run_end]);
            self.pos = run_end;
            match b[run_end] {
                b'"' => {
                    self.pos += 1;
                    return Ok(out.into_boxed_slice());
                }
                b'\\' => {
                    let esc = b.get(run_end + 1).copied().ok_or(JsonError::Syntax)?;
                    self.pos = run_end + 2;
                    let simple = match esc {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0C),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(JsonError::Syntax),
                    };
                    match simple {
                        Some(c) => out.push(c),
                        None => {
                            let mut cp = self.hex4(self.pos)?;
                            self.pos += 4;
                            // A high surrogate escape directly followed by a low one joins it;
                            // anything else leaves the surrogate alone (kept, not an error).
                            if (0xD800..=0xDBFF).contains(&cp)
                                && b.get(self.pos) == Some(&b'\\')
                                && b.get(self.pos + 1) == Some(&b'u')
                            {
                                let lo = self.hex4(self.pos + 2)?;
                                if (0xDC00..=0xDFFF).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                    self.pos += 6;
                                }
                            }
                            push_code_point(&mut out, cp);
                        }
                    }
                }
                // A raw control character (strict mode).
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    fn hex4(&self, at: usize) -> Result<u32, JsonError> {
        let digits = self.b.get(at..at + 4).ok_or(JsonError::Syntax)?;
        let mut v = 0u32;
        for &d in digits {
            let x = (d as char).to_digit(16).ok_or(JsonError::Syntax)?;
            v = v * 16 + x;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Value, JsonError> {
        parse(s.as_bytes(), 100)
    }

    fn int(v: i64) -> Value {
        Value::Int(Int::Small(v))
    }

    #[test]
    fn number_grammar() {
        assert_eq!(p("-0"), Ok(int(0)));
        assert!(matches!(p("-0.0"), Ok(Value::Float(f)) if f == 0.0 && f.is_sign_negative()));
        assert_eq!(p("12345678E0"), Ok(Value::Float(12345678.0)));
        assert_eq!(p("1e400"), Ok(Value::Float(f64::INFINITY)));
        assert_eq!(p("-1e-400").map(|v| matches!(v, Value::Float(f) if f == 0.0 && f.is_sign_negative())), Ok(true));
        assert_eq!(p("0.1"), Ok(Value::Float(0.1)));
        for bad in [
            "01",
            ".5",
            "1.",
            "+1",
            "0x10",
            "1e",
            "1e+",
            "-",
            "--1",
            "1.e5",
            "nan",
            "infinity",
            "+Infinity",
            "-NaN",
            "Inf",
            "1 2",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert!(matches!(p("NaN"), Ok(Value::Float(f)) if f.is_nan()));
        assert_eq!(p("-Infinity"), Ok(Value::Float(f64::NEG_INFINITY)));
        let big = "7".repeat(4300);
        assert_eq!(p(&big), Ok(Value::Int(Int::Big(big.clone().into_boxed_str()))));
        assert_eq!(p(&format!("-{big}")).map(|v| matches!(v, Value::Int(Int::Big(_)))), Ok(true));
        assert_eq!(p(&"7".repeat(4301)), Err(JsonError::IntTooLong));
        // A long *float* literal is fine.
        assert!(matches!(p(&format!("{}.5", "7".repeat(5000))), Ok(Value::Float(f)) if f.is_infinite()));
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(p(r#""a\u005fb""#), Ok(Value::Str(b"a_b".to_vec().into())));
        assert_eq!(p(r#""\ud83d\ude00""#), Ok(Value::Str("😀".as_bytes().into())));
        assert_eq!(p(r#""\ud800""#), Ok(Value::Str(b"\xED\xA0\x80".to_vec().into())));
        assert_eq!(p(r#""\ud800\u0041""#), Ok(Value::Str(b"\xED\xA0\x80A".to_vec().into())));
        assert_eq!(p(r#""\udc00\ud800""#), Ok(Value::Str(b"\xED\xB0\x80\xED\xA0\x80".to_vec().into())));
        assert_eq!(p("\"\x7f\u{2028}\""), Ok(Value::Str("\x7f\u{2028}".as_bytes().into())));
        assert_eq!(p(r#""\/\b\f\n\r\t\"\\""#), Ok(Value::Str(b"/\x08\x0c\n\r\t\"\\".to_vec().into())));
        for bad in ["\"a\nb\"", "\"\x00\"", r#""\x41""#, r#""\u12""#, r#""\uZZZZ""#, r#""\'""#, "\"abc", "'a'"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn structure() {
        assert_eq!(p(" \t\r\n[1 , 2]\n"), Ok(Value::Array(vec![int(1), int(2)])));
        let v = p(r#"{"a":1,"a":2,"b":{}}"#).expect("valid");
        assert_eq!(v.get("a"), Some(&int(2)));
        for bad in [
            "",
            " ",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1]]",
            "[1] [2]",
            "[1]\x00",
            "\x0c[1]",
            "\u{a0}1",
            "\u{feff}1",
            "/*c*/1",
            "{\"a\" 1}",
            "[",
            "{",
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn depth_limit() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(nested(100).as_bytes(), 100).is_ok());
        assert_eq!(parse(nested(101).as_bytes(), 100), Err(JsonError::TooDeep));
        assert_eq!(parse(nested(200_000).as_bytes(), 100), Err(JsonError::TooDeep));
        let objs = format!("{}1{}", "{\"a\":".repeat(101), "}".repeat(101));
        assert_eq!(parse(objs.as_bytes(), 100), Err(JsonError::TooDeep));
    }
}
