//! Python's `repr(float)` and the validator's digit rule.
//!
//! In: an f64. Out: the exact text Python prints for it, and that text's length once every `.`
//! is removed (the number the validator compares with 8).
//!
//! The shortest round-trip digits come from Rust's `{:e}` formatting (the same digits Python's
//! repr picks); only the layout differs, and that is what this module reproduces.

use std::fmt::Write;

/// `repr(x)` exactly as Python 3 prints it.
pub fn float_repr(x: f64) -> String {
    let mut out = String::with_capacity(24);
    write_float_repr(&mut out, x);
    out
}

/// Appends `repr(x)` to `out`.
pub fn write_float_repr(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let (digits, exp) = shortest_digits(x.abs());
    let n = digits.len() as i32;
    // value = 0.d1…dn × 10^k
    let k = exp + 1;
    if x < 0.0 {
        out.push('-');
    }
    if -4 < k && k <= 16 {
        if k <= 0 {
            out.push_str("0.");
            for _ in 0..-k {
                out.push('0');
            }
            out.push_str(&digits);
        } else if k < n {
            out.push_str(&digits[..k as usize]);
            out.push('.');
            out.push_str(&digits[k as usize..]);
        } else {
            out.push_str(&digits);
            for _ in 0..k - n {
                out.push('0');
            }
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = k - 1;
        write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()).expect("writing to a String");
    }
}

/// The shortest digits that round-trip to `x` (finite, positive), and the exponent of the first.
///
/// Rust's `{:e}` gives the shortest length, but where two strings of that length both round-trip
/// it does not always pick the one Python picks (the one nearest the exact binary value, e.g.
/// `1658206780088562.2`, not `…3`). So the length is taken from `{:e}` and the digits from the
/// correctly rounded formatting at that precision, whenever that too round-trips.
fn shortest_digits(x: f64) -> (String, i32) {
    let mut sci = String::with_capacity(32);
    write!(sci, "{x:e}").expect("writing to a String");
    let split = |s: &str| -> (String, i32) {
        let (mantissa, exp) = s.split_once('e').expect("{:e} always has an exponent");
        let digits = mantissa.chars().filter(|c| *c != '.').collect();
        (digits, exp.parse().expect("{:e} exponent is an integer"))
    };
    let (digits, exp) = split(&sci);
    if digits.len() > 1 {
        let nearest = format!("{:.*e}", digits.len() - 1, x);
        if nearest.parse::<f64>() == Ok(x) {
            return split(&nearest);
        }
    }
    (digits, exp)
}

/// The validator's digit count: `len(str(x).replace(".", ""))`.
pub fn float_digit_count(x: f64) -> usize {
    float_repr(x).bytes().filter(|b| *b != b'.').count()
}

/// How many significant digits the shortest decimal that round-trips to `x` has (finite,
/// non-zero): v3's rule f is `significant_digits(x) <= 8` (`float(f"{x:.7e}") == x`). Sign,
/// leading zeros, exponent and a trailing `.0` do not count. The length of `{:e}`'s shortest
/// digits is Python's too (only a tie between two such strings can differ, never their length).
pub fn significant_digits(x: f64) -> usize {
    let mut sci = String::with_capacity(32);
    write!(sci, "{:e}", x.abs()).expect("writing to a String");
    sci.bytes().take_while(|b| *b != b'e').filter(u8::is_ascii_digit).count()
}

/// The digit count of a float whose shortest repr digits are known: `n` significant digits
/// (no leading or trailing zeros, `n ≥ 1`) and decimal exponent `k` (value = 0.d1…dn × 10^k).
/// This is the layout rule of [`write_float_repr`] as arithmetic, for the fast scanner.
#[inline(always)]
pub fn digit_count_from_parts(negative: bool, n: i32, k: i32) -> i32 {
    let body = if -4 < k && k <= 16 {
        if k <= 0 {
            1 - k + n
        } else if k < n {
            n
        } else {
            k + 1
        }
    } else {
        let e = (k - 1).abs();
        let exp_digits = if e >= 100 { 3 } else { 2 };
        n + 2 + exp_digits
    };
    body + i32::from(negative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python_on_corner_values() {
        let cases: &[(f64, &str)] = &[
            (91234.56, "91234.56"),
            (12345678.0, "12345678.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1.2345678e20, "1.2345678e+20"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-1234567.8, "-1234567.8"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
            (5.0958589e-05, "5.0958589e-05"),
            (0.51333745, "0.51333745"),
            (1e22, "1e+22"),
            (1e-100, "1e-100"),
            (123.0, "123.0"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(*x), *want, "repr of {x:e}");
        }
    }

    #[test]
    fn digit_count_parts_agree_with_repr() {
        for (x, n, k) in [
            (91234.56, 7, 5),
            (12345678.0, 8, 8),
            (1e16, 1, 17),
            (0.1, 1, 0),
            (0.001234567, 7, -2),
            (7e-5, 1, -4),
            (1.2345e-5, 5, -4),
            (1e-100, 1, -99),
        ] {
            assert_eq!(digit_count_from_parts(false, n, k) as usize, float_digit_count(x), "{x:e}");
            assert_eq!(digit_count_from_parts(true, n, k) as usize, float_digit_count(-x), "-{x:e}");
        }
    }
}
