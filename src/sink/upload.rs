//! The Parquet sink with object storage as its folder (`--out s3://bucket/prefix/`, feature `s3`).
//!
//! In: the cycle's rows, as for [`ParquetSink`]. Out: the cycle file at
//! `s3://bucket/prefix/layout-2/<table>/asset=…/date=…/<start>.parquet`, the same key the local
//! layout gives, stored whole or not at all and never over an existing object unless asked
//! ([`crate::store::Remote::upload`]).
//!
//! The file is first written, streamed row group by row group as on disk, into a staging folder
//! of this cycle's own, then uploaded when the cycle ends; the folder is removed once the object is
//! stored, and kept when the upload fails (the error names the file, so the cycle is not lost). A
//! database save in the same cycle retries from the cycle's batch, not from the staged file.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::parquet::ParquetSink;
use super::{CycleInfo, Error, Rows, Sink};
use crate::store::Remote;

pub struct UploadSink {
    inner: ParquetSink,
    remote: Arc<Remote>,
    staging: PathBuf,
    overwrite: bool,
}

impl UploadSink {
    /// `inner` must write under `staging`, a folder of this cycle's own (removed after the upload).
    pub fn new(inner: ParquetSink, remote: Arc<Remote>, staging: PathBuf, overwrite: bool) -> UploadSink {
        UploadSink { inner, remote, staging, overwrite }
    }
}

impl Sink for UploadSink {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn start(&mut self, cycle: &CycleInfo<'_>) -> Result<(), Error> {
        self.inner.start(cycle)
    }

    fn needs_batch(&self) -> bool {
        self.inner.needs_batch()
    }

    fn rows(&self, rows: &Rows<'_>) -> Result<(), Error> {
        self.inner.rows(rows)
    }

    fn finish(self: Box<Self>, batch: Option<&RecordBatch>) -> Result<serde_json::Value, Error> {
        let UploadSink { inner, remote, staging, overwrite } = *self;
        let staged = Box::new(inner).finish(batch)?;
        let local = PathBuf::from(staged.as_str().ok_or("the Parquet sink named no file")?);
        let relative = local
            .strip_prefix(&staging)
            .map_err(|_| format!("{} is not under {}", local.display(), staging.display()))?;
        let key = remote.key_of(relative);
        match remote.upload(&local, &key, overwrite) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(serde_json::Value::String(remote.url(&key)))
            }
            Err(e) => Err(format!("{e}; the cycle is kept in {}", local.display()).into()),
        }
    }
}
