//! Where a cycle's calls come from: two sources side by side, neither importing the other.
//!
//! - [`live`]: every miner asked at once over HTTP; each call handed to the pipeline as it ends
//!   ([`crate::engine::Engine::run_cycle`]).
//! - [`replay`]: a recording's calls handed to the pipeline row by row
//!   ([`crate::engine::Engine::replay`]).
//!
//! Both end in the same [`crate::cycle::Cycle`]: same decode, same sinks, same summary.

pub mod live;
pub mod replay;
