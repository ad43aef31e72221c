//! One `miner_predictions` row as a line of `COPY … FROM STDIN` text.
//!
//! In: the row's ids, its verdict, its process time and, for a CORRECT miner, its prices. Out: one
//! line of PostgreSQL's COPY text format appended to a buffer, in [`COLUMNS`] order, holding what
//! the validator's own `save_responses` would have stored for that miner:
//!
//! - `prediction`: CORRECT → the whole reply as jsonb text ([`super::jsonb`]), or with the
//!   Bigtable storage `{"stored": "bigtable"}`; anything else → `[]`. A CORRECT reply holding a
//!   price JSON has no form for (NaN, ±Infinity: only the v2 rules accept them) is stored as `[]`
//!   too, and counted: upstream's whole INSERT would fail on it, and its scoring treats an empty
//!   prediction as a failed reply.
//! - `bigtable_key`: `ASSET#START_UNIX#MINER_ID` (miner id zero-padded to 6) for a CORRECT row
//!   under the Bigtable storage, NULL otherwise.
//!
//! Nothing a miner sends reaches this text unescaped: prices are numbers we print, and the verdict
//! (which quotes a miner's value) goes through [`escape`].

use std::fmt::Write;

/// The columns every line fills, in order.
pub const COLUMNS: &str =
    "validator_requests_id, miner_uid, miner_id, prediction, format_validation, process_time, bigtable_key";

/// How a CORRECT miner's prices are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// In the row, as the validator's jsonb text (the validator's default backend).
    Json,
    /// Outside Postgres, as upstream's float32 blob (its Bigtable backend; the blobs stay in the
    /// Parquet file): the row holds the sentinel and the key.
    Bigtable,
}

impl Storage {
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Json => "json",
            Storage::Bigtable => "bigtable",
        }
    }
}

/// The sentinel upstream's Bigtable backend stores in `prediction` (jsonb text).
pub const BIGTABLE_SENTINEL: &str = r#"{"stored": "bigtable"}"#;

/// The request-wide values of every line.
#[derive(Clone, Debug)]
pub struct LineContext<'a> {
    pub validator_requests_id: i64,
    pub storage: Storage,
    /// The reply's first two elements, as a CORRECT reply holds them.
    pub start_unix: i64,
    pub increment: i64,
    pub points: usize,
    pub asset: &'a str,
}

/// One miner's values.
pub struct Line<'a> {
    pub uid: u16,
    pub miner_id: i64,
    pub format_validation: &'a str,
    pub process_time_s: Option<f64>,
    /// The prices of a CORRECT miner; `None` for any other verdict.
    pub prices: Option<&'a [f64]>,
}

/// What became of a line's prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The whole reply (or the Bigtable sentinel).
    Prediction,
    /// `[]`: the miner was not CORRECT.
    Empty,
    /// `[]`: CORRECT, but a price has no JSON form.
    Unstorable,
}

/// Appends `line` to `out` as one COPY text line (ending in `\n`).
pub fn write_line(out: &mut String, ctx: &LineContext<'_>, line: &Line<'_>) -> Stored {
    let _ = write!(out, "{}\t{}\t{}\t", ctx.validator_requests_id, line.uid, line.miner_id);
    let stored = match line.prices {
        Some(p) if !p.iter().all(|v| v.is_finite()) => Stored::Unstorable,
        Some(_) => Stored::Prediction,
        None => Stored::Empty,
    };
    let mut key = None;
    match (stored, ctx.storage, line.prices) {
        (Stored::Prediction, Storage::Json, Some(prices)) => {
            super::jsonb::write_prediction(out, ctx.start_unix, ctx.increment, ctx.points, prices);
        }
        (Stored::Prediction, Storage::Bigtable, _) => {
            out.push_str(BIGTABLE_SENTINEL);
            key = Some(bigtable_key(ctx.asset, ctx.start_unix, line.miner_id));
        }
        _ => out.push_str("[]"),
    }
    out.push('\t');
    escape(out, line.format_validation);
    out.push('\t');
    match line.process_time_s {
        // Rust prints the shortest text that reads back as the same double, as Python's `str`
        // (which the validator hands the driver) does.
        Some(s) if s.is_finite() => {
            let _ = write!(out, "{s}");
        }
        _ => out.push_str("\\N"),
    }
    out.push('\t');
    match key {
        Some(k) => escape(out, &k),
        None => out.push_str("\\N"),
    }
    out.push('\n');
    stored
}

/// Upstream's Bigtable row key: `ASSET#START_UNIX#MINER_ID`, the id zero-padded to 6 digits.
pub fn bigtable_key(asset: &str, start_unix: i64, miner_id: i64) -> String {
    format!("{asset}#{start_unix}#{miner_id:06}")
}

/// Appends `text` as one COPY text field: backslash, tab, newline and carriage return escaped
/// (the only bytes that could end a field or a line early); NUL, which no text column can hold,
/// becomes U+FFFD.
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(storage: Storage) -> LineContext<'static> {
        LineContext {
            validator_requests_id: 7,
            storage,
            start_unix: 1795521660,
            increment: 60,
            points: 2,
            asset: "BTC",
        }
    }

    fn line(prices: Option<&[f64]>, verdict: &'static str, pt: Option<f64>) -> (String, Stored) {
        let mut s = String::new();
        let stored = write_line(
            &mut s,
            &ctx(Storage::Json),
            &Line { uid: 3, miner_id: 42, format_validation: verdict, process_time_s: pt, prices },
        );
        (s, stored)
    }

    #[test]
    fn lines_hold_the_validators_values() {
        let (s, st) = line(Some(&[1.0, 2.5, 1e-5, 4.0]), "CORRECT", Some(0.123));
        assert_eq!(s, "7\t3\t42\t[1795521660, 60, [1.0, 2.5], [0.00001, 4.0]]\tCORRECT\t0.123\t\\N\n");
        assert_eq!(st, Stored::Prediction);
        let (s, st) = line(None, "Response is empty", None);
        assert_eq!(s, "7\t3\t42\t[]\tResponse is empty\t\\N\t\\N\n");
        assert_eq!(st, Stored::Empty);
        let (s, st) = line(Some(&[1.0, f64::NAN, 1.0, 1.0]), "CORRECT", Some(1.5));
        assert_eq!(s, "7\t3\t42\t[]\tCORRECT\t1.5\t\\N\n");
        assert_eq!(st, Stored::Unstorable);
        let (s, _) = line(None, "got a\tb\\c\nd\re\0", Some(2.0));
        assert_eq!(s, "7\t3\t42\t[]\tgot a\\tb\\\\c\\nd\\re\u{FFFD}\t2\t\\N\n");
    }

    #[test]
    fn bigtable_rows_hold_the_sentinel_and_key() {
        let mut s = String::new();
        let l = Line {
            uid: 3,
            miner_id: 42,
            format_validation: "CORRECT",
            process_time_s: Some(0.5),
            prices: Some(&[1.0]),
        };
        assert_eq!(write_line(&mut s, &ctx(Storage::Bigtable), &l), Stored::Prediction);
        assert_eq!(s, "7\t3\t42\t{\"stored\": \"bigtable\"}\tCORRECT\t0.5\tBTC#1795521660#000042\n");
        assert_eq!(bigtable_key("ETH", 1, 1234567), "ETH#1#1234567");
    }
}
