//! The cycle request: what the validator asks and of whom.
//!
//! In: the cycle request JSON (`schemas/cycle-request.md`). Out: a checked [`CycleRequest`] and
//! its [`CycleShape`] (how many rows, paths and points the cycle's buffers need), plus the
//! [`Expected`] values the verdict rules compare a reply against.

pub mod isotime;

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The `simulation_input` the validator sends every miner (synth's `SimulationInput`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulationInput {
    pub asset: String,
    pub start_time: String,
    pub time_increment: i64,
    pub time_length: i64,
    pub num_simulations: i64,
}

/// Which wire protocol the miners speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// bittensor ≤ 10 Axon: `POST /Simulation` with `bt_header_*` headers.
    Synapse,
    /// bittensor 11 `btauth/1` signed requests.
    Btauth,
}

/// One miner to query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axon {
    pub uid: u16,
    pub ip: String,
    pub port: u16,
    pub hotkey: String,
}

/// A whole cycle request, as the operator's process writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleRequest {
    pub simulation_input: SimulationInput,
    pub timeout_s: f64,
    pub protocol: Protocol,
    pub axons: Vec<Axon>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("cycle request is not valid JSON of the expected form: {0}")]
    Json(String),
    #[error("cycle request: start_time {0:?} is not an ISO 8601 time with a UTC offset")]
    StartTime(String),
    #[error("cycle request: time_increment must be > 0, got {0}")]
    Increment(i64),
    #[error("cycle request: time_length must be >= 0, got {0}")]
    Length(i64),
    #[error("cycle request: num_simulations must be >= 1, got {0}")]
    Simulations(i64),
    #[error("cycle request: timeout_s must be a positive number of seconds, got {0}")]
    Timeout(f64),
    #[error("cycle request: uid {0} appears more than once")]
    DuplicateUid(u16),
    #[error("cycle request: {0} prices per cycle do not fit in memory")]
    TooLarge(String),
}

/// How big one cycle is: the sizes every preallocated buffer is derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CycleShape {
    /// Paths per miner (`num_simulations`).
    pub paths: usize,
    /// Prices per path (`time_length / time_increment + 1`).
    pub points: usize,
    /// The request's start time as the validator computes it (`int(fromisoformat(..).timestamp())`).
    pub start_unix: i64,
}

impl CycleShape {
    /// Prices in one miner's slot.
    pub fn slot_len(&self) -> usize {
        self.paths * self.points
    }
}

impl CycleRequest {
    /// Parses and checks a cycle request. simd-json does the parse: the request is small, but it is
    /// the one document the whole cycle hangs on, so it gets the same strict parser as elsewhere.
    pub fn from_json(bytes: &[u8]) -> Result<CycleRequest, RequestError> {
        let mut owned = bytes.to_vec();
        let req: CycleRequest =
            simd_json::serde::from_slice(&mut owned).map_err(|e| RequestError::Json(e.to_string()))?;
        req.shape()?;
        let mut seen = HashSet::with_capacity(req.axons.len());
        for a in &req.axons {
            if !seen.insert(a.uid) {
                return Err(RequestError::DuplicateUid(a.uid));
            }
        }
        Ok(req)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a cycle request always serialises")
    }

    /// The cycle's shape; refuses requests the real validator could never send.
    pub fn shape(&self) -> Result<CycleShape, RequestError> {
        let si = &self.simulation_input;
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return Err(RequestError::Timeout(self.timeout_s));
        }
        if si.time_increment <= 0 {
            return Err(RequestError::Increment(si.time_increment));
        }
        if si.time_length < 0 {
            return Err(RequestError::Length(si.time_length));
        }
        if si.num_simulations < 1 {
            return Err(RequestError::Simulations(si.num_simulations));
        }
        // The real validator always sends an offset; a naive time would be read in local time.
        let start_unix = isotime::fromisoformat_timestamp(&si.start_time)
            .filter(|_| isotime::has_utc_offset(&si.start_time))
            .ok_or_else(|| RequestError::StartTime(si.start_time.clone()))?;
        let points = si.time_length / si.time_increment + 1;
        let paths = si.num_simulations;
        let slot = (paths as u128) * (points as u128);
        if slot > (isize::MAX as u128) / 8 {
            return Err(RequestError::TooLarge(format!("{paths} × {points}")));
        }
        Ok(CycleShape { paths: paths as usize, points: points as usize, start_unix })
    }
}

/// What the verdict rules compare a reply against, taken from the request as the validator holds
/// it. Unlike [`CycleShape`] this accepts odd requests (zero increment, unparseable start time),
/// because the conformance corpus pins how the checks read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// `int(datetime.fromisoformat(start_time).timestamp())`, `None` when Python would raise.
    pub start: Option<i64>,
    /// `time_increment`.
    pub increment: i64,
    /// `num_simulations`.
    pub paths: i64,
    /// `time_length // time_increment + 1` (floor division), meaningless when `increment == 0`.
    pub points: i64,
}

impl Expected {
    pub fn from_input(si: &SimulationInput) -> Expected {
        let points = if si.time_increment == 0 {
            0
        } else {
            si.time_length.div_euclid(si.time_increment)
                - i64::from(si.time_increment < 0 && si.time_length.rem_euclid(si.time_increment) != 0)
                + 1
        };
        Expected {
            start: isotime::fromisoformat_timestamp(&si.start_time),
            increment: si.time_increment,
            paths: si.num_simulations,
            points,
        }
    }

    /// The number of prices a CORRECT reply carries (and the slot length the decoder fills), or
    /// 0 when the request's shape makes that meaningless.
    pub fn slot_len(&self) -> usize {
        if self.paths > 0 && self.points > 0 {
            (self.paths as usize).saturating_mul(self.points as usize)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(inc: i64, len: i64) -> SimulationInput {
        SimulationInput {
            asset: "BTC".into(),
            start_time: "2026-11-24T12:01:00+00:00".into(),
            time_increment: inc,
            time_length: len,
            num_simulations: 10,
        }
    }

    #[test]
    fn points_use_python_floor_division() {
        assert_eq!(Expected::from_input(&input(60, 3600)).points, 61);
        assert_eq!(Expected::from_input(&input(60, 3599)).points, 60);
        // Python: -1 // 60 == -1, 1 // -60 == -1, -1 // -60 == 0
        assert_eq!(Expected::from_input(&input(60, -1)).points, 0);
        assert_eq!(Expected::from_input(&input(-60, 1)).points, 0);
        assert_eq!(Expected::from_input(&input(-60, -1)).points, 1);
        assert_eq!(Expected::from_input(&input(-60, -120)).points, 3);
    }
}
