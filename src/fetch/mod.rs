//! Fetch: one HTTP call per miner, all at once, each under a total wall-clock deadline.
//!
//! In: a signed [`OutgoingRequest`] per axon (from [`crate::wire`]), the cycle's deadline and body
//! cap. Out: a [`FetchedCall`] per miner, finished, failed or cut at the deadline, with the body
//! bytes exactly as received. The calls run on one current-thread tokio runtime: the work is
//! waiting, and both cores are left to the decode pool.

mod client;

pub use client::{build_client, call_miner};

use std::time::Instant;

use bytes::Bytes;

use crate::call::{CallError, RawCall};
use crate::request::CycleShape;

/// What goes on the wire to one miner. `headers` are in send order; `Host` and `Content-Length`
/// are left to the HTTP stack (it writes the same values).
#[derive(Clone, Debug)]
pub struct OutgoingRequest {
    /// `http://ip:port/Simulation`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The same bytes for every miner of a cycle: shared, never copied.
    pub body: Bytes,
}

/// One finished miner call: the unit that goes through the queue to the decoder.
#[derive(Debug)]
pub struct FetchedCall {
    /// Index of the axon in the request.
    pub axon: usize,
    pub status: Option<u16>,
    pub error: Option<CallError>,
    pub ttfb_ms: Option<f64>,
    /// Cycle start → the call's end (completed, failed or cut).
    pub elapsed_ms: f64,
    /// When this call started: upstream's process time runs from here to "response parsed".
    pub started: Instant,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl FetchedCall {
    /// A call stopped by the cycle's shutdown before it ended: no status, no body.
    pub fn cancelled(axon: usize, cycle_start: Instant, elapsed_ms: f64) -> FetchedCall {
        FetchedCall {
            axon,
            status: None,
            error: Some(CallError::Cancelled),
            ttfb_ms: None,
            elapsed_ms,
            started: cycle_start,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn raw(&self) -> RawCall<'_> {
        RawCall {
            status: self.status,
            error: self.error,
            ttfb_ms: self.ttfb_ms,
            elapsed_ms: self.elapsed_ms,
            body: self.body.as_deref(),
        }
    }
}

/// The largest body worth reading: a valid reply's compact size for this shape, doubled.
///
/// A CORRECT price prints in at most 9 characters plus its comma (the digit rule allows 8 besides
/// the point), so a compact valid body is at most `paths × (points × 10 + 2)` plus the envelope
/// (< 2 KiB). The factor 2 leaves room for the longer spellings and whitespace that are still
/// valid JSON for the validator. 1000 × 61: 1.23 MB; 1000 × 289: 5.79 MB. Never below
/// [`MIN_BODY_CAP`]: a tiny shape (0 simulations) would otherwise cut a miner that sends a few paths
/// anyway, which the validator judges by its path count, not as a time-out.
pub fn body_cap(shape: &CycleShape) -> usize {
    let compact = shape.paths.saturating_mul(shape.points.saturating_mul(10).saturating_add(2));
    compact.saturating_add(2048).saturating_mul(2).max(MIN_BODY_CAP)
}

/// The smallest body cap, whatever the shape.
pub const MIN_BODY_CAP: usize = 64 * 1024;
