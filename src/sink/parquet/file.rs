//! The output file's life: partition path, temp name, fsync, rename into place.
//!
//! In: the final path, then encoded byte ranges appended as they are ready (any thread, any order)
//! and the footer. Out: the file at its final path, whole, or no file at all (the temp file is
//! removed on every error path, including a panic, when the [`TempFile`] is dropped).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::SinkError;

/// `DIR/asset=<asset>/date=<YYYY-MM-DD>/<start_unix>_<time_length>.parquet`, the date being the
/// UTC date of `start_unix`. The asset must be a plain name (letters, digits, `_`, `-`, `.`; not
/// `.`/`..`), so it can never leave `DIR` or need hive escaping.
pub fn partition_path(
    dir: &Path,
    asset: &str,
    start_unix: i64,
    time_length: i64,
) -> Result<PathBuf, SinkError> {
    let plain = !asset.is_empty()
        && asset != "."
        && asset != ".."
        && asset.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if !plain {
        return Err(SinkError::Partition(format!("asset {asset:?} is not a plain name")));
    }
    let date = chrono::DateTime::from_timestamp(start_unix, 0)
        .ok_or_else(|| SinkError::Partition(format!("start time {start_unix} is out of range")))?
        .format("%Y-%m-%d");
    Ok(dir
        .join(format!("asset={asset}"))
        .join(format!("date={date}"))
        .join(format!("{start_unix}_{time_length}.parquet")))
}

/// The temp file next to `final_path`: `.<name>.tmp-<pid>`. Hidden (leading dot), so dataset
/// readers that skip hidden files never pick it up.
pub fn temp_path(final_path: &Path) -> PathBuf {
    let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    final_path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Below this many unsynced bytes the writeback thread waits for more. A live cycle appends one
/// miner (≈ 0.3–1.5 MB encoded) at a time, so every miner or two is pushed to disk while the others
/// still send; a replay appends row groups of a few MB, each synced while the next encodes.
const WRITEBACK_BYTES: u64 = 1 << 20;

/// The cycle's file while it is being written: created (empty, under the temp name) when the
/// writer is made, appended to from any thread as row groups finish encoding, and moved into place
/// by [`TempFile::commit`]. Dropped without a commit (an error, a panic), it removes the temp file.
///
/// Appends reserve their byte range with one atomic add and write it with `pwrite`, so pool threads
/// never wait on each other; the file has no holes once every append has returned.
pub(super) struct TempFile {
    final_path: PathBuf,
    temp: PathBuf,
    file: File,
    end: AtomicU64,
    overwrite: bool,
    fsync: bool,
    writeback: Option<Writeback>,
    /// Remove the temp name on drop.
    armed: bool,
}

impl TempFile {
    /// Creates the partition folder and the empty temp file next to `final_path`. Without
    /// `overwrite`, an existing `final_path` is an error now (and again, atomically, at the move).
    /// With `fsync`, a writeback thread starts pushing appended bytes to disk as they come, so the
    /// final fsync only waits for the last few.
    pub fn create(final_path: &Path, overwrite: bool, fsync: bool) -> Result<TempFile, SinkError> {
        let parent = final_path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_err("creating the partition folder", parent))?;
        if !overwrite && final_path.exists() {
            return Err(SinkError::Exists(final_path.to_owned()));
        }
        let temp = temp_path(final_path);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(io_err("creating the temp file", &temp))?;
        let mut out = TempFile {
            final_path: final_path.to_owned(),
            temp,
            file,
            end: AtomicU64::new(0),
            overwrite,
            fsync,
            writeback: None,
            armed: true,
        };
        if fsync {
            let clone = out.file.try_clone().map_err(io_err("opening the temp file for writeback", &out.temp))?;
            out.writeback = Some(Writeback::start(clone).map_err(io_err("starting the writeback thread", &out.temp))?);
        }
        Ok(out)
    }

    /// Appends `bytes` after everything appended so far (by any thread) and returns the offset
    /// they start at.
    pub fn append(&self, bytes: &[u8]) -> Result<u64, SinkError> {
        let at = self.end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.file.write_all_at(bytes, at).map_err(io_err("writing the temp file", &self.temp))?;
        if let Some(w) = &self.writeback {
            w.wrote(bytes.len() as u64);
        }
        Ok(at)
    }

    /// Bytes appended so far (every append reserved; a running one may still be copying).
    pub fn len(&self) -> u64 {
        self.end.load(Ordering::Relaxed)
    }

    /// Makes the file durable (when `fsync`) and moves it into place: a rename with `overwrite`,
    /// else a hard link, which fails if the name exists. Every append must have returned.
    pub fn commit(mut self) -> Result<(), SinkError> {
        if let Some(w) = self.writeback.take()
            && let Some(e) = w.stop()
        {
            return Err(SinkError::Io { what: "writing the temp file back to disk", path: self.temp.clone(), source: e });
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
                    fs::rename(temp, final_path)
                        .map_err(io_err("renaming the temp file into place", final_path))?;
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
        if let Some(w) = self.writeback.take() {
            let _ = w.stop();
        }
        if self.armed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// A thread that `fdatasync`s the temp file whenever [`WRITEBACK_BYTES`] more have been appended,
/// so the disk writes overlap encoding (and, live, the network) instead of all landing in the
/// final fsync. It shares the file description with the writer, so a writeback error it sees would
/// not be reported again to the final fsync: it keeps the first one for [`Writeback::stop`].
struct Writeback {
    shared: Arc<(Mutex<WritebackState>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct WritebackState {
    unsynced: u64,
    stop: bool,
    error: Option<io::Error>,
}

impl Writeback {
    fn start(file: File) -> io::Result<Writeback> {
        let shared = Arc::new((Mutex::new(WritebackState::default()), Condvar::new()));
        let s = shared.clone();
        let thread = std::thread::Builder::new().name("parquet-writeback".into()).spawn(move || {
            let (lock, cv) = &*s;
            loop {
                let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
                while !st.stop && st.unsynced < WRITEBACK_BYTES {
                    st = cv.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if st.stop {
                    return;
                }
                st.unsynced = 0;
                drop(st);
                if let Err(e) = file.sync_data() {
                    lock.lock().unwrap_or_else(|p| p.into_inner()).error.get_or_insert(e);
                    return;
                }
            }
        })?;
        Ok(Writeback { shared, thread: Some(thread) })
    }

    fn wrote(&self, bytes: u64) {
        let (lock, cv) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        st.unsynced += bytes;
        if st.unsynced >= WRITEBACK_BYTES {
            cv.notify_one();
        }
    }

    /// Stops the thread (after its current sync, if any) and returns the first error it saw.
    fn stop(mut self) -> Option<io::Error> {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        lock.lock().unwrap_or_else(|p| p.into_inner()).error.take()
    }
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SinkError + 'a {
    move |source| SinkError::Io { what, path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_layout() {
        let p = partition_path(Path::new("/out"), "BTC", 1_764_000_000, 86_400).unwrap();
        assert_eq!(p, Path::new("/out/asset=BTC/date=2025-11-24/1764000000_86400.parquet"));
        assert_eq!(
            temp_path(&p).file_name().unwrap().to_str().unwrap(),
            format!(".1764000000_86400.parquet.tmp-{}", std::process::id())
        );
        for bad in ["", "..", "a/b", "BTC\\x", "x y", "é"] {
            assert!(partition_path(Path::new("/out"), bad, 0, 0).is_err(), "{bad:?}");
        }
    }
}
