//! Answer `503 Service Unavailable` at once while Redis is unavailable.

mod gate;
mod grpc;
mod json;
mod retry;
#[cfg(test)]
mod tests;
mod words;

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use http::Response;
use redis_gate_core::{Access, Availability};
use tower_layer::Layer;

pub use self::gate::Rejection;
use self::gate::{Body, Gate};
use self::json::JsonBodies;
use self::retry::RetryPolicy;
use crate::body::BodyFromBytes;
use crate::middleware::{impl_answer_early_service, impl_inner_accessors};
use crate::paths::{DEFAULT_PATH_LENGTHS, length_bit};
use crate::probe::ReadinessProbeLayer;

/// The error message of the default body.
pub const DEFAULT_ERROR: &str = "Service Temporarily Unavailable";
/// The error code of the default body.
pub const DEFAULT_ERROR_CODE: &str = "REDIS_UNAVAILABLE";

/// Layer that applies [`RequireRedis`]: requests pass while the handle is available and get a
/// `503` with `Retry-After` at once while it is not.
///
/// Defaults: `Retry-After` is the number of seconds until the monitor's next scheduled retry
/// has had 50 ms to finish its check, rounded up and clamped to `1..=30`; the body is
/// `{"error":"Service Temporarily Unavailable","errorCode":"REDIS_UNAVAILABLE","status":"<status>","retryAfter":<n>}`
/// where `<status>` is `connecting`, `disconnected`, `failed`, or `maintenance` while an operator
/// override is in force. The body never carries the handle's last error. gRPC requests get
/// `grpc-status: 14` with `grpc-retry-pushback-ms`, the same wait in milliseconds and never `0`
/// (clients built on grpc-core, such as grpcio, never send the retry a pushback of `0` asks for).
///
/// The probe's default paths (`/health`, `/health/live`, `/ready`, `/healthz`, `/health/ready`,
/// `/startup`, `/health/dependencies`) always pass, so liveness never depends on Redis even with
/// the gate outside [`ReadinessProbeLayer`](crate::ReadinessProbeLayer);
/// [`gate_probe_paths`](Self::gate_probe_paths) turns that off.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
/// use std::convert::Infallible;
///
/// use bytes::Bytes;
/// use http::{Request, Response, StatusCode};
/// use http_body_util::{BodyExt, Empty, Full};
/// use redis_gate::{AvailabilityReporter, RequireRedisLayer, Status};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Infallible> {
/// let reporter = AvailabilityReporter::default();
/// let mut service = ServiceBuilder::new()
///     .layer(RequireRedisLayer::new(reporter.availability()).error_code("TICKETS_NOT_READY"))
///     .service(service_fn(|_req: Request<Empty<Bytes>>| async {
///         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
///     }));
///
/// // Redis is still connecting: the handler is not called.
/// let res = service.ready().await?.call(Request::new(Empty::new())).await?;
/// assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(res.headers()["retry-after"], "1");
/// let body = res.into_body().collect().await?.to_bytes();
/// assert_eq!(
///     body,
///     r#"{"error":"Service Temporarily Unavailable","errorCode":"TICKETS_NOT_READY","status":"connecting","retryAfter":1}"#
/// );
///
/// reporter.set_status(Status::Connected);
/// let res = service.ready().await?.call(Request::new(Empty::new())).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RequireRedisLayer {
    // Shared with every service the layer builds: applying the layer is one reference count.
    gate: Arc<Gate>,
}

/// Middleware that passes requests to the inner service only while Redis is available.
///
/// See [`RequireRedisLayer`] for the response it gives otherwise.
#[derive(Clone)]
pub struct RequireRedis<S> {
    inner: S,
    gate: Arc<Gate>,
}

/// The response a [`RequireRedisLayer`] gives while Redis is unavailable, for handlers that
/// find Redis failing after the gate let them through: from
/// [`RequireRedisLayer::unavailable_response`], cheap to clone, `Send + Sync`.
///
/// Each [`response`](Self::response) is built when asked for, from the handle's reading and the
/// monitor's next retry then; if the handle still says available, the status word is
/// `disconnected`. With the `axum` feature it is an `IntoResponse`.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
/// use bytes::Bytes;
/// use http::StatusCode;
/// use http_body_util::Full;
/// use redis_gate::{AvailabilityReporter, RequireRedisLayer, Status};
///
/// let reporter = AvailabilityReporter::default();
/// reporter.set_status(Status::Connected);
/// let layer = RequireRedisLayer::new(reporter.availability()).error_code("CART_UNAVAILABLE");
/// // Kept in the handler's state, beside the layer on the routes.
/// let unavailable = layer.unavailable_response();
///
/// // The handler's Redis call just failed:
/// let res = unavailable.response::<Full<Bytes>>();
/// assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(res.headers()["retry-after"], "1");
/// ```
#[derive(Clone)]
pub struct UnavailableResponse {
    gate: Arc<Gate>,
}

impl UnavailableResponse {
    /// The gate's `503` (or its custom responder's answer), built now.
    pub fn response<B: BodyFromBytes>(&self) -> Response<B> {
        self.gate.reject(self.gate.availability.reading(), false)
    }
}

impl fmt::Debug for UnavailableResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnavailableResponse")
            .field("availability", &self.gate.availability)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for UnavailableResponse {
    fn into_response(self) -> axum::response::Response {
        self.response()
    }
}

impl RequireRedisLayer {
    /// Gate on `availability`, with the default response.
    pub fn new(availability: Availability) -> Self {
        let retry = RetryPolicy::DEFAULT;
        let (first, last) = retry.header_bounds();
        let body = JsonBodies::new(DEFAULT_ERROR, DEFAULT_ERROR_CODE, first, last);
        let name = availability.name();
        RequireRedisLayer {
            gate: Arc::new(Gate {
                #[cfg(feature = "metrics")]
                rejections: metrics::counter!(
                    "redis_gate_rejections_total",
                    "dependency" => name.to_string(),
                    "layer" => "require_redis",
                ),
                grpc: grpc::Messages::new(&name),
                availability,
                access: Access::ReadWrite,
                retry,
                exempt: Vec::new(),
                exempt_probe_paths: true,
                exempt_prefixes: Vec::new(),
                exempt_lengths: DEFAULT_PATH_LENGTHS,
                error: DEFAULT_ERROR.into(),
                error_code: DEFAULT_ERROR_CODE.into(),
                body: Body::Json(Arc::new(body)),
            }),
        }
    }

    /// Sets `errorCode` in the default body, for clients that branch on it.
    pub fn error_code(mut self, code: &str) -> Self {
        let gate = self.gate_mut();
        gate.error_code = code.into();
        gate.rebuild_body();
        self
    }

    /// Sets `error` in the default body.
    pub fn error_message(mut self, message: &str) -> Self {
        let gate = self.gate_mut();
        gate.error = message.into();
        gate.rebuild_body();
        self
    }

    /// Bounds the wait announced until the monitor's next retry, in seconds (default `0..=30`):
    /// `Retry-After` within the range but never below 1, `grpc-retry-pushback-ms` within it in
    /// milliseconds but never below 1 ms. An upper bound below the lower one is raised to it.
    pub fn retry_after_range(mut self, range: RangeInclusive<u64>) -> Self {
        let gate = self.gate_mut();
        gate.retry = gate.retry.until_next_retry(*range.start(), *range.end());
        gate.rebuild_body();
        self
    }

    /// Always announces `seconds` (at least 1), whatever the monitor's schedule.
    pub fn retry_after_fixed(mut self, seconds: u64) -> Self {
        let gate = self.gate_mut();
        gate.retry = gate.retry.fixed(seconds);
        gate.rebuild_body();
        self
    }

    /// Adds up to `seconds` at random to every announced wait (default 0: none, so bodies stay
    /// byte-for-byte stable), so clients rejected together do not come back in one burst when
    /// Redis returns. The range's upper bound still holds; `retryAfter` in the body always
    /// equals the header.
    pub fn retry_after_jitter(mut self, seconds: u64) -> Self {
        let gate = self.gate_mut();
        gate.retry = gate.retry.jitter(seconds);
        gate.rebuild_body();
        self
    }

    /// Lets requests for exactly `path` through even while Redis is down.
    pub fn exempt(mut self, path: &str) -> Self {
        let gate = self.gate_mut();
        gate.exempt.push(path.into());
        gate.exempt_lengths |= length_bit(path);
        self
    }

    /// Lets every path `probe` answers through, the ones you gave it included, for a gate that
    /// wraps the probe: around the router, or a `route_layer` added after `merge(probe)`. Without
    /// it, only the probe's default paths pass, and a custom liveness path (`/livez`) would
    /// answer `503` while Redis is down.
    ///
    /// ```
    /// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; }
    /// use redis_gate::{AvailabilityReporter, ReadinessProbeLayer, RequireRedisLayer};
    ///
    /// let reporter = AvailabilityReporter::default();
    /// let probe = ReadinessProbeLayer::new()
    ///     .liveness_paths(["/livez"])
    ///     .require(reporter.availability());
    /// let gate = RequireRedisLayer::new(reporter.availability()).exempt_probe(&probe);
    /// # drop(gate);
    /// ```
    pub fn exempt_probe(mut self, probe: &ReadinessProbeLayer) -> Self {
        for path in probe.paths() {
            self = self.exempt(path);
        }
        self
    }

    /// Lets requests under `prefix` through even while Redis is down. Matching respects path
    /// segments: `/internal` exempts `/internal` and `/internal/jobs`, not `/internals`.
    pub fn exempt_prefix(mut self, prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/');
        self.gate_mut().exempt_prefixes.push(prefix.into());
        self
    }

    /// The routes behind this gate only read: let them through while Redis answers reads and
    /// refuses writes (`read_only`: a replica, out of memory, writes paused), and answer `503`
    /// only while reads fail too. By default the gate needs reads and writes.
    ///
    /// ```
    /// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; }
    /// use redis_gate::{AvailabilityReporter, RequireRedisLayer, Status};
    ///
    /// let reporter = AvailabilityReporter::default();
    /// reporter.set_status(Status::Connected);
    /// reporter.set_writes_refused(true);
    /// // A cache route keeps reading; the strict gate of a route that writes answers 503.
    /// let reads = RequireRedisLayer::new(reporter.availability()).reads_only();
    /// let writes = RequireRedisLayer::new(reporter.availability());
    /// # drop((reads, writes));
    /// ```
    pub fn reads_only(mut self) -> Self {
        self.gate_mut().access = Access::Read;
        self
    }

    /// Gates the probe's default paths like any other. By default they pass, so that a gate
    /// layered outside the probe cannot turn liveness into a Redis check (and an orchestrator
    /// into a restart storm); use this when those paths are your own routes that need Redis.
    pub fn gate_probe_paths(mut self) -> Self {
        let gate = self.gate_mut();
        gate.exempt_probe_paths = false;
        gate.exempt_lengths = gate
            .exempt
            .iter()
            .fold(0, |mask, path| mask | length_bit(path));
        self
    }

    /// Builds rejections with `responder` instead of the default JSON body. The layer still adds
    /// `Retry-After` and `Cache-Control: no-store` when the responder leaves them out.
    ///
    /// ```
    /// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
    /// use bytes::Bytes;
    /// use http::{Response, StatusCode};
    /// use redis_gate::{AvailabilityReporter, RequireRedisLayer};
    ///
    /// let reporter = AvailabilityReporter::default();
    /// let layer = RequireRedisLayer::new(reporter.availability()).respond_with(|rejection| {
    ///     let mut res = Response::new(Bytes::from(format!("down: {}", rejection.reading())));
    ///     *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    ///     res
    /// });
    /// # drop(layer);
    /// ```
    pub fn respond_with<F>(mut self, responder: F) -> Self
    where
        F: Fn(&Rejection) -> Response<bytes::Bytes> + Send + Sync + 'static,
    {
        self.gate_mut().body = Body::Custom(Arc::new(responder));
        self
    }

    /// The answer this gate gives while Redis is unavailable, as a small value (one reference
    /// count) for a handler's state: a handler that finds Redis failing mid-request turns it
    /// into exactly the response the gate would have given. See [`UnavailableResponse`].
    pub fn unavailable_response(&self) -> UnavailableResponse {
        UnavailableResponse {
            gate: Arc::clone(&self.gate),
        }
    }

    fn gate_mut(&mut self) -> &mut Gate {
        Arc::make_mut(&mut self.gate)
    }
}

impl<S> Layer<S> for RequireRedisLayer {
    type Service = RequireRedis<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireRedis {
            inner,
            gate: Arc::clone(&self.gate),
        }
    }
}

impl_inner_accessors!(RequireRedis {
    /// Gates `inner` on `availability` with the default response.
    pub fn new(inner: S, availability: Availability) -> Self {
        RequireRedisLayer::new(availability).layer(inner)
    }
});

impl_answer_early_service!(RequireRedis, gate);

impl fmt::Debug for RequireRedisLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireRedisLayer")
            .field("gate", &self.gate)
            .finish()
    }
}

impl<S: fmt::Debug> fmt::Debug for RequireRedis<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireRedis")
            .field("inner", &self.inner)
            .field("gate", &self.gate)
            .finish()
    }
}
