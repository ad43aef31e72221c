//! What a Parquet sink is asked to write: the price encoding and the writer's knobs.
//!
//! In: the CLI's flags or a library caller's choice. Out: [`ParquetOptions`], read by the writer
//! ([`super::CycleParquetWriter`]) and the sink.

use parquet::basic::{Compression, Encoding, ZstdLevel};

use super::PriceLayout;

/// How the `paths` prices are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PriceEncoding {
    /// DOUBLE: lossless, float64 in every reader.
    #[default]
    Float64,
    /// FLOAT: each price rounded to the nearest float32 (`p as f32`, ties to even), the value
    /// upstream's Bigtable backend stores; half the bytes of `Float64`, not lossless.
    Float32,
    /// INT64 DECIMAL(18, s), DELTA_BINARY_PACKED; lossless by construction, error if a CORRECT
    /// price has no exact decimal form with ≤ 18 digits after the point (and |value·10^s| < 2^53).
    Compact,
    /// As `Compact`, but falls back to `Float64` for the file instead of failing.
    CompactOrFloat64,
}

impl PriceEncoding {
    /// The layout of a mode that knows it before the first price (`Float64`, `Float32`): those
    /// stream, a row group per row as it is decoded. `None` for the decimal modes, whose scale
    /// depends on every price of the cycle.
    pub fn streaming_layout(self) -> Option<PriceLayout> {
        match self {
            PriceEncoding::Float64 => Some(PriceLayout::Float64),
            PriceEncoding::Float32 => Some(PriceLayout::Float32),
            PriceEncoding::Compact | PriceEncoding::CompactOrFloat64 => None,
        }
    }
}

/// Writer options. `Default` is the measured default: DOUBLE prices, BYTE_STREAM_SPLIT, ZSTD(1).
#[derive(Clone, Debug)]
pub struct ParquetOptions {
    pub prices: PriceEncoding,
    /// Compression of the `paths` column chunks (the scalar columns are stored uncompressed).
    pub compression: Compression,
    /// Encoding of DOUBLE and FLOAT prices: `BYTE_STREAM_SPLIT` or `PLAIN`. (Compact always uses
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
    /// Benchmarks only (feature `internals`): encode `paths` through the generic Arrow column
    /// writer instead of the precomputed-levels path (DOUBLE and FLOAT only).
    #[cfg(feature = "internals")]
    pub paths_via_arrow: bool,
    /// Benchmarks and tests only (feature `internals`): encode DOUBLE or FLOAT `paths` through parquet's
    /// column writer with precomputed levels (`prices.rs`) instead of the hand-built pages
    /// (`pages.rs`).
    #[cfg(feature = "internals")]
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
            #[cfg(feature = "internals")]
            paths_via_arrow: false,
            #[cfg(feature = "internals")]
            paths_via_column_writer: false,
        }
    }
}

impl ParquetOptions {
    /// The compact mode: decimal prices, DELTA_BINARY_PACKED, ZSTD(1).
    pub fn compact() -> Self {
        ParquetOptions { prices: PriceEncoding::Compact, ..Default::default() }
    }

    /// Float32 prices, otherwise the default: FLOAT, BYTE_STREAM_SPLIT, ZSTD(1).
    pub fn float32() -> Self {
        ParquetOptions { prices: PriceEncoding::Float32, ..Default::default() }
    }

    /// `paths_via_arrow`, which only a build with the `internals` feature can set.
    pub(super) fn via_arrow(&self) -> bool {
        #[cfg(feature = "internals")]
        return self.paths_via_arrow;
        #[cfg(not(feature = "internals"))]
        false
    }

    /// `paths_via_column_writer`, which only a build with the `internals` feature can set.
    pub(super) fn via_column_writer(&self) -> bool {
        #[cfg(feature = "internals")]
        return self.paths_via_column_writer;
        #[cfg(not(feature = "internals"))]
        false
    }
}
