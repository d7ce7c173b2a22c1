//! Liveness and readiness endpoints that read availability handles and never do I/O.

mod answer;
mod auth;
mod checks;
mod drain;
mod endpoints;
mod render;
#[cfg(feature = "axum")]
mod router;
#[cfg(test)]
mod tests;
mod verdict;

use std::fmt;
use std::sync::Arc;

use redis_gate_core::Availability;
use tower_layer::Layer;

use self::answer::Probe;
use self::auth::BearerToken;
use self::checks::{Check, Policy};
pub use self::drain::Drain;
use self::endpoints::Endpoint;
use crate::middleware::{impl_answer_early_service, impl_inner_accessors};

/// Layer that applies [`ReadinessProbe`]: liveness and readiness endpoints that read
/// availability handles and never do I/O.
///
/// [`ReadinessProbe`] answers its own paths and passes every other request to the inner service
/// untouched. Defaults:
///
/// | path | answers |
/// |---|---|
/// | `/health`, `/health/live` | liveness: always `200 {"status":"UP"}`, never looks at Redis |
/// | `/ready`, `/healthz`, `/health/ready` | readiness, from the checks; `DRAINING` once [`Drain::start`]ed |
/// | `/startup` | `503 {"status":"STARTING"}` until every check has made its startup decision (connected, or gave up and runs degraded), then `200 {"status":"STARTED"}` for good |
/// | `/health/dependencies` | details; **off** until [`ReadinessProbeLayer::details_path`], optionally behind a bearer token |
///
/// Readiness answers `200 {"status":"UP","ready":true,"checks":{"redis":"UP"}}` when every check
/// is available, `503 {"status":"NOT_READY","ready":false,...}` when a required one is not, and
/// `200 {"status":"DEGRADED","ready":true,...}` when only optional ones are down. With `?verbose`
/// it answers the same status in plain text, a line per check and a verdict, as Kubernetes'
/// `/readyz?verbose` does:
///
/// ```text
/// [+]redis ok
/// [-]cache failed: disconnected (optional)
/// readiness check passed: degraded
/// ```
///
/// A check that is down says why in status words only, since anyone may ask (the error itself is
/// in the details and the logs), and names its policy unless it is `required`
/// (`(optional)`, `(required_at_startup)`):
///
/// | reason | the handle says |
/// |---|---|
/// | `connecting` | not available yet, and the startup wait is not over |
/// | `disconnected` | it was available, lost it, and the monitor is reconnecting |
/// | `maintenance` | an operator override holds it out of service |
/// | `never available, startup over` | `failed` without ever having been available, once the startup decision is made: the wait ran out and the service runs without it |
/// | `never available` | `failed` before the startup decision: a failure that waiting does not fix, such as bad credentials |
/// | `lasting failure` | `failed` after having been available: a failure that waiting does not fix, such as a password changed under the service |
/// | `monitor stalled` | the monitor completes no checks, so it cannot vouch for it |
/// | `monitor stopped` | the monitor is gone for good |
///
/// Probe paths answer `GET` and `HEAD`; other methods get `405` with `Allow: GET, HEAD`. Paths
/// match exactly: `/ready/`, `//ready` and `/READY` are not probe paths and go to the inner
/// service; other query strings are ignored. Every probe response carries
/// `Cache-Control: no-store`.
///
/// Whether Redis belongs in readiness at all is a trade-off: every replica shares it, so when it
/// goes down a readiness check that requires it takes the whole fleet out of the load balancer at
/// once. Gate routes, not pods: [`require`](ReadinessProbeLayer::require) it only when the service
/// is useless without it; [`require_at_startup`](ReadinessProbeLayer::require_at_startup) keeps a
/// new replica out until it has reached Redis once and then reports later outages as `DEGRADED`;
/// [`optional`](ReadinessProbeLayer::optional) never fails readiness. Gate the routes that need
/// Redis with `RequireRedis` either way. Liveness never depends on Redis: restarting a healthy
/// process does not bring Redis back, and `RequireRedis` lets the probe's default paths through
/// even when it is layered outside the probe.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
/// use std::convert::Infallible;
///
/// use bytes::Bytes;
/// use http::{Request, Response, StatusCode};
/// use http_body_util::{BodyExt, Empty, Full};
/// use redis_gate::{AvailabilityReporter, ReadinessProbeLayer, RequireRedisLayer, Status};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Infallible> {
/// let reporter = AvailabilityReporter::default();
/// let redis = reporter.availability();
/// // The probe goes outside the gate, so it answers its paths before the gate sees them.
/// let mut app = ServiceBuilder::new()
///     .layer(ReadinessProbeLayer::new().require(redis.clone()))
///     .layer(RequireRedisLayer::new(redis))
///     .service(service_fn(|_req: Request<Empty<Bytes>>| async {
///         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
///     }));
///
/// let get = |path| Request::get(path).body(Empty::new()).unwrap();
/// let res = app.ready().await?.call(get("/health")).await?;
/// assert_eq!(res.status(), StatusCode::OK);
///
/// let res = app.ready().await?.call(get("/ready")).await?;
/// assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
/// let body = res.into_body().collect().await?.to_bytes();
/// assert_eq!(body, r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#);
///
/// reporter.set_status(Status::Connected);
/// let res = app.ready().await?.call(get("/ready")).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// # Ok(())
/// # }
/// ```
///
/// # Where it goes
///
/// The probe answers paths that are not routes of your application, so it must see requests
/// that match no route:
///
/// | placement | probe paths | why |
/// |---|---|---|
/// | around the finished service: first in a `ServiceBuilder`, tonic's `Server::layer`, hyper | answered | it sees every request before anything else, and passes the others on untouched |
/// | axum, `router.merge(probe)` (feature `axum`) | answered, wherever the `merge` is | each probe path becomes a route of the router (see the `From` impl for `axum::Router`) |
/// | axum, `Router::layer(probe)` | answered | axum also wraps the fallback, which is where a path without a route goes |
/// | axum, `Router::route_layer(probe)` | **`404`, every one** | a route layer only wraps routes that matched; the probe's paths are not routes, so the probe never sees them |
///
/// The last one compiles: axum's `layer` and `route_layer` take exactly the same
/// `Layer<Route>`, so nothing in the type can refuse one and accept the other. Use `merge`
/// instead: its routes answer wherever it is in the chain.
///
/// What can still get in their way is a layer added *after* the `merge`, which wraps the probe's
/// routes like every other route. A `RequireRedis` gate there (or layered outside the probe) lets
/// the default paths through, but gates paths you configured yourself like any other path: give
/// it the probe
/// ([`RequireRedisLayer::exempt_probe`](crate::RequireRedisLayer::exempt_probe)), or merge the
/// probe after the gate's `route_layer`. The same goes for a layer of your own, such as
/// authentication: merge the probe after it.
///
#[cfg_attr(
    feature = "axum",
    doc = r#"
With axum, merge the probe into the router, after its `route_layer`s; its paths are routes, so
layers added later wrap them too:

```
# mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{Request, StatusCode};
use redis_gate::{AvailabilityReporter, CheckRedisLayer, ReadinessProbeLayer, RequireRedisLayer};
use tower::ServiceExt;

# #[tokio::main(flavor = "current_thread")]
# async fn main() {
let reporter = AvailabilityReporter::default();
let redis = reporter.availability();
let app = Router::new()
    .route("/tickets", post(|| async { "ticket" }))
    .route_layer(RequireRedisLayer::new(redis.clone()))
    // `/health`, `/health/live`, `/ready`, `/healthz`, `/health/ready` and `/startup` become
    // routes of the router.
    .merge(ReadinessProbeLayer::new().require(redis.clone()))
    .layer(CheckRedisLayer::new(redis));

let get = |path| Request::get(path).body(Body::empty()).unwrap();
let health = app.clone().oneshot(get("/health")).await.unwrap();
assert_eq!(health.status(), StatusCode::OK);
let ready = app.clone().oneshot(get("/ready")).await.unwrap();
assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

// The same probe as a route layer answers nothing: `route_layer` wraps matched routes only.
let vanished = Router::new()
    .route("/tickets", post(|| async { "ticket" }))
    .route_layer(ReadinessProbeLayer::new());
let health = vanished.oneshot(get("/health")).await.unwrap();
assert_eq!(health.status(), StatusCode::NOT_FOUND);
# }
```
"#
)]
#[derive(Clone)]
pub struct ReadinessProbeLayer {
    // Shared with every service the layer builds: applying the layer is one reference count.
    probe: Arc<Probe>,
}

/// Middleware that answers liveness, readiness and (optionally) details paths from availability
/// handles, and passes every other request to the inner service.
#[derive(Clone)]
pub struct ReadinessProbe<S> {
    inner: S,
    probe: Arc<Probe>,
}

impl ReadinessProbeLayer {
    /// A probe on the default paths, with no checks yet: readiness is `UP` until you add some.
    pub fn new() -> Self {
        ReadinessProbeLayer {
            probe: Arc::new(Probe::default()),
        }
    }

    /// Adds a required check: readiness fails while `availability` is unavailable. The check is
    /// named after the handle (`"redis"` by default).
    ///
    /// Every replica that requires the same Redis leaves the load balancer when it blips; see
    /// [`require_at_startup`](Self::require_at_startup) for the alternative.
    pub fn require(self, availability: Availability) -> Self {
        self.check(availability, Policy::Required)
    }

    /// Adds an optional check: while `availability` is down readiness stays `200` but says
    /// `DEGRADED`.
    pub fn optional(self, availability: Availability) -> Self {
        self.check(availability, Policy::Optional)
    }

    /// Adds a check that is required until the dependency has been available once, and
    /// optional afterwards: a new replica takes no traffic before it has reached Redis, but a
    /// later Redis outage leaves every replica in the load balancer (`200 DEGRADED`) instead of
    /// emptying the fleet at once. Gate the routes that need Redis with `RequireRedis`; they
    /// still answer `503` during the outage.
    pub fn require_at_startup(self, availability: Availability) -> Self {
        self.check(availability, Policy::RequiredAtStartup)
    }

    /// Adds a check that requires reads only: readiness fails while Redis cannot serve reads,
    /// and stays `200` (`DEGRADED`, the check `READ_ONLY`) while it serves reads and refuses
    /// writes, for a service that only reads (a cache front, a read model). With
    /// [`require`](Self::require), a read-only Redis fails readiness.
    pub fn require_reads(self, availability: Availability) -> Self {
        self.check(availability, Policy::RequiredReads)
    }

    /// Replaces the liveness paths; an empty list turns liveness off.
    pub fn liveness_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        Arc::make_mut(&mut self.probe)
            .paths
            .set(Endpoint::Liveness, paths);
        self
    }

    /// Replaces the readiness paths; an empty list turns readiness off.
    pub fn readiness_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        Arc::make_mut(&mut self.probe)
            .paths
            .set(Endpoint::Readiness, paths);
        self
    }

    /// Replaces the startup paths; an empty list turns the startup probe off.
    pub fn startup_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        Arc::make_mut(&mut self.probe)
            .paths
            .set(Endpoint::Startup, paths);
        self
    }

    /// Requires `Authorization: Bearer <token>` on the details endpoint. Without it (or with a
    /// wrong one) the request goes to the inner service as if the endpoint did not exist, which
    /// usually means a plain `404`: not a `401` that would reveal it.
    pub fn details_token(mut self, token: &str) -> Self {
        Arc::make_mut(&mut self.probe).details_token = Some(BearerToken::new(token));
        self
    }

    /// Every path this probe answers, once each.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &str> {
        self.probe.paths.routes().into_iter().map(|(path, _)| path)
    }

    /// A handle that makes readiness answer `DRAINING` (see [`Drain`]). Every service this layer
    /// builds shares it.
    pub fn drain_handle(&self) -> Drain {
        self.probe.drain.clone()
    }

    /// Turns on the details endpoint at `path` (conventionally
    /// [`DEFAULT_DETAILS_PATH`](crate::DEFAULT_DETAILS_PATH)).
    ///
    /// It always answers `200` (readiness is what decides) with the verdict and, per check:
    ///
    /// | field | value |
    /// |---|---|
    /// | `status` | `connecting`, `connected`, `disconnected`, `failed`, or `maintenance` while an operator override holds it out |
    /// | `available` | whether requests may use it now |
    /// | `required` | whether it fails readiness while down, now (a `required_at_startup` check stops being required once available) |
    /// | `policy` | `required`, `optional` or `required_at_startup` |
    /// | `attempts` | failed attempts since it was last connected |
    /// | `lastError` | the last error the monitor recorded (sanitized by the handle: never a password), or `null`; it stays after a reconnect, as history |
    /// | `lastErrorAgeMs` | how long ago that error was recorded; while `connected`, older than `connectedForSeconds`, which is how to tell history from news |
    /// | `connectedForSeconds` | how long the current connection has been up, while connected |
    /// | `nextRetryInSeconds` | time until the monitor's next attempt, rounded up, if one is scheduled |
    /// | `override` | the operator override's reason, while one is in force |
    /// | `started` | whether its startup decision is made (see `/startup`) |
    /// | `lastCheckAgeMs`, `lastCheckLatencyMs` | how long ago the monitor's last check completed, and how long it took |
    ///
    /// Expose it only where operators, not the public, can reach it.
    pub fn details_path(mut self, path: &str) -> Self {
        Arc::make_mut(&mut self.probe)
            .paths
            .set(Endpoint::Details, [path]);
        self
    }

    fn check(mut self, availability: Availability, policy: Policy) -> Self {
        let check = Check::new(availability, policy);
        Arc::make_mut(&mut self.probe).checks.push(check);
        self
    }
}

impl Default for ReadinessProbeLayer {
    fn default() -> Self {
        ReadinessProbeLayer::new()
    }
}

impl<S> Layer<S> for ReadinessProbeLayer {
    type Service = ReadinessProbe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadinessProbe {
            inner,
            probe: Arc::clone(&self.probe),
        }
    }
}

impl_inner_accessors!(ReadinessProbe {});

impl_answer_early_service!(ReadinessProbe, probe);

impl fmt::Debug for ReadinessProbeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessProbeLayer")
            .field("probe", &self.probe)
            .finish()
    }
}

impl<S: fmt::Debug> fmt::Debug for ReadinessProbe<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessProbe")
            .field("inner", &self.inner)
            .field("probe", &self.probe)
            .finish()
    }
}
