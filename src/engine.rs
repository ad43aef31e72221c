//! The engine: what a process creates once and every cycle reuses.
//!
//! In: how many decode threads to run. Out: an [`Engine`] holding one current-thread tokio runtime
//! (every miner call of a cycle is waiting, not work), one HTTP client (its DNS-free connector
//! and settings; it keeps no idle connection: cycles are minutes apart and a miner's uvicorn
//! closes an idle one after 5 s), and one rayon pool that decodes rows and runs the sinks'
//! per-row work. Its threads keep their scratch (a row's prices) from cycle to cycle; a Parquet
//! file's encoded-group buffers live as long as that file's writer.
//!
//! The cycles themselves are methods the sources add: [`Engine::run_cycle`] (a live cycle,
//! `source::live`) and [`Engine::replay`] (a recording, `source::replay`). Running many cycles on
//! one engine grows no thread, socket or file descriptor from cycle to cycle
//! (`tests/engine_reuse.rs`). Upstream's own fix for its forward phase is the same: build the
//! worker pool once, not per cycle.

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("starting the I/O runtime: {0}")]
    Runtime(std::io::Error),
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("building the decode pool: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
}

/// The long-lived parts of the engine; see the module doc.
pub struct Engine {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) client: reqwest::Client,
    pub(crate) pool: rayon::ThreadPool,
}

impl Engine {
    /// An engine with one decode thread per core.
    pub fn new() -> Result<Engine, EngineError> {
        Engine::with_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// An engine with `threads` decode threads (named `decode-N`, so they show in profiles).
    pub fn with_threads(threads: usize) -> Result<Engine, EngineError> {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(EngineError::Runtime)?;
        let client = crate::fetch::build_client()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("decode-{i}"))
            .build()?;
        Ok(Engine { runtime, client, pool })
    }

    /// The decode pool, for callers that want to run their own work beside the cycles' (benches).
    pub fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }
}

/// The process-wide engine, made on first use: for callers that run a cycle now and then and want
/// no engine of their own to keep (the binary, tests, benches).
pub fn shared() -> &'static Engine {
    static SHARED: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| Engine::new().expect("building the shared engine"))
}
