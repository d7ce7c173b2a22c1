//! A Redis monitor on a deadpool-redis pool that keeps a redis-gate availability handle true,
//! and the configuration it reads from the environment.
//!
//! - [`RedisConfig`] says where Redis is (`REDIS_URL`, or `REDIS_HOST` and friends) and how to
//!   watch it; bad settings give a [`ConfigError`] that names the variable and masks passwords.
//! - [`RedisMonitor`] connects eagerly, applies the [`StartupPolicy`], checks Redis on its own
//!   connection, reconnects with [`Backoff`], and writes what it sees to the handle that the
//!   Tower layers read.
//! - [`ping`] is one check, for command-line tools and container health checks.
//!
//! This crate knows Redis but not HTTP.

#![forbid(unsafe_code)]

mod backoff;
mod config;
#[cfg(feature = "metrics")]
mod metrics;
mod monitor;
mod pool;
mod probe;

pub use backoff::Backoff;
pub use config::{ConfigError, RedisConfig, Source, StartupPolicy, Timeouts, Topology};
pub use deadpool_redis;
pub use monitor::{ConnectionError, GatedPool, RedisMonitor, StartError};
pub use pool::{RedisConnection, RedisPool};
pub use probe::{ProbeError, ProbeErrorKind, ping};
