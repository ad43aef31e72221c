//! The scores table: one row per miner per cycle (`schemas/scores.md`).
//!
//! In: a cycle's keys, each row's uid, hotkey and verdict, each miner's [`MinerScore`] and the
//! prompt's [`PromptScores`]. Out: one Arrow record batch in the scores schema, rows in the
//! cycle's uid order, with the file metadata that says how it was scored.
//!
//! The per-interval CRPS (upstream's `detailed_crps_data`) is a list of `{interval, crps, weight}`
//! structs in upstream's order, `Overall` last; every engine that reads Parquet reads it (DuckDB
//! `UNNEST`, polars `explode`, Spark `explode`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Float64Builder, Int64Array, ListBuilder, StringArray,
    StringBuilder, StructBuilder, TimestampMicrosecondArray, UInt16Array,
};
use arrow::datatypes::{DataType, Field, Fields, Int32Type, Schema, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::miner::MinerScore;
use super::prompt::{Normalisation, PromptScores};

/// The scores schema's version (`synth.scores.version`); any change to a column bumps it.
pub const SCORES_VERSION: &str = "1";
/// File key-value metadata: [`SCORES_VERSION`].
pub const SCORES_VERSION_KEY: &str = "synth.scores.version";
/// File key-value metadata: the prompt-score normalisation ([`Normalisation::name`]).
pub const NORMALISATION_KEY: &str = "synth.score.normalisation";
/// File key-value metadata: the scoring intervals and volatility blocks, as JSON.
pub const PROMPT_KEY: &str = "synth.score.prompt";
/// File key-value metadata: the real price path, as JSON (null where missing).
pub const REAL_PRICES_KEY: &str = "synth.score.real_prices";
/// File key-value metadata: the cycle file that was scored.
pub const SOURCE_KEY: &str = "synth.score.source";

pub mod col {
    // The miner and cycle keys carry the cycle file's names: a scores row joins its cycle row.
    pub use crate::batch::col::{
        FORMAT_VALIDATION, HOTKEY, NUM_SIMULATIONS, START_TIME, TIME_INCREMENT, TIME_LENGTH, UID,
    };
    pub const TOTAL_CRPS: &str = "total_crps";
    pub const PROMPT_SCORE: &str = "prompt_score";
    pub const SCORE_CAPPED: &str = "score_capped";
    pub const PERCENTILE: &str = "percentile95";
    pub const LOWEST: &str = "lowest_score";
    pub const CRPS_DATA: &str = "crps_data";
    pub const ERROR: &str = "error";
}

fn detail_fields() -> Fields {
    Fields::from(vec![
        Field::new("interval", DataType::Utf8, false),
        Field::new("crps", DataType::Float64, false),
        Field::new("weight", DataType::Float64, true),
    ])
}

/// The scores schema (without metadata).
pub fn schema() -> Schema {
    let utc = Some(Arc::from("UTC"));
    Schema::new(vec![
        Field::new(col::UID, DataType::UInt16, false),
        Field::new(col::HOTKEY, DataType::Utf8, false),
        Field::new(col::START_TIME, DataType::Timestamp(TimeUnit::Microsecond, utc), false),
        Field::new(col::TIME_INCREMENT, DataType::Int64, false),
        Field::new(col::TIME_LENGTH, DataType::Int64, false),
        Field::new(col::NUM_SIMULATIONS, DataType::Int64, false),
        Field::new(
            col::FORMAT_VALIDATION,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new(col::TOTAL_CRPS, DataType::Float64, false),
        Field::new(col::PROMPT_SCORE, DataType::Float64, true),
        Field::new(col::SCORE_CAPPED, DataType::Boolean, true),
        Field::new(col::PERCENTILE, DataType::Float64, true),
        Field::new(col::LOWEST, DataType::Float64, true),
        Field::new(
            col::CRPS_DATA,
            DataType::List(Arc::new(Field::new("item", DataType::Struct(detail_fields()), false))),
            false,
        ),
        Field::new(col::ERROR, DataType::Utf8, true),
    ])
}

/// One cycle's keys, the same on every row.
#[derive(Clone, Debug, PartialEq)]
pub struct CycleKeys {
    pub asset: String,
    pub start_unix: i64,
    pub time_increment: i64,
    pub time_length: i64,
    pub num_simulations: i64,
}

/// How the table was made, for its metadata.
pub struct Provenance<'a> {
    pub normalisation: Normalisation,
    pub prompt_json: String,
    pub real: &'a [f64],
    pub source: String,
    pub rules: Option<String>,
}

/// The scores batch of one cycle. `uid`, `hotkey`, `verdict` and `scores` are row-aligned.
pub fn build(
    keys: &CycleKeys,
    uid: &[u16],
    hotkey: &[&str],
    verdict: &[&str],
    scores: &[MinerScore],
    prompt: Option<&PromptScores>,
    provenance: &Provenance,
) -> Result<RecordBatch, ArrowError> {
    let n = uid.len();
    let mut detail = ListBuilder::new(StructBuilder::from_fields(detail_fields(), 0)).with_field(Arc::new(Field::new(
        "item",
        DataType::Struct(detail_fields()),
        false,
    )));
    for s in scores {
        let items = detail.values();
        for row in &s.detail {
            items.field_builder::<StringBuilder>(0).expect("interval").append_value(&row.interval);
            items.field_builder::<Float64Builder>(1).expect("crps").append_value(row.crps);
            items.field_builder::<Float64Builder>(2).expect("weight").append_option(row.weight);
            items.append(true);
        }
        detail.append(true);
    }
    // The verdicts as a dictionary in first-seen order, as the cycle files have them.
    let mut seen: HashMap<&str, i32> = HashMap::new();
    let mut values: Vec<&str> = Vec::new();
    let keys_idx: Vec<i32> = verdict
        .iter()
        .map(|v| {
            *seen.entry(v).or_insert_with(|| {
                values.push(v);
                values.len() as i32 - 1
            })
        })
        .collect();
    let verdicts = DictionaryArray::<Int32Type>::try_new(keys_idx.into(), Arc::new(StringArray::from(values)))?;
    let per_cycle = |v: Option<f64>| Float64Array::from(vec![v; n]);
    let start_us = keys
        .start_unix
        .checked_mul(1_000_000)
        .ok_or_else(|| ArrowError::ComputeError(format!("start time {} is out of range", keys.start_unix)))?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt16Array::from(uid.to_vec())),
        Arc::new(StringArray::from(hotkey.to_vec())),
        Arc::new(TimestampMicrosecondArray::from(vec![start_us; n]).with_timezone("UTC")),
        Arc::new(Int64Array::from(vec![keys.time_increment; n])),
        Arc::new(Int64Array::from(vec![keys.time_length; n])),
        Arc::new(Int64Array::from(vec![keys.num_simulations; n])),
        Arc::new(verdicts),
        Arc::new(Float64Array::from_iter_values(scores.iter().map(|s| s.score))),
        Arc::new(match prompt {
            Some(p) => Float64Array::from(p.scores.clone()),
            None => per_cycle(None),
        }),
        Arc::new(match prompt {
            Some(p) => BooleanArray::from(p.capped.clone()),
            None => BooleanArray::from(vec![None; n]),
        }),
        Arc::new(per_cycle(prompt.map(|p| p.percentile95))),
        Arc::new(per_cycle(prompt.map(|p| p.lowest))),
        Arc::new(detail.finish()),
        Arc::new(StringArray::from_iter(scores.iter().map(|s| s.error.as_deref()))),
    ];
    let real: Vec<serde_json::Value> =
        provenance.real.iter().map(|&p| if p.is_nan() { serde_json::Value::Null } else { p.into() }).collect();
    let mut metadata: HashMap<String, String> = [
        (SCORES_VERSION_KEY, SCORES_VERSION.to_owned()),
        (NORMALISATION_KEY, provenance.normalisation.name().to_owned()),
        (PROMPT_KEY, provenance.prompt_json.clone()),
        (REAL_PRICES_KEY, serde_json::Value::Array(real).to_string()),
        (SOURCE_KEY, provenance.source.clone()),
        (crate::sink::parquet::ENGINE_VERSION_KEY, env!("CARGO_PKG_VERSION").to_owned()),
        ("synth.asset", keys.asset.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(r) = &provenance.rules {
        metadata.insert(crate::sink::parquet::RULES_KEY.to_owned(), r.clone());
    }
    RecordBatch::try_new(Arc::new(schema().with_metadata(metadata)), columns)
}
