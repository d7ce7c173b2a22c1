//! The application's pool, whatever the topology: one type to get connections from.

use deadpool_redis::redis::aio::ConnectionLike;
use deadpool_redis::redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, Value};
use deadpool_redis::{PoolError, Runtime, Status, cluster, sentinel};
use redis_gate_core::sanitize_error;

use crate::probe::open_client;
use crate::{RedisConfig, Topology};

/// A deadpool-redis pool for a standalone server, a sentinel-managed master, or a cluster.
#[derive(Clone)]
pub enum RedisPool {
    /// One server.
    Standalone(deadpool_redis::Pool),
    /// The master that Redis Sentinel names.
    Sentinel(sentinel::Pool),
    /// A Redis Cluster.
    Cluster(cluster::Pool),
}

/// A pooled connection from a [`RedisPool`]; use it with `redis::AsyncCommands` as any other.
pub enum RedisConnection {
    /// To a standalone server.
    Standalone(deadpool_redis::Connection),
    /// To the sentinel-named master.
    Sentinel(sentinel::Connection),
    /// To a cluster.
    Cluster(cluster::Connection),
}

impl RedisPool {
    pub(crate) fn build(config: &RedisConfig) -> Result<RedisPool, String> {
        let describe = |err: &dyn std::fmt::Display| sanitize_error(&err.to_string());
        let pool = match config.topology() {
            Topology::Standalone => {
                let client =
                    open_client(&config.connection_url(), config).map_err(|err| describe(&err))?;
                let settings = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout));
                let manager = deadpool_redis::Manager::new_with_config(
                    client.get_connection_info().clone(),
                    settings,
                )
                .map_err(|err| describe(&err))?;
                RedisPool::Standalone(configure!(
                    deadpool_redis::Pool::builder(manager),
                    config,
                    deadpool_redis::Hook
                )?)
            }
            Topology::Sentinel { master } => {
                let (username, password, db) = config.node_auth();
                let node = sentinel::SentinelNodeConnectionInfo {
                    tls_mode: config.is_tls().then_some(sentinel::TlsMode::Secure),
                    redis_connection_info: Some(deadpool_redis::RedisConnectionInfo {
                        db: i64::from(db),
                        username: username.map(str::to_owned),
                        password: password.map(str::to_owned),
                        protocol: Default::default(),
                    }),
                };
                let manager = sentinel::Manager::new(
                    config.node_urls(),
                    master.clone(),
                    Some(node),
                    sentinel::SentinelServerType::Master,
                )
                .map_err(|err| describe(&err))?;
                RedisPool::Sentinel(configure!(
                    sentinel::Pool::builder(manager),
                    config,
                    sentinel::Hook
                )?)
            }
            Topology::Cluster => {
                let manager = cluster::Manager::new(config.node_urls(), false)
                    .map_err(|err| describe(&err))?;
                RedisPool::Cluster(configure!(
                    cluster::Pool::builder(manager),
                    config,
                    cluster::Hook
                )?)
            }
        };
        Ok(pool)
    }

    /// A connection: an idle one, or a new one within the connect timeout; waits up to the pool
    /// wait timeout when all are in use.
    pub async fn get(&self) -> Result<RedisConnection, PoolError> {
        Ok(match self {
            RedisPool::Standalone(pool) => RedisConnection::Standalone(pool.get().await?),
            RedisPool::Sentinel(pool) => RedisConnection::Sentinel(pool.get().await?),
            RedisPool::Cluster(pool) => RedisConnection::Cluster(pool.get().await?),
        })
    }

    /// The pool's size and use.
    pub fn status(&self) -> Status {
        match self {
            RedisPool::Standalone(pool) => pool.status(),
            RedisPool::Sentinel(pool) => pool.status(),
            RedisPool::Cluster(pool) => pool.status(),
        }
    }

    /// Drops every idle connection (they are most likely dead after an outage).
    pub(crate) fn drop_idle(&self) {
        match self {
            RedisPool::Standalone(pool) => drop(pool.retain(|_, _| false)),
            RedisPool::Sentinel(pool) => drop(pool.retain(|_, _| false)),
            RedisPool::Cluster(pool) => drop(pool.retain(|_, _| false)),
        }
    }

    pub(crate) fn close(&self) {
        match self {
            RedisPool::Standalone(pool) => pool.close(),
            RedisPool::Sentinel(pool) => pool.close(),
            RedisPool::Cluster(pool) => pool.close(),
        }
    }
}

/// The same limits, timeouts and checks for every kind of pool.
///
/// deadpool-redis hands out a new connection without a command on it, so one opened after
/// `requirepass` was set at runtime fails its first command instead of failing to connect: a
/// `PING` after creating it turns that into a failed connect, which the monitor then looks into.
macro_rules! configure {
    ($builder:expr, $config:expr, $hook:ty) => {
        $builder
            .post_create(<$hook>::async_fn(|conn, _| {
                Box::pin(async move {
                    deadpool_redis::redis::cmd("PING")
                        .query_async::<()>(conn)
                        .await
                        .map_err(deadpool_redis::HookError::Backend)
                })
            }))
            .max_size($config.pool_size)
            .wait_timeout(Some($config.pool_wait_timeout))
            .create_timeout(Some($config.connect_timeout))
            .recycle_timeout(Some($config.response_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| err.to_string())
    };
}
use configure;

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Standalone(conn) => conn.req_packed_command(cmd),
            RedisConnection::Sentinel(conn) => conn.req_packed_command(cmd),
            RedisConnection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Standalone(conn) => conn.req_packed_commands(cmd, offset, count),
            RedisConnection::Sentinel(conn) => conn.req_packed_commands(cmd, offset, count),
            RedisConnection::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Standalone(conn) => conn.get_db(),
            RedisConnection::Sentinel(conn) => conn.get_db(),
            RedisConnection::Cluster(conn) => conn.get_db(),
        }
    }
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            RedisPool::Standalone(_) => "Standalone",
            RedisPool::Sentinel(_) => "Sentinel",
            RedisPool::Cluster(_) => "Cluster",
        };
        f.debug_tuple(kind).field(&self.status()).finish()
    }
}
