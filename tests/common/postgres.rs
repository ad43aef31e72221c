//! A throwaway PostgreSQL server for one test: its own cluster in a temp folder, reached only
//! through a Unix socket in that folder (no TCP port at all), stopped and deleted on drop.
//!
//! The server binaries come from `$SYNTH_FORWARD_PG_BINDIR`, else Debian's
//! `/usr/lib/postgresql/<version>/bin` (`.ci/run` installs the `postgresql` package), else `PATH`.
//! PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres` user the
//! Debian package creates, and every server command runs as that user (`runuser`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

fn bindir() -> PathBuf {
    if let Ok(d) = std::env::var("SYNTH_FORWARD_PG_BINDIR") {
        return d.into();
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").is_file()).collect()
        })
        .unwrap_or_default();
    debian.sort();
    debian.pop().unwrap_or_default()
}

impl Postgres {
    /// Creates and starts the cluster; panics with a clear message when PostgreSQL is missing.
    pub fn start() -> Postgres {
        let bin = bindir();
        let initdb = bin.join("initdb");
        assert!(
            initdb.is_file() || bin.as_os_str().is_empty(),
            "no PostgreSQL server: install Debian's `postgresql` package (.ci/run does) or set SYNTH_FORWARD_PG_BINDIR"
        );
        let as_postgres = is_root();
        let dir = tempfile::tempdir().expect("a temp folder for the cluster");
        let pg = Postgres { dir, bin, as_postgres };
        if pg.as_postgres {
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(pg.dir.path()).status();
            assert!(ok.is_ok_and(|s| s.success()), "chown of the cluster folder to postgres failed");
        }
        let data = pg.data();
        let out = pg
            .server_cmd("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C", "-D"])
            .arg(&data)
            .output()
            .expect("running initdb");
        check(&out, "initdb");
        let opts = format!("-k {} -c listen_addresses='' -F", pg.socket_dir().display());
        let out = pg
            .server_cmd("pg_ctl")
            .args(["-D"])
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(pg.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .expect("running pg_ctl start");
        check(&out, "pg_ctl start");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection URL for clients (libpq style: the socket folder as the host).
    pub fn url(&self) -> String {
        format!("postgresql://postgres@/postgres?host={}", self.socket_dir().display())
    }

    fn server_cmd(&self, tool: &str) -> Command {
        let exe = if self.bin.as_os_str().is_empty() { PathBuf::from(tool) } else { self.bin.join(tool) };
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Runs `sql` with psql (stops at the first error) and returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let exe = if self.bin.as_os_str().is_empty() { PathBuf::from("psql") } else { self.bin.join("psql") };
        let out = Command::new(exe)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres", "-h"])
            .arg(self.socket_dir())
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                // The SQL goes in on stdin: a large literal would pass the argument-size limit.
                child.stdin.take().expect("psql's stdin").write_all(sql.as_bytes())?;
                child.wait_with_output()
            })
            .expect("running psql");
        check(&out, "psql");
        String::from_utf8(out.stdout).expect("psql prints UTF-8")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.server_cmd("pg_ctl").arg("-D").arg(&data).args(["-m", "immediate", "-w", "stop"]).output();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
