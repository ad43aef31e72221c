//! `serve --verify`: the fleet checks each request as the real peer would.
//!
//! In: a request's headers and body and the hotkey of the miner it reached. Out: `Ok`, or the
//! reason for a 401. `synapse` requests get the bittensor 10 Axon's checks (signature over the
//! message rebuilt with the receiver's own hotkey, body hash, nonce newer than the last one seen
//! for the same `hotkey:uuid`); `btauth/1` requests get bittensor 11's (signature, receiver,
//! freshness window, a `(hotkey, nonce)` pair accepted once).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::wire::{btauth, synapse};

use super::Verifier;

pub fn signature_verifier() -> Verifier {
    let last_synapse_nonce: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    let seen_btauth: Mutex<HashSet<(String, String)>> = Mutex::new(HashSet::new());
    Arc::new(move |headers: &hyper::HeaderMap, body: &[u8], me: &str| {
        let pairs: Vec<(&str, &str)> =
            headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))).collect();
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        if headers.contains_key("x-bittensor-signature") {
            let caller =
                btauth::verify_btauth(&pairs, body, "POST", "/Simulation", me, now_ns, btauth::Freshness::default())
                    .map_err(|e| e.to_string())?;
            // Per receiver: every miner of a cycle sees the same nonce once, as each real peer
            // keeps its own table.
            let nonce = headers.get("x-bittensor-nonce").and_then(|v| v.to_str().ok()).unwrap_or("");
            let key = (format!("{me}|{caller:?}"), nonce.to_owned());
            if !seen_btauth.lock().unwrap_or_else(|p| p.into_inner()).insert(key) {
                return Err("nonce already used".into());
            }
            Ok(())
        } else {
            let mut last = last_synapse_nonce.lock().unwrap_or_else(|p| p.into_inner());
            // The Axon keeps one last nonce per `hotkey:uuid`; look it up before verifying.
            // One table per receiving miner, as each Axon keeps its own.
            let key = format!(
                "{me}|{}:{}",
                headers.get("bt_header_dendrite_hotkey").and_then(|v| v.to_str().ok()).unwrap_or(""),
                headers.get("bt_header_dendrite_uuid").and_then(|v| v.to_str().ok()).unwrap_or("")
            );
            let caller = synapse::verify_synapse(&pairs, body, me, now_ns, last.get(&key).copied())
                .map_err(|e| e.to_string())?;
            // `caller.endpoint_key()` is the same `hotkey:uuid` the lookup key was built from.
            last.insert(key, caller.nonce);
            Ok(())
        }
    })
}
