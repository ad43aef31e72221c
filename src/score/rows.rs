//! Scores of cycle rows already in Arrow: what `synth_forward.score_arrow` runs on each batch a
//! Spark `mapInArrow` (or a pyarrow dataset scan) hands it.
//!
//! In: a record batch of cycle rows (`uid`, `hotkey`, `format_validation`, `start_time`,
//! `time_increment`, `time_length`, `num_simulations`, `paths`, and `asset` unless given), in the
//! types our files have or the ones other engines turn them into (int32 uids, plain or large
//! strings, dictionaries, `list<list<double>>` paths), rows of any number of cycles in any order.
//! Out: the scores of those rows ([`super::table`]'s schema plus an `asset` column), the miners
//! scored in parallel on the current rayon pool.
//!
//! A batch may hold only part of a cycle (Spark splits files and batches where it likes), and a
//! prompt score needs the whole cycle's miners; so [`score_rows`] computes prompt scores only when
//! told the batch holds whole cycles, and [`normalise`] computes them afterwards from the scores
//! of whole cycles (a `groupBy` of the small score rows, never of the paths). A cycle the prices do
//! not settle gives rows with `total_crps` −1, no prompt score and its reason in `error`
//! (`unscorable: …`), so nothing is dropped silently.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow::compute::{cast, concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, TimeUnit, UInt16Type};
use rayon::prelude::*;

use super::cycle::{Paths, prompt_json};
use super::miner::{MinerScore, Prompt, Scratch, score_miner};
use super::prompt::{Normalisation, prompt_scores_with};
use super::table::{self, CycleKeys, Provenance, col};
use crate::prices::RealPrices;

/// The `error` of rows whose cycle could not be scored starts with this.
pub const UNSCORABLE: &str = "unscorable: ";

/// The output schema: the scores table's columns, then `asset`.
pub fn schema(form: Normalisation) -> Schema {
    let mut fields: Vec<Field> = table::schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("asset", DataType::Utf8, false));
    Schema::new(fields).with_metadata(std::collections::HashMap::from([
        (table::SCORES_VERSION_KEY.to_owned(), table::SCORES_VERSION.to_owned()),
        (table::NORMALISATION_KEY.to_owned(), form.name().to_owned()),
    ]))
}

/// A column by name, cast to `to`.
fn column(batch: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef, String> {
    let c = batch.column_by_name(name).ok_or_else(|| format!("the batch has no {name} column"))?;
    cast(c, to).map_err(|e| format!("{name}: {e}"))
}

/// Scores every row of `batch` (module doc). `asset` stands in for a missing `asset` column.
pub fn score_rows(
    batch: &RecordBatch,
    prices: &RealPrices,
    asset: Option<&str>,
    form: Normalisation,
    whole_cycles: bool,
) -> Result<RecordBatch, String> {
    let utf8 = DataType::Utf8;
    let assets = match (batch.column_by_name("asset"), asset) {
        (Some(_), _) => column(batch, "asset", &utf8)?,
        (None, Some(a)) => Arc::new(StringArray::from(vec![a; batch.num_rows()])) as ArrayRef,
        (None, None) => return Err("the batch has no asset column and no asset was given".into()),
    };
    let assets = assets.as_string::<i32>();
    let start = column(batch, col::START_TIME, &DataType::Timestamp(TimeUnit::Second, None))?;
    let start = cast(&start, &DataType::Int64).map_err(|e| format!("start_time: {e}"))?;
    let start = start.as_primitive::<Int64Type>();
    let inc = column(batch, col::TIME_INCREMENT, &DataType::Int64)?;
    let inc = inc.as_primitive::<Int64Type>();
    let len = column(batch, col::TIME_LENGTH, &DataType::Int64)?;
    let len = len.as_primitive::<Int64Type>();
    let sims = column(batch, col::NUM_SIMULATIONS, &DataType::Int64)?;
    let sims = sims.as_primitive::<Int64Type>();
    let uid = column(batch, col::UID, &DataType::UInt16)?;
    let uid = uid.as_primitive::<UInt16Type>();
    let hotkey = column(batch, col::HOTKEY, &utf8)?;
    let hotkey = hotkey.as_string::<i32>();
    let verdict = column(batch, col::FORMAT_VALIDATION, &utf8)?;
    let verdict = verdict.as_string::<i32>();
    let paths = Paths::of(batch.column_by_name(crate::batch::col::PATHS).ok_or("the batch has no paths column")?)?;
    for (name, a) in [("asset", assets.nulls()), ("start_time", start.nulls()), ("uid", uid.nulls())] {
        if a.is_some_and(|n| n.null_count() > 0) {
            return Err(format!("{name} has nulls"));
        }
    }

    // Rows by cycle, each cycle's rows in uid order.
    let mut cycles: BTreeMap<(String, i64, i64, i64, i64), Vec<usize>> = BTreeMap::new();
    for r in 0..batch.num_rows() {
        let key = (assets.value(r).to_owned(), start.value(r), len.value(r), inc.value(r), sims.value(r));
        cycles.entry(key).or_default().push(r);
    }
    let mut out = Vec::with_capacity(cycles.len());
    for ((asset, start_unix, time_length, time_increment, num_simulations), mut rows) in cycles {
        rows.sort_by_key(|&r| uid.value(r));
        let keys = CycleKeys { asset, start_unix, time_increment, time_length, num_simulations };
        let uids: Vec<u16> = rows.iter().map(|&r| uid.value(r)).collect();
        let hotkeys: Vec<&str> = rows.iter().map(|&r| hotkey.value(r)).collect();
        let verdicts: Vec<&str> =
            rows.iter().map(|&r| if verdict.is_valid(r) { verdict.value(r) } else { "" }).collect();
        let scored = score_cycle(&keys, &paths, &rows, &verdicts, prices);
        let (scores, real, prompt) = match scored {
            Ok(s) => s,
            Err(reason) => {
                let e = MinerScore { score: -1.0, detail: Vec::new(), error: Some(format!("{UNSCORABLE}{reason}")) };
                (vec![e; rows.len()], Vec::new(), None)
            }
        };
        let prompt_scores = if whole_cycles && prompt.is_some() {
            prompt_scores_with(&scores.iter().map(|s| s.score).collect::<Vec<_>>(), form)
        } else {
            None
        };
        let provenance = Provenance {
            normalisation: form,
            prompt_json: prompt.as_ref().map(prompt_json).unwrap_or_default(),
            real: &real,
            source: String::new(),
            rules: None,
        };
        let b = table::build(&keys, &uids, &hotkeys, &verdicts, &scores, prompt_scores.as_ref(), &provenance)
            .map_err(|e| e.to_string())?;
        out.push(with_asset(b, &keys.asset, form)?);
    }
    concat_batches(&Arc::new(schema(form)), &out).map_err(|e| e.to_string())
}

/// What [`score_cycle`] gives: each miner's score, the real path, the prompt.
type CycleScores = (Vec<MinerScore>, Vec<f64>, Option<Prompt>);

/// One cycle's miners (`rows` of the batch, `verdicts` theirs) scored in parallel; `Err` with the
/// reason when the cycle is unscorable. A row whose paths are malformed costs only itself.
fn score_cycle(
    keys: &CycleKeys,
    paths: &Paths,
    rows: &[usize],
    verdicts: &[&str],
    prices: &RealPrices,
) -> Result<CycleScores, String> {
    if keys.time_increment <= 0 {
        return Err(format!("time_increment {} is not positive", keys.time_increment));
    }
    let prompt = Prompt::for_length(keys.time_length, keys.time_increment)
        .ok_or_else(|| format!("the validator has no scoring intervals for a {}-second prompt", keys.time_length))?;
    let points = (keys.time_length / keys.time_increment) as usize + 1;
    let mut real = Vec::with_capacity(points);
    prices.path(&keys.asset, keys.start_unix, keys.time_increment, points, &mut real).map_err(|e| e.to_string())?;
    let scores = (0..rows.len())
        .into_par_iter()
        .map_init(Scratch::default, |scratch, i| {
            if verdicts[i] != "CORRECT" {
                return score_miner(verdicts[i], None, points, &real, &prompt, scratch);
            }
            match paths.row(rows[i], points) {
                Ok(p) => score_miner(verdicts[i], p, points, &real, &prompt, scratch),
                Err(e) => MinerScore { score: -1.0, detail: Vec::new(), error: Some(e) },
            }
        })
        .collect();
    Ok((scores, real, Some(prompt)))
}

fn with_asset(batch: RecordBatch, asset: &str, form: Normalisation) -> Result<RecordBatch, String> {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![asset; batch.num_rows()])));
    RecordBatch::try_new(Arc::new(schema(form)), columns).map_err(|e| e.to_string())
}

/// The prompt scores of whole cycles: `batch` holds [`score_rows`]' output for every row of each
/// cycle in it (any order); returns it with `prompt_score`, `score_capped`, `percentile95` and
/// `lowest_score` filled per cycle, each cycle's rows in uid order.
pub fn normalise(batch: &RecordBatch, form: Normalisation) -> Result<RecordBatch, String> {
    let utf8 = DataType::Utf8;
    let assets = column(batch, "asset", &utf8)?;
    let assets = assets.as_string::<i32>();
    let start = column(batch, col::START_TIME, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let start = cast(&start, &DataType::Int64).map_err(|e| format!("start_time: {e}"))?;
    let start = start.as_primitive::<Int64Type>();
    let len = column(batch, col::TIME_LENGTH, &DataType::Int64)?;
    let len = len.as_primitive::<Int64Type>();
    let uid = column(batch, col::UID, &DataType::UInt16)?;
    let uid = uid.as_primitive::<UInt16Type>();
    let total = column(batch, col::TOTAL_CRPS, &DataType::Float64)?;
    let total = total.as_primitive::<Float64Type>();
    let error = column(batch, col::ERROR, &utf8)?;
    let error = error.as_string::<i32>();
    let mut cycles: BTreeMap<(String, i64, i64), Vec<usize>> = BTreeMap::new();
    for r in 0..batch.num_rows() {
        cycles.entry((assets.value(r).to_owned(), start.value(r), len.value(r))).or_default().push(r);
    }
    let target = Arc::new(schema(form));
    let mut out = Vec::with_capacity(cycles.len());
    for rows in cycles.into_values() {
        let mut rows = rows;
        rows.sort_by_key(|&r| uid.value(r));
        let group =
            take_record_batch(batch, &arrow::array::UInt32Array::from_iter_values(rows.iter().map(|&r| r as u32)))
                .map_err(|e| e.to_string())?;
        let unscorable = rows.iter().any(|&r| error.is_valid(r) && error.value(r).starts_with(UNSCORABLE));
        let raw: Vec<f64> = rows.iter().map(|&r| total.value(r)).collect();
        let p = if unscorable { None } else { prompt_scores_with(&raw, form) };
        let n = rows.len();
        let mut columns = Vec::with_capacity(target.fields().len());
        for f in target.fields() {
            let c: ArrayRef = match f.name().as_str() {
                col::PROMPT_SCORE => Arc::new(Float64Array::from(
                    p.as_ref().map_or(vec![None; n], |p| p.scores.iter().map(|&s| Some(s)).collect()),
                )),
                col::SCORE_CAPPED => Arc::new(
                    p.as_ref().map_or(BooleanArray::from(vec![None; n]), |p| BooleanArray::from(p.capped.clone())),
                ),
                col::PERCENTILE => Arc::new(Float64Array::from(vec![p.as_ref().map(|p| p.percentile95); n])),
                col::LOWEST => Arc::new(Float64Array::from(vec![p.as_ref().map(|p| p.lowest); n])),
                name => {
                    let c = group.column_by_name(name).ok_or_else(|| format!("the batch has no {name} column"))?;
                    cast(c, f.data_type()).map_err(|e| format!("{name}: {e}"))?
                }
            };
            columns.push(c);
        }
        out.push(RecordBatch::try_new(target.clone(), columns).map_err(|e| e.to_string())?);
    }
    concat_batches(&target, &out).map_err(|e| e.to_string())
}
