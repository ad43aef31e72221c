//! The cycle's preallocated columns.
//!
//! In: the cycle's shape and row count. Out: one f64 buffer holding every price of the cycle
//! (`rows × paths × points`, row-major, rows in output order = sorted by uid) and plain per-row
//! vectors for everything else. Each row's decoder gets only its own slot; the batch builder takes
//! the whole buffer over without a copy.

use rayon::prelude::*;

use crate::call::{CallError, RawCall};
use crate::decode::Verdict;
use crate::request::CycleShape;

/// Per-row metadata, struct-of-arrays, plus the price buffer. Row `i` is the `i`-th row of the
/// output (sorted by uid).
pub struct CycleColumns {
    pub shape: CycleShape,
    pub uid: Vec<u16>,
    pub hotkey: Vec<String>,
    pub status: Vec<Option<u16>>,
    pub error: Vec<Option<CallError>>,
    pub ttfb_ms: Vec<Option<f64>>,
    pub elapsed_ms: Vec<f64>,
    pub process_time_s: Vec<Option<f64>>,
    pub response_bytes: Vec<u64>,
    pub verdict: Vec<Verdict>,
    /// `rows × shape.slot_len()` prices; a row's slot is meaningful only when its verdict is CORRECT.
    pub prices: Vec<f64>,
}

impl CycleColumns {
    /// Allocates every column for `rows` miners. The price buffer is requested zeroed, so the OS
    /// hands out pages lazily; call [`CycleColumns::prefault`] while waiting for I/O so the decoder
    /// does not pay the first-touch faults.
    pub fn new(shape: CycleShape, rows: usize) -> CycleColumns {
        CycleColumns {
            shape,
            uid: vec![0; rows],
            hotkey: vec![String::new(); rows],
            status: vec![None; rows],
            error: vec![None; rows],
            ttfb_ms: vec![None; rows],
            elapsed_ms: vec![0.0; rows],
            process_time_s: vec![None; rows],
            response_bytes: vec![0; rows],
            verdict: vec![Verdict::NoResponse; rows],
            prices: vec![0.0; rows * shape.slot_len()],
        }
    }

    /// As [`CycleColumns::new`], but the price buffer is `prices`, reused: resized to fit (its
    /// values are not cleared; a row's slot is meaningful only once decoded CORRECT, and the
    /// decoder writes every price of such a slot).
    pub fn with_prices(shape: CycleShape, rows: usize, mut prices: Vec<f64>) -> CycleColumns {
        prices.resize(rows * shape.slot_len(), 0.0);
        let mut c = CycleColumns::new(shape, 0);
        c.uid = vec![0; rows];
        c.hotkey = vec![String::new(); rows];
        c.status = vec![None; rows];
        c.error = vec![None; rows];
        c.ttfb_ms = vec![None; rows];
        c.elapsed_ms = vec![0.0; rows];
        c.process_time_s = vec![None; rows];
        c.response_bytes = vec![0; rows];
        c.verdict = vec![Verdict::NoResponse; rows];
        c.prices = prices;
        c
    }

    /// Row `row`'s slot, to decode into.
    pub fn slot_mut(&mut self, row: usize) -> &mut [f64] {
        let n = self.shape.slot_len();
        &mut self.prices[row * n..(row + 1) * n]
    }

    pub fn rows(&self) -> usize {
        self.uid.len()
    }

    /// Row `row`'s prices (meaningful only when its verdict is CORRECT).
    pub fn slot(&self, row: usize) -> &[f64] {
        let n = self.shape.slot_len();
        &self.prices[row * n..(row + 1) * n]
    }

    /// Touches every page of the price buffer on the current rayon pool, so first-touch page faults
    /// (~3 GB/s on this class of machine) are paid before the bodies arrive, not while decoding.
    pub fn prefault(&mut self) {
        const PAGE_F64: usize = 4096 / 8;
        self.prices.par_chunks_mut(PAGE_F64 * 256).for_each(|chunk| {
            for page in chunk.chunks_mut(PAGE_F64) {
                // SAFETY: the pointer comes from a live `&mut [f64]` of at least one element.
                // Volatile, because a plain store of the 0.0 already there may be dropped.
                unsafe { std::ptr::write_volatile(page.as_mut_ptr(), 0.0) };
            }
        });
    }

    /// Copies a call's transport facts into row `row` (the verdict comes from the decoder).
    pub fn set_call(&mut self, row: usize, call: &RawCall<'_>) {
        self.status[row] = call.status;
        self.error[row] = call.error;
        self.ttfb_ms[row] = call.ttfb_ms;
        self.elapsed_ms[row] = call.elapsed_ms;
        self.response_bytes[row] = call.body.map_or(0, |b| b.len() as u64);
    }

    /// Count of each verdict, for the summary line.
    pub fn verdict_counts(&self) -> std::collections::BTreeMap<String, usize> {
        verdict_counts(&self.verdict)
    }
}

/// Count of each verdict, for the summary line.
pub fn verdict_counts<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for v in verdicts {
        *m.entry(v.as_str().to_owned()).or_insert(0) += 1;
    }
    m
}
