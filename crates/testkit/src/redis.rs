//! Real `redis-server` processes on loopback, one per test, each with its own port and temporary
//! directory, killed when dropped.
//!
//! The binary is `$REDIS_SERVER_BIN` when set, otherwise `redis-server` from `PATH`. Servers never
//! use port 6379 and never rely on a server someone else started.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use redis_gate_testkit::redis::RedisServer;
//!
//! let mut server = RedisServer::builder().password("s3cret").start();
//! assert_eq!(server.command(&["PING"]), Ok("PONG".to_owned()));
//!
//! server.freeze(); // SIGSTOP: connections are accepted but nothing answers
//! server.thaw();
//! server.kill();
//! server.restart(); // same port, same directory
//!
//! let late = RedisServer::builder().start_after(Duration::from_millis(200));
//! let url = late.url(); // known before the server runs
//! let server = late.join();
//! assert_eq!(server.url(), url);
//! ```

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use deadpool_redis::redis::{self, ConnectionLike, RedisError, Value};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::poll::{self, DEADLINE};

/// How long `stop` waits for the process to exit after `SHUTDOWN NOSAVE` before killing it.
const STOP_DEADLINE: Duration = Duration::from_secs(5);
/// Connect timeout of [`RedisServer::command`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Response timeout of [`RedisServer::command`].
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many fresh ports `start` tries when another process grabs the chosen one first.
const START_ATTEMPTS: usize = 3;
/// The default Redis port, never used so tests cannot touch a developer's server.
const DEFAULT_REDIS_PORT: u16 = 6379;
const LOG_FILE: &str = "redis.log";
const CONFIG_FILE: &str = "redis.conf";

/// A free TCP port on `127.0.0.1`, found by binding port 0 and releasing it. Never 6379.
pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        if port != DEFAULT_REDIS_PORT {
            return port;
        }
    }
}

/// Configures a [`RedisServer`] before it starts: password, port and extra configuration.
#[derive(Debug, Clone, Default)]
pub struct RedisServerBuilder {
    password: Option<String>,
    args: Vec<(String, String)>,
    port: Option<u16>,
    config: Option<String>,
    sentinel: bool,
    tls: bool,
    tls_port: Option<u16>,
    dump: Option<u32>,
}

impl RedisServerBuilder {
    /// Requires clients to authenticate with `pw` (`--requirepass`). [`RedisServer::url`] then
    /// carries the password.
    pub fn password(mut self, pw: &str) -> Self {
        crate::secrets::register(pw);
        self.password = Some(pw.to_owned());
        self
    }

    /// Adds `--name value` to the command line, after the defaults, so it can override them
    /// (`arg("appendonly", "yes")`). Repeatable.
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.args.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Listens on `port` instead of a free port picked by [`free_port`].
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Writes `contents` to `redis.conf` in the server's directory and passes it as the config
    /// file (Sentinel needs a file it can rewrite).
    pub fn config_file(mut self, contents: &str) -> Self {
        self.config = Some(contents.to_owned());
        self
    }

    /// Runs as a Sentinel (`--sentinel`); give it a [`config_file`](Self::config_file) with the
    /// `sentinel monitor` line.
    pub fn sentinel(mut self) -> Self {
        self.sentinel = true;
        self
    }

    /// Serves TLS only, on the server's port, with these PEM files (clients need not present a
    /// certificate). [`RedisServer::url`] becomes `rediss://`; readiness waits for accepted
    /// connections, and [`RedisServer::command`] does not work.
    pub fn tls(mut self, cert: &Path, key: &Path, ca: &Path) -> Self {
        self.tls = true;
        self.tls_files(cert, key, ca)
    }

    /// Serves TLS on a second port ([`RedisServer::tls_port`]) beside the plain one, with these
    /// PEM files (clients need not present a certificate), and replicates and runs the cluster
    /// bus over TLS: for Sentinel and Cluster over TLS, whose set-up commands and checks go
    /// through the plain port while the client under test uses [`RedisServer::tls_url`].
    pub fn tls_beside_plain(mut self, cert: &Path, key: &Path, ca: &Path) -> Self {
        self.tls_port = Some(free_port());
        self.tls_files(cert, key, ca)
            .arg("tls-replication", "yes")
            .arg("tls-cluster", "yes")
    }

    fn tls_files(self, cert: &Path, key: &Path, ca: &Path) -> Self {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        self.arg("tls-cert-file", &path(cert))
            .arg("tls-key-file", &path(key))
            .arg("tls-ca-cert-file", &path(ca))
            .arg("tls-auth-clients", "no")
    }

    /// Gives the server a dump of `keys` keys (`DEBUG POPULATE`, then `SAVE`, once started) that
    /// takes `per_key` each to load: after [`RedisServer::restart_accepting`] it answers
    /// `-LOADING` for about `keys × per_key`, as a server loading a big dataset does.
    pub fn slow_to_load(mut self, keys: u32, per_key: Duration) -> Self {
        self.dump = Some(keys);
        self.arg("enable-debug-command", "yes")
            .arg("key-load-delay", &per_key.as_micros().to_string())
            // Small, so that the loading server answers clients promptly.
            .arg("loading-process-events-interval-bytes", "1024")
    }

    /// Starts the server and waits until it answers `PING` with `PONG`.
    ///
    /// # Panics
    ///
    /// When `redis-server` cannot be found, or is not ready within [`DEADLINE`] (the panic
    /// message holds the server log).
    pub fn start(self) -> RedisServer {
        let fixed_port = self.port.is_some();
        let readiness = Readiness::of(self.tls);
        let dump = self.dump;
        let mut server = self.prepare();
        for attempt in 1..=START_ATTEMPTS {
            match server.spawn_and_wait(readiness) {
                Ok(()) => {
                    if let Some(keys) = dump {
                        let keys = keys.to_string();
                        server
                            .command(&["DEBUG", "POPULATE", &keys])
                            .expect("DEBUG POPULATE");
                        server.command(&["SAVE"]).expect("SAVE");
                    }
                    return server;
                }
                // Another process may take the port between `free_port` and the bind: pick another.
                Err(StartError::Exited(_))
                    if !fixed_port
                        && attempt < START_ATTEMPTS
                        && server.log().contains("Address already in use") =>
                {
                    server.port = free_port();
                }
                Err(err) => server.fail(&err),
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// Picks the port now and starts the process on a background thread after `delay`, for tests
    /// of clients that come up before Redis does.
    ///
    /// # Panics
    ///
    /// When `redis-server` cannot be found (immediately, not on the background thread).
    pub fn start_after(self, delay: Duration) -> LateServer {
        let readiness = Readiness::of(self.tls);
        let mut server = self.prepare();
        let port = server.port;
        let url = server.url();
        let handle = thread::spawn(move || {
            thread::sleep(delay);
            if let Err(err) = server.spawn_and_wait(readiness) {
                server.fail(&err);
            }
            server
        });
        LateServer {
            port,
            url,
            handle: Some(handle),
        }
    }

    fn prepare(self) -> RedisServer {
        let binary = redis_server_binary();
        let dir = tempfile::Builder::new()
            .prefix("redis-gate-testkit-")
            .tempdir()
            .expect("create a temporary directory for redis-server");
        if let Some(contents) = &self.config {
            fs::write(dir.path().join(CONFIG_FILE), contents).expect("write redis.conf");
        }
        RedisServer {
            binary,
            port: self.port.unwrap_or_else(free_port),
            password: self.password,
            args: self.args,
            dir,
            child: Mutex::new(None),
            is_frozen: false,
            has_config: self.config.is_some(),
            sentinel: self.sentinel,
            tls: self.tls,
            tls_port: self.tls_port,
        }
    }
}

/// A `redis-server` process on `127.0.0.1` with its own temporary directory.
///
/// Dropping it kills the process with SIGKILL (also when frozen), waits for it and removes the
/// directory.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    password: Option<String>,
    args: Vec<(String, String)>,
    dir: TempDir,
    // A mutex so that `is_running(&self)` can reap an exited child.
    child: Mutex<Option<Child>>,
    is_frozen: bool,
    has_config: bool,
    sentinel: bool,
    tls: bool,
    tls_port: Option<u16>,
}

impl RedisServer {
    /// A builder for a server with a password, a fixed port or extra configuration.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// Starts a server with the default configuration on a free port; see
    /// [`RedisServerBuilder::start`].
    pub fn start() -> RedisServer {
        Self::builder().start()
    }

    /// The port the server listens on, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, for a [`FaultProxy`](crate::proxy::FaultProxy) in front of it.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }

    /// `redis://127.0.0.1:<port>`, or `redis://:<password>@127.0.0.1:<port>` when a password is
    /// set.
    pub fn url(&self) -> String {
        let url = server_url(self.port, self.password.as_deref());
        if self.tls {
            url.replacen("redis://", "rediss://", 1)
        } else {
            url
        }
    }

    /// The TLS port of a server built with
    /// [`tls_beside_plain`](RedisServerBuilder::tls_beside_plain).
    ///
    /// # Panics
    ///
    /// For a server without one.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
            .expect("a server started with tls_beside_plain")
    }

    /// `rediss://127.0.0.1:<tls port>` (with the password, when one is set).
    ///
    /// # Panics
    ///
    /// For a server without a TLS port beside the plain one.
    pub fn tls_url(&self) -> String {
        server_url(self.tls_port(), self.password.as_deref()).replacen("redis://", "rediss://", 1)
    }

    /// `redis://127.0.0.1:<port>`, without the password even when one is set.
    pub fn url_without_password(&self) -> String {
        server_url(self.port, None)
    }

    /// The process id, or `None` when no process runs (after `stop` or `kill`).
    pub fn pid(&self) -> Option<u32> {
        let mut child = self.lock_child();
        reap_if_exited(&mut child);
        child.as_ref().map(Child::id)
    }

    /// The server's temporary directory: its working directory (`--dir`) and the home of its log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server log so far, across restarts; empty when nothing was written yet.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the process exists and has not exited. A frozen server is running.
    pub fn is_running(&self) -> bool {
        let mut child = self.lock_child();
        reap_if_exited(&mut child);
        child.is_some()
    }

    /// Shuts the server down cleanly with `SHUTDOWN NOSAVE` and waits for the process to exit,
    /// killing it if it is still there after 5 s. A frozen server is thawed first. Does nothing
    /// when the server is not running.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        if self.is_frozen {
            self.thaw();
        }
        // The server closes the connection instead of answering, so the reply is an I/O error.
        let _ = self.command(&["SHUTDOWN", "NOSAVE"]);
        if !poll::blocking(STOP_DEADLINE, || !self.is_running()) {
            self.kill();
        }
    }

    /// Kills the process with SIGKILL and waits for it. Does nothing when it is not running.
    pub fn kill(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut process) = child.take() {
            // Fails only when the process has already exited; `wait` reaps it either way.
            let _ = process.kill();
            let _ = process.wait();
        }
        self.is_frozen = false;
    }

    /// Suspends the process with SIGSTOP: the kernel still accepts connections, but nothing is
    /// answered until [`thaw`](Self::thaw).
    ///
    /// # Panics
    ///
    /// When the server is not running.
    pub fn freeze(&mut self) {
        self.signal(Signal::SIGSTOP);
        self.is_frozen = true;
    }

    /// Resumes a frozen process with SIGCONT.
    ///
    /// # Panics
    ///
    /// When the server is not running.
    pub fn thaw(&mut self) {
        self.signal(Signal::SIGCONT);
        self.is_frozen = false;
    }

    /// Starts the server again on the same port and directory and waits until it answers `PING`
    /// with `PONG`. Kills it first if it is still running.
    ///
    /// # Panics
    ///
    /// When the server is not ready within [`DEADLINE`] (the panic message holds the server log).
    pub fn restart(&mut self) {
        self.restart_until(Readiness::of(self.tls));
    }

    /// Like [`restart`](Self::restart), but returns as soon as the server accepts TCP connections,
    /// for tests of a server that still answers `-LOADING`.
    ///
    /// # Panics
    ///
    /// When the server does not accept connections within [`DEADLINE`].
    pub fn restart_accepting(&mut self) {
        self.restart_until(Readiness::Accepting);
    }

    /// Runs one command on a fresh connection (authenticated when a password is set) and renders
    /// the reply as text: strings as they are, integers in decimal, `OK` for a status reply,
    /// nil as the empty string, arrays one element per line.
    ///
    /// Connects within 2 s and waits 5 s for the reply.
    ///
    /// # Errors
    ///
    /// The error reply as Redis sent it (`"NOAUTH Authentication required."`), or a description
    /// of the connection failure.
    pub fn command(&self, args: &[&str]) -> Result<String, String> {
        self.connect()?.command(args)
    }

    /// A connection kept open (authenticated when a password is set), for commands that must get
    /// through while new connections are refused (`maxclients`, a password set at runtime), or
    /// that need a connection of their own. Same timeouts as [`command`](Self::command).
    ///
    /// # Errors
    ///
    /// A description of the connection failure, or the error reply to the authentication.
    pub fn connect(&self) -> Result<RedisConnection, String> {
        let client = redis::Client::open(self.url()).map_err(|err| render_error(&err))?;
        let conn = client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|err| render_error(&err))?;
        conn.set_read_timeout(Some(RESPONSE_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(RESPONSE_TIMEOUT)))
            .map_err(|err| render_error(&err))?;
        Ok(RedisConnection { conn })
    }

    /// How many times the server has run `command` (lower case, as `INFO commandstats` names
    /// it: `"ping"`), from everyone; 0 when it does not answer.
    pub fn calls(&self, command: &str) -> u64 {
        let stats = self.command(&["INFO", "commandstats"]).unwrap_or_default();
        let prefix = format!("cmdstat_{command}:calls=");
        stats
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next()?.parse().ok())
            .unwrap_or(0)
    }

    /// The port the clients under test use: the TLS one of a server with one beside the plain.
    fn client_port(&self) -> u16 {
        self.tls_port.unwrap_or(self.port)
    }

    fn restart_until(&mut self, readiness: Readiness) {
        self.kill();
        if let Err(err) = self.spawn_and_wait(readiness) {
            self.fail(&err);
        }
    }

    fn spawn_and_wait(&mut self, readiness: Readiness) -> Result<(), StartError> {
        let process = self.spawn().map_err(StartError::Spawn)?;
        *self.child.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(process);
        self.wait_ready(readiness)
    }

    fn spawn(&self) -> io::Result<Child> {
        let mut command = Command::new(&self.binary);
        if self.has_config {
            command.arg(self.dir.path().join(CONFIG_FILE));
        }
        if self.sentinel {
            command.arg("--sentinel");
        }
        if self.tls {
            command.args(["--port", "0", "--tls-port"]);
        } else {
            command.arg("--port");
        }
        command
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--logfile")
            .arg(self.log_path())
            .args(["--daemonize", "no"]);
        if let Some(port) = self.tls_port {
            command.arg("--tls-port").arg(port.to_string());
        }
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        for (name, value) in &self.args {
            command.arg(format!("--{name}")).arg(value);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }

    fn wait_ready(&self, readiness: Readiness) -> Result<(), StartError> {
        let mut exited = None;
        let ready = poll::blocking(DEADLINE, || {
            exited = reap_if_exited(&mut self.lock_child());
            exited.is_some()
                || match readiness {
                    Readiness::Pong => self.command(&["PING"]).is_ok_and(|pong| pong == "PONG"),
                    Readiness::Accepting => {
                        TcpStream::connect_timeout(&self.addr(), CONNECT_TIMEOUT).is_ok()
                    }
                }
        });
        match exited {
            Some(status) => Err(StartError::Exited(status)),
            None if ready => Ok(()),
            None => Err(StartError::Timeout(readiness)),
        }
    }

    fn signal(&self, signal: Signal) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("cannot send {signal} to redis-server: it is not running"));
        let pid = Pid::from_raw(i32::try_from(pid).expect("process ids fit in i32"));
        signal::kill(pid, signal)
            .unwrap_or_else(|err| panic!("cannot send {signal} to redis-server {pid}: {err}"));
    }

    fn fail(&mut self, err: &StartError) -> ! {
        self.kill();
        panic!(
            "redis-server on port {port} {err}\n--- {log_path} ---\n{log}",
            port = self.port,
            log_path = self.log_path().display(),
            log = self.log(),
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    fn lock_child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An open connection to a [`RedisServer`], from [`RedisServer::connect`].
pub struct RedisConnection {
    conn: redis::Connection,
}

impl RedisConnection {
    /// Runs one command and renders the reply as [`RedisServer::command`] does.
    ///
    /// # Errors
    ///
    /// The error reply as Redis sent it, or a description of the connection failure.
    pub fn command(&mut self, args: &[&str]) -> Result<String, String> {
        let Some((name, rest)) = args.split_first() else {
            return Err("no command given".to_owned());
        };
        let mut cmd = redis::cmd(name);
        for arg in rest {
            cmd.arg(*arg);
        }
        match self
            .conn
            .req_command(&cmd)
            .map_err(|err| render_error(&err))?
        {
            Value::ServerError(err) => Err(render_server_error(err.code(), err.details())),
            value => Ok(render_value(&value)),
        }
    }
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection").finish_non_exhaustive()
    }
}

/// Three masters sharing the 16384 slots, joined with `CLUSTER MEET` and polled until every
/// node says `cluster_state:ok`. Node timeout 1 s, so a killed node fails the cluster quickly.
///
/// # Panics
///
/// If the cluster does not form within [`DEADLINE`].
pub fn start_cluster() -> Vec<RedisServer> {
    start_cluster_with(RedisServer::builder)
}

/// Like [`start_cluster`], with each node built from `builder()` (for TLS: one made with
/// [`tls_beside_plain`](RedisServerBuilder::tls_beside_plain), which also runs the cluster bus
/// over TLS).
///
/// # Panics
///
/// If the cluster does not form within [`DEADLINE`].
pub fn start_cluster_with(builder: impl Fn() -> RedisServerBuilder) -> Vec<RedisServer> {
    let nodes: Vec<RedisServer> = (0..3)
        .map(|_| {
            builder()
                .arg("cluster-enabled", "yes")
                .arg("cluster-config-file", "nodes.conf")
                .arg("cluster-node-timeout", "1000")
                .start()
        })
        .collect();
    let ranges = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
    for (node, (first, last)) in nodes.iter().zip(ranges) {
        node.command(&["CLUSTER", "ADDSLOTSRANGE", first, last])
            .expect("assign slots");
    }
    // Over TLS the cluster bus listens beside the TLS port.
    let first_port = nodes[0].client_port().to_string();
    for node in &nodes[1..] {
        node.command(&["CLUSTER", "MEET", "127.0.0.1", &first_port])
            .expect("join the cluster");
    }
    if !poll::blocking(DEADLINE, || {
        nodes.iter().all(|node| cluster_state(node) == "ok")
    }) {
        let logs: Vec<String> = nodes.iter().map(RedisServer::log).collect();
        panic!("the test cluster never formed:\n{}", logs.join("\n---\n"));
    }
    nodes
}

/// The node's `cluster_state` from `CLUSTER INFO` (`ok`, `fail`), or empty if it does not answer.
pub fn cluster_state(node: &RedisServer) -> String {
    node.command(&["CLUSTER", "INFO"])
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("cluster_state:"))
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// A server that starts on a background thread after a delay, from
/// [`RedisServerBuilder::start_after`]. Its port and URL are known at once.
///
/// Dropping it without [`join`](Self::join) waits for the start and then kills the server, so no
/// process outlives the test.
#[derive(Debug)]
pub struct LateServer {
    port: u16,
    url: String,
    handle: Option<JoinHandle<RedisServer>>,
}

impl LateServer {
    /// The port the server will listen on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL the server will answer on, as [`RedisServer::url`] will return it.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Waits until the server runs and answers `PING`, and returns it.
    ///
    /// # Panics
    ///
    /// When the background start panicked (the panic is passed on with the server log).
    pub fn join(mut self) -> RedisServer {
        let handle = self.handle.take().expect("joined only once");
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for LateServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // Dropping the joined server kills it; a failed start has already panicked there.
            let _ = handle.join();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Readiness {
    /// `PING` answers `PONG`.
    Pong,
    /// TCP connections are accepted.
    Accepting,
}

impl Readiness {
    /// What tells that a server is up: a TLS-only server cannot take [`RedisServer::command`].
    fn of(tls: bool) -> Readiness {
        if tls {
            Readiness::Accepting
        } else {
            Readiness::Pong
        }
    }
}

#[derive(Debug)]
enum StartError {
    Spawn(io::Error),
    Exited(std::process::ExitStatus),
    Timeout(Readiness),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Spawn(err) => write!(f, "could not be spawned: {err}"),
            StartError::Exited(status) => write!(f, "exited during startup ({status})"),
            StartError::Timeout(Readiness::Pong) => {
                write!(f, "did not answer PING with PONG within {DEADLINE:?}")
            }
            StartError::Timeout(Readiness::Accepting) => {
                write!(f, "did not accept connections within {DEADLINE:?}")
            }
        }
    }
}

/// `$REDIS_SERVER_BIN` when set, else `redis-server` from `PATH`.
fn redis_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REDIS_SERVER_BIN").filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            panic!(
                "redis-server not found at REDIS_SERVER_BIN={} (point it at a redis-server binary or unset it)",
                path.display()
            );
        }
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("redis-server"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found (set REDIS_SERVER_BIN or install it: apt-get install -y redis-server)"
            )
        })
}

fn server_url(port: u16, password: Option<&str>) -> String {
    match password {
        Some(password) => format!("redis://:{password}@127.0.0.1:{port}"),
        None => format!("redis://127.0.0.1:{port}"),
    }
}

/// Reaps the child if it has exited, leaving `None` behind, and returns its exit status.
fn reap_if_exited(child: &mut Option<Child>) -> Option<std::process::ExitStatus> {
    let status = match child.as_mut()?.try_wait() {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => return None,
    };
    *child = None;
    Some(status)
}

fn render_value(value: &Value) -> String {
    match value {
        Value::Nil => String::new(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::Okay => "OK".to_owned(),
        Value::Array(items) | Value::Set(items) => render_lines(items.iter()),
        Value::Map(pairs) => render_lines(pairs.iter().flat_map(|(key, value)| [key, value])),
        Value::Double(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::ServerError(err) => render_server_error(err.code(), err.details()),
        other => format!("{other:?}"),
    }
}

fn render_lines<'a>(items: impl Iterator<Item = &'a Value>) -> String {
    items.map(render_value).collect::<Vec<_>>().join("\n")
}

fn render_server_error(code: &str, details: Option<&str>) -> String {
    match details {
        Some(details) => format!("{code} {details}"),
        None => code.to_owned(),
    }
}

fn render_error(err: &RedisError) -> String {
    match err.code() {
        Some(code) => render_server_error(code, err.detail()),
        None => err.to_string(),
    }
}

/// A master, a replica of it, and three sentinels watching it as `gate` (quorum 2, a master is
/// down after 1 s), for failover tests. `nodes[0]` is the master at the start.
#[derive(Debug)]
pub struct SentinelSet {
    /// The two data nodes; which one is master changes with failovers (see
    /// [`master_port`](Self::master_port)).
    pub nodes: Vec<RedisServer>,
    /// The sentinels.
    pub sentinels: Vec<RedisServer>,
}

/// The master name a [`SentinelSet`]'s sentinels monitor.
pub const SENTINEL_MASTER: &str = "gate";

impl SentinelSet {
    /// Starts the set and waits until the sentinels know the replica (a failover needs one).
    ///
    /// # Panics
    ///
    /// If a server does not start, or the sentinels do not see the replica within
    /// [`DEADLINE`].
    pub fn start() -> SentinelSet {
        SentinelSet::start_with(3, RedisServer::builder)
    }

    /// Like [`start`](Self::start), with `sentinels` sentinels (the quorum a majority of them),
    /// every server built from `builder()`. With
    /// [`tls_beside_plain`](RedisServerBuilder::tls_beside_plain), replication and the sentinels'
    /// links go over TLS, and the sentinels name the TLS ports.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub fn start_with(sentinels: usize, builder: impl Fn() -> RedisServerBuilder) -> SentinelSet {
        let nodes = vec![builder().start(), builder().start()];
        let master_port = nodes[0].client_port().to_string();
        nodes[1]
            .command(&["REPLICAOF", "127.0.0.1", &master_port])
            .expect("start replicating");
        let conf = format!(
            "sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master_port} {quorum}\n\
             sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n\
             sentinel failover-timeout {SENTINEL_MASTER} 5000\n\
             sentinel parallel-syncs {SENTINEL_MASTER} 1\n",
            quorum = sentinels / 2 + 1
        );
        let sentinels = (0..sentinels)
            .map(|_| builder().config_file(&conf).sentinel().start())
            .collect();
        let set = SentinelSet { nodes, sentinels };
        set.wait_for_replicas(1);
        set
    }

    /// The sentinels' addresses, `127.0.0.1:<port>`.
    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect()
    }

    /// The master's port, as the first sentinel that answers names it.
    ///
    /// # Panics
    ///
    /// If no sentinel answers.
    pub fn master_port(&self) -> u16 {
        self.sentinels
            .iter()
            .find_map(|sentinel| {
                let reply = sentinel
                    .command(&["SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER])
                    .ok()?;
                reply.lines().last()?.trim().parse().ok()
            })
            .expect("a sentinel names the master")
    }

    /// The data node that is master now, and the other one.
    pub fn master_and_replica(&mut self) -> (&mut RedisServer, &mut RedisServer) {
        let port = self.master_port();
        let (first, second) = self.nodes.split_at_mut(1);
        if first[0].client_port() == port {
            (&mut first[0], &mut second[0])
        } else {
            (&mut second[0], &mut first[0])
        }
    }

    /// Waits until every sentinel knows `count` replicas of the master that are up, as a
    /// planned failover requires.
    ///
    /// # Panics
    ///
    /// If they do not within [`DEADLINE`].
    pub fn wait_for_replicas(&self, count: usize) {
        let ready = |sentinel: &RedisServer| {
            sentinel
                .command(&["SENTINEL", "replicas", SENTINEL_MASTER])
                .is_ok_and(|reply| {
                    let lines: Vec<&str> = reply.lines().collect();
                    let up = lines
                        .windows(2)
                        .filter(|pair| pair[0].trim() == "flags" && pair[1].trim() == "slave")
                        .count();
                    up >= count
                })
        };
        assert!(
            poll::blocking(DEADLINE, || self.sentinels.iter().all(ready)),
            "the sentinels never saw the replica"
        );
    }
}
