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

use crate::decode::pyrepr;

/// Appends the jsonb text of the float `v` (finite) to `out`.
pub fn write_float(out: &mut String, v: f64) {
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

/// Appends a CORRECT miner's prediction, `[start, increment, [p, …], …]`, as jsonb text.
pub fn write_prediction(out: &mut String, start: i64, increment: i64, points: usize, prices: &[f64]) {
    crate::upstream::write_prediction(out, start, increment, points, prices, write_float);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, v);
        s
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
        let mut s = String::new();
        write_prediction(&mut s, 1795521660, 60, 2, &[1.0, 2.5, 3e-5, 4.0]);
        assert_eq!(s, "[1795521660, 60, [1.0, 2.5], [0.00003, 4.0]]");
    }
}
