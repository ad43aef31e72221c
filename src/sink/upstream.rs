//! The upstream-shape sink: the cycle's results as today's validator's workers return them, one
//! JSON line per queried miner, in the request's order.
//!
//! In: the whole cycle as one record batch (at `finish`). Out: one file, written under a temp
//! name and renamed into place whole (`schemas/upstream.md`); the summary shows its path under
//! `upstream`. The lines come from [`crate::upstream`], the library function the Python binding
//! uses, so the file and the binding cannot disagree.

use std::io::Write;
use std::path::PathBuf;

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::request::CycleRequest;
use crate::sink::{CycleInfo, Error, Rows, Sink};
use crate::upstream;

/// Rows rendered at a time (in parallel) before they are written: bounds the text held at once
/// to a few MB whatever the cycle's size.
const ROWS_PER_CHUNK: usize = 16;

pub struct UpstreamSink {
    path: PathBuf,
    float32: bool,
    /// The request (axon order) and its start time, from `start`.
    request: Option<(CycleRequest, i64)>,
}

impl UpstreamSink {
    /// Writes to `path` (replacing it); `float32` puts the float32 blob (base64) in `output`
    /// instead of the prices.
    pub fn new(path: impl Into<PathBuf>, float32: bool) -> UpstreamSink {
        UpstreamSink { path: path.into(), float32, request: None }
    }
}

impl Sink for UpstreamSink {
    fn name(&self) -> &'static str {
        "upstream"
    }

    fn start(&mut self, cycle: &CycleInfo<'_>) -> Result<(), Error> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(format!("{} is not a folder", dir.display()).into());
            }
        }
        self.request = Some((cycle.request.clone(), cycle.shape.start_unix));
        Ok(())
    }

    fn needs_batch(&self) -> bool {
        true
    }

    fn rows(&self, _rows: &Rows<'_>) -> Result<(), Error> {
        Ok(())
    }

    fn finish(self: Box<Self>, batch: Option<&RecordBatch>) -> Result<serde_json::Value, Error> {
        let batch = batch.ok_or("no batch was kept for the upstream sink")?;
        let (request, start) = self.request.as_ref().ok_or("the upstream sink was not started")?;
        let results = upstream::results(batch, request)?;
        let written = crate::atomic_file::write_with(&self.path, |f| {
            for chunk in results.chunks(ROWS_PER_CHUNK) {
                let lines: Vec<String> = chunk
                    .par_iter()
                    .map(|r| {
                        let mut line = String::new();
                        upstream::write_json_line(r, request, *start, self.float32, &mut line);
                        line
                    })
                    .collect();
                for line in &lines {
                    f.write_all(line.as_bytes())?;
                }
            }
            Ok(())
        });
        if let Err(e) = written {
            return Err(format!("writing {}: {e}", self.path.display()).into());
        }
        Ok(serde_json::Value::String(self.path.display().to_string()))
    }
}
