//! The hardening layer around arrow-ipc: a file's bytes → its schema, then its record batches.
//!
//! In: the whole file as one Arrow [`Buffer`] (the mapped file, or the copy `from_bytes` makes).
//! Out: an [`IpcFile`] whose schema the contract checks, then [`IpcFile::record_batches`]: the
//! record batches decoded in place by arrow-ipc's [`FileDecoder`] (uncompressed buffers are slices
//! of the input buffer; compressed ones are inflated by arrow-ipc into buffers of their own). Or a
//! [`RecordingError::NotArrow`] / [`RecordingError::Decode`].
//!
//! arrow-ipc checks the flatbuffers it parses, but takes some of the numbers inside them on trust,
//! and a hostile file has made it panic or abort on each of those (found by the
//! `recording_reader` fuzz target; `fuzz/README.md`). This file refuses such a file before
//! arrow-ipc sees it: the magic and footer length, blocks outside the file, short block metadata,
//! buffers outside a block's body, absurd compressed lengths, offsets buffers of a bad length.
//! [`guarded`] is the backstop for whatever is left: a panic becomes an error, and every error is
//! made one line. Nothing here knows the recording's columns; the contract checks are
//! `contract.rs`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, Schema};
use arrow::ipc::convert::try_fb_to_schema;
use arrow::ipc::reader::{FileDecoder, read_footer_length};
use arrow::ipc::{Block, Footer, MessageHeader, root_as_footer, root_as_message};

use crate::recording::RecordingError;

const MAGIC: &[u8; 6] = b"ARROW1";

/// `f` (the whole decode), with any panic from arrow turned into [`RecordingError::Decode`].
/// Every error is one line, whatever text the file (or arrow-ipc's multi-line flatbuffers
/// errors) put in it.
pub(super) fn guarded<T>(p: &str, f: impl FnOnce() -> Result<T, RecordingError>) -> Result<T, RecordingError> {
    // arrow-ipc checks what it parses, but a hostile file has made it panic before (slice
    // bounds deep in a decoder; `check_block` now refuses the ones the fuzzer found); a bad
    // recording must be an error, never a crash.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(RecordingError::one_line),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(RecordingError::Decode { path: p.to_owned(), reason: format!("arrow-ipc panicked: {what}") }.one_line())
        }
    }
}

fn not_arrow(p: &str, reason: impl Into<String>) -> RecordingError {
    RecordingError::NotArrow { path: p.to_owned(), reason: reason.into() }
}

/// An IPC file whose magic, footer and schema have been checked; its blocks not yet decoded.
pub(super) struct IpcFile<'a> {
    buf: &'a Buffer,
    footer: Footer<'a>,
    /// Where the footer starts: every block must end before it.
    footer_start: usize,
    schema: Schema,
}

impl<'a> IpcFile<'a> {
    /// The `ARROW1` magic at both ends, the footer length, the footer and the schema it holds.
    pub(super) fn open(buf: &'a Buffer, p: &str) -> Result<IpcFile<'a>, RecordingError> {
        let len = buf.len();
        // "ARROW1" + 2 padding bytes, …, footer, footer length (4), "ARROW1".
        if len < 8 + 10 || &buf[..6] != MAGIC || &buf[len - 6..] != MAGIC {
            return Err(not_arrow(p, "no ARROW1 magic at the start and end"));
        }
        let trailer = len - 10;
        let footer_len = read_footer_length(buf[trailer..].try_into().expect("10 bytes"))
            .map_err(|e| not_arrow(p, e.to_string()))?;
        if footer_len > trailer - 8 {
            return Err(not_arrow(p, format!("footer length {footer_len} exceeds the file")));
        }
        let footer_start = trailer - footer_len;
        let footer =
            root_as_footer(&buf[footer_start..trailer]).map_err(|e| not_arrow(p, format!("bad footer: {e}")))?;
        let fb_schema = footer.schema().ok_or_else(|| not_arrow(p, "footer has no schema"))?;
        if !fb_schema.endianness().equals_to_target_endianness() {
            return Err(not_arrow(p, "big-endian file"));
        }
        let schema = try_fb_to_schema(fb_schema).map_err(|e| not_arrow(p, format!("bad schema: {e}")))?;
        Ok(IpcFile { buf, footer, footer_start, schema })
    }

    /// The file's schema, metadata included, as the footer declares it.
    pub(super) fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The dictionaries, then the record batches, each block checked ([`check_block`]) before
    /// arrow-ipc decodes it. `projection`: the file's columns to keep, in the order wanted.
    pub(super) fn record_batches(self, projection: Vec<usize>, p: &str) -> Result<Vec<RecordBatch>, RecordingError> {
        let IpcFile { buf, footer, footer_start, schema } = self;
        // From the whole schema, not the projection: a block holds every column's buffers.
        let offsets = offset_widths(&schema);
        let mut decoder = FileDecoder::new(Arc::new(schema), footer.version()).with_projection(projection);
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
        let dec_err =
            |e: arrow::error::ArrowError| RecordingError::Decode { path: p.to_owned(), reason: e.to_string() };
        for block in footer.dictionaries().iter().flatten() {
            decoder.read_dictionary(block, &block_data(block)?).map_err(dec_err)?;
        }
        let blocks = footer.recordBatches().ok_or_else(|| not_arrow(p, "footer lists no record batches"))?;
        let mut batches = Vec::with_capacity(blocks.len());
        for block in blocks {
            if let Some(batch) = decoder.read_record_batch(block, &block_data(block)?).map_err(dec_err)? {
                batches.push(batch);
            }
        }
        Ok(batches)
    }
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
fn check_block(data: &[u8], meta: usize, offsets: Option<&[u8]>, p: &str) -> Result<(), RecordingError> {
    let bad = |what: String| not_arrow(p, format!("bad record batch block: {what}"));
    if meta < 8 {
        return Err(bad(format!("{meta} bytes of metadata")));
    }
    let flatbuffer = if data[..4] == [0xff; 4] { &data[8..] } else { &data[4..] };
    let message = root_as_message(flatbuffer).map_err(|e| bad(e.to_string()))?;
    let batch = match message.header_type() {
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => message.header_as_dictionary_batch().and_then(|d| d.data()),
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
            let prefix: [u8; 8] = body[range.start..range.start + 8].try_into().expect("8 bytes");
            let claimed = i64::from_le_bytes(prefix);
            let limit = (range.len() as u64).saturating_mul(MAX_INFLATE).saturating_add(1 << 20);
            if claimed > 0 && claimed as u64 > limit {
                return Err(bad(format!("buffer {i} claims to inflate {} bytes to {claimed}", range.len())));
            }
            len = match claimed {
                -1 => Some(range.len() as u64 - 8),
                0.. => Some(claimed as u64),
                _ => None, // arrow-ipc refuses it
            };
        }
        let width = offsets.and_then(|w| w.get(i)).copied().unwrap_or(0);
        if let Some(len) = len.filter(|l| width > 0 && l % u64::from(width) != 0) {
            return Err(bad(format!("buffer {i} holds {width}-byte offsets but is {len} bytes long")));
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
