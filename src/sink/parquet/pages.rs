//! The float layouts' `paths` column chunk (DOUBLE, the default, or FLOAT; BYTE_STREAM_SPLIT; ZSTD
//! or uncompressed), built page by page by hand.
//!
//! In: a run of rows' price slots (`rows × paths × points` f64, row-major) and which rows are
//! CORRECT. Out: the chunk's data pages appended to the row group's buffer (V1 pages, each a run
//! of whole CORRECT rows holding ≈ 1 MiB of prices or a run of null rows), and the chunk's
//! metadata and offset index, with offsets counted like the row group writer's.
//!
//! # Why not parquet's column writer for this one chunk
//!
//! `paths` is ≈ 99 % of the file's bytes. Through parquet-rs's `GenericColumnWriter` (still used
//! for the compact layout, PLAIN, other codecs and page statistics, see `prices.rs`) every price
//! is copied into the encoder's buffer, scattered byte by byte into the eight BYTE_STREAM_SPLIT
//! streams, its levels RLE-encoded one by one, and each page compressed through a fresh output
//! buffer. Here the levels of one CORRECT row are a byte template built once per file (two RLE
//! runs per path), the eight streams are filled eight values at a time by an in-register 8 × 8
//! byte transpose, and each page is compressed by a per-thread ZSTD context into a per-thread
//! buffer, so the only copy is the compressed page into the row group's buffer. The same
//! encoding of every value and the same ZSTD level; a reader cannot tell the chunks apart except
//! by where the pages end (whole rows, ≈ 1 MiB of prices, near parquet-rs's default page size).
//!
//! A FLOAT leaf (`--prices f32`) takes the same route with four streams: each price is rounded to
//! the nearest f32 (`p as f32`) as it is loaded for the transpose, so the rounding costs no pass
//! and no buffer of its own.
//!
//! Measured, parquet's column writer → these pages, same run each:
//!
//! | bench | column writer | hand-built |
//! |---|---|---|
//! | `parquet_write` on the `hf-90mb` batch, BSS + ZSTD(1), CPU per write | 204 ms | 134 ms (1.5×) |
//! | the same, criterion throughput of price bytes | 653 MiB/s | 973 MiB/s |
//! | BSS uncompressed, CPU per write (two runs) | 149, 161 ms | 130, 105 ms |
//! | `replay_hf_90mb` (read, decode, encode, write, rename), criterion | 166 ms | 110 ms (1.52×) |
//! | file size, `hf-90mb` | 5.35 B/price | 5.38 B/price |
//!
//! `cargo bench --bench parquet_write -- --warm-up-time 1 --measurement-time 3`,
//! `cargo bench --bench replay -- --warm-up-time 2 --measurement-time 6`
//!
//! The page header is written here too (Thrift compact protocol, ten fields): parquet-rs keeps its
//! header type private, and its public page writer takes each page as an owned `Bytes`, which
//! would mean a fresh allocation per page. `header_matches_parquet_rs` checks our bytes against
//! parquet-rs's `SerializedPageWriter` for the same page.

use std::cell::RefCell;
use std::io::Write;

use parquet::basic::{Compression, Encoding, PageType};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, PageEncodingStats};
use parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};
use parquet::file::writer::TrackedWrite;
use parquet::schema::types::ColumnDescPtr;

/// The `paths` chunk writer for one file: the leaf, the codec and the level template.
#[derive(Debug)]
pub struct PathsPages {
    desc: ColumnDescPtr,
    leaf: Leaf,
    codec: Codec,
    /// The RLE runs of one CORRECT row's rep levels, and of its def levels; a page of `k` rows
    /// repeats each `k` times (runs need not be maximal).
    row_rep: Vec<u8>,
    row_def: Vec<u8>,
    slot: usize,
    /// CORRECT rows per page: as many as fit in [`PAGE_BYTES`] of prices, at least one.
    rows_per_page: usize,
    def_width: u8,
    rep_width: u8,
}

/// The leaf's physical type: what a price becomes in the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    /// DOUBLE: the f64's eight bytes.
    Double,
    /// FLOAT: the f64 rounded to the nearest f32, four bytes.
    Float,
}

impl Leaf {
    /// Bytes per price in the page, which is also the number of BYTE_STREAM_SPLIT streams.
    fn width(self) -> usize {
        match self {
            Leaf::Double => 8,
            Leaf::Float => 4,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Codec {
    None,
    Zstd(i32),
}

/// What the row group needs to list the chunk.
pub struct PathsChunk {
    pub metadata: ColumnChunkMetaData,
    pub offset_index: OffsetIndexMetaData,
}

/// Per-thread scratch: the uncompressed page body and the compressed one, reused for every page
/// this thread builds (no allocation, and no fresh pages to fault, after the first few).
#[derive(Default)]
struct Scratch {
    body: Vec<u8>,
    packed: Vec<u8>,
    zstd: Option<(i32, zstd::bulk::Compressor<'static>)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Uncompressed prices per page, like parquet's default page size limit. One `hf-90mb` row is
/// 488 KB as DOUBLE, so its pages hold two rows (four as FLOAT); an `lf-full` row (2.3 MB) is a
/// page of its own. One row per page made the `hf-90mb` file 3 % larger (ZSTD sees half the data
/// per frame).
const PAGE_BYTES: usize = 1 << 20;

/// Per-thread scratch kept between chunks, at most (a page of 1 MiB of prices and its compressed
/// copy fit many times over; only a shape whose single row is larger goes past it).
const SCRATCH_KEEP: usize = 64 << 20;

/// Largest page body the header's i32 sizes can describe (with room for the level sections).
const MAX_PAGE: usize = i32::MAX as usize - (1 << 20);

impl PathsPages {
    /// The writer for `desc` (the `paths` leaf: DOUBLE or FLOAT, max rep level 2) with
    /// `paths × points` prices per CORRECT row, or `None` when this codec, leaf or shape is left to
    /// parquet's column writer (empty slots, pages too large for one page per row, codecs other
    /// than ZSTD and none).
    pub fn new(desc: &ColumnDescPtr, paths: usize, points: usize, compression: Compression) -> Option<PathsPages> {
        let leaf = match desc.physical_type() {
            parquet::basic::Type::DOUBLE => Leaf::Double,
            parquet::basic::Type::FLOAT => Leaf::Float,
            _ => return None,
        };
        let width = leaf.width();
        let codec = match compression {
            Compression::UNCOMPRESSED => Codec::None,
            Compression::ZSTD(level) => Codec::Zstd(level.compression_level()),
            _ => return None,
        };
        let slot = paths.checked_mul(points)?;
        if slot == 0 || slot.checked_mul(width)? > MAX_PAGE || desc.max_rep_level() != 2 || desc.max_def_level() < 1 {
            return None;
        }
        let rep_width = bit_width(desc.max_rep_level());
        let def_width = bit_width(desc.max_def_level());

        // A row's rep levels: 0 for its first value, 1 for each path's first, 2 for the rest; as
        // RLE runs, `(1, first)`, `(points - 1, 2)` per path. Its def levels: all max, one run.
        let mut rep = Runs::new(rep_width);
        for p in 0..paths {
            rep.push(if p == 0 { 0 } else { 1 }, 1);
            rep.push(2, points - 1);
        }
        let mut def = Runs::new(def_width);
        def.push(desc.max_def_level() as u32, slot);
        let (row_rep, row_def) = (rep.into_runs(), def.into_runs());
        let rows_per_page = (PAGE_BYTES / (width * slot)).max(1);
        // The level sections of a full page must fit the header's sizes too.
        let level_bytes = (8 + row_rep.len() + row_def.len()).checked_mul(rows_per_page)?;
        if level_bytes + width * slot * rows_per_page > MAX_PAGE {
            return None;
        }
        Some(PathsPages {
            desc: desc.clone(),
            leaf,
            codec,
            row_rep,
            row_def,
            slot,
            rows_per_page,
            def_width,
            rep_width,
        })
    }

    /// Appends the chunk for `valid.len()` rows to `sink`: `values` holds one slot per row, used
    /// only where `valid[row]`. Offsets in the result are `sink.bytes_written()` positions.
    pub fn write<W: Write>(
        &self,
        sink: &mut TrackedWrite<W>,
        values: &[f64],
        valid: &[bool],
    ) -> Result<PathsChunk, ParquetError> {
        let slot = self.slot;
        if values.len() != slot * valid.len() {
            return Err(ParquetError::General(format!(
                "paths: {} values for {} rows of {slot}",
                values.len(),
                valid.len()
            )));
        }
        let start = sink.bytes_written() as i64;
        let (mut compressed, mut uncompressed, mut num_values) = (0i64, 0i64, 0i64);
        // Pages of CORRECT rows, BYTE_STREAM_SPLIT; pages of null rows only, PLAIN.
        let (mut split_pages, mut null_pages) = (0i32, 0i32);
        let mut locations = Vec::new();
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            let mut row = 0;
            while row < valid.len() {
                // The body is built over the previous page's bytes (no clearing): only its first
                // `len` bytes count.
                let (levels, rows_in_page, len, encoding) = if valid[row] {
                    let k = valid[row..].iter().take(self.rows_per_page).take_while(|&&v| v).count();
                    let (rep, def) = (self.row_rep.len() * k, self.row_def.len() * k);
                    let at = 8 + rep + def;
                    let len = at + self.leaf.width() * slot * k;
                    if s.body.len() < len {
                        s.body.resize(len, 0);
                    }
                    let mut w = &mut s.body[..at];
                    for (section, runs) in [(rep, &self.row_rep), (def, &self.row_def)] {
                        w[..4].copy_from_slice(&(section as u32).to_le_bytes());
                        w = &mut w[4..];
                        for _ in 0..k {
                            w[..runs.len()].copy_from_slice(runs);
                            w = &mut w[runs.len()..];
                        }
                    }
                    let (prices, streams) = (&values[row * slot..(row + k) * slot], &mut s.body[at..len]);
                    match self.leaf {
                        Leaf::Double => split_streams(prices, streams),
                        Leaf::Float => split_streams_f32(prices, streams),
                    }
                    (slot * k, k, len, PageEncoding::ByteStreamSplit)
                } else {
                    let k = valid[row..].iter().take_while(|&&v| !v).count();
                    let mut levels = Vec::with_capacity(32);
                    let mut rep = Runs::new(self.rep_width);
                    rep.push(0, k);
                    rep.finish_into(&mut levels);
                    let mut def = Runs::new(self.def_width);
                    def.push(0, k);
                    def.finish_into(&mut levels);
                    if s.body.len() < levels.len() {
                        s.body.resize(levels.len(), 0);
                    }
                    s.body[..levels.len()].copy_from_slice(&levels);
                    // No value in the page, so no value encoding to speak of: PLAIN, because
                    // polars (2.1) rejects a BYTE_STREAM_SPLIT page that holds nulls ("validity mask
                    // length must match the number of values") and reads this one.
                    (k, k, levels.len(), PageEncoding::Plain)
                };
                let raw = &s.body[..len];
                let body: &[u8] = match self.codec {
                    Codec::None => raw,
                    Codec::Zstd(level) => {
                        let ctx = match &mut s.zstd {
                            Some((l, c)) if *l == level => c,
                            z => &mut z.insert((level, zstd::bulk::Compressor::new(level)?)).1,
                        };
                        s.packed.clear();
                        s.packed.reserve(zstd::zstd_safe::compress_bound(len));
                        ctx.compress_to_buffer(raw, &mut s.packed)?;
                        &s.packed
                    }
                };
                let mut header = [0u8; 64];
                let h = data_page_header(&mut header, encoding, len, body.len(), levels);
                let offset = sink.bytes_written() as i64;
                sink.write_all(&header[..h])?;
                sink.write_all(body)?;
                locations.push(PageLocation {
                    offset,
                    compressed_page_size: (h + body.len()) as i32,
                    first_row_index: row as i64,
                });
                compressed += (h + body.len()) as i64;
                uncompressed += (h + len) as i64;
                num_values += levels as i64;
                match encoding {
                    PageEncoding::ByteStreamSplit => split_pages += 1,
                    PageEncoding::Plain => null_pages += 1,
                }
                row += rows_in_page;
            }
            // Kept for the next chunk, unless an outsized shape grew them: pool threads live as
            // long as the process.
            if s.body.capacity() > SCRATCH_KEEP {
                s.body = Vec::new();
            }
            if s.packed.capacity() > SCRATCH_KEEP {
                s.packed = Vec::new();
            }
            Ok::<(), ParquetError>(())
        })?;

        let compression = match self.codec {
            Codec::None => Compression::UNCOMPRESSED,
            Codec::Zstd(level) => Compression::ZSTD(
                parquet::basic::ZstdLevel::try_new(level).map_err(|e| ParquetError::General(e.to_string()))?,
            ),
        };
        let mut encodings = vec![Encoding::RLE];
        let mut stats = Vec::new();
        for (encoding, count) in [(Encoding::PLAIN, null_pages), (Encoding::BYTE_STREAM_SPLIT, split_pages)] {
            if count > 0 {
                encodings.push(encoding);
                stats.push(PageEncodingStats { page_type: PageType::DATA_PAGE, encoding, count });
            }
        }
        let mut metadata = ColumnChunkMetaData::builder(self.desc.clone()).set_encodings(encodings);
        if !stats.is_empty() {
            metadata = metadata.set_page_encoding_stats(stats);
        }
        let metadata = metadata
            .set_compression(compression)
            .set_num_values(num_values)
            .set_total_compressed_size(compressed)
            .set_total_uncompressed_size(uncompressed)
            .set_data_page_offset(start)
            .build()?;
        Ok(PathsChunk {
            metadata,
            offset_index: OffsetIndexMetaData { page_locations: locations, unencoded_byte_array_data_bytes: None },
        })
    }
}

fn bit_width(max: i16) -> u8 {
    (16 - (max as u16).leading_zeros()) as u8
}

/// RLE runs of the Parquet RLE/bit-packed hybrid, merged when consecutive values repeat, written
/// as a V1 level section: 4-byte little-endian length, then the runs.
struct Runs {
    width: u8,
    bytes: Vec<u8>,
    last: Option<(u32, usize)>,
}

impl Runs {
    fn new(width: u8) -> Runs {
        Runs { width, bytes: Vec::new(), last: None }
    }

    fn push(&mut self, value: u32, count: usize) {
        if count == 0 {
            return;
        }
        match &mut self.last {
            Some((v, n)) if *v == value => *n += count,
            _ => {
                self.flush();
                self.last = Some((value, count));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((value, count)) = self.last.take() {
            varint(&mut self.bytes, (count as u64) << 1);
            let value_bytes = usize::from(self.width).div_ceil(8);
            self.bytes.extend_from_slice(&value.to_le_bytes()[..value_bytes]);
        }
    }

    fn finish_into(self, out: &mut Vec<u8>) {
        let runs = self.into_runs();
        out.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        out.extend_from_slice(&runs);
    }

    /// The runs without the section's length prefix.
    fn into_runs(mut self) -> Vec<u8> {
        self.flush();
        self.bytes
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A data page's value encoding, as the Thrift enum's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageEncoding {
    Plain = 0,
    ByteStreamSplit = 9,
}

/// Writes a `PageHeader { type: DATA_PAGE, sizes, data_page_header: { num_values, encoding,
/// def/rep level encoding: RLE } }` in the Thrift compact protocol into `out`; returns its length.
fn data_page_header(
    out: &mut [u8; 64],
    encoding: PageEncoding,
    uncompressed: usize,
    compressed: usize,
    num_values: usize,
) -> usize {
    const I32: u8 = 5;
    const STRUCT: u8 = 12;
    let mut w = HeaderWriter { out, at: 0 };
    w.field(1, I32);
    w.i32(0); // PageType::DATA_PAGE
    w.field(1, I32);
    w.i32(uncompressed as i32);
    w.field(1, I32);
    w.i32(compressed as i32);
    w.field(2, STRUCT); // field 5: data_page_header
    w.field(1, I32);
    w.i32(num_values as i32);
    w.field(1, I32);
    w.i32(encoding as i32);
    w.field(1, I32);
    w.i32(3); // Encoding::RLE (definition levels)
    w.field(1, I32);
    w.i32(3); // Encoding::RLE (repetition levels)
    w.byte(0); // end of data_page_header
    w.byte(0); // end of PageHeader
    w.at
}

struct HeaderWriter<'a> {
    out: &'a mut [u8; 64],
    at: usize,
}

impl HeaderWriter<'_> {
    fn byte(&mut self, b: u8) {
        self.out[self.at] = b;
        self.at += 1;
    }

    /// A field header: the id as a delta from the previous field's, and the type.
    fn field(&mut self, delta: u8, kind: u8) {
        self.byte(delta << 4 | kind);
    }

    fn i32(&mut self, v: i32) {
        let mut z = ((v << 1) ^ (v >> 31)) as u32;
        while z >= 0x80 {
            self.byte((z as u8) | 0x80);
            z >>= 7;
        }
        self.byte(z as u8);
    }
}

/// BYTE_STREAM_SPLIT of `values` into `out` (`8 × values.len()` bytes): byte `k` of value `i` goes
/// to `out[k × n + i]`. Eight values at a time are loaded as eight u64 words, transposed as an
/// 8 × 8 byte matrix in registers, and stored as one u64 per stream.
pub fn split_streams(values: &[f64], out: &mut [u8]) {
    let n = values.len();
    assert_eq!(out.len(), 8 * n, "one byte per stream per value");
    let blocks = n / 8;
    for b in 0..blocks {
        let v = &values[b * 8..b * 8 + 8];
        let mut x = [0u64; 8];
        for (x, v) in x.iter_mut().zip(v) {
            *x = v.to_bits();
        }
        transpose8(&mut x);
        for (k, word) in x.iter().enumerate() {
            out[k * n + b * 8..k * n + b * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
    }
    for i in blocks * 8..n {
        for (k, byte) in values[i].to_bits().to_le_bytes().into_iter().enumerate() {
            out[k * n + i] = byte;
        }
    }
}

/// BYTE_STREAM_SPLIT of `values` rounded to f32 (`v as f32`) into `out` (`4 × values.len()`
/// bytes): byte `k` of the f32 of value `i` goes to `out[k × n + i]`. Eight values at a time: values
/// `j` and `j + 4` share a u64 word, which is where the 8 × 8 transpose of [`transpose8`] stands
/// after its first round when the upper four bytes of every value are zero; its last two rounds
/// then leave stream `k`'s eight bytes in word `k`.
pub fn split_streams_f32(values: &[f64], out: &mut [u8]) {
    let n = values.len();
    assert_eq!(out.len(), 4 * n, "one byte per stream per value");
    let blocks = n / 8;
    let bits = |v: f64| u64::from((v as f32).to_bits());
    for b in 0..blocks {
        let v = &values[b * 8..b * 8 + 8];
        let mut x = [0u64; 4];
        for (j, x) in x.iter_mut().enumerate() {
            *x = bits(v[j]) | bits(v[j + 4]) << 32;
        }
        transpose4x8(&mut x);
        for (k, word) in x.iter().enumerate() {
            out[k * n + b * 8..k * n + b * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
    }
    for i in blocks * 8..n {
        for (k, byte) in (values[i] as f32).to_bits().to_le_bytes().into_iter().enumerate() {
            out[k * n + i] = byte;
        }
    }
}

/// The last two rounds of [`transpose8`] on one half of its matrix (2 × 2 blocks, then single
/// bytes): for words `x[j] = a_j | b_j << 32` (`a_j`, `b_j` four-byte values), afterwards byte `j`
/// of `x[k]` is byte `k` of `a_j` and byte `4 + j` of it is byte `k` of `b_j`.
#[inline(always)]
fn transpose4x8(x: &mut [u64; 4]) {
    for j in [0, 1] {
        swap(x, j, j + 2, 16, 0x0000_FFFF_0000_FFFF);
    }
    for j in [0, 2] {
        swap(x, j, j + 1, 8, 0x00FF_00FF_00FF_00FF);
    }
}

/// One step of a byte-matrix transpose: swaps the bits of `x[a] >> shift` and of `x[b]` that
/// `mask` selects.
#[inline(always)]
fn swap<const N: usize>(x: &mut [u64; N], a: usize, b: usize, shift: u32, mask: u64) {
    let t = ((x[a] >> shift) ^ x[b]) & mask;
    x[b] ^= t;
    x[a] ^= t << shift;
}

/// Transposes the 8 × 8 byte matrix whose row `j` is `x[j]` (byte `k` = little-endian byte `k`):
/// afterwards byte `j` of `x[k]` is what byte `k` of `x[j]` was. Three rounds of swapping
/// off-diagonal blocks: 4 × 4 bytes, 2 × 2, then single bytes.
#[inline(always)]
fn transpose8(x: &mut [u64; 8]) {
    for j in 0..4 {
        swap(x, j, j + 4, 32, 0x0000_0000_FFFF_FFFF);
    }
    for j in [0, 1, 4, 5] {
        swap(x, j, j + 2, 16, 0x0000_FFFF_0000_FFFF);
    }
    for j in [0, 2, 4, 6] {
        swap(x, j, j + 1, 8, 0x00FF_00FF_00FF_00FF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BYTE_STREAM_SPLIT by its definition: byte `k` of value `i`'s `W` bytes at `out[k × n + i]`.
    fn naive_split<const W: usize>(values: &[f64], bytes: impl Fn(f64) -> [u8; W]) -> Vec<u8> {
        let n = values.len();
        let mut out = vec![0u8; W * n];
        for (i, v) in values.iter().enumerate() {
            for (k, b) in bytes(*v).into_iter().enumerate() {
                out[k * n + i] = b;
            }
        }
        out
    }

    /// Both layouts' transposes against the definition; float32 also rounds each value (`as f32`).
    #[test]
    fn split_matches_the_byte_by_byte_definition() {
        let mut x = 0x0123_4567_89ab_cdefu64;
        for n in [0, 1, 7, 8, 9, 16, 61, 64, 1000, 61_000 + 3] {
            let values: Vec<f64> = (0..n)
                .map(|i| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    // Random bits (NaNs, infinities, subnormals, values past f32's range) and
                    // prices like the miners'.
                    if i % 2 == 0 { f64::from_bits(x) } else { 91_234.56 + (x >> 40) as f64 / 1e3 }
                })
                .collect();
            let mut out = vec![0xAAu8; 8 * n];
            split_streams(&values, &mut out);
            assert_eq!(out, naive_split(&values, f64::to_le_bytes), "f64, n = {n}");
            let mut out = vec![0xAAu8; 4 * n];
            split_streams_f32(&values, &mut out);
            assert_eq!(out, naive_split(&values, |v| (v as f32).to_le_bytes()), "f32, n = {n}");
        }
        // Round to nearest, ties to even: 1 + 2^-24 is halfway between 1 and 1 + 2^-23.
        let tie = 1.0 + 2f64.powi(-24);
        let mut out = [0u8; 4];
        split_streams_f32(&[tie], &mut out);
        assert_eq!(u32::from_le_bytes(out), 1.0f32.to_bits());
    }

    /// Our Thrift header, byte for byte what parquet-rs's own page writer puts before the same
    /// page, for small and multi-byte varint sizes.
    #[test]
    fn header_matches_parquet_rs() {
        use parquet::column::page::{CompressedPage, Page, PageWriter};
        use parquet::file::writer::SerializedPageWriter;
        let sizes = [(10, 7, 1), (488_068, 301_555, 61_000), (2_312_345, 1_700_000, 289_000)];
        for ((uncompressed, compressed, values), (ours, theirs)) in sizes.into_iter().flat_map(|size| {
            [(PageEncoding::ByteStreamSplit, Encoding::BYTE_STREAM_SPLIT), (PageEncoding::Plain, Encoding::PLAIN)]
                .map(|e| (size, e))
        }) {
            let body = vec![0x5Au8; compressed];
            let page = Page::DataPage {
                buf: bytes::Bytes::from(body.clone()),
                num_values: values as u32,
                encoding: theirs,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let mut written = TrackedWrite::new(Vec::new());
            SerializedPageWriter::new(&mut written).write_page(CompressedPage::new(page, uncompressed)).unwrap();
            let written = written.into_inner().unwrap();
            let mut header = [0u8; 64];
            let h = data_page_header(&mut header, ours, uncompressed, compressed, values);
            let built = [&header[..h], &body[..]].concat();
            assert_eq!(built, written, "{theirs:?}, sizes {uncompressed}/{compressed}, {values} values");
        }
    }

    fn paths_leaf(paths: i32, points: i32) -> ColumnDescPtr {
        let schema =
            parquet::arrow::ArrowSchemaConverter::new().convert(&crate::batch::output_schema(paths, points)).unwrap();
        schema.column(schema.num_columns() - 1)
    }

    fn paths_leaf_of(leaf: arrow::datatypes::DataType, paths: i32, points: i32) -> ColumnDescPtr {
        let arrow = crate::batch::schema_with_paths_leaf(leaf, paths, points);
        let schema = parquet::arrow::ArrowSchemaConverter::new().convert(&arrow).unwrap();
        schema.column(schema.num_columns() - 1)
    }

    #[test]
    fn which_shapes_and_codecs_are_built_here() {
        let zstd = Compression::ZSTD(parquet::basic::ZstdLevel::try_new(1).unwrap());
        let hf = PathsPages::new(&paths_leaf(1000, 61), 1000, 61, zstd).expect("hf pages");
        assert_eq!((hf.rows_per_page, hf.desc.max_def_level(), hf.desc.max_rep_level()), (2, 3, 2));
        // Per path: (1, 0|1) and (60, 2), four bytes; def: one run of 61 000 × 3.
        assert_eq!(hf.row_rep.len(), 4000);
        assert_eq!(hf.row_def, [0x90, 0xB9, 0x07, 3]); // varint(61 000 << 1), then the value
        let lf = PathsPages::new(&paths_leaf(1000, 289), 1000, 289, Compression::UNCOMPRESSED).expect("lf pages");
        assert_eq!(lf.rows_per_page, 1);
        // FLOAT: half the bytes, twice the rows per page, the same levels.
        use arrow::datatypes::DataType;
        let hf32 = PathsPages::new(&paths_leaf_of(DataType::Float32, 1000, 61), 1000, 61, zstd).expect("f32 pages");
        assert_eq!((hf32.leaf, hf32.rows_per_page, hf32.row_rep.len()), (Leaf::Float, 4, 4000));
        assert_eq!(hf32.row_def, hf.row_def);
        let lf32 = PathsPages::new(&paths_leaf_of(DataType::Float32, 1000, 289), 1000, 289, zstd).expect("f32 pages");
        assert_eq!(lf32.rows_per_page, 1);
        // INT64 (decimal) leaves are not built here.
        assert!(PathsPages::new(&paths_leaf_of(DataType::Decimal128(18, 3), 1000, 61), 1000, 61, zstd).is_none());
        // Left to parquet's column writer: other codecs, empty slots, rows too large for a page.
        assert!(PathsPages::new(&paths_leaf(1000, 61), 1000, 61, Compression::LZ4_RAW).is_none());
        assert!(PathsPages::new(&paths_leaf(0, 61), 0, 61, zstd).is_none());
        assert!(PathsPages::new(&paths_leaf(1 << 20, 1 << 10), 1 << 20, 1 << 10, zstd).is_none());
    }

    #[test]
    fn runs_merge_and_encode_as_rle() {
        let mut r = Runs::new(2);
        r.push(0, 1);
        r.push(2, 60);
        r.push(1, 1);
        r.push(1, 1);
        r.push(2, 0);
        r.push(2, 200);
        let mut out = Vec::new();
        r.finish_into(&mut out);
        // (1, 0) (60, 2) (2, 1) (200, 2): headers count << 1 as varints, one value byte each.
        let runs = [2u8, 0, 120, 2, 4, 1, 0x90, 0x03, 2];
        assert_eq!(&out[..4], &(runs.len() as u32).to_le_bytes());
        assert_eq!(&out[4..], &runs);
    }
}
