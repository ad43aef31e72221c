//! Protocol `synapse` (bittensor ≤ 10 Axon): one cycle's inputs → the signed request each miner
//! gets, and the Axon's checks for the fake-miner fleet.
//!
//! In: the validator [`Hotkey`], its external IP, the cycle's nonce, the process's dendrite UUID,
//! the per-miner timeout and the simulation input (once per cycle); then one [`Axon`] per miner.
//! Out: a [`SignedRequest`] (path, headers in httpx's order, the shared body).
//!
//! The spec is `shared/wire-samples/README.md`; `synapse/request.http` is the golden output.
//! The signed message is `"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}"`, where
//! `body_hash` is SHA3-256 over the `required_hash_fields` of `Simulation` — it has none, so the
//! hash is that of the empty string for every request ([`EMPTY_BODY_HASH`]).

use std::sync::{Arc, OnceLock};

use sha3::{Digest, Sha3_256};

use super::body::simulation_body;
use super::keys::{Hotkey, parse_signature_hex, verify_signature};
use super::{SignedRequest, VerifyError, header, ss58};
use crate::decode::pyrepr::float_repr;
use crate::request::{Axon, SimulationInput};

/// The URL path (and synapse name) of a Synth request.
pub const PATH: &str = "/Simulation";
/// `bittensor.__version_as_int__` of bittensor 10.0.1, sent as `bt_header_dendrite_version`.
pub const DENDRITE_VERSION: u64 = 10_000_001;
/// SHA3-256 of the empty string: `Simulation`'s body hash, whatever the body holds.
pub const EMPTY_BODY_HASH: &str = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";
/// `header_size` header: CPython's `sys.getsizeof` of the header dict in the capture. Unchecked.
pub const HEADER_SIZE: u64 = 464;
/// `total_size` header: recursive `sys.getsizeof` of the synapse in the capture. Unchecked.
pub const TOTAL_SIZE: u64 = 3868;
/// The User-Agent of httpx 0.28.1, the client Synth's validator uses.
pub const USER_AGENT: &str = "python-httpx/0.28.1";
/// `bt_header_input_obj_simulation_input`: base64 of `{}` (bittensor sends an empty dummy).
pub const INPUT_OBJ_HEADER: &str = "e30=";

/// bittensor's `ALLOWED_DELTA`: how far behind `now − timeout` a first nonce may be.
pub const ALLOWED_DELTA_NS: i128 = 4_000_000_000;
/// `V_7_2_0`: dendrites at or above this version get the freshness window.
pub const V_7_2_0: u64 = 7_002_000;

/// The `timeout` a synapse has when its header is absent (the class default).
const DEFAULT_TIMEOUT_S: f64 = 12.0;

/// SHA3-256 hex of `Simulation`'s hash fields (none): the value of [`EMPTY_BODY_HASH`].
pub fn simulation_body_hash() -> String {
    hex::encode(Sha3_256::digest(b""))
}

/// The text the dendrite signs (and the Axon rebuilds with its own hotkey third).
pub fn signing_message(nonce: u64, dendrite_hotkey: &str, axon_hotkey: &str, uuid: &str, body_hash: &str) -> String {
    format!("{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}")
}

/// `time.time_ns()`: the cycle nonce, taken once at the start of the forward.
pub fn nonce_now() -> u64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    u64::try_from(d.as_nanos()).expect("nanoseconds fit in u64 until 2554")
}

/// The dendrite UUID: a version-1 UUID made once per process (Python's `uuid.uuid1()`), with a
/// random node id (multicast bit set, as RFC 4122 asks of a node that is not a MAC address) so
/// no MAC address leaks.
pub fn process_dendrite_uuid() -> &'static str {
    static UUID: OnceLock<String> = OnceLock::new();
    UUID.get_or_init(|| {
        let random = uuid::Uuid::new_v4();
        let mut node = [0u8; 6];
        node.copy_from_slice(&random.as_bytes()[..6]);
        node[0] |= 0x01;
        uuid::Uuid::now_v1(&node).to_string()
    })
}

/// `host[:port]` as Synth's dendrite builds the URL: `0.0.0.0` stands in for a miner whose IP is
/// the validator's own external IP; httpx leaves port 80 out of `Host`; IPv6 literals get brackets.
pub fn authority(axon: &Axon, external_ip: &str) -> String {
    let host = if axon.ip == external_ip { "0.0.0.0" } else { axon.ip.as_str() };
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
    if axon.port == 80 { host } else { format!("{host}:{}", axon.port) }
}

/// One cycle's requests before their signatures: everything but the target is fixed, and the
/// body is built once. The signature comes from whoever holds the key: [`SynapseSigner`] with a
/// [`Hotkey`] of ours, or the caller's own keypair (the Python binding signs [`Self::message`]
/// with the validator's `Keypair.sign`, so the secret never reaches this crate).
pub struct SynapseRequests {
    dendrite: String,
    external_ip: String,
    nonce: u64,
    nonce_text: String,
    uuid: String,
    timeout_text: String,
    body: Arc<[u8]>,
    content_length: String,
}

impl std::fmt::Debug for SynapseRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynapseRequests")
            .field("dendrite", &self.dendrite)
            .field("external_ip", &self.external_ip)
            .field("nonce", &self.nonce)
            .field("uuid", &self.uuid)
            .field("timeout", &self.timeout_text)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl SynapseRequests {
    /// `dendrite` is the validator hotkey's ss58 address; `timeout_s` the per-miner timeout the
    /// header carries (Python's `repr` of the float); `nonce` the cycle's `time.time_ns()`;
    /// `uuid` the dendrite UUID.
    pub fn new(
        dendrite: &str,
        external_ip: &str,
        nonce: u64,
        uuid: &str,
        timeout_s: f64,
        input: &SimulationInput,
    ) -> SynapseRequests {
        let body: Arc<[u8]> = simulation_body(input).into();
        SynapseRequests {
            dendrite: dendrite.to_owned(),
            external_ip: external_ip.to_owned(),
            nonce,
            nonce_text: nonce.to_string(),
            uuid: uuid.to_owned(),
            timeout_text: float_repr(timeout_s),
            content_length: body.len().to_string(),
            body,
        }
    }

    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The cycle's body, shared by every request.
    pub fn body(&self) -> &Arc<[u8]> {
        &self.body
    }

    /// The text to sign for one miner (it binds the miner's hotkey).
    pub fn message(&self, axon: &Axon) -> String {
        signing_message(self.nonce, &self.dendrite, &axon.hotkey, &self.uuid, EMPTY_BODY_HASH)
    }

    /// The request for one miner with `signature` (`0x` + hex of the signature over
    /// [`Self::message`]), the shared body.
    pub fn signed(&self, axon: &Axon, signature: String) -> SignedRequest {
        let authority = authority(axon, &self.external_ip);
        let headers = vec![
            ("Host", authority.clone()),
            ("Accept", "*/*".to_owned()),
            ("Accept-Encoding", "gzip, deflate".to_owned()),
            ("Connection", "keep-alive".to_owned()),
            ("User-Agent", USER_AGENT.to_owned()),
            ("name", "Simulation".to_owned()),
            ("timeout", self.timeout_text.clone()),
            ("bt_header_axon_ip", axon.ip.clone()),
            ("bt_header_axon_port", axon.port.to_string()),
            ("bt_header_axon_hotkey", axon.hotkey.clone()),
            ("bt_header_dendrite_ip", self.external_ip.clone()),
            ("bt_header_dendrite_version", DENDRITE_VERSION.to_string()),
            ("bt_header_dendrite_nonce", self.nonce_text.clone()),
            ("bt_header_dendrite_uuid", self.uuid.clone()),
            ("bt_header_dendrite_hotkey", self.dendrite.clone()),
            ("bt_header_dendrite_signature", signature),
            ("bt_header_input_obj_simulation_input", INPUT_OBJ_HEADER.to_owned()),
            ("header_size", HEADER_SIZE.to_string()),
            ("total_size", TOTAL_SIZE.to_string()),
            ("computed_body_hash", EMPTY_BODY_HASH.to_owned()),
            ("Content-Length", self.content_length.clone()),
            ("Content-Type", "application/json".to_owned()),
        ];
        SignedRequest { method: "POST", path: PATH, authority, headers, body: Arc::clone(&self.body) }
    }
}

/// One cycle's signer: [`SynapseRequests`] signed with a [`Hotkey`] this process holds.
pub struct SynapseSigner {
    hotkey: Arc<Hotkey>,
    requests: SynapseRequests,
}

impl std::fmt::Debug for SynapseSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynapseSigner").field("hotkey", &self.hotkey).field("requests", &self.requests).finish()
    }
}

impl SynapseSigner {
    /// `timeout_s` is the per-miner timeout the header carries (Python's `repr` of the float);
    /// `nonce` the cycle's `time.time_ns()`; `uuid` the process's dendrite UUID
    /// ([`process_dendrite_uuid`] in production).
    pub fn new(
        hotkey: Arc<Hotkey>,
        external_ip: &str,
        nonce: u64,
        uuid: &str,
        timeout_s: f64,
        input: &SimulationInput,
    ) -> SynapseSigner {
        let requests = SynapseRequests::new(hotkey.ss58(), external_ip, nonce, uuid, timeout_s, input);
        SynapseSigner { hotkey, requests }
    }

    pub fn nonce(&self) -> u64 {
        self.requests.nonce()
    }

    /// The cycle's body, shared by every request.
    pub fn body(&self) -> &Arc<[u8]> {
        self.requests.body()
    }

    /// The signed request for one miner: a fresh sr25519 signature, the shared body.
    pub fn request(&self, axon: &Axon) -> SignedRequest {
        let signature = self.hotkey.sign_hex(self.requests.message(axon).as_bytes());
        self.requests.signed(axon, signature)
    }
}

/// What a request that passed [`verify_synapse`] proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynapseCaller {
    pub dendrite_hotkey: String,
    pub uuid: String,
    pub nonce: u64,
}

impl SynapseCaller {
    /// The Axon's nonce-table key, `"{hotkey}:{uuid}"`: store `nonce` under it after a success.
    pub fn endpoint_key(&self) -> String {
        format!("{}:{}", self.dendrite_hotkey, self.uuid)
    }
}

/// The bittensor 10 Axon's checks on one `/Simulation` request, in its order:
///
/// 1. the dendrite headers are present and parse (`SynapseParsingError` → HTTP 400 there);
/// 2. nonce: for dendrite versions ≥ 7.2.0, when no nonce is stored for `hotkey:uuid`
///    (`last_nonce_seen` is `None`), it must be newer than `now − 4 s − timeout`; when one is
///    stored it must be strictly greater (older dendrites: only the latter);
/// 3. the signature over `"{nonce}.{dendrite hotkey}.{MY hotkey}.{uuid}.{computed_body_hash header}"`
///    verifies against `bt_header_dendrite_hotkey` (2 and 3 are the default verify, HTTP 401);
/// 4. the route's body check: the body is JSON and the `computed_body_hash` header equals the
///    body's recomputed hash, which for `Simulation` is always [`EMPTY_BODY_HASH`].
///
/// As on the real Axon, the body's *content* is not covered by the signature: `Simulation` lists
/// no `required_hash_fields`. The caller keeps the nonce table: on `Ok`, store the returned nonce
/// under [`SynapseCaller::endpoint_key`]. `headers` names are matched case-insensitively.
pub fn verify_synapse<K: AsRef<str>, V: AsRef<str>>(
    headers: &[(K, V)],
    body: &[u8],
    my_hotkey_ss58: &str,
    now_ns: u64,
    last_nonce_seen: Option<u64>,
) -> Result<SynapseCaller, VerifyError> {
    let required = |name: &'static str| header(headers, name).ok_or(VerifyError::MissingHeader(name));
    let hotkey = required("bt_header_dendrite_hotkey")?;
    let nonce_text = required("bt_header_dendrite_nonce")?;
    let uuid = required("bt_header_dendrite_uuid")?;
    let signature_text = required("bt_header_dendrite_signature")?;
    let body_hash_header = header(headers, "computed_body_hash").unwrap_or("");
    let nonce: u64 = nonce_text
        .trim()
        .parse()
        .map_err(|_| VerifyError::MalformedHeader { header: "bt_header_dendrite_nonce", problem: "not an integer" })?;
    let version: Option<u64> = match header(headers, "bt_header_dendrite_version") {
        None => None,
        Some(v) => Some(v.trim().parse().map_err(|_| VerifyError::MalformedHeader {
            header: "bt_header_dendrite_version",
            problem: "not an integer",
        })?),
    };
    let timeout_s: f64 = match header(headers, "timeout") {
        None => DEFAULT_TIMEOUT_S,
        Some(t) => t
            .trim()
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or(VerifyError::MalformedHeader { header: "timeout", problem: "not a finite number" })?,
    };

    // Dendrites ≥ 7.2.0 with no nonce stored yet: nonce <= now − ALLOWED_DELTA − timeout·1e9 is
    // too old (bittensor compares against a float; we round the timeout to whole nanoseconds).
    if version.is_some_and(|v| v >= V_7_2_0) && last_nonce_seen.is_none() {
        let allowed_delta_ns = ALLOWED_DELTA_NS + (timeout_s * 1e9).round() as i128;
        let age_ns = i128::from(now_ns) - i128::from(nonce);
        if age_ns >= allowed_delta_ns {
            return Err(VerifyError::NonceTooOld { age_ns, allowed_ns: allowed_delta_ns });
        }
    }
    if let Some(last) = last_nonce_seen {
        if nonce <= last {
            return Err(VerifyError::NonceReplayed { nonce, last });
        }
    }

    let public = ss58::decode(hotkey).map_err(|e| VerifyError::BadHotkey(e.to_string()))?;
    let signature = parse_signature_hex(signature_text).ok_or(VerifyError::MalformedHeader {
        header: "bt_header_dendrite_signature",
        problem: "not 0x + 128 hex digits",
    })?;
    let message = signing_message(nonce, hotkey, my_hotkey_ss58, uuid, body_hash_header);
    if !verify_signature(&public, message.as_bytes(), &signature) {
        return Err(VerifyError::BadSignature);
    }

    if !serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object()) {
        return Err(VerifyError::BodyNotJson);
    }
    if body_hash_header != EMPTY_BODY_HASH {
        return Err(VerifyError::BodyHashMismatch {
            header: body_hash_header.to_owned(),
            computed: EMPTY_BODY_HASH.to_owned(),
        });
    }
    Ok(SynapseCaller { dendrite_hotkey: hotkey.to_owned(), uuid: uuid.to_owned(), nonce })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_hash_is_sha3_of_nothing() {
        assert_eq!(simulation_body_hash(), EMPTY_BODY_HASH);
    }

    #[test]
    fn process_uuid_is_version_1_and_fixed() {
        let a = process_dendrite_uuid();
        let u = uuid::Uuid::parse_str(a).unwrap();
        assert_eq!(u.get_version_num(), 1);
        assert_eq!(a, process_dendrite_uuid());
        assert_eq!(a, a.to_lowercase());
    }

    #[test]
    fn authority_follows_synth_and_httpx() {
        let ax = |ip: &str, port| Axon { uid: 0, ip: ip.into(), port, hotkey: String::new() };
        assert_eq!(authority(&ax("1.2.3.4", 8091), "9.9.9.9"), "1.2.3.4:8091");
        assert_eq!(authority(&ax("9.9.9.9", 8091), "9.9.9.9"), "0.0.0.0:8091");
        assert_eq!(authority(&ax("1.2.3.4", 80), "9.9.9.9"), "1.2.3.4");
        assert_eq!(authority(&ax("::1", 8091), "9.9.9.9"), "[::1]:8091");
    }
}
