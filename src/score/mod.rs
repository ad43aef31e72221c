//! Offline scoring: the validator's CRPS of each miner's paths against real prices, bit for bit.
//!
//! In: a CORRECT miner's prices (paths × points, as the cycle's columns hold them) and the real
//! price path. Out: the numbers upstream's scoring computes (its `calculate_crps_for_miner`, with
//! properscoring's `crps_ensemble` and NumPy's sums), so a ranking made from our Parquet files is
//! the validator's own.
//!
//! - [`crps`]: the ensemble CRPS of one observation, in properscoring's accumulation order.
//! - [`sum`]: NumPy's `ndarray.sum` of float64 (its pairwise summation), for block totals.
//! - [`miner`]: one miner's score over a prompt's scoring intervals and volatility blocks.
//! - [`prompt`]: a prompt's scores from its miners' (upstream's normalisation, today's or older).
//!
//! Bit-exactness is the point of these kernels: every operation is done in the order the reference
//! does it, with no fused multiply-add (Rust never contracts `a * b + c` on its own).
//! `tests/crps_python.rs` checks both against the real properscoring (compiled by numba) and
//! NumPy on random and adversarial inputs.

pub mod crps;
pub mod cycle;
pub mod inputs;
pub mod miner;
pub mod output;
pub mod paths;
pub mod prompt;
pub mod rows;
pub mod run;
pub mod sum;
pub mod table;
