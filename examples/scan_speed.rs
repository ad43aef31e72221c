use synth_forward::decode::fast;
use synth_forward::request::Expected;
fn main() {
    let mut x: u64 = 12345;
    let mut body = String::from(r#"{"name":"Simulation","timeout":12.0,"total_size":3106,"header_size":0,"dendrite":{"status_code":null},"axon":{"status_code":200,"status_message":"Success","process_time":0.016},"computed_body_hash":"","simulation_input":{"asset":"BTC","start_time":"2026-11-24T14:02:00+00:00","time_increment":60,"time_length":3600,"num_simulations":1000},"simulation_output":[1795528920,60"#);
    for _ in 0..1000 { body.push_str(",["); let mut p = 91234.56f64; for j in 0..61 { if j>0 {body.push(',');} x ^= x<<13; x^=x>>7; x^=x<<17; p *= 1.0 + ((x%2001) as f64 - 1000.0)*1e-6; let m = (p*1000.0).round()/1000.0; body.push_str(&format!("{}", m)); } body.push(']'); }
    body.push_str("]}");
    let e = Expected { start: Some(1795528920), increment: 60, paths: 1000, points: 61 };
    let mut slot = vec![0.0; 61000];
    let b = body.as_bytes();
    let t = std::time::Instant::now();
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    for _ in 0..n { let v = fast::decode(&e, b, &mut slot); assert!(v.unwrap().is_correct()); }
    let dt = t.elapsed().as_secs_f64();
    println!("{} bytes, {:.0} MB/s one core", b.len(), (b.len()*n) as f64 / dt / 1e6);
}
