//! Real prices: what a cycle's miners are scored against.
//!
//! In: price files (CSV or Parquet, one row per asset and time: `asset`, `timestamp`, `price`;
//! `schemas/prices.md`). Out: [`RealPrices`], each asset's series sorted by time, and for one
//! cycle its real price path ([`RealPrices::path`]): the price at each exact grid time
//! (`start`, `start + increment`, … `start + length`), NaN where the files hold none, as the
//! validator's price provider builds it.
//!
//! - [`file`]: reading and writing the files.
//! - [`pyth`]: one asset's grid of prices from Pyth's TradingView-style history API, for
//!   `synth-forward prices fetch`.

pub mod file;
pub mod pyth;

use std::collections::BTreeMap;

pub use file::{PriceFileError, PriceSource, write_file};

/// One asset's prices: times (Unix seconds) strictly increasing, prices NaN where missing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub timestamps: Vec<i64>,
    pub prices: Vec<f64>,
}

impl Series {
    /// The price at exactly `t` (NaN where the series holds none or a missing one).
    pub fn at(&self, t: i64) -> f64 {
        match self.timestamps.binary_search(&t) {
            Ok(i) => self.prices[i],
            Err(_) => f64::NAN,
        }
    }
}

/// Why a cycle cannot be scored yet: upstream skips such a request (and tries again later).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unscorable {
    #[error("no real prices for asset {0}")]
    NoAsset(String),
    #[error(
        "no real price at the last grid time {t} for asset {asset} (the window is not settled in the price files; \
         the validator does not score it)"
    )]
    LastMissing { asset: String, t: i64 },
}

/// Every asset's real prices, from one or more files.
#[derive(Clone, Debug, Default)]
pub struct RealPrices {
    series: BTreeMap<String, Series>,
}

impl RealPrices {
    /// Reads every source; a time given twice for one asset must give the same price (a file
    /// and its later refetch may overlap), else the second file is refused.
    pub fn load(sources: &[PriceSource]) -> Result<RealPrices, PriceFileError> {
        let mut rows = Vec::new();
        for source in sources {
            rows.extend(file::read(source)?);
        }
        RealPrices::from_rows(rows)
    }

    /// From record batches of prices (the Parquet form's columns), as Python hands them over.
    pub fn from_batches(
        batches: &[arrow::record_batch::RecordBatch],
        asset: Option<&str>,
    ) -> Result<RealPrices, String> {
        let mut rows = Vec::new();
        for b in batches {
            rows.extend(file::rows_of_batch(b, asset)?);
        }
        RealPrices::from_rows(rows).map_err(|e| e.to_string())
    }

    /// From `(asset, time, price)` rows in any order (module doc: the same time twice).
    pub fn from_rows(all: Vec<(String, i64, f64)>) -> Result<RealPrices, PriceFileError> {
        let mut rows: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        for (asset, t, price) in all {
            rows.entry(asset).or_default().push((t, price));
        }
        let mut series = BTreeMap::new();
        for (asset, mut points) in rows {
            points.sort_by_key(|&(t, _)| t);
            let mut s =
                Series { timestamps: Vec::with_capacity(points.len()), prices: Vec::with_capacity(points.len()) };
            for (t, price) in points {
                if s.timestamps.last() == Some(&t) {
                    let prev = s.prices.last_mut().expect("a price per time");
                    // A missing price next to a known one: the known one wins (a later fetch
                    // settled it). Two different known prices for one time cannot both be real.
                    if prev.is_nan() {
                        *prev = price;
                    } else if !price.is_nan() && price.to_bits() != prev.to_bits() {
                        return Err(PriceFileError::Conflict { asset, t, a: *prev, b: price });
                    }
                    continue;
                }
                s.timestamps.push(t);
                s.prices.push(price);
            }
            series.insert(asset, s);
        }
        Ok(RealPrices { series })
    }

    /// Built from series directly (tests, the Python binding).
    pub fn from_series(series: impl IntoIterator<Item = (String, Series)>) -> RealPrices {
        RealPrices { series: series.into_iter().collect() }
    }

    pub fn assets(&self) -> impl Iterator<Item = (&str, &Series)> {
        self.series.iter().map(|(a, s)| (a.as_str(), s))
    }

    /// The real price path of a cycle of `asset` starting at `start` (Unix seconds), `points`
    /// prices every `increment` seconds, into `out`. Unscorable when the asset has no prices or
    /// the last grid time has none: the validator's provider refuses such a window ("missing
    /// price data for the last timestamp"), so the request waits and is not scored.
    pub fn path(
        &self,
        asset: &str,
        start: i64,
        increment: i64,
        points: usize,
        out: &mut Vec<f64>,
    ) -> Result<(), Unscorable> {
        out.clear();
        let series = self.series.get(asset).ok_or_else(|| Unscorable::NoAsset(asset.to_owned()))?;
        out.extend((0..points as i64).map(|k| series.at(start + k * increment)));
        match out.last() {
            Some(p) if !p.is_nan() => Ok(()),
            _ => Err(Unscorable::LastMissing {
                asset: asset.to_owned(),
                t: start + (points as i64 - 1).max(0) * increment,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, f64)]) -> Series {
        Series { timestamps: points.iter().map(|p| p.0).collect(), prices: points.iter().map(|p| p.1).collect() }
    }

    #[test]
    fn the_path_takes_exact_grid_times_only() {
        let prices = RealPrices::from_series([(
            "BTC".to_owned(),
            series(&[(0, 1.0), (60, 2.0), (90, 9.0), (180, f64::NAN), (240, 5.0), (300, 6.0)]),
        )]);
        let mut out = Vec::new();
        prices.path("BTC", 0, 60, 6, &mut out).unwrap();
        let bits: Vec<u64> = out.iter().map(|p| p.to_bits()).collect();
        let want: Vec<u64> = [1.0, 2.0, f64::NAN, f64::NAN, 5.0, 6.0].iter().map(|p: &f64| p.to_bits()).collect();
        assert_eq!(bits, want);
        assert_eq!(prices.path("ETH", 0, 60, 6, &mut out), Err(Unscorable::NoAsset("ETH".into())));
        // 240 holds a price: a path of 5 points ends there, settled.
        assert_eq!(prices.path("BTC", 0, 60, 5, &mut out), Ok(()));
        assert!(matches!(prices.path("BTC", 0, 60, 4, &mut out), Err(Unscorable::LastMissing { t: 180, .. })));
        assert!(matches!(prices.path("BTC", 0, 60, 8, &mut out), Err(Unscorable::LastMissing { t: 420, .. })));
    }
}
