//! Which cycle files to score: a file, a folder, or a glob over a dataset.
//!
//! In: the command line's inputs. Out: the Parquet files they name, sorted, each once. A folder
//! is walked recursively; hidden entries (a writer's temp files, `.name.tmp-…`) and the scores
//! tables (`scores_*` folders) are skipped, so the output folder of `run`/`replay` can be given
//! whole. A pattern with `*`, `?` or `[` is a glob (`**` crosses folders).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The files named by `inputs` (module doc). An input that names nothing is an error: a typo in
/// a dataset path must not look like an empty day.
pub fn expand(inputs: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files = BTreeSet::new();
    for input in inputs {
        let before = files.len();
        if input.contains(['*', '?', '[']) {
            let paths = glob::glob(input).map_err(|e| format!("{input}: not a valid pattern: {e}"))?;
            for p in paths {
                let p = p.map_err(|e| format!("{input}: {e}"))?;
                if skipped(&p) {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, &mut files).map_err(|e| format!("{}: {e}", p.display()))?;
                } else if is_parquet(&p) {
                    files.insert(p);
                }
            }
        } else {
            let p = Path::new(input);
            let meta = std::fs::metadata(p).map_err(|e| format!("{input}: {e}"))?;
            if meta.is_dir() {
                walk(p, &mut files).map_err(|e| format!("{input}: {e}"))?;
            } else {
                files.insert(p.to_owned());
            }
        }
        if files.len() == before {
            return Err(format!("{input}: no Parquet files there"));
        }
    }
    Ok(files.into_iter().collect())
}

fn is_parquet(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "parquet")
}

/// A path part a dataset reader skips: hidden (a writer's temp files and folders) or a scores
/// table. Object listings ([`crate::store`]) skip by the same rule.
pub fn skipped_name(name: &str) -> bool {
    (name.starts_with('.') && name != "." && name != "..") || name.starts_with("scores_")
}

/// A match inside a hidden folder or file, or inside a scores table, as a walk would skip it.
fn skipped(p: &Path) -> bool {
    p.components().any(|c| skipped_name(&c.as_os_str().to_string_lossy()))
}

fn walk(dir: &Path, files: &mut BTreeSet<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            if !skipped_name(&name) {
                walk(&p, files)?;
            }
        } else if is_parquet(&p) {
            files.insert(p);
        }
    }
    Ok(())
}
