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

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, UInt16Type};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;

use super::miner::{MinerScore, Prompt, Scratch, score_miner};
use super::paths::Paths;
use super::prompt::{Normalisation, prompt_scores_with};
use super::table::{self, CycleKeys, Provenance};
use crate::batch::col;
use crate::decode::verdict::CORRECT;
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
        source: NotScored,
    },
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
    /// prices do not settle its window or the validator scores no such prompt.
    pub fn score(&self, prices: &RealPrices, form: Normalisation) -> Result<RecordBatch, ScoreError> {
        let err = |msg: String| ScoreError::File { path: self.path.clone(), msg };
        let keys = self.keys()?;
        let setup =
            Setup::new(&keys, prices).map_err(|source| ScoreError::Unscorable { path: self.path.clone(), source })?;

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
                if !rows.clone().any(|r| verdict[r] == CORRECT) {
                    return Ok(rows.map(|r| score_row(&verdict[r], None, &setup, scratch)).collect());
                }
                let mut out = Vec::with_capacity(rows.len());
                let mut r = rows.start;
                for batch in self.reader(&[col::PATHS], Some(vec![g]))?.build().map_err(|e| e.to_string())? {
                    let batch = batch.map_err(|e| format!("reading row group {g}: {e}"))?;
                    let paths = Paths::of(batch.column(0))?;
                    for i in 0..batch.num_rows() {
                        out.push(score_row(&verdict[r], Some((&paths, i)), &setup, scratch));
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
            prompt_json: prompt_json(&setup.prompt),
            real: &setup.real,
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
        if uid.null_count() > 0 || hotkey.null_count() > 0 {
            return Err("a uid or hotkey is null, or a uid does not fit 16 bits".into());
        }
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

/// Why the validator would not score a cycle (it skips such a request).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NotScored {
    #[error(transparent)]
    Prices(#[from] Unscorable),
    #[error("the validator scores no {time_length}-second prompt at {time_increment}-second steps")]
    NoPrompt { time_length: i64, time_increment: i64 },
}

/// What scoring one cycle needs: its prompt, prices per path and real price path.
pub struct Setup {
    pub prompt: Prompt,
    pub points: usize,
    pub real: Vec<f64>,
}

impl Setup {
    /// The setup of the cycle `keys` against `prices`, or why the validator would not score it.
    pub fn new(keys: &CycleKeys, prices: &RealPrices) -> Result<Setup, NotScored> {
        let prompt = Prompt::for_length(keys.time_length, keys.time_increment)
            .ok_or(NotScored::NoPrompt { time_length: keys.time_length, time_increment: keys.time_increment })?;
        let points = (keys.time_length / keys.time_increment) as usize + 1;
        let mut real = Vec::with_capacity(points);
        prices.path(&keys.asset, keys.start_unix, keys.time_increment, points, &mut real)?;
        Ok(Setup { prompt, points, real })
    }
}

/// One row scored: its verdict and, for a CORRECT one, row `r` of its `paths`. A row whose paths
/// are malformed gets −1 and says why: it costs only itself.
pub fn score_row(verdict: &str, paths: Option<(&Paths, usize)>, setup: &Setup, scratch: &mut Scratch) -> MinerScore {
    let prices = match paths {
        Some((paths, r)) if verdict == CORRECT => paths.row(r, setup.points),
        _ => Ok(None),
    };
    match prices {
        Ok(p) => score_miner(verdict, p, setup.points, &setup.real, &setup.prompt, scratch),
        Err(e) => MinerScore { score: -1.0, detail: Vec::new(), error: Some(e) },
    }
}
