//! One `miner_predictions` row as a tuple of `COPY … FROM STDIN (FORMAT binary)`.
//!
//! In: the row's ids, its verdict, its process time and, for a CORRECT miner, its prices. Out: one
//! tuple of PostgreSQL's binary COPY format appended to a buffer, in [`COLUMNS`] order, holding
//! what the validator's own `save_responses` would have stored for that miner:
//!
//! - `prediction`: CORRECT → the whole reply as jsonb text ([`super::jsonb`]), or with the
//!   Bigtable storage `{"stored": "bigtable"}`; anything else → `[]`. A CORRECT reply holding a
//!   price JSON has no form for (NaN, ±Infinity: only the v2 rules accept them) is stored as `[]`
//!   too, and counted: upstream's whole INSERT would fail on it, and its scoring treats an empty
//!   prediction as a failed reply.
//! - `bigtable_key`: `ASSET#START_UNIX#MINER_ID` (miner id zero-padded to 6) for a CORRECT row
//!   under the Bigtable storage, NULL otherwise.
//!
//! Binary, not text: each field is its length and its bytes, so the server neither scans the
//! ~2.5 MB of a row for delimiters nor unescapes it (measured on `lf-full`: see the README), and
//! nothing a miner sends can end a field early. A `json` field's binary form is its text.

use crate::columns::RowText;

/// The columns every tuple fills, in order.
pub const COLUMNS: &str =
    "validator_requests_id, miner_uid, miner_id, prediction, format_validation, process_time, bigtable_key";

/// The stream's first bytes: the signature, no flags, no header extension.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The stream's last bytes: a field count of -1.
pub const TRAILER: &[u8] = &[0xff, 0xff];

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

/// The request-wide values of every tuple.
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
    /// How the reply wrote them (its tokens, or which were ints), when known.
    pub text: RowText<'a>,
}

/// What became of a tuple's prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The whole reply (or the Bigtable sentinel).
    Prediction,
    /// `[]`: the miner was not CORRECT.
    Empty,
    /// `[]`: CORRECT, but a price has no JSON form.
    Unstorable,
}

/// Appends `line` to `out` as one binary COPY tuple.
pub fn write_line(out: &mut Vec<u8>, ctx: &LineContext<'_>, line: &Line<'_>) -> Stored {
    out.extend_from_slice(&7i16.to_be_bytes());
    field(out, &ctx.validator_requests_id.to_be_bytes());
    field(out, &i32::from(line.uid).to_be_bytes());
    field(out, &line.miner_id.to_be_bytes());
    let stored = match line.prices {
        Some(p) if !p.iter().all(|v| v.is_finite()) => Stored::Unstorable,
        Some(_) => Stored::Prediction,
        None => Stored::Empty,
    };
    // The prediction is written in place after a length placeholder, then the length is set.
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut key = None;
    match (stored, ctx.storage, line.prices) {
        (Stored::Prediction, Storage::Json, Some(prices)) => {
            super::jsonb::write_prediction_as(out, ctx.start_unix, ctx.increment, ctx.points, prices, line.text);
        }
        (Stored::Prediction, Storage::Bigtable, _) => {
            out.extend_from_slice(BIGTABLE_SENTINEL.as_bytes());
            key = Some(bigtable_key(ctx.asset, ctx.start_unix, line.miner_id));
        }
        _ => out.extend_from_slice(b"[]"),
    }
    // A field over 2 GiB cannot be sent; no prediction comes near (a 1000 × 289 row is 2.5 MB).
    let len = i32::try_from(out.len() - at - 4).unwrap_or(i32::MAX);
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    text_field(out, line.format_validation);
    match line.process_time_s {
        Some(s) if s.is_finite() => field(out, &s.to_bits().to_be_bytes()),
        _ => null(out),
    }
    match key {
        Some(k) => text_field(out, &k),
        None => null(out),
    }
    stored
}

/// Upstream's Bigtable row key: `ASSET#START_UNIX#MINER_ID`, the id zero-padded to 6 digits.
pub fn bigtable_key(asset: &str, start_unix: i64, miner_id: i64) -> String {
    format!("{asset}#{start_unix}#{miner_id:06}")
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    // A field over 2 GiB cannot be sent; no prediction comes near (a 1000 × 289 row is 2.5 MB).
    let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..len as usize]);
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

/// A text field: NUL, which no PostgreSQL text can hold, becomes U+FFFD (a verdict quotes what a
/// miner sent).
fn text_field(out: &mut Vec<u8>, text: &str) {
    if text.contains('\0') {
        field(out, text.replace('\0', "\u{FFFD}").as_bytes());
    } else {
        field(out, text.as_bytes());
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

    /// A tuple's fields back (`None` for NULL).
    fn fields(mut b: &[u8]) -> Vec<Option<Vec<u8>>> {
        let n = i16::from_be_bytes([b[0], b[1]]);
        b = &b[2..];
        let mut out = Vec::new();
        for _ in 0..n {
            let len = i32::from_be_bytes(b[..4].try_into().unwrap());
            b = &b[4..];
            if len < 0 {
                out.push(None);
            } else {
                out.push(Some(b[..len as usize].to_vec()));
                b = &b[len as usize..];
            }
        }
        assert!(b.is_empty(), "bytes after the tuple");
        out
    }

    fn text(f: &Option<Vec<u8>>) -> &str {
        std::str::from_utf8(f.as_deref().unwrap()).unwrap()
    }

    fn line(
        storage: Storage,
        prices: Option<&[f64]>,
        verdict: &str,
        pt: Option<f64>,
    ) -> (Vec<Option<Vec<u8>>>, Stored) {
        let mut out = Vec::new();
        let l = Line {
            uid: 3,
            miner_id: 42,
            format_validation: verdict,
            process_time_s: pt,
            prices,
            text: RowText::Doubles,
        };
        let stored = write_line(&mut out, &ctx(storage), &l);
        (fields(&out), stored)
    }

    #[test]
    fn tuples_hold_the_validators_values() {
        let (f, st) = line(Storage::Json, Some(&[1.0, 2.5, 1e-5, 4.0]), "CORRECT", Some(0.123));
        assert_eq!(st, Stored::Prediction);
        assert_eq!(f[0].as_deref(), Some(&7i64.to_be_bytes()[..]));
        assert_eq!(f[1].as_deref(), Some(&3i32.to_be_bytes()[..]));
        assert_eq!(f[2].as_deref(), Some(&42i64.to_be_bytes()[..]));
        assert_eq!(text(&f[3]), "[1795521660, 60, [1.0, 2.5], [0.00001, 4.0]]");
        assert_eq!(text(&f[4]), "CORRECT");
        assert_eq!(f[5].as_deref(), Some(&0.123f64.to_bits().to_be_bytes()[..]));
        assert_eq!(f[6], None);
        let (f, st) = line(Storage::Json, None, "Response is empty", None);
        assert_eq!((text(&f[3]), st, f[5].clone()), ("[]", Stored::Empty, None));
        let (f, st) = line(Storage::Json, Some(&[1.0, f64::NAN, 1.0, 1.0]), "CORRECT", Some(1.5));
        assert_eq!((text(&f[3]), st), ("[]", Stored::Unstorable));
        let (f, _) = line(Storage::Json, None, "got a\tb\\c\nd\0", Some(2.0));
        assert_eq!(text(&f[4]), "got a\tb\\c\nd\u{FFFD}");
    }

    #[test]
    fn bigtable_rows_hold_the_sentinel_and_key() {
        let (f, st) = line(Storage::Bigtable, Some(&[1.0]), "CORRECT", Some(0.5));
        assert_eq!(st, Stored::Prediction);
        assert_eq!(text(&f[3]), r#"{"stored": "bigtable"}"#);
        assert_eq!(text(&f[6]), "BTC#1795521660#000042");
        let (f, _) = line(Storage::Bigtable, None, "Response is empty", None);
        assert_eq!((text(&f[3]), f[6].clone()), ("[]", None));
        assert_eq!(bigtable_key("ETH", 1, 1234567), "ETH#1#1234567");
    }

    #[test]
    fn the_stream_is_framed_as_postgres_expects() {
        assert_eq!(HEADER.len(), 19);
        assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(TRAILER, (-1i16).to_be_bytes());
    }
}
