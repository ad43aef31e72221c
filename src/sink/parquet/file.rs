//! The output file's life: its table and partition path, temp name, fsync, rename into place.
//!
//! In: the final path, then encoded byte ranges appended as they are ready (any thread, any order,
//! each with its place in the file) and the footer. Out: the file at its final path, whole, or no file at all (the temp file is
//! removed on every error path, including a panic, when the [`TempFile`] is dropped).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};

use super::{PriceLayout, SinkError};
use crate::request::SimulationInput;

/// The version of the folder layout below an output folder (`schemas/output.md`, "Files"): the
/// `layout-<version>` folder every table sits in, and the files' `synth.layout` key. Layout 1
/// (no such key) put every cycle in one tree, `DIR/asset=…/date=…/<start>_<length>.parquet`,
/// whatever its `paths` type.
pub const LAYOUT_VERSION: u32 = 2;

/// A table: the files that share one Arrow schema, so a dataset reader can open its folder whole.
/// `paths` is `FixedSizeList<FixedSizeList<leaf, points>, num_simulations>` with `points =
/// time_length / time_increment + 1`, so the prompt, the path count and the price type fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub time_length: i64,
    pub time_increment: i64,
    pub num_simulations: i64,
    pub prices: PriceLayout,
}

impl Table {
    /// The table of a request's cycles whose prices are stored as `prices`.
    pub fn new(si: &SimulationInput, prices: PriceLayout) -> Table {
        Table {
            time_length: si.time_length,
            time_increment: si.time_increment,
            num_simulations: si.num_simulations,
            prices,
        }
    }

    /// `<time_length>_<time_increment>_<num_simulations>_<prices>` (prices: `f64`, `f32`,
    /// `dec<scale>`), e.g. `3600_60_1000_f64`. No `=` in it: it is not a hive key, and a reader
    /// pointed above it would mix tables.
    pub fn name(&self) -> String {
        let Table { time_length, time_increment, num_simulations, prices } = self;
        format!("{time_length}_{time_increment}_{num_simulations}_{}", prices.short_name())
    }

    /// `DIR/layout-<LAYOUT_VERSION>/<name>`: the folder an analyst opens as one dataset.
    pub fn root(&self, dir: &Path) -> PathBuf {
        dir.join(format!("layout-{LAYOUT_VERSION}")).join(self.name())
    }
}

/// `DIR/layout-2/<table>/asset=<asset>/date=<YYYY-MM-DD>/<start_unix>.parquet` ([`Table::root`],
/// then [`hive_partitions`]). Two cycles of one table, asset and start time are the same cycle.
pub fn partition_path(dir: &Path, table: &Table, asset: &str, start_unix: i64) -> Result<PathBuf, SinkError> {
    let partitions = hive_partitions(asset, start_unix).map_err(SinkError::Partition)?;
    Ok(table.root(dir).join(partitions).join(format!("{start_unix}.parquet")))
}

/// `asset=<asset>/date=<YYYY-MM-DD>`, the date being the UTC date of `start_unix`: where a cycle's
/// file sits in its table, the cycles' and the scores' alike. The asset must be a plain name
/// (letters, digits, `_`, `-`, `.`; not `.`/`..`), so it can never leave the table or need hive
/// escaping.
pub fn hive_partitions(asset: &str, start_unix: i64) -> Result<PathBuf, String> {
    if !crate::request::is_plain_asset(asset) {
        return Err(format!("asset {asset:?} is not a plain name"));
    }
    let date = chrono::DateTime::from_timestamp(start_unix, 0)
        .ok_or_else(|| format!("start time {start_unix} is out of range"))?
        .format("%Y-%m-%d");
    Ok(Path::new(&format!("asset={asset}")).join(format!("date={date}")))
}

/// The I/O thread `fdatasync`s whenever it has nothing queued (a live cycle: after almost every
/// miner, while the others still send, so the final fsync waits for little), and otherwise once
/// this many bytes have been written since its last sync (a replay, whose groups come faster than
/// the disk: a sync every 1 MiB, ≈ 50 on an hf-90mb file of one-row groups, stalled its encoders).
const WRITEBACK_BYTES: u64 = 8 << 20;

/// Appended buffers waiting for the I/O thread, at most. When the disk is slower than encoding the
/// encoders wait here: a few MB for one-row groups (≈ 0.2–1.5 MB each), not the whole file.
const QUEUED_WRITES: usize = 16;

/// Written buffers kept for reuse: one per encoding thread and some slack.
const SPARE_BUFFERS: usize = 8;

/// The cycle's file while it is being written: created (under the temp name) when the writer is
/// made, appended to from any thread as row groups finish encoding, and moved into place by
/// [`TempFile::commit`]. Dropped without a commit (an error, a panic), it removes the temp file.
///
/// Each append carries its place in the file (`seq`: 0, 1, 2, … with no gap) and is handed to the
/// file's I/O thread, which writes the appends one after another in `seq` order, holding any that
/// come early until their turn (they come nearly in order: the sources hand rows to the pool in
/// `seq` order, so an early one waits only for the few still encoding on the other threads). The
/// layout is therefore a function of the `seq` order alone, not of which thread finished first: a
/// cycle written twice is the same bytes. With `fsync` the thread `fdatasync`s behind its writes.
/// Encoding threads never wait for the page cache or the disk unless [`QUEUED_WRITES`] buffers are
/// already waiting; measured on this VM a 4.5 MB `pwrite` takes 4–35 ms (≈ 330 MB/s, throttled
/// dirty pages), which on the encoding threads was most of the `lf-full` write.
pub(super) struct TempFile {
    final_path: PathBuf,
    temp: PathBuf,
    file: Arc<File>,
    overwrite: bool,
    fsync: bool,
    io: Option<IoThread>,
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Remove the temp name on drop.
    armed: bool,
}

/// Where the I/O thread put every append: `at[seq]` is its offset; `end` the file's length.
pub(super) struct Placed {
    pub at: Vec<u64>,
    pub end: u64,
}

impl TempFile {
    /// Creates the partition folder and the temp file next to `final_path`, writes `head` at its
    /// start and starts its I/O thread. Without `overwrite`, an existing `final_path` is an error
    /// now (and again, atomically, at the move).
    pub fn create(final_path: &Path, overwrite: bool, fsync: bool, head: &[u8]) -> Result<TempFile, SinkError> {
        let parent = final_path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_err("creating the partition folder", parent))?;
        if !overwrite && final_path.exists() {
            return Err(SinkError::Exists(final_path.to_owned()));
        }
        let temp = crate::atomic_file::temp_path(final_path);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(io_err("creating the temp file", &temp))?;
        let mut out = TempFile {
            final_path: final_path.to_owned(),
            temp,
            file: Arc::new(file),
            overwrite,
            fsync,
            io: None,
            spare: Arc::new(Mutex::new(Vec::new())),
            armed: true,
        };
        out.file.write_all_at(head, 0).map_err(io_err("writing the temp file", &out.temp))?;
        out.io = Some(
            IoThread::start(out.file.clone(), head.len() as u64, fsync, out.spare.clone())
                .map_err(io_err("starting the temp file's I/O thread", &out.temp))?,
        );
        Ok(out)
    }

    /// An empty buffer to encode the next append into: a written one back from the I/O thread
    /// (its pages already faulted in) when there is one.
    pub fn buffer(&self) -> Vec<u8> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default()
    }

    /// Appends `bytes` as the file's `seq`-th append (after every lower `seq`). The write itself
    /// happens on the I/O thread; its errors surface at [`TempFile::drain`] (or here, once the
    /// thread has stopped on one).
    pub fn append(&self, seq: usize, bytes: Vec<u8>) -> Result<(), SinkError> {
        let sent = self.io.as_ref().and_then(|io| io.tx.as_ref()).map(|tx| tx.send((seq, bytes)));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(SinkError::Io {
                what: "writing the temp file",
                path: self.temp.clone(),
                // The thread's own error (disk full, EFBIG, EIO…) is what the operator needs.
                source: self.io.as_ref().map_or_else(|| io::Error::other("no I/O thread"), IoThread::failure),
            }),
        }
    }

    /// Waits until every append is written and says where each went. Every `seq` below the
    /// highest appended must have been appended.
    pub fn drain(&mut self) -> Result<Placed, SinkError> {
        let io = self.io.take().ok_or_else(|| SinkError::RowGroups("the file was already drained".into()))?;
        io.finish().map_err(|source| SinkError::Io { what: "writing the temp file", path: self.temp.clone(), source })
    }

    /// Writes `bytes` at `at`, after a [`TempFile::drain`] (the footer).
    pub fn write_tail(&self, at: u64, bytes: &[u8]) -> Result<(), SinkError> {
        self.file.write_all_at(bytes, at).map_err(io_err("writing the temp file", &self.temp))
    }

    /// Makes the file durable (when `fsync`) and moves it into place: a rename with `overwrite`,
    /// else a hard link, which fails if the name exists.
    pub fn commit(mut self) -> Result<(), SinkError> {
        if let Some(io) = self.io.take()
            && let Err(e) = io.finish()
        {
            return Err(SinkError::Io { what: "writing the temp file", path: self.temp.clone(), source: e });
        }
        if self.fsync {
            self.file.sync_all().map_err(io_err("syncing the temp file", &self.temp))?;
        }
        let (temp, final_path) = (&self.temp, &self.final_path);
        if self.overwrite {
            fs::rename(temp, final_path).map_err(io_err("renaming the temp file into place", final_path))?;
            self.armed = false;
        } else {
            match fs::hard_link(temp, final_path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(SinkError::Exists(final_path.to_owned()));
                }
                // No hard links here (some network/FUSE filesystems): check-then-rename instead.
                Err(_) if !final_path.exists() => {
                    fs::rename(temp, final_path).map_err(io_err("renaming the temp file into place", final_path))?;
                    self.armed = false;
                }
                Err(_) => return Err(SinkError::Exists(final_path.to_owned())),
            }
            // After a hard link the temp name still exists; drop removes it.
        }
        if self.fsync {
            // Make the new directory entry durable too.
            if let Some(d) = final_path.parent().and_then(|p| File::open(p).ok()) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            let _ = io.finish();
        }
        if self.armed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// The thread that writes appended buffers in `seq` order, one after another from `start`, and,
/// with `fsync`, `fdatasync`s when idle or every [`WRITEBACK_BYTES`], so the disk writes overlap
/// encoding (and, live, the network) instead of all landing in the final fsync. It stops at its first error and
/// reports it from [`IoThread::finish`] (a writeback error seen by its `fdatasync` would not be
/// reported again to the final fsync on the same file description).
struct IoThread {
    tx: Option<SyncSender<(usize, Vec<u8>)>>,
    thread: Option<std::thread::JoinHandle<io::Result<Placed>>>,
    /// The error the thread stopped on, for appends that find it gone before `finish`.
    failed: Arc<Mutex<Option<(io::ErrorKind, String)>>>,
}

impl IoThread {
    fn start(file: Arc<File>, start: u64, fsync: bool, spare: Arc<Mutex<Vec<Vec<u8>>>>) -> io::Result<IoThread> {
        let (tx, rx) = sync_channel::<(usize, Vec<u8>)>(QUEUED_WRITES);
        let failed = Arc::new(Mutex::new(None));
        let report = failed.clone();
        let thread = std::thread::Builder::new().name("parquet-io".into()).spawn(move || {
            let write_all = || -> io::Result<Placed> {
                let mut placed = Placed { at: Vec::new(), end: start };
                // Appends that came before their turn, by `seq`.
                let mut early: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
                let mut unsynced = 0u64;
                loop {
                    // Nothing queued: the encoders are not waiting, so push what was written to
                    // disk now, then wait for the next append.
                    let (seq, buf) = match rx.try_recv() {
                        Ok(next) => next,
                        Err(TryRecvError::Disconnected) => break,
                        Err(TryRecvError::Empty) => {
                            if fsync && unsynced > 0 {
                                file.sync_data()?;
                                unsynced = 0;
                            }
                            match rx.recv() {
                                Ok(next) => next,
                                Err(_) => break,
                            }
                        }
                    };
                    // A `seq` already written or already waiting would leave a hole (or overwrite
                    // a group) that only the footer could notice: refuse it here.
                    if seq < placed.at.len() || early.contains_key(&seq) {
                        return Err(io::Error::other(format!("append {seq} was given twice")));
                    }
                    early.insert(seq, buf);
                    while let Some(mut buf) = early.remove(&placed.at.len()) {
                        file.write_all_at(&buf, placed.end)?;
                        placed.at.push(placed.end);
                        placed.end += buf.len() as u64;
                        unsynced += buf.len() as u64;
                        if fsync && unsynced >= WRITEBACK_BYTES {
                            file.sync_data()?;
                            unsynced = 0;
                        }
                        buf.clear();
                        let mut spare = spare.lock().unwrap_or_else(|p| p.into_inner());
                        if spare.len() < SPARE_BUFFERS {
                            spare.push(buf);
                        }
                    }
                }
                if let Some(seq) = early.keys().next() {
                    return Err(io::Error::other(format!("append {} never came before append {seq}", placed.at.len())));
                }
                Ok(placed)
            };
            let r = write_all();
            if let Err(e) = &r {
                *report.lock().unwrap_or_else(|p| p.into_inner()) = Some((e.kind(), e.to_string()));
            }
            // Only now may appends find the channel closed: the error is there for them to read.
            drop(rx);
            r
        })?;
        Ok(IoThread { tx: Some(tx), thread: Some(thread), failed })
    }

    /// The error the thread stopped on (a copy), once it has stopped.
    fn failure(&self) -> io::Error {
        match &*self.failed.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((kind, msg)) => io::Error::new(*kind, msg.clone()),
            None => io::Error::other("its I/O thread stopped"),
        }
    }

    /// Lets the thread write what is queued, then joins it: where every append went, or its
    /// first error.
    fn finish(mut self) -> io::Result<Placed> {
        drop(self.tx.take());
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the temp file's I/O thread panicked")),
            None => Ok(Placed { at: Vec::new(), end: 0 }),
        }
    }
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SinkError + 'a {
    move |source| SinkError::Io { what, path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends land in `seq` order whatever order they come in; a `seq` given twice (already
    /// written, or still waiting) fails the file instead of leaving a hole or losing a group, and
    /// nothing is left behind.
    #[test]
    fn appends_land_in_seq_order_and_a_repeated_seq_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let mut f = TempFile::create(&path, false, false, b"HEAD").unwrap();
        for (seq, bytes) in [(1, b"bb".to_vec()), (0, b"a".to_vec()), (2, b"ccc".to_vec())] {
            f.append(seq, bytes).unwrap();
        }
        let placed = f.drain().unwrap();
        assert_eq!((placed.at, placed.end), (vec![4, 5, 7], 10));
        drop(f);

        for repeated in [[0, 1, 0], [2, 2, 0]] {
            let mut f = TempFile::create(&path, false, false, b"HEAD").unwrap();
            for seq in repeated {
                // The thread may already have stopped on the repeat: a later append then fails.
                let _ = f.append(seq, b"x".to_vec());
            }
            let err = f.drain().err().expect("a repeated seq fails the file").to_string();
            assert!(err.contains("given twice"), "{err}");
            drop(f);
            assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing left behind");
        }
    }

    #[test]
    fn one_folder_per_table_then_hive_partitions() {
        let table =
            |time_length, time_increment, prices| Table { time_length, time_increment, num_simulations: 1000, prices };
        let lf = table(86_400, 300, PriceLayout::Float64);
        let p = partition_path(Path::new("/out"), &lf, "BTC", 1_764_000_000).unwrap();
        assert_eq!(p, Path::new("/out/layout-2/86400_300_1000_f64/asset=BTC/date=2025-11-24/1764000000.parquet"));
        assert_eq!(lf.root(Path::new("/out")), Path::new("/out/layout-2/86400_300_1000_f64"));
        for (t, name) in [
            (table(3600, 60, PriceLayout::Float32), "3600_60_1000_f32"),
            (table(3600, 60, PriceLayout::Decimal { scale: 3 }), "3600_60_1000_dec3"),
        ] {
            assert_eq!(t.name(), name);
        }
        let temp = crate::atomic_file::temp_path(&p);
        let temp = temp.file_name().unwrap().to_str().unwrap();
        assert!(temp.starts_with(&format!(".1764000000.parquet.tmp-{}-", std::process::id())), "{temp}");
        for bad in ["", "..", "a/b", "BTC\\x", "x y", "é"] {
            assert!(partition_path(Path::new("/out"), &lf, bad, 0).is_err(), "{bad:?}");
        }
    }
}
