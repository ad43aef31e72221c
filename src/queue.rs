//! The hand-off from I/O to decoding.
//!
//! In: finished calls, pushed by the I/O thread as each one ends. Out: one decode job per call on
//! the decode pool, each writing only its own row. The queue is a bounded lock-free array
//! (crossbeam) sized for the cycle, so pushing never allocates or blocks; the row outputs are
//! handed out through [`RowSlots`], each exactly once.

use std::sync::Mutex;

use crossbeam_queue::ArrayQueue;

use crate::decode::Verdict;

/// What a decode job writes for one row.
pub struct RowOut<'a> {
    pub prices: &'a mut [f64],
    pub verdict: &'a mut Verdict,
    pub process_time_s: &'a mut Option<f64>,
}

/// The cycle's row outputs, each taken at most once. The mutex is never contended (one job per
/// row); it is what lets a job on any pool thread own its row without `unsafe`.
pub struct RowSlots<'a> {
    rows: Vec<Mutex<Option<RowOut<'a>>>>,
}

impl<'a> RowSlots<'a> {
    /// Splits the cycle's price buffer and per-row outputs into disjoint rows.
    pub fn new(
        prices: &'a mut [f64],
        slot_len: usize,
        verdict: &'a mut [Verdict],
        process_time_s: &'a mut [Option<f64>],
    ) -> RowSlots<'a> {
        let rows = prices
            .chunks_mut(slot_len.max(1))
            .zip(verdict.iter_mut())
            .zip(process_time_s.iter_mut())
            .map(|((prices, verdict), process_time_s)| Mutex::new(Some(RowOut { prices, verdict, process_time_s })))
            .collect();
        RowSlots { rows }
    }

    /// Row `row`'s outputs, the first time it is asked for; `None` after that.
    pub fn take(&self, row: usize) -> Option<RowOut<'a>> {
        self.rows.get(row)?.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A bounded multi-producer multi-consumer queue of finished calls.
pub struct CallQueue<T> {
    q: ArrayQueue<T>,
}

impl<T> CallQueue<T> {
    pub fn with_capacity(n: usize) -> Self {
        CallQueue { q: ArrayQueue::new(n.max(1)) }
    }

    /// Hands a finished call over; gives it back if the queue is full (it is sized so it never is).
    pub fn push(&self, item: T) -> Result<(), T> {
        self.q.push(item)
    }

    pub fn pop(&self) -> Option<T> {
        self.q.pop()
    }
}
