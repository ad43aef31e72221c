//! Arrow IPC recordings of a cycle's raw calls: the replayable input.
//!
//! In (read): a `.cycle.arrow` IPC file (ZSTD/LZ4-compressed buffers accepted), written by us or by
//! any Arrow implementation that follows `schemas/recording.md`. Out: a [`Recording`] that hands
//! out each row's [`RawCall`](crate::call::RawCall) borrowing the body straight from the file's
//! buffers. In (write): the request, the start time and one [`RecordedCall`] per miner. Out: the
//! file, written to a temp name and renamed.

// Interface (filled in by the recording work):
//
// pub const VERSION: &str = "1";
// pub struct Recording { pub request: CycleRequest, pub started_at: String, .. }
// impl Recording {
//     pub fn read(path: &Path) -> Result<Recording, RecordingError>;
//     pub fn rows(&self) -> usize;
//     pub fn uid(&self, row: usize) -> u16;
//     pub fn hotkey(&self, row: usize) -> &str;
//     pub fn call(&self, row: usize) -> RawCall<'_>;
//     pub fn headers(&self, row: usize) -> Vec<(String, String)>;
//     pub fn body_bytes(&self) -> u64;          // sum of body lengths
// }
// pub struct RecordedCall { uid, hotkey, status, error, ttfb_ms, elapsed_ms, headers, body }
// pub fn write(path: &Path, request: &CycleRequest, started_at: &str, calls: &[RecordedCall])
//     -> Result<(), RecordingError>;
