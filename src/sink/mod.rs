//! Where a cycle's record batch goes: Parquet files for offline analysis.

pub mod parquet;
