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

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt16Array,
};
use arrow::compute::{cast, concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, TimeUnit, UInt16Type};
use rayon::prelude::*;

use super::cycle::{Setup, prompt_json, score_row};
use super::miner::{MinerScore, Scratch};
use super::paths::Paths;
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
    // A key that is null (or did not fit its type) leaves no row to put the others' scores in.
    let keyed = [
        ("asset", assets.nulls()),
        ("start_time", start.nulls()),
        ("uid", uid.nulls()),
        ("time_increment", inc.nulls()),
        ("time_length", len.nulls()),
        ("num_simulations", sims.nulls()),
    ];
    for (name, a) in keyed {
        if a.is_some_and(|n| n.null_count() > 0) {
            return Err(format!("{name} has nulls"));
        }
    }

    let cycles = by_cycle(assets, start, len, uid);
    let mut out = Vec::with_capacity(cycles.len());
    for ((asset, start_unix, time_length), rows) in cycles {
        let first = rows[0];
        let keys = CycleKeys {
            asset,
            start_unix,
            time_increment: inc.value(first),
            time_length,
            num_simulations: sims.value(first),
        };
        let uids: Vec<u16> = rows.iter().map(|&r| uid.value(r)).collect();
        let hotkeys: Vec<&str> = rows.iter().map(|&r| hotkey.value(r)).collect();
        let verdicts: Vec<&str> =
            rows.iter().map(|&r| if verdict.is_valid(r) { verdict.value(r) } else { "" }).collect();
        let scored = cycle_scores(&keys, &rows, &uids, inc, sims, prices).map(|setup| {
            let scores: Vec<MinerScore> = (0..rows.len())
                .into_par_iter()
                .map_init(Scratch::default, |scratch, i| {
                    score_row(verdicts[i], Some((&paths, rows[i])), &setup, scratch)
                })
                .collect();
            (scores, setup)
        });
        let (scores, setup) = match scored {
            Ok((scores, setup)) => (scores, Some(setup)),
            Err(reason) => {
                let e = MinerScore { score: -1.0, detail: Vec::new(), error: Some(format!("{UNSCORABLE}{reason}")) };
                (vec![e; rows.len()], None)
            }
        };
        let prompt_scores = match &setup {
            Some(_) if whole_cycles => prompt_scores_with(&scores.iter().map(|s| s.score).collect::<Vec<_>>(), form),
            _ => None,
        };
        let provenance = Provenance {
            normalisation: form,
            prompt_json: setup.as_ref().map(|s| prompt_json(&s.prompt)).unwrap_or_default(),
            real: setup.as_ref().map_or(&[][..], |s| &s.real[..]),
            source: String::new(),
            rules: None,
        };
        let b = table::build(&keys, &uids, &hotkeys, &verdicts, &scores, prompt_scores.as_ref(), &provenance)
            .map_err(|e| e.to_string())?;
        out.push(with_asset(b, &keys.asset, form)?);
    }
    concat_batches(&Arc::new(schema(form)), &out).map_err(|e| e.to_string())
}

/// Row indices by cycle (asset, start, prompt: what names a cycle), each cycle's rows in uid
/// order: the grouping of both [`score_rows`] and [`normalise`], so they agree on what a cycle is.
fn by_cycle(
    assets: &StringArray,
    start: &Int64Array,
    len: &Int64Array,
    uid: &UInt16Array,
) -> BTreeMap<(String, i64, i64), Vec<usize>> {
    let mut cycles: BTreeMap<(String, i64, i64), Vec<usize>> = BTreeMap::new();
    for r in 0..assets.len() {
        cycles.entry((assets.value(r).to_owned(), start.value(r), len.value(r))).or_default().push(r);
    }
    for rows in cycles.values_mut() {
        rows.sort_by_key(|&r| uid.value(r));
    }
    cycles
}

/// The setup of one cycle's rows (uid order), or why it is not scored: its rows must agree on the
/// increment and the path count, and name each miner once (two copies of a cycle in one batch
/// would otherwise double its field and move every prompt score).
fn cycle_scores(
    keys: &CycleKeys,
    rows: &[usize],
    uids: &[u16],
    inc: &Int64Array,
    sims: &Int64Array,
    prices: &RealPrices,
) -> Result<Setup, String> {
    if rows.iter().any(|&r| inc.value(r) != keys.time_increment || sims.value(r) != keys.num_simulations) {
        return Err("the cycle's rows disagree on time_increment or num_simulations".into());
    }
    if let Some(w) = uids.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("uid {} appears more than once in the cycle's rows", w[0]));
    }
    Setup::new(keys, prices).map_err(|e| e.to_string())
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
    let cycles = by_cycle(assets, start, len, uid);
    let target = Arc::new(schema(form));
    let mut out = Vec::with_capacity(cycles.len());
    for rows in cycles.into_values() {
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
