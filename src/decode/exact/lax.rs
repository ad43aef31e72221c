//! pydantic's lax string → number parsing (README section E, STR→INT and STR→FLOAT).
//!
//! In: a JSON string's text. Out: the int or float pydantic would make of it, or `None` where
//! its validation fails. These decide the `simulation_output` coercions and the reply's own
//! `simulation_input` ints.

use super::json::MAX_INT_DIGITS;
use super::value::Int;

/// STR→INT: pydantic's lax `int` from a string.
pub fn str_to_int(s: &str) -> Option<Int> {
    if s.len() > MAX_INT_DIGITS {
        return None;
    }
    if let Some(i) = canonical_int(s) {
        return Some(i);
    }
    let t = s.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    // A fraction of one or more zeros (no underscores) is dropped: "3.00" → 3, "5." is not.
    let int_part = match body.split_once('.') {
        Some((ip, frac)) if !frac.is_empty() && frac.bytes().all(|c| c == b'0') => ip,
        Some(_) => return None,
        None => body,
    };
    let digits = strip_digit_underscores(int_part)?;
    Some(Int::from_digits(negative, &digits))
}

/// `-?(0|[1-9][0-9]*)`, the form that needs no normalising.
fn canonical_int(s: &str) -> Option<Int> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let ok =
        !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'));
    ok.then(|| Int::from_digits(negative, digits))
}

/// ASCII digits with single underscores strictly between digits, underscores removed.
fn strip_digit_underscores(s: &str) -> Option<String> {
    super::pynum::drop_underscores(s).filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
}

/// STR→FLOAT: pydantic's lax `float` from a string.
pub fn str_to_float(s: &str) -> Option<f64> {
    if let Ok(f) = s.trim().parse::<f64>() {
        return Some(f);
    }
    // Retry without underscores (none leading, trailing or doubled), and without trimming.
    if !s.contains('_') || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    s.replace('_', "").parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Option<String> {
        str_to_int(s).map(|i| i.to_py_str())
    }

    #[test]
    fn str_to_int_table() {
        let yes: &[(&str, &str)] = &[
            ("0", "0"),
            ("-0", "0"),
            ("1741091640", "1741091640"),
            ("+007", "7"),
            (" 7 ", "7"),
            ("\u{a0}5\u{2003}", "5"),
            ("5\u{85}", "5"),
            ("1\t", "1"),
            ("3.00", "3"),
            ("12345678.0", "12345678"),
            ("-0.00", "0"),
            ("1_000", "1000"),
            ("1_0.0", "10"),
            ("0_7", "7"),
            ("+5_0", "50"),
            ("1_000.00", "1000"),
            ("-0_0.0", "0"),
            ("00", "0"),
            ("99999999999999999999.0", "99999999999999999999"),
            ("-18446744073709551616", "-18446744073709551616"),
        ];
        for (s, want) in yes {
            assert_eq!(int(s).as_deref(), Some(*want), "{s:?}");
        }
        for s in [
            "",
            " ",
            "+",
            "-",
            "5.",
            ".0",
            "1.5",
            "1.0_0",
            "1_.0",
            "1._0",
            "1e3",
            "1E3",
            "0x10",
            "0b1",
            "_1",
            "1_",
            "1__0",
            "+_1",
            "-_1",
            "+-1",
            "-+1",
            "--1",
            "1 000",
            "\u{200b}5",
            "\x1c5",
            "٥",
            "１２",
            "1..0",
            "nan",
            "inf",
            "true",
            "1,5",
            "$5",
        ] {
            assert_eq!(int(s), None, "{s:?}");
        }
        assert_eq!(int(&"9".repeat(4300)).map(|s| s.len()), Some(4300));
        assert_eq!(int(&"9".repeat(4301)), None);
        assert_eq!(int(&format!("-{}", "9".repeat(4300))), None);
    }

    #[test]
    fn str_to_float_table() {
        let yes: &[(&str, f64)] = &[
            ("5.", 5.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("5.e3", 5000.0),
            (" 1.5 ", 1.5),
            ("-.0", -0.0),
            ("1_0.5", 10.5),
            ("1e_3", 1000.0),
            ("1_e3", 1000.0),
            ("+_1", 1.0),
            ("1._0", 1.0),
            ("1_.5", 1.5),
            ("1e1_0", 1e10),
            ("+inf", f64::INFINITY),
            ("infinity", f64::INFINITY),
            ("-InFiNiTy", f64::NEG_INFINITY),
            ("1e400", f64::INFINITY),
        ];
        for (s, want) in yes {
            let got = str_to_float(s);
            assert!(got.is_some_and(|g| g.to_bits() == want.to_bits()), "{s:?}: {got:?}");
        }
        assert!(str_to_float("nan").is_some_and(f64::is_nan));
        assert!(str_to_float("-NaN").is_some_and(f64::is_nan));
        assert!(str_to_float(&"5".repeat(5000)).is_some_and(|f| f == f64::INFINITY));
        for s in [
            "", " ", ".", "e3", "1e", "1.0.0", " 1_0.5", "1_0.5 ", "_1", "1_", "1__0", "0x10", "1,5", "١", "nan(1)",
            "infinit", "1 2",
        ] {
            assert_eq!(str_to_float(s), None, "{s:?}");
        }
    }
}
