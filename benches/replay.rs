//! Full replay of a recorded 90 MB cycle: read the recording, decode, build the batch, write and
//! rename the Parquet file. MB/s of body bytes.
//!
//! `cargo bench --bench replay` (generates `fixtures/large/hf-90mb.cycle.arrow` if missing).

use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use synth_forward::fixture::{self, Preset};
use synth_forward::recording::Recording;
use synth_forward::sink::parquet::{LAYOUT_VERSION, ParquetOptions};
use synth_forward::source::replay::replay_to_parquet as replay;

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/large/hf-90mb.cycle.arrow");
    fixture::ensure(Preset::Hf90mb, &path).expect("generating the hf-90mb fixture");
    let body_bytes = Recording::read(&path).expect("reading the fixture").body_bytes();
    let out = tempfile::tempdir().unwrap();

    let mut g = c.benchmark_group("replay_hf_90mb");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(body_bytes));
    for (name, opts) in [
        ("default", ParquetOptions { overwrite: true, ..ParquetOptions::default() }),
        // The same through parquet's column writer instead of the hand-built `paths` pages
        // (`--features internals`).
        #[cfg(feature = "internals")]
        (
            "default_column_writer",
            ParquetOptions { overwrite: true, paths_via_column_writer: true, ..ParquetOptions::default() },
        ),
        ("compact", ParquetOptions { overwrite: true, ..ParquetOptions::compact() }),
        ("f32", ParquetOptions { overwrite: true, ..ParquetOptions::float32() }),
    ] {
        // Each cycle writes a new file: the previous output is removed outside the timed part,
        // or the rename would also free the old file's 49 MB (≈ 15 ms of unlink, strace).
        g.bench_function(name, |b| {
            b.iter_batched(
                || drop(std::fs::remove_dir_all(out.path().join(format!("layout-{LAYOUT_VERSION}")))),
                |()| replay(&path, out.path(), &opts).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
