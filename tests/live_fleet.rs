//! Live cycles over loopback against the fake-miner fleet serving the committed small fixture.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::rows_of;

use synth_forward::fleet::{Fleet, FleetOptions};
use synth_forward::recording::Recording;
use synth_forward::source::replay::replay_to_parquet as replay;
use synth_forward::sink::parquet::ParquetOptions;

fn fixture() -> Recording {
    Recording::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow")).unwrap()
}

#[test]
fn live_cycle_matches_replay_of_its_recording_and_of_the_fixture() {
    let rec = fixture();
    let fleet = Fleet::start(
        &rec,
        FleetOptions { host: "127.0.0.1".parse().unwrap(), base_port: 0, time_scale: 0.001, verify: None, faults: Default::default() },
    )
    .unwrap();
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
    let original = replay(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow"), &dir.path().join("orig"), &ParquetOptions::default()).unwrap();
    assert_eq!(live.verdicts, again.verdicts);
    assert_eq!(live.verdicts, original.verdicts);
    let (a, b, c) = (rows_of(&live.parquet().unwrap()), rows_of(&again.parquet().unwrap()), rows_of(&original.parquet().unwrap()));
    assert_eq!(a, b, "live run and replay of its recording");
    // The same pipeline behind both sources: the replay of a live cycle's recording writes the
    // live file byte for byte (timings, process times and row groups included).
    let (live_bytes, replay_bytes) =
        (std::fs::read(live.parquet().unwrap()).unwrap(), std::fs::read(again.parquet().unwrap()).unwrap());
    assert!(live_bytes == replay_bytes, "live and replayed files differ ({} vs {} bytes)", live_bytes.len(), replay_bytes.len());
    assert_eq!(a, c, "live run and replay of the fixture it served");
    assert!(a.iter().filter(|r| r.verdict == "CORRECT").count() >= 5);
}

#[test]
fn a_verifying_fleet_refuses_unsigned_requests_and_the_cycle_ends_at_its_deadline() {
    let rec = fixture();
    let fleet = Fleet::start(
        &rec,
        FleetOptions {
            host: "127.0.0.1".parse().unwrap(),
            base_port: 0,
            time_scale: 0.001,
            verify: Some(synth_forward::fleet::signature_verifier()),
            faults: Default::default(),
        },
    )
    .unwrap();
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
