//! Reading a recording: file → one buffer → record batches decoded in place → checked rows.
//!
//! In: a path, or the bytes ([`Recording::from_bytes`]). Out: a [`Recording`], or a one-line
//! [`RecordingError`] saying what is wrong.
//!
//! The whole file is read into one 64-byte aligned Arrow [`Buffer`] (one copy out of the page
//! cache) and decoded with arrow-ipc's [`FileDecoder`]: uncompressed buffers become slices of that
//! buffer, so the bodies of an uncompressed recording are never copied again. Compressed buffers
//! (ZSTD, LZ4 frame) are decompressed by arrow-ipc into their own buffers. The small per-row
//! columns are copied into plain vectors; bodies and headers stay in their Arrow arrays.

use std::fs::File;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, Float64Array, LargeBinaryArray, ListArray, RecordBatch, StringArray,
    StructArray,
};
use arrow::buffer::{Buffer, MutableBuffer};
use arrow::datatypes::{DataType, Schema, UInt16Type};
use arrow::ipc::convert::try_fb_to_schema;
use arrow::ipc::reader::{FileDecoder, read_footer_length};
use arrow::ipc::{Block, MessageHeader, root_as_footer, root_as_message};

use super::{
    META_REQUEST, META_STARTED_AT, META_VERSION, RecordedCall, RecordingError, VERSION, col,
    contract_fields, is_rfc3339_utc,
};
use crate::call::{CallError, RawCall};
use crate::request::CycleRequest;

const MAGIC: &[u8; 6] = b"ARROW1";

/// One batch's headers column, taken apart once so a row's headers are two slices away.
struct HeaderCol {
    list: ListArray,
    names: StringArray,
    values: StringArray,
}

/// A recording in memory. Row `i` is the `i`-th queried miner, in request order.
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
    /// Reads and checks a recording. Never panics on a bad file.
    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        let p = path.display().to_string();
        let buf = read_file(path, &p)?;
        decode_guarded(buf, &p)
    }

    /// Checks a recording already in memory (copied once into an aligned buffer), with the same
    /// checks and errors as [`Recording::read`]; errors name the file `(memory)`. Never panics on
    /// bad bytes: this is what the `recording_reader` fuzz target drives.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, RecordingError> {
        let mut mb = MutableBuffer::from_len_zeroed(bytes.len());
        mb.as_slice_mut().copy_from_slice(bytes);
        decode_guarded(mb.into(), "(memory)")
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

    /// Row `row` as the decoder sees it; the body borrows the recording's buffer.
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
        Some(
            (start..end)
                .map(|j| (h.names.value(j), h.values.value(j)))
                .collect(),
        )
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
            headers: self.headers(row).map(|h| {
                h.into_iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect()
            }),
            body: self.body(row).map(<[u8]>::to_vec),
        }
    }

    /// Sum of the body lengths (null bodies count 0).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Size of the file as read.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Number of record batches the rows came in.
    pub fn batches(&self) -> usize {
        self.bodies.len()
    }
}

/// The whole file in one 64-byte aligned buffer: a single copy out of the page cache. The buffer is
/// allocated zeroed, which for large sizes is fresh mmap'd pages that the read itself faults in.
fn read_file(path: &Path, p: &str) -> Result<Buffer, RecordingError> {
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            RecordingError::NotFound { path: p.to_owned() }
        } else {
            RecordingError::Io {
                path: p.to_owned(),
                source,
            }
        }
    };
    let f = File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(RecordingError::NotArrow {
            path: p.to_owned(),
            reason: "is a directory".into(),
        });
    }
    let len = usize::try_from(meta.len()).map_err(|_| RecordingError::NotArrow {
        path: p.to_owned(),
        reason: "too large for this platform".into(),
    })?;
    if len == 0 {
        return Ok(Buffer::from_vec(Vec::<u8>::new()));
    }
    // Mapped, not copied: the page cache's own pages back the bodies (no zeroing of a fresh
    // buffer, no copy), and `populate` maps them all at once rather than one fault per page.
    // SAFETY: recordings are written once under a temp name and renamed into place, never
    // modified in place; a file truncated by someone else while it is mapped would fault on
    // access (SIGBUS), the documented cost of mapping instead of reading.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(&f) }.map_err(io)?;
    let _ = map.advise(memmap2::Advice::WillNeed);
    Ok(Buffer::from(bytes::Bytes::from_owner(map)))
}

/// [`decode`], with any panic from arrow-ipc turned into [`RecordingError::Decode`].
/// Every error is one line, whatever text the file (or arrow-ipc's multi-line flatbuffers
/// errors) put in it.
fn decode_guarded(buf: Buffer, p: &str) -> Result<Recording, RecordingError> {
    // arrow-ipc checks what it parses, but a hostile file has made it panic before (slice
    // bounds deep in a decoder; `check_block` now refuses the ones the fuzzer found); a bad
    // recording must be an error, never a crash.
    match catch_unwind(AssertUnwindSafe(|| decode(buf, p))) {
        Ok(r) => r.map_err(RecordingError::one_line),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(RecordingError::Decode {
                path: p.to_owned(),
                reason: format!("arrow-ipc panicked: {what}"),
            }
            .one_line())
        }
    }
}

fn not_arrow(p: &str, reason: impl Into<String>) -> RecordingError {
    RecordingError::NotArrow {
        path: p.to_owned(),
        reason: reason.into(),
    }
}

fn decode(buf: Buffer, p: &str) -> Result<Recording, RecordingError> {
    let len = buf.len();
    // "ARROW1" + 2 padding bytes, …, footer, footer length (4), "ARROW1".
    if len < 8 + 10 || &buf[..6] != MAGIC || &buf[len - 6..] != MAGIC {
        return Err(not_arrow(p, "no ARROW1 magic at the start and end"));
    }
    let trailer = len - 10;
    let footer_len = read_footer_length(buf[trailer..].try_into().expect("10 bytes"))
        .map_err(|e| not_arrow(p, e.to_string()))?;
    if footer_len > trailer - 8 {
        return Err(not_arrow(
            p,
            format!("footer length {footer_len} exceeds the file"),
        ));
    }
    let footer_start = trailer - footer_len;
    let footer = root_as_footer(&buf[footer_start..trailer])
        .map_err(|e| not_arrow(p, format!("bad footer: {e}")))?;
    let fb_schema = footer
        .schema()
        .ok_or_else(|| not_arrow(p, "footer has no schema"))?;
    if !fb_schema.endianness().equals_to_target_endianness() {
        return Err(not_arrow(p, "big-endian file"));
    }
    let schema =
        try_fb_to_schema(fb_schema).map_err(|e| not_arrow(p, format!("bad schema: {e}")))?;

    let (request, started_at) = check_metadata(&schema, p)?;
    let projection = check_columns(&schema, p)?;

    let offsets = offset_widths(&schema);
    let mut decoder =
        FileDecoder::new(Arc::new(schema), footer.version()).with_projection(projection);
    let block_data = |block: &Block| -> Result<Buffer, RecordingError> {
        let off = usize::try_from(block.offset()).ok();
        let meta = usize::try_from(block.metaDataLength()).ok();
        let body = usize::try_from(block.bodyLength()).ok();
        match (off, meta, body) {
            (Some(off), Some(meta), Some(body))
                if off >= 8
                    && off
                        .checked_add(meta)
                        .and_then(|e| e.checked_add(body))
                        .is_some_and(|e| e <= footer_start) =>
            {
                let data = buf.slice_with_length(off, meta + body);
                check_block(&data, meta, offsets.as_deref(), p)?;
                Ok(data)
            }
            _ => Err(not_arrow(p, "a block lies outside the file")),
        }
    };
    let dec_err = |e: arrow::error::ArrowError| RecordingError::Decode {
        path: p.to_owned(),
        reason: e.to_string(),
    };
    for block in footer.dictionaries().iter().flatten() {
        decoder
            .read_dictionary(block, &block_data(block)?)
            .map_err(dec_err)?;
    }
    let blocks = footer
        .recordBatches()
        .ok_or_else(|| not_arrow(p, "footer lists no record batches"))?;
    let mut batches = Vec::with_capacity(blocks.len());
    for block in blocks {
        if let Some(batch) = decoder
            .read_record_batch(block, &block_data(block)?)
            .map_err(dec_err)?
        {
            batches.push(batch);
        }
    }
    rows_from_batches(request, started_at, &batches, len as u64, p)
}

/// The most a compressed buffer may claim to inflate to, per byte it holds (plus 1 MiB). LZ4
/// frames cannot pass ~255×; recorded JSON bodies and headers compress a few times over.
const MAX_INFLATE: u64 = 4096;

/// What arrow takes on trust in a block (`data` = metadata, then body, `meta` bytes of
/// metadata), checked first so that a hostile file is an error rather than a crash (each was
/// found by the `recording_reader` fuzz target; `fuzz/README.md`):
/// - arrow-ipc indexes the 8-byte prefix of the metadata without a length check;
/// - it slices the body at each buffer's offset and length (a panic when they lie outside);
/// - it allocates whatever uncompressed length a compressed buffer claims before inflating it
///   (for LZ4 an abort, not an error, when that is absurd);
/// - arrow-data views an offsets buffer as `i32`/`i64` before checking that its length is a
///   multiple of that (a panic). `offsets`: [`offset_widths`].
fn check_block(
    data: &[u8],
    meta: usize,
    offsets: Option<&[u8]>,
    p: &str,
) -> Result<(), RecordingError> {
    let bad = |what: String| not_arrow(p, format!("bad record batch block: {what}"));
    if meta < 8 {
        return Err(bad(format!("{meta} bytes of metadata")));
    }
    let flatbuffer = if data[..4] == [0xff; 4] {
        &data[8..]
    } else {
        &data[4..]
    };
    let message = root_as_message(flatbuffer).map_err(|e| bad(e.to_string()))?;
    let batch = match message.header_type() {
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => {
            message.header_as_dictionary_batch().and_then(|d| d.data())
        }
        _ => None, // arrow-ipc refuses any other message itself
    };
    let Some(batch) = batch else { return Ok(()) };
    // A dictionary batch's buffers follow the dictionary's value type, not the schema's fields.
    let offsets = offsets.filter(|_| message.header_type() == MessageHeader::RecordBatch);
    let body = &data[meta..];
    let compressed = batch.compression().is_some();
    for (i, b) in batch.buffers().iter().flatten().enumerate() {
        let range = usize::try_from(b.offset())
            .ok()
            .zip(usize::try_from(b.length()).ok())
            .and_then(|(start, len)| Some(start..start.checked_add(len)?))
            .filter(|r| r.end <= body.len());
        let Some(range) = range else {
            return Err(bad(format!(
                "buffer {i} (offset {}, length {}) lies outside the {}-byte body",
                b.offset(),
                b.length(),
                body.len()
            )));
        };
        // The length arrow-ipc will hand on: a compressed buffer's claim (-1: stored as is).
        let mut len = Some(range.len() as u64);
        if compressed && range.len() >= 8 {
            let prefix: [u8; 8] = body[range.start..range.start + 8]
                .try_into()
                .expect("8 bytes");
            let claimed = i64::from_le_bytes(prefix);
            let limit = (range.len() as u64)
                .saturating_mul(MAX_INFLATE)
                .saturating_add(1 << 20);
            if claimed > 0 && claimed as u64 > limit {
                return Err(bad(format!(
                    "buffer {i} claims to inflate {} bytes to {claimed}",
                    range.len()
                )));
            }
            len = match claimed {
                -1 => Some(range.len() as u64 - 8),
                0.. => Some(claimed as u64),
                _ => None, // arrow-ipc refuses it
            };
        }
        let width = offsets.and_then(|w| w.get(i)).copied().unwrap_or(0);
        if let Some(len) = len.filter(|l| width > 0 && l % u64::from(width) != 0) {
            return Err(bad(format!(
                "buffer {i} holds {width}-byte offsets but is {len} bytes long"
            )));
        }
    }
    Ok(())
}

/// Per buffer of a record batch, in the order arrow-ipc reads them (its `skip_field`): the width
/// of an offsets buffer (4 or 8), 0 for any other. `None` when the schema has a layout not
/// modelled here (views, unions; never in a recording): the offsets check is then skipped.
fn offset_widths(schema: &Schema) -> Option<Vec<u8>> {
    fn walk(t: &DataType, out: &mut Vec<u8>) -> Option<()> {
        use DataType::*;
        match t {
            Utf8 | Binary => out.extend([0, 4, 0]),
            LargeUtf8 | LargeBinary => out.extend([0, 8, 0]),
            List(f) | Map(f, _) => {
                out.extend([0, 4]);
                walk(f.data_type(), out)?;
            }
            LargeList(f) => {
                out.extend([0, 8]);
                walk(f.data_type(), out)?;
            }
            FixedSizeList(f, _) => {
                out.push(0);
                walk(f.data_type(), out)?;
            }
            Struct(fields) => {
                out.push(0);
                for f in fields {
                    walk(f.data_type(), out)?;
                }
            }
            RunEndEncoded(ends, values) => {
                walk(ends.data_type(), out)?;
                walk(values.data_type(), out)?;
            }
            Null => {}
            Utf8View | BinaryView | ListView(_) | LargeListView(_) | Union(..) => return None,
            // Validity and values: fixed-width types, booleans, dictionary keys.
            _ => out.extend([0, 0]),
        }
        Some(())
    }
    let mut out = Vec::new();
    for f in schema.fields() {
        walk(f.data_type(), &mut out)?;
    }
    Some(out)
}

/// `synth.recording.version`, `synth.request`, `synth.started_at`, in that order of importance.
fn check_metadata(schema: &Schema, p: &str) -> Result<(CycleRequest, String), RecordingError> {
    let md = schema.metadata();
    match md.get(META_VERSION) {
        None => return Err(RecordingError::MissingVersion { path: p.to_owned() }),
        Some(v) if v != VERSION => {
            return Err(RecordingError::Version {
                path: p.to_owned(),
                found: v.clone(),
            });
        }
        Some(_) => {}
    }
    let req = md
        .get(META_REQUEST)
        .ok_or_else(|| RecordingError::MissingRequest { path: p.to_owned() })?;
    let request = parse_request(req).map_err(|reason| RecordingError::BadRequest {
        path: p.to_owned(),
        reason,
    })?;
    let started_at = md
        .get(META_STARTED_AT)
        .ok_or_else(|| RecordingError::MissingStartedAt { path: p.to_owned() })?;
    if !is_rfc3339_utc(started_at) {
        return Err(RecordingError::BadStartedAt {
            path: p.to_owned(),
            value: started_at.clone(),
        });
    }
    Ok((request, started_at.clone()))
}

/// The request as stored, with the same checks as a request file (`CycleRequest::from_json`).
pub(crate) fn parse_request(json: &str) -> Result<CycleRequest, String> {
    CycleRequest::from_json(json.as_bytes()).map_err(|e| e.to_string())
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::Struct(fs) => format!(
            "struct<{}>",
            fs.iter()
                .map(|f| format!("{}: {}", f.name(), type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        DataType::Binary => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::Float64 => "float64".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// Every contract column must be there with its exact type; a not-null column must be declared
/// not null (a nullable declaration of a nullable column is not required: stricter is fine).
/// Inside `headers`, only the types are checked, not the nullability of the list item or the
/// struct members (pyarrow's defaults differ from ours); nulls there are rejected per row.
/// Returns the projection that puts the contract's columns in contract order.
fn check_columns(schema: &Schema, p: &str) -> Result<Vec<usize>, RecordingError> {
    let mut projection = Vec::with_capacity(col::ALL.len());
    for (want, name) in contract_fields().iter().zip(col::ALL) {
        let expected = format!(
            "{}{}",
            type_name(want.data_type()),
            if want.is_nullable() { "" } else { " not null" }
        );
        let (idx, f) =
            schema
                .column_with_name(name)
                .ok_or_else(|| RecordingError::MissingColumn {
                    path: p.to_owned(),
                    column: name,
                    expected: expected.clone(),
                })?;
        let same_type = match (f.data_type(), want.data_type()) {
            (DataType::List(got), DataType::List(_)) => match got.data_type() {
                DataType::Struct(fs) => {
                    fs.len() == 2
                        && fs[0].name() == "name"
                        && fs[1].name() == "value"
                        && fs.iter().all(|f| f.data_type() == &DataType::Utf8)
                }
                _ => false,
            },
            (a, b) => a == b,
        };
        if !same_type {
            return Err(RecordingError::ColumnType {
                path: p.to_owned(),
                column: name,
                found: type_name(f.data_type()),
                expected,
            });
        }
        if f.is_nullable() && !want.is_nullable() {
            return Err(RecordingError::Nullable {
                path: p.to_owned(),
                column: name,
            });
        }
        projection.push(idx);
    }
    Ok(projection)
}

fn rows_from_batches(
    request: CycleRequest,
    started_at: String,
    batches: &[RecordBatch],
    file_bytes: u64,
    p: &str,
) -> Result<Recording, RecordingError> {
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if n != request.axons.len() {
        return Err(RecordingError::RowCount {
            path: p.to_owned(),
            rows: n,
            axons: request.axons.len(),
        });
    }
    let bad = |row: usize, what: String| RecordingError::BadRow {
        path: p.to_owned(),
        row,
        what,
    };
    let mut rec = Recording {
        request,
        started_at,
        uid: Vec::with_capacity(n),
        hotkey: Vec::with_capacity(n),
        status: Vec::with_capacity(n),
        error: Vec::with_capacity(n),
        ttfb_ms: Vec::with_capacity(n),
        elapsed_ms: Vec::with_capacity(n),
        at: Vec::with_capacity(n),
        bodies: Vec::with_capacity(batches.len()),
        headers: Vec::with_capacity(batches.len()),
        body_bytes: 0,
        file_bytes,
    };
    for (b, batch) in batches.iter().enumerate() {
        // The projection put the columns in contract order and check_columns fixed their types,
        // so these casts cannot fail; `as_*` would panic if they did, and `read` catches that.
        let c = batch.columns();
        let uid = c[0].as_primitive::<UInt16Type>();
        let hotkey = c[1].as_string::<i32>();
        let status = c[2].as_primitive::<UInt16Type>();
        let error = c[3].as_string::<i32>();
        let ttfb: &Float64Array = c[4].as_primitive();
        let elapsed: &Float64Array = c[5].as_primitive();
        let headers: &ListArray = c[6].as_list();
        let body: &LargeBinaryArray = c[7].as_binary();
        check_not_null(
            &[
                (col::UID, uid as &dyn Array),
                (col::HOTKEY, hotkey),
                (col::ELAPSED_MS, elapsed),
            ],
            rec.uid.len(),
            &bad,
        )?;
        let entries: &StructArray = headers.values().as_struct();
        let names = entries.column(0).as_string::<i32>().clone();
        let values = entries.column(1).as_string::<i32>().clone();
        for i in 0..batch.num_rows() {
            let row = rec.uid.len();
            let axon = &rec.request.axons[row];
            let (u, h) = (uid.value(i), hotkey.value(i));
            if u != axon.uid || h != axon.hotkey {
                return Err(bad(
                    row,
                    format!(
                        "uid {u} hotkey {h} but the request's axon {row} is uid {} hotkey {}",
                        axon.uid, axon.hotkey
                    ),
                ));
            }
            let err = if error.is_valid(i) {
                let s = error.value(i);
                Some(
                    s.parse::<CallError>()
                        .map_err(|_| RecordingError::UnknownError {
                            path: p.to_owned(),
                            row,
                            value: s.to_owned(),
                        })?,
                )
            } else {
                None
            };
            if headers.is_valid(i) {
                let offs = headers.value_offsets();
                for j in offs[i] as usize..offs[i + 1] as usize {
                    if entries.is_null(j) || names.is_null(j) || values.is_null(j) {
                        return Err(bad(row, "a header entry, name or value is null".into()));
                    }
                }
            }
            let elapsed_ms = elapsed.value(i);
            if !elapsed_ms.is_finite() {
                return Err(bad(row, format!("elapsed_ms is {elapsed_ms}")));
            }
            rec.uid.push(u);
            rec.hotkey.push(h.to_owned());
            rec.status.push(status.is_valid(i).then(|| status.value(i)));
            rec.error.push(err);
            rec.ttfb_ms.push(ttfb.is_valid(i).then(|| ttfb.value(i)));
            rec.elapsed_ms.push(elapsed_ms);
            rec.at.push((b as u32, i as u32));
            if body.is_valid(i) {
                rec.body_bytes += body.value_length(i) as u64;
            }
        }
        rec.bodies.push(body.clone());
        rec.headers.push(HeaderCol {
            list: headers.clone(),
            names,
            values,
        });
    }
    Ok(rec)
}

/// A column declared not null must hold no nulls (arrow checks this too; we say which column).
fn check_not_null(
    cols: &[(&'static str, &dyn Array)],
    first_row: usize,
    bad: &dyn Fn(usize, String) -> RecordingError,
) -> Result<(), RecordingError> {
    for (name, a) in cols {
        if a.null_count() > 0 {
            let i = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
            return Err(bad(first_row + i, format!("{name} is null")));
        }
    }
    Ok(())
}
