//! https for the clients that reach outside (feature `tls`): the real-price history API and
//! object storage.
//!
//! In: nothing. Out: ring as the process's default rustls provider. reqwest is built with rustls
//! but no provider of its own (`rustls-no-provider`: the default one, aws-lc-rs, needs a C
//! toolchain and cmake), so building any reqwest client panics until one is installed; every
//! client builder of this crate calls [`install_provider`] first.

/// Makes ring the process's default rustls provider, once (a provider installed before wins).
#[allow(deprecated)] // rustls deprecates ring for want of post-quantum key exchange: see prices::pyth.
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
