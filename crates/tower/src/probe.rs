//! Liveness and readiness endpoints that read availability handles and never do I/O.
//!
//! [`ReadinessProbe`] answers its own paths and passes every other request to the inner service
//! untouched. Defaults:
//!
//! | path | answers |
//! |---|---|
//! | `/health`, `/health/live` | liveness: always `200 {"status":"UP"}`, never looks at Redis |
//! | `/ready`, `/healthz`, `/health/ready` | readiness, from the checks; `DRAINING` once [`Drain::start`]ed |
//! | `/startup` | `503 {"status":"STARTING"}` until every check has made its startup decision (connected, or gave up and runs degraded), then `200 {"status":"STARTED"}` for good |
//! | `/health/dependencies` | details; **off** until [`ReadinessProbeLayer::details_path`], optionally behind a bearer token |
//!
//! Readiness answers `200 {"status":"UP","ready":true,"checks":{"redis":"UP"}}` when every check
//! is available, `503 {"status":"NOT_READY","ready":false,...}` when a required one is not, and
//! `200 {"status":"DEGRADED","ready":true,...}` when only optional ones are down. Probe paths
//! answer `GET` and `HEAD`; other methods get `405` with `Allow: GET, HEAD`. Paths match exactly:
//! `/ready/`, `//ready` and `/READY` are not probe paths and go to the inner service. Every probe
//! response carries `Cache-Control: no-store`.
//!
//! Whether Redis belongs in readiness at all is a trade-off: every replica shares it, so when it
//! goes down a readiness check that requires it takes the whole fleet out of the load balancer at
//! once. Require it only when the service is useless without it; otherwise make the check
//! [`optional`](ReadinessProbeLayer::optional) and gate the routes that need Redis with
//! `RequireRedis`. Liveness never depends on Redis: restarting a healthy process does not bring
//! Redis back.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Empty};
//! use redis_gate_core::{AvailabilityReporter, Status};
//! use redis_gate_tower::{ReadinessProbeLayer, RequireRedisLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Infallible> {
//! let reporter = AvailabilityReporter::default();
//! let redis = reporter.availability();
//! // The probe goes outside the gate, so it answers its paths before the gate sees them.
//! let mut app = ServiceBuilder::new()
//!     .layer(ReadinessProbeLayer::new().require(redis.clone()))
//!     .layer(RequireRedisLayer::new(redis))
//!     .service(service_fn(|_req: Request<Empty<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
//!     }));
//!
//! let get = |path| Request::get(path).body(Empty::new()).unwrap();
//! let res = app.ready().await?.call(get("/health")).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//!
//! let res = app.ready().await?.call(get("/ready")).await?;
//! assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
//! let body = res.into_body().collect().await?.to_bytes();
//! assert_eq!(body, r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#);
//!
//! reporter.set_status(Status::Connected);
//! let res = app.ready().await?.call(get("/ready")).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{ALLOW, AUTHORIZATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use redis_gate_core::{Availability, Snapshot};
use serde_json::json;
use subtle::ConstantTimeEq;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{json_response, json_string, no_store};
use crate::{GateBody, ResponseFuture};

/// The liveness paths a new [`ReadinessProbeLayer`] answers.
pub const DEFAULT_LIVENESS_PATHS: [&str; 2] = ["/health", "/health/live"];
/// The readiness paths a new [`ReadinessProbeLayer`] answers.
pub const DEFAULT_READINESS_PATHS: [&str; 3] = ["/ready", "/healthz", "/health/ready"];
/// The startup paths a new [`ReadinessProbeLayer`] answers.
pub const DEFAULT_STARTUP_PATHS: [&str; 1] = ["/startup"];
/// The conventional details path, for [`ReadinessProbeLayer::details_path`].
pub const DEFAULT_DETAILS_PATH: &str = "/health/dependencies";

const LIVENESS_BODY: &[u8] = br#"{"status":"UP"}"#;

/// Layer that applies [`ReadinessProbe`]. See the [module docs](self) for the defaults.
#[derive(Clone)]
pub struct ReadinessProbeLayer {
    probe: Probe,
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
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    /// Starts draining. It cannot be undone: a draining process is on its way out.
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// True once draining has started.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
struct Check {
    availability: Availability,
    required: bool,
    /// The check's name as a JSON string, quotes included.
    json_name: Box<str>,
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
        ReadinessProbeLayer {
            probe: Probe {
                liveness: DEFAULT_LIVENESS_PATHS.map(Box::from).into(),
                readiness: DEFAULT_READINESS_PATHS.map(Box::from).into(),
                startup: DEFAULT_STARTUP_PATHS.map(Box::from).into(),
                details: None,
                details_authorization: None,
                checks: Vec::new(),
                drain: Drain::default(),
            },
        }
    }

    /// Adds a required check: readiness fails while `availability` is unavailable. The check is
    /// named after the handle (`"redis"` by default).
    pub fn require(self, availability: Availability) -> Self {
        self.check(availability, true)
    }

    /// Adds an optional check: while `availability` is down readiness stays `200` but says
    /// `DEGRADED`.
    pub fn optional(self, availability: Availability) -> Self {
        self.check(availability, false)
    }

    /// Replaces the liveness paths; an empty list turns liveness off.
    pub fn liveness_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.probe.liveness = paths.into_iter().map(|p| p.as_ref().into()).collect();
        self
    }

    /// Replaces the readiness paths; an empty list turns readiness off.
    pub fn readiness_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.probe.readiness = paths.into_iter().map(|p| p.as_ref().into()).collect();
        self
    }

    /// Replaces the startup paths; an empty list turns the startup probe off.
    pub fn startup_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.probe.startup = paths.into_iter().map(|p| p.as_ref().into()).collect();
        self
    }

    /// Requires `Authorization: Bearer <token>` on the details endpoint. Without it (or with a
    /// wrong one) the request goes to the inner service as if the endpoint did not exist, which
    /// usually means a plain `404`: not a `401` that would reveal it.
    pub fn details_token(mut self, token: &str) -> Self {
        self.probe.details_authorization = Some(token.as_bytes().into());
        self
    }

    /// A handle that makes readiness answer `DRAINING` (see [`Drain`]). Every service this layer
    /// builds shares it.
    pub fn drain_handle(&self) -> Drain {
        self.probe.drain.clone()
    }

    /// Turns on the details endpoint at `path` (conventionally [`DEFAULT_DETAILS_PATH`]).
    ///
    /// It reports, per check: status word, availability, whether it is required, failed attempts,
    /// the last error (sanitized by the handle: never a password), seconds connected, and seconds
    /// until the next retry. It always answers `200`; readiness is what decides. Expose it only
    /// where operators, not the public, can reach it.
    pub fn details_path(mut self, path: &str) -> Self {
        self.probe.details = Some(path.into());
        self
    }

    fn check(mut self, availability: Availability, required: bool) -> Self {
        let json_name = json_string(&availability.name()).into();
        self.probe.checks.push(Check {
            availability,
            required,
            json_name,
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
            probe: Arc::new(self.probe.clone()),
        }
    }
}

impl<S> ReadinessProbe<S> {
    /// A reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ReadinessProbe<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<GateBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.probe.endpoint(&req) {
            None => ResponseFuture::inner(self.inner.call(req)),
            Some(endpoint) => ResponseFuture::early(self.probe.answer(endpoint, req.method())),
        }
    }
}

impl Probe {
    fn endpoint<B>(&self, req: &Request<B>) -> Option<Endpoint> {
        let path = req.uri().path();
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

    fn answer<B>(&self, endpoint: Endpoint, method: &Method) -> Response<GateBody<B>> {
        if method != Method::GET && method != Method::HEAD {
            let mut res = Response::new(GateBody::full(Bytes::new()));
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            let headers = res.headers_mut();
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            headers.insert(http::header::CACHE_CONTROL, no_store());
            return res;
        }
        let (status, json) = match endpoint {
            Endpoint::Liveness => (StatusCode::OK, Bytes::from_static(LIVENESS_BODY)),
            Endpoint::Readiness => self.readiness(),
            Endpoint::Startup => self.startup(),
            Endpoint::Details => (StatusCode::OK, self.details()),
        };
        if method == Method::HEAD {
            return json_response(status, Bytes::new());
        }
        json_response(status, json)
    }

    /// The readiness verdict for `up`, one entry per check in order.
    fn verdict(&self, up: &[bool]) -> (StatusCode, &'static str, bool) {
        let down = |required: bool| {
            self.checks
                .iter()
                .zip(up)
                .any(|(check, up)| check.required == required && !up)
        };
        if down(true) {
            (StatusCode::SERVICE_UNAVAILABLE, "NOT_READY", false)
        } else if down(false) {
            (StatusCode::OK, "DEGRADED", true)
        } else {
            (StatusCode::OK, "UP", true)
        }
    }

    fn readiness(&self) -> (StatusCode, Bytes) {
        // Read each handle once, so the verdict and the list agree even mid-transition.
        let up: Vec<bool> = self
            .checks
            .iter()
            .map(|check| check.availability.is_available())
            .collect();
        let (status, word, ready) = if self.drain.is_draining() {
            (StatusCode::SERVICE_UNAVAILABLE, "DRAINING", false)
        } else {
            self.verdict(&up)
        };

        let mut json = BytesMut::with_capacity(64 + 24 * self.checks.len());
        json.extend_from_slice(br#"{"status":""#);
        json.extend_from_slice(word.as_bytes());
        json.extend_from_slice(if ready {
            br#"","ready":true,"checks":{"#
        } else {
            br#"","ready":false,"checks":{"#
        });
        for (i, (check, up)) in self.checks.iter().zip(&up).enumerate() {
            if i > 0 {
                json.extend_from_slice(b",");
            }
            json.extend_from_slice(check.json_name.as_bytes());
            json.extend_from_slice(if *up { br#":"UP""# } else { br#":"DOWN""# });
        }
        json.extend_from_slice(b"}}");
        (status, json.freeze())
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

    fn details(&self) -> Bytes {
        let snapshots: Vec<Snapshot> = self
            .checks
            .iter()
            .map(|check| check.availability.snapshot())
            .collect();
        let up: Vec<bool> = snapshots.iter().map(Snapshot::is_available).collect();
        let (_, word, ready) = if self.drain.is_draining() {
            (StatusCode::SERVICE_UNAVAILABLE, "DRAINING", false)
        } else {
            self.verdict(&up)
        };
        let checks: serde_json::Map<String, serde_json::Value> = self
            .checks
            .iter()
            .zip(&snapshots)
            .map(|(check, snap)| {
                let detail = json!({
                    "status": snap.reading().as_str(),
                    "available": snap.is_available(),
                    "required": check.required,
                    "attempts": snap.attempts(),
                    "lastError": snap.last_error(),
                    "connectedForSeconds": snap.uptime().map(|d| d.as_secs()),
                    "nextRetryInSeconds": snap.retry_in().map(|d| d.as_secs_f64().ceil() as u64),
                    "override": snap.override_reason(),
                    "started": snap.is_started(),
                });
                (snap.name().to_owned(), detail)
            })
            .collect();
        let body = json!({ "status": word, "ready": ready, "checks": checks });
        Bytes::from(body.to_string())
    }
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
        let checks: Vec<_> = self
            .checks
            .iter()
            .map(|c| (&*c.json_name, c.required))
            .collect();
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
