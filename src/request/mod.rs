//! The cycle request: what the validator asks and of whom.
//!
//! In: the cycle request JSON (`schemas/cycle-request.md`). Out: a checked [`CycleRequest`] and
//! its [`CycleShape`] (how many rows, paths and points the cycle's buffers need), plus the
//! [`Expected`] values the verdict rules compare a reply against.

pub mod isotime;

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub use crate::decode::Rules;

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
    /// The verdict rules (`"v2"` or `"v3"`); absent means today's, v3. A recording always
    /// stores the rules its cycle ran under (see [`CycleRequest::rules`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Rules>,
    /// When the validator asked, as an ISO 8601 time with a UTC offset: what its database stores
    /// as `validator_requests.request_time`. Absent, a live cycle fills in its own start (and its
    /// recording keeps that), so a replay stores the same value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_time: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("cycle request is not valid JSON of the expected form: {0}")]
    Json(String),
    #[error("cycle request: start_time {0:?} is not an ISO 8601 time with a UTC offset")]
    StartTime(String),
    #[error("cycle request: request_time {0:?} is not an ISO 8601 time with a UTC offset")]
    RequestTime(String),
    #[error("cycle request: time_increment must be > 0, got {0}")]
    Increment(i64),
    #[error("cycle request: time_length must be >= 0, got {0}")]
    Length(i64),
    #[error("cycle request: num_simulations must be >= 0, got {0}")]
    Simulations(i64),
    #[error("cycle request: timeout_s must be a positive number of seconds, got {0}")]
    Timeout(f64),
    #[error("cycle request: uid {0} appears more than once")]
    DuplicateUid(u16),
    #[error("cycle request: {0} prices per cycle do not fit in memory")]
    TooLarge(String),
    #[error("cycle request: no axons to query")]
    NoAxons,
    #[error("cycle request: uid {uid} has ip {ip:?}, which is not an IPv4 or IPv6 address")]
    BadIp { uid: u16, ip: String },
    #[error("cycle request: uid {uid} has port 0")]
    BadPort { uid: u16 },
    #[error(
        "cycle request: {rows} miners × {paths} paths × {points} points need {need_mib} MiB of \
         price buffer, more than --max-memory ({max_mib} MiB)"
    )]
    OverMemory { rows: usize, paths: usize, points: usize, need_mib: u64, max_mib: u64 },
}

/// Whether `asset` is a plain name (letters, digits, `_`, `-`, `.`; not `.` or `..`): what may name
/// a hive partition (`asset=…`) and a price series, so it can never leave a folder or need escaping.
pub fn is_plain_asset(asset: &str) -> bool {
    !asset.is_empty()
        && asset != "."
        && asset != ".."
        && asset.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// How big one cycle is: the sizes every preallocated buffer is derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CycleShape {
    /// Paths per miner (`num_simulations`; may be 0, and then every slot is empty).
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
        if let Some(t) = &req.request_time {
            if isotime::parse(t).and_then(|d| d.timestamp()).is_none() || !isotime::has_utc_offset(t) {
                return Err(RequestError::RequestTime(t.clone()));
            }
        }
        let mut seen = HashSet::with_capacity(req.axons.len());
        for a in &req.axons {
            if !seen.insert(a.uid) {
                return Err(RequestError::DuplicateUid(a.uid));
            }
        }
        Ok(req)
    }

    /// The checks a live cycle needs before any traffic: something to query, addresses that
    /// parse, and a price buffer (`axons × paths × points` f64) within `max_memory` bytes.
    pub fn check_live(&self, max_memory: u64) -> Result<CycleShape, RequestError> {
        let shape = self.shape()?;
        if self.axons.is_empty() {
            return Err(RequestError::NoAxons);
        }
        for a in &self.axons {
            if a.ip.parse::<std::net::IpAddr>().is_err() {
                return Err(RequestError::BadIp { uid: a.uid, ip: a.ip.clone() });
            }
            if a.port == 0 {
                return Err(RequestError::BadPort { uid: a.uid });
            }
        }
        let need = (self.axons.len() as u128) * (shape.slot_len() as u128) * 8;
        if need > u128::from(max_memory) {
            return Err(RequestError::OverMemory {
                rows: self.axons.len(),
                paths: shape.paths,
                points: shape.points,
                need_mib: u64::try_from(need >> 20).unwrap_or(u64::MAX),
                max_mib: max_memory >> 20,
            });
        }
        Ok(shape)
    }

    /// The rules the replies are judged by.
    pub fn rules(&self) -> Rules {
        self.rules.unwrap_or_default()
    }

    /// What every reply of this cycle is compared against.
    pub fn expected(&self) -> Expected {
        Expected::from_input(&self.simulation_input, self.rules())
    }

    /// `request_time`, or now (UTC, microseconds, `+00:00`: Python's `isoformat()` of an aware
    /// time) when the request has none.
    pub fn request_time_or_now(&self) -> String {
        self.request_time.clone().unwrap_or_else(now_iso)
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
        // 0 is a request the validator can send and judge: `[start, increment]` is then CORRECT
        // (conformance README, note 14). Every slot is empty; the replies still get verdicts.
        if si.num_simulations < 0 {
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
    /// Which validator's checks run.
    pub rules: Rules,
}

impl Expected {
    pub fn from_input(si: &SimulationInput, rules: Rules) -> Expected {
        let points = if si.time_increment == 0 {
            0
        } else {
            // Python's `time_length // time_increment + 1`, in i128 so no request can overflow it
            // (`i64::MIN // -1` is 2^63); beyond i64 it saturates, and such a request (negative
            // increment) never reaches a live cycle anyway.
            let (a, b) = (i128::from(si.time_length), i128::from(si.time_increment));
            let floor = a / b - i128::from(a % b != 0 && ((a % b < 0) != (b < 0)));
            i64::try_from(floor + 1).unwrap_or(i64::MAX)
        };
        Expected {
            start: isotime::fromisoformat_timestamp(&si.start_time),
            increment: si.time_increment,
            paths: si.num_simulations,
            points,
            rules,
        }
    }

    /// The number of prices a CORRECT reply carries (and the slot length the decoder fills), or
    /// 0 when the request's shape makes that meaningless.
    pub fn slot_len(&self) -> usize {
        if self.paths > 0 && self.points > 0 { (self.paths as usize).saturating_mul(self.points as usize) } else { 0 }
    }
}

/// Now as an ISO 8601 time in UTC with microseconds, `2026-12-04T17:20:50.123456+00:00`.
pub fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// The default `--max-memory`: half of the machine's RAM (`/proc/meminfo`), or 4 GiB when that
/// cannot be read. A cycle's price buffer is its one large allocation.
pub fn default_max_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(4 << 30, |kib| kib * 1024 / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_request(axons: Vec<Axon>) -> CycleRequest {
        CycleRequest {
            simulation_input: SimulationInput {
                asset: "BTC".into(),
                start_time: "2026-11-24T12:01:00+00:00".into(),
                time_increment: 60,
                time_length: 3600,
                num_simulations: 1000,
            },
            timeout_s: 60.0,
            protocol: Protocol::Synapse,
            axons,
            rules: None,
            request_time: None,
        }
    }

    fn axon(uid: u16, ip: &str, port: u16) -> Axon {
        Axon { uid, ip: ip.into(), port, hotkey: "5F".into() }
    }

    #[test]
    fn points_are_pythons_floor_division_and_never_overflow() {
        let points = |length: i64, increment: i64| {
            let si = SimulationInput {
                time_length: length,
                time_increment: increment,
                ..live_request(vec![]).simulation_input
            };
            Expected::from_input(&si, Rules::V3).points
        };
        assert_eq!(points(3600, 60), 61);
        assert_eq!(points(3599, 60), 60);
        assert_eq!(points(-1, 60), 0, "-1 // 60 == -1");
        assert_eq!(points(7, -2), -3, "7 // -2 == -4");
        assert_eq!(points(-7, -2), 4, "-7 // -2 == 3");
        assert_eq!(points(5, 0), 0);
        assert_eq!(points(i64::MIN, -1), i64::MAX, "2^63 + 1 saturates");
        assert_eq!(points(i64::MIN, 1), i64::MIN + 1);
    }

    #[test]
    fn live_requests_are_checked_before_any_traffic() {
        let gib = 1u64 << 30;
        let ok = live_request(vec![axon(0, "127.0.0.1", 9000), axon(1, "::1", 9001)]);
        assert_eq!(ok.check_live(gib).unwrap().slot_len(), 61_000);
        assert!(matches!(live_request(vec![]).check_live(gib), Err(RequestError::NoAxons)));
        let bad_ip = live_request(vec![axon(7, "300.1.2.3", 9000)]).check_live(gib).unwrap_err();
        assert_eq!(
            bad_ip.to_string(),
            "cycle request: uid 7 has ip \"300.1.2.3\", which is not an IPv4 or IPv6 address"
        );
        assert!(matches!(
            live_request(vec![axon(3, "10.0.0.1", 0)]).check_live(gib),
            Err(RequestError::BadPort { uid: 3 })
        ));
        // 256 × 1000 × 61 × 8 B = 119 MiB.
        let many: Vec<Axon> = (0..256).map(|u| axon(u, "127.0.0.1", 9000 + u)).collect();
        let err = live_request(many).check_live(100 << 20).unwrap_err();
        assert!(err.to_string().contains("need 119 MiB"), "{err}");
        assert!(default_max_memory() >= 1 << 30);
    }

    #[test]
    fn zero_paths_is_a_cycle_with_empty_slots_and_negative_is_refused() {
        let mut req = live_request(vec![axon(0, "127.0.0.1", 9000)]);
        req.simulation_input.num_simulations = 0;
        let shape = req.shape().expect("num_simulations 0 is a request the validator judges");
        assert_eq!((shape.paths, shape.points, shape.slot_len()), (0, 61, 0));
        assert_eq!(req.check_live(1 << 30).unwrap(), shape);
        let e = req.expected();
        assert_eq!((e.paths, e.points, e.slot_len()), (0, 61, 0));
        assert!(CycleRequest::from_json(req.to_json().as_bytes()).is_ok());
        req.simulation_input.num_simulations = -1;
        let err = req.shape().unwrap_err();
        assert_eq!(err.to_string(), "cycle request: num_simulations must be >= 0, got -1");
    }

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
        assert_eq!(Expected::from_input(&input(60, 3600), Rules::V3).points, 61);
        assert_eq!(Expected::from_input(&input(60, 3599), Rules::V3).points, 60);
        // Python: -1 // 60 == -1, 1 // -60 == -1, -1 // -60 == 0
        assert_eq!(Expected::from_input(&input(60, -1), Rules::V3).points, 0);
        assert_eq!(Expected::from_input(&input(-60, 1), Rules::V3).points, 0);
        assert_eq!(Expected::from_input(&input(-60, -1), Rules::V3).points, 1);
        assert_eq!(Expected::from_input(&input(-60, -120), Rules::V3).points, 3);
    }
}
