//! The real `credit-sync-server` binary as a child process, so tests attack what
//! ships: start it on `127.0.0.1:0` with a throwaway database (the suite's backend,
//! [`crate::database`]), read the address it bound from its listening line, stop it,
//! `kill -9` it, and restart it on the same database.

use crate::database::Database;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// The line the server prints on stdout once it is bound (docs/server.md).
const LISTENING: &str = "credit-sync-server listening on ";
/// How long a start may take before the test fails (a debug build on a busy 2-core box).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The server binary: `$CREDIT_SYNC_SERVER_BIN`, else `credit-sync-server` of the
/// cargo profile this test was built with, next to the test's own executable
/// (`target/debug/` for `cargo test`, `target/release/` for `cargo test --release`).
///
/// A crate that only dev-depends on the harness does not make cargo build the server
/// (`CARGO_BIN_EXE_*` exists only inside `credit-sync-server` itself), so on a fresh
/// clone that binary does not exist yet, or it is older than the sources after an
/// edit. Then this runs `cargo build -p credit-sync-server` for that profile, once per
/// process and under a file lock, so the parallel test processes of nextest build it
/// once between them.
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("CREDIT_SYNC_SERVER_BIN") {
        Some(p) if !p.is_empty() => {
            let path = PathBuf::from(p);
            assert!(
                path.is_file(),
                "$CREDIT_SYNC_SERVER_BIN points at {}, which does not exist",
                path.display()
            );
            path
        }
        _ => build_server_for_this_profile(),
    })
    .clone()
}

/// The workspace root (this crate is `tests/testkit`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where cargo put the running test executable: `<target>[/<triple>]/<profile>/deps/`.
struct ProfileDir {
    /// `<target>[/<triple>]/<profile>`: the server binary goes here.
    dir: PathBuf,
    /// `--target-dir`.
    target_dir: PathBuf,
    /// `--target`, when the tests were built with one.
    triple: Option<String>,
    /// `--profile` (`dev` for the `debug` directory).
    profile: String,
}

impl ProfileDir {
    fn of_this_test() -> ProfileDir {
        let exe = std::env::current_exe().expect("the test executable's path");
        let mut dir = exe
            .parent()
            .expect("the test executable's directory")
            .to_path_buf();
        // Integration tests and unit tests live in `deps/`; examples in `examples/`.
        if matches!(
            dir.file_name().and_then(|n| n.to_str()),
            Some("deps" | "examples")
        ) {
            dir.pop();
        }
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
        let profile = if name == "debug" { "dev" } else { name }.to_string();
        let parent = dir
            .parent()
            .expect("the profile directory's parent")
            .to_path_buf();
        // Cargo tags the root of every target directory; `<target>/<triple>/` has no tag.
        let (target_dir, triple) = if parent.join("CACHEDIR.TAG").is_file() {
            (parent, None)
        } else {
            let triple = parent.file_name().map(|n| n.to_string_lossy().into_owned());
            (parent.parent().unwrap_or(&parent).to_path_buf(), triple)
        };
        ProfileDir {
            dir,
            target_dir,
            triple,
            profile,
        }
    }
}

fn build_server_for_this_profile() -> PathBuf {
    let profile = ProfileDir::of_this_test();
    let bin = profile.dir.join("credit-sync-server");
    let root = workspace_root();
    if is_newer_than_sources(&bin, &root) {
        return bin;
    }
    let lock_path = profile.dir.join(".credit-sync-server-for-tests.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("open {}: {e}", lock_path.display()));
    // SAFETY: flock(2) on a descriptor that `lock` owns; the lock goes with the file.
    let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    assert_eq!(
        rc,
        0,
        "flock {}: {}",
        lock_path.display(),
        std::io::Error::last_os_error()
    );
    // Another test process may have built it while this one waited.
    if is_newer_than_sources(&bin, &root) {
        return bin;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "-p",
            "credit-sync-server",
            "--bin",
            "credit-sync-server",
        ])
        .arg("--profile")
        .arg(&profile.profile)
        .arg("--target-dir")
        .arg(&profile.target_dir);
    if let Some(triple) = &profile.triple {
        cmd.arg("--target").arg(triple);
    }
    eprintln!(
        "credit-sync-testkit: {} is missing or older than the sources; building it: {cmd:?}",
        bin.display()
    );
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed ({status})");
    assert!(
        bin.is_file(),
        "{cmd:?} succeeded but {} does not exist",
        bin.display()
    );
    // Cargo leaves an up-to-date binary alone even when a file it does not build from
    // (a README under server/) is newer: mark it checked, or every test would run cargo.
    if let Ok(file) = OpenOptions::new().write(true).open(&bin) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
    drop(lock);
    bin
}

/// Is `bin` there and newer than every file the server is built from (its crate,
/// the core it links, the workspace manifest and lock file)?
fn is_newer_than_sources(bin: &Path, root: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    let sources = [
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
        root.join("server"),
        root.join("core/Cargo.toml"),
        root.join("core/src"),
    ];
    sources
        .iter()
        .all(|p| newest_mtime(p).is_none_or(|t| t <= built))
}

/// The newest modification time of a file, or of any file under a directory.
fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        // `server/tests` are tests of the server, not what its binary is built from.
        .filter(|e| e.file_name() != "tests")
        .filter_map(|e| newest_mtime(&e.path()))
        .max()
}

/// One `[[sources]]` entry of the server's TOML config.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub api_key: String,
    pub secret: String,
    pub permissions: Vec<String>,
    pub auto_register: bool,
    /// Requests per second per API key; 0 = off.
    pub rate_limit_per_sec: u32,
}

impl Source {
    /// A source with the server's defaults: `read` + `write`, auto-register, no rate limit.
    pub fn new(name: &str, api_key: &str, secret: &str) -> Source {
        Source {
            name: name.into(),
            api_key: api_key.into(),
            secret: secret.into(),
            permissions: vec!["read".into(), "write".into()],
            auto_register: true,
            rate_limit_per_sec: 0,
        }
    }

    /// Adds the `admin` permission.
    pub fn admin(mut self) -> Source {
        self.permissions.push("admin".into());
        self
    }

    pub fn permissions(mut self, permissions: &[&str]) -> Source {
        self.permissions = permissions.iter().map(|p| p.to_string()).collect();
        self
    }

    pub fn auto_register(mut self, on: bool) -> Source {
        self.auto_register = on;
        self
    }

    pub fn rate_limit_per_sec(mut self, limit: u32) -> Source {
        self.rate_limit_per_sec = limit;
        self
    }
}

/// What the server is started with. The sources come from the caller; the database
/// defaults to the suite's backend ([`Database::for_suite`]): a SQLite file in the
/// server's temp dir, or a fresh PostgreSQL database with
/// `CREDIT_SYNC_TEST_BACKEND=postgres`.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    pub sources: Vec<Source>,
    pub timestamp_tolerance_secs: Option<i64>,
    pub max_amount: Option<i64>,
    /// A database URL someone else owns (another server's, to run two processes on one
    /// database); `None` = a database of the server's own.
    pub database: Option<String>,
    /// Run on SQLite whatever the suite's backend (to compare the backends).
    pub on_sqlite: bool,
    /// Extra top-level TOML lines, written before the sources.
    pub extra_toml: String,
    /// Extra environment variables for the process (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
    /// The server binary; `None` = [`server_bin`].
    pub binary: Option<PathBuf>,
}

impl ServerConfig {
    pub fn new(sources: Vec<Source>) -> ServerConfig {
        ServerConfig {
            sources,
            ..Default::default()
        }
    }

    pub fn timestamp_tolerance_secs(mut self, secs: i64) -> ServerConfig {
        self.timestamp_tolerance_secs = Some(secs);
        self
    }

    pub fn max_amount(mut self, max: i64) -> ServerConfig {
        self.max_amount = Some(max);
        self
    }

    pub fn database(mut self, url: impl Into<String>) -> ServerConfig {
        self.database = Some(url.into());
        self
    }

    /// Runs this binary instead of [`server_bin`] (the bench drives a release build).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> ServerConfig {
        self.binary = Some(path.into());
        self
    }

    pub fn on_sqlite(mut self) -> ServerConfig {
        self.on_sqlite = true;
        self
    }

    pub fn extra_toml(mut self, toml: &str) -> ServerConfig {
        self.extra_toml.push_str(toml);
        self.extra_toml.push('\n');
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> ServerConfig {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The TOML text of this config, listening on `127.0.0.1:0`.
    pub fn to_toml(&self, database: &str) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "listen = \"127.0.0.1:0\"");
        let _ = writeln!(t, "database = {}", toml_str(database));
        if let Some(secs) = self.timestamp_tolerance_secs {
            let _ = writeln!(t, "timestamp_tolerance_secs = {secs}");
        }
        if let Some(max) = self.max_amount {
            let _ = writeln!(t, "max_amount = {max}");
        }
        t.push_str(&self.extra_toml);
        for s in &self.sources {
            let perms: Vec<String> = s.permissions.iter().map(|p| toml_str(p)).collect();
            let _ = write!(
                t,
                "\n[[sources]]\nname = {}\napi_key = {}\nsecret = {}\npermissions = [{}]\n\
                 auto_register = {}\nrate_limit_per_sec = {}\n",
                toml_str(&s.name),
                toml_str(&s.api_key),
                toml_str(&s.secret),
                perms.join(", "),
                s.auto_register,
                s.rate_limit_per_sec
            );
        }
        t
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A running (or stopped) server with its own temp dir, config file and database.
/// Dropping it kills the process.
pub struct Server {
    config: ServerConfig,
    dir: tempfile::TempDir,
    config_path: PathBuf,
    database: String,
    /// The database this server made for itself, dropped after the process is gone.
    _owned: Option<Database>,
    child: Option<Child>,
    addr: SocketAddr,
    starts: u32,
    /// Started as `demo` (the guide's credentials) instead of `serve --config`.
    demo: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds secrets; tests print servers in assertion messages.
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("dir", &self.dir.path())
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Writes the config into a fresh temp dir and starts the server; returns once it
    /// printed its listening line.
    pub fn start(config: ServerConfig) -> Server {
        Server::start_edited(config, |toml| toml)
    }

    /// Like [`Server::start`], with the config file's text passed through `edit` first
    /// (for settings and credential forms [`ServerConfig`] does not model).
    pub fn start_edited(config: ServerConfig, edit: impl FnOnce(String) -> String) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("credit-sync-test-")
            .tempdir()
            .expect("create a temp dir for the server");
        let owned = match (&config.database, config.on_sqlite) {
            (Some(_), _) => None,
            (None, true) => Some(Database::sqlite(dir.path())),
            (None, false) => Some(Database::for_suite(dir.path())),
        };
        let database = match (&config.database, &owned) {
            (Some(url), _) => url.clone(),
            (None, Some(db)) => db.url().to_string(),
            (None, None) => unreachable!("a database of its own when none is given"),
        };
        let config_path = dir.path().join("credit-sync.toml");
        std::fs::write(&config_path, edit(config.to_toml(&database)))
            .expect("write the server config");
        let mut server = Server {
            config,
            dir,
            config_path,
            database,
            _owned: owned,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            starts: 0,
            demo: false,
        };
        server.spawn();
        server
    }

    /// `credit-sync-server demo` on a free port with its database in a fresh temp dir:
    /// the guide's credentials (`media_bot` / `media-bot-api-key-2024` /
    /// `your-secret-key-here`, admin; `test` / `your-api-key` / `your-secret-key`).
    pub fn start_demo() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("credit-sync-demo-test-")
            .tempdir()
            .expect("create a temp dir for the server");
        let database = format!("sqlite://{}", dir.path().join("demo.db").display());
        let mut server = Server {
            config: ServerConfig::default(),
            config_path: PathBuf::new(),
            dir,
            database,
            _owned: None,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            starts: 0,
            demo: true,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .expect("open the server's stderr log");
        let mut cmd = Command::new(self.binary());
        if self.demo {
            cmd.args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--database",
                &self.database,
            ]);
        } else {
            cmd.arg("serve").arg("--config").arg(&self.config_path);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        clear_credit_sync_env(&mut cmd);
        for (k, v) in &self.config.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn credit-sync-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdout_log = self.dir.path().join("stdout.log");
        let (tx, rx) = mpsc::channel::<String>();
        // Keep draining stdout for the process's whole life so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(stdout_log)
                .ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(log) = log.as_mut() {
                    let _ = writeln!(log, "{line}");
                }
                if line.starts_with(LISTENING) {
                    let _ = tx.send(line);
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let line = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    panic!(
                        "credit-sync-server exited ({status:?}) before printing its listening line; stderr:\n{}",
                        self.stderr_log()
                    );
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "credit-sync-server exited ({status}) before printing its listening line; stderr:\n{}",
                    self.stderr_log()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "credit-sync-server printed no listening line within {START_TIMEOUT:?}; stderr:\n{}",
                    self.stderr_log()
                );
            }
        };
        let url = line[LISTENING.len()..].trim();
        let hostport = url.strip_prefix("http://").unwrap_or(url);
        self.addr = hostport
            .parse()
            .unwrap_or_else(|e| panic!("bad listening line {line:?}: {e}"));
        self.child = Some(child);
        self.starts += 1;
    }

    fn binary(&self) -> PathBuf {
        self.config.binary.clone().unwrap_or_else(server_bin)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process was started (1 after `start`).
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Is the process alive? (Reaps it when it has exited.)
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(child) => match child.try_wait() {
                Ok(None) => true,
                _ => {
                    self.child = None;
                    false
                }
            },
        }
    }

    /// The exit status once the process has exited by itself (or by a signal the test
    /// sent), `None` while it runs.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Graceful stop: SIGTERM, then SIGKILL if it has not exited within 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of a child we have not reaped yet.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// `kill -9`: no shutdown hook runs, whatever was in flight is cut. On PostgreSQL it
    /// returns once the database has finished with the dead process: its sessions have
    /// ended, so a transaction whose COMMIT it had sent has committed (or rolled back), and
    /// nothing of it lands while the test reads.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            let _ = child.kill(); // SIGKILL on unix
            let _ = child.wait();
            if self.is_postgres() {
                crate::database::wait_for_sessions_to_end(&self.database, pid, STOP_TIMEOUT);
            }
        }
    }

    /// Starts the process again on the same config and database (a new port).
    /// Kills a still-running process first.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Everything the server wrote to stderr, over every start.
    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// Everything the server wrote to stdout, over every start.
    pub fn stdout_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn database_url(&self) -> &str {
        &self.database
    }

    pub fn is_postgres(&self) -> bool {
        self.database.starts_with("postgres")
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Runs another subcommand of the server binary (e.g. `verify`) and returns its output.
    /// `{config}` and `{database}` in `args` are replaced by this server's paths.
    pub fn run_cli(&self, args: &[&str]) -> Output {
        self.cli_command(args)
            .output()
            .expect("run credit-sync-server")
    }

    /// [`Server::run_cli`] for a subcommand that may not end by itself (a second `serve`):
    /// its output once it exits, or `None` when it still runs after `within` (it is then
    /// killed).
    pub fn run_cli_within(&self, args: &[&str], within: Duration) -> Option<Output> {
        let mut child = self
            .cli_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run credit-sync-server");
        let deadline = Instant::now() + within;
        while child.try_wait().expect("poll credit-sync-server").is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(
            child
                .wait_with_output()
                .expect("collect credit-sync-server's output"),
        )
    }

    fn cli_command(&self, args: &[&str]) -> Command {
        let config = self.config_path.display().to_string();
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("{config}", &config)
                    .replace("{database}", &self.database)
            })
            .collect();
        let mut cmd = Command::new(self.binary());
        cmd.args(&args).stdin(Stdio::null());
        clear_credit_sync_env(&mut cmd);
        cmd
    }
}

/// The server lets `CREDIT_SYNC_*` variables override its config file; a developer's
/// shell must not change what a test runs against.
fn clear_credit_sync_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CREDIT_SYNC_") {
            cmd.env_remove(key);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_is_escaped_and_complete() {
        let cfg = ServerConfig::new(vec![Source::new("a\"b", "k\\1", "s\u{7}")
            .admin()
            .rate_limit_per_sec(5)])
        .max_amount(9)
        .timestamp_tolerance_secs(2);
        let t = cfg.to_toml("sqlite:///tmp/x.db");
        assert!(t.contains("listen = \"127.0.0.1:0\""));
        assert!(t.contains("database = \"sqlite:///tmp/x.db\""));
        assert!(t.contains("max_amount = 9"));
        assert!(t.contains("timestamp_tolerance_secs = 2"));
        assert!(t.contains("name = \"a\\\"b\""));
        assert!(t.contains("api_key = \"k\\\\1\""));
        assert!(t.contains("secret = \"s\\u0007\""));
        assert!(t.contains("permissions = [\"read\", \"write\", \"admin\"]"));
        assert!(t.contains("rate_limit_per_sec = 5"));
    }
}
