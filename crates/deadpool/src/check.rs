//! One health check on the monitor's own connection: connect if needed, `PING`, whatever the
//! topology needs, and the write check; and in plain words what went wrong and what to do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, ErrorKind, RedisError, ServerErrorKind, Value};
use redis_gate_core::{Check, CheckError, CheckErrorKind, sanitize_error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tracing::{debug, info};

use std::future::Future;

use crate::config::Timeouts;
use crate::connect::{CheckTarget, Unhealthy, connection_settings};
use crate::monitor::PoolFailures;
use crate::{RedisConfig, RedisPool};

impl Check for RedisCheck {
    /// The health check; when the application's pool has failed to open connections, also a
    /// fresh connection, which is what the pool needs and what `maxclients` refuses.
    async fn check(&mut self) -> Result<Duration, CheckError> {
        let latency = self.check_connection().await?;
        // A master verified by this check is the one the pool uses from now on.
        if let Some(change) = self.target.settle() {
            self.pool.drop_idle();
            info!(
                dependency = &*self.config.name,
                old = %change.old,
                new = %change.new,
                "redis_master_changed"
            );
        }
        if self.pool_failures.any() {
            ping(&self.config, self.config.timeouts.connect)
                .await
                .map_err(|err| {
                    CheckError::new(err.kind(), format!("new connections fail: {err}"))
                })?;
            self.pool_failures.clear();
        }
        Ok(latency)
    }

    fn timeout(&self) -> Duration {
        self.config.longest_check()
    }

    /// A closed health-check connection (Redis killed, restarted, a proxy gone) and a master
    /// switch the sentinels announce are checked at once instead of at the next interval.
    fn wake(&mut self) -> impl Future<Output = ()> + Send {
        let closed = self.closed.clone();
        let announced = self.target.announcements();
        async move {
            let notified = async |notify: Option<Arc<Notify>>| match notify {
                Some(notify) => notify.notified().await,
                None => std::future::pending().await,
            };
            tokio::select! {
                () = notified(closed) => {}
                () = notified(announced) => {}
            }
        }
    }

    /// Idle pooled connections are most likely dead: drop them so handlers do not pick them up
    /// once Redis is back.
    fn lost(&mut self) {
        self.pool.drop_idle();
    }
}

/// The longest a failed connect is looked into.
const DIAGNOSIS: Duration = Duration::from_millis(500);

/// What a failure message may need to name.
struct Context {
    /// The hosts the check connects to (empty when the sentinels pick them).
    hosts: Vec<String>,
    /// Whether `REDIS_TLS_CA_FILE` (or `RedisConfig::tls_ca`) gives the roots.
    custom_ca: bool,
}

/// The monitor's health check: a dedicated connection, never a pool slot that application
/// traffic competes for.
pub(crate) struct RedisCheck {
    target: CheckTarget,
    /// For a check of a fresh connection when the application's pool fails to open ones.
    config: RedisConfig,
    pool: RedisPool,
    pool_failures: Arc<PoolFailures>,
    context: Context,
    settings: redis::AsyncConnectionConfig,
    timeouts: Timeouts,
    /// `SET <key> <millis> PX <ttl>` after each `PING`, when the write check is on.
    write_check: Option<(String, u64)>,
    conn: Option<MultiplexedConnection>,
    /// Notified when `conn` closes, if the connection can tell (RESP3).
    closed: Option<Arc<Notify>>,
    /// How long a failed connect may be looked into (see [`RedisCheck::diagnose`]).
    diagnosis: Duration,
    /// When everything must be over, for a one-off check ([`ping`]): each step gets what is
    /// left, up to its own timeout. `None` for the monitor's checks.
    deadline: Option<Instant>,
    /// The last check found the sentinels naming another master than the one connected to.
    moved: bool,
    /// Checks in a row that timed out on the kept connection.
    timeouts_in_row: u32,
}

impl RedisCheck {
    pub(crate) fn new(
        config: &RedisConfig,
        target: CheckTarget,
        pool: RedisPool,
        pool_failures: Arc<PoolFailures>,
    ) -> RedisCheck {
        let context = Context {
            hosts: target.hosts(),
            custom_ca: config.tls_ca.is_some(),
        };
        RedisCheck {
            target,
            config: config.clone(),
            pool,
            pool_failures,
            context,
            settings: connection_settings(config),
            timeouts: config.timeouts,
            write_check: config.write_check_key().map(|key| {
                let ttl = (config.monitor.check_interval * 3).max(Duration::from_secs(1));
                (key, ttl.as_millis() as u64)
            }),
            conn: None,
            closed: None,
            diagnosis: DIAGNOSIS.min(config.timeouts.connect),
            deadline: None,
            moved: false,
            timeouts_in_row: 0,
        }
    }

    /// Follows the sentinels' announcements, to check at once when the master moves (nothing
    /// for other topologies).
    pub(crate) fn follow_failovers(&mut self) {
        self.target.follow();
    }

    /// Connects if there is no connection, then checks; returns the `PING` round trip.
    ///
    /// A connection kept from an earlier check may have been closed under us (`CLIENT KILL`, an
    /// idle timeout, a proxy) while Redis is fine: that one failure is retried at once on a
    /// fresh connection, which a server that is really gone refuses.
    async fn check_connection(&mut self) -> Result<Duration, CheckError> {
        let reused = self.conn.is_some();
        let outcome = match self.check_once().await {
            // The sentinels name another master: check that one now, not at the next interval.
            Err(err) if std::mem::take(&mut self.moved) => {
                debug!(reason = err.reason(), "redis_check_master_moved");
                self.check_once().await
            }
            Err(err) if reused && err.kind() == CheckErrorKind::Connection => {
                debug!(reason = err.reason(), "redis_check_reconnect");
                self.disconnect();
                self.check_once().await
            }
            outcome => outcome,
        };
        let Err(err) = &outcome else {
            self.timeouts_in_row = 0;
            return outcome;
        };
        // One slow answer is not an outage yet (up to `fall` in a row): the next check reuses
        // the connection rather than opening one, which a frozen Redis would hold for the whole
        // connect timeout. A late reply cannot be taken for the next one: the multiplexed
        // connection matches replies to requests in order and drops those nobody waits for.
        if err.kind() != CheckErrorKind::Timeout {
            self.timeouts_in_row = 0;
        }
        let slow = err.kind() == CheckErrorKind::Timeout && self.conn.is_some() && {
            self.timeouts_in_row += 1;
            self.timeouts_in_row < self.config.monitor.fall.max(1)
        };
        if !slow
            && matches!(
                err.kind(),
                CheckErrorKind::Connection
                    | CheckErrorKind::Timeout
                    | CheckErrorKind::Auth
                    | CheckErrorKind::Config
            )
        {
            self.disconnect();
        }
        outcome
    }

    /// Forgets the connection, so the next check opens a fresh one.
    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
        self.closed = None;
        self.timeouts_in_row = 0;
    }

    /// What is left of `step`'s own timeout before the deadline, if there is one.
    fn budget(&self, step: Duration) -> Duration {
        self.deadline.map_or(step, |deadline| {
            step.min(deadline.saturating_duration_since(Instant::now()))
        })
    }

    /// `err`, from `what` given `budget`: the client's own timeouts say so in the same words as
    /// ours (the two race), anything else is classified.
    fn failed(&self, what: &str, budget: Duration, err: &RedisError) -> CheckError {
        if err.is_timeout() {
            timed_out(what, budget)
        } else {
            classify(err, &self.context)
        }
    }

    async fn check_once(&mut self) -> Result<Duration, CheckError> {
        if self.conn.is_none() {
            let budget = self.budget(self.timeouts.connect);
            let closed = Arc::new(Notify::new());
            let connected =
                tokio::time::timeout(budget, self.target.connect(&self.settings, &closed));
            let (conn, tells_closed) = match connected.await {
                Ok(Ok(connected)) => connected,
                Ok(Err(err)) => return Err(self.diagnose(Some(&err), budget).await),
                Err(_) => return Err(self.diagnose(None, budget).await),
            };
            self.conn = Some(conn);
            self.closed = tells_closed.then_some(closed);
        }

        let budget = self.budget(self.timeouts.response);
        let Some(conn) = self.conn.as_mut() else {
            unreachable!("connected above");
        };
        let started = Instant::now();
        let reply = tokio::time::timeout(budget, redis::cmd("PING").query_async::<Value>(conn))
            .await
            .map_err(|_| timed_out("PING", budget))?;
        let reply = reply.map_err(|err| self.failed("PING", budget, &err))?;
        if !matches!(&reply, Value::SimpleString(pong) if pong == "PONG") {
            return Err(CheckError::new(
                CheckErrorKind::NotReady,
                "PING got an unexpected reply",
            ));
        }
        let latency = started.elapsed();

        let budget = self.budget(self.timeouts.response);
        let Some(conn) = self.conn.as_mut() else {
            unreachable!("connected above");
        };
        let verified = tokio::time::timeout(budget, self.target.verify(conn))
            .await
            .map_err(|_| timed_out("topology check", budget))?;
        let verified = verified.map_err(|err| self.failed("topology check", budget, &err))?;
        if let Some(Unhealthy {
            reason,
            reconnect,
            retry_now,
        }) = verified
        {
            if reconnect {
                self.disconnect();
            }
            self.moved = retry_now;
            return Err(CheckError::new(CheckErrorKind::NotReady, reason));
        }

        let budget = self.budget(self.timeouts.response);
        if let (Some((key, ttl_ms)), Some(conn)) = (&self.write_check, self.conn.as_mut()) {
            // Catches what PING cannot: READONLY after a failover, OOM, paused writes.
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(now_millis()).arg("PX").arg(*ttl_ms);
            let written = tokio::time::timeout(budget, cmd.query_async::<()>(conn))
                .await
                .map_err(|_| timed_out("write check", budget))?;
            written.map_err(|err| self.failed("write check", budget, &err))?;
        }
        Ok(latency)
    }

    /// A connect that failed (`err`, or `None` when it timed out after `budget`) is looked at
    /// once more, for the mistakes that look like an outage: `rediss://` at a server that speaks
    /// plain Redis (the handshake waits for an answer that never comes), `redis://` at a server
    /// that speaks only TLS (it hangs up), and an address where something else than Redis
    /// answers (an HTTP server, say): what it answers a plain `PING` tells which.
    async fn diagnose(&self, err: Option<&RedisError>, budget: Duration) -> CheckError {
        let classified = match err {
            Some(err) => self.failed("connect", budget, err),
            None => timed_out("connect", budget),
        };
        let within = self.budget(self.diagnosis);
        if !matches!(
            classified.kind(),
            CheckErrorKind::Timeout | CheckErrorKind::Connection | CheckErrorKind::Config
        ) {
            return classified;
        }
        if let Some((host, port)) = self.target.tls_address() {
            return match answer_to_ping(&host, port, within).await {
                Some(Answer::Redis) => CheckError::new(
                    CheckErrorKind::Config,
                    format!(
                        "TLS handshake failed: {host}:{port} speaks plain Redis, not TLS; use \
                         redis:// instead of rediss://"
                    ),
                ),
                Some(Answer::Other(shown)) => CheckError::new(
                    CheckErrorKind::Config,
                    format!(
                        "TLS handshake failed: {host}:{port} speaks neither TLS nor Redis: it \
                         answered a plain PING with {shown} (check the host and port)"
                    ),
                ),
                Some(Answer::Tls) | None => classified,
            };
        }
        let Some((host, port)) = self.target.plain_address() else {
            return classified;
        };
        if err.is_some_and(is_not_resp) {
            return match answer_to_ping(&host, port, within).await {
                Some(Answer::Other(shown)) => CheckError::new(
                    CheckErrorKind::Config,
                    format!(
                        "{host}:{port} does not speak Redis: it answered PING with {shown} \
                         (check the host and port)"
                    ),
                ),
                Some(Answer::Tls) => CheckError::new(
                    CheckErrorKind::Config,
                    format!(
                        "{host}:{port} speaks TLS, not plain Redis; use rediss:// instead of \
                         redis://"
                    ),
                ),
                Some(Answer::Redis) | None => classified,
            };
        }
        if classified.kind() == CheckErrorKind::Connection && speaks_tls(&host, port, within).await
        {
            return CheckError::new(
                CheckErrorKind::Config,
                format!(
                    "{host}:{port} speaks TLS and hung up on plain Redis; use rediss:// instead \
                     of redis://"
                ),
            );
        }
        classified
    }
}

pub(crate) fn timed_out(what: &str, after: Duration) -> CheckError {
    // To the nearest millisecond: a step that got what was left of a 2 s deadline got 2000 ms
    // less a few microseconds.
    let ms = (after.as_micros() + 500) / 1000;
    CheckError::new(
        CheckErrorKind::Timeout,
        format!("{what} timed out after {ms} ms"),
    )
}

/// Turns a client error into a failure class and a reason an operator can act on. Server
/// messages are repeated without any arguments they echo: those can hold a password.
fn classify(err: &RedisError, context: &Context) -> CheckError {
    use CheckErrorKind::*;
    let code = err.code().unwrap_or_default();
    let detail = err.detail().map(without_arguments).unwrap_or_default();
    let message = err.to_string();
    let (kind, reason): (CheckErrorKind, String) = match err.kind() {
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
        _ if code == "ERR" && is_unknown_sentinel_command(&detail) => {
            (NotReady, NOT_A_SENTINEL.into())
        }
        _ if message.contains("does not point to a sentinel") => (NotReady, NOT_A_SENTINEL.into()),
        _ if is_not_resp(err) => (
            Config,
            "the server does not speak Redis: its answer is not in the Redis protocol (check \
             the host and port)"
                .into(),
        ),
        _ if message.contains("invalid peer certificate") => {
            (Config, certificate(&message, context))
        }
        _ if is_tls_failure(&message) => (
            Config,
            format!("TLS handshake failed: {}", sanitize_error(&message)),
        ),
        ErrorKind::InvalidClientConfig => (
            Config,
            format!("invalid client configuration: {}", sanitize_error(&message)),
        ),
        _ if message.contains("failed to lookup address") => {
            let hosts = context.hosts.join(", ");
            (
                Connection,
                format!("cannot resolve the host name {hosts}: no such host"),
            )
        }
        _ if err.is_timeout() => (Timeout, "timed out".into()),
        _ if err.is_connection_refusal() => (Connection, "connection refused".into()),
        _ if err.is_io_error() || err.is_connection_dropped() => {
            // I/O messages carry no secrets ("Connection reset by peer (os error 104)").
            (Connection, sanitize_error(&message))
        }
        _ if detail.contains("max number of clients") => {
            (NotReady, "max number of clients reached".into())
        }
        _ if !code.is_empty() => (
            NotReady,
            format!("redis replied with an error: {code} {detail}")
                .trim_end()
                .to_owned(),
        ),
        _ => (NotReady, sanitize_error(&message)),
    };
    CheckError::new(kind, reason)
}

const NOT_A_SENTINEL: &str = "not a sentinel: the server named as a sentinel does not know \
    the SENTINEL command (point REDIS_SENTINEL_URLS at the sentinels, usually port 26379)";

/// A server error's text up to where it starts repeating the command's arguments
/// (`..., with args beginning with: ...`), sanitized.
fn without_arguments(detail: &str) -> String {
    let cut = detail.find(", with args").unwrap_or(detail.len());
    sanitize_error(&detail[..cut])
}

fn is_unknown_sentinel_command(detail: &str) -> bool {
    let detail = detail.to_ascii_lowercase();
    detail.contains("unknown command") && detail.contains("sentinel")
}

/// Why the server's certificate was refused, in terms of what to change.
fn certificate(message: &str, context: &Context) -> String {
    let hosts = context.hosts.join(", ");
    if message.contains("UnknownIssuer") || message.contains("BadSignature") {
        let roots = if context.custom_ca {
            "the CA in REDIS_TLS_CA_FILE"
        } else {
            "a CA the system trusts (set REDIS_TLS_CA_FILE to the CA that signed it)"
        };
        format!("TLS handshake failed: the server's certificate is not signed by {roots}")
    } else if message.contains("NotValidForName") || message.contains("not valid for name") {
        format!(
            "TLS handshake failed: the server's certificate does not name the host {hosts} \
             (connect by a name the certificate lists)"
        )
    } else if message.contains("Expired") {
        "TLS handshake failed: the server's certificate has expired".to_owned()
    } else {
        format!(
            "TLS handshake failed: the server's certificate was refused ({})",
            sanitize_error(message)
        )
    }
}

/// True when the connection failed in the TLS handshake for another reason than the
/// certificate: redis keeps the rustls error behind an `Arc`, out of reach of a downcast, so its
/// message is what tells.
fn is_tls_failure(message: &str) -> bool {
    const TLS_MESSAGES: [&str; 4] = [
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "received corrupt message",
    ];
    TLS_MESSAGES.iter().any(|m| message.contains(m))
}

/// What a server answered a plain `PING`.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// `+PONG`, or an error such as `-NOAUTH`: plain Redis.
    Redis,
    /// A TLS record (an alert, most likely).
    Tls,
    /// Something else, [shown](show_first_word) for a message.
    Other(String),
}

/// The most of an answer that is read to tell what it is.
const ANSWER_BYTES: usize = 64;
/// The most of an answer's first word that a message shows.
const SHOWN_BYTES: usize = 16;

/// What `host:port` answers a plain `PING` within `within`, if anything.
async fn answer_to_ping(host: &str, port: u16, within: Duration) -> Option<Answer> {
    let mut answer = Vec::with_capacity(ANSWER_BYTES);
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await?;
        stream.write_all(b"PING\r\n").await?;
        // Up to the end of the first word: a slow server may send it in pieces.
        let mut chunk = [0u8; ANSWER_BYTES];
        while answer.len() < ANSWER_BYTES && !answer.iter().any(u8::is_ascii_whitespace) {
            let read = stream
                .read(&mut chunk[..ANSWER_BYTES - answer.len()])
                .await?;
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..read]);
        }
        Ok::<(), std::io::Error>(())
    };
    // A server that sent part of an answer and then nothing is judged on that part.
    let _ = tokio::time::timeout(within, exchange).await;
    match answer.as_slice() {
        [] => None,
        [b'+' | b'-', ..] => Some(Answer::Redis),
        [0x15 | 0x16, 0x03, ..] => Some(Answer::Tls),
        bytes => Some(Answer::Other(show_first_word(bytes))),
    }
}

/// The first word of an answer in backticks, for a message: at most [`SHOWN_BYTES`] bytes,
/// anything but printable ASCII escaped (`\x00`), `…` when cut. An answer to a bare `PING`
/// cannot echo anything of ours.
fn show_first_word(bytes: &[u8]) -> String {
    let word_end = bytes
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(bytes.len());
    let word = &bytes[..word_end.min(SHOWN_BYTES)];
    let mut shown = String::from("`");
    for &byte in word {
        if byte.is_ascii_graphic() && byte != b'`' {
            shown.push(char::from(byte));
        } else {
            shown.push_str(&format!("\\x{byte:02x}"));
        }
    }
    if word_end > SHOWN_BYTES {
        shown.push('…');
    }
    shown.push('`');
    shown
}

/// True when the server's answer could not be read as the Redis protocol (RESP) at all: the
/// client's parser failed, which a conversion of a well-formed reply never makes it do.
fn is_not_resp(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Parse && err.to_string().contains("Parse error")
}

/// True when `host:port` answers a TLS `ClientHello` with a TLS record (a handshake or an
/// alert).
async fn speaks_tls(host: &str, port: u16, within: Duration) -> bool {
    let Some(hello) = client_hello() else {
        return false;
    };
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await.ok()?;
        stream.write_all(&hello).await.ok()?;
        let mut record = [0u8; 2];
        stream.read_exact(&mut record).await.ok()?;
        Some(matches!(record, [0x15 | 0x16, 0x03]))
    };
    tokio::time::timeout(within, exchange)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The first flight of a TLS client, from rustls: only sent, to see whether TLS answers.
fn client_hello() -> Option<Vec<u8>> {
    // Deprecated since rustls 0.23.48 for lacking post-quantum key exchange, which does not
    // matter here: this hello only draws the server's first reply, and no key is ever agreed.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("redis").ok()?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).ok()?;
    Some(hello)
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Connects once and checks once, within `timeout` in all: what `redis-gate ping` does.
///
/// `timeout` covers the whole of it: connecting (the TLS handshake and the login included),
/// `PING`, the topology's own check, the write check when it is on, and looking into a failed
/// connect. Each step gets what is left of it. With TLS, a quarter of it (up to half a second)
/// is kept from the connect to find out whether the server speaks plain Redis instead, since
/// such a handshake never ends by itself.
///
/// `Ok` carries the `PING` round trip. A `LOADING` or `NOAUTH` reply is an error here, unlike
/// `redis-cli ping`, which exits 0 on both. The error's kind tells a configuration that cannot
/// work ([`CheckErrorKind::Config`]: TLS spoken to a plain server or the reverse, a certificate
/// that does not verify, an address where something else than Redis answers) from a Redis that
/// is not available.
pub async fn ping(config: &RedisConfig, timeout: Duration) -> Result<Duration, CheckError> {
    let deadline = Instant::now() + timeout;
    let diagnosis = DIAGNOSIS.min(timeout / 4);
    let mut config = config.clone();
    config.timeouts.connect = if config.is_tls() {
        timeout - diagnosis
    } else {
        timeout
    };
    config.timeouts.response = timeout;
    let (target, pool) = crate::connect::connect(&config)
        .map_err(|err| CheckError::new(CheckErrorKind::Config, err.to_string()))?;
    let mut check = RedisCheck::new(&config, target, pool, Arc::default());
    check.diagnosis = diagnosis;
    check.deadline = Some(deadline);
    // Every step is bounded by the deadline already; this only guards the sum.
    tokio::time::timeout_at(deadline.into(), check.check_connection())
        .await
        .map_err(|_| timed_out("ping", timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_shown_by_its_first_word_printable_and_bounded() {
        assert_eq!(
            show_first_word(b"HTTP/1.1 400 Bad Request\r\n"),
            "`HTTP/1.1`"
        );
        assert_eq!(
            show_first_word(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu\r\n"),
            "`SSH-2.0-OpenSSH_…`"
        );
        assert_eq!(
            show_first_word(b"J\x00\x00\x00\n8.0.36"),
            "`J\\x00\\x00\\x00`"
        );
        assert_eq!(show_first_word(b"a`b\xff"), "`a\\x60b\\xff`");
    }
}
