//! Tower middleware that keeps HTTP and gRPC services honest about Redis.
//!
//! - [`Availability`] is the shared handle: cheap to clone, one atomic load to read, and a
//!   [`Subscription`](monitor::Subscription) to follow transitions. Whoever watches Redis owns the
//!   [`AvailabilityReporter`] that writes it.
#![cfg_attr(
    feature = "tower",
    doc = "- [`RequireRedisLayer`] answers `503` + `Retry-After` while Redis is down; \
           [`CheckRedisLayer`] tells the handler so it can degrade; [`ReadinessProbeLayer`] \
           answers liveness and readiness probes."
)]
#![cfg_attr(
    feature = "deadpool",
    doc = "- [`RedisMonitor`] watches Redis, hands out pooled connections and keeps the handle \
           true; [`RedisConfig`] reads where Redis is from the environment, with clear errors."
)]
//!
#![cfg_attr(
    all(feature = "tower", feature = "axum"),
    doc = r#"
The layers in an axum router, with a reporter standing in for the monitor (in a service,
`RedisMonitor::start(config).await?` owns the reporter and keeps it true). The gate is a route
layer on the routes that need Redis; the probe is merged in as routes of its own (as a
`route_layer` it would answer nothing: see [where it goes](ReadinessProbeLayer#where-it-goes)):

```
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use redis_gate::{AvailabilityReporter, ReadinessProbeLayer, RequireRedisLayer, Status};
use tower::ServiceExt;

# #[tokio::main(flavor = "current_thread")]
# async fn main() {
let reporter = AvailabilityReporter::new("redis");
let redis = reporter.availability();

let app = Router::new()
    .route("/tickets", post(|| async { "ticket" }))
    .route_layer(RequireRedisLayer::new(redis.clone()))
    .merge(ReadinessProbeLayer::new().require(redis));
let ticket = || Request::post("/tickets").body(Body::empty()).unwrap();
let ready = || Request::get("/ready").body(Body::empty()).unwrap();

// Not connected yet: the gate answers 503 without calling the handler, readiness says so too.
let rejected = app.clone().oneshot(ticket()).await.unwrap();
assert_eq!(rejected.status(), StatusCode::SERVICE_UNAVAILABLE);
assert!(rejected.headers().contains_key("retry-after"));
assert_eq!(app.clone().oneshot(ready()).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);

reporter.set_status(Status::Connected);
assert_eq!(app.clone().oneshot(ticket()).await.unwrap().status(), StatusCode::OK);
assert_eq!(app.oneshot(ready()).await.unwrap().status(), StatusCode::OK);
# }
```
"#
)]
//!
//! | feature | default | gives |
//! |---|---|---|
//! | `tower` | yes | the layers: `RequireRedisLayer`, `CheckRedisLayer`, `ReadinessProbeLayer` |
//! | `deadpool` | yes | `RedisMonitor` with its connection pool, and `RedisConfig` from the environment |
//! | `metrics` | yes | metrics through the `metrics` facade, free until a recorder is installed |
//! | `axum` | yes | the layers answer with axum's `Body`; `UnavailableResponse` is an axum `IntoResponse`; `Router::merge(probe)` serves the probe's paths as routes |
//! | `tonic` | no | the layers answer with tonic's `Body`, for `tonic::transport::Server::layer` |
//! | `tonic-health` | no | `HealthMirror`: gRPC health checks that follow the handle (includes `tonic`) |
//! | `serde` | no | `Serialize`/`Deserialize` for `RedisConfig`, `Timeouts` and `MonitorSettings`: settings from a file, durations as `"500ms"`, secrets never written back |
//!
//! To depend on it (a git dependency until it is on crates.io; Rust 1.88 or newer):
//!
//! ```toml
//! [dependencies]
//! redis-gate = { git = "https://github.com/redis-gate/redis-gate" }
//! ```
//!
//! The [README](https://github.com/redis-gate/redis-gate#readme) has the other dependency lines
//! of an axum service, the whole service with its monitor, a tonic quickstart and every
//! `REDIS_*` variable. Events are logged through `tracing` (`redis_connection_lost`,
//! `redis_reconnected`, ...): install a subscriber to see them. `cargo doc --all-features` shows
//! the items of every feature, as docs.rs does.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// What a service names, at the root; the parts of each, in the modules below.

#[doc(inline)]
pub use redis_gate_core::{
    Access, Availability, AvailabilityReporter, Reading, StartupPolicy, Status,
};

#[cfg(feature = "tower")]
#[doc(inline)]
pub use redis_gate_tower::{
    CheckRedisLayer, Drain, ReadinessProbeLayer, RequireRedisLayer, UnavailableResponse,
};

#[cfg(feature = "tonic-health")]
#[doc(inline)]
pub use redis_gate_tower::HealthMirror;

#[cfg(feature = "deadpool")]
#[doc(inline)]
pub use redis_gate_deadpool::{
    ConfigError, ConnectionError, GatedPool, PooledConnection, RedisConfig, RedisMonitor,
    RedisPool, StartError,
};

/// Where Redis is: the parts of a [`RedisConfig`] (its topology and nodes, timeouts, where it
/// was read from), and what to read durations in configuration files with.
#[cfg(feature = "deadpool")]
pub mod config {
    #[doc(inline)]
    pub use redis_gate_deadpool::{
        BuildError, DataNodes, Node, SentinelBuilder, Source, Timeouts, Topology,
    };

    #[cfg(feature = "serde")]
    #[doc(inline)]
    pub use redis_gate_core::human_duration;
}

/// The monitor's parts: the generic [`Monitor`](monitor::Monitor) that watches any dependency
/// with a [`HealthCheck`](monitor::HealthCheck), its settings and rules, the handle's snapshots
/// and subscriptions, and one-off checks of Redis ([`ping`](monitor::ping)).
pub mod monitor {
    #[doc(inline)]
    pub use redis_gate_core::{
        Backoff, CheckError, CheckErrorKind, Connections, HealthCheck, Monitor, MonitorSettings,
        Snapshot, Subscription, Unavailable,
    };

    #[cfg(feature = "deadpool")]
    #[doc(inline)]
    pub use redis_gate_deadpool::ping;
}

/// The layers' parts: the services they build, their response future and bodies, the custom
/// rejection hook, and their defaults.
#[cfg(feature = "tower")]
pub mod layers {
    #[doc(inline)]
    pub use redis_gate_tower::{
        BodyFromBytes, CheckRedis, DEFAULT_DETAILS_PATH, DEFAULT_ERROR, DEFAULT_ERROR_CODE,
        DEFAULT_LIVENESS_PATHS, DEFAULT_READINESS_PATHS, DEFAULT_STARTUP_PATHS, GateBody,
        ReadinessProbe, Rejection, RequireRedis, ResponseFuture,
    };
}

/// The deadpool-redis (and, as `deadpool_redis::redis`, the redis-rs) that the monitor uses.
#[cfg(feature = "deadpool")]
#[doc(no_inline)]
pub use redis_gate_deadpool::deadpool_redis;

#[cfg(all(
    doctest,
    feature = "deadpool",
    feature = "tonic-health",
    feature = "serde"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
