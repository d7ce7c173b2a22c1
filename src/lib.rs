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
    Availability, AvailabilityReporter, DEFAULT_NAME, Reading, Snapshot, Status, Subscription,
    sanitize_error,
};

#[cfg(feature = "tower")]
#[doc(inline)]
pub use redis_gate_tower::{
    BodyFromBytes, CheckRedis, CheckRedisLayer, GateBody, ReadinessProbe, ReadinessProbeLayer,
    Rejection, RequireRedis, RequireRedisLayer, ResponseFuture, check, probe, require,
};

#[cfg(feature = "tonic-health")]
#[doc(inline)]
pub use redis_gate_tower::tonic_health;

#[cfg(feature = "tower")]
#[doc(inline)]
pub use redis_gate_tower::Drain;

#[cfg(feature = "deadpool")]
#[doc(inline)]
pub use redis_gate_deadpool::{
    Backoff, ConfigError, ConnectionError, GatedPool, ProbeError, ProbeErrorKind, RedisConfig,
    RedisConnection, RedisMonitor, RedisPool, Source, StartError, StartupPolicy, Timeouts,
    Topology, deadpool_redis, ping,
};

#[cfg(all(doctest, feature = "tower", feature = "deadpool"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
