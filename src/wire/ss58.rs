//! SS58 addresses: a 32-byte public key ⇄ the base58 text bittensor shows for it.
//!
//! In: a public key (encode) or an address (decode). Out: the address, or the public key with its
//! network prefix after the checksum is validated.
//!
//! Layout (substrate's "SS58" format): `base58(prefix ++ pubkey ++ checksum)`, where the checksum is
//! the first two bytes of `blake2b-512("SS58PRE" ++ prefix ++ pubkey)`. Prefixes below 64 take one
//! byte; 64..16383 take two (substrate's packed form). Bittensor uses prefix 42 everywhere.

use blake2::{Blake2b512, Digest};

/// The network prefix bittensor (and generic substrate) addresses carry.
pub const BITTENSOR_PREFIX: u16 = 42;

const CHECKSUM_LEN: usize = 2;
const CONTEXT: &[u8] = b"SS58PRE";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ss58Error {
    #[error("ss58 address {0:?} is not base58")]
    Base58(String),
    #[error("ss58 address {address:?} decodes to {len} bytes; a 32-byte account key needs 35 or 36")]
    Length { address: String, len: usize },
    #[error("ss58 address {0:?} has a reserved or malformed network prefix")]
    Prefix(String),
    #[error("ss58 address {0:?} fails its checksum")]
    Checksum(String),
}

fn checksum(prefix_and_key: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut h = Blake2b512::new();
    h.update(CONTEXT);
    h.update(prefix_and_key);
    let d = h.finalize();
    [d[0], d[1]]
}

fn prefix_bytes(prefix: u16) -> Vec<u8> {
    assert!(prefix < 16384, "ss58 prefixes are 14-bit");
    if prefix < 64 {
        vec![prefix as u8]
    } else {
        // substrate's two-byte packing of a 14-bit prefix
        let first = ((prefix & 0b0000_0000_1111_1100) as u8 >> 2) | 0b0100_0000;
        let second = ((prefix >> 8) as u8) | (((prefix & 0b0000_0000_0000_0011) as u8) << 6);
        vec![first, second]
    }
}

/// The address of `public` under network `prefix` (panics on a prefix ≥ 16384, which no network has).
pub fn encode_with_prefix(public: &[u8; 32], prefix: u16) -> String {
    let mut raw = prefix_bytes(prefix);
    raw.extend_from_slice(public);
    let sum = checksum(&raw);
    raw.extend_from_slice(&sum);
    bs58::encode(raw).into_string()
}

/// The bittensor (prefix 42) address of `public`.
pub fn encode(public: &[u8; 32]) -> String {
    encode_with_prefix(public, BITTENSOR_PREFIX)
}

/// An address → (network prefix, public key), the checksum checked. Any valid prefix is accepted,
/// as bittensor's `Keypair(ss58_address=…)` does.
pub fn decode_with_prefix(address: &str) -> Result<(u16, [u8; 32]), Ss58Error> {
    let raw = bs58::decode(address).into_vec().map_err(|_| Ss58Error::Base58(address.to_owned()))?;
    let (prefix, prefix_len) = match raw.first() {
        Some(&b) if b < 64 => (u16::from(b), 1),
        Some(&b) if b < 128 && raw.len() >= 2 => {
            let lower = ((b << 2) | (raw[1] >> 6)) as u16;
            let upper = (raw[1] & 0b0011_1111) as u16;
            (lower | (upper << 8), 2)
        }
        _ => return Err(Ss58Error::Prefix(address.to_owned())),
    };
    if raw.len() != prefix_len + 32 + CHECKSUM_LEN {
        return Err(Ss58Error::Length { address: address.to_owned(), len: raw.len() });
    }
    let (body, sum) = raw.split_at(prefix_len + 32);
    if checksum(body) != sum {
        return Err(Ss58Error::Checksum(address.to_owned()));
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&body[prefix_len..]);
    Ok((prefix, public))
}

/// An address → its public key, the checksum checked (any network prefix).
pub fn decode(address: &str) -> Result<[u8; 32], Ss58Error> {
    decode_with_prefix(address).map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALIDATOR: &str = "5FKe8CYC2aSFF1QhGsxdGXki1NoVSsX8KrtEq64WuMAJijAB";
    const VALIDATOR_PK: &str = "9018d150b0e1ca8d79217776c1175fc1e7a64100ba744e0d44f68fc702a03556";

    fn pk() -> [u8; 32] {
        hex::decode(VALIDATOR_PK).unwrap().try_into().unwrap()
    }

    #[test]
    fn encodes_the_captured_validator_hotkey() {
        assert_eq!(encode(&pk()), VALIDATOR);
        assert_eq!(decode_with_prefix(VALIDATOR).unwrap(), (42, pk()));
    }

    #[test]
    fn two_byte_prefixes_round_trip() {
        for prefix in [0u16, 2, 42, 63, 64, 255, 1284, 16383] {
            let a = encode_with_prefix(&pk(), prefix);
            assert_eq!(decode_with_prefix(&a).unwrap(), (prefix, pk()), "prefix {prefix}");
        }
    }

    #[test]
    fn refuses_bad_checksum_length_and_alphabet() {
        let mut raw = bs58::decode(VALIDATOR).into_vec().unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let bad = bs58::encode(&raw).into_string();
        assert!(matches!(decode(&bad), Err(Ss58Error::Checksum(_))));
        assert!(matches!(decode(&VALIDATOR[..40]), Err(Ss58Error::Length { .. })));
        assert!(matches!(decode("0OIl"), Err(Ss58Error::Base58(_))));
        assert!(matches!(decode(""), Err(Ss58Error::Prefix(_))));
    }
}
