//! The application's pool, whatever the topology: one type to get connections from.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use deadpool::managed::{self, Object};
use deadpool_redis::redis::aio::ConnectionLike;
use deadpool_redis::redis::{Cmd, Pipeline, RedisFuture, Value};
use deadpool_redis::{PoolError, Runtime, Status, TimeoutType};
use redis_gate_core::{Access, Availability, Reading};

use crate::RedisConfig;
use crate::connect::{BuildError, Manager};

/// A deadpool pool of connections to a standalone server, a Sentinel-managed master, or a
/// cluster. Cheap to clone. Connections are checked with `PING` before they are handed out
/// again.
#[derive(Clone)]
pub struct RedisPool {
    pool: managed::Pool<Manager>,
}

/// A connection from a [`RedisPool`], returned to it when dropped; use it with
/// `redis::AsyncCommands` as any other connection.
pub struct PooledConnection {
    conn: Object<Manager>,
}

impl RedisPool {
    /// The pool of `manager`'s connections, sized and timed as `config` says.
    pub(crate) fn new(manager: Manager, config: &RedisConfig) -> Result<RedisPool, BuildError> {
        let pool = managed::Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .wait_timeout(Some(config.timeouts.pool_wait))
            .create_timeout(Some(config.timeouts.connect))
            .recycle_timeout(Some(config.timeouts.response))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(BuildError::Pool)?;
        Ok(RedisPool { pool })
    }

    /// A connection: an idle one, or a new one within the connect timeout; waits up to the pool
    /// wait timeout when all are in use.
    pub async fn get(&self) -> Result<PooledConnection, PoolError> {
        Ok(PooledConnection {
            conn: self.pool.get().await?,
        })
    }

    /// The pool's size and use.
    pub fn status(&self) -> Status {
        self.pool.status()
    }

    /// Drops every idle connection (they are most likely dead after an outage).
    pub(crate) fn drop_idle(&self) {
        self.pool.retain(|_, _| false);
    }

    pub(crate) fn close(&self) {
        self.pool.close();
    }
}

impl ConnectionLike for PooledConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.conn.deref_mut().req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.conn
            .deref_mut()
            .req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.conn.deref().get_db()
    }
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedisPool").field(&self.status()).finish()
    }
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection").finish_non_exhaustive()
    }
}

/// What [`GatedPool::get`] and [`RedisMonitor::connection`](crate::RedisMonitor::connection)
/// return instead of a connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The handle says Redis is unavailable: no connection was attempted and nothing waited.
    #[error("redis is unavailable ({0})")]
    Unavailable(Reading),
    /// The pool could not hand out a connection (all in use past the wait timeout, or a new
    /// connection failed). This does not by itself make the handle unavailable.
    #[error("no connection from the redis pool")]
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
pub(crate) struct PoolFailures {
    count: AtomicU32,
}

impl PoolFailures {
    pub(crate) fn record(&self, err: &PoolError) {
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

    pub(crate) fn clear(&self) {
        if self.count.load(Ordering::Relaxed) != 0 {
            self.count.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }
}

impl GatedPool {
    pub(crate) fn new(
        pool: RedisPool,
        availability: Availability,
        failures: Arc<PoolFailures>,
    ) -> GatedPool {
        GatedPool {
            pool,
            availability,
            failures,
        }
    }

    /// A pooled connection, or an error at once while Redis is unavailable: while it cannot
    /// serve reads *and* writes. A read-only Redis (writes refused) gets the error too; see
    /// [`get_read`](Self::get_read).
    pub async fn get(&self) -> Result<PooledConnection, ConnectionError> {
        self.get_for(Access::ReadWrite).await
    }

    /// A pooled connection for reads: handed out while Redis serves reads, writes refused or
    /// not, and an error at once while it cannot. Writes through it fail while the handle reads
    /// `read_only`, with Redis's own reply (`READONLY`, `OOM`, ...).
    pub async fn get_read(&self) -> Result<PooledConnection, ConnectionError> {
        self.get_for(Access::Read).await
    }

    async fn get_for(&self, access: Access) -> Result<PooledConnection, ConnectionError> {
        let reading = self.availability.reading();
        if !reading.allows(access) {
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
