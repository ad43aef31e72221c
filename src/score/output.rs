//! Where scores go: one Parquet file per scored cycle, in a hive-partitioned table.
//!
//! In: a cycle's scores batch ([`super::table`]) and the output folder. Out:
//! `DIR/layout-2/scores_<normalisation>/asset=<asset>/date=<YYYY-MM-DD>/<start_unix>_<time_length>.parquet`,
//! written whole or not at all (temp name, fsync, then a link that never replaces an existing
//! file unless asked). The table folder names the normalisation, so scores made two ways never
//! mix in one dataset; both prompts (1 h and 24 h) share it: the schema is the same.

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::prompt::Normalisation;
use super::table::CycleKeys;
use crate::sink::parquet::{LAYOUT_VERSION, hive_partitions};

/// The scores table's folder under `dir`.
pub fn table_root(dir: &Path, form: Normalisation) -> PathBuf {
    dir.join(format!("layout-{LAYOUT_VERSION}")).join(format!("scores_{}", form.name()))
}

/// The file of one cycle's scores.
pub fn scores_path(dir: &Path, form: Normalisation, keys: &CycleKeys) -> Result<PathBuf, String> {
    let partitions = hive_partitions(&keys.asset, keys.start_unix)?;
    Ok(table_root(dir, form).join(partitions).join(format!("{}_{}.parquet", keys.start_unix, keys.time_length)))
}

/// The batch as Parquet bytes (ZSTD, the batch's metadata also as the file's key-value pairs, so
/// readers that see only those, DuckDB's `parquet_kv_metadata`, find it).
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let kv: Vec<KeyValue> =
        batch.schema().metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_key_value_metadata(Some(kv))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(out)
}

/// Writes `bytes` at `path` (creating its folders), whole or not at all; an existing file is an
/// `AlreadyExists` error unless `overwrite`.
pub fn write(path: &Path, bytes: &[u8], overwrite: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    crate::atomic_file::write_new_with(path, overwrite, |f| std::io::Write::write_all(f, bytes))
}
