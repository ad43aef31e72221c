//! The one summary of a cycle, live or replayed, and its timings.
//!
//! In: the instants and busy times the pipeline and its source took ([`Clock`]), the finished
//! columns' counts, and what each sink reported. Out: a [`CycleSummary`], the one JSON line the
//! binary prints. Every key means the same in every mode; `schemas/summary.md` documents each one
//! with its unit. Built in exactly one place ([`super::Cycle::finish`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// What a cycle did, as the binary prints it (keys in `schemas/summary.md`).
#[derive(Clone, Debug, Serialize)]
pub struct CycleSummary {
    /// `live` or `replay`.
    pub source: &'static str,
    /// The verdict rules the replies were judged by (`v2` or `v3`).
    pub rules: crate::decode::Rules,
    /// Miners queried (rows written).
    pub rows: usize,
    /// Rows per `format_validation` verdict.
    pub verdicts: BTreeMap<String, usize>,
    /// Body bytes received (or recorded), all miners.
    pub body_bytes: u64,
    /// What each sink that finished reported, under its name (`"parquet": "<path>"`).
    #[serde(flatten)]
    pub outputs: BTreeMap<&'static str, serde_json::Value>,
    /// The sinks that failed, each with its one-line error; the others' output is unaffected.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sink_errors: BTreeMap<&'static str, String>,
    pub timings_ms: Timings,
    /// Live cycles: bodies decoded before the last one arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded_before_last_body: Option<usize>,
    /// Why the cycle was cut short (the cancel reason: `SIGINT`, `SIGTERM`, or a caller's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// The process's peak resident memory so far (Linux `VmHWM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

/// The summary's own top-level keys: no sink may take one as its name (its output is flattened
/// beside them). `recording` is a live cycle's recording, reported like a sink's output.
pub const RESERVED_KEYS: [&str; 11] = [
    "source",
    "rules",
    "rows",
    "verdicts",
    "body_bytes",
    "sink_errors",
    "timings_ms",
    "decoded_before_last_body",
    "stopped_by",
    "peak_rss_bytes",
    "recording",
];

impl CycleSummary {
    /// The Parquet file the cycle wrote, if a Parquet sink finished.
    pub fn parquet(&self) -> Option<PathBuf> {
        self.outputs.get("parquet")?.as_str().map(PathBuf::from)
    }
}

/// Phase timings in milliseconds, in the order the phases happen; a phase the cycle did not have
/// is left out. Meanings (the same in every mode) are in `schemas/summary.md`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_body: Option<f64>,
    pub decode: f64,
    pub encode: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_body: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<f64>,
    pub rows: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_tail: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<f64>,
    pub write: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_network: Option<f64>,
    pub total: f64,
}

impl Timings {
    /// `(key, ms)` in the order the phases happen, for a human table.
    pub fn in_order(&self) -> Vec<(&'static str, f64)> {
        let v = serde_json::to_value(self).unwrap_or_default();
        let obj = v.as_object().cloned().unwrap_or_default();
        // serde_json's map is sorted; the struct's field order is the phase order.
        const ORDER: [&str; 14] = [
            "read",
            "sign",
            "first_body",
            "decode",
            "encode",
            "last_body",
            "network",
            "rows",
            "decode_tail",
            "record",
            "batch",
            "write",
            "after_network",
            "total",
        ];
        ORDER.iter().filter_map(|k| Some((*k, obj.get(*k)?.as_f64()?))).collect()
    }
}

/// Where a cycle's time went, as it happens: instants set by the source and the pipeline, and
/// busy nanoseconds the pool threads add up.
#[derive(Debug)]
pub struct Clock {
    /// Replay: before the recording is read; live: before signing.
    pub start: Instant,
    /// Live: the first request sent (time zero of the miners' `elapsed_ms`); replay: the
    /// recording read.
    pub rows_start: Instant,
    pub read: Option<Duration>,
    pub sign: Option<Duration>,
    /// Since `rows_start`.
    pub first_body: Option<Duration>,
    pub last_body: Option<Duration>,
    /// Live: when the last call ended (or was cancelled).
    pub network_end: Option<Instant>,
    /// Live with a recording: writing it (after the rows, before the sinks finish).
    pub record: Option<Duration>,
    /// Every row through decode and every sink's per-row work.
    pub rows_end: Option<Instant>,
    pub decode_ns: AtomicU64,
    pub encode_ns: AtomicU64,
}

impl Clock {
    pub fn new(start: Instant) -> Clock {
        Clock {
            start,
            rows_start: start,
            read: None,
            sign: None,
            first_body: None,
            last_body: None,
            network_end: None,
            record: None,
            rows_end: None,
            decode_ns: AtomicU64::new(0),
            encode_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, since: Instant) {
        counter.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// The timings once the sinks are done at `end`, having spent `batch` building the cycle's
    /// batch and `write` finishing the sinks.
    pub(crate) fn timings(&self, batch: Option<Duration>, write: Duration, end: Instant) -> Timings {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let rows_end = self.rows_end.unwrap_or(end);
        Timings {
            read: self.read.map(ms),
            sign: self.sign.map(ms),
            first_body: self.first_body.map(ms),
            decode: self.decode_ns.load(Ordering::Relaxed) as f64 / 1e6,
            encode: self.encode_ns.load(Ordering::Relaxed) as f64 / 1e6,
            last_body: self.last_body.map(ms),
            network: self.network_end.map(|n| ms(n - self.rows_start)),
            rows: ms(rows_end - self.rows_start),
            decode_tail: self.network_end.map(|n| ms(rows_end.saturating_duration_since(n))),
            batch: batch.map(ms),
            write: ms(write),
            after_network: self.network_end.map(|n| ms(end.saturating_duration_since(n))),
            record: self.record.map(ms),
            total: ms(end - self.start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the summary itself prints is reserved, so no sink's output can hide one.
    #[test]
    fn reserved_keys_cover_the_summary() {
        let s = CycleSummary {
            source: "live",
            rules: crate::decode::Rules::V3,
            rows: 1,
            verdicts: BTreeMap::new(),
            body_bytes: 0,
            outputs: BTreeMap::new(),
            sink_errors: [("x", "e".to_owned())].into_iter().collect(),
            timings_ms: Timings::default(),
            decoded_before_last_body: Some(0),
            stopped_by: Some("SIGINT".into()),
            peak_rss_bytes: Some(1),
        };
        let v = serde_json::to_value(&s).unwrap();
        for key in v.as_object().unwrap().keys() {
            assert!(RESERVED_KEYS.contains(&key.as_str()), "{key} is not reserved");
        }
    }
}
