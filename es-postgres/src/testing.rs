//! A PostgreSQL to test against, with no set-up: a throwaway server started from the
//! binaries on the machine, or the server of `DATABASE_URL`; and fresh stores on it.
//!
//! Enabled by the `testing` feature, on Unix only: the harness runs Unix commands
//! (`initdb` and `pg_ctl`, as the `postgres` user when the tests run as root, and a `sh`
//! watchdog), so on other platforms this module is absent. A test binary shares one server
//! (started on first use, stopped and deleted when the process ends) and gives each store a
//! schema of its own:
//!
//! ```no_run
//! use es_postgres::testing;
//!
//! # async fn test() {
//! // `None` (after one line on stderr saying why and how to enable them) when there is no
//! // PostgreSQL to run on: the test returns without failing.
//! let Some(database) = testing::database_or_skip(1) else { return };
//! let pool = database.pool().await.expect("a pool");
//! let store = testing::fresh_store(&pool).await.expect("a migrated store");
//! # let _ = store;
//! # }
//! ```
//!
//! Where the server comes from, in order:
//!
//! 1. `DATABASE_URL`, if set: an existing server. Each store gets a uniquely named schema
//!    (`es_test_...`); [`drop_schema`] removes one.
//! 2. Otherwise `initdb` and `pg_ctl`, found on `PATH` or in `/usr/lib/postgresql/*/bin`
//!    (the newest): a new cluster in a temporary directory, with trust authentication,
//!    listening on a free loopback port only, tuned for tests ([`TEST_SETTINGS`]: no
//!    `fsync`; [`TestServer::start_with_settings`] starts one with other settings, such as
//!    PostgreSQL's durable defaults for benchmarks). PostgreSQL
//!    refuses to run as root, so when the tests run as root the cluster is created and run
//!    as the unprivileged `postgres` system user. The server is stopped and its directory
//!    removed when the [`TestServer`] is dropped; the shared one lives in a static, which is
//!    never dropped, so a small watchdog shell process does it when the test process exits
//!    (even when it panics or is killed).
//! 3. Neither: [`database_or_skip`] prints one line saying the tests were skipped and how to
//!    enable them, and returns `None`.
//!
//! Tests that stop or restart the server ([`TestServer::restart`]) take a server of their
//! own from [`server_or_skip`], which needs the binaries even when `DATABASE_URL` is set, and
//! skips with the same one line when there are none.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use es_core::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::{PgStore, PgStoreOptions, SchemaName};

/// A harness failure: binaries that exist but would not start a server, a user that cannot
/// be switched to, and the like. Tests should fail on it, not skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessError(String);

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "es-postgres test harness: {}", self.0)
    }
}

impl std::error::Error for HarnessError {}

fn fail<T>(message: impl Into<String>) -> Result<T, HarnessError> {
    Err(HarnessError(message.into()))
}

/// The settings a [`TestServer`] runs with unless started with
/// [`TestServer::start_with_settings`]: durability traded for speed, as tests can afford
/// (a crash of the server loses a throwaway cluster, nothing else).
pub const TEST_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
];

/// A PostgreSQL server of its own: a fresh cluster in a temporary directory on a loopback
/// port. Dropping it stops the server and removes the directory.
#[derive(Debug)]
pub struct TestServer {
    bin: PathBuf,
    base: PathBuf,
    data: PathBuf,
    port: u16,
    url: String,
    run_as: Option<(u32, u32)>,
    settings: Vec<(String, String)>,
    watchdog: Option<Child>,
}

impl TestServer {
    /// Creates and starts a new cluster with the binaries found by [`find_binaries`].
    ///
    /// # Errors
    /// [`HarnessError`] when no binaries are found, or they fail to create or start the
    /// cluster (the message holds their output and the server log).
    pub fn start() -> Result<Self, HarnessError> {
        let Some(bin) = find_binaries() else {
            return fail("no PostgreSQL binaries (initdb, pg_ctl) found");
        };
        Self::start_with(&bin)
    }

    /// Creates and starts a new cluster with the `initdb` and `pg_ctl` in `bin`, with
    /// [`TEST_SETTINGS`].
    ///
    /// # Errors
    /// [`HarnessError`] when they fail to create or start the cluster.
    pub fn start_with(bin: &Path) -> Result<Self, HarnessError> {
        Self::start_with_settings(bin, TEST_SETTINGS)
    }

    /// Like [`start_with`](Self::start_with), with `settings` (`name`, `value`: passed as
    /// `-c name=value`) instead of [`TEST_SETTINGS`]; the loopback address, the port and
    /// `max_connections=200` are always set. `&[]` runs PostgreSQL's defaults, which are
    /// durable (`fsync=on`, `synchronous_commit=on`): what benchmarks should measure.
    ///
    /// # Errors
    /// [`HarnessError`] when a name or value holds anything but ASCII letters, digits, `_`
    /// and `.`, or the binaries fail to create or start the cluster.
    pub fn start_with_settings(
        bin: &Path,
        settings: &[(&str, &str)],
    ) -> Result<Self, HarnessError> {
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        };
        if let Some((name, value)) = settings.iter().find(|(n, v)| !plain(n) || !plain(v)) {
            return fail(format!("refusing the server setting {name:?} = {value:?}"));
        }
        let settings = settings
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let run_as = unprivileged_user()?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let base = std::env::temp_dir().join(format!("es-postgres-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&base)
            .or_else(|error| fail(format!("creating {}: {error}", base.display())))?;
        let mut server = Self {
            bin: bin.to_owned(),
            data: base.join("data"),
            base,
            port: 0,
            url: String::new(),
            run_as,
            settings,
            watchdog: None,
        };
        // From here on, dropping `server` cleans up whatever was made.
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&server.base, Some(uid), Some(gid))
                .or_else(|error| fail(format!("chown {}: {error}", server.base.display())))?;
        }
        server.watchdog = Some(server.spawn_watchdog()?);
        server.initdb()?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            match server.pg_ctl_start(port) {
                Ok(()) => {
                    server.port = port;
                    server.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
                    return Ok(server);
                }
                // Most likely another process took the port in between: try another.
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| HarnessError("the server did not start".into())))
    }

    /// The URL to connect to, as the `postgres` superuser with no password.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback port the server listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The settings the server was started with (besides address, port and connections).
    #[must_use]
    pub fn settings(&self) -> &[(String, String)] {
        &self.settings
    }

    /// `program` from the binaries' directory, run as the unprivileged user if needed, in
    /// the server's directory, with a plain locale.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command
            .current_dir(&self.base)
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn initdb(&self) -> Result<(), HarnessError> {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output();
        check("initdb", output)
    }

    /// The server's command-line options when listening on `port`.
    fn server_options(&self, port: u16) -> String {
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k '{}' -c max_connections=200",
            self.base.display()
        );
        for (name, value) in &self.settings {
            let _ = write!(options, " -c {name}={value}");
        }
        options
    }

    fn pg_ctl_start(&self, port: u16) -> Result<(), HarnessError> {
        self.pg_ctl("start", &["-o", &self.server_options(port)])
    }

    /// Runs `pg_ctl {action}` on the cluster, waiting for it to finish (up to 60 s), with
    /// the server log attached to the error.
    fn pg_ctl(&self, action: &str, args: &[&str]) -> Result<(), HarnessError> {
        let log = self.base.join("server.log");
        let output = self
            .command("pg_ctl")
            .arg(action)
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-s"])
            .args(args)
            .output();
        check(&format!("pg_ctl {action}"), output).map_err(|HarnessError(message)| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            HarnessError(format!("{message}\nserver log:\n{log}"))
        })
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every session is terminated, open
    /// transactions roll back, committed data stays. It comes back on the same port and data
    /// directory, and this returns once it accepts connections again. For fault tests;
    /// this blocks the calling thread (about a second), so call it from
    /// `tokio::task::spawn_blocking` or `block_in_place` in async tests.
    ///
    /// # Errors
    /// [`HarnessError`] when `pg_ctl` fails to stop or start the server.
    pub fn restart(&self) -> Result<(), HarnessError> {
        self.pg_ctl(
            "restart",
            &["-m", "fast", "-o", &self.server_options(self.port)],
        )
    }

    /// A shell that waits for this process to end, then stops the server and removes its
    /// directory: the clean-up of a server that is never dropped (a static).
    fn spawn_watchdog(&self) -> Result<Child, HarnessError> {
        const SCRIPT: &str = r#"
            while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
            pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)
            if [ -n "$pid" ]; then
                kill -QUIT "$pid" 2>/dev/null
                i=0
                # The postmaster removes its pid file as it exits (`kill -0` would also see a
                # zombie); give it up to 10 s.
                while [ -e "$2/postmaster.pid" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            fi
            rm -rf "$3"
        "#;
        Command::new("sh")
            .args(["-c", SCRIPT, "es-postgres-watchdog"])
            .arg(std::process::id().to_string())
            .arg(&self.data)
            .arg(&self.base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .or_else(|error| fail(format!("starting the clean-up watchdog (sh): {error}")))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let _stopped = self
                .command("pg_ctl")
                .arg("stop")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "-s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _removed = std::fs::remove_dir_all(&self.base);
        if let Some(mut watchdog) = self.watchdog.take() {
            let _killed = watchdog.kill();
            let _reaped = watchdog.wait();
        }
    }
}

fn check(what: &str, output: std::io::Result<Output>) -> Result<(), HarnessError> {
    match output {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => fail(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
        Err(error) => fail(format!("running {what}: {error}")),
    }
}

/// A free loopback port, as the system hands one out (it may be taken again before the
/// server binds it; [`TestServer::start`] then tries another).
fn free_port() -> Result<u16, HarnessError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .or_else(|error| fail(format!("finding a free port: {error}")))
}

/// The uid and gid to run PostgreSQL as: `None` when this process is not root, otherwise
/// the `postgres` system user's (PostgreSQL refuses to run as root).
fn unprivileged_user() -> Result<Option<(u32, u32)>, HarnessError> {
    let uid = match std::fs::metadata("/proc/self") {
        Ok(meta) => meta.uid(),
        Err(_) => {
            let output = Command::new("id").arg("-u").output();
            match output {
                Ok(output) => String::from_utf8_lossy(&output.stdout)
                    .trim()
                    .parse()
                    .unwrap_or(u32::MAX),
                Err(error) => return fail(format!("finding the current user (id -u): {error}")),
            }
        }
    };
    if uid != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .or_else(|error| fail(format!("reading /etc/passwd: {error}")))?;
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if let [name, _, uid, gid, ..] = fields[..]
            && name == "postgres"
            && let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse())
        {
            return Ok(Some((uid, gid)));
        }
    }
    fail(
        "running as root, and there is no `postgres` user to run PostgreSQL as (PostgreSQL refuses root)",
    )
}

/// The directory holding `initdb` and `pg_ctl`: the first on `PATH` that has both, else the
/// newest `/usr/lib/postgresql/*/bin`.
#[must_use]
pub fn find_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_both(dir))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The server the tests of this process run against: `DATABASE_URL`'s, or a throwaway
/// [`TestServer`].
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    server: Option<TestServer>,
}

impl TestDatabase {
    /// The URL to connect to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The throwaway server, or `None` when `DATABASE_URL` named the server.
    #[must_use]
    pub fn server(&self) -> Option<&TestServer> {
        self.server.as_ref()
    }

    /// A new pool of up to 16 connections, for the current tokio runtime (a pool's
    /// connections belong to the runtime that opened them: make one per test).
    ///
    /// # Errors
    /// The driver's error when the server cannot be reached.
    pub async fn pool(&self) -> Result<PgPool, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(16)
            .connect(&self.url)
            .await
    }
}

/// The shared server of this process, started on first use; `Ok(None)` when there is no
/// `DATABASE_URL` and no PostgreSQL binaries.
///
/// # Errors
/// [`HarnessError`] when binaries were found but the server did not start (every call
/// returns the same error).
pub fn database() -> Result<Option<&'static TestDatabase>, HarnessError> {
    static SHARED: OnceLock<Result<Option<TestDatabase>, HarnessError>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        if let Some(url) = std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        {
            return Ok(Some(TestDatabase { url, server: None }));
        }
        let Some(bin) = find_binaries() else {
            return Ok(None);
        };
        let server = TestServer::start_with(&bin)?;
        Ok(Some(TestDatabase {
            url: server.url().to_owned(),
            server: Some(server),
        }))
    });
    shared.as_ref().map(Option::as_ref).map_err(Clone::clone)
}

/// [`database`], for a test: `None` when there is nothing to run on, after printing (once
/// per process, straight to stderr so that the test runner shows it) the line
/// `es-postgres: skipped {tests} tests: no PostgreSQL binaries ...`, `tests` being how many
/// tests of this binary skip.
///
/// # Panics
/// When the server did not start ([`HarnessError`]): a broken set-up fails the tests.
#[must_use]
pub fn database_or_skip(tests: usize) -> Option<&'static TestDatabase> {
    match database() {
        Ok(Some(database)) => Some(database),
        Ok(None) => {
            skip_notice(tests, "install PostgreSQL or set DATABASE_URL");
            None
        }
        Err(error) => panic!("{error}"),
    }
}

/// A [`TestServer`] of the test's own, for tests that stop or restart the server (which
/// would break other tests on the shared one): `None` when there are no PostgreSQL binaries,
/// after printing the same one line as [`database_or_skip`] (`DATABASE_URL` does not help
/// these tests: they must control the server). Starting one takes about a second.
///
/// # Panics
/// When binaries were found but the server did not start ([`HarnessError`]).
#[must_use]
pub fn server_or_skip(tests: usize) -> Option<TestServer> {
    let Some(bin) = find_binaries() else {
        let url_set = std::env::var_os("DATABASE_URL").is_some_and(|url| !url.is_empty());
        skip_notice(
            tests,
            if url_set {
                "install PostgreSQL (these tests restart a server of their own: DATABASE_URL is not enough)"
            } else {
                "install PostgreSQL or set DATABASE_URL"
            },
        );
        return None;
    };
    match TestServer::start_with(&bin) {
        Ok(server) => Some(server),
        Err(error) => panic!("{error}"),
    }
}

/// Prints, once per process and straight to stderr (so that the test runner shows it),
/// `es-postgres: skipped {tests} tests: no PostgreSQL binaries (initdb/pg_ctl) found; {hint}`.
fn skip_notice(tests: usize, hint: &str) {
    static NOTICE: OnceLock<()> = OnceLock::new();
    NOTICE.get_or_init(|| {
        let tests = if tests == 1 {
            "1 test".to_owned()
        } else {
            format!("{tests} tests")
        };
        let _ = writeln!(
            std::io::stderr(),
            "es-postgres: skipped {tests}: no PostgreSQL binaries (initdb/pg_ctl) found; {hint}"
        );
    });
}

/// A schema name no other store of any test process uses: `es_test_{pid}_{time}_{n}`.
#[must_use]
pub fn unique_schema() -> SchemaName {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() % 1_000_000);
    let name = format!("es_test_{}_{secs}_{n}", std::process::id());
    // Digits and underscores after a letter: always a valid name.
    SchemaName::new(name).unwrap_or_default()
}

/// A store on `pool` in a new, migrated schema of its own ([`unique_schema`]).
///
/// # Errors
/// [`StoreError::Backend`] when the schema cannot be created.
pub async fn fresh_store(pool: &PgPool) -> Result<PgStore, StoreError> {
    fresh_store_with(pool, PgStoreOptions::new()).await
}

/// [`fresh_store`] with `options`; their schema is replaced by a unique one.
///
/// # Errors
/// [`StoreError::Backend`] when the schema cannot be created.
pub async fn fresh_store_with(
    pool: &PgPool,
    options: PgStoreOptions,
) -> Result<PgStore, StoreError> {
    let store = PgStore::from_pool_with(pool.clone(), options.with_schema(unique_schema()));
    // A leftover of a process that had the same id long ago would not be fresh.
    drop_schema(&store).await?;
    store.migrate().await?;
    Ok(store)
}

/// Drops `store`'s schema with everything in it: clean-up for tests on a `DATABASE_URL`
/// server (a throwaway server is deleted whole).
///
/// # Errors
/// [`StoreError::Backend`] when the database refuses.
pub async fn drop_schema(store: &PgStore) -> Result<(), StoreError> {
    sqlx::raw_sql(&store.inner.sql.drop_schema)
        .execute(store.pool())
        .await
        .map_err(crate::values::backend)?;
    Ok(())
}
