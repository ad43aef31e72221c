//! The output file's life: partition path, temp name, fsync, rename into place.
//!
//! In: the final path and a closure that writes the bytes. Out: the file at its final path, whole,
//! or no file at all (the temp file is removed on every error path, including a panic in the
//! closure).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

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

/// Removes the temp file when dropped, unless disarmed after the rename.
struct TempGuard<'a> {
    path: &'a Path,
    armed: bool,
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(self.path);
        }
    }
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SinkError + 'a {
    move |source| SinkError::Io { what, path: path.to_owned(), source }
}

/// Writes `final_path` atomically: `write` fills a buffered temp file in the same folder, which
/// is fsync'd (when `fsync`) and then moved into place. Without `overwrite`, an existing file is
/// an error, checked before writing and again, atomically, at the move (a hard link, which fails
/// if the name exists).
pub fn write_atomically(
    final_path: &Path,
    overwrite: bool,
    fsync: bool,
    write: impl FnOnce(BufWriter<File>) -> Result<BufWriter<File>, SinkError>,
) -> Result<(), SinkError> {
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
    let mut guard = TempGuard { path: &temp, armed: true };

    let out = write(BufWriter::with_capacity(4 << 20, file))?;
    let file = out.into_inner().map_err(|e| SinkError::Io {
        what: "flushing the temp file",
        path: temp.clone(),
        source: e.into_error(),
    })?;
    if fsync {
        file.sync_all().map_err(io_err("syncing the temp file", &temp))?;
    }
    drop(file);

    if overwrite {
        fs::rename(&temp, final_path).map_err(io_err("renaming the temp file into place", final_path))?;
    } else {
        match fs::hard_link(&temp, final_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(SinkError::Exists(final_path.to_owned()));
            }
            // No hard links here (some network/FUSE filesystems): check-then-rename instead.
            Err(_) if !final_path.exists() => {
                fs::rename(&temp, final_path)
                    .map_err(io_err("renaming the temp file into place", final_path))?;
            }
            Err(_) => return Err(SinkError::Exists(final_path.to_owned())),
        }
        // After a hard link the temp name still exists; the guard removes it.
    }
    guard.armed = !overwrite;
    drop(guard);
    if fsync {
        // Make the new directory entry durable too.
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
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
