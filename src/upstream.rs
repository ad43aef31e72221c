//! The upstream return shape: what today's Synth validator's dendrite workers hand back per miner.
//!
//! In: a cycle's record batch (rows by uid, `schemas/output.md`) and its request. Out: per queried
//! miner, **in the request's axon order** (the order `sync_forward_multiprocess` returns),
//! upstream's `[output, format_validation, process_time]`:
//!
//! - `format_validation`: the verdict string, exactly as stored;
//! - `process_time`: Python's `str()` of the call's seconds (upstream sets
//!   `str(time.time() - start_time)` once the reply is processed), `None` when the reply never
//!   arrived (the "time out or internal server error" verdict);
//! - `output`: for a CORRECT miner its prices (`[start, increment, path…]`), or, with
//!   `float32_output`, the float32 blob upstream's Bigtable storage keeps ([`encode_paths`]).
//!   For any other miner this engine gives `None` in both forms. (Upstream's `float32_output`
//!   form gives `None` too; its plain form hands back whatever the reply held, which no caller
//!   stores: a failed reply is saved as an empty prediction.)
//!
//! The blob is little-endian IEEE float32, paths × points row-major, no header: each price's
//! double rounded to the nearest float32 (`as f32`: round half to even, what NumPy's
//! `astype(float32)` does). The v3 conformance corpus pins it byte for byte (its
//! `float32_sha256`, `tests/conformance.rs`).

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int32Type, UInt16Type};
use arrow::record_batch::RecordBatch;

use crate::batch::col;
use crate::columns::RowText;
use crate::decode::pyrepr;
use crate::request::CycleRequest;

/// A CORRECT miner's prices (path after path) as upstream's float32 blob.
pub fn encode_paths(prices: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prices.len() * 4);
    encode_paths_into(prices, &mut out);
    out
}

/// [`encode_paths`] appended to `out` (reusing its allocation).
pub fn encode_paths_into(prices: &[f64], out: &mut Vec<u8>) {
    out.reserve(prices.len() * 4);
    out.extend(prices.iter().flat_map(|&p| (p as f32).to_le_bytes()));
}

/// One queried miner's result, borrowed from the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct MinerResult<'a> {
    pub uid: u16,
    pub hotkey: &'a str,
    pub format_validation: &'a str,
    /// The call's seconds as Python's `str()` prints them; `None` when the reply never arrived.
    pub process_time: Option<String>,
    /// A CORRECT miner's prices, path after path (`paths × points`); `None` otherwise.
    pub prices: Option<&'a [f64]>,
}

impl MinerResult<'_> {
    /// The float32 blob of a CORRECT miner (upstream's `float32_output=True` output).
    pub fn float32(&self) -> Option<Vec<u8>> {
        self.prices.map(encode_paths)
    }
}

/// Why a batch cannot be read as a cycle's results.
#[derive(Debug, thiserror::Error)]
#[error("not a cycle batch: {0}")]
pub struct ResultsError(String);

/// Every queried miner's result, in the request's axon order.
pub fn results<'a>(batch: &'a RecordBatch, request: &CycleRequest) -> Result<Vec<MinerResult<'a>>, ResultsError> {
    let column = |name: &str| batch.column_by_name(name).ok_or_else(|| ResultsError(format!("no `{name}` column")));
    let wrong = |name: &str| ResultsError(format!("`{name}` has an unexpected type"));
    let uid = column(col::UID)?.as_primitive_opt::<UInt16Type>().ok_or_else(|| wrong(col::UID))?;
    let hotkey = column(col::HOTKEY)?.as_string_opt::<i32>().ok_or_else(|| wrong(col::HOTKEY))?;
    let verdict = column(col::FORMAT_VALIDATION)?
        .as_dictionary_opt::<Int32Type>()
        .ok_or_else(|| wrong(col::FORMAT_VALIDATION))?;
    let verdict_text = verdict.values().as_string_opt::<i32>().ok_or_else(|| wrong(col::FORMAT_VALIDATION))?;
    let process_time =
        column(col::PROCESS_TIME_S)?.as_primitive_opt::<Float64Type>().ok_or_else(|| wrong(col::PROCESS_TIME_S))?;
    let paths = column(col::PATHS)?.as_fixed_size_list_opt().ok_or_else(|| wrong(col::PATHS))?;
    let per_path = paths.values().as_fixed_size_list_opt().ok_or_else(|| wrong(col::PATHS))?;
    let prices = per_path.values().as_primitive_opt::<Float64Type>().ok_or_else(|| wrong(col::PATHS))?.values();
    let slot_len = paths.value_length() as usize * per_path.value_length() as usize;
    let uids = uid.values();

    request
        .axons
        .iter()
        .map(|axon| {
            // Rows are sorted by uid.
            let r = uids.binary_search(&axon.uid).map_err(|_| ResultsError(format!("no row for uid {}", axon.uid)))?;
            let key = verdict.keys().value(r);
            let text = verdict_text.value(usize::try_from(key).map_err(|_| wrong(col::FORMAT_VALIDATION))?);
            let at = (paths.offset() + r) * slot_len;
            Ok(MinerResult {
                uid: axon.uid,
                hotkey: hotkey.value(r),
                format_validation: text,
                process_time: process_time.is_valid(r).then(|| pyrepr::float_repr(process_time.value(r))),
                prices: paths.is_valid(r).then(|| &prices[at..at + slot_len]),
            })
        })
        .collect()
}

/// Appends one result as a JSON object line (`schemas/upstream.md`): `uid`, `hotkey`,
/// `format_validation`, `process_time` and `output`. The output is upstream's value as
/// Python's `json.dumps` prints it — `[start, increment, [p, …], …]` with each price's `repr`
/// (`NaN`/`Infinity` as Python writes them; only v2 lets those through) — or, with `float32`,
/// the blob in standard base64; `null` for a miner that is not CORRECT.
pub fn write_json_line(r: &MinerResult<'_>, request: &CycleRequest, start: i64, float32: bool, out: &mut String) {
    use std::fmt::Write;
    let json = |s: &str| serde_json::to_string(s).expect("a string serialises");
    write!(
        out,
        r#"{{"uid":{},"hotkey":{},"format_validation":{},"process_time":{},"output":"#,
        r.uid,
        json(r.hotkey),
        json(r.format_validation),
        r.process_time.as_deref().map_or_else(|| "null".to_owned(), json),
    )
    .expect("writing to a String");
    match r.prices {
        None => out.push_str("null"),
        Some(prices) if float32 => {
            use base64::Engine;
            out.push('"');
            base64::engine::general_purpose::STANDARD.encode_string(encode_paths(prices), out);
            out.push('"');
        }
        Some(prices) => {
            let si = &request.simulation_input;
            // A checked request has time_increment > 0 and time_length >= 0: at least one point.
            let points = usize::try_from(si.time_length / si.time_increment + 1).unwrap_or(1);
            write_prediction(out, start, si.time_increment, points, prices, |out: &mut String, _, p| match p {
                p if p.is_nan() => out.push_str("NaN"),
                f64::INFINITY => out.push_str("Infinity"),
                f64::NEG_INFINITY => out.push_str("-Infinity"),
                p => pyrepr::write_float_repr(out, p),
            });
        }
    }
    out.push_str("}\n");
}

/// A buffer a prediction is written into: a `String` (the upstream-shape lines) or bytes (a COPY
/// tuple, `sink::postgres`).
pub trait TextBuf {
    fn push_text(&mut self, s: &str);
}

impl TextBuf for String {
    fn push_text(&mut self, s: &str) {
        self.push_str(s);
    }
}

impl TextBuf for Vec<u8> {
    fn push_text(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

/// Appends a CORRECT miner's value, `[start, increment, [p, …], …]` with `", "` between
/// elements (Python's `json.dumps` layout, which jsonb's rendering keeps), each price printed by
/// `price(out, index, value)`: Python's repr here, jsonb's numeric text for the validator's
/// database (`sink::postgres::jsonb`).
pub fn write_prediction<W: TextBuf>(
    out: &mut W,
    start: i64,
    increment: i64,
    points: usize,
    prices: &[f64],
    mut price: impl FnMut(&mut W, usize, f64),
) {
    out.push_text(&format!("[{start}, {increment}"));
    let points = points.max(1);
    for (p, path) in prices.chunks(points).enumerate() {
        out.push_text(", [");
        for (k, &v) in path.iter().enumerate() {
            if k > 0 {
                out.push_text(", ");
            }
            price(out, p * points + k, v);
        }
        out.push_text("]");
    }
    out.push_text("]");
}

/// The Python int an integral double came from: an `i64` where it fits (`-0` is 0), else the
/// double's own digits. One rule for every place that hands an int price on (the database's
/// jsonb text, the Python binding's int objects), so they cannot disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PythonInt {
    Small(i64),
    Digits(String),
}

pub fn python_int(v: f64) -> PythonInt {
    if v.abs() < 9.2e18 { PythonInt::Small(v as i64) } else { PythonInt::Digits(format!("{v:.0}")) }
}

/// Which of a CORRECT row's prices the validator holds as Python ints (a miner that sent `91234`
/// rather than `91234.0`): their indexes (ascending, path after path) into `ints`, and for an int
/// of more than 15 digits, whose double is not the int, its exact digits into `long`. Cleared
/// first. For a row read back from the columns ([`RowText::Doubles`]) nothing is known: none.
pub fn int_prices(text: RowText<'_>, ints: &mut Vec<u32>, long: &mut Vec<(u32, String)>) {
    ints.clear();
    long.clear();
    match text {
        RowText::Ints(at) => ints.extend_from_slice(at),
        RowText::Tokens(raw) => {
            // `[start, increment, [p, …], …]`: the prices begin at the first nested `[`.
            let Some(head) = raw.iter().skip(1).position(|&c| c == b'[') else { return };
            let mut k = 0u32;
            for token in raw[head + 1..].split(|&c| matches!(c, b',' | b'[' | b']')) {
                let t = token.trim_ascii();
                if t.is_empty() {
                    continue;
                }
                let digits = t.strip_prefix(b"-").unwrap_or(t);
                if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
                    ints.push(k);
                    if digits.len() > 15 {
                        long.push((k, String::from_utf8_lossy(t).into_owned()));
                    }
                }
                k += 1;
            }
        }
        RowText::Doubles => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_prices_reads_the_reply_tokens() {
        let (mut at, mut long) = (Vec::new(), Vec::new());
        let raw = b"[1795521660,60,[91234,91234.5,-0,1e5],[7,12345678901234567890, 2.0]]";
        int_prices(RowText::Tokens(raw), &mut at, &mut long);
        assert_eq!(at, [0, 2, 4, 5]);
        assert_eq!(long, [(5, "12345678901234567890".to_owned())]);
        // Refilled, not appended to; the exact path's indexes pass through; doubles know none.
        int_prices(RowText::Ints(&[3, 9]), &mut at, &mut long);
        assert_eq!((at.as_slice(), long.len()), (&[3u32, 9][..], 0));
        int_prices(RowText::Doubles, &mut at, &mut long);
        assert!(at.is_empty());
        int_prices(RowText::Tokens(b"[1,60,[]]"), &mut at, &mut long);
        assert!(at.is_empty());
    }
}
