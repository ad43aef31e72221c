//! The cycle's columns → one Arrow `RecordBatch`, one row per queried miner, sorted by uid.
//!
//! In: [`CycleColumns`] (or a [`Rows`] view, for the scalar columns of a row group) and the
//! request. Out: a `RecordBatch` in the schema of
//! `schemas/output.md` (version [`SCHEMA_VERSION`]); the price buffer becomes the `paths` child
//! values without a copy (`Buffer::from_vec`).
//!
//! `paths` is `FixedSizeList<FixedSizeList<Float64, points>, paths>` with non-nullable children,
//! null unless the row's verdict is CORRECT. The child values under a null row are whatever the
//! buffer held (Arrow allows any value under a null slot); every writer must skip them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, DictionaryArray, FixedSizeListArray, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray, UInt16Array, UInt64Array,
};
use arrow::buffer::{Buffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::columns::{CycleColumns, Rows};
use crate::decode::Verdict;
use crate::request::{CycleRequest, CycleShape};

/// Version of the output schema (`schemas/output.md`), stored as schema metadata
/// [`SCHEMA_VERSION_KEY`] and as Parquet file key-value metadata.
pub const SCHEMA_VERSION: &str = "1";
/// Schema / file metadata key holding [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "synth.output.version";

/// Column names, in schema order. `paths` is always last.
pub mod col {
    pub const UID: &str = "uid";
    pub const HOTKEY: &str = "hotkey";
    pub const STATUS_CODE: &str = "status_code";
    pub const ERROR: &str = "error";
    pub const PROCESS_TIME_S: &str = "process_time_s";
    pub const FORMAT_VALIDATION: &str = "format_validation";
    pub const RESPONSE_BYTES: &str = "response_bytes";
    pub const TTFB_MS: &str = "ttfb_ms";
    pub const ELAPSED_MS: &str = "elapsed_ms";
    pub const START_TIME: &str = "start_time";
    pub const TIME_INCREMENT: &str = "time_increment";
    pub const TIME_LENGTH: &str = "time_length";
    pub const NUM_SIMULATIONS: &str = "num_simulations";
    pub const PATHS: &str = "paths";
}

/// The `paths` column's type for a given leaf type (`Float64` in the batch; the Parquet sink's
/// compact mode swaps in `Decimal128(18, scale)`): `FixedSizeList<FixedSizeList<leaf, points>,
/// paths>`, children non-nullable.
pub fn paths_type(leaf: DataType, paths: i32, points: i32) -> DataType {
    let value = Arc::new(Field::new("item", leaf, false));
    let path = Arc::new(Field::new("item", DataType::FixedSizeList(value, points), false));
    DataType::FixedSizeList(path, paths)
}

/// The batch schema for a cycle of `paths` × `points` prices per miner.
pub fn output_schema(paths: i32, points: i32) -> SchemaRef {
    schema_with_paths_leaf(DataType::Float64, paths, points)
}

/// [`output_schema`] with another leaf type under `paths` (used by the Parquet sink's compact mode).
pub fn schema_with_paths_leaf(leaf: DataType, paths: i32, points: i32) -> SchemaRef {
    let fields = vec![
        Field::new(col::UID, DataType::UInt16, false),
        Field::new(col::HOTKEY, DataType::Utf8, false),
        Field::new(col::STATUS_CODE, DataType::UInt16, true),
        Field::new(col::ERROR, DataType::Utf8, true),
        Field::new(col::PROCESS_TIME_S, DataType::Float64, true),
        Field::new_dictionary(col::FORMAT_VALIDATION, DataType::Int32, DataType::Utf8, false),
        Field::new(col::RESPONSE_BYTES, DataType::UInt64, false),
        Field::new(col::TTFB_MS, DataType::Float64, true),
        Field::new(col::ELAPSED_MS, DataType::Float64, false),
        Field::new(col::START_TIME, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new(col::TIME_INCREMENT, DataType::Int64, false),
        Field::new(col::TIME_LENGTH, DataType::Int64, false),
        Field::new(col::NUM_SIMULATIONS, DataType::Int64, false),
        Field::new(col::PATHS, paths_type(leaf, paths, points), true),
    ];
    let metadata = HashMap::from([(SCHEMA_VERSION_KEY.to_owned(), SCHEMA_VERSION.to_owned())]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

fn invalid(msg: String) -> ArrowError {
    ArrowError::InvalidArgumentError(msg)
}

/// Builds the cycle's batch. Takes the columns by value: the price buffer is moved into the
/// `paths` child array, not copied.
///
/// Errors when the columns disagree with each other or with the request (lengths, shape), or when
/// `process_time_s` is null for a row whose verdict is not the "time out…" one (or the reverse):
/// the schema promises the two go together.
pub fn build(columns: CycleColumns, request: &CycleRequest) -> Result<RecordBatch, ArrowError> {
    let rows = columns.rows();
    let shape = columns.shape;
    if columns.prices.len() != rows * shape.slot_len() {
        return Err(invalid(format!(
            "price buffer holds {} values, expected {rows} rows × {} × {}",
            columns.prices.len(),
            shape.paths,
            shape.points
        )));
    }
    if request.simulation_input.num_simulations != shape.paths as i64 {
        return Err(invalid(format!(
            "request asks {} simulations, columns are shaped for {}",
            request.simulation_input.num_simulations, shape.paths
        )));
    }
    if columns.uid.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid("rows are not sorted by strictly increasing uid".into()));
    }
    let mut arrays = scalar_columns(&columns.view(), request)?;
    let correct = correct_mask(&columns.verdict);
    arrays.push(paths_array(shape, rows, columns.prices, correct)?);
    RecordBatch::try_new(output_schema(shape.paths as i32, shape.points as i32), arrays)
}

/// The scalar columns (every column but `paths`, in schema order) of a run of rows: the part of a
/// batch every sink and row group shares. Checks that the run's columns agree in length and that
/// `process_time_s` is set exactly for the rows whose reply arrived.
pub fn scalar_columns(rows: &Rows<'_>, request: &CycleRequest) -> Result<Vec<ArrayRef>, ArrowError> {
    let n = rows.len();
    let si = &request.simulation_input;
    let lens = [
        rows.hotkey.len(),
        rows.status.len(),
        rows.error.len(),
        rows.ttfb_ms.len(),
        rows.elapsed_ms.len(),
        rows.process_time_s.len(),
        rows.response_bytes.len(),
        rows.verdict.len(),
    ];
    if lens.iter().any(|&l| l != n) {
        return Err(invalid(format!("cycle columns have unequal lengths: {n} uids, {lens:?}")));
    }
    for (i, (v, p)) in rows.verdict.iter().zip(rows.process_time_s).enumerate() {
        if v.arrived() != p.is_some() {
            return Err(invalid(format!(
                "uid {}: process_time_s is {:?} but the verdict is {:?}",
                rows.uid[i],
                p,
                v.as_str()
            )));
        }
    }
    let format_validation = {
        // Dictionary in first-seen order; the common verdicts are a handful of strings.
        let mut index: HashMap<&str, i32> = HashMap::new();
        let mut values: Vec<&str> = Vec::new();
        let keys: Vec<i32> = rows
            .verdict
            .iter()
            .map(|v| {
                *index.entry(v.as_str()).or_insert_with(|| {
                    values.push(v.as_str());
                    (values.len() - 1) as i32
                })
            })
            .collect();
        DictionaryArray::<Int32Type>::try_new(keys.into(), Arc::new(StringArray::from(values)))?
    };
    let repeat = |v: i64| Arc::new(Int64Array::from_value(v, n)) as ArrayRef;
    Ok(vec![
        Arc::new(UInt16Array::from(rows.uid.to_vec())),
        Arc::new(StringArray::from_iter_values(rows.hotkey)),
        Arc::new(UInt16Array::from(rows.status.to_vec())),
        Arc::new(StringArray::from_iter(rows.error.iter().map(|e| e.map(|e| e.as_str())))),
        Arc::new(Float64Array::from(rows.process_time_s.to_vec())),
        Arc::new(format_validation),
        Arc::new(UInt64Array::from(rows.response_bytes.to_vec())),
        Arc::new(Float64Array::from(rows.ttfb_ms.to_vec())),
        Arc::new(Float64Array::from(rows.elapsed_ms.to_vec())),
        Arc::new(
            TimestampMicrosecondArray::from_value(rows.shape.start_unix.saturating_mul(1_000_000), n)
                .with_timezone("UTC"),
        ),
        repeat(si.time_increment),
        repeat(si.time_length),
        repeat(si.num_simulations),
    ])
}

/// The `paths` validity: a row's prices are present exactly when its verdict is CORRECT (`None`
/// when every row is).
pub fn correct_mask(verdict: &[Verdict]) -> Option<NullBuffer> {
    Some(NullBuffer::from_iter(verdict.iter().map(Verdict::is_correct))).filter(|n| n.null_count() > 0)
}

/// The `paths` column of `rows` rows over `prices` (`rows × paths × points`, moved in, not
/// copied). The lengths are given, not derived, so a cycle of 0 simulations (empty lists) works.
pub fn paths_array(
    shape: CycleShape,
    rows: usize,
    prices: Vec<f64>,
    correct: Option<NullBuffer>,
) -> Result<ArrayRef, ArrowError> {
    let paths = i32::try_from(shape.paths).map_err(|_| invalid("too many paths".into()))?;
    let points = i32::try_from(shape.points).map_err(|_| invalid("too many points".into()))?;
    let len = prices.len();
    let values = Float64Array::new(ScalarBuffer::new(Buffer::from_vec(prices), 0, len), None);
    let DataType::FixedSizeList(path_field, _) = paths_type(DataType::Float64, paths, points) else {
        unreachable!("paths is a fixed-size list")
    };
    let DataType::FixedSizeList(value_field, _) = path_field.data_type().clone() else {
        unreachable!("a path is a fixed-size list")
    };
    let per_path =
        FixedSizeListArray::try_new_with_length(value_field, points, Arc::new(values), None, rows * shape.paths)?;
    Ok(Arc::new(FixedSizeListArray::try_new_with_length(path_field, paths, Arc::new(per_path), correct, rows)?))
}

/// Takes the price buffer back out of a batch made by [`build`] once nothing else shares it (the
/// reverse of the zero-copy move), so a caller that builds many small batches can reuse one
/// buffer's warm pages. `None` if the buffer is still shared or was not allocated as a `Vec`.
pub fn take_prices(batch: RecordBatch) -> Option<Vec<f64>> {
    let (_, mut columns, _) = batch.into_parts();
    let paths = columns.pop()?;
    drop(columns);
    // Each level: clone the concrete array out of its `Arc`, drop the `Arc`, so the child's
    // reference count falls back to one.
    let outer = paths.as_fixed_size_list_opt()?.clone();
    drop(paths);
    let (_, _, per_path, _) = outer.into_parts();
    let inner = per_path.as_fixed_size_list_opt()?.clone();
    drop(per_path);
    let (_, _, leaf, _) = inner.into_parts();
    let values = leaf.as_primitive_opt::<Float64Type>()?.clone();
    drop(leaf);
    let (_, values, _) = values.into_parts();
    values.into_inner().into_vec::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::synthetic;

    #[test]
    fn prices_come_back_out_of_the_batch_unshared() {
        let (cols, req) = synthetic::cycle(6, 3, 4, 5, 1);
        let (ptr, len) = (cols.prices.as_ptr(), cols.prices.len());
        let b = build(cols, &req).unwrap();
        let kept = b.clone();
        // Still shared with `kept`: refused, nothing leaks or panics.
        assert!(take_prices(b).is_none());
        let back = take_prices(kept).expect("sole owner again");
        assert_eq!((back.as_ptr(), back.len()), (ptr, len), "the same allocation, not a copy");
    }
}
