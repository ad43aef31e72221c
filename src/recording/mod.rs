//! Arrow IPC recordings of a cycle's raw calls: the replayable input.
//!
//! In (read): a `.cycle.arrow` IPC file (ZSTD/LZ4-compressed buffers accepted), written by us or by
//! any Arrow implementation that follows `schemas/recording.md`. Out: a [`Recording`] that hands
//! out each row's [`RawCall`](crate::call::RawCall) borrowing the body from the mapped file (from
//! arrow-ipc's inflated buffers when compressed). In (write): the request, the start time and one
//! [`RecordedCall`] per miner. Out: the file, written to a temp name and renamed.
//!
//! - [`read`]: the file mapped (memmap2) as one Arrow buffer → its blocks checked before arrow-ipc
//!   trusts them → record batches decoded in place (an uncompressed body column is a slice of the
//!   mapping, never copied) → rows checked against the contract.
//! - [`write`](mod@write): calls → record batches → IPC file under a temp name → rename.
//! - this file: what both sides share: the owned call, the error enum, the contract's columns and
//!   metadata keys.
//!
//! ```no_run
//! use synth_forward::recording::{self, Compression, Recording};
//! # fn demo(req: &synth_forward::request::CycleRequest, calls: &[recording::RecordedCall])
//! #     -> Result<(), recording::RecordingError> {
//! let path = std::path::Path::new("out/cycle.cycle.arrow");
//! recording::write(path, req, "2026-11-24T12:00:00.250Z", calls, Compression::Zstd)?;
//! let rec = Recording::read(path)?;
//! for row in 0..rec.rows() {
//!     let call = rec.call(row); // body borrowed from the recording, not copied
//!     println!("{} {:?} {}", rec.uid(row), call.status, call.body.map_or(0, <[u8]>::len));
//! }
//! # Ok(()) }
//! ```

pub mod read;
pub mod write;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema};

use crate::call::CallError;

pub use read::Recording;
pub use write::{RecordingWriter, WriteSummary, write};

/// The recording format version this build reads and writes (`synth.recording.version`).
pub const VERSION: &str = "1";

/// Schema metadata keys.
pub const META_VERSION: &str = "synth.recording.version";
pub const META_REQUEST: &str = "synth.request";
pub const META_STARTED_AT: &str = "synth.started_at";

/// One miner call, owned: what the live client (or the fixture generator) hands the writer.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    pub uid: u16,
    pub hotkey: String,
    /// HTTP status, `None` when no HTTP response arrived.
    pub status: Option<u16>,
    /// Transport failure, `None` when the call completed.
    pub error: Option<CallError>,
    /// Milliseconds from the call's start to the first response byte.
    pub ttfb_ms: Option<f64>,
    /// Milliseconds from the cycle's start to the call's end (completed or failed).
    pub elapsed_ms: f64,
    /// Response headers in the order received, `None` when no HTTP response arrived.
    pub headers: Option<Vec<(String, String)>>,
    /// The body exactly as received (for `too_large`, what was read before the cap).
    pub body: Option<Vec<u8>>,
}

/// IPC buffer compression for [`write()`]. Readers accept all three whatever the writer chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed: replay reads bodies straight out of the mapped file (large fixtures).
    #[default]
    None,
    Lz4,
    /// Small files meant to be committed (`fixtures/small.cycle.arrow`).
    Zstd,
}

/// Everything that can be wrong with a recording, one line each. `path` is the file as given.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording {path}: file not found")]
    NotFound { path: String },
    #[error("recording {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("recording {path}: not an Arrow IPC file ({reason})")]
    NotArrow { path: String, reason: String },
    #[error("recording {path}: schema metadata has no {META_VERSION}, this build reads {VERSION}")]
    MissingVersion { path: String },
    #[error("recording {path}: unsupported recording version {found}, this build reads {VERSION}")]
    Version { path: String, found: String },
    #[error("recording {path}: schema metadata has no {META_REQUEST}")]
    MissingRequest { path: String },
    #[error("recording {path}: {META_REQUEST} is not a valid cycle request: {reason}")]
    BadRequest { path: String, reason: String },
    #[error("recording {path}: schema metadata has no {META_STARTED_AT}")]
    MissingStartedAt { path: String },
    #[error("recording {path}: {META_STARTED_AT} {value:?} is not an RFC 3339 UTC time")]
    BadStartedAt { path: String, value: String },
    #[error("recording {path}: missing column {column} ({expected})")]
    MissingColumn { path: String, column: &'static str, expected: String },
    #[error("recording {path}: column {column} is {found}, expected {expected}")]
    ColumnType { path: String, column: &'static str, found: String, expected: String },
    #[error("recording {path}: column {column} is nullable, expected not null")]
    Nullable { path: String, column: &'static str },
    #[error(
        "recording {path}: row {row}: error {value:?} is not one of timeout, connect, reset, too_large, protocol, cancelled"
    )]
    UnknownError { path: String, row: usize, value: String },
    #[error("recording {path}: row {row}: {what}")]
    BadRow { path: String, row: usize, what: String },
    #[error("recording {path}: {rows} rows but the request lists {axons} axons")]
    RowCount { path: String, rows: usize, axons: usize },
    #[error("recording {path}: cannot decode record batches: {reason}")]
    Decode { path: String, reason: String },
    #[error("cannot write recording {path}: {reason}")]
    Write { path: String, reason: String },
}

impl RecordingError {
    /// The same error with every line break, tab or other control character in its text made a
    /// single space, so the message is one line whatever text the file (or a library's
    /// multi-line message) put in it.
    pub(crate) fn one_line(mut self) -> Self {
        use RecordingError::*;
        let fields = match &mut self {
            NotFound { path }
            | MissingVersion { path }
            | MissingRequest { path }
            | MissingStartedAt { path }
            | Io { path, .. }
            | BadStartedAt { path, .. } // value printed with `{:?}`
            | UnknownError { path, .. } // same
            | Nullable { path, .. }
            | RowCount { path, .. } => vec![path],
            NotArrow { path, reason }
            | BadRequest { path, reason }
            | Decode { path, reason }
            | Write { path, reason } => vec![path, reason],
            Version { path, found } => vec![path, found],
            MissingColumn { path, expected, .. } => vec![path, expected],
            ColumnType {
                path,
                found,
                expected,
                ..
            } => vec![path, found, expected],
            BadRow { path, what, .. } => vec![path, what],
        };
        let breaks = |c: char| c.is_control() || (c.is_whitespace() && c != ' ');
        for s in fields {
            if s.contains(breaks) {
                *s = s.split(|c: char| breaks(c) || c == ' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
            }
        }
        self
    }
}

/// The contract's columns, in the order we write them (readers find them by name).
pub(crate) mod col {
    pub const UID: &str = "uid";
    pub const HOTKEY: &str = "hotkey";
    pub const STATUS: &str = "status";
    pub const ERROR: &str = "error";
    pub const TTFB_MS: &str = "ttfb_ms";
    pub const ELAPSED_MS: &str = "elapsed_ms";
    pub const HEADERS: &str = "headers";
    pub const BODY: &str = "body";
    pub const ALL: [&str; 8] = [UID, HOTKEY, STATUS, ERROR, TTFB_MS, ELAPSED_MS, HEADERS, BODY];
}

/// The `struct<name, value>` of one header, as we write it (readers accept any inner nullability).
pub(crate) fn header_fields() -> Fields {
    Fields::from(vec![Field::new("name", DataType::Utf8, false), Field::new("value", DataType::Utf8, false)])
}

pub(crate) fn header_item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(header_fields()), false))
}

/// The contract's columns: (name, type, nullable).
pub(crate) fn contract_fields() -> Vec<Field> {
    vec![
        Field::new(col::UID, DataType::UInt16, false),
        Field::new(col::HOTKEY, DataType::Utf8, false),
        Field::new(col::STATUS, DataType::UInt16, true),
        Field::new(col::ERROR, DataType::Utf8, true),
        Field::new(col::TTFB_MS, DataType::Float64, true),
        Field::new(col::ELAPSED_MS, DataType::Float64, false),
        Field::new(col::HEADERS, DataType::List(header_item_field()), true),
        Field::new(col::BODY, DataType::LargeBinary, true),
    ]
}

/// The full schema of a recording, metadata included.
pub fn schema(request_json: &str, started_at: &str) -> Schema {
    let metadata: std::collections::HashMap<String, String> = [
        (META_VERSION.to_owned(), VERSION.to_owned()),
        (META_REQUEST.to_owned(), request_json.to_owned()),
        (META_STARTED_AT.to_owned(), started_at.to_owned()),
    ]
    .into_iter()
    .collect();
    Schema::new_with_metadata(contract_fields(), metadata)
}

/// Whether `s` is an RFC 3339 time in UTC (`Z` or `+00:00`).
pub(crate) fn is_rfc3339_utc(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok_and(|t| t.offset().local_minus_utc() == 0)
}
