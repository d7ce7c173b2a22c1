//! The application's pool, whatever the topology: one type to get connections from.

use std::ops::{Deref, DerefMut};

use deadpool::managed::{self, Object};
use deadpool_redis::redis::aio::ConnectionLike;
use deadpool_redis::redis::{Cmd, Pipeline, RedisFuture, Value};
use deadpool_redis::{PoolError, Status};

use crate::connect::Manager;

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
    pub(crate) fn new(pool: managed::Pool<Manager>) -> RedisPool {
        RedisPool { pool }
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
