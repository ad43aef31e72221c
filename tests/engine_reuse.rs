//! One engine, many live cycles: the runtime, client and pool are made once, and cycle after
//! cycle grows no thread and no file descriptor. The fleet runs in its own process, so every
//! descriptor and thread counted here is the engine's (this file holds one test: nothing else
//! runs in the process meanwhile).

mod common;

use std::path::Path;
use std::time::Duration;

use synth_forward::procfs::{open_fds, threads};
use synth_forward::request::CycleRequest;
use synth_forward::{Cancel, Engine, LiveOptions, ParquetOptions, ParquetSink};

const CYCLES: usize = 24;

#[test]
fn twenty_cycles_on_one_engine_grow_no_thread_or_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow");
    let request_file = dir.path().join("request.json");
    // The fixture's hanging miners hold each cycle to its 0.4 s deadline.
    let _fleet = common::serve(&fixture, &request_file, &["--time-scale", "0.001"], 0.4, Duration::from_secs(60));
    let request = CycleRequest::from_json(&std::fs::read(&request_file).unwrap()).unwrap();

    let engine = Engine::with_threads(2).unwrap();
    let opts = LiveOptions { max_memory: 1 << 30, ..LiveOptions::default() };
    let parquet = ParquetOptions { overwrite: true, ..ParquetOptions::default() };
    let mut seen = Vec::new();
    let mut first_verdicts = None;
    for cycle in 0..CYCLES {
        let sink = ParquetSink::new(dir.path().join("out"), parquet.clone());
        let out = engine
            .run_requests(&request, common::plain_requests(&request), vec![Box::new(sink)], &Cancel::new(), &opts)
            .unwrap();
        let verdicts = out.summary.verdicts.clone();
        assert_eq!(*first_verdicts.get_or_insert_with(|| verdicts.clone()), verdicts, "cycle {cycle} judged alike");
        seen.push((open_fds().unwrap(), threads().unwrap()));
    }
    // Cycle 1 may still make what lives for the engine's life (the pool's thread-locals, the
    // runtime's driver); from then on nothing may grow.
    let settled = seen[1];
    for (cycle, now) in seen.iter().enumerate().skip(1) {
        assert_eq!(
            *now, settled,
            "cycle {cycle}: (descriptors, threads) {now:?}, settled at {settled:?}; all: {seen:?}"
        );
    }
}
