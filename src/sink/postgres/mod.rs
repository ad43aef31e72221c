//! Towards the save phase in the same pass: the validator's own Postgres rows.
//!
//! In: a CORRECT miner's prices. Out: the text its `miner_predictions.prediction` column holds
//! ([`jsonb`]): what PostgreSQL's `::jsonb` cast makes of the validator's `json.dumps`, produced
//! here without a server round trip so rows can be streamed straight into a `COPY`.

pub mod jsonb;
