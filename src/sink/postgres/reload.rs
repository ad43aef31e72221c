//! A decoded cycle, again: the rows of a written cycle file or of a cycle's batch, into a save.
//!
//! In: a cycle Parquet file (any price layout: float64, float32, decimal) or the cycle's record
//! batch. Out: its request and storage (from the file's metadata), and every row handed to a
//! [`Save`] on the current rayon pool. This is how a failed save is retried without asking the
//! miners again, and what `synth-forward load` does after an outage.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, FixedSizeListArray};
use arrow::datatypes::{DataType, Float64Type, UInt16Type};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use super::copy::Storage;
use super::save::{Committed, Save, SaveError};
use crate::batch::col;
use crate::request::CycleRequest;
use crate::sink::parquet::{PRICES_KEY, REQUEST_KEY};

/// A cycle file opened for reloading.
pub struct CycleFile {
    pub request: CycleRequest,
    /// `float64`, `float32` or `decimal(18,s)`.
    pub prices: String,
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
}

impl CycleFile {
    /// Opens `path` and reads its footer: the request and the price layout.
    pub fn open(path: &Path) -> Result<CycleFile, String> {
        let file = File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| format!("{} is not a readable Parquet file: {e}", path.display()))?;
        let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
        let request_json = get(REQUEST_KEY)
            .ok_or_else(|| format!("{} is not a cycle file (no {REQUEST_KEY} in its metadata)", path.display()))?;
        let request = CycleRequest::from_json(request_json.as_bytes())
            .map_err(|e| format!("the request in {}: {e}", path.display()))?;
        let prices = get(PRICES_KEY).unwrap_or_else(|| "float64".into());
        // Small batches: each is decoded whole (a 1000 × 289 row is 2.3 MB of doubles).
        let reader = builder.with_batch_size(16).build().map_err(|e| format!("reading {}: {e}", path.display()))?;
        Ok(CycleFile { request, prices, reader })
    }

    /// The storage a file's prices allow: float32 prices are what upstream's Bigtable backend
    /// keeps (the rows hold its sentinel); any other layout holds the exact doubles.
    pub fn storage(&self) -> Storage {
        if self.prices == "float32" { Storage::Bigtable } else { Storage::Json }
    }

    /// Every row of the file into `save`, committed; nothing stored on any error.
    pub fn save(self, save: Save) -> Result<Committed, SaveError> {
        for batch in self.reader {
            let batch = match batch {
                Ok(b) => b,
                // Dropping the save rolls back.
                Err(e) => return Err(SaveError::Failed(format!("reading a row group: {e}"))),
            };
            feed_batch(&batch, &save).map_err(SaveError::Failed)?;
        }
        save.commit()
    }
}

/// Every row of a cycle batch into `save`, committed; nothing stored on any error.
pub fn save_batch(batch: &RecordBatch, save: Save) -> Result<Committed, SaveError> {
    feed_batch(batch, &save).map_err(SaveError::Failed)?;
    save.commit()
}

/// Every row of a cycle batch (`schemas/output.md`, any price leaf) into `save`, rows in parallel
/// on the current rayon pool. When the connection fails meanwhile, `Ok` all the same: the error is
/// the save's, and its commit reports it.
fn feed_batch(batch: &RecordBatch, save: &Save) -> Result<(), String> {
    let column = |name: &str| batch.column_by_name(name).ok_or_else(|| format!("the batch has no {name} column"));
    let uid = column(col::UID)?.as_primitive_opt::<UInt16Type>().ok_or("uid is not uint16")?.clone();
    let verdict = arrow::compute::cast(column(col::FORMAT_VALIDATION)?, &DataType::Utf8)
        .map_err(|e| format!("format_validation: {e}"))?;
    let verdict = verdict.as_string::<i32>();
    let process_time =
        column(col::PROCESS_TIME_S)?.as_primitive_opt::<Float64Type>().ok_or("process_time_s is not float64")?.clone();
    let paths: &FixedSizeListArray =
        column(col::PATHS)?.as_fixed_size_list_opt().ok_or("paths is not a fixed-size list")?;
    let inner: &FixedSizeListArray = paths.values().as_fixed_size_list_opt().ok_or("paths' items are not lists")?;
    // The leaf as doubles: float64 as is; float32 and decimals widened exactly (a decimal below
    // 2^53 over a power of ten ≤ 1e18 is correctly rounded, as the writer checked).
    let leaf = inner.values();
    let leaf = if leaf.data_type() == &DataType::Float64 {
        leaf.clone()
    } else {
        arrow::compute::cast(leaf, &DataType::Float64).map_err(|e| format!("paths' prices: {e}"))?
    };
    let leaf = leaf.as_primitive::<Float64Type>().values();
    let slot = paths.value_length() as usize * inner.value_length() as usize;
    let base = paths.offset() * slot;
    let failed = std::sync::atomic::AtomicBool::new(false);
    (0..batch.num_rows()).into_par_iter().for_each(|r| {
        if failed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let correct = verdict.value(r) == crate::decode::Verdict::Correct.as_str();
        let prices = (correct && paths.is_valid(r)).then(|| &leaf[base + r * slot..base + (r + 1) * slot]);
        let pt = process_time.is_valid(r).then(|| process_time.value(r));
        // A file keeps doubles only: every price is written as a float.
        if save.row(uid.value(r), verdict.value(r), pt, prices, crate::columns::RowText::Doubles).is_err() {
            failed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let _lost = failed.into_inner();
    Ok(())
}
