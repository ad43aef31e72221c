//! The save phase against a real PostgreSQL server holding the validator's schema: the rows a
//! cycle stores are the validator's own (checked against CPython's `json.dumps` cast with
//! `::jsonb` by the same server, and read back with `json.loads`), and every database fault leaves
//! the cycle stored whole or not at all, with the Parquet file written and a distinct exit code.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::postgres::{Postgres, free_port};
use common::{BIN, python};

fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow")
}

fn small_uids() -> Vec<u16> {
    let rec = synth_forward::recording::Recording::read(&small()).unwrap();
    let mut uids: Vec<u16> = (0..rec.rows()).map(|r| rec.uid(r)).collect();
    uids.sort_unstable();
    uids
}

/// `miners` rows for `uids` (two for the first: an older and a newer one, the newer by
/// `updated_at` though its id is lower, so "newest" cannot be confused with "largest id").
fn add_miners(pg: &Postgres, db: &str, uids: &[u16]) {
    let mut sql = String::new();
    for (i, uid) in uids.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO miners (id, miner_uid, hotkey, updated_at) VALUES ({}, {uid}, 'hk{uid}', '2026-01-01');\n",
            1000 + i
        ));
    }
    if let Some(first) = uids.first() {
        sql.push_str(&format!(
            "UPDATE miners SET updated_at = '2026-06-01' WHERE id = 1000;\n\
             INSERT INTO miners (id, miner_uid, hotkey, updated_at) VALUES (5000, {first}, 'old', '2025-01-01');\n"
        ));
    }
    pg.psql_in(db, &sql);
}

/// A server, a fresh database, and a `miners` row for every uid of the small fixture.
fn with_all_miners() -> (Postgres, String, Vec<u16>) {
    let pg = Postgres::start();
    let db = pg.database();
    let uids = small_uids();
    add_miners(&pg, &db, &uids);
    (pg, db, uids)
}

fn replay(out: &Path, args: &[&str]) -> (Output, serde_json::Value) {
    let o = Command::new(BIN).arg("replay").arg(small()).arg("--out").arg(out).args(args).output().unwrap();
    let line = String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or("").to_owned();
    let summary = serde_json::from_str(&line).unwrap_or(serde_json::Value::Null);
    (o, summary)
}

/// `replay` of the small fixture in the background, its output piped.
fn spawn_replay(out: &Path, args: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .arg("replay")
        .arg(small())
        .arg("--out")
        .arg(out)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn count(pg: &Postgres, db: &str, table: &str) -> usize {
    pg.psql_in(db, &format!("SELECT count(*) FROM {table}")).trim().parse().unwrap()
}

fn parquet_file(out: &Path) -> PathBuf {
    let mut found = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                found.push(p);
            }
        }
    }
    assert_eq!(found.len(), 1, "one cycle file under {}: {found:?}", out.display());
    found.pop().unwrap()
}

/// The check of the stored rows against the validator's own path, in CPython: for each row of the
/// cycle file, the reply a CORRECT miner gave (`[start, increment, path…]` from the file's
/// prices), `json.dumps` of it, and whether `json.loads` of the stored text equals it.
const CHECK_PY: &str = r#"
import json, sys
import pyarrow.parquet as pq
path, stored_path = sys.argv[1], sys.argv[2]
t = pq.read_table(path)
req = json.loads(pq.ParquetFile(path).metadata.metadata[b"synth.request"])
si = req["simulation_input"]
stored = {}
for line in open(stored_path, encoding="utf-8"):
    uid, vr, fv, pt, text = line.rstrip("\n").split("\t", 4)
    stored[int(uid)] = (fv, pt, text)
start = int(t.column("start_time")[0].value // 1_000_000)
out = []
for row in t.to_pylist():
    uid = row["uid"]
    if uid not in stored:
        out.append(f"{uid}\tSKIPPED")
        continue
    fv, pt, text = stored[uid]
    assert fv == row["format_validation"], (uid, fv, row["format_validation"])
    want_pt = "" if row["process_time_s"] is None else repr(row["process_time_s"])
    assert pt == want_pt, (uid, pt, want_pt)
    if row["format_validation"] == "CORRECT":
        reply = [start, si["time_increment"], *row["paths"]]
    else:
        reply = []
    assert json.loads(text) == reply, uid
    out.append(f"{uid}\t{json.dumps(reply)}")
print("\n".join(out))
"#;

/// Every stored row equals what the validator stores: `prediction::text` byte for byte against
/// the server's own `::jsonb` cast of `json.dumps`, the verdict, the process time, the newest
/// miner id; uids without a miners row skipped.
fn check_rows_against_python(pg: &Postgres, db: &str, file: &Path, vr_id: i64) {
    let stored = pg.psql_in(
        db,
        &format!(
            "COPY (SELECT miner_uid, validator_requests_id, format_validation, coalesce(process_time::text, ''), \
             prediction::text FROM miner_predictions WHERE validator_requests_id = {vr_id}) TO STDOUT"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let stored_path = dir.path().join("stored.tsv");
    std::fs::write(&stored_path, &stored).unwrap();
    let script = dir.path().join("check.py");
    std::fs::write(&script, CHECK_PY).unwrap();
    let o = Command::new(python()).arg(&script).arg(file).arg(&stored_path).output().unwrap();
    assert!(o.status.success(), "python check: {}", stderr(&o));
    let text_of: std::collections::HashMap<u16, String> = stored
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            (f[0].parse().unwrap(), f[4].to_owned())
        })
        .collect();
    let mut compared = 0;
    for line in String::from_utf8(o.stdout).unwrap().lines() {
        let (uid, dumped) = line.split_once('\t').unwrap();
        if dumped == "SKIPPED" {
            continue;
        }
        let uid: u16 = uid.parse().unwrap();
        let cast = pg.psql_in(db, &format!("SELECT $j${dumped}$j$::jsonb::text"));
        assert_eq!(cast.trim_end(), text_of[&uid], "uid {uid}: our text differs from the server's ::jsonb");
        compared += 1;
    }
    assert_eq!(compared, text_of.len());
}

#[test]
fn replay_stores_the_validators_rows() {
    let pg = Postgres::start();
    let db = pg.database();
    let uids = small_uids();
    let skipped = uids[uids.len() / 2];
    let with_miners: Vec<u16> = uids.iter().copied().filter(|&u| u != skipped).collect();
    add_miners(&pg, &db, &with_miners);
    let out = tempfile::tempdir().unwrap();
    let url = pg.tcp_url(&db);
    let (o, s) = replay(out.path(), &["--postgres", &url]);
    assert!(o.status.success(), "replay failed: {}", stderr(&o));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(!all.contains("hunter2"), "the password was printed: {all}");
    let p = &s["postgres"];
    assert_eq!(p["rows"], with_miners.len(), "{s}");
    assert_eq!(p["skipped_uids"], serde_json::json!([skipped]));
    assert_eq!(p["attempts"], 1);
    assert_eq!(p["from"], "stream");
    assert_eq!(p["url"], url.replace("hunter2", "***"));
    let vr_id = p["validator_requests_id"].as_i64().unwrap();
    assert_eq!(count(&pg, &db, "validator_requests"), 1);
    assert_eq!(count(&pg, &db, "miner_predictions"), with_miners.len());
    // The validator_requests row: the request's values.
    let file = parquet_file(out.path());
    let vr = pg.psql_in(
        &db,
        "SELECT asset, time_increment, time_length, num_simulations, extract(epoch FROM start_time)::bigint, \
         request_time IS NOT NULL FROM validator_requests",
    );
    let rec = synth_forward::recording::Recording::read(&small()).unwrap();
    let si = &rec.request.simulation_input;
    let start = synth_forward::request::isotime::fromisoformat_timestamp(&si.start_time).unwrap();
    assert_eq!(
        vr.trim(),
        format!("{}|{}|{}|{}|{start}|t", si.asset, si.time_increment, si.time_length, si.num_simulations)
    );
    // The newest miners row by updated_at, not the largest id.
    let first = with_miners[0];
    let mid = pg.psql_in(&db, &format!("SELECT miner_id FROM miner_predictions WHERE miner_uid = {first}"));
    assert_eq!(mid.trim(), "1000");
    check_rows_against_python(&pg, &db, &file, vr_id);
}

/// What the proxy does to the first connection once the client has sent `after` bytes.
#[derive(Clone, Copy)]
enum Fault {
    /// Reset both sockets (a network drop mid-COPY).
    Cut { after: usize },
    /// Stop forwarding the client's bytes for a while (the server's answers still flow).
    Pause { after: usize, for_: Duration },
}

/// A loopback TCP proxy in front of the server: the first connection suffers `fault`, every later
/// one passes untouched. Runs until the test ends (its threads are detached).
fn proxy(to_port: u16, fault: Fault) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", to_port)) else { continue };
            let fault = (n == 0).then_some(fault);
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            // Server → client, untouched.
            std::thread::spawn(move || pump(s2, c2, None));
            std::thread::spawn(move || pump(client, server, fault));
        }
    });
    port
}

fn pump(mut from: TcpStream, mut to: TcpStream, fault: Option<Fault>) {
    let mut buf = [0u8; 16 << 10];
    let mut sent = 0usize;
    let mut fault = fault;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match fault {
            Some(Fault::Cut { after }) if sent + n >= after => {
                let _ = to.write_all(&buf[..after.saturating_sub(sent)]);
                let _ = from.shutdown(std::net::Shutdown::Both);
                let _ = to.shutdown(std::net::Shutdown::Both);
                return;
            }
            Some(Fault::Pause { after, for_ }) if sent + n >= after => {
                std::thread::sleep(for_);
                fault = None;
            }
            _ => {}
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n;
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// A URL of database `db` through a [`proxy`] that does `fault` to the first connection.
fn behind_proxy(pg: &Postgres, db: &str, fault: Fault) -> String {
    format!("postgresql://postgres@127.0.0.1:{}/{db}", proxy(pg.port(), fault))
}

/// The database holds nothing of any cycle.
fn assert_empty(pg: &Postgres, db: &str) {
    assert_eq!(count(pg, db, "validator_requests"), 0, "a half-saved cycle is visible");
    assert_eq!(count(pg, db, "miner_predictions"), 0, "a half-saved cycle is visible");
}

/// The database holds exactly one cycle, whole.
fn assert_one_cycle(pg: &Postgres, db: &str, rows: usize) {
    assert_eq!(count(pg, db, "validator_requests"), 1);
    assert_eq!(count(pg, db, "miner_predictions"), rows);
}

/// The cycle file is there and whole (every miner's row reads back).
fn assert_file_whole(out: &Path) {
    let file = parquet_file(out);
    let f = std::fs::File::open(&file).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(f).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows() as usize, small_uids().len());
}

#[test]
fn an_unreachable_database_costs_only_the_save_and_load_stores_it_later() {
    let (pg, db, uids) = with_all_miners();
    let out = tempfile::tempdir().unwrap();
    let nobody = format!("postgresql://postgres:hunter2@127.0.0.1:{}/{db}", free_port());
    let (o, s) = replay(out.path(), &["--postgres", &nobody, "--postgres-backoff", "0.05"]);
    assert_eq!(o.status.code(), Some(3), "exit code of a failed save: {}", stderr(&o));
    let err = s["sink_errors"]["postgres"].as_str().unwrap();
    assert!(err.contains("3 attempts failed") && err.contains("connecting to"), "{err}");
    assert!(!format!("{s}{}", stderr(&o)).contains("hunter2"));
    assert!(s["parquet"].is_string(), "{s}");
    assert_file_whole(out.path());

    // After the outage: `load` stores the cycle from its file, once.
    let file = parquet_file(out.path());
    let load = |env_url: &str| {
        Command::new(BIN).arg("load").arg(&file).env("SYNTH_FORWARD_POSTGRES", env_url).output().unwrap()
    };
    let o = load(&pg.tcp_url(&db));
    assert!(o.status.success(), "load: {}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["rows"], uids.len());
    assert_one_cycle(&pg, &db, uids.len());
    check_rows_against_python(&pg, &db, &file, s["validator_requests_id"].as_i64().unwrap());
    let again = load(&pg.tcp_url(&db));
    assert_eq!(again.status.code(), Some(3));
    let s: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(s["already_saved"], true, "{s}");
    assert!(stderr(&again).contains("already holds this cycle"), "{}", stderr(&again));
    assert_one_cycle(&pg, &db, uids.len());
}

#[test]
fn a_server_back_during_the_backoff_gets_the_cycle_from_the_file() {
    let (pg, db, uids) = with_all_miners();
    pg.stop();
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn_replay(out.path(), &["--postgres", &pg.tcp_url(&db), "--postgres-backoff", "4"]);
    // The first attempt has failed once the warning is out; bring the server back.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let t = Instant::now();
    while !seen.contains("retrying from the decoded rows") {
        assert!(t.elapsed() < Duration::from_secs(60), "no retry announced: {seen}");
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut err, &mut line).unwrap() == 0 {
            panic!("replay ended early: {seen}");
        }
        seen.push_str(&line);
    }
    pg.start_server();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{seen}");
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["postgres"]["attempts"], 2, "{s}");
    assert_eq!(s["postgres"]["from"], "parquet");
    assert!(s["postgres"]["errors"][0].as_str().unwrap().contains("connecting to"), "{s}");
    assert_one_cycle(&pg, &db, uids.len());
    check_rows_against_python(
        &pg,
        &db,
        &parquet_file(out.path()),
        s["postgres"]["validator_requests_id"].as_i64().unwrap(),
    );
}

#[test]
fn a_constraint_violation_rolls_the_whole_cycle_back() {
    let (pg, db, uids) = with_all_miners();
    let last = uids[uids.len() - 1];
    pg.psql_in(&db, &format!("ALTER TABLE miner_predictions ADD CONSTRAINT refuse_one CHECK (miner_uid <> {last})"));
    let out = tempfile::tempdir().unwrap();
    let (o, s) = replay(out.path(), &["--postgres", &pg.tcp_url(&db), "--postgres-backoff", "0.05"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = s["sink_errors"]["postgres"].as_str().unwrap();
    assert_eq!(err.matches("violates check constraint \"refuse_one\"").count(), 3, "{err}");
    assert_empty(&pg, &db);
    assert_file_whole(out.path());
}

#[test]
fn a_connection_dropped_mid_copy_is_retried_from_the_file() {
    let (pg, db, uids) = with_all_miners();
    let url = behind_proxy(&pg, &db, Fault::Cut { after: 40_000 });
    let out = tempfile::tempdir().unwrap();
    let (o, s) = replay(out.path(), &["--postgres", &url, "--postgres-backoff", "0.05"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = &s["postgres"];
    assert_eq!(p["attempts"], 2, "{s}");
    assert_eq!(p["from"], "parquet");
    assert_eq!(p["errors"].as_array().unwrap().len(), 1);
    assert_one_cycle(&pg, &db, uids.len());
    check_rows_against_python(&pg, &db, &parquet_file(out.path()), p["validator_requests_id"].as_i64().unwrap());
}

#[test]
fn a_statement_timeout_on_the_streaming_copy_is_retried_from_the_file() {
    let (pg, db, uids) = with_all_miners();
    pg.psql_in(&db, &format!("ALTER DATABASE {db} SET statement_timeout = '2s'"));
    // The first COPY stalls past the timeout (as a COPY riding a long network wait would).
    let url = behind_proxy(&pg, &db, Fault::Pause { after: 40_000, for_: Duration::from_secs(4) });
    let out = tempfile::tempdir().unwrap();
    let (o, s) = replay(out.path(), &["--postgres", &url, "--postgres-backoff", "0.05"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = &s["postgres"];
    assert_eq!(p["attempts"], 2, "{s}");
    assert!(p["errors"][0].as_str().unwrap().contains("statement timeout"), "{s}");
    assert_one_cycle(&pg, &db, uids.len());
}

#[test]
fn a_server_restarted_mid_cycle_gets_the_cycle_on_retry() {
    let (pg, db, uids) = with_all_miners();
    let url = behind_proxy(&pg, &db, Fault::Pause { after: 40_000, for_: Duration::from_secs(3) });
    let out = tempfile::tempdir().unwrap();
    let child = spawn_replay(out.path(), &["--postgres", &url, "--postgres-backoff", "2"]);
    // While the first COPY is stalled, the server goes down hard and comes back.
    std::thread::sleep(Duration::from_millis(1000));
    pg.stop();
    pg.start_server();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &s["postgres"];
    assert_eq!(p["attempts"], 2, "{s}");
    assert_eq!(p["from"], "parquet");
    assert_one_cycle(&pg, &db, uids.len());
}

/// Every conformance body of both rule sets through the decoder into a real `COPY`, one save per
/// case (each has its own request): each row lands, its verdict comes back byte for byte, and its
/// prediction is `[]` unless CORRECT (and storable), when it is already jsonb's own rendering and
/// holds the slot's prices, ints as ints exactly where the reply's value is a Python int.
#[test]
fn every_conformance_body_is_stored_whole_and_exact() {
    use synth_forward::call::RawCall;
    use synth_forward::columns::RowText;
    use synth_forward::decode::{self, PriceForm, Verdict};
    use synth_forward::request::{Expected, Rules, SimulationInput, isotime};
    use synth_forward::sink::postgres::{CycleRow, DbUrl, Save, SaveOptions, Storage};

    let pg = Postgres::start();
    let db = pg.database();
    pg.psql_in(&db, "INSERT INTO miners (miner_uid, hotkey) VALUES (1, 'hk');");
    let url = DbUrl::parse(&pg.tcp_url(&db)).unwrap();
    let opts = SaveOptions { storage: Storage::Json, connect_timeout: Duration::from_secs(10), refuse_existing: false };
    let mut want = Vec::new();
    for rules in [Rules::V2, Rules::V3] {
        for case in common::corpus::all_cases(rules) {
            let Ok(si) = serde_json::from_value::<SimulationInput>(case.input.clone()) else { continue };
            let exp = Expected::from_input(&si, rules);
            let mut slot = vec![0.0; exp.slot_len()];
            let mut ints = Vec::new();
            let call = RawCall {
                status: Some(case.status),
                error: None,
                ttfb_ms: None,
                elapsed_ms: 1.0,
                body: Some(&case.body),
            };
            let (verdict, form) = decode::decode_call_traced(&exp, &call, &mut slot, &mut ints);
            assert_eq!(verdict.as_str(), case.expected, "{}", case.name);
            let text = match &form {
                PriceForm::Tokens(span) => RowText::Tokens(&case.body[span.clone()]),
                _ if !ints.is_empty() => RowText::Ints(&ints),
                _ => RowText::Doubles,
            };
            // The validator_requests row needs a storable start and ints that fit; a reply that
            // is not CORRECT never prints them, so such requests get stand-ins.
            let correct = verdict == Verdict::Correct;
            let storable_start = isotime::parse(&si.start_time).and_then(|d| d.timestamp()).is_some();
            let fits = |v: i64| i32::try_from(v).is_ok();
            let row = if storable_start && fits(si.time_increment) && fits(si.time_length) && fits(si.num_simulations) {
                CycleRow {
                    start_time: si.start_time.clone(),
                    asset: si.asset.replace('\0', ""),
                    time_increment: si.time_increment,
                    time_length: si.time_length,
                    num_simulations: si.num_simulations,
                    request_time: "2026-12-04T00:00:00+00:00".into(),
                    start_unix: exp.start.unwrap_or(0),
                    points: usize::try_from(exp.points).unwrap_or(0),
                }
            } else {
                assert!(!correct, "{}: a CORRECT case with an unstorable request", case.name);
                CycleRow {
                    start_time: "2026-01-01T00:00:00+00:00".into(),
                    asset: "X".into(),
                    time_increment: 1,
                    time_length: 1,
                    num_simulations: 0,
                    request_time: "2026-12-04T00:00:00+00:00".into(),
                    start_unix: 0,
                    points: 0,
                }
            };
            let save = Save::open(&url, &row, &opts).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let prices = correct.then_some(&slot[..]);
            save.row(1, verdict.as_str(), Some(0.25), prices, text).unwrap();
            let c = save.commit().unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(c.rows, 1, "{}", case.name);
            let unstorable = correct && slot.iter().any(|p| !p.is_finite());
            assert_eq!(c.unstorable, u64::from(unstorable), "{}", case.name);
            let int_at: std::collections::HashSet<usize> = match &form {
                PriceForm::Tokens(span) => token_ints(&case.body[span.clone()]),
                _ => ints.iter().map(|&k| k as usize).collect(),
            };
            want.push((
                c.validator_requests_id,
                case.name,
                case.expected,
                (correct && !unstorable).then_some(slot),
                int_at,
            ));
        }
    }
    assert!(want.len() > 1000, "only {} cases ran", want.len());
    let stored = pg.psql_in(
        &db,
        "COPY (SELECT validator_requests_id, format_validation, prediction::jsonb::text = prediction::text, \
         prediction::text FROM miner_predictions) TO STDOUT",
    );
    let stored: std::collections::HashMap<i64, Vec<String>> = stored
        .lines()
        .map(|l| {
            let f: Vec<String> = l.splitn(4, '\t').map(str::to_owned).collect();
            (f[0].parse().unwrap(), f)
        })
        .collect();
    assert_eq!(stored.len(), want.len());
    let mut correct = 0;
    for (id, name, verdict, prices, int_at) in want {
        let s = &stored[&id];
        // COPY TO's text escapes a verdict's backslashes and control bytes.
        let verdict_out = verdict.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r");
        assert_eq!(s[1], verdict_out.replace('\0', "\u{FFFD}"), "{name}");
        assert_eq!(s[2], "t", "{name}: the prediction is not in jsonb's rendering: {}", &s[3][..s[3].len().min(200)]);
        let Some(prices) = prices else {
            assert_eq!(s[3], "[]", "{name}");
            continue;
        };
        correct += 1;
        // The stored numbers as text (a JSON reader would round some of them itself).
        let text = &s[3];
        let inner = &text[1..text.len() - 1];
        let got: Vec<&str> = inner[inner.find('[').unwrap_or(inner.len())..]
            .split([',', '[', ']', ' '])
            .filter(|t| !t.is_empty())
            .collect();
        assert_eq!(got.len(), prices.len(), "{name}");
        for (k, (g, p)) in got.iter().zip(&prices).enumerate() {
            // (jsonb prints a float of 1e16 or more without a fraction, `1e16` →
            // 10000000000000000, which the server's own rendering check above covers.)
            if p.abs() < 1e16 {
                let is_int = !g.contains('.');
                assert_eq!(is_int, int_at.contains(&k), "{name}: price {k} is {g}");
            }
            // Exact values (jsonb's numeric has no -0: it stores 0).
            let stored: f64 = g.parse().unwrap();
            assert!(stored.to_bits() == p.to_bits() || (*p == 0.0 && stored == 0.0), "{name}: price {k}: {g} vs {p:?}");
        }
    }
    assert!(correct > 300, "only {correct} CORRECT cases");
}

/// The indexes of the int tokens among a compact `[start,increment,[p,…],…]`'s prices.
fn token_ints(raw: &[u8]) -> std::collections::HashSet<usize> {
    let text = String::from_utf8_lossy(raw);
    let inner = &text[1..text.len() - 1];
    let paths = &inner[inner.find('[').unwrap_or(inner.len())..];
    let tokens = paths.split([',', '[', ']']).filter(|t| !t.is_empty());
    tokens.enumerate().filter(|(_, t)| !t.contains(['.', 'e', 'E'])).map(|(k, _)| k).collect()
}

/// `--prices f32`: the rows follow upstream's Bigtable backend (the sentinel and the row key for a
/// CORRECT miner, `[]` and no key otherwise), the float32 prices staying in the Parquet file.
#[test]
fn float32_prices_store_upstreams_bigtable_rows() {
    let (pg, db, uids) = with_all_miners();
    let out = tempfile::tempdir().unwrap();
    let (o, s) = replay(out.path(), &["--prices", "f32", "--postgres", &pg.tcp_url(&db)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(s["postgres"]["storage"], "bigtable", "{s}");
    assert_eq!(s["postgres"]["rows"], uids.len());
    let rec = synth_forward::recording::Recording::read(&small()).unwrap();
    let si = &rec.request.simulation_input;
    let start = synth_forward::request::isotime::fromisoformat_timestamp(&si.start_time).unwrap();
    let rows = pg.psql_in(
        &db,
        "COPY (SELECT p.format_validation, p.prediction::text, coalesce(p.bigtable_key, '-'), m.id \
         FROM miner_predictions p JOIN miners m ON m.id = p.miner_id) TO STDOUT",
    );
    let mut correct = 0;
    for line in rows.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] == "CORRECT" {
            correct += 1;
            assert_eq!(f[1], r#"{"stored": "bigtable"}"#);
            assert_eq!(f[2], format!("{}#{start}#{:06}", si.asset, f[3].parse::<i64>().unwrap()));
        } else {
            assert_eq!((f[1], f[2]), ("[]", "-"), "{line}");
        }
    }
    assert_eq!(correct, s["verdicts"]["CORRECT"].as_u64().unwrap());
    assert!(parquet_file(out.path()).to_string_lossy().contains("_f32/"));
}
