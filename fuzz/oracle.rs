//! The checks one fuzz input goes through, shared by the fuzz targets (`fuzz/fuzz_targets/`) and
//! their replay as ordinary tests (`tests/fuzz_regressions.rs`, via `#[path]`), so a crash file
//! is judged the same way in both places. Every failed check panics with what differed.
//!
//! - [`decode_body`]: the bytes are a 200 reply body, decided against a few requests
//!   ([`expecteds`]) by the dispatcher (fast path, then exact) and by the exact path alone. Same
//!   verdict string; for CORRECT, every slot entry written and bit-identical; no write outside
//!   the slot (guard entries on both sides).
//! - [`recording`]: the bytes are a recording file. `Ok` → every row's accessors are walked and
//!   every call decided; `Err` → a one-line message, and never arrow-ipc's caught panic unless
//!   it is one of the [`KNOWN_ARROW_PANICS`].

#![allow(dead_code)] // each user calls one half

use synth_forward::decode::{self, Verdict};
use synth_forward::fixture::Preset;
use synth_forward::recording::Recording;
use synth_forward::request::{Expected, Rules, SimulationInput};

/// Marks slot entries nobody wrote: a NaN payload no parsed price has.
const SENTINEL: u64 = 0x7FF4_DEAD_BEEF_0001;
/// Guard entries before and after the slot, never to be touched.
const GUARD: u64 = 0x7FF4_0BAD_F00D_0002;
const PAD: usize = 16;
/// Larger slots are not tried (a mutated request could ask for gigabytes).
const MAX_SLOT: usize = 1 << 17;

/// The requests a body is decided against, each under the v2 and the v3 rules:
/// - the committed small fixture's (100 paths × 61 points): its bodies are CORRECT for it;
/// - a tiny shape on the same start time (2 paths × 3 points), so a short mutated body can be
///   CORRECT too;
/// - the request the body itself echoes in `"simulation_input":{…}`, when that parses: every
///   conformance case's body echoes its own request, so each seed starts at its real verdict,
///   and a mutated echo gives odd requests (zero or negative increment, bad start time, …).
pub fn expecteds(body: &[u8]) -> Vec<Expected> {
    let spec = Preset::Small.spec();
    let input = |paths: i64, length: i64| SimulationInput {
        asset: spec.asset.clone(),
        start_time: spec.start_time.clone(),
        time_increment: spec.time_increment,
        time_length: length,
        num_simulations: paths,
    };
    let mut inputs = vec![input(spec.paths as i64, spec.time_length), input(2, 2 * spec.time_increment)];
    inputs.extend(echoed_input(body));
    // Every request under both rule sets: the fast path must agree with the exact one in each.
    inputs.iter().flat_map(|si| [Rules::V2, Rules::V3].map(|rules| Expected::from_input(si, rules))).collect()
}

/// The first `"simulation_input"` member's value in the body, read as a [`SimulationInput`].
fn echoed_input(body: &[u8]) -> Option<SimulationInput> {
    const KEY: &[u8] = b"\"simulation_input\"";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &body[at..];
    let colon = rest.iter().position(|&c| !c.is_ascii_whitespace())?;
    if rest[colon] != b':' {
        return None;
    }
    let mut values = serde_json::Deserializer::from_slice(&rest[colon + 1..]).into_iter::<SimulationInput>();
    values.next()?.ok()
}

/// The `decode_body` target's checks on one input.
pub fn decode_body(body: &[u8]) {
    for exp in expecteds(body) {
        decode_one(&exp, body);
    }
}

/// Dispatcher against exact alone, for one request.
pub fn decode_one(exp: &Expected, body: &[u8]) {
    let n = exp.slot_len();
    if n > MAX_SLOT {
        return;
    }
    let run = |f: &dyn Fn(&mut [f64]) -> Verdict| {
        let mut buf = vec![f64::from_bits(GUARD); n + 2 * PAD];
        buf[PAD..PAD + n].fill(f64::from_bits(SENTINEL));
        let v = f(&mut buf[PAD..PAD + n]);
        let untouched = |g: &[f64]| g.iter().all(|x| x.to_bits() == GUARD);
        assert!(
            untouched(&buf[..PAD]) && untouched(&buf[PAD + n..]),
            "a decoder wrote outside the slot ({exp:?}, verdict {:?})",
            v.as_str()
        );
        (v, buf[PAD..PAD + n].to_vec())
    };
    let (dispatched, slot_d) = run(&|s| decode::decode_body(exp, 200, body, s));
    let (exact, slot_e) = run(&|s| decode::exact::decode(exp, 200, body, s));
    assert_eq!(dispatched.as_str(), exact.as_str(), "dispatcher (left) and exact path (right) disagree for {exp:?}");
    if exact == Verdict::Correct {
        for (i, (d, e)) in slot_d.iter().zip(&slot_e).enumerate() {
            assert!(
                e.to_bits() != SENTINEL && d.to_bits() != SENTINEL,
                "CORRECT but slot[{i}] never written (dispatcher {d:e}, exact {e:e}) for {exp:?}"
            );
            assert!(
                d.to_bits() == e.to_bits(),
                "slot[{i}]: dispatcher {d:e} ({:#x}), exact {e:e} ({:#x}) for {exp:?}",
                d.to_bits(),
                e.to_bits()
            );
        }
    }
}

/// Panics raised inside arrow on a hostile file that no check of ours rules out beforehand, and
/// that `Recording::read`'s backstop turns into a one-line error (upstream bugs; see
/// fuzz/README.md). Any other panic the backstop catches is a finding. Empty: the one the fuzzer
/// found (arrow-data viewing an offsets buffer of the wrong length) is refused before arrow sees
/// it since `check_block` learned the buffer layout.
pub const KNOWN_ARROW_PANICS: &[&str] = &[];

/// libFuzzer's panic hook aborts on every panic, even one that `Recording::read` catches. This
/// lets panics raised in arrow's own source unwind to that backstop instead (silently: the
/// oracle judges the error it becomes); every other panic still aborts. Fuzz targets only.
pub fn let_arrow_panics_unwind() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_arrow = info.location().is_some_and(|l| l.file().contains("/arrow-"));
            if !in_arrow {
                abort(info);
            }
        }));
    });
}

/// The `recording_reader` target's checks on one input.
pub fn recording(bytes: &[u8]) {
    let rec = match Recording::from_bytes(bytes) {
        Ok(rec) => rec,
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains("arrow-ipc panicked") || KNOWN_ARROW_PANICS.iter().any(|known| msg.contains(known)),
                "the reader's panic backstop fired: {msg}"
            );
            assert!(!msg.is_empty() && !msg.contains('\n'), "not a one-line error: {msg:?}");
            return;
        }
    };
    assert_eq!(rec.rows(), rec.request.axons.len());
    assert_eq!(rec.file_bytes(), bytes.len() as u64);
    let exp = rec.request.expected();
    let mut slot = vec![0.0; exp.slot_len().min(MAX_SLOT)];
    let mut body_bytes = 0u64;
    for row in 0..rec.rows() {
        let axon = &rec.request.axons[row];
        assert_eq!((rec.uid(row), rec.hotkey(row)), (axon.uid, axon.hotkey.as_str()));
        let call = rec.call(row);
        assert_eq!(call.body, rec.body(row));
        body_bytes += rec.body(row).map_or(0, |b| b.len() as u64);
        let headers = rec.headers(row);
        if let Some(h) = &headers {
            for (name, value) in h {
                assert!(rec.header(row, name).is_some(), "header {name}: {value} not found");
            }
        } else {
            assert_eq!(rec.header(row, "content-type"), None);
        }
        let owned = rec.recorded(row);
        assert_eq!(owned.body.as_deref(), rec.body(row));
        assert_eq!(owned.uid, rec.uid(row));
        if slot.len() == exp.slot_len() {
            decode::decode_call(&exp, &call, &mut slot);
        }
    }
    assert_eq!(rec.body_bytes(), body_bytes);
}
