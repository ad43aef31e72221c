//! Where decoded rows go: every sink behind one small trait.
//!
//! In: the cycle's facts before any row ([`CycleInfo`]), then each decoded row once ([`Rows`]),
//! then, if the sink asked for it, the whole cycle as one record batch. Out: whatever the sink
//! makes (a Parquet file today; rows in the validator's Postgres next), reported as one JSON value
//! under the sink's name in the cycle's summary.
//!
//! # The contract ([`Sink`])
//!
//! - [`Sink::start`] runs once, on the thread that runs the cycle, before any miner is asked
//!   (live) or any row decoded (replay). Refuse here what can be refused early (an existing file,
//!   an unreachable server): a sink that fails to start gets no rows.
//! - [`Sink::rows`] runs on the engine's decode pool, once per decoded row (a live cycle hands a
//!   row over the moment its body is decoded, while other miners are still sending; a replay does
//!   the same row by row), concurrently from several threads and in any order, so it takes
//!   `&self`. Every output row is delivered exactly once, failed miners included. The view is
//!   borrowed: prices live in the decoding thread's scratch and are gone when the call returns.
//!   Keep this fast: it runs in the decode pool's time.
//! - [`Sink::finish`] runs once, inside the engine's pool (so it may use rayon; sinks finish one
//!   after another), after every row was delivered (or the cycle was cancelled and its
//!   unfinished miners delivered as `cancelled` rows). It must make the sink's whole output
//!   visible, or none of it: a file renamed into place whole, a
//!   transaction committed whole. On error, nothing of this cycle may remain visible, and
//!   dropping a sink that never finished must clean up the same way.
//!
//! A sink that fails (an error from any step, or a panic) is cut off: it gets no more rows, its
//! `finish` is not called (it is dropped, which must leave nothing behind), and its error is
//! reported under its name. The other sinks go on and finish as usual: one sink's failure never
//! costs another's output. Only when every sink has failed is the cycle itself an error.
//!
//! - [`parquet`]: the hive-partitioned Parquet file (row groups encoded as rows arrive, temp name,
//!   fsync, rename).
//! - [`postgres`]: the validator's own rows (`validator_requests`, `miner_predictions`), streamed
//!   into one `COPY` as rows arrive and committed whole, retried from the Parquet file on a fault.
//! - [`upstream`]: the results in today's validator's return shape, one JSON line per miner in
//!   request order ([`crate::upstream`]).

pub mod parquet;
pub mod postgres;
#[cfg(feature = "s3")]
pub mod upload;
pub mod upstream;

use arrow::record_batch::RecordBatch;

pub use crate::columns::Rows;
use crate::request::{CycleRequest, CycleShape};

/// Where a sink's file ended up, for a sink that finishes after it (the Postgres sink retries
/// from the Parquet file). Set once, when the file is whole and in place.
#[derive(Clone, Debug, Default)]
pub struct WrittenFile(std::sync::Arc<std::sync::OnceLock<std::path::PathBuf>>);

impl WrittenFile {
    pub fn set(&self, path: std::path::PathBuf) {
        let _ = self.0.set(path);
    }

    pub fn get(&self) -> Option<std::path::PathBuf> {
        self.0.get().cloned()
    }
}

/// A sink's error: its own, boxed, shown on one line in the summary or the binary's error.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What a sink learns of the cycle before any row.
#[derive(Clone, Copy)]
pub struct CycleInfo<'a> {
    pub request: &'a CycleRequest,
    pub shape: CycleShape,
    /// The output rows' uids (sorted) and hotkeys: row `r` of every [`Rows`] is `uid[r]`.
    pub uid: &'a [u16],
    pub hotkey: &'a [String],
}

impl CycleInfo<'_> {
    pub fn rows(&self) -> usize {
        self.uid.len()
    }
}

/// A destination for a cycle's decoded rows; the contract is in the module doc.
pub trait Sink: Send + Sync {
    /// The sink's name: its key in the summary (`"parquet"`).
    fn name(&self) -> &'static str;

    /// Once, before any row, on the cycle's thread.
    fn start(&mut self, cycle: &CycleInfo<'_>) -> Result<(), Error>;

    /// Whether [`Sink::finish`] needs the whole cycle as one record batch (the cycle then keeps
    /// every price in one buffer instead of decoding row by row into scratch).
    fn needs_batch(&self) -> bool {
        false
    }

    /// Each decoded row, once, on a pool thread, concurrently with other rows.
    fn rows(&self, rows: &Rows<'_>) -> Result<(), Error>;

    /// Once, after every row: make the output visible whole, or not at all. `batch` is the whole
    /// cycle when [`Sink::needs_batch`] said so. Returns what the summary shows under
    /// [`Sink::name`].
    fn finish(self: Box<Self>, batch: Option<&RecordBatch>) -> Result<serde_json::Value, Error>;
}
