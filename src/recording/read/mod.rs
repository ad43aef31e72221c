//! Reading a recording: file → mapped buffer → checked IPC blocks → record batches decoded in
//! place → rows checked against the contract.
//!
//! In: a path, or the bytes ([`Recording::from_bytes`]). Out: a [`Recording`], or a one-line
//! [`RecordingError`] saying what is wrong.
//!
//! The file is mapped (memmap2), not read: its pages in the page cache are the one Arrow
//! [`Buffer`] that arrow-ipc's `FileDecoder` decodes in place, so in an uncompressed recording the
//! bodies and headers are slices of the mapping, never copied, and the mapping stays until the
//! last of them is dropped (with the [`Recording`]). Compressed buffers (ZSTD, LZ4 frame) are
//! inflated by arrow-ipc into buffers of their own. The small per-row columns are copied into
//! plain vectors.
//!
//! One concern per file, in the order the bytes go through them:
//! - `ipc.rs`: the hardening layer around arrow-ipc. The buffer → the file's schema and record
//!   batches, refusing first what arrow-ipc would take on trust (a hostile file must be an error,
//!   never a panic or an abort); every error one line.
//! - `contract.rs`: what `schemas/recording.md` promises. The schema → request, start time and
//!   column projection; the batches → the checked rows of a [`Recording`].

mod contract;
mod ipc;

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, LargeBinaryArray, ListArray, StringArray};
use arrow::buffer::{Buffer, MutableBuffer};

use super::{RecordedCall, RecordingError};
use crate::call::{CallError, RawCall};
use crate::request::CycleRequest;
use ipc::IpcFile;

/// One batch's headers column, taken apart once so a row's headers are two slices away.
struct HeaderCol {
    list: ListArray,
    names: StringArray,
    values: StringArray,
}

/// A checked recording. Row `i` is the `i`-th queried miner, in request order. Bodies and headers
/// stay in the record batches' arrays (slices of the mapped file when uncompressed); the other
/// columns are plain vectors.
pub struct Recording {
    /// The cycle request the recording was made for (`synth.request`).
    pub request: CycleRequest,
    /// RFC 3339 UTC start of the cycle (`synth.started_at`).
    pub started_at: String,
    uid: Vec<u16>,
    hotkey: Vec<String>,
    status: Vec<Option<u16>>,
    error: Vec<Option<CallError>>,
    ttfb_ms: Vec<Option<f64>>,
    elapsed_ms: Vec<f64>,
    /// Row → (batch, row within the batch).
    at: Vec<(u32, u32)>,
    bodies: Vec<LargeBinaryArray>,
    headers: Vec<HeaderCol>,
    body_bytes: u64,
    file_bytes: u64,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("started_at", &self.started_at)
            .field("rows", &self.rows())
            .field("batches", &self.bodies.len())
            .field("body_bytes", &self.body_bytes)
            .field("file_bytes", &self.file_bytes)
            .finish_non_exhaustive()
    }
}

impl Recording {
    /// Maps and checks a recording. Never panics on a bad file.
    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        let p = path.display().to_string();
        let buf = map_file(path, &p)?;
        ipc::guarded(&p, || decode(buf, &p))
    }

    /// Checks a recording already in memory (copied once into an aligned buffer), with the same
    /// checks and errors as [`Recording::read`]; errors name the file `(memory)`. Never panics on
    /// bad bytes: this is what the `recording_reader` fuzz target drives.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, RecordingError> {
        let mut mb = MutableBuffer::from_len_zeroed(bytes.len());
        mb.as_slice_mut().copy_from_slice(bytes);
        ipc::guarded("(memory)", || decode(mb.into(), "(memory)"))
    }

    /// Number of rows (queried miners).
    pub fn rows(&self) -> usize {
        self.uid.len()
    }

    pub fn uid(&self, row: usize) -> u16 {
        self.uid[row]
    }

    pub fn hotkey(&self, row: usize) -> &str {
        &self.hotkey[row]
    }

    /// Row `row` as the decoder sees it; the body is borrowed (from the mapped file when the
    /// recording is uncompressed).
    pub fn call(&self, row: usize) -> RawCall<'_> {
        RawCall {
            status: self.status[row],
            error: self.error[row],
            ttfb_ms: self.ttfb_ms[row],
            elapsed_ms: self.elapsed_ms[row],
            body: self.body(row),
        }
    }

    /// Row `row`'s body, borrowed; `None` when null.
    pub fn body(&self, row: usize) -> Option<&[u8]> {
        let (b, i) = self.at[row];
        let a = &self.bodies[b as usize];
        a.is_valid(i as usize).then(|| a.value(i as usize))
    }

    /// Row `row`'s response headers in the order received, `None` when null.
    pub fn headers(&self, row: usize) -> Option<Vec<(&str, &str)>> {
        let (b, i) = self.at[row];
        let h = &self.headers[b as usize];
        if h.list.is_null(i as usize) {
            return None;
        }
        let offs = h.list.value_offsets();
        let (start, end) = (offs[i as usize] as usize, offs[i as usize + 1] as usize);
        Some((start..end).map(|j| (h.names.value(j), h.values.value(j))).collect())
    }

    /// The value of the first header named `name` (ASCII case-insensitive) in row `row`.
    pub fn header(&self, row: usize, name: &str) -> Option<&str> {
        let (b, i) = self.at[row];
        let h = &self.headers[b as usize];
        if h.list.is_null(i as usize) {
            return None;
        }
        let offs = h.list.value_offsets();
        (offs[i as usize] as usize..offs[i as usize + 1] as usize)
            .find(|&j| h.names.value(j).eq_ignore_ascii_case(name))
            .map(|j| h.values.value(j))
    }

    /// Row `row` as an owned [`RecordedCall`] (copies the body): for rewriting a recording.
    pub fn recorded(&self, row: usize) -> RecordedCall {
        RecordedCall {
            uid: self.uid[row],
            hotkey: self.hotkey[row].clone(),
            status: self.status[row],
            error: self.error[row],
            ttfb_ms: self.ttfb_ms[row],
            elapsed_ms: self.elapsed_ms[row],
            headers: self.headers(row).map(|h| h.into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect()),
            body: self.body(row).map(<[u8]>::to_vec),
        }
    }

    /// Sum of the body lengths (null bodies count 0).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Size of the file (of the bytes, for [`Recording::from_bytes`]).
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Number of record batches the rows came in.
    pub fn batches(&self) -> usize {
        self.bodies.len()
    }
}

/// The whole file mapped read-only as one Arrow buffer (page-aligned, so 64-byte aligned).
fn map_file(path: &Path, p: &str) -> Result<Buffer, RecordingError> {
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            RecordingError::NotFound { path: p.to_owned() }
        } else {
            RecordingError::Io { path: p.to_owned(), source }
        }
    };
    let f = File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(RecordingError::NotArrow { path: p.to_owned(), reason: "is a directory".into() });
    }
    let len = usize::try_from(meta.len())
        .map_err(|_| RecordingError::NotArrow { path: p.to_owned(), reason: "too large for this platform".into() })?;
    // Nothing to map; the empty buffer then fails the magic check like any other short file.
    if len == 0 {
        return Ok(Buffer::from_vec(Vec::<u8>::new()));
    }
    // Mapped, not copied: the page cache's own pages back the bodies (no zeroing of a fresh
    // buffer, no copy). `WillNeed` asks the kernel to read the file ahead instead of one page
    // fault at a time; it is only advice, so a failure to give it is ignored.
    // SAFETY: recordings are written once under a temp name and renamed into place, never
    // modified in place; a file truncated by someone else while it is mapped would fault on
    // access (SIGBUS), the documented cost of mapping instead of reading.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(&f) }.map_err(io)?;
    let _ = map.advise(memmap2::Advice::WillNeed);
    Ok(Buffer::from(bytes::Bytes::from_owner(map)))
}

/// The flow: the IPC file's footer and schema, the contract's checks on the schema, the record
/// batches, the contract's checks on the rows. Run inside [`ipc::guarded`].
fn decode(buf: Buffer, p: &str) -> Result<Recording, RecordingError> {
    let file = IpcFile::open(&buf, p)?;
    let (request, started_at) = contract::check_metadata(file.schema(), p)?;
    let projection = contract::check_columns(file.schema(), p)?;
    let batches = file.record_batches(projection, p)?;
    contract::rows_from_batches(request, started_at, &batches, buf.len() as u64, p)
}
