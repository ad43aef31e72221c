//! Object storage: `s3://bucket/prefix` as an output folder and as a dataset to score.
//!
//! In: a path or URL from the command line. Out: whether it names object storage, and with the
//! `s3` feature the client that stores and reads its objects ([`s3`]); without it, the one error
//! every command gives for such a URL.

/// Whether `--out` or an input names object storage (`s3://…`) rather than a local path.
pub fn is_url(s: &str) -> bool {
    s.starts_with("s3://")
}

/// Why `url` cannot be used by a build without the `s3` feature.
#[cfg(not(feature = "s3"))]
pub fn not_built(url: &str) -> String {
    format!("{url}: this build has no object storage (build with --features s3)")
}

#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "s3")]
pub use s3::{Remote, SINGLE_PUT_MAX, StoreError};
