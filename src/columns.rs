//! The cycle's columns, and the borrowed view of a run of rows that sinks receive.
//!
//! In: the cycle's shape and row count. Out: [`CycleColumns`], plain per-row vectors
//! (struct-of-arrays, rows in output order = sorted by uid) and, when the cycle keeps them, one f64
//! buffer holding every price of the cycle (`rows × paths × points`, row-major); [`RowSlots`],
//! which hands each row's outputs to exactly one decode job; and [`Rows`], the read-only view of
//! consecutive decoded rows that every sink and the batch builder read.

use std::sync::Mutex;

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
    /// `rows × shape.slot_len()` prices, or empty when the cycle does not keep its prices (each
    /// row is then decoded into its thread's scratch and handed to the sinks from there). A row's
    /// slot is meaningful only when its verdict is CORRECT.
    pub prices: Vec<f64>,
}

impl CycleColumns {
    /// Allocates every column for `rows` miners, with the whole-cycle price buffer. It is
    /// requested zeroed, so the OS hands out pages lazily, as the decoders first write them.
    pub fn new(shape: CycleShape, rows: usize) -> CycleColumns {
        let mut c = CycleColumns::without_prices(shape, rows);
        c.prices = vec![0.0; rows * shape.slot_len()];
        c
    }

    /// Every column for `rows` miners but the prices (see [`CycleColumns::prices`]).
    pub fn without_prices(shape: CycleShape, rows: usize) -> CycleColumns {
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
            prices: Vec::new(),
        }
    }

    pub fn rows(&self) -> usize {
        self.uid.len()
    }

    /// Whether the whole-cycle price buffer is here.
    pub fn has_prices(&self) -> bool {
        self.prices.len() == self.rows() * self.shape.slot_len()
    }

    /// Row `row`'s slot, to decode into (the whole-cycle buffer must be here).
    pub fn slot_mut(&mut self, row: usize) -> &mut [f64] {
        let n = self.shape.slot_len();
        &mut self.prices[row * n..(row + 1) * n]
    }

    /// Copies a call's transport facts into row `row` (the verdict comes from the decoder).
    pub fn set_call(&mut self, row: usize, call: &RawCall<'_>) {
        self.status[row] = call.status;
        self.error[row] = call.error;
        self.ttfb_ms[row] = call.ttfb_ms;
        self.elapsed_ms[row] = call.elapsed_ms;
        self.response_bytes[row] = call.body.map_or(0, |b| b.len() as u64);
    }

    /// Every row as one view (the prices must be here).
    pub fn view(&self) -> Rows<'_> {
        Rows {
            first: 0,
            seq: 0,
            shape: self.shape,
            uid: &self.uid,
            hotkey: &self.hotkey,
            status: &self.status,
            error: &self.error,
            ttfb_ms: &self.ttfb_ms,
            elapsed_ms: &self.elapsed_ms,
            process_time_s: &self.process_time_s,
            response_bytes: &self.response_bytes,
            verdict: &self.verdict,
            prices: &self.prices,
            text: &[],
            body: &[],
        }
    }

    /// Count of each verdict, for the summary line.
    pub fn verdict_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for v in &self.verdict {
            *m.entry(v.as_str().to_owned()).or_insert(0) += 1;
        }
        m
    }

    /// The per-row outputs, each to be taken once by the job that decodes that row, beside the
    /// columns fixed before decoding (uid, hotkey).
    pub fn row_slots(&mut self) -> (&[u16], &[String], RowSlots<'_>) {
        let CycleColumns {
            shape,
            uid,
            hotkey,
            status,
            error,
            ttfb_ms,
            elapsed_ms,
            process_time_s,
            response_bytes,
            verdict,
            prices,
        } = self;
        let rows = uid.len();
        let slot = shape.slot_len();
        // Without a whole-cycle buffer (or with empty slots) every row's price slot is empty.
        let mut prices: Box<dyn Iterator<Item = &mut [f64]>> = if slot > 0 && prices.len() == rows * slot {
            Box::new(prices.chunks_mut(slot))
        } else {
            Box::new(std::iter::repeat_with(|| &mut [][..]))
        };
        let slots = status
            .iter_mut()
            .zip(error.iter_mut())
            .zip(ttfb_ms.iter_mut())
            .zip(elapsed_ms.iter_mut())
            .zip(process_time_s.iter_mut())
            .zip(response_bytes.iter_mut())
            .zip(verdict.iter_mut())
            .map(|((((((status, error), ttfb_ms), elapsed_ms), process_time_s), response_bytes), verdict)| {
                Mutex::new(Some(RowOut {
                    status,
                    error,
                    ttfb_ms,
                    elapsed_ms,
                    process_time_s,
                    response_bytes,
                    verdict,
                    prices: prices.next().unwrap_or_default(),
                }))
            })
            .collect();
        (uid, hotkey, RowSlots { rows: slots })
    }
}

/// One row's outputs, for the job that decodes it.
pub struct RowOut<'a> {
    pub status: &'a mut Option<u16>,
    pub error: &'a mut Option<CallError>,
    pub ttfb_ms: &'a mut Option<f64>,
    pub elapsed_ms: &'a mut f64,
    pub process_time_s: &'a mut Option<f64>,
    pub response_bytes: &'a mut u64,
    pub verdict: &'a mut Verdict,
    /// The row's slot in the whole-cycle buffer; empty when the cycle keeps no prices.
    pub prices: &'a mut [f64],
}

/// The cycle's row outputs, each taken at most once. The mutex is never contended (one job per
/// row); it is what lets a job on any pool thread own its row without `unsafe`.
pub struct RowSlots<'a> {
    rows: Vec<Mutex<Option<RowOut<'a>>>>,
}

impl<'a> RowSlots<'a> {
    /// Row `row`'s outputs, the first time it is asked for; `None` after that.
    pub fn take(&self, row: usize) -> Option<RowOut<'a>> {
        self.rows.get(row)?.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Consecutive decoded output rows `first..first + len()`, borrowed: what a sink receives, and
/// what the batch builder reads. Every slice has one entry per row; `prices` holds
/// `len() × shape.slot_len()` values, a row's slot meaningful only when its verdict is CORRECT.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    /// The output row (uid order) of the first row.
    pub first: usize,
    /// The first row's place in the order the source handed rows over (0, 1, 2, … over the
    /// cycle): a live cycle's arrival order, kept by its recording, whose replay hands rows over in
    /// the same order. A sink that lays rows out in this order writes the same bytes for both.
    pub seq: usize,
    pub shape: CycleShape,
    pub uid: &'a [u16],
    pub hotkey: &'a [String],
    pub status: &'a [Option<u16>],
    pub error: &'a [Option<CallError>],
    pub ttfb_ms: &'a [Option<f64>],
    pub elapsed_ms: &'a [f64],
    pub process_time_s: &'a [Option<f64>],
    pub response_bytes: &'a [u64],
    pub verdict: &'a [Verdict],
    pub prices: &'a [f64],
    /// Per row, beside its doubles, how a CORRECT reply's prices were written (see
    /// [`Rows::price_text`]); empty for views built from the columns after decoding.
    pub text: &'a [RowText<'a>],
    /// Per row, the reply's body as it arrived (see [`Rows::body`]); empty for views built from
    /// the columns after decoding.
    pub body: &'a [Option<&'a [u8]>],
}

/// How a decoded row's prices were written in its reply, for sinks that must print them as the
/// validator's Python objects hold them (an int as an int).
#[derive(Clone, Copy, Debug, Default)]
pub enum RowText<'a> {
    /// `simulation_output`'s value as the reply's compact JSON (fast path).
    Tokens(&'a [u8]),
    /// The doubles, the prices at these indexes (ascending) being Python ints (exact path).
    Ints(&'a [u32]),
    /// Only the doubles are known (every price a float).
    #[default]
    Doubles,
}

impl<'a> Rows<'a> {
    /// One row: its fixed columns, its outputs and its prices.
    #[allow(clippy::too_many_arguments)]
    pub fn one(
        first: usize,
        seq: usize,
        shape: CycleShape,
        uid: &'a u16,
        hotkey: &'a String,
        out: &'a RowOut<'_>,
        prices: &'a [f64],
        text: &'a RowText<'a>,
        body: &'a Option<&'a [u8]>,
    ) -> Rows<'a> {
        use std::slice::from_ref;
        Rows {
            first,
            seq,
            shape,
            uid: from_ref(uid),
            hotkey: from_ref(hotkey),
            status: from_ref(&*out.status),
            error: from_ref(&*out.error),
            ttfb_ms: from_ref(&*out.ttfb_ms),
            elapsed_ms: from_ref(&*out.elapsed_ms),
            process_time_s: from_ref(&*out.process_time_s),
            response_bytes: from_ref(&*out.response_bytes),
            verdict: from_ref(&*out.verdict),
            prices,
            text: from_ref(text),
            body: from_ref(body),
        }
    }

    /// Row `i`'s body as the miner sent it, while the row is being decoded (a sink that must
    /// keep something of a failed reply: the Python binding's older result form).
    pub fn body(&self, i: usize) -> Option<&'a [u8]> {
        self.body.get(i).copied().flatten()
    }

    /// Row `i`'s [`RowText`] ([`RowText::Doubles`] where the view has none).
    pub fn price_text(&self, i: usize) -> RowText<'a> {
        self.text.get(i).copied().unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.uid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uid.is_empty()
    }

    /// Row `i`'s prices when it is CORRECT.
    pub fn correct_slot(&self, i: usize) -> Option<&'a [f64]> {
        let n = self.shape.slot_len();
        self.verdict[i].is_correct().then(|| &self.prices[i * n..(i + 1) * n])
    }
}
