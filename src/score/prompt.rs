//! A prompt's scores from its miners' CRPS: upstream's `compute_prompt_scores` (today's form).
//!
//! In: each miner's total CRPS for one prompt, −1 for a miner that was not scored (a failed or
//! missed reply, a zero price, a non-finite score). Out: each miner's prompt score, the fill value
//! (`percentile95`), the field's lowest filled score, and which miners were capped, as NumPy
//! computes them:
//!
//! 1. the median of the scored values (`numpy.median`: the middle value, or the mean of the two
//!    middle ones);
//! 2. when that median is positive, every score above 10 × median is clipped to it and flagged;
//! 3. the 95th percentile (`numpy.percentile`, linear) of the scored, unflagged values (of all
//!    scored values when every one was flagged) fills the misses;
//! 4. the lowest filled score is subtracted from all.
//!
//! `None` when no miner was scored (upstream skips the prompt).
//!
//! The normalisation has changed upstream; [`Normalisation`] names each form, and
//! [`prompt_scores_with`] computes either. The older one ([`Normalisation::P90Cap`], before
//! upstream's #302) capped every score at the scored values' 90th percentile and filled misses
//! with it; it flags nothing.

use super::sum::numpy_sum;

/// Upstream's `OUTLIER_SCORE_MEDIAN_MULTIPLE`.
pub const OUTLIER_MEDIAN_MULTIPLE: f64 = 10.0;

/// The prompt's scores (module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct PromptScores {
    pub scores: Vec<f64>,
    pub percentile95: f64,
    pub lowest: f64,
    pub capped: Vec<bool>,
}

/// `numpy.median` of finite values (NaN for none).
pub fn numpy_median(values: &[f64], scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend_from_slice(values);
    super::crps::sort_numpy(scratch);
    let n = scratch.len();
    match n {
        0 => f64::NAN,
        // `mean` of the middle slice: the pairwise sum from 0.0, divided by its length.
        _ if n % 2 == 1 => numpy_sum(&scratch[n / 2..n / 2 + 1]) / 1.0,
        _ => numpy_sum(&scratch[n / 2 - 1..n / 2 + 1]) / 2.0,
    }
}

/// `numpy.percentile(values, q)` with the default (linear) method, for finite values.
pub fn numpy_percentile(values: &[f64], q: f64, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend_from_slice(values);
    super::crps::sort_numpy(scratch);
    let n = scratch.len();
    if n == 0 {
        return f64::NAN;
    }
    let virtual_index = (n - 1) as f64 * (q / 100.0);
    let (previous, next) = if virtual_index >= (n - 1) as f64 {
        (n - 1, n - 1)
    } else if virtual_index < 0.0 {
        (0, 0)
    } else {
        let p = virtual_index.floor() as usize;
        (p, p + 1)
    };
    // NumPy's gamma: the virtual index less the previous index (−1 standing for the last value
    // when above the bounds).
    let previous_index = if virtual_index >= (n - 1) as f64 { -1.0 } else { previous as f64 };
    let gamma = virtual_index - previous_index;
    lerp(scratch[previous], scratch[next], gamma)
}

/// NumPy's `_lerp`: from the nearer end, so `t = 1` gives `b` exactly.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
}

/// Which of upstream's prompt-score normalisations (module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Normalisation {
    /// Today's: outliers above 10 × the median clipped and flagged, misses filled with the 95th
    /// percentile of the unflagged scores.
    #[default]
    MedianCapP95Fill,
    /// The older: every score capped at the 90th percentile, misses filled with it.
    P90Cap,
}

impl Normalisation {
    /// The name written into output metadata.
    pub fn name(self) -> &'static str {
        match self {
            Normalisation::MedianCapP95Fill => "median10x-cap-p95-fill",
            Normalisation::P90Cap => "p90-cap",
        }
    }
}

impl std::str::FromStr for Normalisation {
    type Err = String;

    fn from_str(s: &str) -> Result<Normalisation, String> {
        [Normalisation::MedianCapP95Fill, Normalisation::P90Cap].into_iter().find(|f| f.name() == s).ok_or_else(|| {
            format!("unknown normalisation {s:?}: median10x-cap-p95-fill (today's) or p90-cap (the older)")
        })
    }
}

/// The prompt scores by `form`; for [`Normalisation::P90Cap`], `percentile95` holds the 90th
/// percentile (its fill value).
pub fn prompt_scores_with(raw: &[f64], form: Normalisation) -> Option<PromptScores> {
    match form {
        Normalisation::MedianCapP95Fill => prompt_scores(raw),
        Normalisation::P90Cap => prompt_scores_p90(raw),
    }
}

fn prompt_scores_p90(raw: &[f64]) -> Option<PromptScores> {
    if raw.iter().all(|&s| s == -1.0) {
        return None;
    }
    let mut scratch = Vec::with_capacity(raw.len());
    let valid: Vec<f64> = raw.iter().copied().filter(|&s| s != -1.0).collect();
    let p90 = numpy_percentile(&valid, 90.0, &mut scratch);
    let mut scores: Vec<f64> = raw.iter().map(|&s| if s == -1.0 { p90 } else { s.min(p90) }).collect();
    let lowest = scores.iter().copied().fold(f64::INFINITY, f64::min);
    for s in &mut scores {
        *s -= lowest;
    }
    Some(PromptScores { scores, percentile95: p90, lowest, capped: vec![false; raw.len()] })
}

/// Today's prompt scores (module doc); `None` when every value is −1.
pub fn prompt_scores(raw: &[f64]) -> Option<PromptScores> {
    if raw.iter().all(|&s| s == -1.0) {
        return None;
    }
    let mut scratch = Vec::with_capacity(raw.len());
    let valid: Vec<f64> = raw.iter().copied().filter(|&s| s != -1.0).collect();
    let median = numpy_median(&valid, &mut scratch);
    let mut scores = raw.to_vec();
    let mut capped = vec![false; raw.len()];
    if median > 0.0 {
        let cap = median * OUTLIER_MEDIAN_MULTIPLE;
        for (s, c) in scores.iter_mut().zip(&mut capped) {
            *c = *s > cap;
            // `numpy.minimum`; −1 (a miss) is below any positive cap.
            if *s > cap {
                *s = cap;
            }
        }
    }
    let uncapped: Vec<f64> = scores.iter().zip(&capped).filter(|(s, c)| **s != -1.0 && !**c).map(|(s, _)| *s).collect();
    let basis = if uncapped.is_empty() { scores.iter().copied().filter(|&s| s != -1.0).collect() } else { uncapped };
    let percentile95 = numpy_percentile(&basis, 95.0, &mut scratch);
    for s in scores.iter_mut().filter(|s| **s == -1.0) {
        *s = percentile95;
    }
    let lowest = scores.iter().copied().fold(f64::INFINITY, f64::min);
    for s in &mut scores {
        *s -= lowest;
    }
    Some(PromptScores { scores, percentile95, lowest, capped })
}
