//! Tower middleware that keeps HTTP and gRPC services honest about Redis.
//!
//! - [`Availability`] is the shared handle: cheap to clone, one atomic load to read, and a
//!   [`Subscription`] to follow transitions. Whoever watches Redis owns the
//!   [`AvailabilityReporter`] that writes it.
#![cfg_attr(
    feature = "tower",
    doc = "- [`RequireRedisLayer`] answers `503` + `Retry-After` while Redis is down; \
           [`CheckRedisLayer`] tells the handler so it can degrade; [`ReadinessProbeLayer`] \
           answers liveness and readiness probes."
)]
#![cfg_attr(
    feature = "deadpool",
    doc = "- [`RedisMonitor`] watches Redis through a deadpool-redis pool and keeps the handle \
           true; [`RedisConfig`] reads where Redis is from the environment, with clear errors."
)]
//!
//! Features: `tower` (the layers), `deadpool` (the monitor), `metrics` (metrics through the
//! `metrics` facade, free until a recorder is installed) and `axum` (the layers answer with
//! axum's `Body`), all on by default; `tonic` (the layers answer with tonic's `Body`, for
//! `Server::layer`) and `tonic-health` (gRPC health checks that follow the handle).
//!
//! See the README for a quickstart with axum.

#![forbid(unsafe_code)]

#[doc(inline)]
pub use redis_gate_core::{
    Availability, AvailabilityReporter, Backoff, Check, CheckError, CheckErrorKind, DEFAULT_NAME,
    Monitor, MonitorSettings, Reading, Snapshot, StartupPolicy, Status, Subscription, Unavailable,
    redact, sanitize_error,
};

#[cfg(feature = "tower")]
#[doc(inline)]
pub use redis_gate_tower::{
    BodyFromBytes, CheckRedis, CheckRedisLayer, DEFAULT_DETAILS_PATH, DEFAULT_ERROR,
    DEFAULT_ERROR_CODE, DEFAULT_LIVENESS_PATHS, DEFAULT_READINESS_PATHS, DEFAULT_STARTUP_PATHS,
    Drain, GateBody, ReadinessProbe, ReadinessProbeLayer, Rejection, RequireRedis,
    RequireRedisLayer, ResponseFuture, UnavailableResponse,
};

#[cfg(feature = "tonic-health")]
#[doc(inline)]
pub use redis_gate_tower::{HealthMirror, mirror_health};

#[cfg(feature = "deadpool")]
#[doc(inline)]
pub use redis_gate_deadpool::{
    BuildError, ConfigError, ConnectionError, DataNodes, GatedPool, Node, PooledConnection,
    RedisConfig, RedisMonitor, RedisPool, SentinelBuilder, Source, StartError, Timeouts, Topology,
    deadpool_redis, ping,
};

#[cfg(all(doctest, feature = "tower", feature = "deadpool"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
