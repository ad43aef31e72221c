//! Protocol `btauth/1` (bittensor 11 signed HTTP requests): one cycle's inputs → the signed request
//! each miner gets, and the receiver's checks for the fake-miner fleet.
//!
//! In: the validator [`Hotkey`], the cycle nonce and the simulation input (once per cycle); then one
//! [`Axon`] per miner. Out: a [`SignedRequest`] with the same body as protocol `synapse`.
//!
//! Checked against bittensor 11.3.0's `bittensor/http_auth.py`. The signed payload is UTF-8, the
//! lines joined by `\n`: `btauth/1`, the scheme (`sr25519`), the upper-case method, the request
//! target (path plus `?query` as sent), lower-case hex SHA-256 of the raw body, the decimal nonce,
//! the sender ss58, the receiver ss58 (`-` when unbound). Signatures are sr25519 in the
//! `b"substrate"` context, written `0x` + hex. `X-Bittensor-Crypto` is sent only for non-sr25519
//! keys, so never here. `sign()` emits the headers in the order Version, Hotkey, Nonce, Signature,
//! Receiver; we keep that order.
//!
//! Unlike `synapse`, each request is bound to its receiver, so each miner gets its own signature;
//! the receiver accepts a nonce only within `max_age` (10 s) behind and `allowed_skew` (2 s) ahead
//! of its clock, so a request must go out within seconds of the cycle nonce (a retry needs a fresh
//! nonce and signer).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::body::simulation_body;
use super::keys::{Hotkey, parse_signature_hex, verify_signature};
use super::synapse::{PATH, USER_AGENT};
use super::{SignedRequest, VerifyError, header, ss58};
use crate::request::{Axon, SimulationInput};

pub const PROTOCOL: &str = "btauth/1";
pub const VERSION: &str = "1";
pub const SCHEME_SR25519: &str = "sr25519";
pub const HEADER_VERSION: &str = "X-Bittensor-Version";
pub const HEADER_HOTKEY: &str = "X-Bittensor-Hotkey";
pub const HEADER_RECEIVER: &str = "X-Bittensor-Receiver";
pub const HEADER_NONCE: &str = "X-Bittensor-Nonce";
pub const HEADER_CRYPTO: &str = "X-Bittensor-Crypto";
pub const HEADER_SIGNATURE: &str = "X-Bittensor-Signature";
/// The payload's receiver line for a request bound to no receiver.
const NO_RECEIVER: &str = "-";

/// `hashlib.sha256(body).hexdigest()`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The exact bytes that are signed (`build_payload` in bittensor 11, sr25519 scheme).
pub fn payload(
    method: &str,
    path: &str,
    body_sha256_hex: &str,
    nonce_ns: i128,
    sender_ss58: &str,
    receiver_ss58: Option<&str>,
) -> String {
    [
        PROTOCOL,
        SCHEME_SR25519,
        &method.to_ascii_uppercase(),
        path,
        body_sha256_hex,
        &nonce_ns.to_string(),
        sender_ss58,
        receiver_ss58.unwrap_or(NO_RECEIVER),
    ]
    .join("\n")
}

/// One cycle's signer: the body and its hash are computed once.
pub struct BtauthSigner {
    hotkey: Arc<Hotkey>,
    nonce: u64,
    nonce_text: String,
    body: Arc<[u8]>,
    body_sha256: String,
    content_length: String,
}

impl std::fmt::Debug for BtauthSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BtauthSigner")
            .field("hotkey", &self.hotkey)
            .field("nonce", &self.nonce)
            .field("body_sha256", &self.body_sha256)
            .finish()
    }
}

impl BtauthSigner {
    /// `nonce_ns` is `time.time_ns()` at the start of the forward ([`super::synapse::nonce_now`]).
    pub fn new(hotkey: Arc<Hotkey>, nonce_ns: u64, input: &SimulationInput) -> BtauthSigner {
        let body: Arc<[u8]> = simulation_body(input).into();
        BtauthSigner {
            hotkey,
            nonce: nonce_ns,
            nonce_text: nonce_ns.to_string(),
            body_sha256: body_sha256_hex(&body),
            content_length: body.len().to_string(),
            body,
        }
    }

    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    pub fn body(&self) -> &Arc<[u8]> {
        &self.body
    }

    /// The signed request for one miner: signature bound to the miner's hotkey, the shared body.
    /// Headers: httpx's prelude, the btauth headers in `sign()`'s order, then Content-Length and
    /// Content-Type (as httpx sends a `json=` body).
    pub fn request(&self, axon: &Axon) -> SignedRequest {
        let p =
            payload("POST", PATH, &self.body_sha256, i128::from(self.nonce), self.hotkey.ss58(), Some(&axon.hotkey));
        let signature = self.hotkey.sign_hex(p.as_bytes());
        // btauth has no dendrite external IP; connect to the miner as published.
        let authority = super::synapse::authority(axon, "");
        let headers = vec![
            ("Host", authority.clone()),
            ("Accept", "*/*".to_owned()),
            ("Accept-Encoding", "gzip, deflate".to_owned()),
            ("Connection", "keep-alive".to_owned()),
            ("User-Agent", USER_AGENT.to_owned()),
            (HEADER_VERSION, VERSION.to_owned()),
            (HEADER_HOTKEY, self.hotkey.ss58().to_owned()),
            (HEADER_NONCE, self.nonce_text.clone()),
            (HEADER_SIGNATURE, signature),
            (HEADER_RECEIVER, axon.hotkey.clone()),
            ("Content-Length", self.content_length.clone()),
            ("Content-Type", "application/json".to_owned()),
        ];
        SignedRequest { method: "POST", path: PATH, authority, headers, body: Arc::clone(&self.body) }
    }
}

/// The freshness window a receiver allows (bittensor 11 defaults: 10 s back, 2 s ahead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    pub max_age_ns: i128,
    pub allowed_skew_ns: i128,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness { max_age_ns: 10_000_000_000, allowed_skew_ns: 2_000_000_000 }
    }
}

/// The authenticated sender of a verified request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtauthCaller {
    pub hotkey_ss58: String,
    pub nonce_ns: i128,
}

/// bittensor 11's `verify` for receiver-bound sr25519 requests, in its order: header shape,
/// receiver is `my_hotkey_ss58`, freshness, signature over the payload rebuilt from `method`,
/// `path` and the SHA-256 of the raw `body` (so a changed body fails here). Replay protection is
/// the caller's: after `Ok`, refuse a `(hotkey, nonce)` pair already accepted inside the window.
/// `headers` names are matched case-insensitively.
pub fn verify_btauth<K: AsRef<str>, V: AsRef<str>>(
    headers: &[(K, V)],
    body: &[u8],
    method: &str,
    path: &str,
    my_hotkey_ss58: &str,
    now_ns: u64,
    window: Freshness,
) -> Result<BtauthCaller, VerifyError> {
    if header(headers, HEADER_VERSION) != Some(VERSION) {
        return Err(VerifyError::MalformedHeader { header: HEADER_VERSION, problem: "missing or not \"1\"" });
    }
    let sender =
        header(headers, HEADER_HOTKEY).filter(|s| !s.is_empty()).ok_or(VerifyError::MissingHeader(HEADER_HOTKEY))?;
    let nonce: i128 = header(headers, HEADER_NONCE)
        .ok_or(VerifyError::MissingHeader(HEADER_NONCE))?
        .trim()
        .parse()
        .map_err(|_| VerifyError::MalformedHeader { header: HEADER_NONCE, problem: "not a decimal integer" })?;
    match header(headers, HEADER_CRYPTO) {
        None => {}
        Some(s) if s.trim().eq_ignore_ascii_case(SCHEME_SR25519) || s.trim() == "1" => {}
        Some(_) => {
            return Err(VerifyError::MalformedHeader { header: HEADER_CRYPTO, problem: "only sr25519 is supported" });
        }
    }
    let signature_text = header(headers, HEADER_SIGNATURE).ok_or(VerifyError::MissingHeader(HEADER_SIGNATURE))?;

    let receiver = header(headers, HEADER_RECEIVER).ok_or(VerifyError::WrongReceiver { got: None })?;
    if receiver != my_hotkey_ss58 {
        return Err(VerifyError::WrongReceiver { got: Some(receiver.to_owned()) });
    }

    let now = i128::from(now_ns);
    if now - nonce > window.max_age_ns {
        return Err(VerifyError::NonceTooOld { age_ns: now - nonce, allowed_ns: window.max_age_ns });
    }
    if nonce - now > window.allowed_skew_ns {
        return Err(VerifyError::NonceInFuture { ahead_ns: nonce - now, allowed_ns: window.allowed_skew_ns });
    }

    let p = payload(method, path, &body_sha256_hex(body), nonce, sender, Some(receiver));
    let public = ss58::decode(sender).map_err(|e| VerifyError::BadHotkey(e.to_string()))?;
    let signature = parse_signature_hex(signature_text)
        .ok_or(VerifyError::MalformedHeader { header: HEADER_SIGNATURE, problem: "not 0x + 128 hex digits" })?;
    if !verify_signature(&public, p.as_bytes(), &signature) {
        return Err(VerifyError::BadSignature);
    }
    Ok(BtauthCaller { hotkey_ss58: sender.to_owned(), nonce_ns: nonce })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_layout() {
        let p = payload("post", "/Simulation", "ab", 17, "5S", Some("5R"));
        assert_eq!(p, "btauth/1\nsr25519\nPOST\n/Simulation\nab\n17\n5S\n5R");
        assert!(payload("POST", "/x", "ab", 1, "5S", None).ends_with("\n5S\n-"));
    }

    #[test]
    fn sha256_of_empty_body() {
        assert_eq!(body_sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
