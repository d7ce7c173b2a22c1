//! Liveness and readiness endpoints that read availability handles and never do I/O.

#[cfg(feature = "axum")]
mod router;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use http::header::{ALLOW, AUTHORIZATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use redis_gate_core::{Availability, Snapshot, Status};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::Notify;
use tower_layer::Layer;

use crate::body::{BodyFromBytes, json_response, json_string, no_store, text_response};
use crate::middleware::{AnswerEarly, impl_answer_early_service, impl_inner_accessors};
use crate::paths::{
    DEFAULT_LIVENESS_PATHS, DEFAULT_READINESS_PATHS, DEFAULT_STARTUP_PATHS, length_bit,
};

const LIVENESS_BODY: &[u8] = br#"{"status":"UP"}"#;

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
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; }
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
/// instead, which cannot be put in a wrong place.
///
/// A `RequireRedis` gate that wraps the probe (layered outside it, or a `route_layer` or `layer`
/// added after the `merge`) lets the default paths through. Paths you configure yourself are
/// gated like any other path there: exempt them
/// ([`RequireRedisLayer::exempt`](crate::RequireRedisLayer::exempt)), or keep the probe outside
/// the gate (after the gate's `route_layer` in an axum chain).
///
#[cfg_attr(
    feature = "axum",
    doc = r#"
With axum, merge the probe into the router; its paths answer wherever the `merge` sits, with or
without layers around them:

```
# mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; }
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

#[derive(Clone)]
struct Probe {
    /// Bit `n` is set when some probe path is `n` bytes long (bit 63: 63 or longer), so most
    /// requests are told apart from every probe path by their length alone.
    lengths: u64,
    liveness: Vec<Box<str>>,
    readiness: Vec<Box<str>>,
    startup: Vec<Box<str>>,
    details: Option<Box<str>>,
    /// The bearer token, when the details endpoint requires one.
    details_authorization: Option<Box<[u8]>>,
    checks: Vec<Check>,
    drain: Drain,
}

/// Takes a service out of its load balancer before it stops: once [`start`](Drain::start)ed,
/// readiness answers `503 {"status":"DRAINING",...}` while liveness stays `200` and every other
/// route keeps working. Cheap to clone; get one from [`ReadinessProbeLayer::drain_handle`].
#[derive(Clone, Debug, Default)]
pub struct Drain(Arc<DrainState>);

#[derive(Debug, Default)]
struct DrainState {
    draining: AtomicBool,
    started: Notify,
}

impl Drain {
    /// Starts draining. It cannot be undone: a draining process is on its way out.
    pub fn start(&self) {
        self.0.draining.store(true, Ordering::Release);
        self.0.started.notify_waiters();
    }

    /// True once draining has started.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Acquire)
    }

    /// Resolves once draining has started (at once if it has), for whatever else must follow
    /// it, such as gRPC health statuses.
    pub async fn started(&self) {
        loop {
            // Registered before the check, so a `start` in between is not missed.
            let started = self.0.started.notified();
            if self.is_draining() {
                return;
            }
            started.await;
        }
    }
}

#[derive(Clone)]
struct Check {
    availability: Availability,
    policy: Policy,
    /// The check's name, and as a JSON string, quotes included.
    name: Box<str>,
    json_name: Box<str>,
}

/// How a check counts for readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Required,
    Optional,
    /// Required until the dependency has been available once, optional afterwards.
    RequiredAtStartup,
}

impl Policy {
    /// The policy's name, in the details' `policy` and the verbose readiness labels.
    fn as_str(self) -> &'static str {
        match self {
            Policy::Required => "required",
            Policy::Optional => "optional",
            Policy::RequiredAtStartup => "required_at_startup",
        }
    }

    /// Whether a check under this policy fails readiness while down.
    fn is_required(self, has_been_available: bool) -> bool {
        match self {
            Policy::Required => true,
            Policy::Optional => false,
            Policy::RequiredAtStartup => !has_been_available,
        }
    }
}

/// One check as readiness sees it at one instant.
#[derive(Clone, Copy)]
struct Seen {
    up: bool,
    required: bool,
}

impl Check {
    /// Reads the handle once. The "has been available" bit is read before the reading, so a
    /// dependency coming up in between is seen up, never down-but-optional.
    fn see(&self) -> Seen {
        let required = self
            .policy
            .is_required(self.availability.has_been_available());
        Seen {
            up: self.availability.is_available(),
            required,
        }
    }

    /// The same from a snapshot, which holds the reading and the "has been available" bit of
    /// one write.
    fn seen_in(&self, snapshot: &Snapshot) -> Seen {
        Seen {
            up: snapshot.is_available(),
            required: self.policy.is_required(snapshot.has_been_available()),
        }
    }
}

/// Why verbose readiness says a check failed: a status word, or what the handle remembers of
/// the dependency's history. Never an error text: the verbose answer goes to anyone who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Down {
    /// The handle's writer is gone for good.
    Stopped,
    /// The monitor completes no checks, so it cannot vouch for the dependency.
    Stalled,
    /// An operator override holds the dependency out of service.
    Maintenance,
    /// Not available yet, and the startup wait is not over.
    Connecting,
    /// Was available, lost it, and the monitor is reconnecting.
    Disconnected,
    /// `Failed` without ever having been available, once the startup decision is made: the
    /// startup wait ran out and the service runs without it.
    NeverAvailableAfterStartup,
    /// `Failed` without ever having been available, before the startup decision: a failure
    /// waiting does not fix (bad credentials), or a fail-closed startup that ran out of time.
    NeverAvailable,
    /// `Failed` after having been available: a failure waiting does not fix, such as credentials
    /// changed under the service.
    Lasting,
}

impl Down {
    fn of(snapshot: &Snapshot) -> Down {
        let reading = snapshot.reading();
        if snapshot.is_stopped() {
            Down::Stopped
        } else if snapshot.is_stalled() {
            Down::Stalled
        } else if reading.is_overridden() {
            Down::Maintenance
        } else {
            match reading.status() {
                // Connected and down is an override, handled above.
                Status::Connecting | Status::Connected => Down::Connecting,
                Status::Disconnected => Down::Disconnected,
                Status::Failed if snapshot.has_been_available() => Down::Lasting,
                Status::Failed if snapshot.is_started() => Down::NeverAvailableAfterStartup,
                Status::Failed => Down::NeverAvailable,
            }
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Down::Stopped => "monitor stopped",
            Down::Stalled => "monitor stalled",
            Down::Maintenance => "maintenance",
            Down::Connecting => "connecting",
            Down::Disconnected => "disconnected",
            Down::NeverAvailableAfterStartup => "never available, startup over",
            Down::NeverAvailable => "never available",
            Down::Lasting => "lasting failure",
        }
    }
}

#[derive(Clone, Copy)]
enum Endpoint {
    Liveness,
    Readiness,
    Startup,
    Details,
}

impl ReadinessProbeLayer {
    /// A probe on the default paths, with no checks yet: readiness is `UP` until you add some.
    pub fn new() -> Self {
        let mut probe = Probe {
            lengths: 0,
            liveness: DEFAULT_LIVENESS_PATHS.map(Box::from).into(),
            readiness: DEFAULT_READINESS_PATHS.map(Box::from).into(),
            startup: DEFAULT_STARTUP_PATHS.map(Box::from).into(),
            details: None,
            details_authorization: None,
            checks: Vec::new(),
            drain: Drain::default(),
        };
        probe.update_lengths();
        ReadinessProbeLayer {
            probe: Arc::new(probe),
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

    /// Replaces the liveness paths; an empty list turns liveness off.
    pub fn liveness_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let probe = Arc::make_mut(&mut self.probe);
        probe.liveness = paths.into_iter().map(|p| p.as_ref().into()).collect();
        probe.update_lengths();
        self
    }

    /// Replaces the readiness paths; an empty list turns readiness off.
    pub fn readiness_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let probe = Arc::make_mut(&mut self.probe);
        probe.readiness = paths.into_iter().map(|p| p.as_ref().into()).collect();
        probe.update_lengths();
        self
    }

    /// Replaces the startup paths; an empty list turns the startup probe off.
    pub fn startup_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let probe = Arc::make_mut(&mut self.probe);
        probe.startup = paths.into_iter().map(|p| p.as_ref().into()).collect();
        probe.update_lengths();
        self
    }

    /// Requires `Authorization: Bearer <token>` on the details endpoint. Without it (or with a
    /// wrong one) the request goes to the inner service as if the endpoint did not exist, which
    /// usually means a plain `404`: not a `401` that would reveal it.
    pub fn details_token(mut self, token: &str) -> Self {
        Arc::make_mut(&mut self.probe).details_authorization = Some(token.as_bytes().into());
        self
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
        let probe = Arc::make_mut(&mut self.probe);
        probe.details = Some(path.into());
        probe.update_lengths();
        self
    }

    fn check(mut self, availability: Availability, policy: Policy) -> Self {
        let name = availability.name();
        Arc::make_mut(&mut self.probe).checks.push(Check {
            json_name: json_string(&name).into(),
            name: (*name).into(),
            availability,
            policy,
        });
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

impl AnswerEarly for Probe {
    #[inline]
    fn answer_early<ReqBody, ResBody: BodyFromBytes>(
        &self,
        req: &Request<ReqBody>,
    ) -> Option<Response<ResBody>> {
        let endpoint = self.endpoint(req)?;
        Some(self.answer(endpoint, req))
    }
}

/// True when the query asks for the readable report: `verbose`, `verbose=1`, `verbose=true`
/// (any value but `0` and `false`) among its parameters. Anything else is ignored.
fn is_verbose(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        query.split('&').any(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            key == "verbose" && !matches!(value, "0" | "false")
        })
    })
}

impl Probe {
    fn update_lengths(&mut self) {
        let lists = [&self.liveness, &self.readiness, &self.startup];
        let listed = lists.into_iter().flatten().map(|path| &**path);
        let paths = listed.chain(self.details.as_deref());
        self.lengths = paths.fold(0, |mask, path| mask | length_bit(path));
    }

    /// Every path the probe answers, once, with the endpoint it answers there: where a path is in
    /// two lists, the one [`endpoint`](Self::endpoint) tries first.
    #[cfg(feature = "axum")]
    fn routes(&self) -> Vec<(&str, Endpoint)> {
        let lists = [
            (&self.liveness, Endpoint::Liveness),
            (&self.readiness, Endpoint::Readiness),
            (&self.startup, Endpoint::Startup),
        ];
        let listed = lists
            .into_iter()
            .flat_map(|(paths, endpoint)| paths.iter().map(move |path| (&**path, endpoint)));
        let details = self
            .details
            .as_deref()
            .map(|path| (path, Endpoint::Details));
        let mut routes: Vec<(&str, Endpoint)> = Vec::new();
        for (path, endpoint) in listed.chain(details) {
            if !routes.iter().any(|(seen, _)| *seen == path) {
                routes.push((path, endpoint));
            }
        }
        routes
    }

    #[inline]
    fn endpoint<B>(&self, req: &Request<B>) -> Option<Endpoint> {
        let path = req.uri().path();
        if self.lengths & length_bit(path) == 0 {
            return None;
        }
        let listed = |paths: &[Box<str>]| paths.iter().any(|p| **p == *path);
        if listed(&self.liveness) {
            Some(Endpoint::Liveness)
        } else if listed(&self.readiness) {
            Some(Endpoint::Readiness)
        } else if listed(&self.startup) {
            Some(Endpoint::Startup)
        } else if self.details.as_deref() == Some(path) && self.is_authorized(req) {
            Some(Endpoint::Details)
        } else {
            None
        }
    }

    fn is_authorized<B>(&self, req: &Request<B>) -> bool {
        let Some(expected) = &self.details_authorization else {
            return true;
        };
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .map_or(&[][..], HeaderValue::as_bytes);
        // `Bearer <token>`; the scheme is case-insensitive (RFC 9110), the token is not.
        let (scheme, token) = given.split_at(given.len().min(7));
        scheme.eq_ignore_ascii_case(b"bearer ") && bool::from(token.ct_eq(expected))
    }

    fn answer<B: BodyFromBytes, R>(&self, endpoint: Endpoint, req: &Request<R>) -> Response<B> {
        let method = req.method();
        if method != Method::GET && method != Method::HEAD {
            let mut res = Response::new(B::from_bytes(Bytes::new()));
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            let headers = res.headers_mut();
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            headers.insert(http::header::CACHE_CONTROL, no_store());
            return res;
        }
        let head = method == Method::HEAD;
        let (status, json) = match endpoint {
            Endpoint::Liveness => (StatusCode::OK, Bytes::from_static(LIVENESS_BODY)),
            Endpoint::Readiness if is_verbose(req.uri().query()) => {
                let (status, text) = self.readiness_text();
                return text_response(status, if head { Bytes::new() } else { text });
            }
            Endpoint::Readiness => self.readiness(),
            Endpoint::Startup => self.startup(),
            Endpoint::Details => (StatusCode::OK, self.details()),
        };
        json_response(status, if head { Bytes::new() } else { json })
    }

    /// Each check once, so the verdict and the list agree even mid-transition.
    fn see(&self) -> Vec<Seen> {
        self.checks.iter().map(Check::see).collect()
    }

    /// The readiness verdict: status code, word, and whether it counts as ready.
    fn verdict(&self, seen: &[Seen]) -> (StatusCode, &'static str, bool) {
        let down = |required: bool| seen.iter().any(|s| s.required == required && !s.up);
        if self.drain.is_draining() {
            (StatusCode::SERVICE_UNAVAILABLE, "DRAINING", false)
        } else if down(true) {
            (StatusCode::SERVICE_UNAVAILABLE, "NOT_READY", false)
        } else if down(false) {
            (StatusCode::OK, "DEGRADED", true)
        } else {
            (StatusCode::OK, "UP", true)
        }
    }

    fn readiness(&self) -> (StatusCode, Bytes) {
        let seen = self.see();
        let (status, word, ready) = self.verdict(&seen);
        let mut json = BytesMut::with_capacity(64 + 24 * self.checks.len());
        json.extend_from_slice(br#"{"status":""#);
        json.extend_from_slice(word.as_bytes());
        json.extend_from_slice(if ready {
            br#"","ready":true,"checks":{"#
        } else {
            br#"","ready":false,"checks":{"#
        });
        for (i, (check, seen)) in self.checks.iter().zip(&seen).enumerate() {
            if i > 0 {
                json.extend_from_slice(b",");
            }
            json.extend_from_slice(check.json_name.as_bytes());
            json.extend_from_slice(if seen.up { br#":"UP""# } else { br#":"DOWN""# });
        }
        json.extend_from_slice(b"}}");
        (status, json.freeze())
    }

    /// Readiness for people, as Kubernetes' `/readyz?verbose` writes it: a line per check, then
    /// the verdict. Status words only, never an error text: anyone may ask.
    fn readiness_text(&self) -> (StatusCode, Bytes) {
        use std::fmt::Write;
        let (snapshots, seen) = self.snapshots();
        let (status, word, _) = self.verdict(&seen);
        let mut text = String::new();
        for ((check, seen), snapshot) in self.checks.iter().zip(&seen).zip(&snapshots) {
            let name = &check.name;
            if seen.up {
                let _ = writeln!(text, "[+]{name} ok");
                continue;
            }
            let reason = Down::of(snapshot).as_str();
            let _ = match check.policy {
                Policy::Required => writeln!(text, "[-]{name} failed: {reason}"),
                policy => writeln!(text, "[-]{name} failed: {reason} ({})", policy.as_str()),
            };
        }
        text.push_str(match word {
            "UP" => "readiness check passed\n",
            "DEGRADED" => "readiness check passed: degraded\n",
            "DRAINING" => "[-]drain failed: draining\nreadiness check failed: draining\n",
            _ => "readiness check failed\n",
        });
        (status, Bytes::from(text))
    }

    /// `200` once every check has made its startup decision, `503` until then.
    fn startup(&self) -> (StatusCode, Bytes) {
        if self.checks.iter().all(|c| c.availability.is_started()) {
            (
                StatusCode::OK,
                Bytes::from_static(br#"{"status":"STARTED"}"#),
            )
        } else {
            let body = br#"{"status":"STARTING"}"#;
            (StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(body))
        }
    }

    /// Each check's snapshot, once, and what readiness sees in it: the verdict and the details
    /// of a check come from the same write.
    fn snapshots(&self) -> (Vec<Snapshot>, Vec<Seen>) {
        let snapshots: Vec<Snapshot> = self
            .checks
            .iter()
            .map(|check| check.availability.snapshot())
            .collect();
        let seen = self
            .checks
            .iter()
            .zip(&snapshots)
            .map(|(check, snapshot)| check.seen_in(snapshot))
            .collect();
        (snapshots, seen)
    }

    fn details(&self) -> Bytes {
        let (snapshots, seen) = self.snapshots();
        let (_, word, ready) = self.verdict(&seen);
        let checks: serde_json::Map<String, serde_json::Value> = self
            .checks
            .iter()
            .zip(seen.iter().zip(&snapshots))
            .map(|(check, (seen, snap))| {
                let detail = json!({
                    "status": snap.reading().as_str(),
                    "available": snap.is_available(),
                    "required": seen.required,
                    "policy": check.policy.as_str(),
                    "attempts": snap.attempts(),
                    "lastError": snap.last_error(),
                    "lastErrorAgeMs": snap.last_error_at().map(|at| at.elapsed().as_millis() as u64),
                    "connectedForSeconds": snap.uptime().map(|d| d.as_secs()),
                    "nextRetryInSeconds": snap.retry_in().map(|d| d.as_secs_f64().ceil() as u64),
                    "override": snap.override_reason(),
                    "started": snap.is_started(),
                    "lastCheckAgeMs": snap.last_check_age().map(|d| d.as_millis() as u64),
                    "lastCheckLatencyMs": snap.last_check_latency().map(millis),
                });
                (snap.name().to_owned(), detail)
            })
            .collect();
        let body = json!({ "status": word, "ready": ready, "checks": checks });
        Bytes::from(body.to_string())
    }
}

/// Milliseconds with microsecond precision, for latencies well under one.
fn millis(duration: std::time::Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

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

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checks: Vec<_> = self.checks.iter().map(|c| (&*c.name, c.policy)).collect();
        f.debug_struct("Probe")
            .field("liveness", &self.liveness)
            .field("readiness", &self.readiness)
            .field("startup", &self.startup)
            .field("details", &self.details)
            .field("details_token", &self.details_authorization.is_some())
            .field("draining", &self.drain.is_draining())
            .field("checks", &checks)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full};
    use redis_gate_core::{AvailabilityReporter, Status};
    use tower::{ServiceExt, service_fn};

    use super::*;

    async fn status(layer: &ReadinessProbeLayer, path: &str) -> StatusCode {
        let service = layer.layer(service_fn(|_req: Request<()>| async {
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::IM_A_TEAPOT;
            Ok::<_, std::convert::Infallible>(res)
        }));
        let req = Request::get(path).body(()).unwrap();
        service.oneshot(req).await.unwrap().status()
    }

    async fn verbose(layer: &ReadinessProbeLayer) -> String {
        let service = layer.layer(service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
        }));
        let req = Request::get("/ready?verbose").body(()).unwrap();
        let body = service.oneshot(req).await.unwrap().into_body();
        let bytes = body.collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn verbose_readiness_says_why_in_status_words_and_names_the_policy() {
        let required = AvailabilityReporter::new("required");
        let at_startup = AvailabilityReporter::new("at_startup");
        let optional = AvailabilityReporter::new("optional");
        let layer = ReadinessProbeLayer::new()
            .require(required.availability())
            .require_at_startup(at_startup.availability())
            .optional(optional.availability());
        let all = |line: &str| {
            format!(
                "[-]required failed: {line}\n[-]at_startup failed: {line} (required_at_startup)\n\
                 [-]optional failed: {line} (optional)\nreadiness check failed\n"
            )
        };
        let reporters = [&required, &at_startup, &optional];
        let each = |write: &dyn Fn(&AvailabilityReporter)| reporters.iter().for_each(|r| write(r));
        assert_eq!(verbose(&layer).await, all("connecting"));

        // Startup gave up without a connection: the service runs without them.
        each(&|r| {
            r.set_status(Status::Failed);
        });
        assert_eq!(verbose(&layer).await, all("never available"));
        each(&|r| {
            r.mark_started();
        });
        assert_eq!(verbose(&layer).await, all("never available, startup over"));

        each(&|r| {
            r.set_status(Status::Connected);
            r.set_status(Status::Disconnected);
        });
        assert_eq!(
            verbose(&layer).await,
            "[-]required failed: disconnected\n\
             [-]at_startup failed: disconnected (required_at_startup)\n\
             [-]optional failed: disconnected (optional)\nreadiness check failed\n",
            "the startup check is optional now, but keeps its own name"
        );
        each(&|r| {
            r.set_status(Status::Failed);
        });
        assert_eq!(verbose(&layer).await, all("lasting failure"));
        each(&|r| {
            r.mark_unavailable("rotating the password hunter2");
        });
        assert_eq!(verbose(&layer).await, all("maintenance"));
        each(&|r| {
            r.mark_stalled();
        });
        assert_eq!(verbose(&layer).await, all("monitor stalled"));
        each(&|r| {
            r.stop();
        });
        assert_eq!(verbose(&layer).await, all("monitor stopped"));
    }

    #[tokio::test]
    async fn paths_of_any_length_match_and_same_length_near_misses_do_not() {
        let reporter = AvailabilityReporter::default();
        let long = format!("/{}", "l".repeat(62)); // 63 bytes: the last bit of the mask
        let longer = format!("/{}", "x".repeat(200)); // shares that bit
        let layer = ReadinessProbeLayer::new()
            .require(reporter.availability())
            .liveness_paths([long.as_str(), longer.as_str(), "/"])
            .readiness_paths(["/r"])
            .details_path("/d");
        for path in [long.as_str(), longer.as_str(), "/"] {
            assert_eq!(status(&layer, path).await, StatusCode::OK, "{path}");
        }
        assert_eq!(status(&layer, "/r").await, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(&layer, "/d").await, StatusCode::OK);

        let near_misses = [
            format!("/{}", "m".repeat(62)),
            format!("/{}", "x".repeat(199)),
            format!("/{}", "x".repeat(201)),
            "/s".to_owned(),
            "/health".to_owned(),
            "/ready".to_owned(),
        ];
        for path in &near_misses {
            assert_eq!(
                status(&layer, path).await,
                StatusCode::IM_A_TEAPOT,
                "{path}"
            );
        }
    }
}
