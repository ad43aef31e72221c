//! Decode + validate + columnarize a recorded 90 MB cycle (`hf-90mb`), in MB/s of body bytes.
//!
//! - `pool/v2`, `pool/v3`: every row on an engine's decode pool (both cores), each into its slot
//!   of one whole-cycle buffer, as the pipeline does when a sink wants the cycle's batch, under
//!   each rule set (same run, so the two compare).
//! - `one_core/v2`, `one_core/v3`: the same rows in order on one thread.
//! - `memcpy`: copying every body once, in the same run: the ceiling.
//! - `simd_json_one_core`: simd-json (the design card's JSON package) parsing each CORRECT body's
//!   tape and copying its prices into the slot, without the digit rule: what the fused scanner
//!   is measured against.
//! - `exact_one_core`: the exact (Python-model) path alone on a few bodies, under each rule set:
//!   the fallback's cost.
//!
//! `cargo bench --bench decode` (generates `fixtures/large/hf-90mb.cycle.arrow` if missing).

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use simd_json::prelude::*;

use synth_forward::columns::CycleColumns;
use synth_forward::cycle::decode_one;
use synth_forward::decode::{self, Verdict};
use synth_forward::fixture::{self, Preset};
use synth_forward::recording::Recording;
use synth_forward::request::{Expected, Rules};

use rayon::prelude::*;

fn hf_90mb() -> Recording {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/large/hf-90mb.cycle.arrow");
    fixture::ensure(Preset::Hf90mb, &path).expect("generating the hf-90mb fixture");
    Recording::read(&path).expect("reading the hf-90mb fixture")
}

fn bench(c: &mut Criterion) {
    let rec = hf_90mb();
    let shape = rec.request.shape().unwrap();
    // The fixture's own rules are not what is measured: both sets are, side by side.
    let exp_of = |rules| Expected { rules, ..rec.request.expected() };
    let exp = exp_of(Rules::V3);
    let rows = rec.rows();
    let body_bytes = rec.body_bytes();
    let mut cols = CycleColumns::new(shape, rows);
    for r in 0..rows {
        cols.set_call(r, &rec.call(r));
    }
    // Steady state of a long-lived process: the slot buffer is already faulted in.
    prefault(&mut cols.prices);
    let engine = synth_forward::Engine::new().unwrap();

    let mut g = c.benchmark_group("decode_hf_90mb");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(body_bytes));
    let slot_len = shape.slot_len();
    // One pass outside any timing, so the benches below (and a filtered run) have verdicts.
    for (r, slot) in cols.prices.chunks_mut(slot_len).enumerate() {
        cols.verdict[r] = decode_one(&exp, &rec.call(r), slot);
    }
    assert!(cols.verdict.iter().filter(|v| v.is_correct()).count() >= 100);
    for rules in [Rules::V2, Rules::V3] {
        let exp = exp_of(rules);
        g.bench_function(BenchmarkId::new("pool", rules), |b| {
            b.iter(|| {
                engine.pool().install(|| {
                    cols.prices
                        .par_chunks_mut(slot_len)
                        .zip(cols.verdict.par_iter_mut())
                        .enumerate()
                        .with_max_len(1)
                        .for_each(|(r, (slot, verdict))| *verdict = decode_one(&exp, &rec.call(r), slot))
                })
            })
        });
    }
    for rules in [Rules::V2, Rules::V3] {
        let exp = exp_of(rules);
        g.bench_function(BenchmarkId::new("one_core", rules), |b| {
            b.iter(|| {
                for (r, slot) in cols.prices.chunks_mut(slot_len).enumerate() {
                    cols.verdict[r] = decode_one(&exp, &rec.call(r), slot);
                }
            })
        });
    }

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
    for rules in [Rules::V2, Rules::V3] {
        let exp = exp_of(rules);
        g.bench_with_input(BenchmarkId::new("exact_one_core", format!("4 bodies {rules}")), &few, |b, few| {
            b.iter(|| {
                for &r in few {
                    let slot = &mut cols.prices[r * slot_len..(r + 1) * slot_len];
                    let v = decode::exact::decode(&exp, 200, rec.call(r).body.unwrap(), slot);
                    assert_eq!(v, Verdict::Correct);
                }
            })
        });
    }
    g.finish();
}

/// Touches every page of the buffer, so first-touch page faults (~3 GB/s on this class of
/// machine) are not counted as decoding.
fn prefault(prices: &mut [f64]) {
    const PAGE_F64: usize = 4096 / 8;
    for page in prices.chunks_mut(PAGE_F64) {
        // SAFETY: the pointer comes from a live `&mut [f64]` of at least one element. Volatile,
        // because a plain store of the 0.0 already there may be dropped.
        unsafe { std::ptr::write_volatile(page.as_mut_ptr(), 0.0) };
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
