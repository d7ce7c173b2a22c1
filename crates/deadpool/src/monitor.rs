//! The monitor: watches Redis on its own connection and keeps the availability handle true.

use std::sync::Arc;
use std::time::Duration;

use redis_gate_core::{Availability, Monitor, Unavailable};
use tracing::{error, info, warn};

use crate::RedisConfig;
use crate::check::RedisCheck;
use crate::connect::BuildError;
use crate::pool::{ConnectionError, GatedPool, PoolFailures, PooledConnection, RedisPool};

/// Why [`RedisMonitor::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The settings cannot be used by the Redis client or the pool. No connection was tried.
    #[error("redis configuration rejected")]
    Config(#[from] BuildError),
    /// [`StartupPolicy::FailClosed`](redis_gate_core::StartupPolicy::FailClosed) and Redis did
    /// not answer within the startup timeout: who, how long, and the last failure.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// Watches Redis and keeps an [`Availability`] handle true.
///
/// It owns a deadpool pool for the application ([`pool`](Self::pool),
/// [`connection`](Self::connection)) and checks Redis on a connection of its own, so a pool
/// exhausted by slow handlers never looks like an outage. It connects at once, `PING`s every
/// check interval and as soon as its connection closes (RESP3 tells; standalone Redis 6 or
/// later), flips the handle on refused or reset connections immediately and on timeouts after
/// `fall` in a row, reconnects with capped, jittered backoff, and logs transitions rather than
/// attempts. It is the Redis [`HealthCheck`](redis_gate_core::HealthCheck) on the generic
/// [`Monitor`](redis_gate_core::Monitor), whose rules and events it shares (named `redis_*`).
///
/// **Keep it alive** for as long as anything uses its handle: store it next to the server, or
/// in `main`. The handle never outlives its monitor: once the monitor is dropped or
/// [`shutdown`](Self::shutdown), or its task panics or is aborted, every reader sees
/// `Failed` with the last error `monitor stopped` (readiness `503`, `RequireRedis` `503`,
/// [`GatedPool::get`] failing fast), and one `redis_monitor_stopped` event is logged (at error
/// level, unless it was an explicit `shutdown()`). A monitor that completes no check within its
/// [stall timeout](redis_gate_core::MonitorSettings::stall_timeout) makes the handle say
/// `Failed` with `monitor stalled` until its checks complete again.
///
/// ```no_run
/// # mod redis_gate { pub use redis_gate_deadpool::*; pub mod config { pub use redis_gate_deadpool::*; } }
/// use redis_gate::{RedisConfig, RedisMonitor};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let monitor = RedisMonitor::start(RedisConfig::from_env()?).await?;
/// let redis = monitor.availability(); // give this to the layers
/// let pool = monitor.gated_pool();    // and this to the handlers
/// # Ok(()) }
/// ```
#[must_use = "dropping the monitor stops it, and its handle then says Redis is unavailable"]
pub struct RedisMonitor {
    monitor: Monitor,
    pool: RedisPool,
    pool_failures: Arc<PoolFailures>,
}

impl RedisMonitor {
    /// Builds the pool, starts watching, and applies the startup policy: with
    /// [`FailClosed`](redis_gate_core::StartupPolicy::FailClosed) it waits up to the startup
    /// timeout for the first connection and fails if none comes; with
    /// [`Degraded`](redis_gate_core::StartupPolicy::Degraded) it returns at once while the first
    /// attempt runs (use [`wait_available`](Self::wait_available) to wait anyway).
    ///
    /// Must be called within a Tokio runtime.
    pub async fn start(config: RedisConfig) -> Result<RedisMonitor, StartError> {
        info!(
            dependency = &*config.name,
            topology = config.topology().as_str(),
            tls = config.is_tls(),
            source = config.source().as_str(),
            url = %config,
            "redis_config"
        );
        for warning in config.warnings() {
            warn!(warning = warning.as_str(), "redis_config_warning");
        }
        let built = crate::connect::connect(&config)
            .and_then(|(target, manager)| Ok((target, RedisPool::new(manager, &config)?)));
        let (target, pool) = built.map_err(|err| {
            error!(
                dependency = &*config.name,
                reason = redis_gate_core::redact(&crate::error_chain(&err)).as_str(),
                "redis_config_invalid"
            );
            StartError::Config(err)
        })?;
        let pool_failures = Arc::new(PoolFailures::default());
        let mut check = RedisCheck::new(&config, target, pool.clone(), Arc::clone(&pool_failures));
        if config.sentinel_announcements {
            check.follow_failovers();
        }
        let name = Arc::clone(&config.name);
        let monitor = match Monitor::start("redis", name, check, config.monitor).await {
            Ok(monitor) => monitor,
            Err(unavailable) => {
                pool.close();
                return Err(unavailable.into());
            }
        };
        Ok(RedisMonitor {
            monitor,
            pool,
            pool_failures,
        })
    }

    /// Waits until Redis is available, up to `timeout`. Returns whether it is.
    pub async fn wait_available(&self, timeout: Duration) -> bool {
        self.monitor.wait_available(timeout).await
    }

    /// The read handle, for the layers and for application code.
    pub fn availability(&self) -> Availability {
        self.monitor.availability()
    }

    /// The application's pool (ungated: [`connection`](Self::connection) fails fast instead).
    pub fn pool(&self) -> &RedisPool {
        &self.pool
    }

    /// A cheap-to-clone pool that fails fast while Redis is unavailable.
    pub fn gated_pool(&self) -> GatedPool {
        GatedPool::new(
            self.pool.clone(),
            self.monitor.availability(),
            Arc::clone(&self.pool_failures),
        )
    }

    /// A pooled connection, or [`ConnectionError::Unavailable`] at once while the handle says
    /// Redis is unavailable: application code never hangs on a dead Redis.
    pub async fn connection(&self) -> Result<PooledConnection, ConnectionError> {
        self.gated_pool().get().await
    }

    /// Operator override: marks Redis unavailable (maintenance, draining) until
    /// [`clear_override`](Self::clear_override), whatever the checks say.
    pub fn mark_unavailable(&self, reason: &str) {
        self.monitor.mark_unavailable(reason);
    }

    /// Lifts the operator override.
    pub fn clear_override(&self) {
        self.monitor.clear_override();
    }

    /// Stops the background task, waits for it to finish and closes the pool. The handle then
    /// says `Failed` with the last error `monitor stopped`, for good.
    pub async fn shutdown(self) {
        self.monitor.shutdown().await;
        self.pool.close();
    }
}

impl std::fmt::Debug for RedisMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMonitor")
            .field("availability", &self.monitor.availability())
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}
