//! The cycle's columns → one Arrow `RecordBatch`, one row per queried miner, sorted by uid.
//!
//! In: [`CycleColumns`](crate::columns::CycleColumns) and the request. Out: a `RecordBatch` in the
//! schema of `schemas/output.md`; the price buffer becomes the `paths` child values without a copy.

// Interface (filled in by the output work):
//
// pub const SCHEMA_VERSION: &str = "1";
// pub fn output_schema(paths: i32, points: i32) -> SchemaRef;
// pub fn build(columns: CycleColumns, request: &CycleRequest) -> Result<RecordBatch, ArrowError>;
