//! Decode + validate + columnarize a recorded 90 MB cycle (`hf-90mb`), in MB/s of body bytes.
//!
//! - `pool`: every row on the process-wide decode pool (both cores), the replay/live code path.
//! - `one_core`: the same rows in order on one thread.
//! - `memcpy`: copying every body once, in the same run: the ceiling.
//! - `simd_json_one_core`: simd-json (the design card's JSON package) parsing each CORRECT body's
//!   tape and copying its prices into the slot, without the digit rule: what the fused scanner
//!   is measured against.
//! - `exact_one_core`: the exact (Python-model) path alone on a few bodies: the fallback's cost.
//!
//! `cargo bench --bench decode` (generates `fixtures/large/hf-90mb.cycle.arrow` if missing).

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use simd_json::prelude::*;

use synth_forward::columns::CycleColumns;
use synth_forward::decode::{self, Verdict};
use synth_forward::fixture::{self, Preset};
use synth_forward::recording::Recording;
use synth_forward::replay::{decode_one, decode_rows};
use synth_forward::request::Expected;

fn hf_90mb() -> Recording {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/large/hf-90mb.cycle.arrow");
    fixture::ensure(Preset::Hf90mb, &path).expect("generating the hf-90mb fixture");
    Recording::read(&path).expect("reading the hf-90mb fixture")
}

fn bench(c: &mut Criterion) {
    let rec = hf_90mb();
    let shape = rec.request.shape().unwrap();
    let exp = Expected::from_input(&rec.request.simulation_input);
    let rows = rec.rows();
    let body_bytes = rec.body_bytes();
    let mut cols = CycleColumns::new(shape, rows);
    for r in 0..rows {
        cols.set_call(r, &rec.call(r));
    }
    // Steady state of a long-lived process: the slot buffer is already faulted in.
    cols.prefault();

    let mut g = c.benchmark_group("decode_hf_90mb");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(body_bytes));
    g.bench_function("pool", |b| b.iter(|| decode_rows(&rec.request, &mut cols, |r| rec.call(r))));
    assert!(cols.verdict.iter().filter(|v| v.is_correct()).count() >= 100);

    let slot_len = shape.slot_len();
    g.bench_function("one_core", |b| {
        b.iter(|| {
            for (r, slot) in cols.prices.chunks_mut(slot_len).enumerate() {
                cols.verdict[r] = decode_one(&exp, &rec.call(r), slot);
            }
        })
    });

    let mut copy = vec![0u8; body_bytes as usize];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            let mut at = 0;
            for r in 0..rows {
                if let Some(body) = rec.call(r).body {
                    copy[at..at + body.len()].copy_from_slice(body);
                    at += body.len();
                }
            }
        })
    });

    let correct: Vec<usize> = (0..rows).filter(|&r| cols.verdict[r].is_correct()).collect();
    let correct_bytes: u64 = correct.iter().map(|&r| rec.call(r).body.unwrap().len() as u64).sum();
    let mut scratch = Vec::new();
    g.throughput(Throughput::Bytes(correct_bytes));
    g.bench_function("fused_one_core_correct_only", |b| {
        b.iter(|| {
            for &r in &correct {
                let slot = &mut cols.prices[r * slot_len..(r + 1) * slot_len];
                assert!(decode::fast::decode(&exp, rec.call(r).body.unwrap(), slot).is_some());
            }
        })
    });
    g.bench_function("simd_json_one_core_correct_only", |b| {
        b.iter(|| {
            for &r in &correct {
                scratch.clear();
                scratch.extend_from_slice(rec.call(r).body.unwrap());
                let v = simd_json::to_borrowed_value(&mut scratch).unwrap();
                let out = v.get("simulation_output").and_then(|o| o.as_array()).unwrap();
                let slot = &mut cols.prices[r * slot_len..(r + 1) * slot_len];
                let mut k = 0;
                for path in &out[2..] {
                    for p in path.as_array().unwrap() {
                        slot[k] = p.as_f64().unwrap();
                        k += 1;
                    }
                }
            }
        })
    });

    let few: Vec<usize> = correct.iter().copied().take(4).collect();
    let few_bytes: u64 = few.iter().map(|&r| rec.call(r).body.unwrap().len() as u64).sum();
    g.throughput(Throughput::Bytes(few_bytes));
    g.sample_size(10);
    g.bench_with_input(BenchmarkId::new("exact_one_core", "4 bodies"), &few, |b, few| {
        b.iter(|| {
            for &r in few {
                let slot = &mut cols.prices[r * slot_len..(r + 1) * slot_len];
                let v = decode::exact::decode(&exp, 200, rec.call(r).body.unwrap(), slot);
                assert_eq!(v, Verdict::Correct);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
