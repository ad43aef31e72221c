//! Which validator's rules judge the replies, and today's point rule on a price's value.
//!
//! In: the rule set a cycle runs under (its request's `rules`), and a price as the double Python
//! holds. Out: whether the v3 point rule (conformance `v3/README.md`, rules c–f) rejects it and
//! with which message. Both decoders ([`fast`](super::fast), [`exact`](super::exact)) ask here, so
//! the rule is written once.
//!
//! - **v2**: the Synth validator until May 2026 (`../shared/conformance/README.md`): `str(price)`
//!   without its `.` at most 8 characters, bools and non-finite prices accepted, each path's
//!   shape then its prices.
//! - **v3**: upstream v1.10.3 and later (`../shared/conformance/v3/README.md`): 8 significant
//!   digits on the value, finite, inside float32's range, every path's shape before any price.
//!   The default: it is what a validator running today's upstream stores.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::pyrepr;
use super::{POW10, Verdict};

/// A rule set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rules {
    /// Upstream until May 2026 (`str()` digit counting).
    V2,
    /// Upstream v1.10.3+ (PR #301, #311): today's validator.
    #[default]
    V3,
}

impl Rules {
    pub fn as_str(self) -> &'static str {
        match self {
            Rules::V2 => "v2",
            Rules::V3 => "v3",
        }
    }
}

impl fmt::Display for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rules {
    type Err = String;
    fn from_str(s: &str) -> Result<Rules, String> {
        match s {
            "v2" => Ok(Rules::V2),
            "v3" => Ok(Rules::V3),
            other => Err(format!("unknown rules {other:?}: expected \"v2\" or \"v3\"")),
        }
    }
}

/// Why the v3 point rule rejects a price whose type passed (rules c–f; rule b, an int beyond a
/// double, prints as [`PriceFault::TooManyDigits`] and is the exact path's alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceFault {
    /// c: NaN or ±infinity.
    NonFinite,
    /// d: rounds to ±infinity as a float32.
    ExceedsFloat32,
    /// e: not zero, but rounds to zero as a float32.
    UnderflowsFloat32,
    /// b, f: needs more than 8 significant digits (or is an int past a double).
    TooManyDigits,
}

impl PriceFault {
    /// The stored message, quoting the price as Python's `str()` printed it.
    pub fn verdict(self, price: impl fmt::Display) -> Verdict {
        match self {
            PriceFault::NonFinite => Verdict::non_finite(price),
            PriceFault::ExceedsFloat32 => Verdict::exceeds_float32(price),
            PriceFault::UnderflowsFloat32 => Verdict::underflows_float32(price),
            PriceFault::TooManyDigits => Verdict::too_many_digits(price),
        }
    }
}

/// Rules c–f on the double `v` of a price (an int already converted, correctly rounded).
///
/// `v as f32` is IEEE round-to-nearest-even with overflow to infinity, which is exactly the
/// rounding NumPy's `astype(float32)` does: |v| ≥ 2^128 − 2^103 overflows, |v| ≤ 2^−150 (the tie
/// included) underflows to zero.
#[inline]
pub fn v3_fault(v: f64) -> Option<PriceFault> {
    if !v.is_finite() {
        return Some(PriceFault::NonFinite);
    }
    let single = v as f32;
    if single.is_infinite() {
        return Some(PriceFault::ExceedsFloat32);
    }
    if single == 0.0 && v != 0.0 {
        return Some(PriceFault::UnderflowsFloat32);
    }
    if v != 0.0 && !at_most_8_digits(v) {
        return Some(PriceFault::TooManyDigits);
    }
    None
}

/// Rule f without formatting for the common price: with `a = |v|` in [1e-14, 1e8) and `k` the
/// power of ten that puts its eighth significant digit at the units, `m = round(a·10^k)`; when
/// `m < 10^8` and `m / 10^k` (one correctly rounded division of exact operands, `k ≤ 22`) gives
/// back `a`, the decimal `m·10^-k` has at most 8 significant digits and rounds to `v`, so the
/// shortest one does too. Anything else (a failure, other magnitudes) is formatted.
#[inline]
fn at_most_8_digits(v: f64) -> bool {
    let a = v.abs();
    if (1e-14..1e8).contains(&a) {
        // 10^e <= a < 10^(e+1) up to the log's rounding; an off-by-one k only makes the test
        // stricter (m may reach 10^8 and fall through to the formatter).
        let e = a.log10().floor() as i32;
        let k = (7 - e).clamp(0, 22) as usize;
        let m = (a * POW10[k]).round();
        if m < 1e8 && m / POW10[k] == a {
            return true;
        }
    }
    pyrepr::significant_digits(v) <= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readmes_boundaries() {
        let f32_edge = 2f64.powi(128) - 2f64.powi(103);
        assert_eq!(v3_fault(f32_edge), Some(PriceFault::ExceedsFloat32));
        // The largest double below the edge rounds to f32::MAX (it has 17 digits, though).
        assert_eq!(v3_fault(3.4028235e38), None);
        assert_eq!(v3_fault(-3.5e38), Some(PriceFault::ExceedsFloat32));
        assert_eq!(v3_fault(2f64.powi(-150)), Some(PriceFault::UnderflowsFloat32));
        assert_eq!(v3_fault(1e-46), Some(PriceFault::UnderflowsFloat32));
        assert_eq!(v3_fault(8e-46), None);
        assert_eq!(v3_fault(1.4e-45), None);
        assert_eq!(v3_fault(1e-40), None);
        assert_eq!(v3_fault(5e-324), Some(PriceFault::UnderflowsFloat32));
        assert_eq!(v3_fault(f64::NAN), Some(PriceFault::NonFinite));
        assert_eq!(v3_fault(f64::NEG_INFINITY), Some(PriceFault::NonFinite));
        for ok in [0.0, -0.0, 12345678.0, 0.12345678, 0.000012345, 1.2345678e-10, -99999999.0, 123456780.0, 1e20] {
            assert_eq!(v3_fault(ok), None, "{ok:e}");
        }
        for bad in [12345678.9, 123456789.0, 0.30000000000000004, 9007199254740993.0] {
            assert_eq!(v3_fault(bad), Some(PriceFault::TooManyDigits), "{bad:e}");
        }
        assert_eq!("v2".parse(), Ok(Rules::V2));
        assert!("V3".parse::<Rules>().is_err());
        assert_eq!(Rules::default(), Rules::V3);
    }

    /// Rule f as upstream writes it, `float(f"{v:.7e}") == v` (Rust's `{:.7e}` is correctly
    /// rounded, like Python's), against the shortest-digits count, on random doubles of every
    /// magnitude and on decimals of 1–17 digits.
    #[test]
    fn shortest_digits_decide_rule_f() {
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1Du64);
        for i in 0..200_000 {
            let v = if i % 2 == 0 {
                f64::from_bits(next())
            } else {
                let digits = next() % 10u64.pow(1 + (next() % 17) as u32);
                digits as f64 * 10f64.powi((next() % 60) as i32 - 30)
            };
            if !v.is_finite() || v == 0.0 {
                continue;
            }
            let upstream = format!("{v:.7e}").parse::<f64>().ok() == Some(v);
            assert_eq!(pyrepr::significant_digits(v) <= 8, upstream, "{v:e}");
            assert_eq!(at_most_8_digits(v), upstream, "fast: {v:e}");
        }
    }
}
