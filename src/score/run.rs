//! `synth-forward score`: cycle files + real prices → a scores table, a ranking and a summary.
//!
//! In: the inputs ([`super::inputs`]), the price files, the output folder and options. Out: one
//! scores file per scorable cycle ([`super::output`]), optionally a ranking of miners over every
//! cycle scored ([`Ranking`]), and a [`ScoreSummary`] (the one JSON line).
//!
//! Files are taken one after another, each scored in parallel over its miners. A file that cannot
//! be read costs only itself (listed under `errors`, and the exit code says so); a cycle the prices
//! do not settle is listed under `unscorable`, as the validator would leave it for later; a cycle
//! already scored in the output is left as it is unless `overwrite`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, UInt16Type};
use arrow::record_batch::RecordBatch;
use serde::Serialize;

use super::cycle::{CycleFile, ScoreError};
use super::prompt::Normalisation;
use super::table::col;
use super::{inputs, output};
use crate::prices::RealPrices;
use crate::store;
#[cfg(feature = "s3")]
use crate::store::Remote;
#[cfg(feature = "s3")]
use std::sync::Arc;

/// What to score and where to put it.
#[derive(Clone, Debug, Default)]
pub struct ScoreOptions {
    pub inputs: Vec<String>,
    pub out: Option<PathBuf>,
    pub normalisation: Normalisation,
    pub overwrite: bool,
}

/// A file and why it was not scored.
#[derive(Clone, Debug, Serialize)]
pub struct FileNote {
    pub file: String,
    pub reason: String,
}

/// Lists in the summary keep this many entries; the counts are whole.
const LISTED: usize = 20;

/// The one-line summary of a `score` run.
#[derive(Debug, Default, Serialize)]
pub struct ScoreSummary {
    pub source: &'static str,
    pub normalisation: &'static str,
    /// Parquet files found under the inputs.
    pub files: usize,
    pub cycles_scored: usize,
    pub already_scored: usize,
    /// Cycles found twice among the inputs (the same asset, start and prompt in two tables),
    /// scored once.
    pub duplicates: usize,
    pub unscorable: usize,
    pub not_cycles: usize,
    pub errors: usize,
    /// Miner rows in the cycles scored, and how they came out.
    pub rows: usize,
    pub miners_scored: usize,
    pub miners_unscored: usize,
    pub miners_capped: usize,
    /// Where the scores table is (its folder), when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores_table: Option<String>,
    pub written: Vec<String>,
    pub unscorable_files: Vec<FileNote>,
    pub error_files: Vec<FileNote>,
    pub not_cycle_files: Vec<String>,
    /// Time reading and scoring, encoding and writing, in all (ms).
    pub score_ms: f64,
    pub write_ms: f64,
    pub elapsed_ms: f64,
    /// The five best miners of each prompt over every cycle scored (the whole list is `--rank`'s
    /// file).
    pub top: Vec<RankRow>,
}

fn push_listed<T>(list: &mut Vec<T>, item: T) {
    if list.len() < LISTED {
        list.push(item);
    }
}

/// A file on disk or an object: a cycle file to score, or where a cycle's scores go.
enum Place {
    Local(PathBuf),
    #[cfg(feature = "s3")]
    Remote(Arc<Remote>, object_store::path::Path),
}

impl Place {
    fn name(&self) -> String {
        match self {
            Place::Local(p) => p.display().to_string(),
            #[cfg(feature = "s3")]
            Place::Remote(r, key) => r.url(key),
        }
    }

    /// The cycle file there: a local one mapped, an object read whole.
    fn open_cycle(&self) -> Result<CycleFile, ScoreError> {
        match self {
            Place::Local(p) => CycleFile::open(p),
            #[cfg(feature = "s3")]
            Place::Remote(..) => {
                let path = PathBuf::from(self.name());
                let bytes = self.bytes().map_err(|msg| ScoreError::File { path: path.clone(), msg })?;
                CycleFile::from_bytes(path, bytes)
            }
        }
    }

    fn bytes(&self) -> Result<bytes::Bytes, String> {
        match self {
            Place::Local(p) => std::fs::read(p).map(bytes::Bytes::from).map_err(|e| e.to_string()),
            #[cfg(feature = "s3")]
            Place::Remote(r, key) => r.get(key).map_err(|e| e.to_string()),
        }
    }

    fn exists(&self) -> bool {
        match self {
            Place::Local(p) => p.exists(),
            // A failed lookup is not "absent": the conditional write decides.
            #[cfg(feature = "s3")]
            Place::Remote(r, key) => r.exists(key).unwrap_or(false),
        }
    }

    /// The scores an earlier run wrote there.
    fn read_scores(&self) -> Result<Vec<RecordBatch>, String> {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(self.bytes()?)
            .and_then(|b| b.build())
            .map_err(|e| e.to_string())?;
        reader.map(|b| b.map_err(|e| e.to_string())).collect()
    }

    /// Scores written there, whole or not at all, never over an existing file unless `overwrite`.
    fn write(&self, bytes: Vec<u8>, overwrite: bool) -> Result<(), String> {
        match self {
            Place::Local(p) => output::write(p, &bytes, overwrite).map_err(|e| e.to_string()),
            #[cfg(feature = "s3")]
            Place::Remote(r, key) => r.put(key, bytes::Bytes::from(bytes), overwrite).map_err(|e| e.to_string()),
        }
    }
}

/// Where scores go: a folder, or object storage.
enum Out {
    Local(PathBuf),
    #[cfg(feature = "s3")]
    Remote(Arc<Remote>),
}

#[cfg(feature = "s3")]
fn remote(url: &str) -> Result<Arc<Remote>, String> {
    Remote::parse(url).map(Arc::new).map_err(|e| e.to_string())
}

/// The inputs' files: local ones as [`inputs::expand`] finds them, then every `.parquet` object
/// below each `s3://` prefix.
fn expand(all: &[String]) -> Result<Vec<Place>, String> {
    let (remote_inputs, local): (Vec<&String>, Vec<&String>) = all.iter().partition(|i| store::is_url(i));
    let local: Vec<String> = local.into_iter().cloned().collect();
    let mut out: Vec<Place> =
        if local.is_empty() { Vec::new() } else { inputs::expand(&local)?.into_iter().map(Place::Local).collect() };
    out.extend(objects(&remote_inputs)?);
    Ok(out)
}

/// Every `.parquet` object below each `s3://` prefix.
#[cfg(feature = "s3")]
fn objects(urls: &[&String]) -> Result<Vec<Place>, String> {
    let mut out = Vec::new();
    for url in urls {
        let r = remote(url)?;
        let keys = r.list_parquet("").map_err(|e| e.to_string())?;
        if keys.is_empty() {
            return Err(format!("{url}: no Parquet files there"));
        }
        out.extend(keys.into_iter().map(|k| Place::Remote(r.clone(), k)));
    }
    Ok(out)
}

#[cfg(not(feature = "s3"))]
fn objects(urls: &[&String]) -> Result<Vec<Place>, String> {
    match urls.first() {
        Some(url) => Err(store::not_built(url)),
        None => Ok(Vec::new()),
    }
}

/// Scores every input (module doc); each cycle's scores batch also goes to `each` (the ranking).
pub fn score(
    opts: &ScoreOptions,
    prices: &RealPrices,
    mut each: impl FnMut(&RecordBatch),
) -> Result<ScoreSummary, String> {
    let t0 = Instant::now();
    let files = expand(&opts.inputs)?;
    let out = match &opts.out {
        Some(d) if d.to_str().is_some_and(store::is_url) => {
            #[cfg(feature = "s3")]
            {
                Some(Out::Remote(remote(&d.to_string_lossy())?))
            }
            #[cfg(not(feature = "s3"))]
            return Err(store::not_built(&d.to_string_lossy()));
        }
        Some(d) => Some(Out::Local(d.clone())),
        None => None,
    };
    let mut s = ScoreSummary {
        source: "score",
        normalisation: opts.normalisation.name(),
        files: files.len(),
        scores_table: opts.out.as_ref().map(|d| output::table_root(d, opts.normalisation).display().to_string()),
        ..ScoreSummary::default()
    };
    let mut seen = HashSet::new();
    for input in &files {
        let path = &input.name();
        let t = Instant::now();
        let outcome = score_one(input, out.as_ref(), opts, prices, &mut seen);
        s.score_ms += t.elapsed().as_secs_f64() * 1e3;
        match outcome {
            Ok(Scored::Batch(batch, target)) => {
                // The same numbers go into the ranking whether this run's file or an earlier one
                // holds them.
                each(&batch);
                let Some(target) = target else {
                    s.cycles_scored += 1;
                    count_rows(&batch, &mut s);
                    continue;
                };
                let t = Instant::now();
                let written = output::encode(&batch)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| target.write(bytes, opts.overwrite));
                s.write_ms += t.elapsed().as_secs_f64() * 1e3;
                match written {
                    Ok(()) => {
                        s.cycles_scored += 1;
                        count_rows(&batch, &mut s);
                        push_listed(&mut s.written, target.name());
                    }
                    // Another run wrote it meanwhile: theirs stands.
                    Err(e) if !opts.overwrite && target.exists() => {
                        s.already_scored += 1;
                        tracing::info!("{}: {e}", target.name());
                    }
                    Err(e) => {
                        s.errors += 1;
                        push_listed(&mut s.error_files, note(path, format!("writing {}: {e}", target.name())));
                    }
                }
            }
            Ok(Scored::Exists(target)) => {
                s.already_scored += 1;
                // Scored by an earlier run: its file feeds the ranking, which covers every cycle.
                match target.read_scores() {
                    Ok(batches) => batches.iter().for_each(&mut each),
                    Err(e) => {
                        s.errors += 1;
                        push_listed(&mut s.error_files, note(path, format!("reading {}: {e}", target.name())));
                    }
                }
            }
            Ok(Scored::Duplicate) => s.duplicates += 1,
            Err(ScoreError::NotACycle(_)) => {
                s.not_cycles += 1;
                push_listed(&mut s.not_cycle_files, path.clone());
            }
            Err(ScoreError::Unscorable { source, .. }) => {
                s.unscorable += 1;
                push_listed(&mut s.unscorable_files, note(path, source.to_string()));
            }
            Err(e) => {
                s.errors += 1;
                tracing::warn!("{e}");
                push_listed(&mut s.error_files, note(path, e.to_string()));
            }
        }
    }
    s.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(s)
}

/// [`score`] with the ranking of every cycle the inputs hold, its best five per prompt in the
/// summary's `top`.
pub fn score_ranked(opts: &ScoreOptions, prices: &RealPrices) -> Result<(ScoreSummary, Ranking), String> {
    let mut ranking = Ranking::default();
    let mut summary = score(opts, prices, |b| ranking.add(b))?;
    summary.top = ranking.top(TOP);
    Ok((summary, ranking))
}

/// The summary's `top`: this many best miners per prompt.
const TOP: usize = 5;

fn note(path: &str, reason: String) -> FileNote {
    FileNote { file: path.to_owned(), reason }
}

enum Scored {
    /// The scores, and the file to write them to (when there is an output folder).
    Batch(RecordBatch, Option<Place>),
    /// Scored by an earlier run, in this file.
    Exists(Place),
    /// A cycle this run has already seen (its twin in another table: f64 and decimal, say).
    Duplicate,
}

fn score_one(
    input: &Place,
    out: Option<&Out>,
    opts: &ScoreOptions,
    prices: &RealPrices,
    seen: &mut HashSet<(String, i64, i64)>,
) -> Result<Scored, ScoreError> {
    let file = input.open_cycle()?;
    let keys = file.keys()?;
    if !seen.insert((keys.asset.clone(), keys.start_unix, keys.time_length)) {
        return Ok(Scored::Duplicate);
    }
    let target = match out {
        Some(out) => {
            let err = |msg| ScoreError::File { path: PathBuf::from(input.name()), msg };
            let target = match out {
                Out::Local(dir) => Place::Local(output::scores_path(dir, opts.normalisation, &keys).map_err(err)?),
                #[cfg(feature = "s3")]
                Out::Remote(r) => {
                    let relative = output::scores_path(Path::new(""), opts.normalisation, &keys).map_err(err)?;
                    Place::Remote(r.clone(), r.key_of(&relative))
                }
            };
            // Checked before scoring: a day already scored costs a footer read per file.
            if !opts.overwrite && target.exists() {
                return Ok(Scored::Exists(target));
            }
            Some(target)
        }
        None => None,
    };
    Ok(Scored::Batch(file.score(prices, opts.normalisation)?, target))
}

fn count_rows(batch: &RecordBatch, s: &mut ScoreSummary) {
    s.rows += batch.num_rows();
    let total = batch.column_by_name(col::TOTAL_CRPS).expect("scores schema").as_primitive::<Float64Type>();
    let scored = total.values().iter().filter(|&&v| v != -1.0).count();
    s.miners_scored += scored;
    s.miners_unscored += batch.num_rows() - scored;
    let capped = batch.column_by_name(col::SCORE_CAPPED).expect("scores schema").as_boolean();
    s.miners_capped += capped.true_count();
}

/// One miner's line in the ranking.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RankRow {
    /// The prompt (`time_length`, seconds): miners are ranked within each prompt, as the
    /// validator weighs each competition apart.
    pub time_length: i64,
    pub rank: usize,
    pub uid: u16,
    pub hotkey: String,
    /// Cycles the miner was asked in, and scored in (a total CRPS other than −1).
    pub cycles: usize,
    pub scored: usize,
    pub capped: usize,
    /// The mean prompt score over the cycles that have prompt scores (lower is better: 0 is the
    /// cycle's best); a miss counts with the fill value the validator gives it.
    pub mean_prompt_score: Option<f64>,
    /// The mean total CRPS over the cycles it was scored in.
    pub mean_crps: Option<f64>,
}

/// Miners ranked over every cycle seen, per prompt: by mean prompt score (lowest first), then uid.
#[derive(Default)]
pub struct Ranking {
    by_miner: BTreeMap<(i64, u16, String), Acc>,
}

#[derive(Default)]
struct Acc {
    cycles: usize,
    scored: usize,
    capped: usize,
    prompt_sum: f64,
    prompts: usize,
    crps_sum: f64,
}

impl Ranking {
    pub fn add(&mut self, batch: &RecordBatch) {
        let c = |name| batch.column_by_name(name).expect("scores schema");
        let uid = c(col::UID).as_primitive::<UInt16Type>();
        let hotkey = c(col::HOTKEY).as_string::<i32>();
        let total = c(col::TOTAL_CRPS).as_primitive::<Float64Type>();
        let prompt = c(col::PROMPT_SCORE).as_primitive::<Float64Type>();
        let capped = c(col::SCORE_CAPPED).as_boolean();
        let length = c(col::TIME_LENGTH).as_primitive::<Int64Type>();
        for r in 0..batch.num_rows() {
            let key = (length.value(r), uid.value(r), hotkey.value(r).to_owned());
            let acc = self.by_miner.entry(key).or_default();
            acc.cycles += 1;
            if total.value(r) != -1.0 {
                acc.scored += 1;
                acc.crps_sum += total.value(r);
            }
            if prompt.is_valid(r) {
                acc.prompts += 1;
                acc.prompt_sum += prompt.value(r);
            }
            if capped.is_valid(r) && capped.value(r) {
                acc.capped += 1;
            }
        }
    }

    /// Every miner of every prompt, best first within each (prompts by length).
    pub fn rows(&self) -> Vec<RankRow> {
        let mut rows: Vec<RankRow> = self
            .by_miner
            .iter()
            .map(|((length, uid, hotkey), a)| RankRow {
                time_length: *length,
                rank: 0,
                uid: *uid,
                hotkey: hotkey.clone(),
                cycles: a.cycles,
                scored: a.scored,
                capped: a.capped,
                mean_prompt_score: (a.prompts > 0).then(|| a.prompt_sum / a.prompts as f64),
                mean_crps: (a.scored > 0).then(|| a.crps_sum / a.scored as f64),
            })
            .collect();
        rows.sort_by(|a, b| {
            let key = |r: &RankRow| r.mean_prompt_score.unwrap_or(f64::INFINITY);
            a.time_length.cmp(&b.time_length).then(key(a).total_cmp(&key(b))).then(a.uid.cmp(&b.uid))
        });
        let mut rank = 0;
        for i in 0..rows.len() {
            rank = if i > 0 && rows[i - 1].time_length == rows[i].time_length { rank + 1 } else { 1 };
            rows[i].rank = rank;
        }
        rows
    }

    /// The `n` best of each prompt.
    pub fn top(&self, n: usize) -> Vec<RankRow> {
        self.rows().into_iter().filter(|r| r.rank <= n).collect()
    }

    /// The ranking as CSV (`time_length,rank,uid,hotkey,cycles,scored,capped,mean_prompt_score,
    /// mean_crps`),
    /// written whole or not at all.
    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let rows = self.rows();
        crate::atomic_file::write_with(path, |f| {
            writeln!(f, "time_length,rank,uid,hotkey,cycles,scored,capped,mean_prompt_score,mean_crps")?;
            let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            for r in &rows {
                writeln!(
                    f,
                    "{},{},{},{},{},{},{},{},{}",
                    r.time_length,
                    r.rank,
                    r.uid,
                    r.hotkey,
                    r.cycles,
                    r.scored,
                    r.capped,
                    opt(r.mean_prompt_score),
                    opt(r.mean_crps)
                )?;
            }
            Ok(())
        })
    }
}
