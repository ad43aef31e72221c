//! Hostile miners over loopback: one live cycle per fault (`fleet::Fault`), where the faulty miner
//! gets the Python validator's verdict and every other row is identical to a clean run; then all
//! the faults at once through the binary (`serve --faults` + `run`), with its peak RSS bounded by
//! the preallocated prices plus one body cap per miner.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use common::{Row, rows_of};
use synth_forward::fetch::body_cap;
use synth_forward::fixture::mix::Outcome;
use synth_forward::fixture::{self, Preset};
use synth_forward::fleet::{Fault, FaultMap, Fleet, FleetOptions};
use synth_forward::recording::Recording;
use synth_forward::request::Rules;

const T: &str = "time out or internal server error (process time is None)";
/// Deadline of every cycle here: the recorded timeout row and the hanging faults end at it.
const DEADLINE_S: f64 = 2.0;

/// 28 miners in the hf shape (1000 × 61, so a body cap of ≈ 2.4 MB fits 100 000 keys): 24 CORRECT,
/// one each of timeout, refused, HTTP 500 and wrong start. Generated once per build.
fn recording() -> &'static Recording {
    static REC: OnceLock<Recording> = OnceLock::new();
    REC.get_or_init(|| {
        let path = fixture_path();
        if !path.exists() {
            let mut spec = Preset::Small.spec();
            spec.paths = 1000;
            spec.mix = vec![
                (Outcome::Correct, 24),
                (Outcome::Timeout, 1),
                (Outcome::Connect, 1),
                (Outcome::Http500, 1),
                (Outcome::WrongStart, 1),
            ];
            spec.timeout_s = DEADLINE_S;
            let tmp = path.with_extension("partial");
            fixture::write_spec(&spec, 7, &tmp).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
        Recording::read(&path).unwrap()
    })
}

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-1000x61.cycle.arrow")
}

/// A live cycle against the fleet with `faults`, under today's rules (v3, whatever the cached
/// fixture says); the rows, and the fleet's request counts by uid.
fn cycle(faults: FaultMap) -> (Vec<Row>, Vec<(u16, u64)>) {
    cycle_under(faults, Rules::V3)
}

/// [`cycle`] under the given rules.
fn cycle_under(faults: FaultMap, rules: Rules) -> (Vec<Row>, Vec<(u16, u64)>) {
    let rec = recording();
    let fleet = Fleet::start(
        rec,
        FleetOptions { host: "127.0.0.1".parse().unwrap(), base_port: 0, time_scale: 0.0, verify: None, faults },
    )
    .unwrap();
    let mut request = fleet.request().clone();
    request.timeout_s = DEADLINE_S;
    request.rules = Some(rules);
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let live = common::plain_cycle(&request, dir.path(), None);
    // Whatever the faults do, the cycle ends at its deadline (room for a loaded CI machine).
    assert!(t.elapsed() < Duration::from_secs_f64(DEADLINE_S + 3.0), "{:?}", t.elapsed());
    let hits = request.axons.iter().map(|a| (a.uid, fleet.hits(a.uid))).collect();
    fleet.stop();
    (rows_of(&live.parquet().unwrap()), hits)
}

fn clean() -> &'static Vec<Row> {
    static CLEAN: OnceLock<Vec<Row>> = OnceLock::new();
    CLEAN.get_or_init(|| cycle(FaultMap::new()).0)
}

/// The uids of the clean run's CORRECT rows.
fn correct_uids() -> Vec<u16> {
    clean().iter().filter(|r| r.verdict == "CORRECT").map(|r| r.uid).collect()
}

/// Runs `fault` on the first CORRECT miner; checks every other row against the clean run and
/// returns the faulty row, the clean row of the same miner, and the request counts.
fn with_fault(fault: Fault) -> (Row, Row, Vec<(u16, u64)>) {
    with_fault_on(correct_uids()[0], fault)
}

/// [`with_fault`] on the miner `victim`.
fn with_fault_on(victim: u16, fault: Fault) -> (Row, Row, Vec<(u16, u64)>) {
    with_fault_under(victim, fault, Rules::V3)
}

/// [`with_fault_on`] under the given rules (the clean run's other rows are judged alike by both).
fn with_fault_under(victim: u16, fault: Fault, rules: Rules) -> (Row, Row, Vec<(u16, u64)>) {
    let (rows, hits) = cycle_under(FaultMap::from([(victim, fault)]), rules);
    assert_eq!(rows.len(), clean().len());
    let mut faulty = None;
    for (got, want) in rows.iter().zip(clean()) {
        assert_eq!(got.uid, want.uid);
        if got.uid == victim {
            faulty = Some(got.clone());
        } else {
            assert_eq!(got, want, "{fault}: miner {} differs from the clean run", got.uid);
        }
    }
    let before = clean().iter().find(|r| r.uid == victim).unwrap().clone();
    (faulty.unwrap(), before, hits)
}

/// The faulty row's verdict, status and transport error.
fn expect(row: &Row, verdict: &str, status: Option<u16>, error: Option<&str>) {
    assert_eq!(row.verdict, verdict, "{row:?}");
    assert_eq!(row.status, status, "status of {}", row.uid);
    assert_eq!(row.error.as_deref(), error, "error of {}", row.uid);
    if verdict != "CORRECT" {
        assert!(row.prices.is_empty());
    }
}

#[test]
fn the_clean_run_has_the_expected_mix() {
    let rows = clean();
    assert_eq!(rows.len(), 28);
    assert_eq!(correct_uids().len(), 24);
    assert_eq!(rows.iter().filter(|r| r.verdict == T).count(), 3, "timeout, refused, HTTP 500");
}

#[test]
fn slow_drip_is_cut_at_the_deadline() {
    let (row, _, _) = with_fault(Fault::SlowDrip);
    expect(&row, T, Some(200), Some("timeout"));
    assert!(row.response_bytes < 100, "one byte per 100 ms for ≈ 2 s: {}", row.response_bytes);
}

#[test]
fn stall_after_the_headers_times_out() {
    let (row, _, _) = with_fault(Fault::Stall);
    expect(&row, T, Some(200), Some("timeout"));
}

#[test]
fn reset_mid_body_is_a_reset() {
    let (row, _, _) = with_fault(Fault::ResetMidBody);
    expect(&row, T, Some(200), Some("reset"));
}

#[test]
fn a_body_ten_times_the_cap_is_cut_at_the_cap() {
    let (row, _, _) = with_fault(Fault::Oversize);
    expect(&row, T, Some(200), Some("too_large"));
    let cap = body_cap(&recording().request.shape().unwrap()) as u64;
    assert_eq!(row.response_bytes, cap, "what was read before the cap, not more");
}

#[test]
fn a_miner_recorded_without_a_body_still_floods_and_is_cut() {
    // The fixture's timeout row has no body to repeat: the fleet floods with filler instead.
    let hanging = clean().iter().find(|r| r.error.as_deref() == Some("timeout")).unwrap().uid;
    let (row, _, _) = with_fault_on(hanging, Fault::Oversize);
    expect(&row, T, Some(200), Some("too_large"));
}

#[test]
fn compression_bombs_are_never_inflated() {
    for fault in [Fault::GzipBomb, Fault::DeflateBomb] {
        let (row, _, _) = with_fault(fault);
        // httpx would inflate 256 MiB of zeros and fail to parse them: `T`. We keep the raw bytes.
        expect(&row, T, Some(200), None);
        assert!(row.response_bytes < 1 << 20, "{fault}: {} bytes, the compressed size", row.response_bytes);
    }
}

#[test]
fn lying_chunk_sizes_are_a_protocol_error() {
    let (row, _, _) = with_fault(Fault::LyingChunked);
    expect(&row, T, Some(200), Some("protocol"));
}

#[test]
fn content_length_larger_than_the_body_is_a_reset() {
    let (row, _, _) = with_fault(Fault::LengthOver);
    expect(&row, T, Some(200), Some("reset"));
}

#[test]
fn content_length_smaller_than_the_body_truncates_it() {
    let (row, before, _) = with_fault(Fault::LengthUnder);
    expect(&row, T, Some(200), None);
    assert_eq!(row.response_bytes, before.response_bytes / 2);
}

#[test]
fn invalid_utf8_fails_the_reply() {
    let (row, before, _) = with_fault(Fault::InvalidUtf8);
    expect(&row, T, Some(200), None);
    assert_eq!(row.response_bytes, before.response_bytes + 1);
}

#[test]
fn nan_and_infinity_prices_fail_v3_and_pass_v2_as_python_floats() {
    // v3: a non-finite price fails rule c, the first one (NaN) quoted as Python prints it.
    let (row, _, _) = with_fault(Fault::NanPrices);
    expect(&row, "Price format is incorrect: non-finite value nan", Some(200), None);
    // v2: `float('nan')` is a float and `str(nan)` has 3 characters: rules 14 and 15 both pass.
    let (row, before, _) = with_fault_under(correct_uids()[0], Fault::NanPrices, Rules::V2);
    expect(&row, "CORRECT", Some(200), None);
    assert!(f64::from_bits(row.prices[0]).is_nan());
    assert_eq!(f64::from_bits(row.prices[1]), f64::INFINITY);
    assert_eq!(f64::from_bits(row.prices[2]), f64::NEG_INFINITY);
    assert_eq!(row.prices[3..], before.prices[3..], "every other price as in the clean run");
}

#[test]
fn a_hundred_thousand_nested_arrays_fail_without_crashing() {
    let (row, _, _) = with_fault(Fault::DeepNesting);
    // Python's json recursion limit: deeper than ~1000 levels is `T`.
    expect(&row, T, Some(200), None);
}

#[test]
fn a_hundred_thousand_keys_are_read_through() {
    // Unknown members are ignored by the synapse model; the `simulation_output: null` that
    // follows them is still found: "Response is empty", as in Python.
    let (row, _, _) = with_fault(Fault::ManyKeys);
    expect(&row, "Response is empty", Some(200), None);
    assert!(row.response_bytes > 1_000_000, "{}", row.response_bytes);
}

#[test]
fn a_one_megabyte_header_block_is_a_protocol_error() {
    let (row, _, _) = with_fault(Fault::HugeHeaders);
    expect(&row, T, None, Some("protocol"));
}

#[test]
fn garbage_instead_of_http_is_a_protocol_error() {
    let (row, _, _) = with_fault(Fault::Garbage);
    expect(&row, T, None, Some("protocol"));
}

#[test]
fn an_informational_reply_then_nothing_times_out() {
    let (row, _, _) = with_fault(Fault::Informational);
    expect(&row, T, None, Some("timeout"));
}

#[test]
fn a_redirect_is_never_followed() {
    let target = correct_uids()[1];
    let (row, _, hits) = with_fault(Fault::Redirect(target));
    expect(&row, T, Some(307), None);
    let target_hits = hits.iter().find(|(u, _)| *u == target).unwrap().1;
    assert_eq!(target_hits, 1, "the redirect's target got only its own request");
}

#[test]
fn a_valid_body_for_another_input_fails_the_start_time_check() {
    let (row, _, _) = with_fault(Fault::OtherInput);
    let e = recording().request.shape().unwrap().start_unix;
    expect(&row, &format!("Start time timestamp is incorrect: expected {e}, got {}", e + 3600), Some(200), None);
}

#[test]
fn another_miners_body_is_accepted_as_is() {
    let other = correct_uids()[1];
    let (row, _, _) = with_fault(Fault::DuplicateBody(other));
    expect(&row, "CORRECT", Some(200), None);
    let theirs = clean().iter().find(|r| r.uid == other).unwrap();
    assert_eq!(row.prices, theirs.prices);
    assert_eq!(row.response_bytes, theirs.response_bytes);
}

/// `serve [--faults]` the recording and `run` one signed cycle against it, through the binary;
/// the summary line and the rows.
fn through_the_binary(faults: Option<&serde_json::Map<String, serde_json::Value>>) -> (serde_json::Value, Vec<Row>) {
    through_the_binary_with(faults, "v3", &[])
}

/// [`through_the_binary`] under `rules`, with `extra` arguments to `run`.
fn through_the_binary_with(
    faults: Option<&serde_json::Map<String, serde_json::Value>>,
    rules: &str,
    extra: &[&str],
) -> (serde_json::Value, Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let request_file = dir.path().join("request.json");
    let faults_file = dir.path().join("faults.json");
    let mut args = vec!["--time-scale", "0", "--rules", rules];
    if let Some(f) = faults {
        std::fs::write(&faults_file, serde_json::Value::Object(f.clone()).to_string()).unwrap();
        args.extend(["--faults", faults_file.to_str().unwrap()]);
    }
    let serve = common::serve(&fixture_path(), &request_file, &args, DEADLINE_S, Duration::from_secs(60));

    let wallets = common::wallet(dir.path());
    let out = common::run_command(&request_file, &dir.path().join("out"), &wallets, extra).output().unwrap();
    drop(serve);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows_of(Path::new(summary["parquet"].as_str().unwrap()));
    (summary, rows)
}

/// Every fault at once, through the binary: `serve --faults` and `run`. Each faulty miner gets the
/// verdict its own test pins, and hostile miners cost at most their body caps in memory: the
/// run's peak RSS stays within a clean run's plus one cap per faulty miner, and within the
/// preallocated prices plus one cap per miner plus a fixed allowance for the process itself.
/// Every fault, each on its own CORRECT miner of the clean run (uid → fault name, as `serve
/// --faults` reads it).
fn every_fault() -> serde_json::Map<String, serde_json::Value> {
    let uids = correct_uids();
    let (a, b) = (uids[uids.len() - 1], uids[uids.len() - 2]);
    let mut faults = serde_json::Map::new();
    for (i, f) in Fault::ALL.into_iter().enumerate() {
        let f = match f {
            Fault::Redirect(_) => Fault::Redirect(a),
            Fault::DuplicateBody(_) => Fault::DuplicateBody(b),
            f => f,
        };
        faults.insert(uids[i].to_string(), f.to_string().into());
    }
    faults
}

#[test]
fn all_faults_at_once_through_the_binary_with_bounded_memory() {
    let rec = recording();
    let faults = every_fault();
    let (clean_summary, _) = through_the_binary(None);
    let (summary, rows) = through_the_binary(Some(&faults));

    let verdict_of = |uid: u16| rows.iter().find(|r| r.uid == uid).unwrap().verdict.clone();
    for (uid, fault) in &faults {
        let fault = fault.as_str().unwrap();
        let v = verdict_of(uid.parse().unwrap());
        match fault.split(':').next().unwrap() {
            "nan_prices" => assert_eq!(v, "Price format is incorrect: non-finite value nan"),
            "duplicate_body" => assert_eq!(v, "CORRECT", "{fault}"),
            "many_keys" => assert_eq!(v, "Response is empty"),
            "other_input" => assert!(v.starts_with("Start time timestamp is incorrect"), "{fault}: {v}"),
            _ => assert_eq!(v, T, "{fault}"),
        }
    }
    for r in &rows {
        if !faults.contains_key(&r.uid.to_string()) {
            assert_eq!(Some(r), clean().iter().find(|c| c.uid == r.uid), "a miner without a fault");
        }
    }

    let shape = rec.request.shape().unwrap();
    let cap = body_cap(&shape) as u64;
    let prices = (rows.len() * shape.slot_len() * 8) as u64;
    let allowance = 96u64 << 20;
    let peak = summary["peak_rss_bytes"].as_u64().expect("run reports its peak RSS");
    let clean_peak = clean_summary["peak_rss_bytes"].as_u64().unwrap();
    let mb = |x: u64| x as f64 / 1e6;
    eprintln!(
        "peak RSS {:.1} MB with {} faulty miners, {:.1} MB clean; cap {:.2} MB; prices {:.1} MB",
        mb(peak),
        faults.len(),
        mb(clean_peak),
        mb(cap),
        mb(prices)
    );
    assert!(peak <= clean_peak + faults.len() as u64 * cap, "hostile miners cost more than their caps");
    assert!(peak <= prices + rows.len() as u64 * cap + allowance, "peak RSS {peak} over the absolute bound");
}

/// Every fault at once, saved into the validator's tables: each queried miner (with a `miners`
/// row) gets exactly one row holding its verdict, whatever its bytes were; the one price JSON
/// cannot hold (`nan_prices`, CORRECT under v2) costs only that row's prediction (`[]`, counted
/// as unstorable); every stored prediction is already in jsonb's own rendering.
#[test]
fn all_faults_at_once_into_postgres() {
    let rec = recording();
    let faults = every_fault();
    let pg = common::postgres::Postgres::start();
    for rules in ["v2", "v3"] {
        let db = pg.database();
        let miners: Vec<String> = (0..rec.rows()).map(|r| format!("({}, 'hk')", rec.uid(r))).collect();
        pg.psql_in(&db, &format!("INSERT INTO miners (miner_uid, hotkey) VALUES {};", miners.join(", ")));
        let url = pg.tcp_url(&db);
        let (summary, rows) = through_the_binary_with(Some(&faults), rules, &["--postgres", &url]);
        let p = &summary["postgres"];
        assert_eq!(p["rows"], rows.len(), "{summary}");
        assert_eq!(p["attempts"], 1, "{summary}");
        assert_eq!(p["unstorable"], u64::from(rules == "v2"), "{rules}: {summary}");
        let stored = pg.psql_in(
            &db,
            "COPY (SELECT miner_uid, format_validation, prediction::text = '[]', \
             prediction::jsonb::text = prediction::text FROM miner_predictions ORDER BY miner_uid) TO STDOUT",
        );
        let stored: Vec<Vec<String>> = stored.lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect();
        assert_eq!(stored.len(), rows.len());
        let nan_uid = faults.iter().find(|(_, f)| f.as_str() == Some("nan_prices")).map(|(u, _)| u.clone());
        for (row, s) in rows.iter().zip(&stored) {
            assert_eq!(s[0], row.uid.to_string());
            assert_eq!(s[1], row.verdict, "uid {}", row.uid);
            let unstorable = Some(row.uid.to_string()) == nan_uid && rules == "v2";
            let empty = row.verdict != "CORRECT" || unstorable;
            assert_eq!(s[2], if empty { "t" } else { "f" }, "{rules}: uid {} ({})", row.uid, row.verdict);
            assert_eq!(s[3], "t", "uid {}: not jsonb's rendering", row.uid);
        }
    }
}
