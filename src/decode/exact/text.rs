//! Stage B: the reply's bytes → text, as Python's `json.loads(bytes)` decodes them.
//!
//! In: the raw body. Out: the text as *generalized UTF-8* (UTF-8 that may also hold lone
//! surrogates U+D800–U+DFFF in their three-byte form `ED A0..BF 80..BF`), or an error where
//! Python raises.
//!
//! Python sniffs the encoding (`json.detect_encoding`) and decodes with the `surrogatepass`
//! handler, so a Python `str` may hold lone surrogates. Generalized UTF-8 represents every such
//! string uniquely: a UTF-8 body that is valid under `surrogatepass` is already in this form and
//! is borrowed as is; UTF-16/32 bodies are transcoded (a UTF-16 surrogate *pair* becomes one
//! supplementary character, as in Python; UTF-32 surrogates stay separate, as in Python).

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// The bytes are not valid in the sniffed encoding (Python's `UnicodeDecodeError`).
    InvalidEncoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Be,
    Utf16Le,
    Utf32Be,
    Utf32Le,
}

/// Decodes a body the way `json.loads(bytes)` does before it parses.
pub fn decode(body: &[u8]) -> Result<Cow<'_, [u8]>, TextError> {
    let (enc, skip) = sniff(body);
    let data = &body[skip..];
    match enc {
        Encoding::Utf8 => {
            validate_utf8_surrogatepass(data)?;
            Ok(Cow::Borrowed(data))
        }
        Encoding::Utf16Be => utf16(data, u16::from_be_bytes).map(Cow::Owned),
        Encoding::Utf16Le => utf16(data, u16::from_le_bytes).map(Cow::Owned),
        Encoding::Utf32Be => utf32(data, u32::from_be_bytes).map(Cow::Owned),
        Encoding::Utf32Le => utf32(data, u32::from_le_bytes).map(Cow::Owned),
    }
}

/// `json.detect_encoding`: the encoding and how many BOM bytes its codec consumes.
fn sniff(b: &[u8]) -> (Encoding, usize) {
    if b.starts_with(&[0x00, 0x00, 0xFE, 0xFF]) {
        return (Encoding::Utf32Be, 4);
    }
    if b.starts_with(&[0xFF, 0xFE, 0x00, 0x00]) {
        return (Encoding::Utf32Le, 4);
    }
    if b.starts_with(&[0xFE, 0xFF]) {
        return (Encoding::Utf16Be, 2);
    }
    if b.starts_with(&[0xFF, 0xFE]) {
        return (Encoding::Utf16Le, 2);
    }
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return (Encoding::Utf8, 3);
    }
    if b.len() >= 4 {
        if b[0] == 0 {
            return (if b[1] != 0 { Encoding::Utf16Be } else { Encoding::Utf32Be }, 0);
        }
        if b[1] == 0 {
            return (if b[2] != 0 || b[3] != 0 { Encoding::Utf16Le } else { Encoding::Utf32Le }, 0);
        }
    } else if b.len() == 2 {
        if b[0] == 0 {
            return (Encoding::Utf16Be, 0);
        }
        if b[1] == 0 {
            return (Encoding::Utf16Le, 0);
        }
    }
    (Encoding::Utf8, 0)
}

/// Strict UTF-8, except that the three-byte forms of U+D800–U+DFFF are accepted.
fn validate_utf8_surrogatepass(b: &[u8]) -> Result<(), TextError> {
    let mut i = 0;
    while i < b.len() {
        // Long ASCII runs are the common case; skip them byte by byte without branching on width.
        let c = b[i];
        if c < 0x80 {
            i += 1;
            continue;
        }
        let cont = |k: usize| b.get(i + k).is_some_and(|x| x & 0xC0 == 0x80);
        let width = match c {
            0xC2..=0xDF => 2,
            0xE0 => {
                // No overlong forms.
                if !b.get(i + 1).is_some_and(|x| (0xA0..=0xBF).contains(x)) {
                    return Err(TextError::InvalidEncoding);
                }
                3
            }
            // 0xED included: its A0..BF continuations are the surrogates `surrogatepass` allows.
            0xE1..=0xEF => 3,
            0xF0 => {
                if !b.get(i + 1).is_some_and(|x| (0x90..=0xBF).contains(x)) {
                    return Err(TextError::InvalidEncoding);
                }
                4
            }
            0xF1..=0xF3 => 4,
            0xF4 => {
                if !b.get(i + 1).is_some_and(|x| (0x80..=0x8F).contains(x)) {
                    return Err(TextError::InvalidEncoding);
                }
                4
            }
            _ => return Err(TextError::InvalidEncoding),
        };
        if !(1..width).all(cont) {
            return Err(TextError::InvalidEncoding);
        }
        i += width;
    }
    Ok(())
}

/// Appends one code point (surrogates included) in generalized UTF-8.
pub fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    match cp {
        0..=0x7F => out.push(cp as u8),
        0x80..=0x7FF => out.extend_from_slice(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8]),
        0x800..=0xFFFF => {
            out.extend_from_slice(&[0xE0 | (cp >> 12) as u8, 0x80 | ((cp >> 6) & 0x3F) as u8, 0x80 | (cp & 0x3F) as u8])
        }
        _ => out.extend_from_slice(&[
            0xF0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3F) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]),
    }
}

fn utf16(data: &[u8], unit: fn([u8; 2]) -> u16) -> Result<Vec<u8>, TextError> {
    if data.len() % 2 != 0 {
        return Err(TextError::InvalidEncoding);
    }
    let units: Vec<u16> = data.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < units.len() {
        let u = u32::from(units[i]);
        let next = units.get(i + 1).map(|&n| u32::from(n));
        match (u, next) {
            (0xD800..=0xDBFF, Some(lo @ 0xDC00..=0xDFFF)) => {
                push_code_point(&mut out, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
                i += 2;
            }
            _ => {
                // A lone surrogate passes through (`surrogatepass`).
                push_code_point(&mut out, u);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn utf32(data: &[u8], unit: fn([u8; 4]) -> u32) -> Result<Vec<u8>, TextError> {
    if data.len() % 4 != 0 {
        return Err(TextError::InvalidEncoding);
    }
    let mut out = Vec::with_capacity(data.len());
    for c in data.chunks_exact(4) {
        let cp = unit([c[0], c[1], c[2], c[3]]);
        if cp > 0x10FFFF {
            return Err(TextError::InvalidEncoding);
        }
        push_code_point(&mut out, cp);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(b: &[u8]) -> Vec<u8> {
        decode(b).expect("decodes").into_owned()
    }

    #[test]
    fn sniffing_follows_json_detect_encoding() {
        assert_eq!(ok(b"\xEF\xBB\xBF{}"), b"{}");
        // Only one BOM is dropped; the second stays as U+FEFF for the parser to reject.
        assert_eq!(ok(b"\xEF\xBB\xBF\xEF\xBB\xBF1"), "\u{FEFF}1".as_bytes());
        assert_eq!(ok(b"\xFF\xFE1\x00"), b"1");
        assert_eq!(ok(b"\xFE\xFF\x001"), b"1");
        assert_eq!(ok(b"\xFF\xFE\x00\x001\x00\x00\x00"), b"1");
        assert_eq!(ok(b"\x00\x00\xFE\xFF\x00\x00\x001"), b"1");
        assert_eq!(ok(b"\x00\x00\x001"), b"1"); // UTF-32-BE
        assert_eq!(ok(b"1\x00\x00\x00"), b"1"); // UTF-32-LE
        assert_eq!(ok(b"1\x002\x00"), b"12"); // UTF-16-LE
        assert_eq!(ok(b"\x001\x002"), b"12"); // UTF-16-BE
        assert_eq!(ok(b"1\x00"), b"1"); // two bytes, UTF-16-LE
        assert_eq!(ok(b"\x001"), b"1"); // two bytes, UTF-16-BE
        assert_eq!(ok(b"1"), b"1");
        assert_eq!(ok(b""), b"");
    }

    #[test]
    fn surrogatepass() {
        // UTF-8-encoded surrogates are kept as they are; not paired up.
        assert_eq!(ok(b"\xED\xA0\x80\xED\xB0\x80"), b"\xED\xA0\x80\xED\xB0\x80");
        assert!(decode(b"\xED\xA0").is_err());
        // UTF-16: a pair joins, a lone one passes, at the end too.
        assert_eq!(ok(b"\xFF\xFE\x00\xD8\x00\xDC"), "\u{10000}".as_bytes());
        assert_eq!(ok(b"\xFF\xFE\x00\xD8A\x00"), b"\xED\xA0\x80A");
        assert_eq!(ok(b"\xFF\xFE\x00\xD8"), b"\xED\xA0\x80");
        // UTF-32: surrogates pass one by one.
        assert_eq!(ok(b"\xFF\xFE\x00\x00\x00\xD8\x00\x00\x00\xDC\x00\x00"), b"\xED\xA0\x80\xED\xB0\x80");
    }

    #[test]
    fn invalid_sequences() {
        for bad in [
            &b"\x80"[..],
            b"\xC0\xAF",
            b"\xE0\x80\x80",
            b"\xF4\x90\x80\x80",
            b"\xFF",
            b"caf\xE9",
            b"\xE2\x82",
            b"\xFF\xFEA\x00B",                   // odd-length UTF-16
            b"\xFF\xFE\x00\x00A\x00\x00\x00B",   // UTF-32 not a multiple of 4
            b"\xFF\xFE\x00\x00\x00\x00\x11\x00", // beyond U+10FFFF
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ok("é€😀".as_bytes()), "é€😀".as_bytes());
    }
}
