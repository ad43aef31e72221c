//! A write that fails leaves nothing behind and says why on one line: a read-only partition
//! folder, and a disk that fills up mid-file (RLIMIT_FSIZE: the write itself fails with EFBIG
//! after part of the file is out), both through the binary's `replay`. Root ignores permission
//! bits, so as root the read-only case runs the binary as `nobody` (setpriv).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, tree};

fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small.cycle.arrow")
}

fn one_line_error(o: &Output, mentions: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "the write should have failed; stderr: {err}");
    assert!(o.stdout.is_empty(), "no summary on failure");
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    assert!(err.to_lowercase().contains(mentions), "says why ({mentions}): {err}");
}

/// A replay into `out` whose partition folder exists, empty, as it would after a first cycle.
fn partition_ready(out: &Path) -> PathBuf {
    let first = Command::new(BIN).arg("replay").arg(small()).arg("--out").arg(out).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let file = PathBuf::from(summary["parquet"].as_str().unwrap());
    std::fs::remove_file(&file).unwrap();
    file.parent().unwrap().to_path_buf()
}

#[test]
fn read_only_partition_folder_gives_one_line_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("out");
    let part = partition_ready(&out);
    for d in [&out, &part.parent().unwrap().to_path_buf(), &part] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let before = tree(&out);
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    let o = cmd.arg("replay").arg(small()).arg("--out").arg(&out).output().unwrap();
    one_line_error(&o, "permission denied");
    assert_eq!(tree(&out), before, "nothing written, no temp file");
    for d in [&part, &part.parent().unwrap().to_path_buf(), &out] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn disk_full_mid_file_gives_one_line_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let part = partition_ready(&out);
    // 64 blocks (32–64 KiB, by shell) is far less than the file; SIGXFSZ ignored so the write
    // returns EFBIG instead of killing the process (an ignored signal stays ignored across exec).
    let o = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 64 && trap '' XFSZ && exec \"$0\" \"$@\"")
        .arg(BIN)
        .arg("replay")
        .arg(small())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    one_line_error(&o, "file too large");
    assert_eq!(tree(&part), Vec::<PathBuf>::new(), "the partial temp file is removed");
}
