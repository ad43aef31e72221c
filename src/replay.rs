//! Replay: a recorded cycle → decode → record batch → Parquet, with the timing summary.
//!
//! In: a `.cycle.arrow` recording and the output options. Out: the Parquet file (renamed into
//! place) and a [`CycleSummary`]. Decoding runs on the process-wide pool through [`decode_one`],
//! the same code the live client feeds from its queue.
//!
//! With the default (float64) prices, decoding and encoding are pipelined: the uid-sorted rows are
//! cut into equal windows (at most `correct_rows_per_group` rows and 8 MiB of prices each), and
//! each pool thread takes a window, decodes it into its own reused price buffer, builds the
//! window's batch and appends it to the file as one row group, while the other thread does the
//! next window. No whole-cycle price buffer exists, so memory is the recording plus two windows,
//! and the pages are faulted in once per thread rather than once per price. The summary's phases
//! then mean:
//! `decode` = the pipelined phase (decode + batch + encode + append of every window, wall
//! clock), `batch` / `decode_busy` / `encode_busy` = thread time summed over the pool in each
//! step, `write` = the footer, the last fsync and the rename. Compact prices need the whole
//! cycle's decimal scale before the first group, so that mode decodes everything, builds one
//! batch and writes it ([`decode_rows`]), with `decode`, `batch`, `write` as consecutive phases.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arrow::array::RecordBatch;
use rayon::prelude::*;
use serde::Serialize;

use crate::batch;
use crate::call::RawCall;
use crate::columns::{self, CycleColumns};
use crate::decode::{self, Verdict};
use crate::pool::decode_pool;
use crate::recording::Recording;
use crate::request::{CycleRequest, CycleShape, Expected};
use crate::sink::parquet::{
    self as parquet_sink, CycleParquetWriter, EncodedRowGroup, ParquetOptions, PriceEncoding, PriceLayout,
};

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

    let source = uid_order(&rec);
    if opts.prices != PriceEncoding::Float64 {
        return replay_whole(rec, &source, shape, out_dir, opts, t0, t_read);
    }

    // Pipelined: each window of rows is decoded into a reused buffer, built into a small batch
    // and encoded into the file as one row group, while the other thread does the next window.
    let writer = CycleParquetWriter::new(
        &batch::output_schema(shape.paths as i32, shape.points as i32),
        &rec.request,
        shape.start_unix,
        source.len(),
        out_dir,
        PriceLayout::Float64,
        opts,
    )?;
    // Windows of equal row counts: at most `correct_rows_per_group` rows and WINDOW_PRICE_BYTES
    // of prices each. Every row, CORRECT or not, takes a slot in the window's buffer, so counting
    // all rows (not just those with a body) keeps each thread's buffer, and the pages it faults
    // in, at one window's worth; equal windows never grow it again.
    let per_window = (WINDOW_PRICE_BYTES / (shape.slot_len() * 8).max(1)).clamp(1, opts.correct_rows_per_group.max(1));
    let windows: Vec<Range<usize>> =
        (0..source.len()).step_by(per_window).map(|start| start..(start + per_window).min(source.len())).collect();
    let pipeline = Pipeline {
        rec: &rec,
        source: &source,
        shape,
        exp: Expected::from_input(&rec.request.simulation_input),
        writer: &writer,
        widest: windows.iter().map(|w| w.len()).max().unwrap_or(0) * shape.slot_len(),
        busy: Busy::default(),
    };
    let done: Vec<(EncodedRowGroup, Vec<Verdict>)> = decode_pool().install(|| {
        windows.into_par_iter().with_max_len(1).map(|rows| pipeline.window(rows)).collect::<Result<_, ReplayError>>()
    })?;
    let busy = pipeline.busy;
    let t_encoded = Instant::now();
    log_memory("decode");

    let verdicts = columns::verdict_counts(done.iter().flat_map(|(_, v)| v));
    let rows = source.len();
    let body_bytes = rec.body_bytes();
    // Unmapping a 94 MB recording takes ≈ 15 ms (one page-table entry per 4 KiB page; strace),
    // which the footer, the last fsync and the rename need not wait for.
    let unmapped = std::thread::Builder::new().name("unmap".into()).spawn(move || drop(rec)).ok();
    let parquet = writer.finish(done.into_iter().map(|(g, _)| g).collect())?;
    // Joined (and timed) before returning, so a caller that replays again never holds two maps.
    if let Some(t) = unmapped {
        let _ = t.join();
    }
    let t_write = Instant::now();
    log_memory("write");

    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    let ns_ms = |n: &AtomicU64| n.load(Ordering::Relaxed) as f64 / 1e6;
    let timings_ms = BTreeMap::from([
        ("read", ms(t0, t_read)),
        ("decode", ms(t_read, t_encoded)),
        ("batch", ns_ms(&busy.batch)),
        ("decode_busy", ns_ms(&busy.decode)),
        ("encode_busy", ns_ms(&busy.encode)),
        ("write", ms(t_encoded, t_write)),
        ("total", ms(t0, t_write)),
    ]);
    Ok(CycleSummary { parquet, rows, verdicts, body_bytes, timings_ms, decoded_before_last_body: None })
}

/// The most price bytes a replay window decodes before encoding them: 16 rows of an hf cycle
/// (1000 × 61), 3 of an lf one (1000 × 289). Small windows keep the two threads' buffers (and the
/// pages they fault in) small and leave a short tail when the last window runs alone; 16-row
/// groups compress ~3 % better than 1-row ones (`schemas/output.md`).
const WINDOW_PRICE_BYTES: usize = 8 << 20;

/// Nanoseconds the pool threads spent in each step of [`window`], summed over threads.
#[derive(Default)]
struct Busy {
    decode: AtomicU64,
    batch: AtomicU64,
    encode: AtomicU64,
}

thread_local! {
    /// The price buffer of this thread's current window, reused from window to window.
    static WINDOW_PRICES: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What every window of a pipelined replay shares.
struct Pipeline<'a> {
    rec: &'a Recording,
    /// `source[out]`: the recording row of output row `out`.
    source: &'a [usize],
    shape: CycleShape,
    exp: Expected,
    writer: &'a CycleParquetWriter,
    /// Prices in the widest window: each thread's buffer is sized for it once.
    widest: usize,
    busy: Busy,
}

impl Pipeline<'_> {
    /// Output rows `rows`: decoded into this thread's window buffer, built into a batch and
    /// written to the file as one row group. Returns the group and the rows' verdicts.
    fn window(&self, rows: Range<usize>) -> Result<(EncodedRowGroup, Vec<Verdict>), ReplayError> {
        let (rec, busy) = (self.rec, &self.busy);
        let t = Instant::now();
        let mut prices = WINDOW_PRICES.with(|p| std::mem::take(&mut *p.borrow_mut()));
        // Sized once for the widest window, so a wider one later never reallocates (a copy into
        // fresh pages).
        prices.reserve_exact(self.widest.saturating_sub(prices.len()));
        let mut cols = CycleColumns::with_prices(self.shape, rows.len(), prices);
        for (i, out) in rows.clone().enumerate() {
            let r = self.source[out];
            let call = rec.call(r);
            cols.uid[i] = rec.uid(r);
            cols.hotkey[i] = rec.hotkey(r).to_owned();
            cols.set_call(i, &call);
            let v = decode_one(&self.exp, &call, cols.slot_mut(i));
            cols.process_time_s[i] = process_time_s(&v, call.elapsed_ms);
            cols.verdict[i] = v;
        }
        let verdicts = cols.verdict.clone();
        let t_decoded = Instant::now();
        let b = batch::build(cols, &rec.request)?;
        let t_batch = Instant::now();
        let group = self.writer.encode_batch(rows.start, &b)?;
        if let Some(p) = batch::take_prices(b) {
            WINDOW_PRICES.with(|w| *w.borrow_mut() = p);
        }
        let add = |n: &AtomicU64, a: Instant, b: Instant| n.fetch_add((b - a).as_nanos() as u64, Ordering::Relaxed);
        add(&busy.decode, t, t_decoded);
        add(&busy.batch, t_decoded, t_batch);
        add(&busy.encode, t_batch, Instant::now());
        Ok((group, verdicts))
    }
}

/// Compact prices: the decimal scale depends on every price of the cycle, so the whole cycle is
/// decoded first, then built into one batch and written.
fn replay_whole(
    rec: Recording,
    source: &[usize],
    shape: CycleShape,
    out_dir: &Path,
    opts: &ParquetOptions,
    t0: Instant,
    t_read: Instant,
) -> Result<CycleSummary, ReplayError> {
    let cols = decode_whole(&rec, source, shape);
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

/// The whole recording decoded into one set of columns, rows in the order `source` gives
/// (`source[out]` is the recording row of output row `out`).
fn decode_whole(rec: &Recording, source: &[usize], shape: CycleShape) -> CycleColumns {
    let mut cols = CycleColumns::new(shape, source.len());
    for (out, &r) in source.iter().enumerate() {
        let call = rec.call(r);
        cols.uid[out] = rec.uid(r);
        cols.hotkey[out] = rec.hotkey(r).to_owned();
        cols.set_call(out, &call);
    }
    decode_rows(&rec.request, &mut cols, |out| rec.call(source[out]));
    cols
}

/// A recording as the cycle's one output batch (sorted by uid), the way a compact replay builds
/// it before writing: for benches and tools that want the batch itself.
pub fn decode_recording(rec: &Recording) -> Result<RecordBatch, ReplayError> {
    let shape = rec.request.shape()?;
    Ok(batch::build(decode_whole(rec, &uid_order(rec), shape), &rec.request)?)
}

/// Output rows are sorted by uid: `source[out]` is the recording row that lands at `out`.
fn uid_order(rec: &Recording) -> Vec<usize> {
    let mut source: Vec<usize> = (0..rec.rows()).collect();
    source.sort_by_key(|&r| rec.uid(r));
    source
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
    let kb = |name| proc_status_kb(name).map_or_else(|| "?".to_owned(), |kb| kb.to_string());
    tracing::info!(phase, rss_kb = %kb("VmRSS:"), peak_kb = %kb("VmHWM:"), "memory");
}

/// The process's peak resident set so far (`VmHWM`), where the OS tells it (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// One `… kB` line of `/proc/self/status`, e.g. `VmRSS:`.
fn proc_status_kb(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// The batch `decode_recording` builds is the one the pipelined replay writes, row for row.
    #[test]
    fn decode_recording_matches_the_replayed_file() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow");
        let dir = tempfile::tempdir().unwrap();
        let summary = replay(&fixture, dir.path(), &ParquetOptions::default()).unwrap();
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&summary.parquet).unwrap()).unwrap();
        let schema = reader.schema().clone();
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let back = arrow::compute::concat_batches(&schema, &batches).unwrap();

        let batch = decode_recording(&Recording::read(&fixture).unwrap()).unwrap();
        assert_eq!(batch.num_rows(), summary.rows);
        assert_eq!(batch.num_columns(), back.num_columns());
        for (i, field) in batch.schema().fields().iter().enumerate() {
            assert_eq!(batch.column(i).as_ref(), back.column(i).as_ref(), "column {}", field.name());
        }
    }
}
