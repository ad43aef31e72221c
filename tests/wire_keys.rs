//! Hotkey files: derivation against the captured wallets, refusals, and secrets kept out of every
//! `Debug`/`Display`.
//!
//! In: `../shared/wire-samples/wallet/*.json` (throwaway capture keys). Out: pass/fail.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use synth_forward::wire::keys::{self, Hotkey, KeyError};
use synth_forward::wire::ss58;

fn wallet_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wire-samples/wallet");
    assert!(
        dir.is_dir(),
        "{} is missing (the shared/ folder beside the repository). Refusing to pass without it.",
        dir.display()
    );
    dir
}

fn keyfile(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(wallet_dir().join(name)).unwrap()).unwrap()
}

fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

/// Every secret of both wallets, in the spellings that could leak: hex with and without `0x`,
/// upper case, the mnemonic, and the raw bytes' Debug form.
fn secrets() -> Vec<String> {
    let mut out = Vec::new();
    for f in ["validator-hotkey.json", "miner-hotkey.json"] {
        let v = keyfile(f);
        for k in ["secretSeed", "privateKey"] {
            let h = s(&v, k);
            let bare = h.trim_start_matches("0x").to_owned();
            out.push(bare.to_uppercase());
            out.push(format!("{:?}", hex::decode(&bare).unwrap()));
            out.push(bare[..16].to_owned());
            out.push(bare);
        }
        out.push(s(&v, "secretPhrase"));
        out.push(s(&v, "secretPhrase").split(' ').take(3).collect::<Vec<_>>().join(" "));
    }
    out
}

fn assert_no_secret(text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "secret material leaked into: {text}");
    }
}

fn write_keyfile(dir: &Path, json: &serde_json::Value) -> PathBuf {
    let p = dir.join("hk");
    std::fs::write(&p, serde_json::to_vec(json).unwrap()).unwrap();
    p
}

#[test]
fn both_wallets_derive_their_public_key_and_address() {
    let addresses = keyfile("addresses.json");
    for (file, role) in [("validator-hotkey.json", "validator"), ("miner-hotkey.json", "miner")] {
        let v = keyfile(file);
        let k = Hotkey::from_keyfile(&wallet_dir().join(file)).unwrap();
        assert_eq!(k.ss58(), s(&v, "ss58Address"));
        assert_eq!(format!("0x{}", hex::encode(k.public_key())), s(&v, "publicKey"));
        assert_eq!(k.ss58(), s(&addresses[role], "hotkey_ss58"));
        assert_eq!(format!("0x{}", hex::encode(k.public_key())), s(&addresses[role], "hotkey_public_key"));
        assert_eq!(ss58::decode(k.ss58()).unwrap(), *k.public_key());
        // Signing and verifying with the loaded key.
        let sig = k.sign(b"message");
        assert!(keys::verify_signature(k.public_key(), b"message", &sig));
    }
}

#[test]
fn addresses_json_round_trips_through_ss58() {
    let addresses = keyfile("addresses.json");
    for role in ["validator", "miner"] {
        for kind in ["hotkey", "coldkey"] {
            let addr = s(&addresses[role], &format!("{kind}_ss58"));
            let pk = s(&addresses[role], &format!("{kind}_public_key"));
            let bytes: [u8; 32] = hex::decode(pk.trim_start_matches("0x")).unwrap().try_into().unwrap();
            assert_eq!(ss58::decode(&addr).unwrap(), bytes, "{role} {kind}");
            assert_eq!(ss58::encode(&bytes), addr, "{role} {kind}");
        }
    }
}

#[test]
fn ss58_checksum_and_shape_are_enforced() {
    let addr = "5CXhQmTAVFLkun74AxwsGRzUo4LmNuAqgQZuiYcHqqCLwpmc";
    // Change one character: the checksum (or, rarely, the length) must catch it.
    for i in 1..addr.len() {
        let mut b = addr.as_bytes().to_vec();
        b[i] = if b[i] == b'a' { b'b' } else { b'a' };
        let t = String::from_utf8(b).unwrap();
        assert!(ss58::decode(&t).is_err(), "accepted corrupted address {t}");
    }
    assert!(matches!(ss58::decode("not base58 0OIl"), Err(ss58::Ss58Error::Base58(_))));
}

#[test]
fn private_key_alone_gives_the_same_key_and_a_disagreeing_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = keyfile("validator-hotkey.json");
    let full = Hotkey::from_keyfile(&write_keyfile(dir.path(), &v)).unwrap();

    v.as_object_mut().unwrap().remove("secretSeed");
    let from_private = Hotkey::from_keyfile(&write_keyfile(dir.path(), &v)).unwrap();
    assert_eq!(from_private.public_key(), full.public_key());

    let mut mixed = keyfile("validator-hotkey.json");
    mixed["privateKey"] = keyfile("miner-hotkey.json")["privateKey"].clone();
    let e = Hotkey::from_keyfile(&write_keyfile(dir.path(), &mixed)).unwrap_err();
    assert!(matches!(e, KeyError::Mismatch { field: "privateKey", .. }), "{e:?}");
    assert_no_secret(&format!("{e} {e:?}"));
}

#[test]
fn wallet_layout_is_path_name_hotkeys_hotkey() {
    let dir = tempfile::tempdir().unwrap();
    let hotkeys = dir.path().join("validator/hotkeys");
    std::fs::create_dir_all(&hotkeys).unwrap();
    std::fs::copy(wallet_dir().join("validator-hotkey.json"), hotkeys.join("hk7")).unwrap();
    let k = Hotkey::from_wallet(dir.path().to_str(), Some("validator"), Some("hk7")).unwrap();
    assert_eq!(k.ss58(), "5FKe8CYC2aSFF1QhGsxdGXki1NoVSsX8KrtEq64WuMAJijAB");
    let e = Hotkey::from_wallet(dir.path().to_str(), Some("validator"), None).unwrap_err();
    match e {
        KeyError::NotFound(p) => assert_eq!(p, hotkeys.join("default")),
        other => panic!("{other:?}"),
    }
}

/// Every refusal: names the file, and carries no secret in `Display` or `Debug`.
#[test]
fn refusals_name_the_file_and_never_show_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let good = keyfile("validator-hotkey.json");
    let seed = s(&good, "secretSeed");
    type Case = (&'static str, Vec<u8>, fn(&KeyError) -> bool);
    let mut cases: Vec<Case> = vec![
        ("nacl", b"$NACL\x8f\x01secret-bytes".to_vec(), |e| matches!(e, KeyError::Encrypted(_))),
        ("btwallet", b"$BTWALLET:v1:abcdef".to_vec(), |e| matches!(e, KeyError::Encrypted(_))),
        ("fernet", b"gAAAAABkabc".to_vec(), |e| matches!(e, KeyError::Encrypted(_))),
        ("binary", vec![0x8f, 0x00, 0x13], |e| matches!(e, KeyError::Encrypted(_))),
        // A JSON object cut short: a syntax error, reported by position only.
        ("truncated", serde_json::to_vec(&good).unwrap()[..60].to_vec(), |e| matches!(e, KeyError::Format { .. })),
    ];
    let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let short_seed = &seed[..seed.len() - 2];
    cases.push(("short-seed", mutate(&|v| v["secretSeed"] = short_seed.into()), |e| {
        matches!(e, KeyError::Field { field: "secretSeed", .. })
    }));
    let bare_seed = seed.trim_start_matches("0x").to_owned();
    cases.push(("no-0x", mutate(&|v| v["secretSeed"] = bare_seed.clone().into()), |e| {
        matches!(e, KeyError::Field { field: "secretSeed", .. })
    }));
    let not_hex = format!("0x{}zz", &seed[2..seed.len() - 2]);
    cases.push(("not-hex", mutate(&|v| v["secretSeed"] = not_hex.clone().into()), |e| {
        matches!(e, KeyError::Field { field: "secretSeed", .. })
    }));
    cases.push(("seed-number", mutate(&|v| v["secretSeed"] = 12345.into()), |e| {
        matches!(e, KeyError::Field { field: "secretSeed", .. })
    }));
    cases.push(("seed-array", mutate(&|v| v["secretSeed"] = serde_json::json!([s(&good, "privateKey")])), |e| {
        matches!(e, KeyError::Field { field: "secretSeed", .. })
    }));
    cases.push((
        "no-secret",
        mutate(&|v| {
            v.as_object_mut().unwrap().remove("secretSeed");
            v.as_object_mut().unwrap().remove("privateKey");
        }),
        |e| matches!(e, KeyError::Field { field: "secretSeed", .. }),
    ));
    cases.push((
        "public-mismatch",
        mutate(&|v| v["publicKey"] = keyfile("miner-hotkey.json")["publicKey"].clone()),
        |e| matches!(e, KeyError::Mismatch { field: "publicKey", .. }),
    ));
    cases.push((
        "ss58-mismatch",
        mutate(&|v| v["ss58Address"] = keyfile("miner-hotkey.json")["ss58Address"].clone()),
        |e| matches!(e, KeyError::Mismatch { field: "ss58Address", .. }),
    ));
    // The miner's secret in the validator's file: mismatch, and neither seed may show.
    cases.push((
        "seed-mismatch",
        mutate(&|v| v["secretSeed"] = keyfile("miner-hotkey.json")["secretSeed"].clone()),
        |e| matches!(e, KeyError::Mismatch { .. }),
    ));
    cases.push(("ed25519", mutate(&|v| v["cryptoType"] = 0.into()), |e| {
        matches!(e, KeyError::CryptoType { crypto_type: 0, .. })
    }));
    cases.push(("array", b"[1,2]".to_vec(), |e| matches!(e, KeyError::Encrypted(_) | KeyError::Format { .. })));

    for (name, bytes, expected) in cases {
        let path = dir.path().join(format!("hotkey-{name}"));
        std::fs::write(&path, &bytes).unwrap();
        let e = Hotkey::from_keyfile(&path).unwrap_err();
        assert!(expected(&e), "{name}: unexpected {e:?}");
        let shown = format!("{e}");
        assert!(shown.contains(&path.display().to_string()), "{name}: {shown}");
        assert_no_secret(&shown);
        assert_no_secret(&format!("{e:?} {e:#?}"));
        if let KeyError::Encrypted(_) = e {
            assert!(shown.ends_with("is encrypted; synth-forward needs an unencrypted hotkey"), "{shown}");
        }
    }

    let missing = dir.path().join("nope");
    let e = Hotkey::from_keyfile(&missing).unwrap_err();
    assert!(matches!(e, KeyError::NotFound(_)) && e.to_string().contains(&missing.display().to_string()));
}

#[test]
fn debug_shows_the_public_half_only() {
    for file in ["validator-hotkey.json", "miner-hotkey.json"] {
        let k = Hotkey::from_keyfile(&wallet_dir().join(file)).unwrap();
        let shown = format!("{k:?} {k:#?}");
        assert!(shown.contains(k.ss58()));
        assert_no_secret(&shown);
        let arc = Arc::new(k);
        let signer = synth_forward::wire::btauth::BtauthSigner::new(
            arc.clone(),
            1,
            &synth_forward::request::SimulationInput {
                asset: "BTC".into(),
                start_time: "2026-11-24T14:02:00+00:00".into(),
                time_increment: 60,
                time_length: 600,
                num_simulations: 3,
            },
        );
        assert_no_secret(&format!("{signer:?}"));
    }
}
