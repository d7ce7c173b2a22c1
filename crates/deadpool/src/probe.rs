//! One health check: connect if needed, `PING`, and say in plain words what went wrong.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Client, ErrorKind, IntoConnectionInfo, ProtocolVersion, PushInfo,
    PushKind, RedisError, RedisResult, ServerErrorKind, TlsCertificates, TlsMode, Value,
};
use redis_gate_core::sanitize_error;
use tokio::sync::Notify;
use tracing::debug;

use crate::{RedisConfig, Topology};

/// Why a health check failed. `Display` gives a short reason that never contains credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeError {
    kind: ProbeErrorKind,
    reason: String,
}

/// The class of a [`ProbeError`], which decides how the monitor reacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeErrorKind {
    /// Nothing listens there, or the connection was reset or closed: Redis is down.
    Connection,
    /// No answer in time: Redis may be frozen, overloaded, or far away.
    Timeout,
    /// Redis answered, but not with `PONG`: `LOADING`, `BUSY`, `MASTERDOWN` and the like.
    NotReady,
    /// `NOAUTH` or `WRONGPASS`: the credentials are wrong or missing. Waiting will not fix it.
    Auth,
    /// The client refused the settings (for example TLS requested but not compiled in).
    Config,
}

impl ProbeError {
    pub(crate) fn new(kind: ProbeErrorKind, reason: impl Into<String>) -> ProbeError {
        ProbeError {
            kind,
            reason: reason.into(),
        }
    }

    fn timeout(what: &str, after: Duration) -> ProbeError {
        ProbeError::new(
            ProbeErrorKind::Timeout,
            format!("{what} timed out after {} ms", after.as_millis()),
        )
    }

    /// The class of failure.
    pub fn kind(&self) -> ProbeErrorKind {
        self.kind
    }

    /// The short reason, also given by `Display`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// True if the failure means the server is gone (not merely slow or unready).
    pub fn is_connection_failure(&self) -> bool {
        self.kind == ProbeErrorKind::Connection
    }

    pub(crate) fn from_redis(err: &RedisError) -> ProbeError {
        use ProbeErrorKind::*;
        let code = err.code().unwrap_or_default();
        let (kind, reason): (ProbeErrorKind, String) = match err.kind() {
            ErrorKind::AuthenticationFailed => (Auth, "authentication failed".into()),
            _ if code == "NOAUTH" || code == "WRONGPASS" => {
                (Auth, format!("authentication failed ({code})"))
            }
            ErrorKind::Server(ServerErrorKind::BusyLoading) => (
                NotReady,
                "LOADING: redis is loading the dataset into memory".into(),
            ),
            ErrorKind::Server(ServerErrorKind::MasterDown) => (
                NotReady,
                "MASTERDOWN: the replica has lost its master".into(),
            ),
            _ if code == "BUSY" => (NotReady, "BUSY: redis is running a long script".into()),
            ErrorKind::Server(ServerErrorKind::ReadOnly) => (
                NotReady,
                "READONLY: the server is a replica and refuses writes".into(),
            ),
            _ if code == "OOM" => (
                NotReady,
                "OOM: maxmemory reached and writes are refused".into(),
            ),
            _ if is_tls_failure(err) => (Config, "TLS handshake failed".into()),
            ErrorKind::InvalidClientConfig => (
                Config,
                format!(
                    "invalid client configuration: {}",
                    sanitize_error(&err.to_string())
                ),
            ),
            _ if err.is_timeout() => (Timeout, "timed out".into()),
            _ if err.is_connection_refusal() => (Connection, "connection refused".into()),
            _ if err.is_io_error() || err.is_connection_dropped() => {
                // I/O messages carry no secrets ("Connection reset by peer (os error 104)").
                (Connection, sanitize_error(&err.to_string()))
            }
            // Error details can echo command arguments, so only known ones are repeated.
            _ if err
                .detail()
                .is_some_and(|d| d.contains("max number of clients")) =>
            {
                (NotReady, "max number of clients reached".into())
            }
            _ if !code.is_empty() => (NotReady, format!("redis replied with an error: {code}")),
            _ => (NotReady, sanitize_error(&err.to_string())),
        };
        ProbeError::new(kind, reason)
    }
}

/// True when the connection failed in the TLS handshake (an untrusted or mismatched
/// certificate, a protocol mismatch): waiting will not fix it. redis keeps the rustls error
/// behind an `Arc`, out of reach of a downcast, so its message is what tells.
fn is_tls_failure(err: &RedisError) -> bool {
    const TLS_MESSAGES: [&str; 5] = [
        "invalid peer certificate",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "received corrupt message",
    ];
    let message = err.to_string();
    TLS_MESSAGES.iter().any(|m| message.contains(m))
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ProbeError {}

/// Where the prober connects: one server, the master sentinel names, or the first cluster seed
/// that answers.
enum Endpoint {
    /// One server. `resp3` speaks RESP3, in which the client reports a closed connection at
    /// once; it is dropped for good if the server does not know `HELLO` (Redis before 6).
    Single {
        resp3: Option<Box<Client>>,
        resp2: Box<Client>,
    },
    Sentinel(Box<SentinelClient>),
    Cluster(Vec<Client>),
}

/// A dedicated health-check connection: never a pool slot that application traffic competes for.
pub(crate) struct Prober {
    endpoint: Endpoint,
    topology: Topology,
    settings: AsyncConnectionConfig,
    connect_timeout: Duration,
    response_timeout: Duration,
    /// `SET <key> <millis> PX <ttl>` after each `PING`, when the write probe is on.
    write_probe: Option<(String, u64)>,
    conn: Option<MultiplexedConnection>,
    /// Notified when `conn` closes, if the connection can tell (see [`Endpoint::Single`]).
    closed: Option<Arc<Notify>>,
}

impl Prober {
    pub(crate) fn new(config: &RedisConfig) -> Result<Prober, ProbeError> {
        let invalid = |err: RedisError| {
            ProbeError::new(
                ProbeErrorKind::Config,
                format!(
                    "invalid client configuration: {}",
                    sanitize_error(&err.to_string())
                ),
            )
        };
        let endpoint = match config.topology() {
            Topology::Standalone => {
                let url = config.connection_url();
                let resp3 = open_client_with(&url, config, ProtocolVersion::RESP3);
                Endpoint::Single {
                    resp3: Some(Box::new(resp3.map_err(invalid)?)),
                    resp2: Box::new(open_client(&url, config).map_err(invalid)?),
                }
            }
            Topology::Cluster => Endpoint::Cluster(
                config
                    .node_urls()
                    .iter()
                    .map(|url| open_client(url, config))
                    .collect::<Result<_, _>>()
                    .map_err(invalid)?,
            ),
            Topology::Sentinel { master } => {
                Endpoint::Sentinel(Box::new(sentinel_client(config, master).map_err(invalid)?))
            }
        };
        Ok(Prober {
            endpoint,
            topology: config.topology().clone(),
            settings: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(config.connect_timeout))
                .set_response_timeout(Some(config.response_timeout)),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
            write_probe: config.write_probe_key().map(|key| {
                let ttl = (config.check_interval * 3).max(Duration::from_secs(1));
                (key, ttl.as_millis() as u64)
            }),
            conn: None,
            closed: None,
        })
    }

    async fn connect(&mut self) -> RedisResult<MultiplexedConnection> {
        self.closed = None;
        match &mut self.endpoint {
            Endpoint::Single { resp3, resp2 } => {
                if let Some(client) = resp3 {
                    let closed = Arc::new(Notify::new());
                    let notify = Arc::clone(&closed);
                    let settings = self
                        .settings
                        .clone()
                        .set_push_sender(move |push: PushInfo| {
                            if push.kind == PushKind::Disconnection {
                                notify.notify_one();
                            }
                            Ok::<(), Infallible>(())
                        });
                    match client
                        .get_multiplexed_async_connection_with_config(&settings)
                        .await
                    {
                        Err(err) if lacks_hello(&err) => {
                            debug!("redis_probe_resp2");
                            *resp3 = None;
                        }
                        Ok(conn) => {
                            self.closed = Some(closed);
                            return Ok(conn);
                        }
                        Err(err) => return Err(err),
                    }
                }
                resp2
                    .get_multiplexed_async_connection_with_config(&self.settings)
                    .await
            }
            Endpoint::Sentinel(client) => {
                client
                    .get_async_connection_with_config(&self.settings)
                    .await
            }
            Endpoint::Cluster(seeds) => {
                let mut last = None;
                for seed in seeds.iter() {
                    match seed
                        .get_multiplexed_async_connection_with_config(&self.settings)
                        .await
                    {
                        Ok(conn) => return Ok(conn),
                        Err(err) => last = Some(err),
                    }
                }
                Err(last.expect("a cluster config has at least one seed"))
            }
        }
    }

    /// What `PING` cannot tell: a sentinel master must still be master, a cluster must be whole.
    async fn check_topology(&mut self) -> Result<(), ProbeError> {
        let Some(conn) = &mut self.conn else {
            return Ok(());
        };
        let (command, healthy): (&str, fn(&Value) -> bool) = match self.topology {
            Topology::Standalone => return Ok(()),
            Topology::Sentinel { .. } => ("ROLE", is_master),
            Topology::Cluster => ("CLUSTER", cluster_is_ok),
        };
        let mut cmd = redis::cmd(command);
        if command == "CLUSTER" {
            cmd.arg("INFO");
        }
        let reply = tokio::time::timeout(self.response_timeout, cmd.query_async::<Value>(conn))
            .await
            .map_err(|_| ProbeError::timeout(command, self.response_timeout))?
            .map_err(|err| ProbeError::from_redis(&err))?;
        if healthy(&reply) {
            return Ok(());
        }
        Err(match self.topology {
            Topology::Sentinel { .. } => {
                // Ask the sentinels again next time: this node was demoted.
                self.disconnect();
                ProbeError::new(
                    ProbeErrorKind::NotReady,
                    "ROLE: the node is no longer master",
                )
            }
            _ => ProbeError::new(
                ProbeErrorKind::NotReady,
                "CLUSTER INFO: cluster_state is not ok",
            ),
        })
    }

    /// Connects if there is no connection, then sends `PING`; returns the `PING` round trip.
    ///
    /// A connection kept from an earlier check may have been closed under us (`CLIENT KILL`, an
    /// idle timeout, a proxy) while Redis is fine: that one failure is retried at once on a
    /// fresh connection, which a server that is really gone refuses.
    pub(crate) async fn check(&mut self) -> Result<Duration, ProbeError> {
        let reused = self.conn.is_some();
        match self.check_once().await {
            Err(err) if reused && err.kind() == ProbeErrorKind::Connection => {
                debug!(reason = err.reason(), "redis_probe_reconnect");
                self.disconnect();
                self.check_once().await
            }
            outcome => outcome,
        }
    }

    /// The notification that the current connection has closed, when it can give one.
    pub(crate) fn closed(&self) -> Option<Arc<Notify>> {
        self.closed.clone()
    }

    async fn check_once(&mut self) -> Result<Duration, ProbeError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let connect_timeout = self.connect_timeout;
                let conn = tokio::time::timeout(connect_timeout, self.connect())
                    .await
                    .map_err(|_| ProbeError::timeout("connect", connect_timeout))?
                    .map_err(|err| ProbeError::from_redis(&err))?;
                self.conn.insert(conn)
            }
        };
        let started = Instant::now();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<Value>(conn);
        let reply = tokio::time::timeout(self.response_timeout, ping)
            .await
            .map_err(|_| ProbeError::timeout("PING", self.response_timeout))?
            .map_err(|err| ProbeError::from_redis(&err))?;
        match reply {
            Value::SimpleString(pong) if pong == "PONG" => {}
            _ => {
                return Err(ProbeError::new(
                    ProbeErrorKind::NotReady,
                    "PING got an unexpected reply",
                ));
            }
        }
        let latency = started.elapsed();
        self.check_topology().await?;
        let Some(conn) = &mut self.conn else {
            return Ok(latency);
        };
        if let Some((key, ttl_ms)) = &self.write_probe {
            // Catches what PING cannot: READONLY after a failover, OOM, paused writes.
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(now_millis()).arg("PX").arg(*ttl_ms);
            tokio::time::timeout(self.response_timeout, cmd.query_async::<()>(conn))
                .await
                .map_err(|_| ProbeError::timeout("write probe", self.response_timeout))?
                .map_err(|err| ProbeError::from_redis(&err))?;
        }
        Ok(latency)
    }

    /// Forgets the connection, so the next check opens a fresh one.
    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
        self.closed = None;
    }
}

/// True when the server refused `HELLO 3` because it does not know the command.
fn lacks_hello(err: &RedisError) -> bool {
    err.code() == Some("ERR")
        && err
            .detail()
            .is_some_and(|detail| detail.contains("unknown command") && detail.contains("HELLO"))
}

/// A client for `url`, verifying TLS against the configured CA when there is one.
pub(crate) fn open_client(url: &str, config: &RedisConfig) -> RedisResult<Client> {
    open_client_with(url, config, ProtocolVersion::RESP2)
}

fn open_client_with(
    url: &str,
    config: &RedisConfig,
    protocol: ProtocolVersion,
) -> RedisResult<Client> {
    let info = url.into_connection_info()?;
    let settings = info.redis_settings().clone().set_protocol(protocol);
    let info = info.set_redis_settings(settings);
    match config.tls_ca().filter(|_| config.is_tls()) {
        Some(pem) => Client::build_with_tls(
            info,
            TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            },
        ),
        None => Client::open(info),
    }
}

fn sentinel_client(config: &RedisConfig, master: &str) -> RedisResult<SentinelClient> {
    let (username, password, db) = config.node_auth();
    let mut builder =
        SentinelClientBuilder::new(config.sentinel_addrs(), master, SentinelServerType::Master)?
            .set_client_to_redis_db(i64::from(db));
    if let Some(username) = username {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = password {
        builder = builder.set_client_to_redis_password(password);
    }
    if let Some((username, password)) = config.sentinel_auth() {
        if let Some(username) = username {
            builder = builder.set_client_to_sentinel_username(username);
        }
        builder = builder.set_client_to_sentinel_password(password);
    }
    if config.is_tls() {
        builder = builder
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
    }
    builder.build()
}

fn is_master(role: &Value) -> bool {
    match role {
        Value::Array(items) => matches!(
            items.first(),
            Some(Value::BulkString(word)) if word == b"master"
        ),
        _ => false,
    }
}

fn cluster_is_ok(info: &Value) -> bool {
    let text = match info {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes),
        Value::VerbatimString { text, .. } => text.as_str().into(),
        _ => return false,
    };
    text.lines().any(|line| line.trim() == "cluster_state:ok")
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Connects once and sends one `PING`, within `timeout` in all: what `redis-gate ping` does.
///
/// `Ok` carries the `PING` round trip. A `LOADING` or `NOAUTH` reply is an error here, unlike
/// `redis-cli ping`, which exits 0 on both.
pub async fn ping(config: &RedisConfig, timeout: Duration) -> Result<Duration, ProbeError> {
    let config = config
        .clone()
        .connect_timeout(timeout)
        .response_timeout(timeout);
    let mut prober = Prober::new(&config)?;
    tokio::time::timeout(timeout, prober.check())
        .await
        .map_err(|_| ProbeError::timeout("PING", timeout))?
}
