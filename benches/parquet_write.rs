//! Record batch → Parquet file, on the `hf-90mb` fixture's batch (256 miners, 150 CORRECT,
//! 1000 paths × 61 points, GBM prices at 8 significant digits).
//!
//! `cargo bench --bench parquet_write` — throughput is the raw f64 bytes of the CORRECT prices
//! (150 × 61 000 × 8 B = 73.2 MB), so MB/s reads as "price bytes in per second". Each config
//! prints its file size and bytes per price once before it is timed.
//!
//! Groups: `parquet_write/{default,f32,compact}` (the three price types, fsync included) and
//! `parquet_encodings/*` (the encoding table of `schemas/output.md`; skip it with
//! `cargo bench --bench parquet_write -- parquet_write/`).

use std::hint::black_box;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use synth_forward::fixture::{self, Preset};
use synth_forward::recording::Recording;
use synth_forward::request::CycleRequest;
use synth_forward::sink::parquet::{self as sink, LAYOUT_VERSION, ParquetOptions};

/// The bench input: `fixtures/large/hf-90mb.cycle.arrow` (generated if missing) decoded into the
/// cycle's batch, as a compact replay builds it.
fn hf_90mb_batch() -> (RecordBatch, CycleRequest) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/large/hf-90mb.cycle.arrow");
    fixture::ensure(Preset::Hf90mb, &path).expect("generating the hf-90mb fixture");
    let rec = Recording::read(&path).expect("reading the hf-90mb fixture");
    let request = rec.request.clone();
    let clock = synth_forward::cycle::Clock::new(std::time::Instant::now());
    let outcome = synth_forward::engine::shared().replay_recording(rec, clock, Vec::new(), true);
    (outcome.expect("decoding the hf-90mb fixture").batch.expect("the batch, kept"), request)
}

fn correct_prices(b: &RecordBatch) -> u64 {
    let paths = b.column(b.num_columns() - 1).as_fixed_size_list();
    let slot = paths.value_length() as u64 * paths.values().as_fixed_size_list().value_length() as u64;
    (paths.len() - paths.null_count()) as u64 * slot
}

fn zstd(level: i32) -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(level).unwrap())
}

fn run(c: &mut Criterion, group: &str, configs: &[(&str, ParquetOptions)]) {
    let (b, req) = hf_90mb_batch();
    let prices = correct_prices(&b);
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.throughput(Throughput::Bytes(prices * 8));
    for (name, opts) in configs {
        let opts = ParquetOptions { overwrite: true, ..opts.clone() };
        let mut reported = false;
        g.bench_function(*name, |bench| {
            // Only for the configs the filter selects (criterion calls this closure only then).
            // Each cycle writes a new file: the previous one is removed outside the timed part
            // (replacing it would also free its pages inside the rename).
            let clear = || drop(std::fs::remove_dir_all(dir.path().join(format!("layout-{LAYOUT_VERSION}"))));
            if !reported {
                let path = sink::write(&b, &req, dir.path(), &opts).unwrap();
                report(group, name, &path, prices);
                cpu_report(group, name, clear, || drop(sink::write(&b, &req, dir.path(), &opts).unwrap()));
                reported = true;
            }
            bench.iter_batched(
                clear,
                |()| black_box(sink::write(&b, &req, dir.path(), &opts).unwrap()),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn report(group: &str, name: &str, path: &Path, prices: u64) {
    let size = std::fs::metadata(path).unwrap().len();
    eprintln!(
        "{group}/{name}: {:.2} MB file, {:.3} bytes/price ({prices} CORRECT prices)",
        size as f64 / 1e6,
        size as f64 / prices as f64
    );
}

/// Process CPU time (user + system, all threads) from /proc/self/stat, in ms.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the comm field; 100 ticks/s.
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) * 10.0
}

/// CPU ms per write, independent of how loaded the shared machine is: on an idle 2-core box the
/// wall time is at least half of it.
fn cpu_report(group: &str, name: &str, clear: impl Fn(), mut write: impl FnMut()) {
    const N: usize = 8;
    let (mut wall, mut cpu) = (0.0, 0.0);
    for _ in 0..N {
        clear();
        let (t0, c0) = (std::time::Instant::now(), cpu_ms());
        write();
        (wall, cpu) = (wall + t0.elapsed().as_secs_f64() * 1e3, cpu + cpu_ms() - c0);
    }
    let (wall, cpu) = (wall / N as f64, cpu / N as f64);
    eprintln!("{group}/{name}: {cpu:.0} ms CPU per write (all threads), {wall:.0} ms wall");
}

fn modes(c: &mut Criterion) {
    run(
        c,
        "parquet_write",
        &[
            ("default", ParquetOptions::default()),
            ("f32", ParquetOptions::float32()),
            ("compact", ParquetOptions::compact()),
        ],
    );
}

fn encodings(c: &mut Criterion) {
    let bss = |compression| ParquetOptions { compression, ..Default::default() };
    let plain = |compression| ParquetOptions { compression, float_encoding: Encoding::PLAIN, ..Default::default() };
    let compact = |compression| ParquetOptions { compression, ..ParquetOptions::compact() };
    run(
        c,
        "parquet_encodings",
        &[
            ("plain_none", plain(Compression::UNCOMPRESSED)),
            ("plain_lz4", plain(Compression::LZ4_RAW)),
            ("plain_zstd1", plain(zstd(1))),
            ("plain_zstd3", plain(zstd(3))),
            ("bss_none", bss(Compression::UNCOMPRESSED)),
            ("bss_lz4", bss(Compression::LZ4_RAW)),
            ("bss_zstd1", bss(zstd(1))),
            ("bss_zstd3", bss(zstd(3))),
            ("bss_zstd6", bss(zstd(6))),
            // parquet-rs's own writers instead of the hand-built pages (`--features internals`).
            #[cfg(feature = "internals")]
            ("bss_zstd1_arrow_levels", ParquetOptions { paths_via_arrow: true, ..Default::default() }),
            #[cfg(feature = "internals")]
            ("bss_zstd1_column_writer", ParquetOptions { paths_via_column_writer: true, ..Default::default() }),
            #[cfg(feature = "internals")]
            (
                "bss_none_column_writer",
                ParquetOptions { paths_via_column_writer: true, ..bss(Compression::UNCOMPRESSED) },
            ),
            ("bss_zstd1_nofsync", ParquetOptions { fsync: false, ..Default::default() }),
            ("bss_zstd1_stats", ParquetOptions { paths_statistics: true, ..Default::default() }),
            ("bss_zstd1_rg1", ParquetOptions { correct_rows_per_group: 1, ..Default::default() }),
            ("bss_zstd1_rg16", ParquetOptions { correct_rows_per_group: 16, ..Default::default() }),
            ("f32_bss_zstd1", ParquetOptions::float32()),
            ("f32_bss_none", ParquetOptions { compression: Compression::UNCOMPRESSED, ..ParquetOptions::float32() }),
            ("f32_plain_zstd1", ParquetOptions { float_encoding: Encoding::PLAIN, ..ParquetOptions::float32() }),
            #[cfg(feature = "internals")]
            (
                "f32_bss_zstd1_column_writer",
                ParquetOptions { paths_via_column_writer: true, ..ParquetOptions::float32() },
            ),
            ("compact_none", compact(Compression::UNCOMPRESSED)),
            ("compact_lz4", compact(Compression::LZ4_RAW)),
            ("compact_zstd1", compact(zstd(1))),
            ("compact_zstd3", compact(zstd(3))),
        ],
    );
}

criterion_group!(benches, modes, encodings);
criterion_main!(benches);
