//! Python's own `int(str)` and `float(str)` (not pydantic's), for the synapse fields that
//! bittensor casts with the builtins (`timeout`, `total_size`, `header_size`, terminal info).
//!
//! In: a JSON string's text. Out: whether the builtin accepts it (the value itself is never
//! used: these fields are validated, then ignored).
//!
//! Both builtins first map the text to ASCII (`_PyUnicode_TransformDecimalAndSpaceToASCII`):
//! Unicode whitespace becomes a space, any Unicode decimal digit (category Nd) its ASCII digit,
//! any other non-ASCII character something that fails. Python's whitespace set is exactly what
//! Rust's `char::is_whitespace` accepts, so trimming is `str::trim`.

use super::json::MAX_INT_DIGITS;

/// The code points of digit zero of every Unicode 14.0 (Python 3.11) decimal digit run; each
/// run is ten consecutive code points 0–9. Generated with `unicodedata.decimal`.
const DECIMAL_ZEROS: [u32; 65] = [
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50, 0xED0, 0xF20,
    0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0,
    0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0,
    0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0,
    0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

fn unicode_decimal(c: char) -> Option<u8> {
    let cp = c as u32;
    let i = DECIMAL_ZEROS.partition_point(|&z| z <= cp).checked_sub(1)?;
    let d = cp - DECIMAL_ZEROS[i];
    (d < 10).then_some(d as u8)
}

/// The trimmed text mapped to ASCII, or `None` if a character can only fail.
fn to_ascii(s: &str) -> Option<String> {
    s.trim()
        .chars()
        .map(|c| if c.is_ascii() { Some(c) } else { unicode_decimal(c).map(|d| char::from(b'0' + d)) })
        .collect()
}

/// Underscores only between two digits (`_Py_string_to_number_with_underscores`), removed.
pub(super) fn drop_underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = b.get(i + 1).is_some_and(|x| x.is_ascii_digit());
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c as char);
        }
    }
    Some(out)
}

/// Whether `float(s)` succeeds.
pub fn float_ok(s: &str) -> bool {
    let Some(a) = to_ascii(s) else { return false };
    let Some(a) = drop_underscores(&a) else {
        return false;
    };
    // `PyOS_string_to_double` reads the same grammar as Rust: sign, digits with an optional
    // point (at least one digit), optional exponent, or inf/infinity/nan in any case.
    a.parse::<f64>().is_ok()
}

/// Whether `int(s)` (base 10) succeeds.
pub fn int_ok(s: &str) -> bool {
    let Some(a) = to_ascii(s) else { return false };
    let body = a.strip_prefix(['+', '-']).unwrap_or(&a);
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
        return false;
    }
    match drop_underscores(body) {
        // Leading zeros count towards the 4300-digit limit.
        Some(digits) => !digits.is_empty() && digits.len() <= MAX_INT_DIGITS,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_float() {
        for s in [
            "12.5",
            " 12.5 ",
            "1e3",
            "1_0",
            "1_0.5",
            "1e1_0",
            "nan",
            "-nAn",
            "-inf",
            "+iNfInItY",
            "1.",
            ".5",
            "٥",
            "١٢",
            "١_٢",
            "\u{a0}12\u{2003}",
            "12\u{85}",
            "１２.５",
            "𝟏𝟐",
            "\x0b5\x0c",
            "007",
        ] {
            assert!(float_ok(s), "{s:?}");
        }
        for s in [
            "abc",
            "",
            " ",
            ".",
            ".e1",
            "1_e5",
            "1._5",
            "1_.5",
            "_1",
            "1_",
            "1__0",
            "+_1",
            "1e+_3",
            "1e3_",
            "\x1c5",
            "5\x1c",
            "\u{200b}1",
            "nan(1)",
            "infinit",
            "0x10",
            "1 2",
            "٫",
        ] {
            assert!(!float_ok(s), "{s:?}");
        }
    }

    #[test]
    fn builtin_int() {
        for s in [" 1_000 ", "007", "-0", "+5", "١٢", "𝟎", "\u{a0}12\u{2003}", "0_0"] {
            assert!(int_ok(s), "{s:?}");
        }
        for s in
            ["1.5", "1.0", "abc", "", "1e3", "1_0.5", "_1", "1_", "1__0", "+_1", "0x10", "\x1c5", "nan", "inf", "- 1"]
        {
            assert!(!int_ok(s), "{s:?}");
        }
        assert!(int_ok(&"9".repeat(4300)));
        assert!(!int_ok(&"9".repeat(4301)));
        assert!(int_ok(&format!("-{}", "9".repeat(4300))));
        assert!(!int_ok(&"0".repeat(4301)));
        assert!(int_ok(&format!("{}_9", "9".repeat(4299))));
    }

    #[test]
    fn decimal_table() {
        assert_eq!(unicode_decimal('٥'), Some(5));
        assert_eq!(unicode_decimal('𝟿'), Some(9));
        assert_eq!(unicode_decimal('\u{1FBF9}'), Some(9));
        assert_eq!(unicode_decimal('\u{1FBFA}'), None);
        assert_eq!(unicode_decimal('²'), None);
        assert_eq!(unicode_decimal('a'), None);
    }
}
