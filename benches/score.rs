//! One miner's score (the validator's CRPS, bit for bit): the time per miner for the two prompt
//! shapes, on one core. A cycle's scoring is this × CORRECT miners ÷ cores.
//!
//! `cargo bench --bench score`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use synth_forward::score::miner::{Prompt, Scratch, score_miner};

/// `paths` random-walk paths of `points` prices around 91 234.56, rounded to cents, and a real path.
fn miner(paths: usize, points: usize) -> (Vec<f64>, Vec<f64>) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut x = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut walk = || {
        let mut p = 91_234.56f64;
        (0..points)
            .map(|_| {
                let v = (p * 100.0).round() / 100.0;
                let u = (x() >> 11) as f64 / (1u64 << 53) as f64;
                p *= 1.0 + (u - 0.5) * 2e-3;
                v
            })
            .collect::<Vec<f64>>()
    };
    let prices: Vec<f64> = (0..paths).flat_map(|_| walk()).collect();
    (prices, walk())
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("score_miner");
    g.sample_size(10);
    for (name, length, increment) in [("lf_1000x289", 86_400, 300), ("hf_1000x61", 3600, 60)] {
        let points = (length / increment) as usize + 1;
        let (prices, real) = miner(1000, points);
        let prompt = Prompt::for_length(length, increment).unwrap();
        let mut scratch = Scratch::default();
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| {
            b.iter(|| score_miner("CORRECT", Some(&prices), points, &real, &prompt, &mut scratch).score)
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
