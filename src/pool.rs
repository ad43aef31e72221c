//! The process-wide rayon pool that decodes rows (and encodes Parquet column chunks).
//!
//! Built once, on first use, with one thread per core; replay and the live client both run their
//! decode on it, so the two paths are measured on the same machinery.

use std::sync::OnceLock;

static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();

/// The decode pool. Threads are named `decode-N` so they show in profiles and `top -H`.
pub fn decode_pool() -> &'static rayon::ThreadPool {
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("decode-{i}"))
            .build()
            .expect("building the decode pool")
    })
}
