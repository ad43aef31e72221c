//! One miner's score: upstream's `calculate_total_score_for_miner`, the price CRPS over a
//! prompt's scoring intervals (`calculate_crps_for_miner`, [`price_crps`]) plus, for the 1 h
//! prompt, the weighted CRPS of block volatilities (`calculate_vol_crps_for_miner`, [`vol_crps`]).
//!
//! In: a CORRECT miner's prices (`paths × points`, path after path, as the cycle's `paths` column
//! holds them), the real price path (`points` prices, NaN where no price is known), the time
//! increment, and the prompt's scoring intervals (name and seconds, in order). Out: the total and
//! the per-interval CRPS (upstream's `detailed_crps_data`: one `Total` per interval, the `_gaps`
//! intervals folded into one `Gaps` row, then `Overall`), or [`Rejected`] where upstream returns
//! −1 (a zero price anywhere in the paths).
//!
//! Per interval, exactly as upstream computes it:
//! - steps = `int(seconds / increment)`; an `_abs` interval shrinks its steps while the real path
//!   sampled every `steps` points would hold a single price;
//! - the prices every `steps` points (a `_gaps` interval keeps the first two); an `_abs` interval
//!   scores those prices past the first, the others their changes in basis points,
//!   `((next − price) / price) × 10 000`, for the paths and the real path alike;
//! - the real changes split into runs of observed (non-NaN) values; per run, the CRPS of each real
//!   change against the paths' changes ([`crate::score::crps`]), divided by the real path's last
//!   price and × 10 000 for `_abs`, summed as NumPy sums ([`crate::score::sum`]), the runs' sums
//!   added one after another;
//! - an interval with no change at all is left out of the details.
//!
//! Volatility, per block size: each path's basis-point step returns cut into whole blocks, each
//! block's `nanstd(ddof = 1)` as NumPy computes it (NaN for fewer than two observed returns);
//! the CRPS of each observed real block volatility against the paths', summed, times the size's
//! weight.

use super::crps::{crps_ensemble_sorted, sort_numpy};
use super::sum::numpy_sum;
use crate::decode::verdict::CORRECT;

/// A scoring interval: upstream's name (its suffix `_abs` or `_gaps` selects the rule) and seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    pub name: String,
    pub seconds: i64,
}

impl Interval {
    pub fn new(name: &str, seconds: i64) -> Interval {
        Interval { name: name.to_owned(), seconds }
    }

    fn absolute(&self) -> bool {
        self.name.ends_with("_abs")
    }

    fn gap(&self) -> bool {
        self.name.ends_with("_gaps")
    }
}

/// Why upstream scores a miner −1 here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("Zero price encountered in simulation runs")]
    ZeroPrice,
}

/// One `detailed_crps_data` row: an interval's name (or `Gaps`, a volatility block's name, `Vol`,
/// `Overall`), its CRPS, and for a volatility block its weight.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalCrps {
    pub interval: String,
    pub crps: f64,
    pub weight: Option<f64>,
}

impl IntervalCrps {
    fn new(interval: &str, crps: f64) -> IntervalCrps {
        IntervalCrps { interval: interval.to_owned(), crps, weight: None }
    }
}

/// A miner's price CRPS.
#[derive(Clone, Debug, PartialEq)]
pub struct MinerCrps {
    /// The sum over every interval (upstream's `sum_all_scores`).
    pub total: f64,
    /// Upstream's `detailed_crps_data`, in its order, `Overall` last.
    pub detail: Vec<IntervalCrps>,
}

/// Buffers reused from miner to miner (one per pool thread).
#[derive(Default)]
pub struct Scratch {
    simulated: Vec<f64>,
    real: Vec<f64>,
    column: Vec<f64>,
    values: Vec<f64>,
}

/// The CRPS of `observation` against column `t` of `simulated` (`columns` columns of `rows`
/// members each, column after column), sorted in place (NumPy's order): the column is scratch,
/// used once. Column-major because each column is sorted on its own: gathering a column of a
/// row-major 1000 × 288 block touched a new cache line per member.
fn crps_of_column(observation: f64, simulated: &mut [f64], rows: usize, t: usize) -> f64 {
    let column = &mut simulated[t * rows..(t + 1) * rows];
    sort_numpy(column);
    crps_ensemble_sorted(observation, column)
}

/// `int(seconds / increment)`: Python's true division, truncated toward zero.
fn interval_steps(seconds: i64, increment: i64) -> usize {
    let steps = (seconds as f64 / increment as f64).trunc();
    if steps >= 1.0 { steps as usize } else { 0 }
}

/// The values an interval scores, of `rows` rows of `points` prices each, into `out` column after
/// column (column `k` holds every row's `k`-th value); returns the column count.
fn changes(prices: &[f64], points: usize, steps: usize, absolute: bool, gap: bool, out: &mut Vec<f64>) -> usize {
    let rows = prices.len().checked_div(points).unwrap_or(0);
    let mut sampled = points.div_ceil(steps);
    if gap {
        sampled = sampled.min(2);
    }
    let columns = sampled.saturating_sub(1);
    out.clear();
    out.resize(rows * columns, 0.0);
    for (r, row) in prices.chunks_exact(points).enumerate() {
        for k in 0..columns {
            let (price, next) = (row[k * steps], row[(k + 1) * steps]);
            out[k * rows + r] = if absolute { next } else { ((next - price) / price) * 10_000.0 };
        }
    }
    columns
}

/// The price CRPS of one miner (module doc). `paths` holds `paths.len() / points` paths.
pub fn price_crps(
    paths: &[f64],
    points: usize,
    real: &[f64],
    increment: i64,
    intervals: &[Interval],
    scratch: &mut Scratch,
) -> Result<MinerCrps, Rejected> {
    // Upstream checks inside its interval loop, so an empty interval list rejects nothing; the
    // answer is the same for every interval, so it is looked for once.
    if !intervals.is_empty() && paths.contains(&0.0) {
        return Err(Rejected::ZeroPrice);
    }
    let rows = paths.len().checked_div(points).unwrap_or(0);
    let mut detail = Vec::with_capacity(intervals.len() + 2);
    let mut sum_all = 0.0f64;
    let mut gaps_total = 0.0f64;
    for interval in intervals {
        let mut steps = interval_steps(interval.seconds, increment);
        let absolute = interval.absolute();
        let gap = interval.gap();
        if absolute {
            while real.len().div_ceil(steps.max(1)) == 1 && steps > 1 {
                steps -= 1;
            }
        }
        let steps = steps.max(1);
        let Scratch { simulated, real: real_changes, values, .. } = scratch;
        let columns = changes(paths, points, steps, absolute, gap, simulated);
        changes(real, real.len(), steps, absolute, gap, real_changes);
        if columns == 0 {
            continue;
        }
        let last_real = real.last().copied().unwrap_or(f64::NAN);
        // Runs of observed real changes, one after another.
        let mut crps_values = 0.0f64;
        let mut t = 0;
        while t < columns {
            if real_changes[t].is_nan() {
                t += 1;
                continue;
            }
            values.clear();
            while t < columns && !real_changes[t].is_nan() {
                let mut v = crps_of_column(real_changes[t], simulated, rows, t);
                if absolute {
                    v = (v / last_real) * 10_000.0;
                }
                values.push(v);
                t += 1;
            }
            crps_values += numpy_sum(values);
        }
        sum_all += crps_values;
        if gap {
            gaps_total += crps_values;
            continue;
        }
        detail.push(IntervalCrps::new(&interval.name, crps_values));
    }
    if gaps_total > 0.0 {
        detail.push(IntervalCrps::new("Gaps", gaps_total));
    }
    detail.push(IntervalCrps::new("Overall", sum_all));
    Ok(MinerCrps { total: sum_all, detail })
}

/// A volatility block size of the 1 h prompt: its name, seconds and weight.
#[derive(Clone, Debug, PartialEq)]
pub struct VolBlock {
    pub name: String,
    pub seconds: i64,
    pub weight: f64,
}

/// The realized volatility of each whole block of `steps` step returns of each row (into `out`
/// block after block, as [`changes`] lays out its columns): NumPy's `nanstd(ddof=1)` of the block's basis-point returns
/// (the mean of the observed returns, the squared deviations summed, ÷ (observed − 1), the square
/// root; NaN returns left out), NaN for a block with fewer than two observed returns. The steps
/// after the last whole block are dropped. Returns the block count.
fn block_volatilities(
    prices: &[f64],
    points: usize,
    steps: usize,
    returns: &mut Vec<f64>,
    terms: &mut Vec<f64>,
    out: &mut Vec<f64>,
) -> usize {
    let rows = prices.len().checked_div(points).unwrap_or(0);
    let blocks = points.saturating_sub(1).checked_div(steps).unwrap_or(0);
    out.clear();
    out.resize(rows * blocks, 0.0);
    for (r, row) in prices.chunks_exact(points).enumerate() {
        for b in 0..blocks {
            returns.clear();
            returns.extend((b * steps..(b + 1) * steps).map(|k| ((row[k + 1] - row[k]) / row[k]) * 10_000.0));
            let observed = returns.iter().filter(|r| !r.is_nan()).count();
            if observed < 2 {
                out[b * rows + r] = f64::NAN;
                continue;
            }
            // nanvar: a NaN return counts as 0 in both sums and not in the count; the deviation
            // is taken, then zeroed where the return was NaN, then squared.
            terms.clear();
            terms.extend(returns.iter().map(|&r| if r.is_nan() { 0.0 } else { r }));
            let mean = numpy_sum(terms) / observed as f64;
            terms.clear();
            terms.extend(returns.iter().map(|&r| {
                let d = if r.is_nan() { 0.0 } else { r - mean };
                d * d
            }));
            out[b * rows + r] = (numpy_sum(terms) / (observed - 1) as f64).sqrt();
        }
    }
    blocks
}

/// The weighted volatility CRPS (upstream's `calculate_vol_crps_for_miner`): per block size, the
/// CRPS of each observed real block volatility against the paths' volatilities of that block,
/// summed one after another from 0 (Python's `sum`), times the size's weight; the sizes added in
/// order. Rows: one per size with an observed block (its unweighted sum and weight), then `Vol`.
pub fn vol_crps(
    paths: &[f64],
    points: usize,
    real: &[f64],
    increment: i64,
    blocks: &[VolBlock],
    scratch: &mut Scratch,
) -> (f64, Vec<IntervalCrps>) {
    let mut detail = Vec::with_capacity(blocks.len() + 1);
    let mut sum_all = 0.0f64;
    let rows = paths.len().checked_div(points).unwrap_or(0);
    let Scratch { simulated, real: real_vol, column, values } = scratch;
    for size in blocks {
        let steps = interval_steps(size.seconds, increment).max(1);
        let n = block_volatilities(paths, points, steps, values, column, simulated);
        block_volatilities(real, real.len(), steps, values, column, real_vol);
        let mut crps_sum = 0.0f64;
        let mut any = false;
        for b in (0..n).filter(|&b| !real_vol[b].is_nan()) {
            crps_sum += crps_of_column(real_vol[b], simulated, rows, b);
            any = true;
        }
        if !any {
            continue;
        }
        sum_all += size.weight * crps_sum;
        detail.push(IntervalCrps { interval: size.name.clone(), crps: crps_sum, weight: Some(size.weight) });
    }
    detail.push(IntervalCrps::new("Vol", sum_all));
    (sum_all, detail)
}

/// A miner's whole score (upstream's `calculate_total_score_for_miner`): the price CRPS plus, for
/// a prompt with volatility blocks, the weighted volatility CRPS; `Overall` (last) holds the sum.
pub fn total_score(
    paths: &[f64],
    points: usize,
    real: &[f64],
    increment: i64,
    intervals: &[Interval],
    blocks: &[VolBlock],
    scratch: &mut Scratch,
) -> Result<MinerCrps, Rejected> {
    let price = price_crps(paths, points, real, increment, intervals, scratch)?;
    if blocks.is_empty() {
        return Ok(price);
    }
    let (vol, vol_detail) = vol_crps(paths, points, real, increment, blocks, scratch);
    let total = price.total + vol;
    let mut detail: Vec<IntervalCrps> = price.detail.into_iter().filter(|r| r.interval != "Overall").collect();
    detail.extend(vol_detail);
    detail.push(IntervalCrps::new("Overall", total));
    Ok(MinerCrps { total, detail })
}

/// `VOL_CRPS_LAMBDA`: the 1 h score adds this × the mean over block sizes of the mean per-block
/// volatility CRPS, hence each size's weight `λ / (3 × its block count)`.
pub const VOL_CRPS_LAMBDA: f64 = 5.25;

/// The volatility blocks of today's 1 h prompt (none for the 24 h prompts).
pub fn vol_blocks_for(time_length: i64) -> Vec<VolBlock> {
    if time_length != 3600 {
        return Vec::new();
    }
    let block = |name: &str, seconds, weight| VolBlock { name: name.to_owned(), seconds, weight };
    vec![
        block("vol_60min", 3600, VOL_CRPS_LAMBDA / 3.0),
        block("vol_15min", 900, VOL_CRPS_LAMBDA / 12.0),
        block("vol_5min", 300, VOL_CRPS_LAMBDA / 36.0),
    ]
}

/// The scoring intervals of today's competitions (upstream's `competition_config`): the 24 h
/// prompts (5-minute increments) and the 1 h prompt (1-minute increments, with the gaps
/// intervals); the 1 h prompt's volatility blocks are [`vol_blocks_for`].
pub fn intervals_for(time_length: i64) -> Option<Vec<Interval>> {
    match time_length {
        86_400 => Some(vec![
            Interval::new("5min", 300),
            Interval::new("30min", 1800),
            Interval::new("3hour", 10_800),
            Interval::new("24hour_abs", 86_400),
        ]),
        3600 => {
            let mut v = vec![
                Interval::new("1min", 60),
                Interval::new("2min", 120),
                Interval::new("5min", 300),
                Interval::new("15min", 900),
                Interval::new("30min", 1800),
                Interval::new("60min_abs", 3600),
            ];
            v.extend((1..=12).map(|k| Interval::new(&format!("0_{}min_gaps", k * 5), k * 300)));
            Some(v)
        }
        _ => None,
    }
}

/// One miner's scoring outcome, as upstream's scoring worker hands it back.
#[derive(Clone, Debug, PartialEq)]
pub struct MinerScore {
    /// The total score, or −1 for a miner that is not scored.
    pub score: f64,
    /// Upstream's `detailed_crps_data` (empty for a miner that is not scored).
    pub detail: Vec<IntervalCrps>,
    /// Why a CORRECT miner was not scored: a zero price (upstream's detail then holds this as its
    /// one `error` row), a non-finite score or no paths (upstream logs these).
    pub error: Option<String>,
}

impl MinerScore {
    fn unscored(error: Option<String>) -> MinerScore {
        MinerScore { score: -1.0, detail: Vec::new(), error }
    }
}

/// A prompt's scoring setup: its increment, intervals and volatility blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub increment: i64,
    pub intervals: Vec<Interval>,
    pub vol: Vec<VolBlock>,
}

impl Prompt {
    /// Today's setup for a prompt of `time_length` seconds at `increment` (`None` unless it is one
    /// of the competitions': 1 h at 60 s, 24 h at 300 s). Another increment is not scored: upstream
    /// scores a competition at its own increment, and at others its steps and slices would break.
    pub fn for_length(time_length: i64, increment: i64) -> Option<Prompt> {
        let own = match time_length {
            3600 => 60,
            86_400 => 300,
            _ => return None,
        };
        if increment != own {
            return None;
        }
        Some(Prompt { increment, intervals: intervals_for(time_length)?, vol: vol_blocks_for(time_length) })
    }
}

/// One miner of a prompt, as upstream's scoring worker treats it: −1 unless the verdict is
/// CORRECT, its prices hold at least one path, and real prices exist; −1 with an error for a zero
/// price, a non-finite score or no paths; otherwise [`total_score`].
/// `prices` is the row's `paths` (null for a miner that is not CORRECT).
pub fn score_miner(
    format_validation: &str,
    prices: Option<&[f64]>,
    points: usize,
    real: &[f64],
    prompt: &Prompt,
    scratch: &mut Scratch,
) -> MinerScore {
    let Some(prices) = prices else { return MinerScore::unscored(None) };
    if format_validation != CORRECT || real.is_empty() {
        return MinerScore::unscored(None);
    }
    // `adjust_predictions` gives no paths for a value of two elements or fewer: upstream's
    // `np.array(None).astype(float)` then raises, and the worker scores −1 with that error.
    if prices.is_empty() || points == 0 {
        return MinerScore::unscored(Some("no paths in the prediction".into()));
    }
    match total_score(prices, points, real, prompt.increment, &prompt.intervals, &prompt.vol, scratch) {
        // Upstream's detail is then one `{"error": …}` row: the message is this score's error.
        Err(rejected) => MinerScore::unscored(Some(rejected.to_string())),
        Ok(s) if !s.total.is_finite() => MinerScore::unscored(Some(format!("non-finite score {}", s.total))),
        Ok(s) => MinerScore { score: s.total, detail: s.detail, error: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_scored_at_their_own_increment_only() {
        assert!(Prompt::for_length(3600, 60).is_some() && Prompt::for_length(86_400, 300).is_some());
        for (length, increment) in [(3600, 300), (86_400, 60), (3600, 0), (3600, -60), (7200, 60), (86_400, 301)] {
            assert!(Prompt::for_length(length, increment).is_none(), "{length} at {increment}");
        }
    }

    #[test]
    fn unscored_miners_are_minus_one() {
        let prompt = Prompt::for_length(3600, 60).unwrap();
        let mut s = Scratch::default();
        let path: Vec<f64> = (0..61).map(|k| 100.0 + k as f64 * 0.01).collect();
        let real = path.clone();
        assert_eq!(score_miner("CORRECT", None, 61, &real, &prompt, &mut s).score, -1.0);
        assert_eq!(score_miner("Response is empty", Some(&path), 61, &real, &prompt, &mut s).score, -1.0);
        assert_eq!(score_miner("CORRECT", Some(&path), 61, &[], &prompt, &mut s).score, -1.0);
        assert!(score_miner("CORRECT", Some(&[]), 61, &real, &prompt, &mut s).error.is_some());
        let mut zero = path.clone();
        zero[5] = 0.0;
        let z = score_miner("CORRECT", Some(&zero), 61, &real, &prompt, &mut s);
        assert_eq!((z.score, z.detail.len()), (-1.0, 0));
        assert_eq!(z.error.as_deref(), Some("Zero price encountered in simulation runs"));
        // v2 let infinite prices through as CORRECT: their CRPS is not finite.
        let mut infinite = path.clone();
        infinite[3] = f64::INFINITY;
        let n = score_miner("CORRECT", Some(&infinite), 61, &real, &prompt, &mut s);
        assert!(n.score == -1.0 && n.detail.is_empty() && n.error.unwrap().contains("non-finite"));
        let ok = score_miner("CORRECT", Some(&path), 61, &real, &prompt, &mut s);
        assert!(ok.score.is_finite() && ok.score >= 0.0 && ok.detail.last().unwrap().interval == "Overall");
    }
}
