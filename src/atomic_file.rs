//! Files that appear whole or not at all: one temp-name scheme and one write-then-rename.
//!
//! In: a final path (and, for [`write`], its bytes). Out: a hidden temp name beside it, unique in
//! the process ([`temp_path`]), or the file written there, fsync'd and renamed into place
//! ([`write`], or [`write_with`] for content written piece by piece). The Parquet sink and the
//! recording writer stream into such a temp name and rename it themselves; the fleet's request
//! and the upstream-shape file go through these.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `.<name>.tmp-<pid>-<n>` beside `final_path`: hidden (leading dot), so dataset readers that
/// skip hidden files never pick it up, and unique per process and call, so two writers of the
/// same name never share one.
pub fn temp_path(final_path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    final_path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `bytes` to a temp name beside `path`, fsyncs it and renames it into place (replacing
/// what was there); the temp file is removed on any error.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// [`write`] with the content written by `fill` into a buffered writer on the temp file.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> std::io::Result<()> {
    write_then(path, fill, |temp| std::fs::rename(temp, path))
}

/// [`write_with`] that never replaces an existing file unless `overwrite`: the temp file is
/// hard-linked to `path` (which fails if the name exists, even when another writer made it a moment
/// ago), then unlinked; where hard links are not supported, checked then renamed. An existing
/// `path` gives an `AlreadyExists` error and leaves it untouched.
pub fn write_new_with(
    path: &Path,
    overwrite: bool,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if overwrite {
        return write_with(path, fill);
    }
    let exists =
        || std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("{} already exists", path.display()));
    if path.exists() {
        return Err(exists());
    }
    write_then(path, fill, |temp| match std::fs::hard_link(temp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) if !path.exists() => std::fs::rename(temp, path),
        Err(_) => Err(exists()),
    })
}

/// The temp file filled and fsync'd, `place` putting it at `path`, the temp name removed
/// whatever happened (after a hard link it is a second name), the folder fsync'd.
fn write_then(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    place: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temp = temp_path(path);
    let written = (|| {
        let mut f = BufWriter::with_capacity(1 << 20, File::create(&temp)?);
        fill(&mut f)?;
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        place(&temp)
    })();
    let _ = std::fs::remove_file(&temp);
    written?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()).and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}
