//! The Parquet sink: decoded rows (or a whole record batch) → one Parquet file at
//! `DIR/layout-2/<table>/asset=<asset>/date=<YYYY-MM-DD>/<start_unix>.parquet`, one folder per
//! [`Table`] (prompt, path count and price type: one Arrow schema), so a dataset reader opens a
//! table's folder whole.
//!
//! In: the cycle's rows as they are decoded ([`crate::columns::Rows`]), or its `RecordBatch`
//! (schema [`crate::batch::output_schema`]), and the request. Out: the file, written under a temp
//! name in the same folder, fsync'd and renamed into place, so a reader never sees half of it.
//!
//! Files: `options.rs` (what to write), `writer.rs` (schema, properties, one row group at a time),
//! `pages.rs` (the default `paths` pages, built by hand), `prices.rs` (the other layouts, through
//! parquet's column writer), `footer.rs` (footer and move into place), `layout.rs` (compact scale,
//! row-group plan), `file.rs` (table and partition path, temp file, I/O thread, rename).
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
//! file into place. [`ParquetSink`] drives it as rows arrive; the one-shot [`write`] runs it over
//! a whole batch on the current rayon pool.
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
//! - [`PriceEncoding::Float32`]: FLOAT, each price the f64 rounded to the nearest f32, through the
//!   same hand-built pages (four byte streams), streamed like the default.
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
//! | float32: FLOAT, BSS + ZSTD(1), hand-built pages (a later run: float64 122, compact 171) | 2.13 | 65 |
//!
//! `cargo bench --bench parquet_write -- --warm-up-time 1 --measurement-time 3`

mod file;
mod footer;
mod layout;
mod options;
pub mod pages;
pub mod prices;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::error::ArrowError;
use parquet::errors::ParquetError;

pub use file::{LAYOUT_VERSION, Table, hive_partitions, partition_path};
pub use layout::{choose_layout, plan_row_groups};
pub use options::{ParquetOptions, PriceEncoding};
pub use prices::PriceLayout;
pub use writer::{CycleParquetWriter, EncodedRowGroup};

use crate::batch;
use crate::request::{CycleRequest, CycleShape};
use crate::sink::{self, CycleInfo, Rows, Sink};

/// File key-value metadata: the cycle request JSON.
pub const REQUEST_KEY: &str = "synth.request";
/// File key-value metadata: the engine (crate) version that wrote the file.
pub const ENGINE_VERSION_KEY: &str = "synth.engine.version";
/// File key-value metadata: the verdict rules the cycle was judged by (`v2` or `v3`).
pub const RULES_KEY: &str = "synth.rules";
/// File key-value metadata: how `paths` is stored (`float64`, `float32` or `decimal(18,<scale>)`).
pub const PRICES_KEY: &str = "synth.prices.encoding";
/// File key-value metadata: the folder layout's version ([`LAYOUT_VERSION`]).
pub const LAYOUT_KEY: &str = "synth.layout";
/// File key-value metadata: the file's table ([`Table::name`]), the folder it sits in.
pub const TABLE_KEY: &str = "synth.table";

/// Why the file was not written. Whenever one is returned, no temp file is left behind.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{0} already exists (set `overwrite` to replace it)")]
    Exists(PathBuf),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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

/// The Parquet sink: the cycle's rows → one file in its table's hive-partitioned folder.
///
/// With float64 (the default) or float32 prices the file is opened at [`Sink::start`] (an
/// existing file is refused before any miner is asked), each row is encoded as its own row group
/// the moment it is decoded, on the decoding thread, and appended; [`Sink::finish`] writes the
/// footer and renames.
/// Compact prices need the whole cycle's decimal scale before the first group, so in that mode the
/// sink asks for the cycle's batch and writes it at `finish` ([`write`]).
///
/// One row per group, whatever the source, written in the order the source handed the rows over
/// ([`Rows::seq`]: a live cycle's arrival order, which its recording keeps), so a live cycle and
/// the replay of its recording write the same bytes (one-row groups are ≈ 4 % larger than 16-row
/// ones: `schemas/output.md`).
pub struct ParquetSink {
    dir: PathBuf,
    opts: ParquetOptions,
    request: Option<CycleRequest>,
    streaming: Option<CycleParquetWriter>,
    groups: Mutex<Vec<EncodedRowGroup>>,
    written: Option<sink::WrittenFile>,
}

impl ParquetSink {
    /// A sink writing under `dir` (hive layout below it).
    pub fn new(dir: impl Into<PathBuf>, opts: ParquetOptions) -> ParquetSink {
        ParquetSink {
            dir: dir.into(),
            opts,
            request: None,
            streaming: None,
            groups: Mutex::new(Vec::new()),
            written: None,
        }
    }

    /// Tells `to` the file's path once it is written (a later sink's retries read it).
    pub fn announce(mut self, to: sink::WrittenFile) -> ParquetSink {
        self.written = Some(to);
        self
    }

    /// The one place a cycle's file is opened.
    fn open(
        &self,
        request: &CycleRequest,
        shape: CycleShape,
        rows: usize,
        layout: PriceLayout,
    ) -> Result<CycleParquetWriter, SinkError> {
        let schema = batch::output_schema(shape.paths as i32, shape.points as i32);
        CycleParquetWriter::new(&schema, request, shape.start_unix, rows, &self.dir, layout, &self.opts)
    }

    /// The whole batch as one file: chooses the layout, encodes row groups of at most
    /// `opts.correct_rows_per_group` CORRECT rows in parallel on the current rayon pool, writes
    /// the footer and renames.
    fn write_batch(&self, batch: &RecordBatch, request: &CycleRequest) -> Result<PathBuf, SinkError> {
        let layout = choose_layout(batch, self.opts.prices)?;
        let mut shape = request.shape().map_err(|e| SinkError::Partition(e.to_string()))?;
        if let Some(c) = batch.column_by_name(batch::col::START_TIME).filter(|c| !c.is_empty()) {
            shape.start_unix = c
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(|| SinkError::Schema("start_time is not a µs timestamp".into()))?
                .value(0)
                .div_euclid(1_000_000);
        }
        let writer = self.open(request, shape, batch.num_rows(), layout)?;
        let paths = batch.column(batch.num_columns() - 1).as_fixed_size_list();
        let valid: Vec<bool> = (0..batch.num_rows()).map(|r| paths.is_valid(r)).collect();
        let groups = plan_row_groups(&valid, self.opts.correct_rows_per_group);
        // Every thread of the pool takes the next group in order, so they finish nearly in order
        // and the I/O thread, which writes them in order, holds few early ones.
        let next = AtomicUsize::new(0);
        let encoded = Mutex::new(Vec::with_capacity(groups.len()));
        rayon::broadcast(|_| {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let Some(rows) = groups.get(seq) else { break };
                let group = writer.encode_rows(seq, batch, rows.clone());
                encoded.lock().unwrap_or_else(|p| p.into_inner()).push(group);
            }
        });
        let encoded = encoded.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().collect::<Result<_, _>>()?;
        writer.finish(encoded)
    }
}

impl Sink for ParquetSink {
    fn name(&self) -> &'static str {
        "parquet"
    }

    fn start(&mut self, cycle: &CycleInfo<'_>) -> Result<(), sink::Error> {
        let request = in_uid_order(cycle.request);
        if let Some(layout) = self.opts.prices.streaming_layout() {
            self.streaming = Some(self.open(&request, cycle.shape, cycle.rows(), layout)?);
        }
        self.request = Some(request);
        Ok(())
    }

    fn needs_batch(&self) -> bool {
        self.opts.prices.streaming_layout().is_none()
    }

    fn rows(&self, rows: &Rows<'_>) -> Result<(), sink::Error> {
        if let (Some(w), Some(request)) = (&self.streaming, &self.request) {
            let group = w.encode_view(rows.seq, rows, request)?;
            self.groups.lock().unwrap_or_else(|p| p.into_inner()).push(group);
        }
        Ok(())
    }

    fn finish(self: Box<Self>, batch: Option<&RecordBatch>) -> Result<serde_json::Value, sink::Error> {
        let written = self.written.clone();
        let path = if self.streaming.is_some() {
            let ParquetSink { streaming, groups, .. } = *self;
            let groups = groups.into_inner().unwrap_or_else(|p| p.into_inner());
            streaming.ok_or("no file open")?.finish(groups)?
        } else {
            let request = self.request.as_ref().ok_or("the sink was never started")?;
            self.write_batch(batch.ok_or("compact prices need the cycle's batch")?, request)?
        };
        if let Some(w) = written {
            w.set(path.clone());
        }
        Ok(serde_json::Value::String(path.to_string_lossy().into_owned()))
    }
}

/// Writes a whole batch as one file (one-shot), on the current rayon pool: what the sink does at
/// `finish` in compact mode, for tools and benches that hold a batch. Returns the file's path.
pub fn write(
    batch: &RecordBatch,
    request: &CycleRequest,
    dir: &Path,
    opts: &ParquetOptions,
) -> Result<PathBuf, SinkError> {
    ParquetSink::new(dir, opts.clone()).write_batch(batch, &in_uid_order(request))
}

/// The request as the file's footer keeps it: axons in uid order, like the rows. (A live cycle
/// records its axons in the order their calls ended; the file must not depend on that order.)
fn in_uid_order(request: &CycleRequest) -> CycleRequest {
    let mut request = request.clone();
    request.axons.sort_by_key(|a| a.uid);
    request.rules = Some(request.rules());
    request
}
