//! Replay: a recorded cycle → decode → record batch → Parquet, with the timing summary.
//!
//! In: a `.cycle.arrow` recording and the output options. Out: the Parquet file (renamed into
//! place) and a [`CycleSummary`]. Decoding runs on the process-wide pool through
//! [`decode_rows`], the same code the live client feeds from its queue.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::batch;
use crate::call::RawCall;
use crate::columns::CycleColumns;
use crate::decode::{self, Verdict};
use crate::pool::decode_pool;
use crate::recording::Recording;
use crate::request::{CycleRequest, Expected};
use crate::sink::parquet::{self as parquet_sink, ParquetOptions};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error("{0}")]
    Request(#[from] crate::request::RequestError),
    #[error("building the record batch: {0}")]
    Batch(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Sink(#[from] parquet_sink::SinkError),
}

/// The one JSON line the CLI prints.
#[derive(Debug, Serialize)]
pub struct CycleSummary {
    pub parquet: PathBuf,
    pub rows: usize,
    pub verdicts: BTreeMap<String, usize>,
    pub body_bytes: u64,
    pub timings_ms: BTreeMap<&'static str, f64>,
    /// Live cycles only: how many bodies were decoded before the last one arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded_before_last_body: Option<usize>,
}

/// Replays `recording` into a Parquet file under `out_dir`.
pub fn replay(recording: &Path, out_dir: &Path, opts: &ParquetOptions) -> Result<CycleSummary, ReplayError> {
    let t0 = Instant::now();
    let rec = Recording::read(recording)?;
    let t_read = Instant::now();
    log_memory("read");
    let shape = rec.request.shape()?;

    // Output rows are sorted by uid; `source[out]` is the recording row that lands there.
    let mut source: Vec<usize> = (0..rec.rows()).collect();
    source.sort_by_key(|&r| rec.uid(r));
    let mut cols = CycleColumns::new(shape, source.len());
    for (out, &r) in source.iter().enumerate() {
        let call = rec.call(r);
        cols.uid[out] = rec.uid(r);
        cols.hotkey[out] = rec.hotkey(r).to_owned();
        cols.set_call(out, &call);
    }
    decode_rows(&rec.request, &mut cols, |out| rec.call(source[out]));
    let t_decode = Instant::now();
    log_memory("decode");

    let verdicts = cols.verdict_counts();
    let rows = cols.rows();
    let body_bytes = rec.body_bytes();
    // The bodies are decoded: free the recording (the size of the cycle) before encoding.
    let Recording { request, .. } = rec;
    let batch = batch::build(cols, &request)?;
    let t_batch = Instant::now();
    let parquet = parquet_sink::write(&batch, &request, out_dir, opts)?;
    let t_write = Instant::now();
    log_memory("write");

    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    let timings_ms = BTreeMap::from([
        ("read", ms(t0, t_read)),
        ("decode", ms(t_read, t_decode)),
        ("batch", ms(t_decode, t_batch)),
        ("write", ms(t_batch, t_write)),
        ("total", ms(t0, t_write)),
    ]);
    Ok(CycleSummary { parquet, rows, verdicts, body_bytes, timings_ms, decoded_before_last_body: None })
}

/// Decodes every row of `cols` on the decode pool: `call(row)` gives the raw call that belongs in
/// output row `row`. Each worker writes only its own row's slot and verdict.
pub fn decode_rows<'a, F>(request: &CycleRequest, cols: &mut CycleColumns, call: F)
where
    F: Fn(usize) -> RawCall<'a> + Sync,
{
    let exp = Expected::from_input(&request.simulation_input);
    let slot_len = cols.shape.slot_len();
    decode_pool().install(|| {
        cols.prices
            .par_chunks_mut(slot_len)
            .zip(cols.verdict.par_iter_mut())
            .enumerate()
            .with_max_len(1)
            .for_each(|(row, (slot, verdict))| *verdict = decode_one(&exp, &call(row), slot));
    });
    for row in 0..cols.rows() {
        cols.process_time_s[row] = process_time_s(&cols.verdict[row], cols.elapsed_ms[row]);
    }
}

/// One row, with a panic in the decoder (a bug, never expected) costing only that row.
pub fn decode_one(exp: &Expected, call: &RawCall<'_>, slot: &mut [f64]) -> Verdict {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode::decode_call(exp, call, slot)))
        .unwrap_or_else(|_| {
            tracing::error!("decoder panicked on a body; the row is recorded as not arrived");
            Verdict::NoResponse
        })
}

/// Upstream keeps a process time exactly when the reply arrived. Replay has no separate call
/// start, and every call starts with the cycle, so the time is cycle start → call end.
fn process_time_s(verdict: &Verdict, elapsed_ms: f64) -> Option<f64> {
    verdict.arrived().then_some(elapsed_ms / 1e3)
}

/// Logs the process's resident and peak resident memory (Linux) at the end of a phase.
pub(crate) fn log_memory(phase: &str) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return };
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).unwrap_or("?").to_owned()
    };
    tracing::info!(phase, rss_kb = %field("VmRSS:"), peak_kb = %field("VmHWM:"), "memory");
}
