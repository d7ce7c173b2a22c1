//! One health check on the monitor's own connection: connect if needed, `PING`, whatever the
//! topology needs, and the write check; and in plain words what went wrong and what to do.

mod classify;
mod sniff;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, ErrorKind, RedisError, ServerErrorKind, Value};
use redis_gate_core::{CheckError, CheckErrorKind, Connections, HealthCheck};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use self::classify::{Context, timed_out};
use crate::RedisConfig;
use crate::config::Timeouts;
use crate::connect::{CheckTarget, Unhealthy, connection_settings};
use crate::pool::{PoolFailures, RedisPool};

impl HealthCheck for RedisCheck {
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

    /// Reopens the check's connection when told, and drops the pool's idle connections when
    /// Redis has just become unavailable: they are most likely dead, and handlers must not pick
    /// them up once Redis is back.
    fn apply(&mut self, connections: Connections) {
        match connections {
            Connections::Keep => {}
            Connections::Reopen => self.disconnect(),
            Connections::DropIdle => {
                self.disconnect();
                self.pool.drop_idle();
            }
        }
    }
}

/// The longest a failed connect is looked into.
const DIAGNOSIS: Duration = Duration::from_millis(500);

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
    /// The write check's own connection, so that a write held up (`CLIENT PAUSE WRITE`, a
    /// `FAILOVER`) never delays the `PING` of the next check queued behind it.
    write_conn: Option<MultiplexedConnection>,
    /// The user may not write the write check's key (`NOPERM`): said once, then writes go
    /// unchecked rather than reads failing.
    write_denied: bool,
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
            write_conn: None,
            write_denied: false,
            conn: None,
            closed: None,
            diagnosis: DIAGNOSIS.min(config.timeouts.connect),
            deadline: None,
            moved: false,
        }
    }

    /// Follows the sentinels' announcements, to check at once when the master moves (nothing
    /// for other topologies).
    pub(crate) fn follow_failovers(&mut self) {
        self.target.follow();
    }

    /// Connects if there is no connection, then checks; returns the `PING` round trip. What
    /// happens to the connection after a failure is the monitor's decision (see
    /// [`HealthCheck::apply`]).
    ///
    /// Two failures are checked again at once, within this check: a connection kept from an
    /// earlier check may have been closed under us (`CLIENT KILL`, an idle timeout, a proxy)
    /// while Redis is fine, so a closed one is retried on a fresh connection, which a server
    /// that is really gone refuses; and when the sentinels name another master, that one is
    /// checked now rather than at the next interval.
    async fn check_connection(&mut self) -> Result<Duration, CheckError> {
        let reused = self.conn.is_some();
        match self.check_once().await {
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
        }
    }

    /// Forgets the connection, so the next check opens a fresh one.
    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
        self.closed = None;
        self.write_conn = None;
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
            classify::classify(err, &self.context)
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

        self.check_writes().await?;
        Ok(latency)
    }

    /// The write check, when it is on: what `PING` cannot see, such as `READONLY` after a
    /// failover, `OOM`, `NOREPLICAS` or writes paused. Reads have answered by now, so a write
    /// refused or held up says `ReadOnly`; a write connection that was kept and turns out closed
    /// is retried once on a fresh one.
    async fn check_writes(&mut self) -> Result<(), CheckError> {
        if self.write_check.is_none() || self.write_denied {
            return Ok(());
        }
        let reused = self.write_conn.is_some();
        match self.write_once().await {
            Err(err) if reused && err.kind() == CheckErrorKind::Connection => {
                self.write_conn = None;
                self.write_once().await
            }
            outcome => outcome,
        }
    }

    async fn write_once(&mut self) -> Result<(), CheckError> {
        if self.write_conn.is_none() {
            let budget = self.budget(self.timeouts.connect);
            let connected = self.target.connect_beside(&self.settings);
            let conn = tokio::time::timeout(budget, connected)
                .await
                .map_err(|_| timed_out("write check connect", budget))?
                .map_err(|err| self.failed("write check connect", budget, &err))?;
            self.write_conn = Some(conn);
        }
        let budget = self.budget(self.timeouts.response);
        let (Some((key, ttl_ms)), Some(conn)) = (&self.write_check, self.write_conn.as_mut())
        else {
            return Ok(());
        };
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(now_millis()).arg("PX").arg(*ttl_ms);
        let Ok(written) = tokio::time::timeout(budget, cmd.query_async::<()>(conn)).await else {
            return Err(classify::write_held_up(budget));
        };
        match written {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoPerm) => {
                self.write_denied = true;
                warn!(
                    dependency = &*self.config.name,
                    key = key.as_str(),
                    "redis_write_check_denied"
                );
                Ok(())
            }
            // The client's own response timeout, which races ours.
            Err(err) if err.is_timeout() => Err(classify::write_held_up(budget)),
            Err(err) => {
                if err.is_io_error() || err.is_connection_dropped() {
                    self.write_conn = None;
                }
                Err(self.failed("write check", budget, &err))
            }
        }
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
            let answer = sniff::answer_to_ping(&host, port, within).await;
            return answer
                .and_then(|answer| classify::wrong_protocol(true, &host, port, &answer))
                .unwrap_or(classified);
        }
        let Some((host, port)) = self.target.plain_address() else {
            return classified;
        };
        if err.is_some_and(classify::is_not_resp) {
            let answer = sniff::answer_to_ping(&host, port, within).await;
            return answer
                .and_then(|answer| classify::wrong_protocol(false, &host, port, &answer))
                .unwrap_or(classified);
        }
        if classified.kind() == CheckErrorKind::Connection
            && sniff::speaks_tls(&host, port, within).await
        {
            return classify::tls_only(&host, port);
        }
        classified
    }
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
    let (target, manager) = crate::connect::connect(&config).map_err(config_error)?;
    let pool = RedisPool::new(manager, &config).map_err(config_error)?;
    let mut check = RedisCheck::new(&config, target, pool, Arc::default());
    check.diagnosis = diagnosis;
    check.deadline = Some(deadline);
    // Every step is bounded by the deadline already; this only guards the sum.
    tokio::time::timeout_at(deadline.into(), check.check_connection())
        .await
        .map_err(|_| timed_out("ping", timeout))?
}

fn config_error(err: crate::connect::BuildError) -> CheckError {
    CheckError::new(CheckErrorKind::Config, crate::error_chain(&err))
}
