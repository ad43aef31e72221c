//! synth-forward: the forward phase of a Synth (subnet 50) validator cycle as a batch engine.
//!
//! A cycle's data flows through these modules, in order:
//!
//! - [`request`]: the cycle request (simulation input, timeout, protocol, axons) is parsed and
//!   checked, and sized into a [`request::CycleShape`] (rows × paths × points).
//! - [`wire`]: the validator hotkey and each miner's signed request (`synapse`, `btauth/1`).
//! - [`call`]: what one miner call produced (status, transport error, timings, raw body): the unit
//!   that crosses from I/O (or a recording) to decoding.
//! - [`fetch`]: one HTTP call per miner under a total deadline and a body cap (live cycles).
//! - [`queue`]: the lock-free hand-off of finished calls from I/O to the decode pool.
//! - [`recording`]: Arrow IPC recordings of a cycle's raw calls, read and written; the replayable
//!   input (see `schemas/recording.md`).
//! - [`decode`]: one raw body → the validator's exact `format_validation` verdict, with the prices
//!   written straight into the miner's slot. A fused fast scanner handles the Axon's own layout;
//!   an exact Python-`json` + pydantic model takes over on anything unusual.
//! - [`columns`]: the cycle's preallocated columns (one f64 buffer for every price of the cycle,
//!   plain per-row vectors for the rest), handed out slot by slot.
//! - [`pool`]: the process-wide rayon pool that decodes rows.
//! - [`batch`]: the columns → one Arrow `RecordBatch`, sorted by uid, prices zero-copy.
//! - [`sink`]: the batch → one Parquet file, hive-partitioned, temp name then rename.
//! - [`live`]: signed requests → fetch → queue → decode → batch → Parquet, as bodies land.
//! - [`shutdown`]: SIGINT / SIGTERM mid-cycle: stop asking, keep what arrived, exit 128 + n.
//! - [`replay`]: recording → decode → batch → Parquet, with the timing summary.
//! - [`fleet`]: fake miners on loopback serving a recording (tests, demo, benches).
//! - [`demo`]: the embedded default: fixture → in-process fleet → signed live cycle → Parquet.
//! - [`fixture`]: synthetic cycles (GBM paths in the Axon's byte layout) for tests and benches.

pub mod batch;
pub mod call;
pub mod columns;
pub mod decode;
pub mod demo;
pub mod fetch;
pub mod fixture;
pub mod fleet;
pub mod live;
pub mod pool;
pub mod queue;
pub mod recording;
pub mod replay;
pub mod request;
pub mod shutdown;
pub mod sink;
pub mod wire;
