//! Python 3.11 `datetime.fromisoformat(s).timestamp()` truncated to an int, as the validator
//! computes the expected start time. (TZ=UTC: a time without an offset is read as UTC.)
//!
//! In: the request's `start_time` string. Out: whole seconds since the Unix epoch, or `None`
//! where Python would raise.
//!
//! This is a port of CPython 3.11's C implementation (`_datetimemodule.c`:
//! `_find_isoformat_datetime_separator`, `parse_isoformat_date`, `parse_hh_mm_ss_ff`,
//! `parse_isoformat_time`, then the datetime constructor's range checks and `timestamp()`),
//! not of the ISO 8601 standard: the C code accepts some odd strings (any character as the
//! separator, `12:34:56:78`, tz minutes of 99) and the validator sees exactly those results.
//! The C code reads its NUL-terminated UTF-8 buffer past the end of a component; [`at`] reproduces
//! that by answering 0 past the end.

/// A parsed `fromisoformat` result: the datetime fields and, when aware, the UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoDateTime {
    pub year: i32,
    pub month: i32,
    pub day: i32,
    pub hour: i32,
    pub minute: i32,
    pub second: i32,
    pub microsecond: i32,
    /// UTC offset in microseconds (`None` for a naive datetime).
    pub offset_us: Option<i64>,
}

/// `int(datetime.fromisoformat(s).timestamp())` under TZ=UTC, `None` where Python raises.
pub fn fromisoformat_timestamp(s: &str) -> Option<i64> {
    parse(s)?.timestamp()
}

/// Whether `s` is a valid `fromisoformat` string that carries an explicit UTC offset
/// (`Z`, `+HH:MM`, …), as every real request does.
pub fn has_utc_offset(s: &str) -> bool {
    parse(s).is_some_and(|d| d.offset_us.is_some())
}

/// `datetime.fromisoformat(s)`, `None` where Python raises.
pub fn parse(s: &str) -> Option<IsoDateTime> {
    // `_sanitize_isoformat_str`: fewer than 7 code points is never valid. (Its surrogate
    // replacement cannot apply: a Rust `str` holds no surrogates.)
    if s.chars().count() < 7 {
        return None;
    }
    let b = s.as_bytes();
    let sep = find_separator(b)?;
    let (year, month, day) = parse_date(b, sep)?;
    let mut time = Time::default();
    if b.len() > sep {
        // The separator is any single code point; skip it by its UTF-8 lead byte.
        let lead = b[sep];
        let width = match lead {
            _ if lead & 0x80 == 0 => 1,
            _ if lead & 0xf0 == 0xe0 => 3,
            _ if lead & 0xf0 == 0xf0 => 4,
            _ => 2,
        };
        let rest = b.get(sep + width..).unwrap_or(&[]);
        time = parse_time(rest)?;
    }
    if let Some(off) = time.offset_us {
        // `timezone(timedelta)` requires strictly less than 24 hours either way.
        if off <= -86_400_000_000 || off >= 86_400_000_000 {
            return None;
        }
    }
    let dt = IsoDateTime {
        year,
        month,
        day,
        hour: time.hour,
        minute: time.minute,
        second: time.second,
        microsecond: time.microsecond,
        offset_us: time.offset_us,
    };
    dt.is_valid().then_some(dt)
}

impl IsoDateTime {
    /// The datetime constructor's range checks (`check_date_args`, `check_time_args`).
    fn is_valid(&self) -> bool {
        (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && (0..=23).contains(&self.hour)
            && (0..=59).contains(&self.minute)
            && (0..=59).contains(&self.second)
            && (0..=999_999).contains(&self.microsecond)
    }

    /// Seconds of the wall-clock fields since 1970-01-01T00:00 (no offset applied).
    fn wall_seconds(&self) -> i64 {
        let days = i64::from(ymd_to_ord(self.year, self.month, self.day)) - i64::from(EPOCH_ORD);
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
    }

    /// `int(self.timestamp())` under TZ=UTC, `None` where Python raises.
    pub fn timestamp(&self) -> Option<i64> {
        match self.offset_us {
            Some(off) => {
                // Aware: `(self - epoch).total_seconds()`, an exact integer of microseconds
                // divided by 10**6 with Python's correctly rounded true division.
                let total_us = self.wall_seconds() * 1_000_000 + i64::from(self.microsecond) - off;
                let mag = total_us.unsigned_abs();
                let sign = if total_us < 0 { "-" } else { "" };
                let text = format!("{sign}{}.{:06}", mag / 1_000_000, mag % 1_000_000);
                let secs: f64 = text.parse().ok()?;
                Some(secs.trunc() as i64)
            }
            None => {
                // Naive: `local_to_seconds` (UTC here) probes one day earlier to look for a
                // fold, and that probe fails on 0001-01-01 ("year 0 is out of range").
                if self.year == 1 && self.month == 1 && self.day == 1 {
                    return None;
                }
                // C: `seconds - EPOCH_SECONDS + microsecond / 1e6` in double arithmetic.
                let secs = self.wall_seconds() as f64 + f64::from(self.microsecond) / 1e6;
                Some(secs.trunc() as i64)
            }
        }
    }
}

#[derive(Default)]
struct Time {
    hour: i32,
    minute: i32,
    second: i32,
    microsecond: i32,
    offset_us: Option<i64>,
}

/// The byte at `i`, or NUL past the end (the C code reads a NUL-terminated buffer).
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

/// `parse_digits`: exactly `n` ASCII digits at `pos`; the position after them and the value.
fn digits(b: &[u8], pos: usize, n: usize) -> Option<(usize, i32)> {
    let mut v = 0i32;
    for i in 0..n {
        let c = at(b, pos + i);
        if !is_digit(c) {
            return None;
        }
        v = v * 10 + i32::from(c - b'0');
    }
    Some((pos + n, v))
}

/// `_find_isoformat_datetime_separator` (a byte index; `None` for its -1, which always leads
/// to an error in the date parse).
fn find_separator(b: &[u8]) -> Option<usize> {
    let len = b.len();
    if len == 7 {
        return Some(7);
    }
    if at(b, 4) == b'-' {
        if at(b, 5) == b'W' {
            if len < 8 {
                return None;
            }
            if len > 8 && at(b, 8) == b'-' {
                if len == 9 {
                    return None;
                }
                if len > 10 && is_digit(at(b, 10)) {
                    return Some(8);
                }
                return Some(10);
            }
            return Some(8);
        }
        return Some(10);
    }
    if at(b, 4) == b'W' {
        let mut idx = 7;
        while idx < len && is_digit(at(b, idx)) {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

/// `parse_isoformat_date`: `len` only bounds the ISO week form (as in C).
fn parse_date(b: &[u8], len: usize) -> Option<(i32, i32, i32)> {
    let (mut p, year) = digits(b, 0, 4)?;
    let uses_sep = at(b, p) == b'-';
    if uses_sep {
        p += 1;
    }
    if at(b, p) == b'W' {
        let (q, week) = digits(b, p + 1, 2)?;
        p = q;
        let mut iso_day = 1;
        if p < len {
            if uses_sep {
                if at(b, p) != b'-' {
                    return None;
                }
                p += 1;
            }
            iso_day = digits(b, p, 1)?.1;
        }
        return iso_to_ymd(year, week, iso_day);
    }
    let (q, month) = digits(b, p, 2)?;
    p = q;
    if uses_sep {
        if at(b, p) != b'-' {
            return None;
        }
        p += 1;
    }
    let (_, day) = digits(b, p, 2)?;
    Some((year, month, day))
}

/// `parse_hh_mm_ss_ff` over `b[start..end]` (reads past `end` as C does). Returns the fields
/// and C's return flag (`true` when it stopped before the end of the buffer).
fn parse_hh_mm_ss_ff(b: &[u8], start: usize, end: usize) -> Option<([i32; 4], bool)> {
    let mut vals = [0i32; 4];
    let mut p = start;
    let mut has_sep = true;
    for (i, slot) in vals.iter_mut().take(3).enumerate() {
        let (q, v) = digits(b, p, 2)?;
        *slot = v;
        p = q;
        let c = at(b, p);
        p += 1;
        if i == 0 {
            has_sep = c == b':';
        }
        if p >= end {
            return Some((vals, c != 0));
        } else if has_sep && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !has_sep {
            p -= 1;
        } else {
            return None;
        }
    }
    // C falls through to the fraction after three components even without a `.`.
    let remains = end.saturating_sub(p);
    let to_parse = remains.min(6);
    let (q, mut us) = digits(b, p, to_parse)?;
    p = q;
    const CORRECTION: [i32; 5] = [100_000, 10_000, 1_000, 100, 10];
    if to_parse < 6 {
        // `to_parse` is at least 1 here: `p < end` after the loop.
        us *= CORRECTION[to_parse.checked_sub(1)?];
    }
    vals[3] = us;
    while is_digit(at(b, p)) {
        p += 1;
    }
    Some((vals, at(b, p) != 0))
}

/// `parse_isoformat_time` over the whole remaining buffer `b`.
fn parse_time(b: &[u8]) -> Option<Time> {
    let end = b.len();
    let mut tz = 0;
    loop {
        let c = at(b, tz);
        if c == b'Z' || c == b'+' || c == b'-' {
            break;
        }
        tz += 1;
        if tz >= end {
            break;
        }
    }
    let (vals, rv) = parse_hh_mm_ss_ff(b, 0, tz)?;
    let mut t = Time { hour: vals[0], minute: vals[1], second: vals[2], microsecond: vals[3], offset_us: None };
    if tz == end {
        return if rv { None } else { Some(t) };
    }
    if at(b, tz) == b'Z' {
        if at(b, tz + 1) != 0 {
            return None;
        }
        t.offset_us = Some(0);
        return Some(t);
    }
    let sign: i64 = if at(b, tz) == b'-' { -1 } else { 1 };
    let (off, rv) = parse_hh_mm_ss_ff(b, tz + 1, end)?;
    if rv {
        return None;
    }
    let secs = i64::from(off[0]) * 3600 + i64::from(off[1]) * 60 + i64::from(off[2]);
    t.offset_us = Some(sign * (secs * 1_000_000 + i64::from(off[3])));
    Some(t)
}

const DAYS_BEFORE_MONTH: [i32; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
/// `ymd_to_ord(1970, 1, 1)`.
const EPOCH_ORD: i32 = 719_163;

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i32, m: i32) -> i32 {
    const DIM: [i32; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if m == 2 && is_leap(y) { 29 } else { DIM[m as usize] }
}

/// Proleptic Gregorian ordinal, 0001-01-01 is day 1 (`ymd_to_ord`, for years ≥ 1).
fn ymd_to_ord(y: i32, m: i32, d: i32) -> i32 {
    let py = y - 1;
    let before_year = py * 365 + py / 4 - py / 100 + py / 400;
    let before_month = DAYS_BEFORE_MONTH[m as usize] + i32::from(m > 2 && is_leap(y));
    before_year + before_month + d
}

/// The inverse of [`ymd_to_ord`] for ordinals ≥ 1.
fn ord_to_ymd(ordinal: i32) -> (i32, i32, i32) {
    const DI400Y: i32 = 146_097;
    const DI100Y: i32 = 36_524;
    const DI4Y: i32 = 1_461;
    let o = ordinal - 1;
    let n400 = o / DI400Y;
    let mut n = o % DI400Y;
    let n100 = n / DI100Y;
    n %= DI100Y;
    let n4 = n / DI4Y;
    n %= DI4Y;
    let n1 = n / 365;
    n %= 365;
    let year = n400 * 400 + 1 + n100 * 100 + n4 * 4 + n1;
    if n1 == 4 || n100 == 4 {
        return (year - 1, 12, 31);
    }
    let leap = n1 == 3 && (n4 != 24 || n100 == 3);
    let mut month = (n + 50) >> 5;
    let mut preceding = DAYS_BEFORE_MONTH[month as usize] + i32::from(month > 2 && leap);
    if preceding > n {
        month -= 1;
        preceding -= days_in_month(year, month);
    }
    (year, month, n - preceding + 1)
}

/// `iso_to_ymd`: ISO year, week, weekday → calendar date. ISO year 0 lies wholly before
/// 0001-01-01 (a Monday), so it can never give a valid datetime.
fn iso_to_ymd(iso_year: i32, week: i32, day: i32) -> Option<(i32, i32, i32)> {
    if iso_year < 1 {
        return None;
    }
    let first_day = ymd_to_ord(iso_year, 1, 1);
    let first_weekday = (first_day + 6) % 7; // 0 = Monday
    if week <= 0 || week >= 53 {
        let long_year = first_weekday == 3 || (first_weekday == 2 && is_leap(iso_year));
        if !(week == 53 && long_year) {
            return None;
        }
    }
    if !(1..=7).contains(&day) {
        return None;
    }
    let mut week1_monday = first_day - first_weekday;
    if first_weekday > 3 {
        week1_monday += 7;
    }
    Some(ord_to_ymd(week1_monday + (week - 1) * 7 + day - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(input, int(fromisoformat(input).timestamp()) or None)`, generated with CPython 3.11.7
    /// under TZ=UTC by `tests/data/gen_isotime.py`.
    const TABLE: &str = include_str!("../../tests/data/isotime_py311.tsv");

    #[test]
    fn readme_examples() {
        assert_eq!(fromisoformat_timestamp("2025-03-04T12:34:00+00:00"), Some(1741091640));
        assert_eq!(fromisoformat_timestamp("2025-03-04T12:34:00Z"), Some(1741091640));
        assert_eq!(fromisoformat_timestamp("2025-03-04T14:34:00+02:00"), Some(1741091640));
        assert_eq!(fromisoformat_timestamp("2025-03-04 12:34:00"), Some(1741091640));
        assert_eq!(fromisoformat_timestamp("20250304T123400Z"), Some(1741091640));
        assert_eq!(fromisoformat_timestamp("2025-W10-2T12:34:00+00:00"), Some(1741091640));
        assert_eq!(fromisoformat_timestamp("2025-03-04"), Some(1741046400));
        assert_eq!(fromisoformat_timestamp("1969-12-31T23:59:59.5+00:00"), Some(0));
        assert_eq!(fromisoformat_timestamp("2025-03-04T12:34:59,999999+00:00"), Some(1741091699));
        for bad in [
            "",
            "not a date",
            "2025-02-30T00:00:00+00:00",
            "2025-03-04T24:00:00",
            "2025-03-04t12:34",
            "2025-03-04T12:34z",
        ] {
            if bad == "2025-03-04t12:34" {
                // Any character separates date and time in 3.11, lowercase `t` included.
                assert!(fromisoformat_timestamp(bad).is_some());
                continue;
            }
            assert_eq!(fromisoformat_timestamp(bad), None, "{bad:?}");
        }
        assert!(has_utc_offset("2025-03-04T12:34:00+05:30"));
        assert!(has_utc_offset("2025-03-04T12:34:00Z"));
        assert!(!has_utc_offset("2025-03-04T12:34:00"));
        assert!(!has_utc_offset("garbage+00:00"));
    }

    #[test]
    fn matches_cpython_table() {
        let mut bad = Vec::new();
        let mut n = 0;
        for line in TABLE.lines() {
            let Some((input, want)) = line.rsplit_once('\t') else {
                continue;
            };
            let input: String = serde_json::from_str(input).expect("table input is a JSON string");
            let want: Option<i64> = if want == "None" { None } else { Some(want.parse().expect("int")) };
            n += 1;
            let got = fromisoformat_timestamp(&input);
            if got != want {
                bad.push(format!("{input:?}: want {want:?}, got {got:?}"));
            }
        }
        assert!(n > 1000, "table too small: {n}");
        assert!(bad.is_empty(), "{} of {n} differ:\n{}", bad.len(), bad.join("\n"));
    }
}
