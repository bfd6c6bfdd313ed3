//! The scratch servers of the strategies scenario: a server of the engine started by the bench
//! with a small buffer cache ([`SCRATCH_CACHE`]), so the 2M events outgrow the engine's cache,
//! never the shared server. PostgreSQL: `initdb` and `pg_ctl` as the `postgres` user in
//! [`PG_DIR`] on port 5439 with `shared_buffers = 16MB` (as `.ci/replica` makes its cluster);
//! MariaDB: `mariadb-install-db` and `mariadbd` as `mysql` in [`MARIADB_DIR`] on port 3310 with
//! `innodb_buffer_pool_size = 16M` (as `.ci/mariadb-replica` does). The server is stopped and
//! its directory deleted when the [`Scratch`] is dropped: at the end, and on any failure.
//!
//! The OS page cache still holds the server's files (the machine has far more RAM than the
//! data), so "larger than the cache" means larger than the engine's own cache. With
//! `--drop-os-cache`, [`drop_os_cache`] evicts the data directory's files from the page cache
//! before every measured run (`sync`, then `dd iflag=nocache count=0`, which is
//! `posix_fadvise(POSIX_FADV_DONTNEED)` on the whole file), and [`os_cached_bytes`] (`fincore`)
//! says how much of them was still cached.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backfill::Engine;

use crate::BoxError;

/// The engine's buffer cache on a scratch server.
pub(crate) const SCRATCH_CACHE: &str = "16MB";

/// Where the PostgreSQL scratch cluster lives, and its port.
const PG_DIR: &str = "/var/tmp/backfill-bench-pg";
const PG_PORT: u16 = 5439;
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Where the MariaDB scratch server lives, and its port.
const MARIADB_DIR: &str = "/var/tmp/backfill-bench-mariadb";
const MARIADB_PORT: u16 = 3310;

/// A running scratch server; stopped (and its directory deleted) when dropped.
pub(crate) struct Scratch {
    engine: Engine,
    /// The server's base URL (database `postgres` / `test`).
    pub(crate) url: String,
    /// The data directory, whose files `--drop-os-cache` evicts.
    pub(crate) data_dir: PathBuf,
}

/// Runs a command, failing with its output when it fails.
fn run(cmd: &mut Command) -> Result<(), BoxError> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into())
    }
}

/// `runuser -u USER -- PROGRAM ARGS...`
fn as_user(user: &str, program: &str) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", user, "--", program]);
    cmd
}

/// Polls `ready` every 250 ms for up to 60 s.
fn wait_for(what: &str, ready: impl Fn() -> bool) -> Result<(), BoxError> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("{what} did not come up in 60 s").into())
}

impl Scratch {
    /// Starts a fresh scratch server of `engine` (PostgreSQL or MySQL/MariaDB), replacing one
    /// a failed run may have left.
    pub(crate) fn start(engine: Engine) -> Result<Scratch, BoxError> {
        match engine {
            Engine::Postgres => Self::postgres(),
            Engine::MySql => Self::mariadb(),
            Engine::Sqlite => Err("SQLite has no server: no scratch server to start".into()),
        }
    }

    fn postgres() -> Result<Scratch, BoxError> {
        let dir = Path::new(PG_DIR);
        stop_postgres(dir);
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        run(Command::new("chown").args(["postgres:postgres", PG_DIR]))?;
        run(Command::new("chmod").args(["700", PG_DIR]))?;
        // From here on a failure must stop what started: the guard does.
        let scratch = Scratch {
            engine: Engine::Postgres,
            url: format!("postgres://postgres@127.0.0.1:{PG_PORT}/postgres"),
            data_dir: dir.to_path_buf(),
        };
        run(as_user("postgres", &format!("{PG_BIN}/initdb")).args([
            "-D",
            PG_DIR,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        // Later lines win over initdb's defaults.
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {PG_PORT}\nunix_socket_directories = '/tmp'\n\
             shared_buffers = {SCRATCH_CACHE}\n"
        );
        let path = dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path)?;
        text.push_str(&conf);
        std::fs::write(&path, text)?;
        let log = format!("{PG_DIR}/server.log");
        run(as_user("postgres", &format!("{PG_BIN}/pg_ctl"))
            .args(["-D", PG_DIR, "-l", &log, "-w", "-t", "60", "start"]))?;
        wait_for("the PostgreSQL scratch server", || {
            Command::new(format!("{PG_BIN}/pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &PG_PORT.to_string()])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;
        Ok(scratch)
    }

    fn mariadb() -> Result<Scratch, BoxError> {
        let dir = Path::new(MARIADB_DIR);
        stop_mariadb();
        let _ = std::fs::remove_dir_all(dir);
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        run(Command::new("chown").args(["-R", "mysql:mysql", MARIADB_DIR]))?;
        let scratch = Scratch {
            engine: Engine::MySql,
            url: format!("mysql://root@127.0.0.1:{MARIADB_PORT}/mysql"),
            data_dir: data.clone(),
        };
        let datadir = format!("--datadir={}", data.display());
        run(Command::new("mariadb-install-db").args([
            "--no-defaults",
            "--user=mysql",
            &datadir,
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]))?;
        let pid = format!("{MARIADB_DIR}/mariadb.pid");
        run(Command::new("start-stop-daemon").args([
            "--start",
            "--background",
            "--chuid",
            "mysql",
            "--pidfile",
            &pid,
            "--exec",
            "/usr/sbin/mariadbd",
            "--",
            "--no-defaults",
            &datadir,
            &format!("--port={MARIADB_PORT}"),
            "--bind-address=127.0.0.1",
            &format!("--socket={MARIADB_DIR}/mariadb.sock"),
            &format!("--pid-file={pid}"),
            &format!("--log-error={MARIADB_DIR}/mariadb.err"),
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
        ]))?;
        wait_for("the MariaDB scratch server", mariadb_up)?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self.engine {
            Engine::Postgres => stop_postgres(Path::new(PG_DIR)),
            _ => stop_mariadb(),
        }
        let dir = match self.engine {
            Engine::Postgres => PG_DIR,
            _ => MARIADB_DIR,
        };
        let _ = std::fs::remove_dir_all(dir);
        println!("  stopped the scratch server and deleted {dir}");
    }
}

fn stop_postgres(dir: &Path) {
    if dir.join("postmaster.pid").exists() {
        let _ = run(as_user("postgres", &format!("{PG_BIN}/pg_ctl"))
            .args(["-D", PG_DIR, "-m", "fast", "-w", "-t", "60", "stop"]));
    }
}

fn mariadb_up() -> bool {
    Command::new("mariadb-admin")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &MARIADB_PORT.to_string(),
            "-u",
            "root",
            "ping",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn stop_mariadb() {
    if mariadb_up() {
        let _ = run(Command::new("mariadb-admin").args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &MARIADB_PORT.to_string(),
            "-u",
            "root",
            "shutdown",
        ]));
    }
    let pid = Path::new(MARIADB_DIR).join("mariadb.pid");
    let started = Instant::now();
    while pid.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every regular file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => out.push(entry.path()),
                _ => {}
            }
        }
    }
    out
}

/// Evicts every file of `dir` from the OS page cache: written back first (`sync FILE`), then
/// `dd iflag=nocache count=0` (`POSIX_FADV_DONTNEED` over the whole file).
pub(crate) fn drop_os_cache(dir: &Path) -> Result<(), BoxError> {
    let files = files(dir);
    if files.is_empty() {
        return Ok(());
    }
    run(Command::new("sync").args(&files))?;
    for file in &files {
        run(Command::new("dd")
            .arg(format!("if={}", file.display()))
            .args(["iflag=nocache", "count=0", "status=none"]))?;
    }
    Ok(())
}

/// Bytes of `dir`'s files in the OS page cache, and their total size (`fincore`).
pub(crate) fn os_cached_bytes(dir: &Path) -> Option<(u64, u64)> {
    let files = files(dir);
    if files.is_empty() {
        return None;
    }
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES,SIZE"])
        .args(&files)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut cached, mut size) = (0, 0);
    for line in text.lines() {
        let mut cols = line.split_whitespace();
        cached += cols.next()?.parse::<u64>().ok()?;
        size += cols.next()?.parse::<u64>().ok()?;
    }
    Some((cached, size))
}
