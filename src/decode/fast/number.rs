//! Number scanning: one price token → its value, whether it passes the digit rule, where it ends.
//!
//! In: the body, the index of a token's first byte, and the rule set. Out: `(value, fits, end)`,
//! or `None` when the bytes there are not a JSON number this path reads (the body then goes to
//! the exact path).
//!
//! The two rule sets differ only in `fits`. v2 counts the characters of Python's `repr` (sign
//! included); v3 counts the significant digits of the shortest round-trip decimal and wants the
//! value finite and inside float32's range (`rules::v3_fault`). Both come from the token's own
//! digits wherever it has at most 15 significant ones (no other such decimal shares its double):
//! v3 then fits exactly when there are at most 8, and the magnitude (≤ 15 digits, |exponent| ≤
//! 22) is far inside float32's range. Only longer or more extreme tokens are formatted.
//!
//! Per price the token becomes an integer mantissa and a decimal exponent, the double comes from
//! one correctly rounded multiply or divide (Clinger's fast path: mantissa < 2^53 and |exponent|
//! ≤ 22, both operands exact), and the length of Python's `repr` comes arithmetically from the
//! digit count and exponent: for a decimal of at most 15 significant digits the shortest
//! round-trip digits are exactly its own (no other decimal of ≤ 15 digits maps to the same
//! double), so no float formatting is needed. Tokens outside that window take `str::parse` and
//! [`pyrepr`] — rare, still exact.
//!
//! Two readers, one answer: [`swar`] takes the common shape (`91234.567`, `-12.5`, `91234`) eight
//! bytes at a time; [`scalar`] takes every JSON number a byte at a time (and the last 9 bytes of
//! a body, where `swar` may not load). The SIMD lanes have their own reader of the common float
//! shape (`simd::token`), pinned to these by `lanes_agree`.

use crate::decode::pyrepr;
use crate::decode::rules::{PriceFault, Rules, v3_fault};
use crate::decode::{POW10, Verdict};

/// The price token at `b[i]` → (value, passes the digit rule of `rules`, where the token ends).
/// `None`: not a JSON number this path reads.
#[inline(always)]
pub(super) fn price(b: &[u8], i: usize, rules: Rules) -> Option<(f64, bool, usize)> {
    if let Some(r) = swar(b, i, rules) {
        return Some(r);
    }
    scalar(b, i, rules)
}

/// The common price token, `-?[1-9]\d{0,6}(\.\d{1,7})?` not followed by a digit, `.`, `e` or
/// `E`, eight bytes at a time: one load finds a digit run, one multiply chain parses it. `None`
/// for any other shape ([`scalar`] takes it), and within 9 bytes of the body's end (so the byte
/// after a run can be read unchecked).
///
/// No formatting is needed for the digit rule: with an integer part in [1, 1e7) Python's repr is
/// fixed notation with the token's own digits (≤ 14 significant, so exact), and its length
/// without the point is the integer digits plus the fraction's digits up to its last non-zero one
/// (at least one: `140.0` → `1400`). An int token of ≤ 7 digits and a sign always fits.
///
/// v3 counts significant digits: the integer digits (the first is not `0`) plus the fraction's up
/// to its last non-zero one; the sign does not count. (With no such fraction digit the count is
/// at most 7: it fits either way.)
#[inline(always)]
fn swar(b: &[u8], i: usize, rules: Rules) -> Option<(f64, bool, usize)> {
    let neg = *b.get(i)? == b'-';
    let start = i + usize::from(neg);
    let (k1, int_digits) = digit_run(b, start)?;
    // The low byte is the first digit: a leading `0` (`0.5`, `01`) is the scalar reader's.
    if k1 == 0 || k1 > 7 || int_digits as u8 == 0 {
        return None;
    }
    let int_val = parse_left_aligned(int_digits << (8 * (8 - k1)));
    match b[start + k1] {
        b'.' => {}
        b'e' | b'E' => return None,
        _ => {
            let m = int_val as i64;
            return Some(((if neg { -m } else { m }) as f64, true, start + k1));
        }
    }
    let (k2, frac_digits) = digit_run(b, start + k1 + 1)?;
    let end = start + k1 + 1 + k2;
    if k2 == 0 || k2 > 7 || b[end] | 0x20 == b'e' {
        return None;
    }
    let frac = frac_digits << (8 * (8 - k2));
    let frac_val = parse_left_aligned(frac);
    // Zero digits at the end of the fraction sit in the top bytes of `frac`.
    let non_zero = (((frac & LOW7) + LOW7) | frac) & HIGH;
    let significant = k2 as i32 - (non_zero.leading_zeros() / 8) as i32;
    let len = match rules {
        Rules::V2 => k1 as i32 + significant.max(1) + i32::from(neg),
        Rules::V3 => k1 as i32 + significant,
    };
    // Below 1e14, so the signed conversion (one instruction on x86-64, unlike u64 → f64) is exact.
    let m = (int_val * POW10_U64[k2] + frac_val) as i64;
    let v = (if neg { -m } else { m }) as f64 / POW10[k2];
    Some((v, len <= 8, end))
}

/// How many ASCII digits start at `b[i]` (8 = maybe more), and the eight bytes minus `'0'`.
/// `None` when fewer than 9 bytes remain, so the byte after a run of ≤ 7 can be read unchecked.
#[inline(always)]
fn digit_run(b: &[u8], i: usize) -> Option<(usize, u64)> {
    let chunk: [u8; 8] = b.get(i..i + 9)?[..8].try_into().ok()?;
    let x = u64::from_le_bytes(chunk) ^ 0x3030_3030_3030_3030;
    // Bytes < 10 after the xor are digits; the high bit marks every other byte (7-bit mask
    // first, so the add never carries into the next byte).
    let non_digit = (((x & LOW7) + 0x7676_7676_7676_7676) | x) & HIGH;
    Some(((non_digit.trailing_zeros() / 8) as usize, x))
}

/// The value of eight digit bytes (already minus `'0'`, first digit in the lowest byte); leading
/// positions may be zero bytes.
#[inline(always)]
fn parse_left_aligned(v: u64) -> u64 {
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v1 = (v & 0x0000_00ff_0000_00ff).wrapping_mul(0x000f_4240_0000_0064);
    let v2 = ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(0x0000_2710_0000_0001);
    u64::from((v1.wrapping_add(v2) >> 32) as u32)
}

/// Any JSON number token, one byte at a time.
fn scalar(b: &[u8], start: usize, rules: Rules) -> Option<(f64, bool, usize)> {
    let mut i = start;
    let neg = *b.get(i)? == b'-';
    i += usize::from(neg);
    let mut w: u64 = 0;
    // Significant digits accumulated in `w`, and the power of ten that scales it.
    let mut nd: i32 = 0;
    let mut dexp: i32 = 0;
    match *b.get(i)? {
        b'0' => i += 1,
        c @ b'1'..=b'9' => {
            w = u64::from(c - b'0');
            nd = 1;
            i += 1;
            while let Some(&c) = b.get(i) {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                w = w.wrapping_mul(10).wrapping_add(u64::from(d));
                nd += 1;
                i += 1;
            }
        }
        _ => return None,
    }
    let mut is_int = true;
    if b.get(i) == Some(&b'.') {
        is_int = false;
        i += 1;
        let frac_start = i;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            // Zeros before the first significant digit only move the exponent.
            if w != 0 || d != 0 {
                w = w.wrapping_mul(10).wrapping_add(u64::from(d));
                nd += 1;
            }
            i += 1;
        }
        if i == frac_start {
            return None;
        }
        dexp = -((i - frac_start) as i32);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        is_int = false;
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_start = i;
        let mut e: i32 = 0;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            e = (e * 10 + i32::from(d)).min(100_000);
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        dexp += if eneg { -e } else { e };
    }
    // `01`, or more significant digits than a u64 holds: not for this path.
    if nd > 19 || b.get(i).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    if is_int {
        // A Python int: `-0` is 0, stored as +0.0. (`w` < 10^19: one correctly rounded convert.)
        let v = if neg && w != 0 { -(w as f64) } else { w as f64 };
        let fits = match rules {
            // Python's str(int): its digits, and the sign unless it is zero.
            Rules::V2 => nd.max(1) + i32::from(neg && w != 0) <= 8,
            // `float(x)`'s digits: the int's own without its trailing zeros when ≤ 15 of them.
            Rules::V3 => match significant_int_digits(w, nd) {
                0..=8 => true,
                9..=15 => false,
                _ => v3_fault(v).is_none(),
            },
        };
        return Some((v, fits, i));
    }
    if w == 0 {
        // 0.0 / -0.0 print as `0.0` / `-0.0`.
        return Some((if neg { -0.0 } else { 0.0 }, true, i));
    }
    while w % 10 == 0 {
        w /= 10;
        nd -= 1;
        dexp += 1;
    }
    if nd <= 15 && (-22..=22).contains(&dexp) {
        let m = w as f64;
        let v = if dexp >= 0 { m * POW10[dexp as usize] } else { m / POW10[(-dexp) as usize] };
        let fits = match rules {
            Rules::V2 => pyrepr::digit_count_from_parts(neg, nd, nd + dexp) <= 8,
            Rules::V3 => nd <= 8,
        };
        return Some((if neg { -v } else { v }, fits, i));
    }
    slow_float(b, start, i, rules)
}

/// Significant digits of the int `w` written with `nd` digits (0 for zero).
#[inline]
fn significant_int_digits(mut w: u64, mut nd: i32) -> i32 {
    if w == 0 {
        return 0;
    }
    while w % 10 == 0 {
        w /= 10;
        nd -= 1;
    }
    nd
}

/// A float token outside the fast window: std's correctly rounded parse, Python's repr.
#[cold]
fn slow_float(b: &[u8], start: usize, end: usize, rules: Rules) -> Option<(f64, bool, usize)> {
    let tok = std::str::from_utf8(&b[start..end]).ok()?;
    let v: f64 = tok.parse().ok()?;
    let fits = match rules {
        Rules::V2 => pyrepr::float_digit_count(v) <= 8,
        Rules::V3 => v3_fault(v).is_none(),
    };
    Some((v, fits, end))
}

/// The stored verdict for the price token `tok` of value `value` that did not fit `rules`.
#[cold]
pub(super) fn misfit(tok: &[u8], value: f64, rules: Rules) -> Verdict {
    let text = price_str(tok, value);
    match rules {
        Rules::V2 => Verdict::too_many_digits(text),
        // The fast path reads no int past a double (≤ 19 digits), so rule b never applies here.
        Rules::V3 => v3_fault(value).unwrap_or(PriceFault::TooManyDigits).verdict(text),
    }
}

/// Python's `str()` of a price whose token is `tok` and whose value is `value`.
#[cold]
pub(super) fn price_str(tok: &[u8], value: f64) -> String {
    if tok.iter().all(|c| c.is_ascii_digit() || *c == b'-') {
        // An int token: Python prints the int itself (the scanner never lets `-0` fail).
        String::from_utf8_lossy(tok).into_owned()
    } else {
        pyrepr::float_repr(value)
    }
}

const POW10_U64: [u64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_takes_the_common_shapes_and_leaves_the_rest() {
        let swar_of = |t: &str| swar(format!("{t},91234.56]").as_bytes(), 0, Rules::V2);
        assert_eq!(swar_of("91234.567"), Some((91234.567, true, 9)));
        assert_eq!(swar_of("-91234.5"), Some((-91234.5, true, 8)));
        assert_eq!(swar_of("1234567"), Some((1234567.0, true, 7)));
        assert_eq!(swar_of("-1234567"), Some((-1234567.0, true, 8)));
        assert_eq!(swar_of("1234567.8"), Some((1234567.8, true, 9)));
        assert_eq!(swar_of("-1234567.8"), Some((-1234567.8, false, 10)));
        assert_eq!(swar_of("1.2345670"), Some((1.234567, true, 9)));
        let others = ["12345678", "12345678.5", "0.5", "-0", "01", "1.12345678", "1e5", "1.5e5"];
        for other in others.into_iter().chain(["1.", "-", "x"]) {
            assert_eq!(swar_of(other), None, "{other}");
        }
        // Too near the end to load eight bytes after a run.
        assert_eq!(swar(b"1.5]", 0, Rules::V2), None);
        // v3 does not count the sign.
        assert_eq!(swar(b"-1234567.8,91234.56]", 0, Rules::V3), Some((-1234567.8, true, 10)));
    }

    #[test]
    fn digit_rule_follows_python_repr() {
        for (tok, ok) in [
            ("1e16", true),
            ("1E+16", true),
            ("1e15", false),
            ("123456780e-1", false),
            ("0.10", true),
            ("91234.5600000", true),
            ("-1234567.8", false),
            ("0.1234567", true),
            ("0.12345678", false),
            ("0.001234567", false),
            ("7e-05", true),
            ("1.2345e-05", false),
            ("1e-100", true),
            ("1e400", true),
            ("-0.0", true),
            ("99999999", true),
            ("123456789", false),
            ("0", true),
            ("-0", true),
        ] {
            // Where a body ends (the general reader) and with a path after it (the SWAR reader,
            // where the shape allows).
            for text in [format!("{tok}]]}}"), format!("{tok},91234.56,91234.56]")] {
                let (_, fits, end) = price(text.as_bytes(), 0, Rules::V2).expect(tok);
                assert_eq!((fits, end), (ok, tok.len()), "{text}");
            }
        }
    }

    /// v3: significant digits of the value, finite, inside float32 (conformance `v3/README.md`).
    #[test]
    fn v3_rule_is_on_the_value() {
        for (tok, ok) in [
            ("12345678.0", true),
            ("12345678.9", false),
            ("-1234567.8", true),
            ("-99999999", true),
            ("123456780", true),
            ("123456789", false),
            ("1000000000000000000e-2", true),
            ("9007199254740993", false),
            ("0.12345678", true),
            ("0.000012345", true),
            ("1.2345678e-10", true),
            ("0.30000000000000004", false),
            ("0.100000000000000001", true),
            ("1e400", false),
            ("3.5e38", false),
            ("3.4028235e38", true),
            ("1e-46", false),
            ("8e-46", true),
            ("5e-324", false),
            ("1.4e-45", true),
            ("-0.0", true),
            ("0", true),
            ("-0", true),
            ("1e16", true),
            ("91234.5600000", true),
        ] {
            for text in [format!("{tok}]]}}"), format!("{tok},91234.56,91234.56]")] {
                let (_, fits, end) = price(text.as_bytes(), 0, Rules::V3).expect(tok);
                assert_eq!((fits, end), (ok, tok.len()), "{text}");
            }
        }
    }
}

#[cfg(test)]
pub(super) mod props {
    use super::*;
    use proptest::prelude::*;

    /// Decimal tokens of every shape the JSON grammar allows, biased toward real prices.
    pub(in crate::decode::fast) fn token() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop_oneof![Just(0u64), 1u64..10, 1u64..100_000_000, 1u64..10_000_000_000_000_000],
            prop::option::of(1u32..12),
            prop::option::of(-30i32..30),
        )
            .prop_map(|(neg, m, frac, exp)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                let digits = m.to_string();
                match frac {
                    Some(f) if (f as usize) < digits.len() => {
                        let cut = digits.len() - f as usize;
                        s.push_str(&digits[..cut]);
                        s.push('.');
                        s.push_str(&digits[cut..]);
                    }
                    Some(f) => {
                        s.push_str("0.");
                        s.push_str(&"0".repeat(f as usize - digits.len()));
                        s.push_str(&digits);
                    }
                    None => s.push_str(&digits),
                }
                if let Some(e) = exp {
                    s.push_str(&format!("e{e}"));
                }
                s
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

        /// The fused parse gives std's correctly rounded value and the digit count of Python's
        /// repr (pyrepr is itself checked against CPython in tests/pyrepr_python.rs).
        #[test]
        fn fused_price_matches_std_and_repr(tok in token()) {
            // Followed by the byte a path puts there, and padding, as in a real body.
            let text = format!("{tok},1.0,2.0]");
            let (v, fits, end) = price(text.as_bytes(), 0, Rules::V2).expect("a valid token");
            let (v3, fits3, end3) = price(text.as_bytes(), 0, Rules::V3).expect("a valid token");
            prop_assert_eq!((v3.to_bits(), end3), (v.to_bits(), end));
            prop_assert_eq!(end, tok.len());
            let is_int = !tok.contains(['.', 'e']);
            // An int token is a Python int (`-0` is 0); a float token is `float(token)`.
            let want: f64 = if is_int { tok.parse::<i128>().unwrap() as f64 } else { tok.parse().unwrap() };
            prop_assert_eq!(v.to_bits(), want.to_bits(), "value of {}", tok);
            let count = if is_int {
                let i: i128 = tok.parse().unwrap();
                i.to_string().len()
            } else {
                pyrepr::float_digit_count(want)
            };
            prop_assert_eq!(fits, count <= 8, "digit rule of {}", tok);
            // v3, independently: upstream's own test, `float(f"{v:.7e}") == v`, and float32's
            // range as NumPy rounds.
            let round_trips = format!("{want:.7e}").parse::<f64>().ok() == Some(want);
            let single = want as f32;
            let v3_ok = want.is_finite() && single.is_finite() && (single != 0.0 || want == 0.0) && round_trips;
            prop_assert_eq!(fits3, v3_ok, "v3 rule of {}", tok);
        }

        /// Whatever the SWAR reader takes, the scalar reader reads the same (bit for bit, same
        /// digit rule, same end), so `price` gives one answer whichever reads the token.
        #[test]
        fn swar_and_scalar_agree(
            tok in prop_oneof![
                token(),
                (any::<bool>(), 1u32..100_000_000, prop::option::of("[0-9]{1,8}")).prop_map(
                    |(neg, int, frac)| {
                        let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
                        format!("{}{int}{frac}", if neg { "-" } else { "" })
                    }
                ),
            ],
            next in "[,\\]}x. eE0-9]",
        ) {
            let text = format!("{tok}{next}1.0,2.0]");
            for rules in [Rules::V2, Rules::V3] {
                if let Some((v, fits, end)) = swar(text.as_bytes(), 0, rules) {
                    let (v2, fits2, end2) = scalar(text.as_bytes(), 0, rules).expect("scalar reads it too");
                    prop_assert_eq!((v.to_bits(), fits, end), (v2.to_bits(), fits2, end2), "{} {:?}", text, rules);
                }
            }
        }
    }
}
