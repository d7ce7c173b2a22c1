//! A Redis monitor on a deadpool pool of Redis connections that keeps a redis-gate
//! availability handle true, and the configuration it reads from the environment.
//!
//! - [`RedisConfig`] says where Redis is (`REDIS_URL`, or `REDIS_HOST` and friends, Sentinel or
//!   Cluster) and how to watch it; bad settings give a [`ConfigError`] that names the variable,
//!   masks secrets and says what would be valid.
//! - [`RedisMonitor`] connects eagerly, applies the startup policy, checks Redis on its own
//!   connection, reconnects with backoff, and writes what it sees to the handle that the Tower
//!   layers read; [`GatedPool`] hands out [`PooledConnection`]s that fail fast while Redis is
//!   down.
//! - [`ping`] is one check, for command-line tools and container health checks.
//!
//! This crate knows Redis but not HTTP.
//!
//! Most services depend on the `redis-gate` crate instead, which re-exports what a service names
//! at its root and the rest in its `config`, `monitor` and `layers` modules; the examples on the
//! items use those paths (`redis_gate::…`).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod check;
mod config;
mod connect;
mod monitor;
mod pool;

pub use check::ping;
pub use config::{
    ConfigError, DataNodes, Node, RedisConfig, SentinelBuilder, Source, Timeouts, Topology,
};
pub use connect::BuildError;
pub use deadpool_redis;
pub use monitor::{RedisMonitor, StartError};
pub use pool::{ConnectionError, GatedPool, PooledConnection, RedisPool};

/// `err` and its sources, `: `-separated, for a log field or a message that shows the whole
/// cause (each level's own text says only what failed there).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
