//! A throwaway PostgreSQL server for one test: its own cluster in a temp folder, listening on
//! 127.0.0.1 only, on a free port (and on a Unix socket in that folder, for psql), stopped and
//! deleted on drop. `database()` makes a fresh database holding the validator's schema
//! (`../shared/upstream-db/schema.sql`) for each test.
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
    port: u16,
    databases: std::sync::atomic::AtomicUsize,
}

/// A port nobody listens on right now (the kernel's pick, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
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
        let pg = Postgres { dir, bin, as_postgres, port: free_port(), databases: Default::default() };
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
        pg.start_server();
        pg
    }

    /// Starts the server of the cluster (again, after [`Postgres::stop`]).
    pub fn start_server(&self) {
        let opts = format!(
            "-k {} -c listen_addresses=127.0.0.1 -p {} -F -c max_connections=40",
            self.socket_dir().display(),
            self.port
        );
        let out = self
            .server_cmd("pg_ctl")
            .args(["-D"])
            .arg(self.data())
            .args(["-o", &opts, "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .expect("running pg_ctl start");
        check(&out, "pg_ctl start");
    }

    /// Stops the server at once (`immediate`: connections cut, as in a crash).
    pub fn stop(&self) {
        let out = self.server_cmd("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]).output();
        check(&out.expect("running pg_ctl stop"), "pg_ctl stop");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh database with the validator's schema; its name.
    pub fn database(&self) -> String {
        let n = self.databases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("synth_{n}");
        self.psql(&format!("CREATE DATABASE {name};"));
        let schema = std::fs::read_to_string(schema_path()).expect("../shared/upstream-db/schema.sql");
        self.psql_in(&name, &schema);
        name
    }

    /// A TCP URL of database `db` (with a password the server, trusting loopback, ignores).
    pub fn tcp_url(&self, db: &str) -> String {
        format!("postgresql://postgres:hunter2@127.0.0.1:{}/{db}", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection URL for clients (libpq style: the socket folder as the host).
    pub fn url(&self) -> String {
        format!("postgresql://postgres@/postgres?host={}&port={}", self.socket_dir().display(), self.port)
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
        self.psql_in("postgres", sql)
    }

    /// [`Postgres::psql`] in database `db`.
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        let exe = if self.bin.as_os_str().is_empty() { PathBuf::from("psql") } else { self.bin.join("psql") };
        let out = Command::new(exe)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", db, "-p"])
            .arg(self.port.to_string())
            .arg("-h")
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

/// The validator's schema (`../shared/upstream-db/schema.sql`).
pub fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream-db/schema.sql")
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
