//! Synthetic decoded cycles for the sink's tests (no decoding involved).
//!
//! In: a size and a seed. Out: [`CycleColumns`] and a [`CycleRequest`] shaped like a real cycle:
//! CORRECT rows carry GBM paths rounded to 8 significant digits (so the f64 bits look like real
//! miner prices), the other rows a mix of the common failure verdicts.

use chrono::DateTime;

use crate::call::CallError;
use crate::columns::CycleColumns;
use crate::decode::Verdict;
use crate::request::{CycleRequest, CycleShape, Protocol, SimulationInput};

/// splitmix64: small, seedable, good enough for synthetic prices.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Box–Muller; one normal per call (the second is dropped, simplicity over speed).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `x` rounded to 8 significant digits, as the nearest double (like synth's miners do).
pub fn round_8_significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 7 - x.abs().log10().floor() as i32;
    if digits >= 0 {
        let p = 10f64.powi(digits);
        (x * p).round() / p
    } else {
        let p = 10f64.powi(-digits);
        (x / p).round() * p
    }
}

/// A request for `rows` miners (uids 0, 2, 4, …) asking `paths` paths of `points` prices.
pub fn request(rows: usize, paths: usize, points: usize) -> (CycleRequest, CycleShape) {
    let start_time = "2026-11-24T12:01:00+00:00";
    let start_unix = DateTime::parse_from_rfc3339(start_time).expect("valid time").timestamp();
    let req = CycleRequest {
        simulation_input: SimulationInput {
            asset: "BTC".into(),
            start_time: start_time.into(),
            time_increment: 60,
            time_length: 60 * (points as i64 - 1),
            num_simulations: paths as i64,
        },
        timeout_s: 120.0,
        protocol: Protocol::Synapse,
        axons: (0..rows)
            .map(|i| crate::request::Axon {
                uid: (2 * i) as u16,
                ip: "127.0.0.1".into(),
                port: 8091,
                hotkey: format!("5Hotkey{i:040}"),
            })
            .collect(),
    };
    (req, CycleShape { paths, points, start_unix })
}

/// A decoded cycle of `rows` miners, `correct` of them (spread evenly) CORRECT, each with `paths`
/// GBM paths of `points` prices starting at 91234.56 (1-minute steps, 50 % annual volatility).
pub fn cycle(rows: usize, correct: usize, paths: usize, points: usize, seed: u64) -> (CycleColumns, CycleRequest) {
    let (req, shape) = request(rows, paths, points);
    let mut c = CycleColumns::new(shape, rows);
    let mut rng = Rng(seed);
    let sigma = 0.5 / (365.0f64 * 24.0 * 60.0).sqrt();
    let slot = shape.slot_len();
    for r in 0..rows {
        c.uid[r] = req.axons[r].uid;
        c.hotkey[r] = req.axons[r].hotkey.clone();
        c.elapsed_ms[r] = 1000.0 + 37.25 * r as f64;
        // Spread the CORRECT rows evenly: row r is CORRECT when floor((r+1)·k/n) > floor(r·k/n).
        let is_correct = ((r + 1) * correct) / rows.max(1) > (r * correct) / rows.max(1);
        if is_correct {
            c.verdict[r] = Verdict::Correct;
            c.status[r] = Some(200);
            c.ttfb_ms[r] = Some(250.0 + r as f64);
            c.process_time_s[r] = Some(0.5 + r as f64 / 1000.0);
            c.response_bytes[r] = (slot * 13) as u64;
            let out = &mut c.prices[r * slot..(r + 1) * slot];
            for path in out.chunks_exact_mut(points) {
                let mut p = 91234.56f64;
                for v in path.iter_mut() {
                    *v = round_8_significant(p);
                    p *= (sigma * rng.normal() - 0.5 * sigma * sigma).exp();
                }
            }
        } else {
            match r % 4 {
                0 => {
                    c.verdict[r] = Verdict::NoResponse;
                    c.error[r] = Some(CallError::Timeout);
                    c.elapsed_ms[r] = 120_000.0;
                }
                1 => {
                    c.verdict[r] = Verdict::message(format!("Start time timestamp is incorrect: {r}"));
                    c.status[r] = Some(200);
                    c.ttfb_ms[r] = Some(300.0);
                    c.process_time_s[r] = Some(1.25);
                    c.response_bytes[r] = 512;
                }
                2 => {
                    c.verdict[r] = Verdict::NoResponse;
                    c.status[r] = Some(500);
                    c.ttfb_ms[r] = Some(10.0);
                    c.response_bytes[r] = 21;
                }
                _ => {
                    c.verdict[r] = Verdict::ResponseEmpty;
                    c.status[r] = Some(200);
                    c.ttfb_ms[r] = Some(12.5);
                    c.process_time_s[r] = Some(0.01);
                    c.response_bytes[r] = 40;
                }
            }
            // Whatever a failed decoder left behind in the slot must never reach the file.
            c.prices[r * slot..(r + 1) * slot].fill(f64::NAN);
        }
    }
    (c, req)
}
