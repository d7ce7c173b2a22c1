//! Tower layers on a redis-gate [`Availability`](redis_gate_core::Availability) handle.
//!
//! | layer | while Redis is available | while it is not |
//! |---|---|---|
//! | [`RequireRedisLayer`] | calls the inner service | `503` + `Retry-After`, inner service not called |
//! | [`CheckRedisLayer`] | calls the inner service with a [`Reading`](redis_gate_core::Reading) extension | the same: the handler decides |
//! | [`ReadinessProbeLayer`] | answers `/health`, `/ready`, … and passes the rest | readiness says `NOT_READY` (`503`) |
//!
//! All three read one atomic byte per request and never talk to Redis; none logs per request.
//! They are generic over request bodies, keep the inner service's error type and its response
//! body type (see [`BodyFromBytes`]), and work around an axum `Router` (cheapest), with axum's
//! `Router::layer`, tonic's `Server::layer`, and hyper. `RequireRedisLayer` and
//! `CheckRedisLayer` also work as axum `route_layer`s, on the routes they wrap; the probe does
//! not (its paths are not routes, so a route layer never sees them): with the `axum` feature,
//! `Router::merge(probe)` turns its paths into routes instead (see
//! [where it goes](ReadinessProbeLayer#where-it-goes)).
//!
//! [`RequireRedisLayer`] answers gRPC requests (`content-type: application/grpc…`) the gRPC way:
//! HTTP `200`, `grpc-status: 14` (UNAVAILABLE), trailers-only. With the `tonic-health` feature,
//! `HealthMirror` makes gRPC health checks follow the handle; with `metrics`, rejections are
//! counted in `redis_gate_rejections_total`.
//!
//! Layer order matters: put [`ReadinessProbeLayer`] outside [`RequireRedisLayer`] (first in a
//! `ServiceBuilder`, last in axum's `.layer` chain) so probes are answered before the gate can
//! reject them; the gate lets the probe's default paths through either way.
//!
//! Most services depend on the `redis-gate` crate instead, which re-exports what a service names
//! at its root and the rest in its `config`, `monitor` and `layers` modules; the examples on the
//! items use those paths (`redis_gate::…`).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod check;
mod future;
mod middleware;
mod paths;
mod probe;
mod require;
#[cfg(feature = "tonic-health")]
mod tonic_health;

pub use body::{BodyFromBytes, GateBody};
pub use check::{CheckRedis, CheckRedisLayer};
pub use future::ResponseFuture;
pub use paths::{
    DEFAULT_DETAILS_PATH, DEFAULT_LIVENESS_PATHS, DEFAULT_READINESS_PATHS, DEFAULT_STARTUP_PATHS,
};
pub use probe::{Drain, ReadinessProbe, ReadinessProbeLayer};
pub use require::{
    DEFAULT_ERROR, DEFAULT_ERROR_CODE, Rejection, RequireRedis, RequireRedisLayer,
    UnavailableResponse,
};
#[cfg(feature = "tonic-health")]
pub use tonic_health::HealthMirror;
