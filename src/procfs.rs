//! What the process can read about itself from `/proc` (Linux): memory figures for the summary
//! and the logs, and the thread and descriptor counts the engine-reuse test watches.
//!
//! In: nothing but the running process. Out: numbers, or `None` where the OS does not tell.

/// One `… kB` line of `/proc/self/status`, e.g. `VmRSS:`, in kB.
pub fn status_kb(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
}

/// The process's peak resident set so far (`VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// The process's threads (`Threads:` of `/proc/self/status`).
pub fn threads() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:"))?.trim().parse().ok()
}

/// The process's open file descriptors (entries of `/proc/self/fd`, less the one reading it).
pub fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count().saturating_sub(1))
}

/// Logs the resident and peak resident memory at the end of a phase (`RUST_LOG=info`).
pub fn log_memory(phase: &str) {
    let kb = |name| status_kb(name).map_or_else(|| "?".to_owned(), |kb| kb.to_string());
    tracing::info!(phase, rss_kb = %kb("VmRSS:"), peak_kb = %kb("VmHWM:"), "memory");
}
