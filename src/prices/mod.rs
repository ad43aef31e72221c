//! Real prices: what the validator scores miners against, fetched from Pyth ([`pyth`]).

pub mod pyth;
