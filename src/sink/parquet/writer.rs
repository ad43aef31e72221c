//! One cycle's Parquet file in the making: schema, properties, row groups encoded and appended.
//!
//! In: the cycle's shape, request and options, then runs of consecutive output rows (a [`Rows`]
//! view straight from a decoding thread, or a slice of a record batch). Out: each run encoded
//! as one row group and handed to the temp file's I/O thread, and an [`EncodedRowGroup`] (its
//! metadata with real offsets) for the footer (`footer.rs`).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Schema, SchemaRef};
use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::{KeyValue, RowGroupMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesPtr, WriterVersion};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter, TrackedWrite};
use parquet::schema::types::{SchemaDescPtr, SchemaDescriptor};

use super::footer::MAGIC;
use super::prices::{self, EncodeError, Levels, PriceLayout};
use super::{
    ENGINE_VERSION_KEY, LAYOUT_KEY, PRICES_KEY, ParquetOptions, REQUEST_KEY, RULES_KEY, SinkError, TABLE_KEY, file,
    pages,
};
use crate::batch::{self, SCHEMA_VERSION, SCHEMA_VERSION_KEY};
use crate::columns::Rows;
use crate::request::CycleRequest;

/// A run of consecutive rows already written into the temp file as one row group: what the footer
/// needs to list it (its metadata, with the real file offsets, and its page indexes). Small and
/// `Send`, so pool threads hand it back; [`CycleParquetWriter::finish`] lists the groups in row
/// order whatever order they were written in.
pub struct EncodedRowGroup {
    /// Its place among the file's appends (the footer looks its offset up by it).
    pub(super) seq: usize,
    pub(super) first_row: usize,
    pub(super) num_rows: usize,
    pub(super) meta: RowGroupMetaData,
    pub(super) column_indexes: Vec<Option<ColumnIndexMetaData>>,
    pub(super) offset_indexes: Vec<Option<OffsetIndexMetaData>>,
}

impl EncodedRowGroup {
    /// The rows this group holds, as positions in the cycle's (uid-sorted) output.
    pub fn rows(&self) -> Range<usize> {
        self.first_row..self.first_row + self.num_rows
    }
}

/// One row group's input to [`CycleParquetWriter::encode_group`].
struct Group<'a> {
    /// Its place among the file's groups.
    seq: usize,
    /// The output row of its first row.
    first_row: usize,
    /// Every column but `paths`.
    scalars: &'a [ArrayRef],
    /// `paths` as an array of the file's type (the Arrow writer's path: benchmarks, empty lists).
    paths_column: Option<ArrayRef>,
    /// The group's `valid.len() × slot` prices, a row's meaningful only where `valid`.
    values: &'a [f64],
    valid: &'a [bool],
}

/// One cycle's Parquet file in the making: fixed schema, properties and price layout; the temp
/// file is open from the start. Row groups are encoded independently ([`Self::encode_rows`],
/// `&self`, any thread, any order) and appended to the file as soon as each is done; at the end
/// ([`Self::finish`]) only the footer, listing them in row order, remains.
pub struct CycleParquetWriter {
    /// The file's Arrow schema (`paths` leaf is Float64, Float32 or Decimal128(18, s)).
    pub(super) file_schema: SchemaRef,
    pub(super) parquet_schema: SchemaDescPtr,
    pub(super) props: WriterPropertiesPtr,
    pub(super) factory: ArrowRowGroupWriterFactory,
    /// The same over every column but `paths`.
    pub(super) scalar_factory: ArrowRowGroupWriterFactory,
    /// The float layouts' `paths` pages, built by hand, and the schema without `paths` that the
    /// row group writer then sees (`None`: `paths` goes through parquet's column writer).
    pub(super) pages: Option<(pages::PathsPages, SchemaDescPtr)>,
    /// Bytes to reserve per CORRECT price in a group's buffer (DOUBLE: ≈ 5.4 of 8 compressed, 8
    /// and the levels uncompressed; FLOAT: about half).
    pub(super) reserve_per_price: usize,
    pub(super) levels: Levels,
    pub(super) layout: PriceLayout,
    pub(super) paths_via_arrow: bool,
    pub(super) rows: usize,
    pub(super) final_path: PathBuf,
    pub(super) out: file::TempFile,
}

impl CycleParquetWriter {
    /// Prepares the file for a cycle of `rows` rows shaped like `schema` (the batch schema from
    /// [`batch::output_schema`]), with prices stored as `layout`. The request and `layout` fix the
    /// file's table ([`file::Table`]), `start_unix` its partition; the request JSON goes into the
    /// footer.
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
            PriceLayout::Float32 => DataType::Float32,
            PriceLayout::Decimal { scale } => DataType::Decimal128(18, scale as i8),
        };
        let expected = batch::output_schema(paths as i32, points as i32);
        if schema.fields() != expected.fields() {
            return Err(SinkError::Schema(format!("expected {:?}, got {:?}", expected.fields(), schema.fields())));
        }
        let file_schema = batch::schema_with_paths_leaf(leaf, paths as i32, points as i32);

        let parquet_schema: SchemaDescriptor = ArrowSchemaConverter::new().convert(&file_schema)?;
        let paths_desc = parquet_schema.column(parquet_schema.num_columns() - 1);
        let paths_col = paths_desc.path().clone();
        let si = &request.simulation_input;
        let table = file::Table::new(si, layout);

        let kv = vec![
            KeyValue::new(REQUEST_KEY.into(), request.to_json()),
            KeyValue::new(RULES_KEY.into(), request.rules().as_str().to_owned()),
            KeyValue::new(ENGINE_VERSION_KEY.into(), env!("CARGO_PKG_VERSION").to_owned()),
            KeyValue::new(SCHEMA_VERSION_KEY.into(), SCHEMA_VERSION.to_owned()),
            KeyValue::new(PRICES_KEY.into(), layout.encoding_name()),
            KeyValue::new(LAYOUT_KEY.into(), file::LAYOUT_VERSION.to_string()),
            KeyValue::new(TABLE_KEY.into(), table.name()),
        ];
        let float = matches!(layout, PriceLayout::Float64 | PriceLayout::Float32);
        let paths_encoding = if float { opts.float_encoding } else { Encoding::DELTA_BINARY_PACKED };
        // Only `paths` is compressed: the scalar columns are a few KB per file, and a codec per
        // scalar column chunk (14 per row group) costs more in context set-up than it saves.
        let mut props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::UNCOMPRESSED)
            // Nor dictionary-encoded: a group holds one row (a miner), so a dictionary never pays,
            // and each column writer would build its hash table for every group.
            .set_dictionary_enabled(false)
            // Chunk statistics (min/max per group: with a row per group, a reader skips groups by
            // uid, verdict or time) without a column index, which would repeat them per page.
            .set_statistics_enabled(EnabledStatistics::Chunk)
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

        // A factory only reads the schema and properties off a file writer; these write their
        // magic bytes to nowhere.
        let factory_for = |schema: &SchemaDescPtr, arrow: SchemaRef| -> Result<_, SinkError> {
            let probe = SerializedFileWriter::new(std::io::sink(), schema.root_schema_ptr(), props.clone())?;
            Ok(ArrowRowGroupWriterFactory::new(&probe, arrow))
        };
        let factory = factory_for(&parquet_schema, file_schema.clone())?;
        // Writers for the scalar columns alone: making `paths`'s writer for every group only to
        // drop it built a ZSTD context each time (with one-row groups, ≈ 4 % of a replay's CPU in
        // ZSTD_createCCtx/DCtx and the fresh pages they fault in; perf).
        let scalar_fields = file_schema.fields()[..file_schema.fields().len() - 1].to_vec();
        let scalar_arrow = Arc::new(Schema::new(scalar_fields));
        let scalar_parquet = Arc::new(ArrowSchemaConverter::new().convert(&scalar_arrow)?);
        let scalar_factory = factory_for(&scalar_parquet, scalar_arrow)?;

        let final_path = file::partition_path(dir, &table, &si.asset, start_unix)?;
        let out = file::TempFile::create(&final_path, opts.overwrite, opts.fsync, MAGIC)?;
        // A cycle of 0 simulations (or points) has empty lists, which only parquet's Arrow writer
        // levels: its rows go that way (there are no prices to copy).
        let empty = paths * points == 0;
        let hand_built = !empty
            && float
            && paths_encoding == Encoding::BYTE_STREAM_SPLIT
            && !opts.paths_statistics
            && !opts.via_arrow()
            && !opts.via_column_writer();
        let pages =
            if hand_built { pages::PathsPages::new(&paths_desc, paths, points, opts.compression) } else { None };
        let pages = pages.map(|pages| (pages, scalar_parquet));
        Ok(CycleParquetWriter {
            levels: Levels::new(&paths_desc, paths, points),
            pages,
            reserve_per_price: match (layout, opts.compression) {
                (PriceLayout::Float32, Compression::UNCOMPRESSED) => 5,
                (PriceLayout::Float32, _) => 3,
                (_, Compression::UNCOMPRESSED) => 9,
                _ => 6,
            },
            file_schema,
            parquet_schema,
            props,
            factory,
            scalar_factory,
            layout,
            paths_via_arrow: (opts.via_arrow() || empty) && float,
            rows,
            final_path,
            out,
        })
    }

    /// Encodes `rows` of `batch` as one row group. `batch` row `i` is output row `i`.
    pub fn encode_rows(
        &self,
        seq: usize,
        batch: &RecordBatch,
        rows: Range<usize>,
    ) -> Result<EncodedRowGroup, SinkError> {
        self.encode_batch(seq, rows.start, &batch.slice(rows.start, rows.len()))
    }

    /// Encodes a batch holding output rows `first_row..first_row + rows.num_rows()` as one row
    /// group and appends it to the temp file (a one-shot write's groups, cut from the cycle's
    /// batch).
    pub fn encode_batch(&self, seq: usize, first_row: usize, rows: &RecordBatch) -> Result<EncodedRowGroup, SinkError> {
        let n = rows.num_rows();
        let last = rows.num_columns() - 1;
        let paths = rows
            .column(last)
            .as_fixed_size_list_opt()
            .ok_or_else(|| SinkError::Schema("the last column, paths, is not a fixed-size list".into()))?;
        let valid: Vec<bool> = (0..n).map(|r| paths.is_valid(r)).collect();
        let paths_column = match self.paths_via_arrow {
            true => Some(self.as_file_paths(rows.column(last).clone())?),
            false => None,
        };
        let uid_of = |row| uid_at(rows, row);
        let values = leaf_values(paths)?;
        let group = Group { seq, first_row, scalars: &rows.columns()[..last], paths_column, values, valid: &valid };
        self.encode_group(group, uid_of)
    }

    /// Encodes decoded rows as one row group straight from where they were decoded (a [`Rows`]
    /// view, the decoding thread's scratch): the scalar columns are built small, the prices are
    /// read in place, never copied into an Arrow array first.
    pub fn encode_view(
        &self,
        seq: usize,
        rows: &Rows<'_>,
        request: &CycleRequest,
    ) -> Result<EncodedRowGroup, SinkError> {
        let scalars = batch::scalar_columns(rows, request)?;
        let valid: Vec<bool> = rows.verdict.iter().map(|v| v.is_correct()).collect();
        // The benchmark-only Arrow mode needs `paths` as an array: a copy, outside production.
        let paths_column = match self.paths_via_arrow {
            true => {
                let mask = batch::correct_mask(rows.verdict);
                Some(self.as_file_paths(batch::paths_array(rows.shape, rows.len(), rows.prices.to_vec(), mask)?)?)
            }
            false => None,
        };
        let (values, valid) = (rows.prices, &valid);
        let group = Group { seq, first_row: rows.first, scalars: &scalars, paths_column, values, valid };
        self.encode_group(group, |row| rows.uid[row])
    }

    /// A float64 `paths` array as the file stores it: itself, or cast to float32 (Arrow's cast
    /// rounds like `as f32`). Only the Arrow writer's path needs it (benchmarks, empty lists).
    fn as_file_paths(&self, paths: ArrayRef) -> Result<ArrayRef, SinkError> {
        let file_type = self.file_schema.field(self.file_schema.fields().len() - 1).data_type();
        if paths.data_type() == file_type { Ok(paths) } else { Ok(arrow::compute::cast(&paths, file_type)?) }
    }

    /// The one row-group encoder. The group is assembled in a reused buffer (the scalar chunks
    /// spliced in, the `paths` pages written in place), which goes to the file's I/O thread to be
    /// written as the file's `seq`-th group (0, 1, 2, … without gaps: the file holds the groups in
    /// `seq` order, whichever thread finishes first); its metadata's offsets stay relative to the
    /// group's start until the footer knows where it landed. `uid_of(row)` names a row in errors.
    fn encode_group(&self, group: Group<'_>, uid_of: impl Fn(usize) -> u16) -> Result<EncodedRowGroup, SinkError> {
        let Group { seq, first_row, scalars, paths_column, values, valid } = group;
        let n = valid.len();
        // The scalar columns (and `paths` too, in the benchmark-only Arrow mode) through parquet's
        // Arrow column writers: a few KB per group.
        let writers = match self.paths_via_arrow {
            true => self.factory.create_column_writers(0)?,
            false => self.scalar_factory.create_column_writers(0)?,
        };
        let mut chunks = Vec::with_capacity(writers.len());
        let columns = scalars.iter().chain(paths_column.as_ref());
        for ((field, column), mut w) in self.file_schema.fields().iter().zip(columns).zip(writers) {
            for leaf in compute_leaves(field, column)? {
                w.write(&leaf)?;
            }
            chunks.push(w.close()?);
        }

        let mut buf = self.out.buffer();
        // Room for the group at once (its prices and the scalar chunks), instead of growing
        // through doublings that each copy into fresh pages.
        let correct = valid.iter().filter(|v| **v).count();
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
                let mut col =
                    rg.next_column()?.ok_or_else(|| SinkError::Schema("the file schema has no paths column".into()))?;
                prices::write_paths(col.untyped(), self.layout, &self.levels, values, valid).map_err(|e| match e {
                    EncodeError::Parquet(e) => SinkError::Parquet(e),
                    EncodeError::NotRepresentable { row, index, value, scale } => {
                        SinkError::NotRepresentable { uid: uid_of(row), index, value, scale }
                    }
                })?;
                col.close()?;
            }
            rg.close()?;
        }
        let (mut meta, mut column_indexes, mut offset_indexes) =
            closed.ok_or_else(|| SinkError::RowGroups("the row group writer did not report its metadata".into()))?;
        if let Some((pages, _)) = hand {
            let chunk = pages.write(&mut sink, values, valid)?;
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
        // Offsets stay relative to the group's start until the footer knows where it landed.
        self.out.append(seq, sink.into_inner()?)?;
        Ok(EncodedRowGroup { seq, first_row, num_rows: n, meta, column_indexes, offset_indexes })
    }
}

/// The `f64` leaf values under a (possibly sliced) `paths` array.
pub(super) fn leaf_values(paths: &FixedSizeListArray) -> Result<&[f64], SinkError> {
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

pub(super) fn shape_of(schema: &Schema) -> Result<(usize, usize), SinkError> {
    let bad = || SinkError::Schema("the last column must be paths: FixedSizeList<FixedSizeList<Float64>>".into());
    let f = schema.fields().last().ok_or_else(bad)?;
    let DataType::FixedSizeList(path, paths) = f.data_type() else { return Err(bad()) };
    let DataType::FixedSizeList(value, points) = path.data_type() else { return Err(bad()) };
    if f.name() != batch::col::PATHS || value.data_type() != &DataType::Float64 {
        return Err(bad());
    }
    Ok((*paths as usize, *points as usize))
}

pub(super) fn uid_at(batch: &RecordBatch, row: usize) -> u16 {
    batch
        .column_by_name(batch::col::UID)
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::UInt16Type>().map(|a| a.value(row)))
        .unwrap_or(u16::MAX)
}
