//! The fused scanner alone on one synthetic 605 KB body (1000 paths × 61 BTC-like prices), for
//! instruction counts and quick MB/s checks of `decode::fast`.
//!
//! ```sh
//! cargo run --release --example scan_speed                  # MB/s on one core (noisy on shared VMs)
//! N=10 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!     ./target/release/examples/scan_speed                  # then: callgrind_annotate /tmp/cg.out | grep fast::
//! ```
//! `N` is the number of decodes (default 200); 10 decodes are 610,000 prices. `RULES=v2` judges
//! by the v2 rules (default v3), to compare the two.

use synth_forward::decode::fast;
use synth_forward::request::{Expected, Rules};

const START: i64 = 1_795_528_920;

/// A compact Axon-layout body whose prices random-walk around 91234.56 with three decimals.
fn body() -> String {
    let mut x: u64 = 12345;
    let mut body = String::from(concat!(
        r#"{"name":"Simulation","timeout":12.0,"total_size":3106,"header_size":0,"#,
        r#""dendrite":{"status_code":null},"axon":{"status_code":200,"status_message":"Success","process_time":0.016},"#,
        r#""computed_body_hash":"","simulation_input":{"asset":"BTC","start_time":"2026-11-24T14:02:00+00:00","#,
        r#""time_increment":60,"time_length":3600,"num_simulations":1000},"simulation_output":[1795528920,60"#
    ));
    for _ in 0..1000 {
        body.push_str(",[");
        let mut p = 91234.56f64;
        for j in 0..61 {
            if j > 0 {
                body.push(',');
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p *= 1.0 + ((x % 2001) as f64 - 1000.0) * 1e-6;
            body.push_str(&format!("{}", (p * 1000.0).round() / 1000.0));
        }
        body.push(']');
    }
    body.push_str("]}");
    body
}

fn main() {
    let body = body();
    let rules: Rules = std::env::var("RULES").map_or(Ok(Rules::V3), |r| r.parse()).expect("RULES is v2 or v3");
    let exp = Expected { start: Some(START), increment: 60, paths: 1000, points: 61, rules };
    let mut slot = vec![0.0; exp.slot_len()];
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let t = std::time::Instant::now();
    for _ in 0..n {
        let verdict = fast::decode(&exp, body.as_bytes(), &mut slot).expect("the fast path decides this body");
        assert!(verdict.is_correct());
    }
    let secs = t.elapsed().as_secs_f64();
    println!("{} bytes, {:.0} MB/s one core, rules {rules}", body.len(), (body.len() * n) as f64 / secs / 1e6);
}
