//! One cycle scored: a cycle Parquet file (or a cycle's rows in Arrow) + real prices → its scores.
//!
//! In: a cycle file (`schemas/output.md`, any price leaf: float64, float32, decimal) and the
//! [`RealPrices`]. Out: the scores batch ([`super::table`]): each miner's total CRPS and details,
//! and the prompt scores, exactly as the validator computes them for that request.
//!
//! The file is mapped, its footer read once, and its row groups (one miner each, as the engine
//! writes them) decoded and scored in parallel on the current rayon pool: a thread decodes one
//! miner's `paths`, scores it, and drops it, so memory stays at one miner per thread whatever the
//! cycle's size, and reading overlaps scoring. Rows that are not CORRECT are never decoded.
//! Nothing goes through JSON or per-miner objects: the kernel reads the leaf doubles in place.

use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, ListArray};
use arrow::datatypes::{DataType, Float64Type, UInt16Type};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;

use super::miner::{MinerScore, Prompt, Scratch, score_miner};
use super::prompt::{Normalisation, prompt_scores_with};
use super::table::{self, CycleKeys, Provenance};
use crate::batch::col;
use crate::prices::{RealPrices, Unscorable};
use crate::request::CycleRequest;
use crate::sink::parquet::{REQUEST_KEY, RULES_KEY};

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{}: {msg}", path.display())]
    File { path: PathBuf, msg: String },
    #[error("{}: not a cycle file (no {REQUEST_KEY} in its metadata)", .0.display())]
    NotACycle(PathBuf),
    #[error("{}: {source}", path.display())]
    Unscorable {
        path: PathBuf,
        #[source]
        source: Unscorable,
    },
    #[error("{}: the validator has no scoring intervals for a {0}-second prompt", path.display())]
    NoPrompt { path: PathBuf, time_length: i64 },
}

/// A cycle file, mapped and its footer read.
pub struct CycleFile {
    pub path: PathBuf,
    pub request: CycleRequest,
    pub rules: Option<String>,
    bytes: Bytes,
    meta: ArrowReaderMetadata,
}

impl CycleFile {
    /// Maps `path` and reads its footer and request.
    pub fn open(path: &Path) -> Result<CycleFile, ScoreError> {
        let err = |msg: String| ScoreError::File { path: path.to_owned(), msg };
        let file = std::fs::File::open(path).map_err(|e| err(format!("opening: {e}")))?;
        let len = file.metadata().map_err(|e| err(format!("reading its size: {e}")))?.len() as usize;
        // Mapped, not read: a 586 MB lf-full file is never copied, and each thread pages in only
        // its miners' chunks. An empty file cannot be mapped; it is not Parquet either.
        let bytes = if len == 0 {
            Bytes::new()
        } else {
            // SAFETY: cycle files are written under a temp name and renamed into place, never
            // changed in place; a file truncated under us would fault, as with any reader.
            let map =
                unsafe { memmap2::MmapOptions::new().len(len).map(&file) }.map_err(|e| err(format!("mapping: {e}")))?;
            Bytes::from_owner(map)
        };
        CycleFile::from_bytes(path.to_owned(), bytes)
    }

    /// A cycle file already in memory (read from object storage, say).
    pub fn from_bytes(path: PathBuf, bytes: Bytes) -> Result<CycleFile, ScoreError> {
        let err = |msg: String| ScoreError::File { path: path.clone(), msg };
        let meta = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new())
            .map_err(|e| err(format!("not a readable Parquet file: {e}")))?;
        let kv = meta.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
        let request_json = get(REQUEST_KEY).ok_or_else(|| ScoreError::NotACycle(path.clone()))?;
        let request = CycleRequest::from_json(request_json.as_bytes()).map_err(|e| err(format!("its request: {e}")))?;
        let rules = get(RULES_KEY);
        Ok(CycleFile { path, request, rules, bytes, meta })
    }

    /// The cycle's keys (asset, start, prompt, paths).
    pub fn keys(&self) -> Result<CycleKeys, ScoreError> {
        let shape =
            self.request.shape().map_err(|e| ScoreError::File { path: self.path.clone(), msg: e.to_string() })?;
        let si = &self.request.simulation_input;
        Ok(CycleKeys {
            asset: si.asset.clone(),
            start_unix: shape.start_unix,
            time_increment: si.time_increment,
            time_length: si.time_length,
            num_simulations: si.num_simulations,
        })
    }

    fn reader(
        &self,
        columns: &[&str],
        row_groups: Option<Vec<usize>>,
    ) -> Result<ParquetRecordBatchReaderBuilder<Bytes>, String> {
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(self.bytes.clone(), self.meta.clone());
        let fields = builder.schema().fields().clone();
        let mut roots = Vec::with_capacity(columns.len());
        for name in columns {
            roots.push(fields.iter().position(|f| f.name() == name).ok_or_else(|| format!("no {name} column"))?);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let builder = builder.with_projection(mask).with_batch_size(1 << 16);
        Ok(match row_groups {
            Some(g) => builder.with_row_groups(g),
            None => builder,
        })
    }

    /// Scores the cycle against `prices` (module doc). Unscorable (nothing decoded) when the
    /// prices do not settle its window or its prompt has no scoring intervals.
    pub fn score(&self, prices: &RealPrices, form: Normalisation) -> Result<RecordBatch, ScoreError> {
        let err = |msg: String| ScoreError::File { path: self.path.clone(), msg };
        let keys = self.keys()?;
        let prompt = Prompt::for_length(keys.time_length, keys.time_increment)
            .ok_or(ScoreError::NoPrompt { path: self.path.clone(), time_length: keys.time_length })?;
        let points = (keys.time_length / keys.time_increment) as usize + 1;
        let mut real = Vec::with_capacity(points);
        prices
            .path(&keys.asset, keys.start_unix, keys.time_increment, points, &mut real)
            .map_err(|source| ScoreError::Unscorable { path: self.path.clone(), source })?;

        // The small columns of every row at once.
        let mut uid: Vec<u16> = Vec::new();
        let mut hotkey: Vec<String> = Vec::new();
        let mut verdict: Vec<String> = Vec::new();
        for batch in self
            .reader(&[col::UID, col::HOTKEY, col::FORMAT_VALIDATION], None)
            .and_then(|b| b.build().map_err(|e| e.to_string()))
            .map_err(err)?
        {
            let batch = batch.map_err(|e| err(format!("reading: {e}")))?;
            let rows = RowColumns::of(&batch).map_err(err)?;
            uid.extend(rows.uid.values().iter());
            hotkey.extend(rows.hotkey.iter().map(|h| h.unwrap_or_default().to_owned()));
            verdict.extend((0..batch.num_rows()).map(|r| rows.verdict(r).to_owned()));
        }

        // Each row group's first row, then the groups scored in parallel.
        let groups = self.meta.metadata().row_groups();
        let mut first = Vec::with_capacity(groups.len());
        let mut at = 0usize;
        for g in groups {
            first.push(at);
            at += g.num_rows() as usize;
        }
        if at != uid.len() {
            return Err(err(format!("row groups hold {at} rows, the columns {}", uid.len())));
        }
        let scored: Vec<Result<Vec<MinerScore>, String>> = (0..groups.len())
            .into_par_iter()
            .map_init(Scratch::default, |scratch, g| {
                let rows = first[g]..first[g] + groups[g].num_rows() as usize;
                if !rows.clone().any(|r| verdict[r] == "CORRECT") {
                    return Ok(rows.map(|r| score_miner(&verdict[r], None, points, &real, &prompt, scratch)).collect());
                }
                let mut out = Vec::with_capacity(rows.len());
                let mut r = rows.start;
                for batch in self.reader(&[col::PATHS], Some(vec![g]))?.build().map_err(|e| e.to_string())? {
                    let batch = batch.map_err(|e| format!("reading row group {g}: {e}"))?;
                    let paths = Paths::of(batch.column(0))?;
                    for i in 0..batch.num_rows() {
                        let prices = if verdict[r] == "CORRECT" { paths.row(i, points) } else { Ok(None) };
                        out.push(match prices {
                            Ok(p) => score_miner(&verdict[r], p, points, &real, &prompt, scratch),
                            // A malformed row costs only itself.
                            Err(e) => MinerScore { score: -1.0, detail: Vec::new(), error: Some(e) },
                        });
                        r += 1;
                    }
                }
                Ok(out)
            })
            .collect();
        let mut scores = Vec::with_capacity(uid.len());
        for s in scored {
            scores.extend(s.map_err(err)?);
        }
        let raw: Vec<f64> = scores.iter().map(|s| s.score).collect();
        let prompt_scores = prompt_scores_with(&raw, form);
        let hotkeys: Vec<&str> = hotkey.iter().map(String::as_str).collect();
        let verdicts: Vec<&str> = verdict.iter().map(String::as_str).collect();
        let provenance = Provenance {
            normalisation: form,
            prompt_json: prompt_json(&prompt),
            real: &real,
            source: self.path.display().to_string(),
            rules: self.rules.clone(),
        };
        table::build(&keys, &uid, &hotkeys, &verdicts, &scores, prompt_scores.as_ref(), &provenance)
            .map_err(|e| err(format!("building the scores: {e}")))
    }
}

/// The prompt's intervals and blocks, as written into the scores' metadata.
pub fn prompt_json(prompt: &Prompt) -> String {
    serde_json::json!({
        "time_increment": prompt.increment,
        "intervals": prompt.intervals.iter().map(|i| (i.name.as_str(), i.seconds)).collect::<Vec<_>>(),
        "vol_blocks": prompt.vol.iter().map(|v| (v.name.as_str(), v.seconds, v.weight)).collect::<Vec<_>>(),
    })
    .to_string()
}

/// A batch's uid, hotkey and verdict columns.
struct RowColumns {
    uid: arrow::array::UInt16Array,
    hotkey: arrow::array::StringArray,
    verdict: ArrayRef,
}

impl RowColumns {
    fn of(batch: &RecordBatch) -> Result<RowColumns, String> {
        let column = |name: &str| batch.column_by_name(name).ok_or_else(|| format!("no {name} column"));
        let uid = arrow::compute::cast(column(col::UID)?, &DataType::UInt16).map_err(|e| format!("uid: {e}"))?;
        let hotkey = arrow::compute::cast(column(col::HOTKEY)?, &DataType::Utf8).map_err(|e| format!("hotkey: {e}"))?;
        let verdict = arrow::compute::cast(column(col::FORMAT_VALIDATION)?, &DataType::Utf8)
            .map_err(|e| format!("format_validation: {e}"))?;
        Ok(RowColumns {
            uid: uid.as_primitive::<UInt16Type>().clone(),
            hotkey: hotkey.as_string::<i32>().clone(),
            verdict,
        })
    }

    fn verdict(&self, r: usize) -> &str {
        let v = self.verdict.as_string::<i32>();
        if v.is_valid(r) { v.value(r) } else { "" }
    }
}

/// Where path `k` of a `paths` column's items sits in the leaf (start, length), if not null.
type PathRange = Box<dyn Fn(usize) -> Option<(usize, usize)> + Send + Sync>;

/// A `paths` column read as doubles: the cycle files' fixed-size lists, or the plain lists other
/// engines turn them into (Spark). Each row is checked when it is asked for: its paths must be
/// whole (`points` prices each), contiguous and free of nulls.
pub struct Paths {
    leaf: ArrayRef,
    /// Each row's paths (first path, count), `None` for a null row.
    rows: Vec<Option<(usize, usize)>>,
    path: PathRange,
}

impl Paths {
    pub fn of(column: &ArrayRef) -> Result<Paths, String> {
        let (inner, rows): (ArrayRef, Vec<Option<(usize, usize)>>) = match column.data_type() {
            DataType::FixedSizeList(..) => {
                let outer: &FixedSizeListArray = column.as_fixed_size_list();
                let n = outer.value_length() as usize;
                let rows = (0..outer.len()).map(|r| outer.is_valid(r).then(|| (outer.value_offset_at(r), n))).collect();
                (outer.values().clone(), rows)
            }
            DataType::List(_) => {
                let outer: &ListArray = column.as_list::<i32>();
                let o = outer.value_offsets();
                let rows = (0..outer.len())
                    .map(|r| outer.is_valid(r).then(|| (o[r] as usize, (o[r + 1] - o[r]) as usize)))
                    .collect();
                (outer.values().clone(), rows)
            }
            other => return Err(format!("paths has type {other}, not a list of paths")),
        };
        let (leaf, path): (ArrayRef, PathRange) = match inner.data_type() {
            DataType::FixedSizeList(..) => {
                let l: FixedSizeListArray = inner.as_fixed_size_list().clone();
                let n = l.value_length() as usize;
                (l.values().clone(), Box::new(move |k| l.is_valid(k).then(|| (l.value_offset_at(k), n))))
            }
            DataType::List(_) => {
                let l: ListArray = inner.as_list::<i32>().clone();
                (
                    l.values().clone(),
                    Box::new(move |k| {
                        let o = l.value_offsets();
                        l.is_valid(k).then(|| (o[k] as usize, (o[k + 1] - o[k]) as usize))
                    }),
                )
            }
            other => return Err(format!("paths' items have type {other}, not lists of prices")),
        };
        let leaf = if leaf.data_type() == &DataType::Float64 {
            leaf
        } else {
            // float32 and decimal leaves widen exactly to the doubles the miner sent (the writer
            // checked every decimal reads back to its double).
            arrow::compute::cast(&leaf, &DataType::Float64).map_err(|e| format!("paths' prices: {e}"))?
        };
        Ok(Paths { leaf, rows, path })
    }

    /// Row `r`'s prices, path after path (`None` for a null row), checked to be whole paths of
    /// `points` prices, contiguous, without a null price.
    pub fn row(&self, r: usize, points: usize) -> Result<Option<&[f64]>, String> {
        let Some((first, n)) = self.rows[r] else { return Ok(None) };
        let mut at = None;
        for k in first..first + n {
            let (start, len) = (self.path)(k).ok_or_else(|| format!("row {r}: a path is null"))?;
            if len != points {
                return Err(format!("row {r}: a path of {len} prices, the prompt has {points}"));
            }
            let expected = at.map_or(start, |a| a + (k - first) * points);
            if start != expected {
                return Err(format!("row {r}: paths are not contiguous"));
            }
            at.get_or_insert(start);
        }
        let at = at.unwrap_or(0);
        let values = &self.leaf.as_primitive::<Float64Type>().values()[..];
        if self.leaf.null_count() > 0 && (at..at + n * points).any(|i| self.leaf.is_null(i)) {
            return Err(format!("row {r}: a price is null"));
        }
        values.get(at..at + n * points).map(Some).ok_or_else(|| format!("row {r}: paths out of range"))
    }
}
