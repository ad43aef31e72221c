//! Record batch → one Parquet file at
//! `DIR/asset=<asset>/date=<YYYY-MM-DD>/<start_unix>_<time_length>.parquet`.
//!
//! In: the cycle's `RecordBatch` (schema [`crate::batch::output_schema`]) and request. Out: the
//! file, written under a temp name in the same folder, fsync'd and renamed into place, so a reader
//! never sees half of it.
//!
//! # Encode early, append at once, footer last
//!
//! A file is a sequence of row groups, each a few consecutive rows (in uid order). A
//! [`CycleParquetWriter`] fixes the file's schema and encodings up front and opens the temp file;
//! then [`CycleParquetWriter::encode_rows`] turns any run of rows into a row group (every column
//! chunk encoded and compressed into a reused buffer) and appends it to the file at once: an
//! offset reserved with one atomic add, the buffer handed to the file's I/O thread, which
//! `pwrite`s it there and `fdatasync`s behind the writes, so the page-cache copy and the disk
//! overlap the encoding (and, in a live cycle, the network). What it hands back, an
//! [`EncodedRowGroup`], is only the group's metadata with its real file offsets. It takes `&self`,
//! so row groups are encoded in parallel on pool threads, in any order, as soon as their rows are
//! ready. [`CycleParquetWriter::finish`] then only writes the footer, which lists the row groups in
//! row order wherever they sit in the file (a reader seeks by the footer's offsets, so the byte
//! order of the groups does not matter), waits for the I/O thread and the last fsync, and moves the
//! file into place. The one-shot [`write`] is that machinery run over the whole batch on
//! [`crate::pool::decode_pool`].
//!
//! Measured (`schemas/output.md`): holding the encoded groups until the end and splicing them
//! cost a copy of the whole file, ~50 MB of extra memory on `hf-90mb`, and an fsync of all of it
//! after the last miner (≈ 110 ms of the live `after_network`); appending as encoded leaves the
//! footer, the fsync of the last megabyte or so, and the rename.
//!
//! # Encodings
//!
//! `paths` dominates the file (≈ 9 M prices in a 90 MB cycle), never dictionary-encoded:
//!
//! - [`PriceEncoding::Float64`] (default): DOUBLE, BYTE_STREAM_SPLIT + ZSTD(1). Lossless, read as
//!   float64 by every reader. Its pages are built by hand (`pages.rs`: level templates, an
//!   in-register byte transpose, a per-thread ZSTD context); every other layout, and page
//!   statistics, go through parquet's low-level column writer with precomputed levels
//!   (`prices.rs`).
//! - [`PriceEncoding::Compact`]: INT64 DECIMAL(18, s) with DELTA_BINARY_PACKED (+ the file's
//!   compression), `s` the smallest scale at which every CORRECT price of the file decodes back
//!   (value / 10^s) to the identical double. Errors ([`SinkError::NotRepresentable`]) if no scale
//!   ≤ 18 works; [`PriceEncoding::CompactOrFloat64`] falls back to the default instead.
//!
//! Measured on the `hf-90mb` fixture's batch (9.15 M CORRECT prices, 73.2 MB raw; full table and
//! command in `schemas/output.md`; CPU is user + system of all threads per write, the figure this
//! shared 2-core machine's load moves least):
//!
//! | layout | bytes/price | CPU ms |
//! |---|---|---|
//! | default: BSS + ZSTD(1), hand-built pages | 5.38 | 106–156 |
//! | the same through parquet's column writer | 5.35 | 204 |
//! | compact: DECIMAL + DELTA + ZSTD(1) | 2.52 | 211–228 |
//!
//! `cargo bench --bench parquet_write -- --warm-up-time 1 --measurement-time 3`

mod file;
pub mod pages;
pub mod prices;

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, FixedSizeListArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Schema, SchemaRef, TimestampMicrosecondType};
use arrow::error::ArrowError;
use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::page_index::PageIndexBuilder;
use parquet::file::metadata::{
    FileMetaData, KeyValue, ParquetMetaDataBuilder, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesPtr, WriterVersion};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter, TrackedWrite};
use parquet::schema::types::{SchemaDescPtr, SchemaDescriptor};
use rayon::prelude::*;

pub use file::{partition_path, temp_path};
pub use prices::PriceLayout;

use crate::batch::{self, SCHEMA_VERSION, SCHEMA_VERSION_KEY};
use crate::request::CycleRequest;
use prices::{EncodeError, Levels};

/// File key-value metadata: the cycle request JSON.
pub const REQUEST_KEY: &str = "synth.request";
/// File key-value metadata: the engine (crate) version that wrote the file.
pub const ENGINE_VERSION_KEY: &str = "synth.engine.version";
/// File key-value metadata: how `paths` is stored (`float64` or `decimal(18,<scale>)`).
pub const PRICES_KEY: &str = "synth.prices.encoding";

/// How the `paths` prices are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PriceEncoding {
    /// DOUBLE: lossless, float64 in every reader.
    #[default]
    Float64,
    /// INT64 DECIMAL(18, s), DELTA_BINARY_PACKED; lossless by construction, error if a CORRECT
    /// price has no exact decimal form with ≤ 18 digits after the point (and |value·10^s| < 2^53).
    Compact,
    /// As `Compact`, but falls back to `Float64` for the file instead of failing.
    CompactOrFloat64,
}

/// Writer options. `Default` is the measured default: DOUBLE prices, BYTE_STREAM_SPLIT, ZSTD(1).
#[derive(Clone, Debug)]
pub struct ParquetOptions {
    pub prices: PriceEncoding,
    /// Compression of the `paths` column chunks (the scalar columns are stored uncompressed).
    pub compression: Compression,
    /// Encoding of DOUBLE prices: `BYTE_STREAM_SPLIT` or `PLAIN`. (Compact always uses
    /// DELTA_BINARY_PACKED.)
    pub float_encoding: Encoding,
    /// Row groups of the one-shot [`write`] hold at most this many CORRECT rows (plus any null
    /// rows between them). Groups encode in parallel; each CORRECT row is ~0.5 MB raw. 16 (≈ 10
    /// groups for hf-90mb) measured cheaper than 4 or 1 (fewer codec/page set-ups, slightly
    /// smaller file) while still giving both cores work.
    pub correct_rows_per_group: usize,
    /// Replace an existing file instead of failing with [`SinkError::Exists`].
    pub overwrite: bool,
    /// fsync the file (and its folder) before and after the rename.
    pub fsync: bool,
    /// Min/max statistics for `paths` (per page + column index). Off by default: the decimal
    /// scans are costly and analysts filter on the scalar columns.
    pub paths_statistics: bool,
    /// Benchmarks only: encode `paths` through the generic Arrow column writer instead of the
    /// precomputed-levels path (DOUBLE only).
    #[doc(hidden)]
    pub paths_via_arrow: bool,
    /// Benchmarks and tests only: encode DOUBLE `paths` through parquet's column writer with
    /// precomputed levels (`prices.rs`) instead of the hand-built pages (`pages.rs`).
    #[doc(hidden)]
    pub paths_via_column_writer: bool,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            prices: PriceEncoding::Float64,
            compression: Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")),
            float_encoding: Encoding::BYTE_STREAM_SPLIT,
            correct_rows_per_group: 16,
            overwrite: false,
            fsync: true,
            paths_statistics: false,
            paths_via_arrow: false,
            paths_via_column_writer: false,
        }
    }
}

impl ParquetOptions {
    /// The compact mode: decimal prices, DELTA_BINARY_PACKED, ZSTD(1).
    pub fn compact() -> Self {
        ParquetOptions { prices: PriceEncoding::Compact, ..Default::default() }
    }
}

/// Why the file was not written. Whenever one is returned, no temp file is left behind.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{0} already exists (set `overwrite` to replace it)")]
    Exists(PathBuf),
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, #[source] source: std::io::Error },
    #[error("parquet: {0}")]
    Parquet(#[from] ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    #[error("the batch does not have the output schema: {0}")]
    Schema(String),
    #[error("cannot build the partition path: {0}")]
    Partition(String),
    #[error(
        "compact prices: uid {uid}, value {index} of its slot ({value:?}) has no exact decimal form at scale {scale} (max 18 digits after the point, |value × 10^scale| < 2^53)"
    )]
    NotRepresentable { uid: u16, index: usize, value: f64, scale: u8 },
    #[error("row groups do not tile the cycle's rows: {0}")]
    RowGroups(String),
}

/// A run of consecutive rows already written into the temp file as one row group: what the footer
/// needs to list it (its metadata, with the real file offsets, and its page indexes). Small and
/// `Send`, so pool threads hand it back; [`CycleParquetWriter::finish`] lists the groups in row
/// order whatever order they were written in.
pub struct EncodedRowGroup {
    first_row: usize,
    num_rows: usize,
    meta: RowGroupMetaData,
    column_indexes: Vec<Option<ColumnIndexMetaData>>,
    offset_indexes: Vec<Option<OffsetIndexMetaData>>,
}

impl EncodedRowGroup {
    /// The rows this group holds, as positions in the cycle's (uid-sorted) output.
    pub fn rows(&self) -> Range<usize> {
        self.first_row..self.first_row + self.num_rows
    }

    /// Encoded bytes the group occupies in the file (all column chunks, compressed).
    pub fn encoded_bytes(&self) -> usize {
        self.meta.compressed_size() as usize
    }
}

/// One cycle's Parquet file in the making: fixed schema, properties and price layout; the temp
/// file is open from the start. Row groups are encoded independently ([`Self::encode_rows`],
/// `&self`, any thread, any order) and appended to the file as soon as each is done; at the end
/// ([`Self::finish`]) only the footer, listing them in row order, remains.
pub struct CycleParquetWriter {
    /// The file's Arrow schema (`paths` leaf is Float64 or Decimal128(18, s)).
    file_schema: SchemaRef,
    parquet_schema: SchemaDescPtr,
    props: WriterPropertiesPtr,
    factory: ArrowRowGroupWriterFactory,
    /// The default layout's `paths` pages, built by hand, and the schema without `paths` that the
    /// row group writer then sees (`None`: `paths` goes through parquet's column writer).
    pages: Option<(pages::PathsPages, SchemaDescPtr)>,
    /// Bytes to reserve per CORRECT price in a group's buffer (≈ 5.4 of 8 compressed; 8 and the
    /// levels uncompressed).
    reserve_per_price: usize,
    levels: Levels,
    layout: PriceLayout,
    paths_via_arrow: bool,
    rows: usize,
    final_path: PathBuf,
    out: file::TempFile,
}

impl CycleParquetWriter {
    /// Prepares the file for a cycle of `rows` rows shaped like `schema` (the batch schema from
    /// [`batch::output_schema`]), with prices stored as `layout`. `start_unix` and the request
    /// fix the partition path; the request JSON goes into the footer.
    ///
    /// The decimal scale is a property of the whole file: a live cycle must choose it before the
    /// first row group is encoded (e.g. from the asset's price grid), see [`choose_layout`].
    ///
    /// Creates the partition folder and the temp file (magic bytes written) now; an existing file
    /// without `opts.overwrite` is [`SinkError::Exists`] before any work is done. Dropping the
    /// writer without [`Self::finish`] removes the temp file.
    pub fn new(
        schema: &Schema,
        request: &CycleRequest,
        start_unix: i64,
        rows: usize,
        dir: &Path,
        layout: PriceLayout,
        opts: &ParquetOptions,
    ) -> Result<CycleParquetWriter, SinkError> {
        let (paths, points) = shape_of(schema)?;
        let leaf = match layout {
            PriceLayout::Float64 => DataType::Float64,
            PriceLayout::Decimal { scale } => DataType::Decimal128(18, scale as i8),
        };
        let expected = batch::output_schema(paths as i32, points as i32);
        if schema.fields() != expected.fields() {
            return Err(SinkError::Schema(format!(
                "expected {:?}, got {:?}",
                expected.fields(),
                schema.fields()
            )));
        }
        let file_schema = batch::schema_with_paths_leaf(leaf, paths as i32, points as i32);

        let parquet_schema: SchemaDescriptor = ArrowSchemaConverter::new().convert(&file_schema)?;
        let paths_desc = parquet_schema.column(parquet_schema.num_columns() - 1);
        let paths_col = paths_desc.path().clone();
        let si = &request.simulation_input;

        let kv = vec![
            KeyValue::new(REQUEST_KEY.into(), request.to_json()),
            KeyValue::new(ENGINE_VERSION_KEY.into(), env!("CARGO_PKG_VERSION").to_owned()),
            KeyValue::new(SCHEMA_VERSION_KEY.into(), SCHEMA_VERSION.to_owned()),
            KeyValue::new(
                PRICES_KEY.into(),
                match layout {
                    PriceLayout::Float64 => "float64".to_owned(),
                    PriceLayout::Decimal { scale } => format!("decimal(18,{scale})"),
                },
            ),
        ];
        let paths_encoding = match layout {
            PriceLayout::Float64 => opts.float_encoding,
            PriceLayout::Decimal { .. } => Encoding::DELTA_BINARY_PACKED,
        };
        // Only `paths` is compressed: the scalar columns are a few KB per file, and a codec per
        // scalar column chunk (14 per row group) costs more in context set-up than it saves.
        let mut props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::UNCOMPRESSED)
            .set_column_compression(paths_col.clone(), opts.compression)
            .set_key_value_metadata(Some(kv))
            .set_column_dictionary_enabled(paths_col.clone(), false)
            .set_column_encoding(paths_col.clone(), paths_encoding)
            .set_column_statistics_enabled(
                paths_col,
                if opts.paths_statistics { EnabledStatistics::Page } else { EnabledStatistics::None },
            )
            .build();
        add_encoded_arrow_schema_to_metadata(&file_schema, &mut props);
        let props = Arc::new(props);
        let parquet_schema = Arc::new(parquet_schema);

        // The factory only reads the schema and properties off a file writer; this one writes
        // its magic bytes to nowhere.
        let probe = SerializedFileWriter::new(std::io::sink(), parquet_schema.root_schema_ptr(), props.clone())?;
        let factory = ArrowRowGroupWriterFactory::new(&probe, file_schema.clone());
        drop(probe);

        let final_path = file::partition_path(dir, &si.asset, start_unix, si.time_length)?;
        let out = file::TempFile::create(&final_path, opts.overwrite, opts.fsync)?;
        out.append(MAGIC.to_vec())?;
        let hand_built = layout == PriceLayout::Float64
            && paths_encoding == Encoding::BYTE_STREAM_SPLIT
            && !opts.paths_statistics
            && !opts.paths_via_arrow
            && !opts.paths_via_column_writer;
        let pages = if hand_built { pages::PathsPages::new(&paths_desc, paths, points, opts.compression) } else { None };
        let pages = match pages {
            Some(pages) => {
                let mut scalar_fields: Vec<_> = file_schema.fields().iter().cloned().collect();
                scalar_fields.pop();
                Some((pages, Arc::new(ArrowSchemaConverter::new().convert(&Schema::new(scalar_fields))?)))
            }
            None => None,
        };
        Ok(CycleParquetWriter {
            levels: Levels::new(&paths_desc, paths, points),
            pages,
            reserve_per_price: if opts.compression == Compression::UNCOMPRESSED { 9 } else { 6 },
            file_schema,
            parquet_schema,
            props,
            factory,
            layout,
            paths_via_arrow: opts.paths_via_arrow && layout == PriceLayout::Float64,
            rows,
            final_path,
            out,
        })
    }

    /// Where [`Self::finish`] puts the file.
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// The file's Arrow schema (differs from the batch's only in the `paths` leaf type, in
    /// compact mode).
    pub fn file_schema(&self) -> &SchemaRef {
        &self.file_schema
    }

    /// Encodes `rows` of `batch` as one row group. `batch` row `i` is output row `i`.
    pub fn encode_rows(&self, batch: &RecordBatch, rows: Range<usize>) -> Result<EncodedRowGroup, SinkError> {
        self.encode_batch(rows.start, &batch.slice(rows.start, rows.len()))
    }

    /// Encodes a batch holding output rows `first_row..first_row + rows.num_rows()` as one row
    /// group and appends it to the temp file: the entry point for a live cycle, whose caller
    /// builds a small batch for the rows that just completed.
    ///
    /// The group is assembled in a reused buffer (the scalar chunks spliced in, the `paths` pages
    /// written in place), which goes to the file's I/O thread to be written at a reserved offset;
    /// the metadata's offsets are shifted to that offset.
    pub fn encode_batch(&self, first_row: usize, rows: &RecordBatch) -> Result<EncodedRowGroup, SinkError> {
        let n = rows.num_rows();
        let last = rows.num_columns() - 1;
        let paths = rows.column(last).as_fixed_size_list_opt().ok_or_else(|| {
            SinkError::Schema("the last column, paths, is not a fixed-size list".into())
        })?;
        // The scalar columns (and `paths` too, in the benchmark-only Arrow mode) through parquet's
        // Arrow column writers: a few KB per group.
        let mut writers = self.factory.create_column_writers(0)?;
        if !self.paths_via_arrow {
            writers.pop();
        }
        let mut chunks = Vec::with_capacity(writers.len());
        for ((field, column), mut w) in self.file_schema.fields().iter().zip(rows.columns()).zip(writers) {
            for leaf in compute_leaves(field, column)? {
                w.write(&leaf)?;
            }
            chunks.push(w.close()?);
        }

        let mut buf = self.out.buffer();
        // Room for the group at once (its prices and the scalar chunks), instead of growing
        // through doublings that each copy into fresh pages.
        let correct = n - paths.null_count();
        let slot = self.levels.slot_len();
        let need = correct * slot * self.reserve_per_price + 64 * 1024;
        if buf.capacity() < need {
            // A new buffer, not `reserve`: growing would copy the old capacity across.
            buf = Vec::with_capacity(need);
        }
        let mut sink = TrackedWrite::new(buf);
        let mut closed = None;
        // With hand-built `paths` pages, the row group writer sees only the scalar columns; the
        // pages follow them in the buffer and their chunk joins the metadata below.
        let hand = self.pages.as_ref();
        let valid: Vec<bool> = (0..n).map(|r| paths.is_valid(r)).collect();
        {
            let on_close: parquet::file::writer::OnCloseRowGroup<'_, Vec<u8>> =
                Box::new(|_, meta, _bloom, column_index, offset_index| {
                    closed = Some((meta, column_index, offset_index));
                    Ok(())
                });
            let mut rg = SerializedRowGroupWriter::new(
                hand.map_or_else(|| self.parquet_schema.clone(), |(_, scalars)| scalars.clone()),
                self.props.clone(),
                &mut sink,
                0,
                Some(on_close),
            );
            for c in chunks {
                c.append_to_row_group(&mut rg)?;
            }
            if !self.paths_via_arrow && hand.is_none() {
                let values = leaf_values(paths)?;
                let mut col = rg
                    .next_column()?
                    .ok_or_else(|| SinkError::Schema("the file schema has no paths column".into()))?;
                prices::write_paths(col.untyped(), self.layout, &self.levels, values, &valid).map_err(|e| match e {
                    EncodeError::Parquet(e) => SinkError::Parquet(e),
                    EncodeError::NotRepresentable { row, index, value, scale } => {
                        SinkError::NotRepresentable { uid: uid_at(rows, row), index, value, scale }
                    }
                })?;
                col.close()?;
            }
            rg.close()?;
        }
        let (mut meta, mut column_indexes, mut offset_indexes) =
            closed.ok_or_else(|| SinkError::RowGroups("the row group writer did not report its metadata".into()))?;
        if let Some((pages, _)) = hand {
            let chunk = pages.write(&mut sink, leaf_values(paths)?, &valid)?;
            let total = meta.total_byte_size() + chunk.metadata.uncompressed_size();
            let mut columns = meta.into_builder().take_columns();
            columns.push(chunk.metadata);
            meta = RowGroupMetaData::builder(self.parquet_schema.clone())
                .set_num_rows(n as i64)
                .set_total_byte_size(total)
                .set_column_metadata(columns)
                .build()?;
            column_indexes.push(None);
            offset_indexes.push((!self.props.offset_index_disabled()).then_some(chunk.offset_index));
        }
        let at = self.out.append(sink.into_inner()?)?;

        let by = at as i64;
        for oi in offset_indexes.iter_mut().flatten() {
            for page in &mut oi.page_locations {
                page.offset += by;
            }
        }
        let mut builder = meta.into_builder();
        let columns = builder
            .take_columns()
            .into_iter()
            .map(|c| {
                let data = c.data_page_offset() + by;
                let dict = c.dictionary_page_offset().map(|o| o + by);
                c.into_builder().set_data_page_offset(data).set_dictionary_page_offset(dict).build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let meta = builder.set_column_metadata(columns).set_file_offset(by).build()?;
        Ok(EncodedRowGroup { first_row, num_rows: n, meta, column_indexes, offset_indexes })
    }

    /// Writes the footer listing `groups` (any order; they must tile rows `0..rows` exactly) in
    /// row order, fsyncs and moves the file into place. Returns the final path. The row groups'
    /// bytes are already in the file (and, with `fsync`, mostly on disk already).
    pub fn finish(self, mut groups: Vec<EncodedRowGroup>) -> Result<PathBuf, SinkError> {
        groups.sort_by_key(|g| g.first_row);
        let mut next = 0;
        for g in &groups {
            if g.first_row != next {
                return Err(SinkError::RowGroups(format!("expected a group at row {next}, got rows {:?}", g.rows())));
            }
            next += g.num_rows;
        }
        if next != self.rows {
            return Err(SinkError::RowGroups(format!("groups cover {next} rows, the cycle has {}", self.rows)));
        }

        let columns = self.parquet_schema.num_columns();
        let mut index = PageIndexBuilder::new(groups.len(), columns);
        let mut row_groups = Vec::with_capacity(groups.len());
        for (i, g) in groups.into_iter().enumerate() {
            for (c, ci) in g.column_indexes.into_iter().enumerate() {
                if let Some(ci) = ci {
                    index.put_column_index(ci, i, c);
                }
            }
            if !self.props.offset_index_disabled() {
                for (c, oi) in g.offset_indexes.into_iter().enumerate() {
                    if let Some(oi) = oi {
                        index.put_offset_index(oi, i, c);
                    }
                }
            }
            let ordinal = i32::try_from(i).map_err(|_| SinkError::RowGroups("more than 2^31 row groups".into()))?;
            row_groups.push(g.meta.into_builder().set_ordinal(ordinal).build()?);
        }
        let num_rows = row_groups.iter().map(|g| g.num_rows()).sum();
        let file_meta = FileMetaData::new(
            self.props.writer_version().as_num(),
            num_rows,
            Some(self.props.created_by().to_owned()),
            self.props.key_value_metadata().cloned(),
            self.parquet_schema.clone(),
            None,
        );
        let meta = ParquetMetaDataBuilder::new(file_meta)
            .set_row_groups(row_groups)
            .set_page_index(Some(Arc::new(index.build())))
            .build();

        // The footer's page-index offsets are positions in the file, so its writer must count
        // from where the footer starts: the bytes before it are counted, not kept.
        let at = self.out.len();
        let mut footer = Positioned { skip: at, bytes: Vec::new() };
        {
            let mut tracked = TrackedWrite::new(&mut footer);
            let zeros = [0u8; 1 << 16];
            let mut left = at;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                tracked.write_all(&zeros[..n]).map_err(ParquetError::from)?;
                left -= n as u64;
            }
            ParquetMetaDataWriter::new_with_tracked(tracked, &meta)
                .with_write_path_in_schema(self.props.write_path_in_schema())
                .with_preserve_page_index_locations(false)
                .finish()?;
        }
        self.out.append(footer.bytes)?;
        self.out.commit()?;
        Ok(self.final_path)
    }
}

/// The 4 bytes a Parquet file starts with (and its footer ends with).
const MAGIC: &[u8; 4] = b"PAR1";

/// A writer that counts the first `skip` bytes without keeping them, then keeps the rest.
struct Positioned {
    skip: u64,
    bytes: Vec<u8>,
}

impl Write for Positioned {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let dropped = (self.skip.min(buf.len() as u64)) as usize;
        self.skip -= dropped as u64;
        self.bytes.extend_from_slice(&buf[dropped..]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The compact layout's scale for these rows, or `None` (compact impossible). Scans every valid
/// row of `paths` on the current rayon pool.
pub fn choose_layout(batch: &RecordBatch, encoding: PriceEncoding) -> Result<PriceLayout, SinkError> {
    if encoding == PriceEncoding::Float64 {
        return Ok(PriceLayout::Float64);
    }
    let paths = batch
        .column(batch.num_columns() - 1)
        .as_fixed_size_list_opt()
        .ok_or_else(|| SinkError::Schema("the last column, paths, is not a fixed-size list".into()))?;
    let values = leaf_values(paths)?;
    let slot = if paths.is_empty() { 0 } else { values.len() / paths.len() };
    let per_row: Vec<Result<u8, (usize, usize)>> = (0..paths.len())
        .into_par_iter()
        .filter(|&r| paths.is_valid(r))
        .map(|r| prices::min_scale(&values[r * slot..(r + 1) * slot], 0).map_err(|i| (r, i)))
        .collect();
    let mut scale = 0;
    for res in per_row {
        match res {
            Ok(s) => scale = scale.max(s),
            Err((row, index)) => {
                if encoding == PriceEncoding::CompactOrFloat64 {
                    return Ok(PriceLayout::Float64);
                }
                return Err(SinkError::NotRepresentable {
                    uid: uid_at(batch, row),
                    index,
                    value: values[row * slot + index],
                    scale: prices::MAX_SCALE,
                });
            }
        }
    }
    Ok(PriceLayout::Decimal { scale })
}

/// Writes the whole batch as one file (one-shot): chooses the layout, encodes row groups of at
/// most `opts.correct_rows_per_group` CORRECT rows in parallel on the decode pool, splices them
/// in order. Returns the file's path.
pub fn write(
    batch: &RecordBatch,
    request: &CycleRequest,
    dir: &Path,
    opts: &ParquetOptions,
) -> Result<PathBuf, SinkError> {
    let pool = crate::pool::decode_pool();
    let layout = pool.install(|| choose_layout(batch, opts.prices))?;
    let start_unix = match batch.column_by_name(batch::col::START_TIME) {
        Some(c) if !c.is_empty() => c
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(|| SinkError::Schema("start_time is not a µs timestamp".into()))?
            .value(0)
            .div_euclid(1_000_000),
        _ => request.shape().map_err(|e| SinkError::Partition(e.to_string()))?.start_unix,
    };
    let writer = CycleParquetWriter::new(&batch.schema(), request, start_unix, batch.num_rows(), dir, layout, opts)?;
    let paths = batch.column(batch.num_columns() - 1).as_fixed_size_list();
    let valid: Vec<bool> = (0..batch.num_rows()).map(|r| paths.is_valid(r)).collect();
    let groups = plan_row_groups(&valid, opts.correct_rows_per_group);
    let encoded: Vec<EncodedRowGroup> = pool.install(|| {
        groups
            .into_par_iter()
            .with_max_len(1)
            .map(|r| writer.encode_rows(batch, r))
            .collect::<Result<_, _>>()
    })?;
    writer.finish(encoded)
}

/// Splits rows into consecutive runs holding at most `max_correct` valid rows each (null rows are
/// nearly free to encode, so they ride along with the next valid ones).
pub fn plan_row_groups(valid: &[bool], max_correct: usize) -> Vec<Range<usize>> {
    let max_correct = max_correct.max(1);
    if valid.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let (mut start, mut count) = (0, 0);
    for (i, &v) in valid.iter().enumerate() {
        if v {
            if count == max_correct {
                out.push(start..i);
                start = i;
                count = 0;
            }
            count += 1;
        }
    }
    out.push(start..valid.len());
    out
}

/// The `f64` leaf values under a (possibly sliced) `paths` array.
fn leaf_values(paths: &FixedSizeListArray) -> Result<&[f64], SinkError> {
    let inner = paths
        .values()
        .as_fixed_size_list_opt()
        .ok_or_else(|| SinkError::Schema("a path is not a fixed-size list".into()))?;
    let leaf = inner
        .values()
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| SinkError::Schema("prices are not float64".into()))?;
    if leaf.null_count() > 0 || inner.null_count() > 0 {
        return Err(SinkError::Schema("paths has null children".into()));
    }
    Ok(leaf.values())
}

fn shape_of(schema: &Schema) -> Result<(usize, usize), SinkError> {
    let bad = || SinkError::Schema("the last column must be paths: FixedSizeList<FixedSizeList<Float64>>".into());
    let f = schema.fields().last().ok_or_else(bad)?;
    let DataType::FixedSizeList(path, paths) = f.data_type() else { return Err(bad()) };
    let DataType::FixedSizeList(value, points) = path.data_type() else { return Err(bad()) };
    if f.name() != batch::col::PATHS || value.data_type() != &DataType::Float64 {
        return Err(bad());
    }
    Ok((*paths as usize, *points as usize))
}

fn uid_at(batch: &RecordBatch, row: usize) -> u16 {
    batch
        .column_by_name(batch::col::UID)
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::UInt16Type>().map(|a| a.value(row)))
        .unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_hold_at_most_n_valid_rows() {
        let v = [false, true, true, false, true, false, false, true, true, false];
        assert_eq!(plan_row_groups(&v, 2), vec![0..4, 4..8, 8..10]);
        assert_eq!(plan_row_groups(&v, 100), vec![0..10]);
        assert!(plan_row_groups(&[], 4).is_empty());
        assert_eq!(plan_row_groups(&[false, false], 1), vec![0..2]);
        assert_eq!(plan_row_groups(&[true, true], 1), vec![0..1, 1..2]);
    }
}
