//! Price files: CSV or Parquet, one row per asset and time (`schemas/prices.md`).
//!
//! In: a file path (the format from its extension, `.csv` or `.parquet`), and optionally the asset
//! its rows belong to when the file has no `asset` column (`--prices BTC=btc.csv`). Out: its rows
//! as `(asset, unix seconds, price)`, a missing price as NaN; or, for [`write_file`], such rows
//! written whole or not at all.
//!
//! Columns are found by name, in any order; other columns are ignored. `timestamp` is whole Unix
//! seconds or an ISO 8601 time with a UTC offset (CSV), or an integer of seconds or any Arrow
//! timestamp (Parquet). A price that is empty, `NaN` or null is missing; an infinite one is an
//! error. Each bad line is reported with its number: a price file decides every score of a cycle,
//! so nothing in it is guessed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray, TimestampSecondArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::request::isotime;

/// A price file and, when its rows carry no `asset` column, their asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceSource {
    pub path: PathBuf,
    pub asset: Option<String>,
}

impl std::str::FromStr for PriceSource {
    type Err = String;

    /// `FILE`, or `ASSET=FILE` for a file without an `asset` column. A name that exists as a file
    /// is always a file (a path may hold `=`).
    fn from_str(s: &str) -> Result<PriceSource, String> {
        if let Some((asset, path)) = s.split_once('=')
            && !Path::new(s).exists()
            && crate::request::is_plain_asset(asset)
            && !path.is_empty()
        {
            return Ok(PriceSource { path: path.into(), asset: Some(asset.to_owned()) });
        }
        Ok(PriceSource { path: s.into(), asset: None })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PriceFileError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    #[error("{}, line {line}: {msg}", path.display())]
    Line { path: PathBuf, line: usize, msg: String },
    #[error("asset {asset} at {t}: two different prices ({a} and {b}) in the price files")]
    Conflict { asset: String, t: i64, a: f64, b: f64 },
}

/// Whether a path names a Parquet file (else CSV).
fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Every row of `source` (module doc).
pub fn read(source: &PriceSource) -> Result<Vec<(String, i64, f64)>, PriceFileError> {
    if is_parquet(&source.path) { read_parquet(source) } else { read_csv(source) }
}

fn read_csv(source: &PriceSource) -> Result<Vec<(String, i64, f64)>, PriceFileError> {
    let path = &source.path;
    let text = std::fs::read_to_string(path).map_err(|e| PriceFileError::Io { path: path.clone(), source: e })?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let bad = |line: usize, msg: String| PriceFileError::Line { path: path.clone(), line: line + 1, msg };
    let (_, header) =
        lines.next().ok_or_else(|| PriceFileError::Format { path: path.clone(), msg: "the file is empty".into() })?;
    let names: Vec<String> = header.split(',').map(|f| unquote(f).to_ascii_lowercase()).collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    let missing = |name: &str| PriceFileError::Format {
        path: path.clone(),
        msg: format!("no `{name}` column in the header (columns: asset, timestamp, price)"),
    };
    let t_col = find("timestamp").ok_or_else(|| missing("timestamp"))?;
    let p_col = find("price").ok_or_else(|| missing("price"))?;
    let a_col = match (&source.asset, find("asset")) {
        (_, Some(c)) => Some(c),
        (Some(_), None) => None,
        (None, None) => return Err(missing("asset")),
    };
    let mut rows = Vec::new();
    for (n, line) in lines {
        let fields: Vec<&str> = line.split(',').map(unquote).collect();
        if fields.len() != names.len() {
            return Err(bad(n, format!("{} fields, the header has {}", fields.len(), names.len())));
        }
        let asset = match (a_col, &source.asset) {
            // Given an asset and a file of several, only that asset's rows are read.
            (Some(c), Some(a)) if fields[c] != a.as_str() => continue,
            (Some(c), _) => fields[c].to_owned(),
            (None, Some(a)) => a.clone(),
            (None, None) => unreachable!("checked with the header"),
        };
        if !crate::request::is_plain_asset(&asset) {
            return Err(bad(n, format!("asset {asset:?} is not a plain name")));
        }
        let t = parse_time(fields[t_col]).map_err(|m| bad(n, m))?;
        let price = parse_price(fields[p_col]).map_err(|m| bad(n, m))?;
        rows.push((asset, t, price));
    }
    Ok(rows)
}

fn unquote(field: &str) -> &str {
    let f = field.trim();
    f.strip_prefix('"').and_then(|f| f.strip_suffix('"')).unwrap_or(f)
}

/// Whole Unix seconds, or an ISO 8601 time with a UTC offset on a whole second.
pub fn parse_time(field: &str) -> Result<i64, String> {
    if let Ok(t) = field.parse::<i64>() {
        return Ok(t);
    }
    let parsed = isotime::parse(field)
        .filter(|p| p.offset_us.is_some())
        .ok_or_else(|| format!("timestamp {field:?} is neither Unix seconds nor an ISO 8601 time with a UTC offset"))?;
    if parsed.microsecond != 0 {
        return Err(format!("timestamp {field:?} is not on a whole second"));
    }
    parsed.timestamp().ok_or_else(|| format!("timestamp {field:?} is out of range"))
}

fn parse_price(field: &str) -> Result<f64, String> {
    if field.is_empty() || field.eq_ignore_ascii_case("nan") || field.eq_ignore_ascii_case("null") {
        return Ok(f64::NAN);
    }
    match field.parse::<f64>() {
        Ok(p) => check_price(p).map_err(|m| format!("price {field:?} {m}")),
        Err(_) => Err(format!("price {field:?} is not a number")),
    }
}

/// A known price must be finite and above zero: one 0 would make every return of its cycle
/// infinite and every miner −1, with nothing saying why.
fn check_price(p: f64) -> Result<f64, &'static str> {
    if !p.is_finite() {
        Err("is not finite")
    } else if p <= 0.0 {
        Err("is not above zero")
    } else {
        Ok(p)
    }
}

fn read_parquet(source: &PriceSource) -> Result<Vec<(String, i64, f64)>, PriceFileError> {
    let path = &source.path;
    let fmt = |msg: String| PriceFileError::Format { path: path.clone(), msg };
    let file = std::fs::File::open(path).map_err(|e| PriceFileError::Io { path: path.clone(), source: e })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(64 * 1024).build())
        .map_err(|e| fmt(format!("not a readable Parquet file: {e}")))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| fmt(format!("reading: {e}")))?;
        rows.extend(rows_of_batch(&batch, source.asset.as_deref()).map_err(fmt)?);
    }
    Ok(rows)
}

/// The rows of one record batch of prices (`asset`, `timestamp`, `price` by name, any case; the
/// asset given stands in for a missing `asset` column): a Parquet file's, or one handed over from
/// Python.
pub fn rows_of_batch(batch: &RecordBatch, asset: Option<&str>) -> Result<Vec<(String, i64, f64)>, String> {
    let column = |name: &str| {
        batch
            .schema()
            .fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name))
            .map(|i| batch.column(i).clone())
    };
    let t = column("timestamp").ok_or("no `timestamp` column")?;
    let t = seconds(&t)?;
    let p = column("price").ok_or("no `price` column")?;
    let p = arrow::compute::cast(&p, &DataType::Float64).map_err(|e| format!("price: {e}"))?;
    let p = p.as_primitive::<Float64Type>();
    let assets = match column("asset") {
        Some(a) => Some(arrow::compute::cast(&a, &DataType::Utf8).map_err(|e| format!("asset: {e}"))?),
        None if asset.is_some() => None,
        None => return Err("no `asset` column".into()),
    };
    let mut rows = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        let asset = match (&assets, asset) {
            (Some(a), _) if !a.is_valid(r) => return Err(format!("row {r}: asset is null")),
            // Given an asset and a table of several, only that asset's rows are read.
            (Some(a), Some(want)) if a.as_string::<i32>().value(r) != want => continue,
            (Some(a), _) => a.as_string::<i32>().value(r).to_owned(),
            (None, Some(a)) => a.to_owned(),
            (None, None) => unreachable!("checked above"),
        };
        if !crate::request::is_plain_asset(&asset) {
            return Err(format!("row {r}: asset {asset:?} is not a plain name"));
        }
        let time = t.is_valid(r).then(|| t.value(r)).ok_or_else(|| format!("row {r}: timestamp is null"))?;
        let price = if p.is_valid(r) { p.value(r) } else { f64::NAN };
        if !price.is_nan() {
            check_price(price).map_err(|m| format!("row {r}: price {price} {m}"))?;
        }
        rows.push((asset, time, price));
    }
    Ok(rows)
}

/// A timestamp column as whole Unix seconds: integers are seconds; Arrow timestamps of any unit
/// must fall on a whole second.
fn seconds(column: &arrow::array::ArrayRef) -> Result<Int64Array, String> {
    let per_second = match column.data_type() {
        DataType::Int64 | DataType::Int32 | DataType::UInt32 => 1,
        DataType::Timestamp(TimeUnit::Second, _) => 1,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000_000,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 1_000_000_000,
        other => return Err(format!("timestamp has type {other}, not an integer of seconds or a timestamp")),
    };
    let raw = arrow::compute::cast(column, &DataType::Int64).map_err(|e| format!("timestamp: {e}"))?;
    let raw = raw.as_primitive::<Int64Type>();
    if let Some(v) = raw.iter().flatten().find(|v| v % per_second != 0) {
        return Err(format!("timestamp {v} (1/{per_second} s) is not on a whole second"));
    }
    Ok(raw.unary(|v| v / per_second))
}

/// The Parquet form's schema: `asset`, `timestamp` (seconds, UTC), `price` (null where missing).
pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("asset", DataType::Utf8, false),
        Field::new("timestamp", DataType::Timestamp(TimeUnit::Second, Some("UTC".into())), false),
        Field::new("price", DataType::Float64, true),
    ]))
}

/// Series of prices (asset, times, prices: NaN where missing) as one batch in the Parquet form's
/// [`schema`], null where missing.
pub fn to_batch<'a>(
    series: impl IntoIterator<Item = (&'a str, &'a [i64], &'a [f64])>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let (mut assets, mut times, mut prices) = (Vec::new(), Vec::new(), Vec::new());
    for (asset, timestamps, values) in series {
        assets.extend(std::iter::repeat_n(asset, timestamps.len()));
        times.extend_from_slice(timestamps);
        prices.extend(values.iter().map(|&p| (!p.is_nan()).then_some(p)));
    }
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(assets)),
            Arc::new(TimestampSecondArray::from(times).with_timezone("UTC")),
            Arc::new(Float64Array::from(prices)),
        ],
    )
}

/// Writes one asset's prices to `path` (CSV or Parquet by its extension), whole or not at all; an
/// existing file is replaced only with `overwrite`.
pub fn write_file(
    path: &Path,
    asset: &str,
    timestamps: &[i64],
    prices: &[f64],
    overwrite: bool,
) -> Result<(), PriceFileError> {
    let io = |e: std::io::Error| PriceFileError::Io { path: path.to_owned(), source: e };
    if is_parquet(path) {
        let batch = to_batch([(asset, timestamps, prices)])
            .map_err(|e| PriceFileError::Format { path: path.to_owned(), msg: e.to_string() })?;
        crate::atomic_file::write_new_with(path, overwrite, |f| {
            let mut w = ArrowWriter::try_new(f, batch.schema(), None).map_err(std::io::Error::other)?;
            w.write(&batch).map_err(std::io::Error::other)?;
            w.close().map_err(std::io::Error::other)?;
            Ok(())
        })
        .map_err(io)
    } else {
        use std::io::Write;
        crate::atomic_file::write_new_with(path, overwrite, |f| {
            writeln!(f, "asset,timestamp,price")?;
            for (&t, &p) in timestamps.iter().zip(prices) {
                // Rust prints the shortest text that reads back as the same double.
                if p.is_nan() { writeln!(f, "{asset},{t},")? } else { writeln!(f, "{asset},{t},{p}")? }
            }
            Ok(())
        })
        .map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, name: &str, text: &str, asset: Option<&str>) -> PriceSource {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        PriceSource { path, asset: asset.map(str::to_owned) }
    }

    #[test]
    fn csv_reads_both_time_forms_and_missing_prices() {
        let dir = tempfile::tempdir().unwrap();
        let s = source(
            dir.path(),
            "p.csv",
            "price,asset,timestamp\n91234.56,BTC,1764000000\n,BTC,2025-11-24T16:01:00+00:00\nNaN,ETH,1764000120\n",
            None,
        );
        let rows = read(&s).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].0.as_str(), rows[0].1, rows[0].2), ("BTC", 1_764_000_000, 91234.56));
        assert_eq!(rows[1].1, 1_764_000_060);
        assert!(rows[1].2.is_nan() && rows[2].2.is_nan());
    }

    #[test]
    fn csv_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, want) in [
            ("asset,timestamp,price\nBTC,1,1.0\nBTC,x,2.0\n", "line 3: timestamp \"x\""),
            ("asset,timestamp,price\nBTC,1,abc\n", "line 2: price \"abc\" is not a number"),
            ("asset,timestamp,price\nBTC,1,inf\n", "is not finite"),
            ("asset,timestamp,price\nBTC,1\n", "line 2: 2 fields"),
            ("timestamp,price\n1,1.0\n", "no `asset` column"),
            ("asset,timestamp,price\nBTC,2025-11-24T16:01:00,1.0\n", "UTC offset"),
            ("asset,timestamp,price\nBTC,2025-11-24T16:01:00.5+00:00,1.0\n", "whole second"),
            ("asset,timestamp,price\n../x,1,1.0\n", "not a plain name"),
            ("", "empty"),
        ] {
            let err = read(&source(dir.path(), "bad.csv", text, None)).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        for (text, want) in [
            ("asset,timestamp,price\nBTC,1,0\n", "line 2: price \"0\" is not above zero"),
            ("asset,timestamp,price\nBTC,1,-3.5\n", "is not above zero"),
        ] {
            let err = read(&source(dir.path(), "bad.csv", text, None)).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        // Given an asset, a file of several gives only that one's rows.
        let rows = read(&source(dir.path(), "two.csv", "asset,timestamp,price\nETH,60,3.5\nBTC,60,2.5\n", Some("BTC")))
            .unwrap();
        assert_eq!(rows, vec![("BTC".to_owned(), 60, 2.5)]);
        // With the asset given, no asset column is needed.
        let rows = read(&source(dir.path(), "btc.csv", "timestamp,price\n60,2.5\n", Some("BTC"))).unwrap();
        assert_eq!(rows, vec![("BTC".to_owned(), 60, 2.5)]);
    }

    #[test]
    fn written_files_read_back_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let t = [1_764_000_000, 1_764_000_060, 1_764_000_120];
        let p = [91234.56, f64::NAN, 0.1 + 0.2];
        for name in ["p.csv", "p.parquet"] {
            let path = dir.path().join(name);
            write_file(&path, "BTC", &t, &p, false).unwrap();
            let rows = read(&PriceSource { path: path.clone(), asset: None }).unwrap();
            let got: Vec<(i64, u64)> = rows.iter().map(|r| (r.1, r.2.to_bits())).collect();
            let want: Vec<(i64, u64)> = t.iter().zip(p).map(|(&t, p)| (t, p.to_bits())).collect();
            assert_eq!(got, want, "{name}");
            assert!(write_file(&path, "BTC", &t, &p, false).is_err(), "{name} is never overwritten unasked");
            write_file(&path, "BTC", &t[..1], &p[..1], true).unwrap();
            assert_eq!(read(&PriceSource { path, asset: None }).unwrap().len(), 1);
        }
    }

    #[test]
    fn sources_parse() {
        assert_eq!(
            "BTC=a.csv".parse::<PriceSource>().unwrap(),
            PriceSource { path: "a.csv".into(), asset: Some("BTC".into()) }
        );
        assert_eq!("a.csv".parse::<PriceSource>().unwrap(), PriceSource { path: "a.csv".into(), asset: None });
        assert_eq!("dir/x=y/a.csv".parse::<PriceSource>().unwrap().asset, None);
    }
}
