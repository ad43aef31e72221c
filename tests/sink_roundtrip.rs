//! Batch → Parquet → parquet's Arrow reader: every column equal, null rows null, prices
//! bit-identical (default and compact; float32: each the nearest f32 of the f64), temp files never
//! left behind, overwrite refusal, layout.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding};
use synth_forward::batch::{self, SCHEMA_VERSION_KEY};
use synth_forward::decode::Verdict;
use synth_forward::fixture::synthetic;
use synth_forward::sink::parquet::{
    self as sink, CycleParquetWriter, ParquetOptions, PriceEncoding, PriceLayout, SinkError,
};

fn small(seed: u64) -> (RecordBatch, synth_forward::request::CycleRequest) {
    let (cols, req) = synthetic::cycle(23, 9, 7, 5, seed);
    (batch::build(cols, &req).unwrap(), req)
}

fn read(path: &Path) -> (RecordBatch, parquet::file::metadata::ParquetMetaData) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let meta = b.metadata().as_ref().clone();
    let schema = b.schema().clone();
    let batches: Vec<RecordBatch> = b.build().unwrap().map(|b| b.unwrap()).collect();
    (concat_batches(&schema, &batches).unwrap(), meta)
}

fn kv(meta: &parquet::file::metadata::ParquetMetaData, key: &str) -> Option<String> {
    meta.file_metadata().key_value_metadata()?.iter().find(|k| k.key == key).and_then(|k| k.value.clone())
}

/// The file's price type, folder layout and table, as its key-value metadata records them.
fn assert_keys(meta: &parquet::file::metadata::ParquetMetaData, prices: &str, table: &str) {
    assert_eq!(kv(meta, sink::PRICES_KEY).as_deref(), Some(prices));
    assert_eq!(kv(meta, sink::LAYOUT_KEY).as_deref(), Some("2"));
    assert_eq!(kv(meta, sink::TABLE_KEY).as_deref(), Some(table));
}

fn no_temp_files(dir: &Path) {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    for f in files {
        assert!(!f.file_name().unwrap().to_str().unwrap().contains(".tmp-"), "left behind: {f:?}");
    }
}

/// Every price of every valid row, from the original batch and a read-back one (decimals
/// converted the way readers do: value / 10^scale; float32 widened, which is exact).
fn prices(b: &RecordBatch) -> Vec<Option<Vec<u64>>> {
    let paths = b.column(b.num_columns() - 1).as_fixed_size_list();
    (0..b.num_rows())
        .map(|r| {
            paths.is_valid(r).then(|| {
                let row = paths.value(r);
                let leaf = row.as_fixed_size_list().values().clone();
                match leaf.data_type() {
                    DataType::Float64 => {
                        leaf.as_primitive::<Float64Type>().values().iter().map(|v| v.to_bits()).collect()
                    }
                    DataType::Float32 => {
                        leaf.as_primitive::<Float32Type>().values().iter().map(|&v| f64::from(v).to_bits()).collect()
                    }
                    DataType::Decimal128(_, s) => {
                        let cast = arrow::compute::cast(&leaf, &DataType::Float64).unwrap();
                        let via_cast: Vec<u64> =
                            cast.as_primitive::<Float64Type>().values().iter().map(|v| v.to_bits()).collect();
                        let pow = 10f64.powi(*s as i32);
                        let by_hand: Vec<u64> = leaf
                            .as_primitive::<Decimal128Type>()
                            .values()
                            .iter()
                            .map(|&m| (m as f64 / pow).to_bits())
                            .collect();
                        assert_eq!(via_cast, by_hand, "arrow's decimal cast rounds differently");
                        by_hand
                    }
                    t => panic!("unexpected leaf {t}"),
                }
            })
        })
        .collect()
}

/// `b`'s prices as a float32 file should hold them: each the f64 rounded to the nearest f32
/// (ties to even), then widened back.
fn rounded_to_f32(b: &RecordBatch) -> Vec<Option<Vec<u64>>> {
    prices(b)
        .into_iter()
        .map(|row| row.map(|p| p.into_iter().map(|bits| f64::from(f64::from_bits(bits) as f32).to_bits()).collect()))
        .collect()
}

fn assert_same(original: &RecordBatch, back: &RecordBatch) {
    assert_eq!(original.num_rows(), back.num_rows());
    // Every scalar column equal, type and value (incl. the dictionary column and the timestamp).
    for i in 0..original.num_columns() - 1 {
        assert_eq!(original.schema().field(i), back.schema().field(i));
        assert_eq!(
            original.column(i).as_ref(),
            back.column(i).as_ref(),
            "column {}",
            original.schema().field(i).name()
        );
    }
    let (a, b) = (original.column(original.num_columns() - 1), back.column(back.num_columns() - 1));
    let nulls = |x: &dyn Array| (0..x.len()).map(|r| x.is_null(r)).collect::<Vec<_>>();
    assert_eq!(nulls(a.as_ref()), nulls(b.as_ref()), "paths null rows");
    let leaf = |x: &RecordBatch| {
        let p = x.column(x.num_columns() - 1).as_fixed_size_list().values().as_fixed_size_list().clone();
        p.values().data_type().clone()
    };
    if leaf(back) == DataType::Float32 && leaf(original) == DataType::Float64 {
        assert_eq!(rounded_to_f32(original), prices(back), "float32 prices: the nearest f32 of each");
    } else {
        assert_eq!(prices(original), prices(back));
    }
}

#[test]
fn default_mode_round_trips_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (b, req) = small(1);
    let opts = ParquetOptions { correct_rows_per_group: 4, ..Default::default() };
    let path = sink::write(&b, &req, dir.path(), &opts).unwrap();
    let (back, meta) = read(&path);
    assert_eq!(back.schema().as_ref().fields(), b.schema().fields());
    assert_same(&b, &back);
    assert_eq!(back.schema().metadata().get(SCHEMA_VERSION_KEY).map(String::as_str), Some("1"));
    assert_eq!(kv(&meta, SCHEMA_VERSION_KEY).as_deref(), Some("1"));
    assert_eq!(kv(&meta, sink::ENGINE_VERSION_KEY).as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(kv(&meta, sink::REQUEST_KEY).as_deref(), Some(req.to_json().as_str()));
    assert_keys(&meta, "float64", "240_60_7_f64");
    // paths: DOUBLE, BYTE_STREAM_SPLIT, no dictionary, ZSTD.
    for rg in meta.row_groups() {
        let c = rg.columns().last().unwrap();
        assert_eq!(c.column_type(), parquet::basic::Type::DOUBLE);
        assert!(matches!(c.compression(), Compression::ZSTD(_)));
        let enc: Vec<Encoding> = c.encodings().collect();
        assert!(enc.contains(&Encoding::BYTE_STREAM_SPLIT), "{enc:?}");
        assert!(!enc.contains(&Encoding::PLAIN_DICTIONARY) && !enc.contains(&Encoding::RLE_DICTIONARY));
    }
    // 9 CORRECT rows, at most 4 per row group.
    assert_eq!(meta.num_row_groups(), 3);
    no_temp_files(dir.path());
}

#[test]
fn float32_mode_stores_each_price_rounded_to_the_nearest_f32() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cols, req) = synthetic::cycle(23, 9, 7, 5, 12);
    // Prices that round differently from truncation, a tie (to even), and beyond f32's range.
    let slot = cols.shape.slot_len();
    let first_correct = cols.verdict.iter().position(|v| *v == Verdict::Correct).unwrap();
    let specials = [1.0 + 2f64.powi(-24), 1.0 + 3.0 * 2f64.powi(-24), 91_234.567_890_123, 1e300, -0.0, f64::NAN];
    cols.prices[first_correct * slot..first_correct * slot + specials.len()].copy_from_slice(&specials);
    let b = batch::build(cols, &req).unwrap();
    for opts in [
        ParquetOptions { correct_rows_per_group: 4, ..ParquetOptions::float32() },
        ParquetOptions {
            compression: Compression::UNCOMPRESSED,
            correct_rows_per_group: 1,
            ..ParquetOptions::float32()
        },
    ] {
        let dir = dir.path().join(format!("{:?}", opts.compression));
        let path = sink::write(&b, &req, &dir, &opts).unwrap();
        assert_eq!(path, dir.join("layout-2/240_60_7_f32/asset=BTC/date=2026-11-24/1795521660.parquet"));
        let (back, meta) = read(&path);
        assert_same(&b, &back);
        let row = back.column(back.num_columns() - 1).as_fixed_size_list().value(first_correct);
        let leaf = row.as_fixed_size_list().values().clone();
        assert_eq!(leaf.data_type(), &DataType::Float32);
        let got = leaf.as_primitive::<Float32Type>().values()[..specials.len()].to_vec();
        let want: Vec<u32> = specials.iter().map(|&p| (p as f32).to_bits()).collect();
        let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want);
        // The tie went to even; the others to the nearest f32, or infinity past f32's range.
        let by_hand = [1.0, 1.0 + 2f32.powi(-22), 91_234.57, f32::INFINITY, -0.0].map(f32::to_bits);
        assert_eq!(got[..5], by_hand);
        assert!(f32::from_bits(got[5]).is_nan());
        assert_keys(&meta, "float32", "240_60_7_f32");
        for rg in meta.row_groups() {
            let c = rg.columns().last().unwrap();
            assert_eq!(c.column_type(), parquet::basic::Type::FLOAT);
            assert_eq!(c.compression(), opts.compression);
            if rg.num_rows() > 0 && c.num_values() > rg.num_rows() {
                assert!(c.encodings().any(|e| e == Encoding::BYTE_STREAM_SPLIT));
            }
        }
        no_temp_files(&dir);
    }
}

#[test]
fn compact_mode_round_trips_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (b, req) = small(2);
    let path = sink::write(&b, &req, dir.path(), &ParquetOptions::compact()).unwrap();
    let (back, meta) = read(&path);
    assert_same(&b, &back);
    // 91234.56 at 8 significant digits: 3 decimals (smaller prices need more; the GBM stays > 10^4).
    assert_keys(&meta, "decimal(18,3)", "240_60_7_dec3");
    assert!(path.starts_with(dir.path().join("layout-2/240_60_7_dec3")), "{path:?}");
    let c = meta.row_group(0).columns().last().unwrap();
    assert_eq!(c.column_type(), parquet::basic::Type::INT64);
    assert!(c.encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED));
    no_temp_files(dir.path());
}

#[test]
fn plain_lz4_stats_and_arrow_path_round_trip() {
    let (b, req) = small(3);
    for opts in [
        ParquetOptions { float_encoding: Encoding::PLAIN, compression: Compression::LZ4_RAW, ..Default::default() },
        ParquetOptions { float_encoding: Encoding::PLAIN, ..ParquetOptions::float32() },
        ParquetOptions { paths_statistics: true, ..ParquetOptions::float32() },
        #[cfg(feature = "internals")]
        ParquetOptions { paths_via_arrow: true, ..Default::default() },
        #[cfg(feature = "internals")]
        ParquetOptions { paths_via_arrow: true, ..ParquetOptions::float32() },
        ParquetOptions {
            compression: Compression::UNCOMPRESSED,
            correct_rows_per_group: 1,
            ..ParquetOptions::compact()
        },
        // Left to parquet's column writer by the hand-built pages: another codec, page statistics.
        ParquetOptions { compression: Compression::LZ4_RAW, ..Default::default() },
        ParquetOptions { paths_statistics: true, ..Default::default() },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = sink::write(&b, &req, dir.path(), &opts).unwrap();
        assert_same(&b, &read(&path).0);
    }
}

#[test]
fn compact_refuses_or_falls_back_on_unrepresentable_prices() {
    let (mut cols, req) = synthetic::cycle(6, 6, 3, 4, 4);
    let slot = cols.shape.slot_len();
    cols.prices[2 * slot + 5] = 91234.56789012345; // 16 significant digits
    let uid = cols.uid[2];
    let b = batch::build(cols, &req).unwrap();
    let dir = tempfile::tempdir().unwrap();
    match sink::write(&b, &req, dir.path(), &ParquetOptions::compact()) {
        Err(SinkError::NotRepresentable { uid: u, index, .. }) => assert_eq!((u, index), (uid, 5)),
        other => panic!("expected NotRepresentable, got {other:?}"),
    }
    no_temp_files(dir.path());
    let opts = ParquetOptions { prices: PriceEncoding::CompactOrFloat64, ..Default::default() };
    let path = sink::write(&b, &req, dir.path(), &opts).unwrap();
    let (back, meta) = read(&path);
    assert_keys(&meta, "float64", "180_60_3_f64");
    assert_same(&b, &back);
}

#[test]
fn path_layout_and_overwrite_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (b, req) = small(5);
    let path = sink::write(&b, &req, dir.path(), &ParquetOptions::default()).unwrap();
    // 2026-11-24T12:01:00Z = 1795521660; 240 s at 60 s, 7 paths, float64.
    assert_eq!(path, dir.path().join("layout-2/240_60_7_f64/asset=BTC/date=2026-11-24/1795521660.parquet"));
    let before = std::fs::read(&path).unwrap();
    let (b2, _) = small(6);
    match sink::write(&b2, &req, dir.path(), &ParquetOptions::default()) {
        Err(SinkError::Exists(p)) => assert_eq!(p, path),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "refused write must not touch the file");
    let opts = ParquetOptions { overwrite: true, ..Default::default() };
    assert_eq!(sink::write(&b2, &req, dir.path(), &opts).unwrap(), path);
    assert_same(&b2, &read(&path).0);
    no_temp_files(dir.path());
}

#[test]
fn unwritable_dir_is_a_clear_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (b, req) = small(7);
    // A file where the partition folder should be.
    std::fs::create_dir_all(dir.path().join("layout-2/240_60_7_f64")).unwrap();
    std::fs::write(dir.path().join("layout-2/240_60_7_f64/asset=BTC"), b"not a folder").unwrap();
    let err = sink::write(&b, &req, dir.path(), &ParquetOptions::default()).unwrap_err();
    assert!(matches!(err, SinkError::Io { .. }), "{err}");
    assert!(err.to_string().contains("asset=BTC"), "{err}");
    no_temp_files(dir.path());

    // A failure after the temp file exists: groups that do not tile the rows.
    let dir = tempfile::tempdir().unwrap();
    let w = CycleParquetWriter::new(
        &b.schema(),
        &req,
        0,
        b.num_rows(),
        dir.path(),
        PriceLayout::Float64,
        &ParquetOptions::default(),
    )
    .unwrap();
    let g = w.encode_rows(0, &b, 0..3).unwrap();
    assert!(matches!(w.finish(vec![g]), Err(SinkError::RowGroups(_))));
    no_temp_files(dir.path());
}

#[test]
fn encode_early_in_any_order_splice_late() {
    let dir = tempfile::tempdir().unwrap();
    let (b, req) = small(9);
    let w = CycleParquetWriter::new(
        &b.schema(),
        &req,
        1_795_521_660,
        b.num_rows(),
        dir.path(),
        PriceLayout::Float64,
        &ParquetOptions::default(),
    )
    .unwrap();
    // One row per group, rows arriving last-to-first (as out-of-order completions would: the
    // file holds them in that order, the footer lists them by row), plus a group from a
    // stand-alone small batch.
    let mut groups: Vec<_> =
        (3..b.num_rows()).rev().enumerate().map(|(seq, r)| w.encode_rows(seq, &b, r..r + 1).unwrap()).collect();
    groups.push(w.encode_batch(b.num_rows() - 3, 0, &b.slice(0, 3)).unwrap());
    let path = w.finish(groups).unwrap();
    let (back, meta) = read(&path);
    assert_eq!(meta.num_row_groups(), b.num_rows() - 2);
    assert_same(&b, &back);
}

#[test]
fn empty_cycle_and_all_null_cycle() {
    for (rows, correct) in [(0, 0), (5, 0)] {
        let dir = tempfile::tempdir().unwrap();
        let (cols, req) = synthetic::cycle(rows, correct, 4, 3, 10);
        let b = batch::build(cols, &req).unwrap();
        for (opts, layout) in [
            (ParquetOptions::default(), PriceLayout::Float64),
            (ParquetOptions { overwrite: true, ..ParquetOptions::compact() }, PriceLayout::Float64),
            (ParquetOptions::float32(), PriceLayout::Float32),
        ] {
            let w = CycleParquetWriter::new(&b.schema(), &req, 1_795_521_660, rows, dir.path(), layout, &opts).unwrap();
            let groups = (rows > 0).then(|| w.encode_rows(0, &b, 0..rows).unwrap()).into_iter().collect();
            let path = w.finish(groups).unwrap();
            let (back, _) = read(&path);
            assert_eq!(back.num_rows(), rows);
            if rows > 0 {
                assert_same(&b, &back);
            }
        }
    }
}

#[test]
fn batch_paths_null_unless_correct_and_zero_copy() {
    let (cols, req) = synthetic::cycle(10, 4, 3, 2, 11);
    let ptr = cols.prices.as_ptr();
    let verdicts = cols.verdict.clone();
    let b = batch::build(cols, &req).unwrap();
    let paths = b.column(b.num_columns() - 1).as_fixed_size_list();
    for (r, v) in verdicts.iter().enumerate() {
        assert_eq!(paths.is_valid(r), *v == Verdict::Correct);
    }
    let leaf = paths.values().as_fixed_size_list().values().as_primitive::<Float64Type>().values().as_ptr();
    assert_eq!(leaf, ptr, "prices were copied");
    let pt = b.column_by_name("process_time_s").unwrap();
    for (r, v) in verdicts.iter().enumerate() {
        assert_eq!(pt.is_null(r), *v == Verdict::NoResponse);
    }
    let _ = Arc::clone(&b.schema());
}

/// The default layout's `paths` pages are built by hand (`sink::parquet::pages`); parquet's own
/// column writer is kept behind a hidden option. Both files must read back identically, through
/// the page index too (row selections skip pages by the offset index's locations), over shapes
/// that give many rows per page, one row per page, one point per path, and every codec the
/// hand-built path takes.
#[test]
#[cfg(feature = "internals")]
fn hand_built_pages_read_like_the_column_writer() {
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, RowSelection, RowSelector};
    use parquet::basic::ZstdLevel;
    let zstd = |l| Compression::ZSTD(ZstdLevel::try_new(l).unwrap());
    for (rows, correct, paths, points) in
        [(23, 9, 7, 5), (12, 12, 1, 1), (9, 4, 3, 1), (10, 7, 1100, 120), (40, 33, 200, 61)]
    {
        let (cols, req) = synthetic::cycle(rows, correct, paths, points, 20 + rows as u64);
        let b = batch::build(cols, &req).unwrap();
        for (compression, prices) in [
            (zstd(1), PriceEncoding::Float64),
            (zstd(3), PriceEncoding::Float64),
            (Compression::UNCOMPRESSED, PriceEncoding::Float64),
            (zstd(1), PriceEncoding::Float32),
            (Compression::UNCOMPRESSED, PriceEncoding::Float32),
        ] {
            for per_group in [1, 4, 100] {
                let dir = tempfile::tempdir().unwrap();
                let (hand, generic) = (dir.path().join("hand"), dir.path().join("generic"));
                let opts =
                    ParquetOptions { compression, correct_rows_per_group: per_group, prices, ..Default::default() };
                let hand = sink::write(&b, &req, &hand, &opts).unwrap();
                let generic =
                    sink::write(&b, &req, &generic, &ParquetOptions { paths_via_column_writer: true, ..opts }).unwrap();
                let (back, meta) = read(&hand);
                assert_same(&b, &back);
                assert_same(&b, &read(&generic).0);
                let (_, gmeta) = read(&generic);
                let paths = b.column(b.num_columns() - 1);
                let mut first = 0;
                for (rg, grg) in meta.row_groups().iter().zip(gmeta.row_groups()) {
                    let (c, g) = (rg.columns().last().unwrap(), grg.columns().last().unwrap());
                    assert_eq!(c.compression(), g.compression());
                    assert_eq!(c.num_values(), g.num_values());
                    assert_eq!(rg.num_rows(), grg.num_rows());
                    // Values are BYTE_STREAM_SPLIT; a page of null rows only says PLAIN (it has no
                    // value), which polars needs.
                    let rows = first..first + rg.num_rows() as usize;
                    let (nulls, values) =
                        (rows.clone().any(|r| paths.is_null(r)), rows.clone().any(|r| paths.is_valid(r)));
                    let mut expected = vec![Encoding::RLE];
                    expected.extend(nulls.then_some(Encoding::PLAIN));
                    expected.extend(values.then_some(Encoding::BYTE_STREAM_SPLIT));
                    let mut got: Vec<Encoding> = c.encodings().collect();
                    got.sort_by_key(|e| expected.iter().position(|x| x == e));
                    assert_eq!(got, expected, "row group of rows {rows:?}");
                    first = rows.end;
                }

                // Skip and select runs of rows through the page index.
                let selection: Vec<RowSelector> =
                    (0..rows).map(|r| if r % 3 == 0 { RowSelector::skip(1) } else { RowSelector::select(1) }).collect();
                let wanted: Vec<u32> = (0..rows as u32).filter(|r| r % 3 != 0).collect();
                let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
                    File::open(&hand).unwrap(),
                    ArrowReaderOptions::new()
                        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required),
                )
                .unwrap();
                let meta = reader.metadata();
                let last = meta.file_metadata().schema_descr().num_columns() - 1;
                for g in 0..meta.num_row_groups() {
                    let index = meta.page_index_for_row_group(g);
                    let pages = index.offset_index(last).expect("an offset index for paths").page_locations();
                    assert_eq!(pages[0].first_row_index, 0, "group {g}");
                    assert!(pages.windows(2).all(|w| w[0].first_row_index < w[1].first_row_index));
                    assert!(pages.windows(2).all(|w| w[0].offset + w[0].compressed_page_size as i64 == w[1].offset));
                }
                let schema = reader.schema().clone();
                let picked: Vec<RecordBatch> = reader
                    .with_row_selection(RowSelection::from(selection))
                    .build()
                    .unwrap()
                    .map(|b| b.unwrap())
                    .collect();
                let picked = concat_batches(&schema, &picked).unwrap();
                let expected = arrow::compute::take_record_batch(&b, &arrow::array::UInt32Array::from(wanted)).unwrap();
                assert_same(&expected, &picked);
            }
        }
    }
}
