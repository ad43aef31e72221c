//! Where a cycle's record batch goes: Parquet files for offline analysis.
//!
//! - [`parquet`]: the batch → one hive-partitioned Parquet file (encode row groups early, splice
//!   them in uid order late, temp name then rename).
//! - [`synthetic`]: synthetic decoded cycles for the sink's tests and benches.

pub mod parquet;
pub mod synthetic;
