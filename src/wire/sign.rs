//! A whole cycle signed: one request per axon, ready for the HTTP client.
//!
//! In: the cycle request, the validator's hotkey and the external IP the miners should see. Out:
//! one [`OutgoingRequest`] per axon, in axon order, with the cycle's protocol: one nonce and one
//! body for the whole cycle, one signature per miner (each binds the miner's hotkey).
//!
//! [`sign_cycle_with`] is the same for a key held outside this crate (the validator's own Python
//! `Keypair`): it hands each message to the caller's signer and builds the request around the
//! signature it returns.

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
    outgoing(signed)
}

/// Why a cycle cannot be signed by an outside signer.
#[derive(Debug, thiserror::Error)]
pub enum SignWithError<E> {
    #[error("an outside signer signs the synapse protocol (bittensor 10) only, not {0:?}")]
    Protocol(Protocol),
    #[error(transparent)]
    Signer(E),
}

/// [`sign_cycle`] with the signatures made by `sign(message)` (`0x` + hex of the sr25519
/// signature, as bittensor's dendrite sends it) for the hotkey whose ss58 address is `dendrite`;
/// `nonce` and `uuid` are the caller's (upstream takes `time.time_ns()` and its dendrite's UUID).
/// The synapse protocol only: upstream's `sync_forward_multiprocess` speaks it.
pub fn sign_cycle_with<E>(
    request: &CycleRequest,
    dendrite: &str,
    external_ip: &str,
    nonce: u64,
    uuid: &str,
    mut sign: impl FnMut(&str) -> Result<String, E>,
) -> Result<Vec<OutgoingRequest>, SignWithError<E>> {
    if request.protocol != Protocol::Synapse {
        return Err(SignWithError::Protocol(request.protocol));
    }
    let requests =
        synapse::SynapseRequests::new(dendrite, external_ip, nonce, uuid, request.timeout_s, &request.simulation_input);
    let signed = request
        .axons
        .iter()
        .map(|a| Ok(requests.signed(a, sign(&requests.message(a)).map_err(SignWithError::Signer)?)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(outgoing(signed))
}

fn outgoing(signed: Vec<SignedRequest>) -> Vec<OutgoingRequest> {
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
