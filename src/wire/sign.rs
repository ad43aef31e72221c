//! A whole cycle signed: one request per axon, ready for the HTTP client.
//!
//! In: the cycle request, the validator's hotkey and the external IP the miners should see. Out:
//! one [`OutgoingRequest`] per axon, in axon order, with the cycle's protocol: one nonce and one
//! body for the whole cycle, one signature per miner (each binds the miner's hotkey).

use std::sync::Arc;

use super::keys::Hotkey;
use super::{SignedRequest, btauth, synapse};
use crate::fetch::OutgoingRequest;
use crate::request::{CycleRequest, Protocol};

/// Signs every axon's request of `request`; `out[i]` goes to `request.axons[i]`.
pub fn sign_cycle(request: &CycleRequest, hotkey: Arc<Hotkey>, external_ip: &str) -> Vec<OutgoingRequest> {
    let nonce = synapse::nonce_now();
    let si = &request.simulation_input;
    let signed: Vec<SignedRequest> = match request.protocol {
        Protocol::Synapse => {
            let signer = synapse::SynapseSigner::new(
                hotkey,
                external_ip,
                nonce,
                synapse::process_dendrite_uuid(),
                request.timeout_s,
                si,
            );
            request.axons.iter().map(|a| signer.request(a)).collect()
        }
        Protocol::Btauth => {
            let signer = btauth::BtauthSigner::new(hotkey, nonce, si);
            request.axons.iter().map(|a| signer.request(a)).collect()
        }
    };
    // The body is a few hundred bytes, the same for every miner: one shared `Bytes`.
    let body = signed.first().map(|s| bytes::Bytes::copy_from_slice(&s.body)).unwrap_or_default();
    signed
        .into_iter()
        .map(|s| OutgoingRequest {
            url: format!("http://{}{}", s.authority, s.path),
            headers: s.headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            body: body.clone(),
        })
        .collect()
}
