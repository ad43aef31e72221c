//! The recording source: a recorded cycle's calls → the cycle pipeline, row by row on the pool.
//!
//! In: a `.cycle.arrow` recording (mapped, bodies borrowed in place) and the sinks. Out: what the
//! pipeline ([`crate::cycle`]) makes of its calls: the same rows, verdicts and bytes a live cycle
//! of those calls produces (`tests/live_fleet.rs` checks the files are byte-identical).
//!
//! Rows are handed over in the recording's row order (a live cycle records its calls in the order
//! they ended, so its replay hands rows to the sinks in the order the live cycle did). Each row is
//! decoded on a pool thread into the thread's scratch and handed to the sinks at once, so no whole-cycle price buffer exists unless a sink asks for the batch (compact
//! Parquet), and memory is the mapped recording plus a row per thread.

use std::path::Path;
use std::time::Instant;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cycle::{Clock, Cycle, CycleError, CycleOutcome};
use crate::engine::Engine;
use crate::procfs::log_memory;
use crate::recording::Recording;
use crate::request::Rules;
use crate::sink::Sink;

/// What a replay is asked for besides its sinks.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplayOptions {
    /// Judge the replies by these rules instead of the recording's own (the rules its cycle ran
    /// under; v2 for a recording older than the rule sets).
    pub rules: Option<Rules>,
    /// Hand the whole cycle back as one record batch.
    pub keep_batch: bool,
}

impl Engine {
    /// Replays the recording at `path` through `sinks`.
    pub fn replay(
        &self,
        path: &Path,
        sinks: Vec<Box<dyn Sink>>,
        opts: &ReplayOptions,
    ) -> Result<CycleOutcome, CycleError> {
        let start = Instant::now();
        let mut rec = Recording::read(path)?;
        log_memory("read");
        rec.request.rules = opts.rules.or(rec.request.rules);
        let mut clock = Clock::new(start);
        clock.read = Some(start.elapsed());
        self.replay_recording(rec, clock, sinks, opts.keep_batch)
    }

    /// Replays a recording already read (benches, tools). The recording is unmapped on a thread
    /// of its own while the sinks finish: unmapping 94 MB takes ≈ 15 ms (one page-table entry per
    /// 4 KiB page; strace), which the footer, the last fsync and the rename need not wait for.
    pub fn replay_recording(
        &self,
        rec: Recording,
        mut clock: Clock,
        sinks: Vec<Box<dyn Sink>>,
        keep_batch: bool,
    ) -> Result<CycleOutcome, CycleError> {
        let shape = rec.request.shape()?;
        let request = rec.request.clone();
        clock.rows_start = Instant::now();
        let row = |r: usize| (rec.uid(r), rec.hotkey(r));
        let mut cycle = Cycle::new(&request, shape, rec.rows(), row, sinks, keep_batch, clock)?;
        {
            // Every pool thread takes the next row in recording order, so rows reach the sinks
            // nearly in that order (a sink that lays rows out in order then holds few early ones).
            let (feed, rec, next) = (cycle.feed(), &rec, AtomicUsize::new(0));
            self.pool.broadcast(|_| {
                loop {
                    let r = next.fetch_add(1, Ordering::Relaxed);
                    if r >= rec.rows() {
                        break;
                    }
                    feed.row(r, r, &rec.call(r));
                }
            });
        }
        cycle.clock.rows_end = Some(Instant::now());
        log_memory("rows");
        let unmapped = std::thread::Builder::new().name("unmap".into()).spawn(move || drop(rec)).ok();
        let outcome = cycle.finish(&self.pool, "replay", None, None);
        // Joined before returning, so a caller that replays again never holds two maps.
        if let Some(t) = unmapped {
            let _ = t.join();
        }
        log_memory("finish");
        outcome
    }
}

/// Replays the recording at `path` into one Parquet file under `out_dir`, on the shared engine:
/// what `synth-forward replay` does.
pub fn replay_to_parquet(
    path: &Path,
    out_dir: &Path,
    opts: &crate::sink::parquet::ParquetOptions,
) -> Result<crate::cycle::CycleSummary, CycleError> {
    let sink = crate::sink::parquet::ParquetSink::new(out_dir, opts.clone());
    Ok(crate::engine::shared().replay(path, vec![Box::new(sink)], &ReplayOptions::default())?.summary)
}
