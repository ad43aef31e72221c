//! Record batch → one Parquet file at `DIR/asset=<asset>/date=<YYYY-MM-DD>/<start_unix>_<time_length>.parquet`.
//!
//! In: the cycle's `RecordBatch` and request. Out: the file, written under a temp name in the same
//! folder and renamed into place, so a reader never sees half of it.

// Interface (filled in by the output work):
//
// pub enum PriceEncoding { Float64, Compact }
// pub struct ParquetOptions { pub prices: PriceEncoding, pub compression: .., .. }
// pub fn partition_path(dir: &Path, request: &CycleRequest) -> PathBuf;
// pub fn write(batch: &RecordBatch, request: &CycleRequest, dir: &Path, opts: &ParquetOptions)
//     -> Result<PathBuf, SinkError>;
