//! The validator's hotkey: keyfile on disk → sr25519 keypair that signs requests.
//!
//! In: a bittensor wallet location (or a keyfile path). Out: a [`Hotkey`] that signs with
//! substrate's `b"substrate"` context, and knows its public key and ss58 address.
//!
//! Only unencrypted sr25519 hotkey files are read (bittensor writes hotkeys unencrypted by
//! default). The keypair is derived the way substrate and bittensor do it,
//! `MiniSecretKey::from_bytes(secretSeed).expand_to_keypair(ExpansionMode::Ed25519)`, and checked
//! against the file's own `publicKey`, `ss58Address` and (if present) `privateKey`; any
//! disagreement is refused. Secret material never appears in errors, logs or `Debug` output, and
//! the file's bytes and the parsed secret strings are zeroed once read.

use std::fmt;
use std::path::{Path, PathBuf};

use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, PublicKey, SecretKey, Signature};
use zeroize::{Zeroize, Zeroizing};

use super::ss58;

/// substrate's signing context for sr25519 (`sp_core::sr25519::Pair::sign`), used by
/// `bittensor_wallet.Keypair.sign` and by bittensor 11's `btauth/1`.
pub const SIGNING_CONTEXT: &[u8] = b"substrate";

/// bittensor's default wallet directory (`~` is expanded against `$HOME`).
pub const DEFAULT_WALLET_PATH: &str = "~/.bittensor/wallets";
/// bittensor's default wallet (coldkey) name.
pub const DEFAULT_WALLET_NAME: &str = "default";
/// bittensor's default hotkey name.
pub const DEFAULT_HOTKEY_NAME: &str = "default";

/// `cryptoType` of sr25519 keys in bittensor keyfiles (0 is ed25519, 2 ecdsa).
const CRYPTO_SR25519: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("hotkey file {} does not exist (wallet path/name/hotkey wrong?)", .0.display())]
    NotFound(PathBuf),
    #[error("hotkey file {}: cannot read: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("hotkey file {} is encrypted; synth-forward needs an unencrypted hotkey", .0.display())]
    Encrypted(PathBuf),
    /// The file is JSON but not a keyfile object. The message carries only the parser's position,
    /// never any text of the file.
    #[error("hotkey file {}: not a bittensor keyfile: {message}", .path.display())]
    Format { path: PathBuf, message: String },
    /// A field is missing, not `0x` + hex, or has the wrong length. Never echoes the value.
    #[error("hotkey file {}: field `{field}` {problem}", .path.display())]
    Field { path: PathBuf, field: &'static str, problem: String },
    #[error("hotkey file {}: cryptoType {crypto_type} is not sr25519 (1); only sr25519 hotkeys are supported", .path.display())]
    CryptoType { path: PathBuf, crypto_type: i64 },
    /// The key derived from the secret disagrees with what the file says. `expected`/`derived` are
    /// public values (public key hex or ss58), never secrets.
    #[error("hotkey file {}: `{field}` is {expected} but the secret derives {derived}; refusing a keyfile that disagrees with itself", .path.display())]
    Mismatch { path: PathBuf, field: &'static str, expected: String, derived: String },
}

/// The keyfile fields we read. Secret strings are zeroed on drop.
#[derive(Default)]
struct RawKeyfile {
    secret_seed: Option<String>,
    private_key: Option<String>,
    public_key: Option<String>,
    ss58_address: Option<String>,
    crypto_type: Option<i64>,
}

impl Drop for RawKeyfile {
    fn drop(&mut self) {
        self.secret_seed.zeroize();
        self.private_key.zeroize();
    }
}

/// An sr25519 hotkey that signs requests. `Debug` shows the public half only.
pub struct Hotkey {
    keypair: Keypair,
    ss58: String,
}

impl fmt::Debug for Hotkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotkey")
            .field("ss58", &self.ss58)
            .field("public_key", &format_args!("0x{}", hex::encode(self.public_key())))
            .finish_non_exhaustive()
    }
}

impl Hotkey {
    /// The keypair of a 32-byte mini secret ("secretSeed"), expanded as substrate does.
    pub fn from_seed(seed: &[u8; 32]) -> Hotkey {
        // `from_bytes` only fails on a wrong length, which the array type rules out.
        let mini = MiniSecretKey::from_bytes(seed).expect("32-byte mini secret");
        Hotkey::from_keypair(mini.expand_to_keypair(ExpansionMode::Ed25519))
    }

    fn from_keypair(keypair: Keypair) -> Hotkey {
        let ss58 = ss58::encode(&keypair.public.to_bytes());
        Hotkey { keypair, ss58 }
    }

    /// Reads the hotkey of a wallet laid out the bittensor way (see [`hotkey_path`]).
    pub fn from_wallet(
        wallet_path: Option<&str>,
        wallet_name: Option<&str>,
        hotkey_name: Option<&str>,
    ) -> Result<Hotkey, KeyError> {
        Hotkey::from_keyfile(&hotkey_path(wallet_path, wallet_name, hotkey_name))
    }

    /// Reads an unencrypted bittensor hotkey file. Warns (tracing) if group or others may read it.
    pub fn from_keyfile(path: &Path) -> Result<Hotkey, KeyError> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => KeyError::NotFound(path.to_owned()),
            _ => KeyError::Read { path: path.to_owned(), source: e },
        })?);
        warn_if_readable_by_others(path);
        Hotkey::from_keyfile_bytes(&bytes, path)
    }

    /// Parses keyfile contents; `path` only names the file in errors.
    pub fn from_keyfile_bytes(bytes: &[u8], path: &Path) -> Result<Hotkey, KeyError> {
        if is_encrypted(bytes) {
            return Err(KeyError::Encrypted(path.to_owned()));
        }
        let raw = parse_keyfile(bytes, path)?;
        let field_err =
            |field: &'static str, problem: String| KeyError::Field { path: path.to_owned(), field, problem };
        match raw.crypto_type {
            None | Some(CRYPTO_SR25519) => {}
            Some(other) => {
                return Err(KeyError::CryptoType { path: path.to_owned(), crypto_type: other });
            }
        }

        let from_seed = match &raw.secret_seed {
            Some(s) => {
                let seed = Zeroizing::new(hex_field::<32>(s).map_err(|p| field_err("secretSeed", p))?);
                Some(Hotkey::from_seed(&seed))
            }
            None => None,
        };
        // `privateKey` is schnorrkel's 64-byte `SecretKey::to_bytes()` (scalar ++ nonce), as
        // `bittensor_wallet` (sp_core's `to_raw_vec`) writes it.
        let from_private = match &raw.private_key {
            Some(s) => {
                let bytes = Zeroizing::new(hex_field::<64>(s).map_err(|p| field_err("privateKey", p))?);
                let secret = SecretKey::from_bytes(&bytes[..])
                    .map_err(|_| field_err("privateKey", "is not a valid sr25519 secret key".into()))?;
                Some(Hotkey::from_keypair(secret.to_keypair()))
            }
            None => None,
        };
        let hotkey = match (from_seed, from_private) {
            (Some(a), Some(b)) => {
                if a.public_key() != b.public_key() {
                    return Err(KeyError::Mismatch {
                        path: path.to_owned(),
                        field: "privateKey",
                        expected: format!("the key of public key 0x{}", hex::encode(b.public_key())),
                        derived: format!("public key 0x{} from secretSeed", hex::encode(a.public_key())),
                    });
                }
                a
            }
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                return Err(field_err(
                    "secretSeed",
                    "is missing (and so is privateKey): the file holds no secret to sign with".into(),
                ));
            }
        };

        let derived_pk = format!("0x{}", hex::encode(hotkey.public_key()));
        if let Some(pk) = &raw.public_key {
            let want = hex_field::<32>(pk).map_err(|p| field_err("publicKey", p))?;
            if &want != hotkey.public_key() {
                return Err(KeyError::Mismatch {
                    path: path.to_owned(),
                    field: "publicKey",
                    expected: format!("0x{}", hex::encode(want)),
                    derived: derived_pk,
                });
            }
        }
        if let Some(addr) = &raw.ss58_address {
            if addr != hotkey.ss58() {
                return Err(KeyError::Mismatch {
                    path: path.to_owned(),
                    field: "ss58Address",
                    expected: addr.clone(),
                    derived: hotkey.ss58.clone(),
                });
            }
        }
        Ok(hotkey)
    }

    pub fn public_key(&self) -> &[u8; 32] {
        self.keypair.public.as_ref().try_into().expect("sr25519 public keys are 32 bytes")
    }

    /// The hotkey's ss58 address (prefix 42).
    pub fn ss58(&self) -> &str {
        &self.ss58
    }

    /// An sr25519 signature over `message` in the `b"substrate"` context. Randomized: two calls
    /// give different bytes, both valid.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.keypair.sign_simple(SIGNING_CONTEXT, message).to_bytes()
    }

    /// [`Hotkey::sign`] as bittensor writes it in headers: `0x` + 128 lower-case hex digits.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        format!("0x{}", hex::encode(self.sign(message)))
    }
}

/// Whether `signature` (64 bytes) is `public`'s sr25519 signature of `message` in the
/// `b"substrate"` context.
pub fn verify_signature(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(pk), Ok(sig)) = (PublicKey::from_bytes(public), Signature::from_bytes(signature)) else {
        return false;
    };
    pk.verify_simple(SIGNING_CONTEXT, message, &sig).is_ok()
}

/// Decodes a header signature: `0x` + hex (the prefix optional, as bittensor accepts).
pub fn parse_signature_hex(text: &str) -> Option<[u8; 64]> {
    let h = text.strip_prefix("0x").unwrap_or(text);
    let mut out = [0u8; 64];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(out)
}

/// `<wallet_path>/<wallet_name>/hotkeys/<hotkey_name>`, defaults and `~` as bittensor applies them
/// (`~/.bittensor/wallets`, `default`, `default`).
pub fn hotkey_path(wallet_path: Option<&str>, wallet_name: Option<&str>, hotkey_name: Option<&str>) -> PathBuf {
    expand_tilde(wallet_path.unwrap_or(DEFAULT_WALLET_PATH))
        .join(wallet_name.unwrap_or(DEFAULT_WALLET_NAME))
        .join("hotkeys")
        .join(hotkey_name.unwrap_or(DEFAULT_HOTKEY_NAME))
}

/// `~` or `~/…` against `$HOME` (Python's `expanduser` for the current user); other paths as given.
pub fn expand_tilde(path: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if path == "~" {
        if let Some(h) = home() {
            return h;
        }
    } else if let Some(rest) = path.strip_prefix("~/") {
        if let Some(h) = home() {
            return h.join(rest);
        }
    }
    PathBuf::from(path)
}

/// True when a keyfile's unix permission bits let group or others in (`mode & 0o077 != 0`).
pub fn mode_is_too_open(mode: u32) -> bool {
    mode & 0o077 != 0
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode_is_too_open(mode) {
                tracing::warn!(
                    file = %path.display(),
                    mode = format_args!("{:o}", mode & 0o777),
                    "hotkey file is accessible to group/others; chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// bittensor's encrypted keyfiles: NaCl (`$NACL`), the newer `$BTWALLET` format, Ansible vault,
/// legacy Fernet (`gAAAAA`); anything that is not a JSON object is treated the same way.
fn is_encrypted(bytes: &[u8]) -> bool {
    const MARKERS: [&[u8]; 4] = [b"$NACL", b"$BTWALLET", b"$ANSIBLE_VAULT", b"gAAAAA"];
    let trimmed = bytes.trim_ascii_start();
    MARKERS.iter().any(|m| trimmed.starts_with(m)) || !trimmed.starts_with(b"{")
}

fn parse_keyfile(bytes: &[u8], path: &Path) -> Result<RawKeyfile, KeyError> {
    // Parse to a Value first: serde_json's syntax errors carry only a line/column, whereas typed
    // deserialisation errors would quote the offending value (possibly a secret).
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| KeyError::Format {
        path: path.to_owned(),
        message: format!("invalid JSON at line {} column {}", e.line(), e.column()),
    })?;
    let result = (|| {
        let obj = value.as_object_mut().ok_or_else(|| KeyError::Format {
            path: path.to_owned(),
            message: "top level is not a JSON object".into(),
        })?;
        let mut raw = RawKeyfile::default();
        let mut take_str = |key: &str, field: &'static str| -> Result<Option<String>, KeyError> {
            match obj.get_mut(key).map(serde_json::Value::take) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s)),
                Some(mut other) => {
                    zero_value(&mut other);
                    Err(KeyError::Field { path: path.to_owned(), field, problem: "is not a string".into() })
                }
            }
        };
        raw.secret_seed = take_str("secretSeed", "secretSeed")?;
        raw.private_key = take_str("privateKey", "privateKey")?;
        raw.public_key = take_str("publicKey", "publicKey")?;
        raw.ss58_address = take_str("ss58Address", "ss58Address")?;
        raw.crypto_type = match obj.get("cryptoType") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| KeyError::Field {
                path: path.to_owned(),
                field: "cryptoType",
                problem: "is not an integer".into(),
            })?),
        };
        Ok(raw)
    })();
    zero_value(&mut value);
    result
}

/// Zeroes every string left in a parsed keyfile (the mnemonic among them).
fn zero_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(zero_value),
        serde_json::Value::Object(o) => o.values_mut().for_each(zero_value),
        _ => {}
    }
}

/// `0x` + exactly `2 * N` hex digits → N bytes. The problem text never contains the value.
fn hex_field<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let h = text.strip_prefix("0x").ok_or_else(|| "does not start with 0x".to_string())?;
    if h.len() != 2 * N {
        return Err(format!("has {} hex digits; expected {}", h.len(), 2 * N));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(h, &mut out).map_err(|_| "is not hexadecimal".to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_check() {
        assert!(!mode_is_too_open(0o100600));
        assert!(!mode_is_too_open(0o400));
        assert!(!mode_is_too_open(0o700));
        assert!(mode_is_too_open(0o100640));
        assert!(mode_is_too_open(0o644));
        assert!(mode_is_too_open(0o604));
        assert!(mode_is_too_open(0o610));
    }

    #[test]
    fn wallet_path_defaults_and_tilde() {
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME set in tests"));
        assert_eq!(hotkey_path(None, None, None), home.join(".bittensor/wallets/default/hotkeys/default"));
        assert_eq!(
            hotkey_path(Some("/srv/w"), Some("validator"), Some("hk1")),
            PathBuf::from("/srv/w/validator/hotkeys/hk1")
        );
        assert_eq!(hotkey_path(Some("~/w"), Some("v"), None), home.join("w/v/hotkeys/default"));
        assert_eq!(expand_tilde("~"), home);
        assert_eq!(expand_tilde("~other/x"), PathBuf::from("~other/x"));
        assert_eq!(expand_tilde("rel/x"), PathBuf::from("rel/x"));
    }

    #[test]
    fn encrypted_markers() {
        for data in [&b"$NACL\x01\x02"[..], b"$BTWALLET...", b"$ANSIBLE_VAULT;1.1", b"gAAAAABk", b"\x00\x01binary", b""]
        {
            assert!(is_encrypted(data), "{data:?}");
        }
        assert!(!is_encrypted(b" {\"a\":1}"));
    }

    #[test]
    fn hex_field_rules() {
        assert_eq!(hex_field::<2>("0xabCD").unwrap(), [0xab, 0xcd]);
        assert!(hex_field::<2>("abcd").is_err());
        assert!(hex_field::<2>("0xabc").is_err());
        assert!(hex_field::<2>("0xabzz").is_err());
    }

    #[test]
    fn seed_expands_like_substrate() {
        // The validator test key from shared/wire-samples/wallet (a throwaway capture key).
        let seed: [u8; 32] = hex::decode("cbd44593ef64ce7e0fc73a39cc6da119f91defeb03c79381c1bc667d55ee8cf0")
            .unwrap()
            .try_into()
            .unwrap();
        let k = Hotkey::from_seed(&seed);
        assert_eq!(k.ss58(), "5FKe8CYC2aSFF1QhGsxdGXki1NoVSsX8KrtEq64WuMAJijAB");
        let sig = k.sign(b"hello");
        assert!(verify_signature(k.public_key(), b"hello", &sig));
        assert!(!verify_signature(k.public_key(), b"hellp", &sig));
        assert!(!verify_signature(k.public_key(), b"hello", &sig[..63]));
    }
}
