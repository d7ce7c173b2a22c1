//! One health check: connect if needed, `PING`, and say in plain words what went wrong.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Client, ErrorKind, RedisError, ServerErrorKind, Value,
};
use redis_gate_core::sanitize_error;

use crate::RedisConfig;

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
                let reason = err
                    .as_io_kind()
                    .map_or_else(|| "connection lost".to_owned(), |kind| kind.to_string());
                (Connection, reason)
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

/// `RedisError` has no public accessor for its I/O error kind; its `Display` does carry it.
trait IoKind {
    fn as_io_kind(&self) -> Option<io::ErrorKind>;
}

impl IoKind for RedisError {
    fn as_io_kind(&self) -> Option<io::ErrorKind> {
        let source = std::error::Error::source(self)?;
        source.downcast_ref::<io::Error>().map(io::Error::kind)
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ProbeError {}

/// A dedicated health-check connection: never a pool slot that application traffic competes for.
pub(crate) struct Prober {
    client: Client,
    settings: AsyncConnectionConfig,
    connect_timeout: Duration,
    response_timeout: Duration,
    /// `SET <key> <millis> PX <ttl>` after each `PING`, when the write probe is on.
    write_probe: Option<(String, u64)>,
    conn: Option<MultiplexedConnection>,
}

impl Prober {
    pub(crate) fn new(config: &RedisConfig) -> Result<Prober, ProbeError> {
        let client = Client::open(config.connection_url()).map_err(|err| {
            ProbeError::new(
                ProbeErrorKind::Config,
                format!(
                    "invalid client configuration: {}",
                    sanitize_error(&err.to_string())
                ),
            )
        })?;
        Ok(Prober {
            client,
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
        })
    }

    /// Connects if there is no connection, then sends `PING`; returns the `PING` round trip.
    pub(crate) async fn check(&mut self) -> Result<Duration, ProbeError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let connect = self
                    .client
                    .get_multiplexed_async_connection_with_config(&self.settings);
                let conn = tokio::time::timeout(self.connect_timeout, connect)
                    .await
                    .map_err(|_| ProbeError::timeout("connect", self.connect_timeout))?
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
    }
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
