//! Signed requests for both protocols against the captured bittensor 10 exchange.
//!
//! In: `../shared/wire-samples/` (the capture, its metadata, the throwaway wallets). Out: pass/fail.
//! The captured signature must verify with our verifier; our request for the capture's inputs must
//! match the captured bytes except the (randomized) signature; tampering must be refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use synth_forward::request::{Axon, SimulationInput};
use synth_forward::wire::btauth::{self, BtauthSigner, Freshness, verify_btauth};
use synth_forward::wire::keys::{self, Hotkey};
use synth_forward::wire::synapse::{self, SynapseSigner, verify_synapse};
use synth_forward::wire::{SignedRequest, VerifyError, body, ss58};

fn samples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wire-samples");
    assert!(
        dir.is_dir(),
        "{} is missing (the shared/ folder beside the repository). Refusing to pass without it.",
        dir.display()
    );
    dir
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(samples().join(rel)).unwrap()
}

fn meta() -> serde_json::Value {
    serde_json::from_slice(&read("synapse/capture-meta.json")).unwrap()
}

fn validator() -> Arc<Hotkey> {
    Arc::new(Hotkey::from_keyfile(&samples().join("wallet/validator-hotkey.json")).unwrap())
}

fn miner() -> Hotkey {
    Hotkey::from_keyfile(&samples().join("wallet/miner-hotkey.json")).unwrap()
}

/// A raw HTTP/1.1 request: request line, headers in order, body.
struct Raw {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_http(bytes: &[u8]) -> Raw {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("head ends");
    let head = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Raw { line, headers, body: bytes[split + 4..].to_vec() }
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    &headers.iter().find(|(k, _)| k == name).unwrap().1
}

fn set(headers: &mut [(String, String)], name: &str, value: &str) {
    headers.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.to_owned();
}

fn capture_input() -> SimulationInput {
    serde_json::from_value(meta()["simulation_input"].clone()).unwrap()
}

fn capture_nonce(raw: &Raw) -> u64 {
    get(&raw.headers, "bt_header_dendrite_nonce").parse().unwrap()
}

fn capture_signer() -> SynapseSigner {
    let m = meta();
    let raw = parse_http(&read("synapse/request.http"));
    SynapseSigner::new(
        validator(),
        m["validator_external_ip"].as_str().unwrap(),
        capture_nonce(&raw),
        m["dendrite_uuid"].as_str().unwrap(),
        m["timeout_s"].as_f64().unwrap(),
        &capture_input(),
    )
}

fn capture_axon(port: u16) -> Axon {
    Axon { uid: 0, ip: "127.0.0.1".into(), port, hotkey: meta()["miner_hotkey"].as_str().unwrap().into() }
}

fn owned(r: &SignedRequest) -> Vec<(String, String)> {
    r.headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

const SECOND: u64 = 1_000_000_000;

#[test]
fn captured_requests_verify_with_the_miners_hotkey() {
    let me = miner();
    for file in ["synapse/request.http", "synapse/request-500.http"] {
        let raw = parse_http(&read(file));
        let nonce = capture_nonce(&raw);
        let caller = verify_synapse(&raw.headers, &raw.body, me.ss58(), nonce + SECOND, None).unwrap();
        assert_eq!(caller.nonce, nonce);
        assert_eq!(caller.dendrite_hotkey, validator().ss58());
        assert_eq!(
            caller.endpoint_key(),
            format!("{}:{}", validator().ss58(), meta()["dendrite_uuid"].as_str().unwrap())
        );
    }
}

#[test]
fn built_request_matches_the_capture_byte_for_byte_but_the_signature() {
    let captured = read("synapse/request.http");
    let raw = parse_http(&captured);
    let port: u16 = get(&raw.headers, "bt_header_axon_port").parse().unwrap();
    let req = capture_signer().request(&capture_axon(port));

    assert_eq!(raw.line, "POST /Simulation HTTP/1.1");
    assert_eq!(req.path, "/Simulation");
    assert_eq!(req.method, "POST");
    assert_eq!(req.authority, format!("127.0.0.1:{port}"));
    assert_eq!(&*req.body, &raw.body[..], "body differs from request.http");
    assert_eq!(&*req.body, &read("synapse/request-body.json")[..], "body differs from request-body.json");

    // Same head once both signatures are blanked; then the whole message byte for byte.
    let ours_sig = req.header("bt_header_dendrite_signature").unwrap().to_owned();
    let theirs_sig = get(&raw.headers, "bt_header_dendrite_signature").to_owned();
    assert!(ours_sig.starts_with("0x") && ours_sig.len() == 130 && ours_sig == ours_sig.to_lowercase());
    assert_ne!(ours_sig, theirs_sig, "sr25519 signatures are randomized");
    let mut ours = req.head_bytes();
    ours.extend_from_slice(&req.body);
    let ours = String::from_utf8(ours).unwrap().replace(&ours_sig, "<sig>");
    let theirs = String::from_utf8(captured).unwrap().replace(&theirs_sig, "<sig>");
    assert_eq!(ours, theirs);

    // Our signature verifies as the Axon checks it.
    let nonce = capture_nonce(&raw);
    verify_synapse(&req.headers, &req.body, miner().ss58(), nonce + SECOND, None).unwrap();
}

#[test]
fn the_500_request_differs_only_in_port_and_signature() {
    let raw = parse_http(&read("synapse/request-500.http"));
    let port: u16 = get(&raw.headers, "bt_header_axon_port").parse().unwrap();
    let req = capture_signer().request(&capture_axon(port));
    let theirs: Vec<(String, String)> = raw.headers.clone();
    let mut ours = owned(&req);
    let sig = get(&theirs, "bt_header_dendrite_signature").to_owned();
    set(&mut ours, "bt_header_dendrite_signature", &sig);
    assert_eq!(ours, theirs);
    assert_eq!(&*req.body, &raw.body[..]);
}

#[test]
fn the_body_is_built_once_per_cycle() {
    let signer = capture_signer();
    let a = signer.request(&capture_axon(1));
    let b = signer.request(&Axon { uid: 9, ip: "10.0.0.9".into(), port: 8091, hotkey: validator().ss58().into() });
    assert!(Arc::ptr_eq(&a.body, &b.body));
    assert_eq!(&*a.body, &body::simulation_body(&capture_input())[..]);
}

#[test]
fn timeout_header_is_python_float_repr() {
    for (t, text) in [(108.0809, "108.0809"), (60.0, "60.0"), (12.5, "12.5"), (0.1, "0.1"), (120.0, "120.0")] {
        let s = SynapseSigner::new(validator(), "203.0.113.10", 1, "u", t, &capture_input());
        assert_eq!(s.request(&capture_axon(1)).header("timeout"), Some(text));
    }
}

#[test]
fn tampered_synapse_requests_are_refused() {
    let raw = parse_http(&read("synapse/request.http"));
    let nonce = capture_nonce(&raw);
    let now = nonce + SECOND;
    let me = miner();
    let check = |headers: &[(String, String)], body: &[u8]| verify_synapse(headers, body, me.ss58(), now, None);
    let tamper = |name: &str, value: &str| {
        let mut h = raw.headers.clone();
        set(&mut h, name, value);
        h
    };

    // The signed parts: dendrite hotkey, nonce, uuid, body hash, the signature itself.
    let h = tamper("bt_header_dendrite_hotkey", me.ss58());
    assert_eq!(check(&h, &raw.body), Err(VerifyError::BadSignature));
    let h = tamper("bt_header_dendrite_nonce", &(nonce + 1).to_string());
    assert_eq!(check(&h, &raw.body), Err(VerifyError::BadSignature));
    let h = tamper("bt_header_dendrite_uuid", "5db070be-e80f-11f1-8b70-02fc00000002");
    assert_eq!(check(&h, &raw.body), Err(VerifyError::BadSignature));
    let h = tamper("computed_body_hash", &"0".repeat(64));
    assert_eq!(check(&h, &raw.body), Err(VerifyError::BadSignature));
    let sig = get(&raw.headers, "bt_header_dendrite_signature");
    let flipped = format!("{}{}", &sig[..10], if &sig[10..11] == "0" { "1" } else { "0" }) + &sig[11..];
    let h = tamper("bt_header_dendrite_signature", &flipped);
    assert_eq!(check(&h, &raw.body), Err(VerifyError::BadSignature));
    let h = tamper("bt_header_dendrite_signature", "0x1234");
    assert!(matches!(check(&h, &raw.body), Err(VerifyError::MalformedHeader { .. })));
    let h = tamper("bt_header_dendrite_hotkey", "5FKe8CYC2aSFF1QhGsxdGXki1NoVSsX8KrtEq64WuMAJijAA");
    assert!(matches!(check(&h, &raw.body), Err(VerifyError::BadHotkey(_))));

    // Sent to another Axon: the receiver rebuilds the message with its own hotkey.
    assert_eq!(verify_synapse(&raw.headers, &raw.body, validator().ss58(), now, None), Err(VerifyError::BadSignature));

    // A missing dendrite header.
    let h: Vec<_> = raw.headers.iter().filter(|(k, _)| k != "bt_header_dendrite_nonce").cloned().collect();
    assert_eq!(check(&h, &raw.body), Err(VerifyError::MissingHeader("bt_header_dendrite_nonce")));

    // The body: the route parses it (so it must be JSON) and compares the header hash with the
    // recomputed one. Simulation hashes no fields, so — as on the real Axon — the body's content
    // is not covered by the signature; a rewritten simulation_input passes.
    assert_eq!(check(&raw.headers, b"{\"name\":\"Simul"), Err(VerifyError::BodyNotJson));
    let rewritten = String::from_utf8(raw.body.clone()).unwrap().replace("\"BTC\"", "\"ETH\"");
    assert!(check(&raw.headers, rewritten.as_bytes()).is_ok());

    // Header names arrive lower-cased from most servers.
    let lower: Vec<_> = raw.headers.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect();
    assert!(check(&lower, &raw.body).is_ok());
}

#[test]
fn synapse_nonce_rules_follow_the_axon() {
    let raw = parse_http(&read("synapse/request.http"));
    let nonce = capture_nonce(&raw);
    let me = miner();
    let window = 4 * SECOND + 108_080_900_000; // ALLOWED_DELTA + timeout
    let v = |now: u64, last: Option<u64>| verify_synapse(&raw.headers, &raw.body, me.ss58(), now, last);

    assert!(v(nonce + window - 1, None).is_ok());
    assert!(matches!(v(nonce + window, None), Err(VerifyError::NonceTooOld { .. })));
    // A nonce from the future is fine for the Axon (only the past is bounded).
    assert!(v(nonce - 60 * SECOND, None).is_ok());
    // With a stored nonce for hotkey:uuid, only "strictly newer" counts.
    assert_eq!(v(nonce + SECOND, Some(nonce)), Err(VerifyError::NonceReplayed { nonce, last: nonce }));
    assert!(matches!(v(nonce + SECOND, Some(nonce + 5)), Err(VerifyError::NonceReplayed { .. })));
    assert!(v(nonce + 10 * window, Some(nonce - 1)).is_ok());
}

#[test]
fn two_signatures_differ_and_both_verify() {
    let signer = capture_signer();
    let axon = capture_axon(35901);
    let (a, b) = (signer.request(&axon), signer.request(&axon));
    assert_ne!(a.header("bt_header_dendrite_signature"), b.header("bt_header_dendrite_signature"));
    let now = signer.nonce() + SECOND;
    for r in [a, b] {
        verify_synapse(&r.headers, &r.body, miner().ss58(), now, None).unwrap();
    }
}

#[test]
fn a_cycle_signed_by_an_outside_signer_is_the_capture_but_the_signature() {
    // The Python binding's path: the messages go to the caller's key (here our own hotkey, as
    // bittensor's `Keypair.sign` would), the requests are built around what it returns.
    use synth_forward::request::{CycleRequest, Protocol};
    use synth_forward::wire::sign::{SignWithError, sign_cycle_with};
    let m = meta();
    let captured = read("synapse/request.http");
    let raw = parse_http(&captured);
    let port: u16 = get(&raw.headers, "bt_header_axon_port").parse().unwrap();
    let mut request = CycleRequest {
        simulation_input: capture_input(),
        timeout_s: m["timeout_s"].as_f64().unwrap(),
        protocol: Protocol::Synapse,
        axons: vec![capture_axon(port)],
        rules: None,
        request_time: None,
    };
    let key = validator();
    let mut messages = Vec::new();
    let out = sign_cycle_with(
        &request,
        key.ss58(),
        m["validator_external_ip"].as_str().unwrap(),
        capture_nonce(&raw),
        m["dendrite_uuid"].as_str().unwrap(),
        |message| {
            messages.push(message.to_owned());
            Ok::<_, std::convert::Infallible>(key.sign_hex(message.as_bytes()))
        },
    )
    .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0],
        format!(
            "{}.{}.{}.{}.{}",
            capture_nonce(&raw),
            key.ss58(),
            m["miner_hotkey"].as_str().unwrap(),
            m["dendrite_uuid"].as_str().unwrap(),
            synapse::EMPTY_BODY_HASH
        )
    );
    let ours: Vec<(String, String)> = out[0].headers.clone();
    assert_eq!(out[0].url, format!("http://127.0.0.1:{port}/Simulation"));
    assert_eq!(&out[0].body[..], &raw.body[..]);
    let blank = |h: &[(String, String)]| -> Vec<(String, String)> {
        h.iter()
            .map(|(k, v)| (k.clone(), if k == "bt_header_dendrite_signature" { "<sig>".into() } else { v.clone() }))
            .collect()
    };
    assert_eq!(blank(&ours), blank(&raw.headers));
    verify_synapse(&ours, &out[0].body, miner().ss58(), capture_nonce(&raw) + SECOND, None).unwrap();

    // A signer's error is the caller's; a btauth cycle is refused before any message is signed.
    let failed = sign_cycle_with(&request, key.ss58(), "203.0.113.10", 1, "u", |_| Err("no key"));
    assert!(matches!(failed, Err(SignWithError::Signer("no key"))));
    request.protocol = Protocol::Btauth;
    let refused = sign_cycle_with(&request, key.ss58(), "203.0.113.10", 1, "u", |_| -> Result<String, ()> {
        panic!("nothing is signed for btauth")
    });
    assert!(matches!(refused, Err(SignWithError::Protocol(Protocol::Btauth))));
}

#[test]
fn production_nonce_and_uuid_verify() {
    let nonce = synapse::nonce_now();
    let s = SynapseSigner::new(
        validator(),
        "203.0.113.10",
        nonce,
        synapse::process_dendrite_uuid(),
        60.0,
        &capture_input(),
    );
    let r = s.request(&capture_axon(8091));
    verify_synapse(&r.headers, &r.body, miner().ss58(), synapse::nonce_now(), None).unwrap();
}

// ---- btauth/1 ----

fn btauth_request(nonce: u64) -> SignedRequest {
    BtauthSigner::new(validator(), nonce, &capture_input()).request(&capture_axon(8091))
}

#[test]
fn btauth_signs_and_verifies() {
    let nonce = 1_795_528_811_919_471_725;
    let r = btauth_request(nonce);
    let me = miner();
    let caller =
        verify_btauth(&r.headers, &r.body, "POST", "/Simulation", me.ss58(), nonce + SECOND, Freshness::default())
            .unwrap();
    assert_eq!(caller, btauth::BtauthCaller { hotkey_ss58: validator().ss58().into(), nonce_ns: i128::from(nonce) });

    // Headers: bittensor 11 names and sign()'s order; same body as the synapse protocol.
    let names: Vec<&str> = r.headers.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "Host",
            "Accept",
            "Accept-Encoding",
            "Connection",
            "User-Agent",
            "X-Bittensor-Version",
            "X-Bittensor-Hotkey",
            "X-Bittensor-Nonce",
            "X-Bittensor-Signature",
            "X-Bittensor-Receiver",
            "Content-Length",
            "Content-Type",
        ]
    );
    assert_eq!(r.header("X-Bittensor-Version"), Some("1"));
    assert_eq!(r.header("X-Bittensor-Receiver"), Some(me.ss58()));
    assert_eq!(r.header("X-Bittensor-Nonce"), Some(nonce.to_string().as_str()));
    assert_eq!(&*r.body, &read("synapse/request-body.json")[..]);

    // The payload, spelled out independently of the library's builder.
    let payload = format!(
        "btauth/1\nsr25519\nPOST\n/Simulation\n{}\n{nonce}\n{}\n{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&*r.body)),
        validator().ss58(),
        me.ss58()
    );
    let sig = keys::parse_signature_hex(r.header("X-Bittensor-Signature").unwrap()).unwrap();
    let pk = ss58::decode(validator().ss58()).unwrap();
    assert!(keys::verify_signature(&pk, payload.as_bytes(), &sig));
}

#[test]
fn tampered_btauth_requests_are_refused() {
    let nonce = 1_795_528_811_919_471_725;
    let r = btauth_request(nonce);
    let me = miner();
    let now = nonce + SECOND;
    let h = owned(&r);
    let v = |h: &[(String, String)], body: &[u8], method: &str, path: &str, who: &str, now: u64| {
        verify_btauth(h, body, method, path, who, now, Freshness::default())
    };
    let tamper = |name: &str, value: &str| {
        let mut h = h.clone();
        set(&mut h, name, value);
        h
    };

    let mut body = r.body.to_vec();
    body[30] ^= 1;
    assert_eq!(v(&h, &body, "POST", "/Simulation", me.ss58(), now), Err(VerifyError::BadSignature));
    assert_eq!(v(&h, &r.body, "POST", "/Other", me.ss58(), now), Err(VerifyError::BadSignature));
    assert_eq!(v(&h, &r.body, "PUT", "/Simulation", me.ss58(), now), Err(VerifyError::BadSignature));
    // Not for me, or the receiver header rewritten to me.
    assert!(matches!(
        v(&h, &r.body, "POST", "/Simulation", validator().ss58(), now),
        Err(VerifyError::WrongReceiver { .. })
    ));
    let to_validator = tamper("X-Bittensor-Receiver", validator().ss58());
    assert_eq!(
        v(&to_validator, &r.body, "POST", "/Simulation", validator().ss58(), now),
        Err(VerifyError::BadSignature)
    );
    let unbound: Vec<_> = h.iter().filter(|(k, _)| k != "X-Bittensor-Receiver").cloned().collect();
    assert_eq!(
        v(&unbound, &r.body, "POST", "/Simulation", me.ss58(), now),
        Err(VerifyError::WrongReceiver { got: None })
    );
    // Nonce and sender are signed.
    let h2 = tamper("X-Bittensor-Nonce", &(nonce + 1).to_string());
    assert_eq!(v(&h2, &r.body, "POST", "/Simulation", me.ss58(), now), Err(VerifyError::BadSignature));
    let h2 = tamper("X-Bittensor-Hotkey", me.ss58());
    assert_eq!(v(&h2, &r.body, "POST", "/Simulation", me.ss58(), now), Err(VerifyError::BadSignature));
    let h2 = tamper("X-Bittensor-Version", "2");
    assert!(matches!(v(&h2, &r.body, "POST", "/Simulation", me.ss58(), now), Err(VerifyError::MalformedHeader { .. })));
    // Freshness: 10 s back, 2 s ahead (inclusive bounds as in bittensor 11).
    assert!(v(&h, &r.body, "POST", "/Simulation", me.ss58(), nonce + 10 * SECOND).is_ok());
    assert!(matches!(
        v(&h, &r.body, "POST", "/Simulation", me.ss58(), nonce + 10 * SECOND + 1),
        Err(VerifyError::NonceTooOld { .. })
    ));
    assert!(v(&h, &r.body, "POST", "/Simulation", me.ss58(), nonce - 2 * SECOND).is_ok());
    assert!(matches!(
        v(&h, &r.body, "POST", "/Simulation", me.ss58(), nonce - 2 * SECOND - 1),
        Err(VerifyError::NonceInFuture { .. })
    ));
    // Lower-cased names are fine.
    let lower: Vec<_> = h.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect();
    assert!(v(&lower, &r.body, "post", "/Simulation", me.ss58(), now).is_ok());
}
