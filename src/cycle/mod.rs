//! The one cycle pipeline: calls in hand → ordered rows → decode → every sink → summary.
//!
//! In: the cycle request, the miners in the source's order (uid and hotkey of each), the sinks,
//! and then, from a source (`source::live` as each call ends, `source::replay` row by row), one
//! [`RawCall`] per miner. Out: each sink's output, optionally the whole cycle as one record batch,
//! and the [`CycleSummary`].
//!
//! What it owns, so no source repeats it:
//! - **uid order**: output rows are sorted by uid; [`Cycle::new`] maps each source row to its
//!   output row once.
//! - **the per-row slots**: the cycle's columns ([`CycleColumns`]) with each row's outputs handed to
//!   exactly one job ([`crate::columns::RowSlots`]); the whole-cycle price buffer exists only when
//!   a sink or the caller wants the cycle as one batch, otherwise each row is decoded into its pool
//!   thread's scratch (reused from row to row and cycle to cycle) and handed to the sinks from
//!   there, so memory is the bodies plus one row per thread.
//! - **decode**: [`Feed::row`] runs on a pool thread: transport facts, the verdict and prices
//!   ([`crate::decode`]), `process_time_s`, then every live sink's [`Sink::rows`].
//! - **sinks**: started before the first call, cut off on their first failure without touching the
//!   others, finished after the last row (the contract is in [`crate::sink`]).
//! - **the summary**, built in [`Cycle::finish`] and nowhere else.

pub mod summary;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use arrow::record_batch::RecordBatch;

pub use summary::{Clock, CycleSummary, Timings};

use crate::batch;
use crate::call::RawCall;
use crate::cancel::Cancel;
use crate::columns::{CycleColumns, RowSlots, RowText, Rows};
use crate::decode::{self, PriceForm, Verdict};
use crate::request::{CycleRequest, CycleShape, Expected};
use crate::sink::{CycleInfo, Sink};

/// Why a cycle produced nothing. (A sink that fails while another finishes is not an error of
/// the cycle: it is reported in the summary's `sink_errors`.)
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error("{0}")]
    Request(#[from] crate::request::RequestError),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error("one signed request per axon is needed: {requests} requests for {axons} axons")]
    Requests { requests: usize, axons: usize },
    #[error("building the record batch: {0}")]
    Batch(#[from] arrow::error::ArrowError),
    /// The cycle's token was cancelled before any miner was asked.
    #[error("cycle cancelled before it started ({0})")]
    Cancelled(String),
    /// Two sinks share a name, or one takes a summary key (its output would hide another's).
    #[error("sink name {0:?} is taken (a second sink of that name, or a summary key)")]
    SinkName(&'static str),
    /// Every sink failed; each one's error, in the order they were given.
    #[error("{}", .0.iter().map(|(name, e)| format!("{name}: {e}")).collect::<Vec<_>>().join("; "))]
    Sinks(Vec<(&'static str, String)>),
}

/// What a finished cycle hands back.
pub struct CycleOutcome {
    pub summary: CycleSummary,
    /// The whole cycle as one record batch (`schemas/output.md`), when asked for.
    pub batch: Option<RecordBatch>,
}

/// One sink in a cycle, and whether it has failed.
struct Attached {
    sink: Box<dyn Sink>,
    name: &'static str,
    failed: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Attached {
    fn fail(&self, error: String) {
        if !self.failed.swap(true, Ordering::AcqRel) {
            // Reported in the summary (or as the cycle's error when no sink is left), not logged
            // twice.
            tracing::debug!(sink = self.name, %error, "sink failed; the other sinks go on");
            *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
        }
    }

    fn alive(&self) -> bool {
        !self.failed.load(Ordering::Acquire)
    }

    fn rows(&self, rows: &Rows<'_>) {
        if !self.alive() {
            return;
        }
        match catch_unwind(AssertUnwindSafe(|| self.sink.rows(rows))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fail(one_line(&*e)),
            Err(_) => self.fail("panicked while taking a row".into()),
        }
    }
}

/// A cycle in progress: its columns, the sinks, the clock. Made by a source, fed rows through
/// [`Cycle::feed`], ended by [`Cycle::finish`].
pub struct Cycle<'r> {
    request: &'r CycleRequest,
    shape: CycleShape,
    exp: Expected,
    /// `out_row[s]`: the output row of source row `s`.
    out_row: Vec<usize>,
    cols: CycleColumns,
    sinks: Vec<Attached>,
    keep_batch: bool,
    pub clock: Clock,
}

impl<'r> Cycle<'r> {
    /// Orders the miners (`uid_hotkey(s)` for source row `s` of `rows`), allocates the columns and
    /// starts the sinks. `keep_batch`: hand the whole cycle back as one batch.
    ///
    /// Errors only when every sink fails to start (there being at least one): the cycle would
    /// produce nothing, so no miner is asked.
    pub fn new<'a>(
        request: &'r CycleRequest,
        shape: CycleShape,
        rows: usize,
        uid_hotkey: impl Fn(usize) -> (u16, &'a str),
        sinks: Vec<Box<dyn Sink>>,
        keep_batch: bool,
        clock: Clock,
    ) -> Result<Cycle<'r>, CycleError> {
        let mut order: Vec<usize> = (0..rows).collect();
        order.sort_by_key(|&s| uid_hotkey(s).0);
        let mut out_row = vec![0usize; rows];
        for (out, &s) in order.iter().enumerate() {
            out_row[s] = out;
        }
        let mut names = std::collections::HashSet::new();
        for s in &sinks {
            let name = s.name();
            if summary::RESERVED_KEYS.contains(&name) || !names.insert(name) {
                return Err(CycleError::SinkName(name));
            }
        }
        let keep_prices = keep_batch || sinks.iter().any(|s| s.needs_batch());
        let mut cols =
            if keep_prices { CycleColumns::new(shape, rows) } else { CycleColumns::without_prices(shape, rows) };
        for (out, &s) in order.iter().enumerate() {
            let (uid, hotkey) = uid_hotkey(s);
            cols.uid[out] = uid;
            cols.hotkey[out] = hotkey.to_owned();
        }
        let info = CycleInfo { request, shape, uid: &cols.uid, hotkey: &cols.hotkey };
        let mut attached = Vec::with_capacity(sinks.len());
        for mut sink in sinks {
            let name = sink.name();
            let started = catch_unwind(AssertUnwindSafe(|| sink.start(&info)));
            let a = Attached { sink, name, failed: AtomicBool::new(false), error: Mutex::new(None) };
            match started {
                Ok(Ok(())) => {}
                Ok(Err(e)) => a.fail(one_line(&*e)),
                Err(_) => a.fail("panicked while starting".into()),
            }
            attached.push(a);
        }
        if !attached.is_empty() && attached.iter().all(|a| !a.alive()) {
            return Err(CycleError::Sinks(attached.iter().map(|a| (a.name, a.error_text())).collect()));
        }
        Ok(Cycle { request, shape, exp: request.expected(), out_row, cols, sinks: attached, keep_batch, clock })
    }

    /// The row-taking side of the cycle, shared by the pool threads until dropped.
    pub fn feed(&mut self) -> Feed<'_> {
        let shape = self.shape;
        let (uid, hotkey, slots) = self.cols.row_slots();
        Feed {
            shape,
            exp: &self.exp,
            out_row: &self.out_row,
            uid,
            hotkey,
            slots,
            sinks: &self.sinks,
            clock: &self.clock,
            done: AtomicUsize::new(0),
        }
    }

    /// Builds the batch if one is wanted, finishes every live sink on `pool`, and makes the one
    /// summary. `source` is `live` or `replay`; `cancel` the cycle's token, if it had one.
    pub fn finish(
        self,
        pool: &rayon::ThreadPool,
        source: &'static str,
        cancel: Option<&Cancel>,
        decoded_before_last_body: Option<usize>,
    ) -> Result<CycleOutcome, CycleError> {
        let Cycle { request, cols, sinks, keep_batch, mut clock, .. } = self;
        let rows_end = *clock.rows_end.get_or_insert_with(Instant::now);
        let verdicts = cols.verdict_counts();
        let rows = cols.rows();
        let body_bytes: u64 = cols.response_bytes.iter().sum();

        let wants_batch = keep_batch || sinks.iter().any(|a| a.alive() && a.sink.needs_batch());
        let mut batch_time = None;
        let batch = if wants_batch && cols.has_prices() {
            let t = Instant::now();
            let b = pool.install(|| batch::build(cols, request));
            batch_time = Some(t.elapsed());
            match b {
                Ok(b) => Some(b),
                Err(e) if !keep_batch => {
                    for a in sinks.iter().filter(|a| a.sink.needs_batch()) {
                        a.fail(format!("building the record batch: {e}"));
                    }
                    None
                }
                Err(e) => return Err(CycleError::Batch(e)),
            }
        } else {
            None
        };

        let t_write = Instant::now();
        let mut outputs = std::collections::BTreeMap::new();
        let mut sink_errors = std::collections::BTreeMap::new();
        let any_sinks = !sinks.is_empty();
        for a in sinks {
            if !a.alive() {
                sink_errors.insert(a.name, a.error_text());
                continue;
            }
            let Attached { sink, name, .. } = a;
            let given = if sink.needs_batch() { batch.as_ref() } else { None };
            match pool.install(|| catch_unwind(AssertUnwindSafe(|| sink.finish(given)))) {
                Ok(Ok(v)) => {
                    outputs.insert(name, v);
                }
                Ok(Err(e)) => {
                    sink_errors.insert(name, one_line(&*e));
                }
                Err(_) => {
                    sink_errors.insert(name, "panicked while finishing".into());
                }
            }
        }
        let end = Instant::now();
        if any_sinks && outputs.is_empty() {
            return Err(CycleError::Sinks(sink_errors.into_iter().collect()));
        }
        clock.rows_end = Some(rows_end);
        let timings_ms = clock.timings(batch_time, end - t_write, end);
        let summary = CycleSummary {
            source,
            rules: self.exp.rules,
            rows,
            verdicts,
            body_bytes,
            outputs,
            sink_errors,
            timings_ms,
            decoded_before_last_body,
            // Read last: a cancel that came while the sinks finished still says the cycle was cut.
            stopped_by: cancel.and_then(|c| c.reason().map(str::to_owned)),
            peak_rss_bytes: crate::procfs::peak_rss_bytes(),
        };
        Ok(CycleOutcome { summary, batch: if keep_batch { batch } else { None } })
    }
}

impl Attached {
    fn error_text(&self) -> String {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_else(|| "failed".into())
    }
}

/// The row-taking side of a [`Cycle`]: `Sync`, so every pool thread can hand it rows.
pub struct Feed<'c> {
    shape: CycleShape,
    exp: &'c Expected,
    out_row: &'c [usize],
    uid: &'c [u16],
    hotkey: &'c [String],
    slots: RowSlots<'c>,
    sinks: &'c [Attached],
    clock: &'c Clock,
    done: AtomicUsize,
}

thread_local! {
    /// This pool thread's price scratch: a row is decoded here when the cycle keeps no
    /// whole-cycle buffer, and the sinks read it from here. Reused from row to row and from cycle
    /// to cycle (the pool's threads live as long as the engine).
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
    /// This pool thread's list of a row's int prices (exact path), reused likewise.
    static INTS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Scratch beyond this is given back after the row (an outsized cycle should not pin its memory
/// in every pool thread until the next one).
const SCRATCH_KEEP_BYTES: usize = 64 << 20;

impl Feed<'_> {
    /// Source row `source`'s call, the `seq`-th the source hands over (0, 1, 2, … in the order
    /// it means the rows to be laid out: [`Rows::seq`]): decoded into its output row and handed
    /// to every live sink. Called once per row, from any pool thread; a second call for the same
    /// row is ignored.
    pub fn row(&self, source: usize, seq: usize, call: &RawCall<'_>) {
        let Some(&out) = self.out_row.get(source) else { return };
        let Some(o) = self.slots.take(out) else { return };
        *o.status = call.status;
        *o.error = call.error;
        *o.ttfb_ms = call.ttfb_ms;
        *o.elapsed_ms = call.elapsed_ms;
        *o.response_bytes = call.body.map_or(0, |b| b.len() as u64);

        let slot_len = self.shape.slot_len();
        // Taken out of the thread-local, not borrowed: a sink that waits may let this thread run
        // another row, which then finds the cell empty and makes its own.
        let mut scratch = if o.prices.len() == slot_len { Vec::new() } else { SCRATCH.with(|s| s.take()) };
        if o.prices.len() != slot_len {
            scratch.resize(slot_len, 0.0);
        }
        let mut ints = INTS.with(|s| s.take());
        let t = Instant::now();
        let (verdict, form) = {
            let slot: &mut [f64] = if o.prices.len() == slot_len { &mut *o.prices } else { &mut scratch };
            decode_one_traced(self.exp, call, slot, &mut ints)
        };
        // Upstream keeps a process time exactly when the reply arrived; every call starts with the
        // cycle, so it is cycle start → call end, the same number live and from a recording.
        *o.process_time_s = verdict.arrived().then_some(call.elapsed_ms / 1e3);
        *o.verdict = verdict;
        Clock::add(&self.clock.decode_ns, t);

        let t = Instant::now();
        {
            let prices: &[f64] = if o.prices.len() == slot_len { &*o.prices } else { &scratch };
            let text = match (&form, call.body) {
                (PriceForm::Tokens(span), Some(body)) => RowText::Tokens(&body[span.clone()]),
                _ if !ints.is_empty() => RowText::Ints(&ints),
                _ => RowText::Doubles,
            };
            let body = call.body;
            let rows = Rows::one(out, seq, self.shape, &self.uid[out], &self.hotkey[out], &o, prices, &text, &body);
            for sink in self.sinks {
                sink.rows(&rows);
            }
        }
        Clock::add(&self.clock.encode_ns, t);
        if scratch.capacity() > 0 && scratch.capacity() * 8 <= SCRATCH_KEEP_BYTES {
            SCRATCH.with(|s| s.replace(scratch));
        }
        if ints.capacity() * 4 <= SCRATCH_KEEP_BYTES {
            INTS.with(|s| s.replace(ints));
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Rows through decode and the sinks so far.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

/// One row, with a panic in the decoder (a bug, never expected) costing only that row.
pub fn decode_one(exp: &Expected, call: &RawCall<'_>, slot: &mut [f64]) -> Verdict {
    decode_one_traced(exp, call, slot, &mut Vec::new()).0
}

/// [`decode_one`] with how the prices were written ([`decode::decode_call_traced`]).
pub fn decode_one_traced(
    exp: &Expected,
    call: &RawCall<'_>,
    slot: &mut [f64],
    ints: &mut Vec<u32>,
) -> (Verdict, PriceForm) {
    catch_unwind(AssertUnwindSafe(|| decode::decode_call_traced(exp, call, slot, ints))).unwrap_or_else(|_| {
        tracing::error!("decoder panicked on a body; the row is recorded as not arrived");
        (Verdict::NoResponse, PriceForm::Doubles)
    })
}

/// An error and its sources on one line.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s.replace('\n', " ")
}
