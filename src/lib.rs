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
    ping,
};

#[cfg(feature = "serde")]
pub use redis_gate_core::human_duration;

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
