//! Writing a recording: calls → record batches → IPC file under a temp name → rename.
//!
//! In: the request, the cycle's start time and the calls in request order, in one slice or in
//! several (one record batch each, so a big cycle never has to sit in memory whole). Out: the file
//! at `path`, which appears complete or not at all: everything goes to a temp name in the same
//! folder, is flushed and synced, and only then renamed over `path`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Float64Array, LargeBinaryBuilder, ListArray, RecordBatch, StringArray, StringBuilder,
    StructArray, UInt16Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::SchemaRef;
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};

use super::{Compression, RecordedCall, RecordingError, header_fields, header_item_field, is_rfc3339_utc, schema};
use crate::request::CycleRequest;

/// What [`write()`] / [`RecordingWriter::finish`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSummary {
    pub path: PathBuf,
    pub rows: usize,
    pub batches: usize,
    /// Sum of the body lengths.
    pub body_bytes: u64,
    /// Size of the file on disk.
    pub file_bytes: u64,
}

/// Writes a whole recording in one record batch.
pub fn write(
    path: &Path,
    request: &CycleRequest,
    started_at: &str,
    calls: &[RecordedCall],
    compression: Compression,
) -> Result<WriteSummary, RecordingError> {
    let mut w = RecordingWriter::create(path, request, started_at, compression)?;
    w.write(calls)?;
    w.finish()
}

/// A recording being written batch by batch. Dropping it unfinished removes the temp file.
pub struct RecordingWriter {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<FileWriter<BufWriter<File>>>,
    schema: SchemaRef,
    /// `(uid, hotkey)` of every axon in request order: each written row must match the next one.
    axons: Vec<(u16, String)>,
    rows: usize,
    batches: usize,
    body_bytes: u64,
    /// Set once the temp file has become `path`; until then, dropping removes the temp file.
    renamed: bool,
}

impl RecordingWriter {
    /// Opens the temp file and writes the schema (with the request and start time as metadata).
    pub fn create(
        path: &Path,
        request: &CycleRequest,
        started_at: &str,
        compression: Compression,
    ) -> Result<RecordingWriter, RecordingError> {
        let err = |reason: String| RecordingError::Write { path: path.display().to_string(), reason };
        if !is_rfc3339_utc(started_at) {
            return Err(err(format!("started_at {started_at:?} is not an RFC 3339 UTC time")));
        }
        path.file_name().ok_or_else(|| err("no file name".into()))?;
        let tmp = crate::atomic_file::temp_path(path);
        // The rules are always stored: a recording replays under the rules its cycle ran under.
        let stored = CycleRequest { rules: Some(request.rules()), ..request.clone() };
        let schema: SchemaRef = Arc::new(schema(&stored.to_json(), started_at));
        let options = IpcWriteOptions::default()
            .try_with_compression(match compression {
                Compression::None => None,
                Compression::Lz4 => Some(CompressionType::LZ4_FRAME),
                Compression::Zstd => Some(CompressionType::ZSTD),
            })
            .map_err(|e| err(e.to_string()))?;
        let file = File::create(&tmp).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
        let mut me = RecordingWriter {
            path: path.to_owned(),
            tmp,
            writer: None,
            schema: schema.clone(),
            axons: request.axons.iter().map(|a| (a.uid, a.hotkey.clone())).collect(),
            rows: 0,
            batches: 0,
            body_bytes: 0,
            renamed: false,
        };
        let w = FileWriter::try_new_with_options(BufWriter::with_capacity(1 << 20, file), &schema, options)
            .map_err(|e| err(e.to_string()))?;
        me.writer = Some(w);
        Ok(me)
    }

    fn err(&self, reason: String) -> RecordingError {
        RecordingError::Write { path: self.path.display().to_string(), reason }
    }

    /// Appends `calls` (the next rows in request order) as one record batch.
    pub fn write(&mut self, calls: &[RecordedCall]) -> Result<(), RecordingError> {
        if calls.is_empty() {
            return Ok(());
        }
        for (k, c) in calls.iter().enumerate() {
            let row = self.rows + k;
            match self.axons.get(row) {
                Some((uid, hotkey)) if *uid == c.uid && *hotkey == c.hotkey => {}
                Some((uid, hotkey)) => {
                    return Err(self.err(format!(
                        "row {row} is uid {} hotkey {} but the request's axon {row} is uid {uid} hotkey {hotkey}",
                        c.uid, c.hotkey
                    )));
                }
                None => {
                    return Err(self.err(format!("row {row}: more calls than axons in the request")));
                }
            }
        }
        let batch = to_batch(&self.schema, calls).map_err(|e| self.err(e.to_string()))?;
        let res = self.writer.as_mut().expect("writer is open until finish").write(&batch);
        res.map_err(|e| self.err(e.to_string()))?;
        self.rows += calls.len();
        self.batches += 1;
        self.body_bytes += calls.iter().map(|c| c.body.as_ref().map_or(0, |b| b.len() as u64)).sum::<u64>();
        Ok(())
    }

    /// Writes the footer, syncs the temp file and renames it to the final path.
    pub fn finish(mut self) -> Result<WriteSummary, RecordingError> {
        if self.rows != self.axons.len() {
            return Err(self.err(format!(
                "{} rows written but the request lists {} axons",
                self.rows,
                self.axons.len()
            )));
        }
        let mut w = self.writer.take().expect("writer is open until finish");
        w.finish().map_err(|e| self.err(e.to_string()))?;
        let mut buf = w.into_inner().map_err(|e| self.err(e.to_string()))?;
        buf.flush().map_err(|e| self.err(e.to_string()))?;
        let file = buf.into_inner().map_err(|e| self.err(e.error().to_string()))?;
        file.sync_all().map_err(|e| self.err(e.to_string()))?;
        let file_bytes = file.metadata().map_err(|e| self.err(e.to_string()))?.len();
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| self.err(e.to_string()))?;
        self.renamed = true;
        Ok(WriteSummary {
            path: self.path.clone(),
            rows: self.rows,
            batches: self.batches,
            body_bytes: self.body_bytes,
            file_bytes,
        })
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        if !self.renamed {
            // Unfinished (or failed): the temp file must not outlive us.
            self.writer = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `calls` → one record batch of the contract's schema.
fn to_batch(schema: &SchemaRef, calls: &[RecordedCall]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let uid: UInt16Array = calls.iter().map(|c| Some(c.uid)).collect();
    let hotkey: StringArray = calls.iter().map(|c| Some(c.hotkey.as_str())).collect();
    let status: UInt16Array = calls.iter().map(|c| c.status).collect();
    let error: StringArray = calls.iter().map(|c| c.error.map(|e| e.as_str())).collect();
    let ttfb: Float64Array = calls.iter().map(|c| c.ttfb_ms).collect();
    let elapsed: Float64Array = calls.iter().map(|c| Some(c.elapsed_ms)).collect();

    let n_headers: usize = calls.iter().map(|c| c.headers.as_ref().map_or(0, Vec::len)).sum();
    let header_text: usize =
        calls.iter().flat_map(|c| c.headers.iter().flatten()).map(|(n, v)| n.len() + v.len()).sum();
    let mut names = StringBuilder::with_capacity(n_headers, header_text);
    let mut values = StringBuilder::with_capacity(n_headers, header_text);
    let mut offsets = Vec::with_capacity(calls.len() + 1);
    offsets.push(0i32);
    for c in calls {
        for (n, v) in c.headers.iter().flatten() {
            names.append_value(n);
            values.append_value(v);
        }
        offsets.push(
            i32::try_from(names.len())
                .map_err(|_| arrow::error::ArrowError::InvalidArgumentError("too many headers in one batch".into()))?,
        );
    }
    let entries = StructArray::try_new(
        header_fields(),
        vec![Arc::new(names.finish()) as ArrayRef, Arc::new(values.finish())],
        None,
    )?;
    let headers = ListArray::try_new(
        header_item_field(),
        OffsetBuffer::new(offsets.into()),
        Arc::new(entries),
        Some(NullBuffer::from_iter(calls.iter().map(|c| c.headers.is_some()))),
    )?;

    let body_len: usize = calls.iter().map(|c| c.body.as_ref().map_or(0, Vec::len)).sum();
    let mut body = LargeBinaryBuilder::with_capacity(calls.len(), body_len);
    for c in calls {
        match &c.body {
            Some(b) => body.append_value(b),
            None => body.append_null(),
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(uid),
        Arc::new(hotkey),
        Arc::new(status),
        Arc::new(error),
        Arc::new(ttfb),
        Arc::new(elapsed),
        Arc::new(headers),
        Arc::new(body.finish()),
    ];
    RecordBatch::try_new(schema.clone(), columns)
}
