//! The monitor: watches Redis on its own connection and keeps the availability handle true.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::{PoolError, TimeoutType};
use rand::SeedableRng;
use rand::rngs::StdRng;
use redis_gate_core::{
    Availability, AvailabilityReporter, CheckError, CheckErrorKind, Reading, StartupPolicy, Status,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::RedisConfig;
use crate::check::RedisCheck;
use crate::connect::BuildError;
use crate::pool::{PooledConnection, RedisPool};

/// How often, at most, a summary of ongoing connection failures is logged.
const FAILURE_SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Why [`RedisMonitor::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The settings cannot be used by the Redis client or the pool. No connection was tried.
    #[error("redis configuration rejected: {0}")]
    Config(#[from] BuildError),
    /// [`StartupPolicy::FailClosed`] and Redis did not answer within the startup timeout.
    #[error("redis not available within {} ms: {last_error}", waited.as_millis())]
    Unavailable {
        /// How long the monitor waited.
        waited: Duration,
        /// The last failure, sanitized.
        last_error: String,
    },
}

/// What [`RedisMonitor::connection`] returns instead of a connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The handle says Redis is unavailable: no connection was attempted and nothing waited.
    #[error("redis is unavailable ({0})")]
    Unavailable(Reading),
    /// The pool could not hand out a connection (all in use past the wait timeout, or a new
    /// connection failed). This does not by itself make the handle unavailable.
    #[error("redis pool: {0}")]
    Pool(#[from] PoolError),
}

/// A pool that fails fast: [`GatedPool::get`] returns [`ConnectionError::Unavailable`] at once
/// while the handle says Redis is unavailable. Cheap to clone; give one to each handler.
#[derive(Clone)]
pub struct GatedPool {
    pool: RedisPool,
    availability: Availability,
    failures: Arc<PoolFailures>,
}

/// Connections the application's pool failed to open, reported by [`GatedPool::get`] to the
/// monitor. Its own connection can stay healthy while new ones are refused (`maxclients`), so a
/// `PING` alone would never notice.
#[derive(Default)]
struct PoolFailures {
    count: AtomicU32,
}

impl PoolFailures {
    fn record(&self, err: &PoolError) {
        // Waiting for a free slot is saturation, not an outage; only failed connects count.
        if matches!(
            err,
            PoolError::Backend(_)
                | PoolError::Timeout(TimeoutType::Create)
                | PoolError::PostCreateHook(_)
        ) {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn clear(&self) {
        if self.count.load(Ordering::Relaxed) != 0 {
            self.count.store(0, Ordering::Relaxed);
        }
    }

    fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }
}

impl GatedPool {
    /// A pooled connection, or an error at once while Redis is unavailable.
    pub async fn get(&self) -> Result<PooledConnection, ConnectionError> {
        let reading = self.availability.reading();
        if !reading.is_available() {
            return Err(ConnectionError::Unavailable(reading));
        }
        match self.pool.get().await {
            Ok(conn) => {
                self.failures.clear();
                Ok(conn)
            }
            Err(err) => {
                self.failures.record(&err);
                Err(err.into())
            }
        }
    }

    /// The handle the pool is gated on.
    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    /// The underlying pool, ungated.
    pub fn pool(&self) -> &RedisPool {
        &self.pool
    }
}

impl std::fmt::Debug for GatedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedPool")
            .field("availability", &self.availability)
            .field("pool", &self.pool.status())
            .finish()
    }
}

/// Watches Redis and keeps an [`Availability`] handle true.
///
/// It owns a `deadpool_redis::Pool` for the application ([`pool`](Self::pool),
/// [`connection`](Self::connection)) and checks Redis on a connection of its own, so a pool
/// exhausted by slow handlers never looks like an outage. It connects at once, `PING`s every
/// check interval and as soon as its connection closes (RESP3 tells; standalone Redis 6 or
/// later), flips the handle on refused or reset connections immediately and on timeouts after
/// `fall` in a row, reconnects with capped, jittered backoff, and logs transitions rather than
/// attempts.
///
/// **Keep it alive** for as long as anything uses its handle: store it next to the server, or
/// in `main`. The handle never outlives its monitor: once the monitor is dropped or
/// [`shutdown`](Self::shutdown), or its task panics or is aborted, every reader sees
/// `Failed` with the last error `monitor stopped` (readiness `503`, `RequireRedis` `503`,
/// [`GatedPool::get`] failing fast), and one `redis_monitor_stopped` event is logged (at error
/// level, unless it was an explicit `shutdown()`). A monitor that completes no check within its
/// [stall timeout](redis_gate_core::MonitorSettings::stall_timeout) makes the handle say `Failed` with
/// `monitor stalled` until its checks complete again.
///
/// ```no_run
/// use redis_gate_deadpool::{RedisConfig, RedisMonitor};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let monitor = RedisMonitor::start(RedisConfig::from_env()?).await?;
/// let redis = monitor.availability(); // give this to the layers
/// let pool = monitor.gated_pool();    // and this to the handlers
/// # Ok(()) }
/// ```
#[must_use = "dropping the monitor stops it, and its handle then says Redis is unavailable"]
pub struct RedisMonitor {
    pool: RedisPool,
    pool_failures: Arc<PoolFailures>,
    reporter: Arc<AvailabilityReporter>,
    availability: Availability,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    watchdog: JoinHandle<()>,
}

impl RedisMonitor {
    /// Builds the pool, starts watching, and applies the startup policy: with
    /// [`StartupPolicy::FailClosed`] it waits up to the startup timeout for the first connection
    /// and fails if none comes; with [`StartupPolicy::Degraded`] it returns at once while the
    /// first attempt runs (use [`wait_available`](Self::wait_available) to wait anyway).
    ///
    /// Must be called within a Tokio runtime.
    pub async fn start(config: RedisConfig) -> Result<RedisMonitor, StartError> {
        info!(
            topology = config.topology().as_str(),
            tls = config.is_tls(),
            source = config.source().as_str(),
            url = %config,
            "redis_config"
        );
        for warning in config.warnings() {
            warn!(warning = warning.as_str(), "redis_config_warning");
        }
        let (target, pool) = crate::connect::connect(&config).map_err(|err| {
            error!(reason = %err, "redis_config_invalid");
            StartError::Config(err)
        })?;
        let check = RedisCheck::new(&config, target);

        let reporter = Arc::new(AvailabilityReporter::new(Arc::clone(&config.name)));
        let availability = reporter.availability();
        let (stop, stopped) = watch::channel(false);
        let stall_after = config.stall_after();
        let (deadline, deadlines) = watch::channel(Instant::now() + stall_after);
        let pool_failures = Arc::new(PoolFailures::default());
        let watcher = Watcher::new(
            config.clone(),
            check,
            pool.clone(),
            Arc::clone(&reporter),
            Arc::clone(&pool_failures),
        );
        let task = tokio::spawn(watcher.run(stopped, deadline));
        let watchdog = tokio::spawn(watch_for_stalls(
            Arc::clone(&reporter),
            deadlines,
            stall_after,
        ));
        let monitor = RedisMonitor {
            pool,
            pool_failures,
            reporter,
            availability,
            stop,
            task: Some(task),
            watchdog,
        };

        let startup_timeout = config.monitor.startup_timeout;
        if config.monitor.startup == StartupPolicy::FailClosed
            && !monitor.wait_available(startup_timeout).await
        {
            let last_error = monitor
                .availability
                .snapshot()
                .last_error()
                .unwrap_or("no answer")
                .to_owned();
            error!(
                waited_ms = startup_timeout.as_millis() as u64,
                reason = last_error.as_str(),
                "redis_connect_fatal"
            );
            monitor.shutdown().await;
            return Err(StartError::Unavailable {
                waited: startup_timeout,
                last_error,
            });
        }
        Ok(monitor)
    }

    /// Waits until Redis is available, up to `timeout`. Returns whether it is.
    pub async fn wait_available(&self, timeout: Duration) -> bool {
        let mut changes = self.availability.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.availability.is_available() {
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return self.availability.is_available(),
            }
        }
        true
    }

    /// The read handle, for the layers and for application code.
    pub fn availability(&self) -> Availability {
        self.availability.clone()
    }

    /// The application's pool (ungated: [`connection`](Self::connection) fails fast instead).
    pub fn pool(&self) -> &RedisPool {
        &self.pool
    }

    /// A cheap-to-clone pool that fails fast while Redis is unavailable.
    pub fn gated_pool(&self) -> GatedPool {
        GatedPool {
            pool: self.pool.clone(),
            availability: self.availability.clone(),
            failures: Arc::clone(&self.pool_failures),
        }
    }

    /// A pooled connection, or [`ConnectionError::Unavailable`] at once while the handle says
    /// Redis is unavailable: application code never hangs on a dead Redis.
    pub async fn connection(&self) -> Result<PooledConnection, ConnectionError> {
        self.gated_pool().get().await
    }

    /// Operator override: marks Redis unavailable (maintenance, draining) until
    /// [`clear_override`](Self::clear_override), whatever the checks say.
    pub fn mark_unavailable(&self, reason: &str) {
        if self.reporter.mark_unavailable(reason) {
            warn!(reason, "redis_override_set");
        }
    }

    /// Lifts the operator override.
    pub fn clear_override(&self) {
        if self.reporter.clear_override() {
            info!("redis_override_cleared");
        }
    }

    /// Stops the background task, waits for it to finish and closes the pool. The handle then
    /// says `Failed` with the last error `monitor stopped`, for good.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.pool.close();
    }
}

impl Drop for RedisMonitor {
    fn drop(&mut self) {
        // Before the task is gone, not when the runtime gets round to dropping it: no reader
        // may see the last reading of a monitor that no longer watches.
        if self.reporter.stop() {
            error!(
                cause = "dropped",
                hint = "keep the RedisMonitor alive for as long as its handle is used",
                "redis_monitor_stopped"
            );
        }
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.watchdog.abort();
    }
}

/// Lives inside the monitor's task: when the task ends, however it ends (a requested shutdown,
/// a panic, an abort, the runtime shutting down), the handle stops with it.
struct StopOnExit {
    reporter: Arc<AvailabilityReporter>,
    stopped: watch::Receiver<bool>,
}

impl Drop for StopOnExit {
    fn drop(&mut self) {
        if !self.reporter.stop() {
            return;
        }
        if *self.stopped.borrow() {
            info!(cause = "shutdown", "redis_monitor_stopped");
        } else if std::thread::panicking() {
            error!(cause = "panicked", "redis_monitor_stopped");
        } else {
            error!(cause = "aborted", "redis_monitor_stopped");
        }
    }
}

/// Marks the handle stalled when the watcher misses its deadline: the deadline of the check it
/// has scheduled, plus the stall timeout. Runs beside the watcher, so a check that never returns
/// cannot hold it up; ends when the watcher does.
async fn watch_for_stalls(
    reporter: Arc<AvailabilityReporter>,
    mut deadlines: watch::Receiver<Instant>,
    stall_after: Duration,
) {
    loop {
        let due = tokio::time::Instant::from_std(*deadlines.borrow_and_update());
        tokio::select! {
            changed = deadlines.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep_until(due) => {
                if reporter.mark_stalled() {
                    error!(
                        stall_timeout_ms = stall_after.as_millis() as u64,
                        "redis_monitor_stalled"
                    );
                }
                if deadlines.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

impl std::fmt::Debug for RedisMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMonitor")
            .field("availability", &self.availability)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// The background task's state.
struct Watcher {
    config: RedisConfig,
    check: RedisCheck,
    pool: RedisPool,
    reporter: Arc<AvailabilityReporter>,
    pool_failures: Arc<PoolFailures>,
    rng: StdRng,
    started: Instant,
    /// Successful connections so far: before the first, failures keep the status `Connecting`.
    ever_connected: bool,
    /// The startup budget (attempts or time) ran out before the first connection.
    gave_up: bool,
    /// Failed attempts since Redis was last available; drives the backoff.
    failures: u32,
    timeouts_in_row: u32,
    successes_in_row: u32,
    down_since: Instant,
    last_failure_log: Option<Instant>,
    failures_since_log: u32,
}

impl Watcher {
    fn new(
        config: RedisConfig,
        check: RedisCheck,
        pool: RedisPool,
        reporter: Arc<AvailabilityReporter>,
        pool_failures: Arc<PoolFailures>,
    ) -> Watcher {
        let now = Instant::now();
        Watcher {
            config,
            check,
            pool,
            reporter,
            pool_failures,
            rng: StdRng::from_os_rng(),
            started: now,
            ever_connected: false,
            gave_up: false,
            failures: 0,
            timeouts_in_row: 0,
            successes_in_row: 0,
            down_since: now,
            last_failure_log: None,
            failures_since_log: 0,
        }
    }

    async fn run(mut self, mut stopped: watch::Receiver<bool>, deadline: watch::Sender<Instant>) {
        let _stop_on_exit = StopOnExit {
            reporter: Arc::clone(&self.reporter),
            stopped: stopped.clone(),
        };
        info!(
            url = %self.config,
            startup_timeout_ms = self.config.monitor.startup_timeout.as_millis() as u64,
            "redis_connect_start"
        );
        let stall_after = self.config.stall_after();
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                outcome = self.check() => outcome,
                _ = stopped.wait_for(|stop| *stop) => break,
            };
            let took = started.elapsed();
            #[cfg(feature = "metrics")]
            crate::metrics::check(&self.config.name, took, outcome.as_ref().err());
            if self.reporter.record_check(took) {
                // After a successful check, the handle has been down since the stall: count the
                // downtime from the start of the check that stalled.
                if self.successes_in_row > 0 {
                    self.down_since = started;
                }
                info!(check_ms = took.as_millis() as u64, "redis_monitor_resumed");
            }
            let delay = match outcome {
                Ok(latency) => self.succeeded(latency),
                Err(err) => self.failed(err),
            };
            deadline.send_replace(Instant::now() + delay + stall_after);
            // A probe connection that closes (Redis killed, restarted, a proxy gone) is
            // checked at once instead of at the next interval.
            let closed = self.check.closed();
            let connection_closed = async {
                match closed {
                    Some(closed) => closed.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = connection_closed => debug!("redis_probe_connection_closed"),
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
    }

    /// The health check; when the application's pool has failed to open connections, also a
    /// fresh connection, which is what the pool needs and what `maxclients` refuses.
    async fn check(&mut self) -> Result<Duration, CheckError> {
        let latency = self.check.check().await?;
        if self.pool_failures.any() {
            crate::check::ping(&self.config, self.config.timeouts.connect)
                .await
                .map_err(|err| {
                    CheckError::new(err.kind(), format!("new connections fail: {err}"))
                })?;
            self.pool_failures.clear();
        }
        Ok(latency)
    }

    fn is_available(&self) -> bool {
        self.reporter.reading().status() == Status::Connected
    }

    fn succeeded(&mut self, latency: Duration) -> Duration {
        self.timeouts_in_row = 0;
        self.successes_in_row += 1;
        if !self.is_available() && self.successes_in_row >= self.config.monitor.rise.max(1) {
            let attempt = self.failures + 1;
            self.reporter.set_status(Status::Connected);
            if self.ever_connected {
                info!(
                    downtime_ms = self.down_since.elapsed().as_millis() as u64,
                    attempt, "redis_reconnected"
                );
            } else {
                info!(
                    duration_ms = self.started.elapsed().as_millis() as u64,
                    latency_us = latency.as_micros() as u64,
                    attempt,
                    "redis_connect_ok"
                );
            }
            self.ever_connected = true;
            self.gave_up = false;
            self.failures = 0;
            self.last_failure_log = None;
            self.failures_since_log = 0;
        }
        self.config.monitor.check_interval
    }

    fn failed(&mut self, err: CheckError) -> Duration {
        self.successes_in_row = 0;
        let was_available = self.is_available();
        if err.kind() == CheckErrorKind::Timeout && was_available {
            self.timeouts_in_row += 1;
            if self.timeouts_in_row < self.config.monitor.fall.max(1) {
                // One slow answer is not an outage yet: check again at once.
                debug!(
                    reason = err.reason(),
                    timeouts = self.timeouts_in_row,
                    "redis_check_slow"
                );
                return Duration::ZERO;
            }
        }
        self.timeouts_in_row = 0;
        self.failures = self.failures.saturating_add(1);

        if !self.ever_connected
            && !self.gave_up
            && (self.failures >= self.config.monitor.startup_attempts.max(1)
                || self.started.elapsed() >= self.config.monitor.startup_timeout)
        {
            self.gave_up = true;
            if self.config.monitor.startup == StartupPolicy::Degraded {
                self.reporter.mark_started();
                warn!(
                    attempts = self.failures,
                    waited_ms = self.started.elapsed().as_millis() as u64,
                    reason = err.reason(),
                    "redis_connect_degraded"
                );
            }
        }
        let status = if err.kind() == CheckErrorKind::Auth
            || err.kind() == CheckErrorKind::Config
            || self.gave_up
        {
            Status::Failed
        } else if self.ever_connected {
            Status::Disconnected
        } else {
            Status::Connecting
        };
        let delay = if self.gave_up || status == Status::Failed {
            self.config.monitor.backoff.delay(u32::MAX, &mut self.rng)
        } else {
            self.config
                .monitor
                .backoff
                .delay(self.failures - 1, &mut self.rng)
        };

        self.reporter
            .record_failure(err.reason(), Some(Instant::now() + delay));
        self.reporter.set_status(status);
        if was_available {
            self.down_since = Instant::now();
            // Idle pooled connections are most likely dead: drop them so handlers do not
            // pick them up once Redis is back.
            self.pool.drop_idle();
            warn!(reason = err.reason(), "redis_connection_lost");
            self.last_failure_log = Some(Instant::now());
            self.failures_since_log = 0;
        } else {
            self.log_failure(&err);
        }
        delay
    }

    /// The first failure of an outage is logged; after that, one summary a minute at most.
    fn log_failure(&mut self, err: &CheckError) {
        self.failures_since_log += 1;
        let due = self
            .last_failure_log
            .is_none_or(|at| at.elapsed() >= FAILURE_SUMMARY_EVERY);
        if due {
            warn!(
                reason = err.reason(),
                attempt = self.failures,
                failures_since_last_log = self.failures_since_log,
                down_for_ms = self.down_since.elapsed().as_millis() as u64,
                "redis_connect_fail"
            );
            self.last_failure_log = Some(Instant::now());
            self.failures_since_log = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use redis_gate_testkit::logs::LogCapture;

    use super::*;

    #[tokio::test]
    async fn a_panicking_monitor_task_stops_the_handle_and_says_so() {
        let (logs, _guard) = LogCapture::install();
        let reporter = Arc::new(AvailabilityReporter::default());
        reporter.set_status(Status::Connected);
        let redis = reporter.availability();
        let (_stop, stopped) = watch::channel(false);
        let stop_on_exit = StopOnExit {
            reporter: Arc::clone(&reporter),
            stopped,
        };
        let task = tokio::spawn(async move {
            let _stop_on_exit = stop_on_exit;
            panic!("a bug in a health check");
        });
        assert!(task.await.unwrap_err().is_panic());

        assert!(!redis.is_available());
        assert_eq!(redis.snapshot().last_error(), Some("monitor stopped"));
        let stopped = logs.events("redis_monitor_stopped");
        assert_eq!(stopped.len(), 1, "{}", logs.text());
        assert!(stopped[0].contains(r#""level":"ERROR""#), "{}", stopped[0]);
        assert!(
            stopped[0].contains(r#""cause":"panicked""#),
            "{}",
            stopped[0]
        );
    }
}
