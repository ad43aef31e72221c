//! Python 3.11 `datetime.fromisoformat(s).timestamp()` truncated to an int, as the validator
//! computes the expected start time. (TZ=UTC: a time without an offset is read as UTC.)
//!
//! In: the request's `start_time` string. Out: whole seconds since the Unix epoch, or `None`
//! where Python would raise.

/// `int(datetime.fromisoformat(s).timestamp())` under TZ=UTC, `None` where Python raises.
pub fn fromisoformat_timestamp(s: &str) -> Option<i64> {
    let _ = s;
    todo!("isotime: owned by the exact-decoder work")
}

/// Whether `s` carries an explicit UTC offset (`Z`, `+HH:MM`, …), as every real request does.
pub fn has_utc_offset(s: &str) -> bool {
    let t = s.rfind(['T', ' ']).map_or(s, |i| &s[i..]);
    t.ends_with('Z') || t.contains('+') || t[1.min(t.len())..].contains('-')
}
