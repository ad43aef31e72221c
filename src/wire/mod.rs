//! The bittensor wire layer: the validator's hotkey, and signed `Simulation` requests for the two
//! protocols miners speak, plus the receivers' checks (for the fake-miner fleet and tests).
//!
//! In: a hotkey file, the cycle's simulation input, nonce and timeout, and the axons. Out: for
//! each miner a [`SignedRequest`]: method, path, ordered headers and the cycle's shared body bytes,
//! ready to write as HTTP/1.1.
//!
//! - [`keys`]: keyfile → sr25519 [`keys::Hotkey`] (substrate's derivation, checked against the
//!   file), wallet path conventions, permission warning; secrets never printed.
//! - [`ss58`]: public key ⇄ ss58 address with checksum.
//! - [`body`]: the simulation input → the request body (same bytes for both protocols).
//! - [`synapse`]: bittensor ≤ 10 Axon protocol (`bt_header_*`), signer and Axon-side verifier.
//! - [`btauth`]: bittensor 11 `btauth/1`, signer and verifier.
//! - [`sign`]: a whole cycle signed with its protocol, one [`crate::fetch::OutgoingRequest`] per axon.
//!
//! ```no_run
//! use std::sync::Arc;
//! use synth_forward::wire::{keys::Hotkey, synapse};
//! # fn demo(req: &synth_forward::request::CycleRequest) -> Result<(), Box<dyn std::error::Error>> {
//! let hotkey = Arc::new(Hotkey::from_wallet(None, Some("validator"), Some("default"))?);
//! let signer = synapse::SynapseSigner::new(
//!     hotkey, "203.0.113.10", synapse::nonce_now(), synapse::process_dendrite_uuid(),
//!     req.timeout_s, &req.simulation_input,
//! );
//! for axon in &req.axons {
//!     let r = signer.request(axon);
//!     // connect to r.authority; write "POST {r.path} HTTP/1.1", r.headers in order, r.body
//! }
//! # Ok(()) }
//! ```

pub mod body;
pub mod btauth;
pub mod keys;
pub mod sign;
pub mod ss58;
pub mod synapse;

use std::sync::Arc;

/// One miner's request, complete: the client writes the headers verbatim and in order, and adds
/// none of its own (`Host` and `Content-Length` are included).
#[derive(Clone, Debug)]
pub struct SignedRequest {
    /// Always `"POST"`.
    pub method: &'static str,
    /// `"/Simulation"`.
    pub path: &'static str,
    /// `host[:port]` to connect to, the same text as the `Host` header (Synth's dendrite uses
    /// `0.0.0.0` for a miner that shares the validator's external IP).
    pub authority: String,
    pub headers: Vec<(&'static str, String)>,
    /// The cycle's body, shared by every miner's request.
    pub body: Arc<[u8]>,
}

impl SignedRequest {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The request head as HTTP/1.1 text (request line, headers, blank line), for tests and for a
    /// client that writes raw bytes.
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", self.method, self.path).as_bytes());
        for (k, v) in &self.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Why a receiver refuses a request. Messages name headers and public values only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {header}: {problem}")]
    MalformedHeader { header: &'static str, problem: &'static str },
    #[error("sender hotkey is not a valid ss58 address: {0}")]
    BadHotkey(String),
    #[error("request was signed for a different receiving hotkey ({got:?})")]
    WrongReceiver { got: Option<String> },
    #[error("nonce is too old: {age_ns} ns old, {allowed_ns} ns allowed")]
    NonceTooOld { age_ns: i128, allowed_ns: i128 },
    #[error("nonce is {ahead_ns} ns in the future, {allowed_ns} ns allowed")]
    NonceInFuture { ahead_ns: i128, allowed_ns: i128 },
    #[error("nonce {nonce} is not newer than the last one processed ({last})")]
    NonceReplayed { nonce: u64, last: u64 },
    #[error("signature does not verify against the sender hotkey")]
    BadSignature,
    #[error("body is not a JSON object")]
    BodyNotJson,
    #[error("body hash mismatch: header {header:?}, computed {computed}")]
    BodyHashMismatch { header: String, computed: String },
}

/// First header value named `name`, ASCII case-insensitive.
pub(crate) fn header<'a, K: AsRef<str>, V: AsRef<str>>(headers: &'a [(K, V)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
}
