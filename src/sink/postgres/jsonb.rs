//! A prediction as the validator's database holds it: PostgreSQL's jsonb rendering of Python's
//! `json.dumps`.
//!
//! In: prices (doubles), the request's start time and increment. Out: the exact text of
//! `prediction::text` (`../shared/upstream-db/README.md`). The validator sends
//! `json.dumps(response)` cast with `::jsonb`, so each float is first printed as Python's `repr`
//! and then re-read by PostgreSQL's `numeric` input and printed back in plain notation:
//!
//! - a repr without an exponent keeps its digits and scale (`100000.0`, `0.0001`, `91234.56`);
//! - one with an exponent is written out in full, with `max(0, fraction digits − exponent)` digits
//!   after the point (`1e-05` → `0.00001`, `1.5e-07` → `0.00000015`, `1e+16` →
//!   `10000000000000000`);
//! - `numeric` has no negative zero: `-0.0` is stored as `0.0`;
//! - arrays print with `", "` between elements.
//!
//! NaN and infinities have no JSON form (the cast fails); callers must not pass them.
//!
//! Three writers of a whole prediction, by what the decoder kept of the reply ([`RowText`]):
//! from the reply's own tokens ([`write_prediction_tokens`]: a price's text is mostly its token,
//! and an int token stays an int, as it does in the validator's `V`), from the doubles with the
//! exact path's list of ints ([`write_prediction_ints`]), or from the doubles alone
//! ([`write_prediction`]: every price a float, what a Parquet file or a batch holds).

use crate::columns::RowText;

use crate::decode::pyrepr;

/// Appends the jsonb text of the float `v` (finite) to `out`.
///
/// Most prices are short decimals: [`short_decimal`] finds their digits with a few multiplies and
/// one exact check, ≈ 15× faster than formatting; every other value takes [`write_float_general`].
#[inline]
pub fn push_float(out: &mut Vec<u8>, v: f64) {
    match short_decimal(v.abs()) {
        Some((m, f)) => write_short(out, v < 0.0, m, f),
        None => {
            let mut s = String::with_capacity(32);
            write_float_general(&mut s, v);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// [`push_float`] onto a `String`.
pub fn write_float(out: &mut String, v: f64) {
    let mut b = Vec::with_capacity(32);
    push_float(&mut b, v);
    out.push_str(std::str::from_utf8(&b).expect("ASCII digits"));
}

/// Largest mantissa the short form takes: below it, a decimal has at most 15 significant digits.
const SHORT_MAX: f64 = 1e15;

/// `v` (> 0) as `m / 10^f` with the fewest fraction digits `f`, when that decimal has at most 15
/// significant digits. Such a decimal is the only one of ≤ 15 digits whose nearest double is `v`
/// (doubles are closer than 10^-15 relative nowhere), so its digits are the shortest round-trip
/// digits Python's repr prints. The test `m / 10^f == v` is exact: `m < 2^53` and `10^f ≤ 10^22`
/// are doubles exactly, so the division rounds correctly, as parsing the decimal would.
/// (`round(v · 10^f)` finds `m`: the product's error is far below ½ for `m < 10^15`.)
#[inline]
fn short_decimal(v: f64) -> Option<(u64, usize)> {
    if !(1e-22..SHORT_MAX).contains(&v) {
        return None;
    }
    for (f, &p) in crate::decode::POW10.iter().enumerate() {
        let scaled = v * p;
        if scaled >= SHORT_MAX {
            return None;
        }
        let m = scaled.round();
        if m / p == v {
            return Some((m as u64, f));
        }
    }
    None
}

/// The jsonb text of `±m / 10^f` (`m > 0`, no trailing zero in its `f` fraction digits): the
/// digits with the point `f` from the right, `0.` and zeros in front below 1, `.0` after an
/// integer (Python's repr of an integral float below 1e16 ends in `.0`, and jsonb keeps that scale).
fn write_short(out: &mut Vec<u8>, negative: bool, m: u64, f: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut x = m;
    while x > 0 {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    let digits = &buf[i..];
    if negative {
        out.push(b'-');
    }
    let n = digits.len();
    if f == 0 {
        out.extend_from_slice(digits);
        out.extend_from_slice(b".0");
    } else if n > f {
        out.extend_from_slice(&digits[..n - f]);
        out.push(b'.');
        out.extend_from_slice(&digits[n - f..]);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', f - n));
        out.extend_from_slice(digits);
    }
}

/// [`write_float`] for any finite double: Python's repr, re-read as PostgreSQL's `numeric` does.
pub fn write_float_general(out: &mut String, v: f64) {
    debug_assert!(v.is_finite(), "no jsonb text for {v}");
    if v == 0.0 {
        out.push_str("0.0");
        return;
    }
    let start = out.len();
    pyrepr::write_float_repr(out, v);
    let Some(e_at) = out[start..].find('e').map(|i| start + i) else {
        return;
    };
    // `[-]d[.ddd]e±XX` → digits, fraction length, exponent.
    let exp: i64 = out[e_at + 1..].parse().expect("repr's exponent is an integer");
    let mantissa = &out[start..e_at];
    let negative = mantissa.starts_with('-');
    let mantissa = mantissa.trim_start_matches('-');
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int_part}{frac_part}");
    let scale = (frac_part.len() as i64 - exp).max(0) as usize;
    // value = digits × 10^(exp − frac_len); the point sits `scale` digits from the right once
    // the digits are padded with zeros to the left (small values) or the right (large ones).
    let shift = exp - frac_part.len() as i64;
    let mut text = String::with_capacity(digits.len() + scale + 2);
    if negative {
        text.push('-');
    }
    if shift >= 0 {
        text.push_str(&digits);
        text.extend(std::iter::repeat_n('0', shift as usize));
    } else {
        let point = digits.len() as i64 + shift; // digits before the point
        if point > 0 {
            text.push_str(&digits[..point as usize]);
            text.push('.');
            text.push_str(&digits[point as usize..]);
        } else {
            text.push_str("0.");
            text.extend(std::iter::repeat_n('0', (-point) as usize));
            text.push_str(&digits);
        }
        debug_assert_eq!(text.len() - text.find('.').map_or(text.len(), |p| p + 1), scale);
    }
    out.truncate(start);
    out.push_str(&text);
}

/// Appends a CORRECT miner's prediction, `[start, increment, [p, …], …]`, as jsonb text, every
/// price a float.
pub fn write_prediction(out: &mut Vec<u8>, start: i64, increment: i64, points: usize, prices: &[f64]) {
    crate::upstream::write_prediction(out, start, increment, points, prices, |out, _, v| push_float(out, v));
}

/// [`write_prediction`] as the decoder kept the reply: from its tokens when it has them (falling
/// back to the doubles should they not be the compact array the fast path read), with its ints
/// as ints.
pub fn write_prediction_as(
    out: &mut Vec<u8>,
    start: i64,
    increment: i64,
    points: usize,
    prices: &[f64],
    text: RowText<'_>,
) {
    match text {
        RowText::Tokens(raw) if write_prediction_tokens(out, start, increment, raw) => {}
        RowText::Ints(ints) => write_prediction_ints(out, start, increment, points, prices, ints),
        _ => write_prediction(out, start, increment, points, prices),
    }
}

/// [`write_prediction`] with the prices at `ints` (ascending indexes) printed as Python ints.
pub fn write_prediction_ints(
    out: &mut Vec<u8>,
    start: i64,
    increment: i64,
    points: usize,
    prices: &[f64],
    ints: &[u32],
) {
    let mut ints = ints.iter().copied().peekable();
    crate::upstream::write_prediction(out, start, increment, points, prices, |out, k, v| {
        if ints.peek() == Some(&(k as u32)) {
            ints.next();
            write_int(out, v);
        } else {
            push_float(out, v);
        }
    });
}

/// An integral double as Python prints the int it came from (its exact digits; no `-0`).
fn write_int(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    let _ = match crate::upstream::python_int(v) {
        crate::upstream::PythonInt::Small(i) => write!(out, "{i}"),
        crate::upstream::PythonInt::Digits(d) => write!(out, "{d}"),
    };
}

/// A CORRECT reply's `simulation_output` as compact JSON (`raw`: `[start,increment,[t,…],…]`, the
/// fast path's subset) → its jsonb text, the start and increment printed from the request (a
/// CORRECT reply's are those). `false`, with nothing appended, if `raw` is not of that shape.
///
/// Each token is what `V` holds: an int token is a Python int (`-0` is 0), printed as is; a float
/// token with at most 15 significant digits, no exponent and no trailing zero after its first
/// fraction digit is already Python's repr and jsonb's text (the repr of such a decimal has its
/// digits, see [`push_float`]), so it is copied; any other is parsed and printed. One pass over
/// the bytes, copying as it goes: the common token costs a few flag updates per byte.
pub fn write_prediction_tokens(out: &mut Vec<u8>, start: i64, increment: i64, raw: &[u8]) -> bool {
    let mark = out.len();
    let ok = tokens(out, start, increment, raw);
    if !ok {
        out.truncate(mark);
    }
    ok
}

fn tokens(out: &mut Vec<u8>, start: i64, increment: i64, raw: &[u8]) -> bool {
    use std::io::Write;
    let Some(inner) = raw.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) else {
        return false;
    };
    // The start and the increment are ints: the paths begin at the first `[`.
    let head = inner.iter().position(|&c| c == b'[').unwrap_or(inner.len());
    let commas = inner[..head].iter().filter(|&&c| c == b',').count();
    if commas != 1 + usize::from(head < inner.len()) || inner[head..].last().is_some_and(|&c| c != b']') {
        return false;
    }
    let _ = write!(out, "[{start}, {increment}");
    let b = &inner[head..];
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'[' {
            return false;
        }
        out.extend_from_slice(b", [");
        i += 1;
        if b.get(i) == Some(&b']') {
            i += 1;
        } else {
            loop {
                let t = i;
                let (mut dot, mut other) = (false, false);
                while let Some(&c) = b.get(i) {
                    match c {
                        b',' | b']' => break,
                        b'0'..=b'9' => {}
                        b'.' => dot = true,
                        _ => other = true,
                    }
                    i += 1;
                }
                if i >= b.len() || !write_token(out, &b[t..i], dot, other) {
                    return false;
                }
                i += 1;
                if b[i - 1] == b']' {
                    break;
                }
                out.extend_from_slice(b", ");
            }
        }
        out.push(b']');
        match b.get(i) {
            Some(b',') => i += 1,
            None => {}
            Some(_) => return false,
        }
    }
    out.push(b']');
    true
}

/// One number token as `V` holds it, in jsonb's text (see [`write_prediction_tokens`]). `dot`:
/// the token has a `.`; `other`: a byte besides digits and `.` (a sign, an exponent).
#[inline]
fn write_token(out: &mut Vec<u8>, t: &[u8], dot: bool, other: bool) -> bool {
    let n = t.len();
    // The common token: unsigned digits with a point, ≤ 15 digits, the last one not a zero
    // unless it is the only fraction digit (and the number is not zero).
    if dot
        && !other
        && (2..=16).contains(&n)
        && t[0] != b'.'
        && t[n - 1] != b'.'
        && (t[n - 1] != b'0' || (t[n - 2] == b'.' && t[..n - 2].iter().any(|&c| c != b'0')))
    {
        out.extend_from_slice(t);
        return true;
    }
    let digits = t.strip_prefix(b"-").unwrap_or(t);
    if digits.is_empty() || !digits[0].is_ascii_digit() {
        return false;
    }
    if !dot && digits.iter().all(u8::is_ascii_digit) {
        // An int: its digits; `-0` is 0.
        out.extend_from_slice(if digits.iter().all(|&c| c == b'0') { b"0" } else { t });
        return true;
    }
    // A negative float of the common shape: the sign, then as above.
    if dot && digits.len() <= 16 && digits.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
        let m = digits.len();
        let zero = digits.iter().all(|&c| c == b'0' || c == b'.');
        if !zero && digits[m - 1] != b'.' && (digits[m - 1] != b'0' || digits[m - 2] == b'.') {
            out.extend_from_slice(t);
            return true;
        }
    }
    match std::str::from_utf8(t).ok().and_then(|t| t.parse::<f64>().ok()) {
        Some(v) if v.is_finite() => {
            push_float(out, v);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, v);
        s
    }

    /// The token writer gives what the doubles give (floats) and ints as ints, on the shapes that
    /// take each branch.
    #[test]
    fn tokens_print_as_the_validators_values() {
        let mut s = Vec::new();
        let raw = br#"[1795521660,60,[91234.56,91234.5,91234.50,100000.0,1e-05,1E5,-0.0,0.0,-0,42,-7,0.00001],[1.0]]"#;
        assert!(write_prediction_tokens(&mut s, 1795521660, 60, raw));
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "[1795521660, 60, [91234.56, 91234.5, 91234.5, 100000.0, 0.00001, 100000.0, 0.0, 0.0, 0, 42, -7, 0.00001], [1.0]]"
        );
        for bad in
            [&b"[1,2,[1.5]"[..], b"1,2,[1.5]]", b"[1,[1.5]]", b"[1,2,[1.5],x]", b"[1,2,[1.5,]]", br#"[1,2,["1"]]"#]
        {
            let mut s = b"keep".to_vec();
            assert!(!write_prediction_tokens(&mut s, 1, 2, bad), "{}", String::from_utf8_lossy(bad));
            assert_eq!(s, b"keep");
        }
        let mut s = Vec::new();
        assert!(write_prediction_tokens(&mut s, 1, 2, b"[1,2]"));
        assert_eq!(s, b"[1, 2]");
        // Random float tokens: the token route equals the doubles route.
        let mut next = crate::test_rng(0x51_7CC1_B727_220A);
        for _ in 0..100_000 {
            let r = next();
            let v = (r % 1_000_000_000) as f64 / crate::decode::POW10[(r >> 40) as usize % 14];
            let token = match (r >> 50) % 4 {
                0 => format!("{v:?}"),
                1 => format!("{v:e}"),
                2 => format!("{v:.9}"),
                _ => format!("-{v:.3}"),
            };
            let value: f64 = token.parse().unwrap();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let raw = format!("[1,2,[{token}]]");
            assert!(write_prediction_tokens(&mut a, 1, 2, raw.as_bytes()), "{token}");
            write_prediction(&mut b, 1, 2, 1, &[value]);
            assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap(), "{token}");
        }
        let mut s = Vec::new();
        write_prediction_ints(&mut s, 1, 2, 2, &[1.0, 2.0, 3.5, -0.0], &[0, 3]);
        assert_eq!(s, b"[1, 2, [1, 2.0], [3.5, 0]]");
    }

    /// The short form and the general one agree wherever the short form answers (and it answers
    /// for the common prices).
    #[test]
    fn short_form_equals_the_general_one() {
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1Du64);
        let mut answered = 0;
        for i in 0..400_000u64 {
            let r = next();
            let v = match i % 4 {
                // Prices as miners print them: 2–8 significant digits at every magnitude.
                0 => (r % 100_000_000) as f64 / crate::decode::POW10[(r >> 40) as usize % 12],
                1 => f64::from_bits(r >> 2) * if r & 1 == 0 { 1.0 } else { -1.0 },
                2 => (r % 10_000_000) as f64 * 10f64.powi((r >> 50) as i32 % 40 - 20),
                _ => (r >> 11) as f64 / (1u64 << 53) as f64 * 1e5,
            };
            if !v.is_finite() {
                continue;
            }
            let (mut a, mut b) = (String::new(), String::new());
            write_float(&mut a, v);
            write_float_general(&mut b, v);
            assert_eq!(a, b, "{v:e}");
            answered += usize::from(short_decimal(v.abs()).is_some());
        }
        assert!(answered > 100_000, "the short form answered only {answered} times");
    }

    /// The README's examples, and the shapes the layout rules distinguish.
    #[test]
    fn plain_notation_with_the_inputs_scale() {
        for (v, want) in [
            (1e-5, "0.00001"),
            (1e16, "10000000000000000"),
            (1.5e3, "1500.0"),
            (100000.0, "100000.0"),
            (1.5e-7, "0.00000015"),
            (-1.5e-7, "-0.00000015"),
            (1.2345678e20, "123456780000000000000"),
            (91234.56, "91234.56"),
            (-0.0, "0.0"),
            (0.0001, "0.0001"),
        ] {
            assert_eq!(text(v), want, "{v:e}");
        }
        let mut s = Vec::new();
        write_prediction(&mut s, 1795521660, 60, 2, &[1.0, 2.5, 3e-5, 4.0]);
        assert_eq!(s, b"[1795521660, 60, [1.0, 2.5], [0.00003, 4.0]]");
    }
}
