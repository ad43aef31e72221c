//! Live cycles over loopback against the fake-miner fleet serving the committed small fixture.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::rows_of;

use synth_forward::fleet::{Fleet, FleetOptions};
use synth_forward::recording::Recording;
use synth_forward::sink::parquet::ParquetOptions;
use synth_forward::source::replay::replay_to_parquet as replay;

fn fixture() -> Recording {
    Recording::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow")).unwrap()
}

/// The fixture served on loopback at a thousandth of its recorded pace; `verify`: check every
/// signature (401 on a bad one).
fn serve(rec: &Recording, verify: bool) -> Fleet {
    let verify = verify.then(synth_forward::fleet::signature_verifier);
    let opts = FleetOptions {
        host: "127.0.0.1".parse().unwrap(),
        base_port: 0,
        time_scale: 0.001,
        verify,
        faults: Default::default(),
    };
    Fleet::start(rec, opts).unwrap()
}

#[test]
fn live_cycle_matches_replay_of_its_recording_and_of_the_fixture() {
    let rec = fixture();
    let fleet = serve(&rec, false);
    let mut request = fleet.request().clone();
    // The fixture's hanging miners end the cycle at its deadline: keep it short.
    request.timeout_s = 1.5;
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("live.cycle.arrow");
    let t = Instant::now();
    let live = common::plain_cycle(&request, &dir.path().join("live"), Some(recorded.clone()));
    let took = t.elapsed();
    fleet.stop();
    assert!(took >= Duration::from_millis(1400), "the hanging miners hold the cycle to its deadline");

    let again = replay(&recorded, &dir.path().join("again"), &ParquetOptions::default()).unwrap();
    let original = replay(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow"),
        &dir.path().join("orig"),
        &ParquetOptions::default(),
    )
    .unwrap();
    assert_eq!(live.verdicts, again.verdicts);
    assert_eq!(live.verdicts, original.verdicts);
    let (a, b, c) =
        (rows_of(&live.parquet().unwrap()), rows_of(&again.parquet().unwrap()), rows_of(&original.parquet().unwrap()));
    assert_eq!(a, b, "live run and replay of its recording");
    // The same pipeline behind both sources: the replay of a live cycle's recording writes the
    // live file byte for byte (timings, process times and row groups included).
    let (live_bytes, replay_bytes) =
        (std::fs::read(live.parquet().unwrap()).unwrap(), std::fs::read(again.parquet().unwrap()).unwrap());
    assert!(
        live_bytes == replay_bytes,
        "live and replayed files differ ({} vs {} bytes)",
        live_bytes.len(),
        replay_bytes.len()
    );
    assert_eq!(a, c, "live run and replay of the fixture it served");
    assert!(a.iter().filter(|r| r.verdict == "CORRECT").count() >= 5);
}

#[test]
fn a_verifying_fleet_refuses_unsigned_requests_and_the_cycle_ends_at_its_deadline() {
    let rec = fixture();
    let fleet = serve(&rec, true);
    let mut request = fleet.request().clone();
    request.timeout_s = 1.0;
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let live = common::plain_cycle(&request, dir.path(), None);
    let took = t.elapsed();
    fleet.stop();
    // 401 from every miner that answers; the hanging ones are cut at the deadline.
    assert_eq!(live.verdicts.len(), 1, "{:?}", live.verdicts);
    assert_eq!(live.verdicts["time out or internal server error (process time is None)"], rec.rows());
    // Bounded by the deadline (plus generous room for a loaded CI machine), not by the hang.
    assert!(took < Duration::from_secs(4), "{took:?}");
}

/// A library caller cancels through the token it passed in, from another thread: the calls in
/// flight are dropped at once, the answered miners are kept as a full cycle would keep them, the
/// unfinished ones are `cancelled`, and the file is written whole.
#[test]
fn a_cancel_token_ends_the_cycle_early_and_keeps_what_arrived() {
    use synth_forward::{Cancel, LiveOptions, ParquetSink};
    let rec = fixture();
    let fleet = serve(&rec, false);
    let mut request = fleet.request().clone();
    // Without the cancel, the hanging miners would hold the cycle for a minute.
    request.timeout_s = 60.0;
    let dir = tempfile::tempdir().unwrap();
    let engine = synth_forward::Engine::with_threads(2).unwrap();
    let cancel = Cancel::new();
    let canceller = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            cancel.cancel("operator asked");
        })
    };
    let t = Instant::now();
    let sink = ParquetSink::new(dir.path(), ParquetOptions::default());
    let opts = LiveOptions { max_memory: 1 << 30, ..LiveOptions::default() };
    let out =
        engine.run_requests(&request, common::plain_requests(&request), vec![Box::new(sink)], &cancel, &opts).unwrap();
    let took = t.elapsed();
    canceller.join().unwrap();
    fleet.stop();
    assert!(took < Duration::from_secs(5), "stopped promptly: {took:?}");
    assert_eq!(out.summary.stopped_by.as_deref(), Some("operator asked"));

    let rows = rows_of(&out.summary.parquet().unwrap());
    let clean = rows_of(
        &replay(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow"),
            &dir.path().join("clean"),
            &ParquetOptions::default(),
        )
        .unwrap()
        .parquet()
        .unwrap(),
    );
    assert_eq!(rows.len(), clean.len());
    let mut cancelled = 0;
    for (got, want) in rows.iter().zip(&clean) {
        if got.error.as_deref() == Some("cancelled") {
            cancelled += 1;
            assert_eq!(got.verdict, "time out or internal server error (process time is None)");
            assert_eq!(want.error.as_deref(), Some("timeout"), "only the hanging miners were still out");
        } else {
            assert_eq!(got, want, "an answered miner is kept as in a full cycle");
        }
    }
    assert_eq!(cancelled, clean.iter().filter(|r| r.error.as_deref() == Some("timeout")).count());
}

/// A token cancelled before the cycle starts: no miner is asked, no sink starts, nothing is
/// written (a file of every miner `cancelled` would look like a real cycle).
#[test]
fn a_token_cancelled_before_the_cycle_writes_nothing() {
    use synth_forward::cycle::CycleError;
    use synth_forward::{Cancel, LiveOptions, ParquetSink};
    let rec = fixture();
    let fleet = serve(&rec, false);
    let request = fleet.request().clone();
    let dir = tempfile::tempdir().unwrap();
    let engine = synth_forward::Engine::with_threads(2).unwrap();
    let cancel = Cancel::new();
    cancel.cancel("before");
    let sink = ParquetSink::new(dir.path(), ParquetOptions::default());
    let opts = LiveOptions { max_memory: 1 << 30, ..LiveOptions::default() };
    let out = engine.run_requests(&request, common::plain_requests(&request), vec![Box::new(sink)], &cancel, &opts);
    fleet.stop();
    match out {
        Err(CycleError::Cancelled(reason)) => assert_eq!(reason, "before"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a cancelled cycle ran"),
    }
    assert!(common::tree(dir.path()).is_empty(), "{:?}", common::tree(dir.path()));
}

/// The recording is reported beside the sinks: its path when written, its error when not, and a
/// recording that cannot be written costs only itself (the Parquet file is still written).
#[test]
fn a_recording_that_cannot_be_written_costs_only_itself() {
    use synth_forward::{Cancel, LiveOptions, ParquetSink};
    let rec = fixture();
    let fleet = serve(&rec, false);
    let mut request = fleet.request().clone();
    // The fixture's hanging miners would otherwise hold each cycle for its recorded minute.
    request.timeout_s = 0.5;
    let dir = tempfile::tempdir().unwrap();
    let engine = synth_forward::Engine::with_threads(2).unwrap();
    for (name, record) in
        [("ok", dir.path().join("cycle.arrow")), ("bad", dir.path().join("no-such-folder").join("cycle.arrow"))]
    {
        let sink = ParquetSink::new(dir.path().join(name), ParquetOptions::default());
        let opts = LiveOptions { max_memory: 1 << 30, record: Some(record.clone()), ..LiveOptions::default() };
        let s = engine
            .run_requests(&request, common::plain_requests(&request), vec![Box::new(sink)], &Cancel::new(), &opts)
            .unwrap()
            .summary;
        assert!(s.parquet().unwrap().is_file(), "{name}: the Parquet file is written");
        if name == "ok" {
            assert_eq!(s.outputs["recording"], serde_json::json!(record.display().to_string()));
            assert!(s.sink_errors.is_empty(), "{:?}", s.sink_errors);
        } else {
            assert!(!s.outputs.contains_key("recording"));
            assert!(s.sink_errors["recording"].contains("no-such-folder"), "{:?}", s.sink_errors);
        }
    }
    fleet.stop();
}
