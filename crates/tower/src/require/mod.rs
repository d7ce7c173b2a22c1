//! Answer `503 Service Unavailable` at once while Redis is unavailable.

mod grpc;
mod json;
mod retry;

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use http::header::{CACHE_CONTROL, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use redis_gate_core::{Availability, Reading, Status};
use tower_layer::Layer;

use self::json::JsonBodies;
use self::retry::RetryPolicy;
use crate::body::BodyFromBytes;
use crate::body::no_store;
use crate::middleware::{AnswerEarly, impl_answer_early_service, impl_inner_accessors};
use crate::paths::{DEFAULT_PATH_LENGTHS, is_default_path, length_bit};

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
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; }
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

/// What a custom responder (see [`RequireRedisLayer::respond_with`]) learns about a rejection.
#[derive(Clone, Copy, Debug)]
pub struct Rejection {
    reading: Reading,
    retry_after: u64,
}

impl Rejection {
    /// The handle's reading when the request arrived.
    pub fn reading(&self) -> Reading {
        self.reading
    }

    /// The number of seconds the layer puts in `Retry-After`.
    pub fn retry_after(&self) -> u64 {
        self.retry_after
    }
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
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; }
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

type Responder = Arc<dyn Fn(&Rejection) -> Response<bytes::Bytes> + Send + Sync>;

#[derive(Clone)]
struct Gate {
    availability: Availability,
    /// `redis_gate_rejections_total{dependency, layer="require_redis"}`, registered once so a
    /// rejection only bumps it.
    #[cfg(feature = "metrics")]
    rejections: metrics::Counter,
    retry: RetryPolicy,
    /// Paths let through exactly, and the probe's default paths unless gated.
    exempt: Vec<Box<str>>,
    exempt_probe_paths: bool,
    /// Prefixes let through with every path under them.
    exempt_prefixes: Vec<Box<str>>,
    /// [`length_bit`]s of every exactly exempt path, so most rejected requests skip the
    /// comparisons.
    exempt_lengths: u64,
    error: Arc<str>,
    error_code: Arc<str>,
    body: Body,
    grpc: grpc::Messages,
}

#[derive(Clone)]
enum Body {
    Json(Arc<JsonBodies>),
    Custom(Responder),
}

/// The readings a rejection can show, one per status word (the words are
/// [`Reading::as_str`]'s); [`slot`] finds a reading's place.
const SHOWN: [Reading; 4] = [
    Reading::new(Status::Connecting, false),
    Reading::new(Status::Disconnected, false),
    Reading::new(Status::Failed, false),
    Reading::new(Status::Connected, true),
];

/// The index in [`SHOWN`] of the word a rejection shows for `reading`. A handler that found
/// Redis failing while the handle still says connected gets `disconnected`.
fn slot(reading: Reading) -> usize {
    if reading.is_overridden() {
        return 3;
    }
    match reading.status() {
        Status::Connecting => 0,
        Status::Connected | Status::Disconnected => 1,
        Status::Failed => 2,
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
        self.gate_mut().error_code = code.into();
        self.rebuild_body();
        self
    }

    /// Sets `error` in the default body.
    pub fn error_message(mut self, message: &str) -> Self {
        self.gate_mut().error = message.into();
        self.rebuild_body();
        self
    }

    /// Bounds the wait announced until the monitor's next retry, in seconds (default `0..=30`):
    /// `Retry-After` within the range but never below 1, `grpc-retry-pushback-ms` within it in
    /// milliseconds but never below 1 ms. An upper bound below the lower one is raised to it.
    pub fn retry_after_range(mut self, range: RangeInclusive<u64>) -> Self {
        let gate = self.gate_mut();
        gate.retry = gate.retry.until_next_retry(*range.start(), *range.end());
        self.rebuild_body();
        self
    }

    /// Always announces `seconds` (at least 1), whatever the monitor's schedule.
    pub fn retry_after_fixed(mut self, seconds: u64) -> Self {
        let gate = self.gate_mut();
        gate.retry = gate.retry.fixed(seconds);
        self.rebuild_body();
        self
    }

    /// Adds up to `seconds` at random to every announced wait (default 0: none, so bodies stay
    /// byte-for-byte stable), so clients rejected together do not come back in one burst when
    /// Redis returns. The range's upper bound still holds; `retryAfter` in the body always
    /// equals the header.
    pub fn retry_after_jitter(mut self, seconds: u64) -> Self {
        let gate = self.gate_mut();
        gate.retry = gate.retry.jitter(seconds);
        self.rebuild_body();
        self
    }

    /// Lets requests for exactly `path` through even while Redis is down.
    pub fn exempt(mut self, path: &str) -> Self {
        let gate = self.gate_mut();
        gate.exempt.push(path.into());
        gate.exempt_lengths |= length_bit(path);
        self
    }

    /// Lets requests under `prefix` through even while Redis is down. Matching respects path
    /// segments: `/internal` exempts `/internal` and `/internal/jobs`, not `/internals`.
    pub fn exempt_prefix(mut self, prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/');
        self.gate_mut().exempt_prefixes.push(prefix.into());
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
    /// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; }
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

    fn rebuild_body(&mut self) {
        let gate = self.gate_mut();
        if let Body::Custom(_) = gate.body {
            return;
        }
        let (first, last) = gate.retry.header_bounds();
        let bodies = JsonBodies::new(&gate.error, &gate.error_code, first, last);
        gate.body = Body::Json(Arc::new(bodies));
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

impl AnswerEarly for Gate {
    #[inline]
    fn answer_early<ReqBody, ResBody: BodyFromBytes>(
        &self,
        req: &Request<ReqBody>,
    ) -> Option<Response<ResBody>> {
        let reading = self.availability.reading();
        if reading.is_available() || self.is_exempt(req.uri().path()) {
            None
        } else {
            Some(self.reject(reading, grpc::is_grpc(req)))
        }
    }
}

impl Gate {
    fn is_exempt(&self, path: &str) -> bool {
        let exact = self.exempt_lengths & length_bit(path) != 0
            && ((self.exempt_probe_paths && is_default_path(path))
                || self.exempt.iter().any(|exempt| path == &**exempt));
        exact
            || self.exempt_prefixes.iter().any(|prefix| {
                path.strip_prefix(&**prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
    }

    fn reject<B: BodyFromBytes>(&self, reading: Reading, grpc: bool) -> Response<B> {
        #[cfg(feature = "metrics")]
        self.rejections.increment(1);
        let until = self.availability.retry_in();
        if grpc {
            return self
                .grpc
                .unavailable(slot(reading), self.retry.millis(until));
        }
        let retry_after = self.retry.seconds(until);
        match &self.body {
            Body::Json(bodies) => {
                let cached = bodies.get(slot(reading), retry_after);
                let mut res = Response::new(B::from_bytes(cached.body));
                *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                *res.headers_mut() = cached.headers;
                res
            }
            Body::Custom(responder) => {
                let rejection = Rejection {
                    reading,
                    retry_after,
                };
                let mut res = responder(&rejection).map(B::from_bytes);
                let headers = res.headers_mut();
                if !headers.contains_key(RETRY_AFTER) {
                    headers.insert(RETRY_AFTER, HeaderValue::from(retry_after));
                }
                if !headers.contains_key(CACHE_CONTROL) {
                    headers.insert(CACHE_CONTROL, no_store());
                }
                res
            }
        }
    }
}

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

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("availability", &self.availability)
            .field("retry", &self.retry)
            .field("exempt", &self.exempt)
            .field("exempt_probe_paths", &self.exempt_probe_paths)
            .field("exempt_prefixes", &self.exempt_prefixes)
            .field("error_code", &self.error_code)
            .field("custom_response", &matches!(self.body, Body::Custom(_)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use http_body::Body as _;
    use http_body_util::{BodyExt, Full};
    use redis_gate_core::AvailabilityReporter;
    use tower::{ServiceExt, service_fn};

    use super::*;

    type Reply = Response<Full<Bytes>>;

    async fn send(layer: &RequireRedisLayer, path: &str) -> (Reply, usize) {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let service = layer.layer(service_fn(move |_req: Request<()>| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new()))) }
        }));
        let req = Request::get(path).body(()).unwrap();
        let res = service.oneshot(req).await.unwrap();
        (res, calls.load(std::sync::atomic::Ordering::SeqCst))
    }

    async fn body_text(res: Reply) -> String {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn passes_through_untouched_while_available() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Connected);
        let (res, calls) = send(&RequireRedisLayer::new(reporter.availability()), "/").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(calls, 1);
        assert!(res.headers().is_empty());
    }

    #[tokio::test]
    async fn rejects_with_503_and_never_calls_inner_while_unavailable() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Disconnected);
        reporter.record_failure("redis://u:secret@h refused", None);
        let (res, calls) = send(&RequireRedisLayer::new(reporter.availability()), "/").await;
        assert_eq!(calls, 0);
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "1");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.headers()["content-type"], "application/json");
        let body = body_text(res).await;
        assert_eq!(
            body,
            r#"{"error":"Service Temporarily Unavailable","errorCode":"REDIS_UNAVAILABLE","status":"disconnected","retryAfter":1}"#
        );
    }

    #[tokio::test]
    async fn status_word_follows_the_reading() {
        let reporter = AvailabilityReporter::default();
        let layer = RequireRedisLayer::new(reporter.availability());
        for (status, word) in [
            (Status::Connecting, "connecting"),
            (Status::Disconnected, "disconnected"),
            (Status::Failed, "failed"),
        ] {
            reporter.set_status(status);
            let body = body_text(send(&layer, "/").await.0).await;
            assert!(body.contains(&format!(r#""status":"{word}""#)), "{body}");
        }
        reporter.set_status(Status::Connected);
        reporter.mark_unavailable("deploy");
        let body = body_text(send(&layer, "/").await.0).await;
        assert!(body.contains(r#""status":"maintenance""#), "{body}");
    }

    #[tokio::test]
    async fn retry_after_counts_down_to_the_next_retry_within_bounds() {
        let reporter = AvailabilityReporter::default();
        let layer = RequireRedisLayer::new(reporter.availability()).retry_after_range(2..=10);

        reporter.record_failure(
            "refused",
            Some(Instant::now() + Duration::from_millis(4500)),
        );
        let (res, _) = send(&layer, "/").await;
        assert_eq!(res.headers()["retry-after"], "5");
        assert!(body_text(res).await.ends_with(r#""retryAfter":5}"#));

        reporter.record_failure("refused", Some(Instant::now() + Duration::from_secs(600)));
        assert_eq!(send(&layer, "/").await.0.headers()["retry-after"], "10");

        reporter.record_failure("refused", Some(Instant::now()));
        assert_eq!(send(&layer, "/").await.0.headers()["retry-after"], "2");
    }

    #[tokio::test]
    async fn retry_after_beyond_the_cached_span_is_still_exact() {
        let reporter = AvailabilityReporter::default();
        let layer = RequireRedisLayer::new(reporter.availability()).retry_after_range(1..=600);
        for seconds in [1, 64, 65, 300] {
            // Announced: the wait and the check's margin, rounded up.
            let at = Instant::now() + Duration::from_secs(seconds) - Duration::from_millis(100);
            reporter.record_failure("refused", Some(at));
            let (res, _) = send(&layer, "/").await;
            let expected = seconds.to_string();
            assert_eq!(res.headers()["retry-after"], expected.as_str());
            let body = body_text(res).await;
            assert!(
                body.ends_with(&format!(r#""retryAfter":{seconds}}}"#)),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn fixed_retry_after_ignores_the_schedule() {
        let reporter = AvailabilityReporter::default();
        reporter.record_failure("refused", Some(Instant::now() + Duration::from_secs(20)));
        let layer = RequireRedisLayer::new(reporter.availability()).retry_after_fixed(2);
        assert_eq!(send(&layer, "/").await.0.headers()["retry-after"], "2");
    }

    #[tokio::test]
    async fn error_code_and_message_are_escaped_into_the_body() {
        let reporter = AvailabilityReporter::default();
        let layer = RequireRedisLayer::new(reporter.availability())
            .error_code("WS_TICKET_REDIS_NOT_READY")
            .error_message("Tickets \"paused\"");
        let body = body_text(send(&layer, "/").await.0).await;
        assert_eq!(
            body,
            r#"{"error":"Tickets \"paused\"","errorCode":"WS_TICKET_REDIS_NOT_READY","status":"connecting","retryAfter":1}"#
        );
    }

    #[tokio::test]
    async fn exempt_paths_pass_while_unavailable() {
        let reporter = AvailabilityReporter::default();
        let layer = RequireRedisLayer::new(reporter.availability())
            .exempt("/status")
            .exempt_prefix("/internal/");
        for (path, passes) in [
            ("/status", true),
            ("/status/x", false),
            ("/internal", true),
            ("/internal/jobs", true),
            ("/internals", false),
            ("/api", false),
        ] {
            let (res, calls) = send(&layer, path).await;
            assert_eq!(calls == 1, passes, "{path}");
            assert_eq!(res.status() == StatusCode::OK, passes, "{path}");
        }
    }

    #[tokio::test]
    async fn custom_responder_gets_missing_headers_added() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Failed);
        let layer = RequireRedisLayer::new(reporter.availability())
            .retry_after_fixed(7)
            .respond_with(|rejection| {
                let text = format!("{} {}", rejection.reading(), rejection.retry_after());
                let mut res = Response::new(Bytes::from(text));
                *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                res
            });
        let (res, calls) = send(&layer, "/").await;
        assert_eq!(calls, 0);
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "7");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(body_text(res).await, "failed 7");
    }

    #[tokio::test]
    async fn handlers_can_answer_exactly_as_the_gate_would() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Connected);
        let layer = RequireRedisLayer::new(reporter.availability()).error_code("X");
        let unavailable = layer.unavailable_response();
        drop(layer);
        let res: Reply = unavailable.response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "1");
        assert_eq!(
            body_text(res).await,
            r#"{"error":"Service Temporarily Unavailable","errorCode":"X","status":"disconnected","retryAfter":1}"#
        );
    }

    #[tokio::test]
    async fn grpc_requests_get_a_trailers_only_unavailable_status() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Disconnected);
        let layer = RequireRedisLayer::new(reporter.availability());
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let service = layer.layer(service_fn(move |_req: Request<()>| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new()))) }
        }));
        let req = Request::post("/pkg.Service/Method")
            .header("content-type", "application/grpc+proto")
            .body(())
            .unwrap();
        let res = service.oneshot(req).await.unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["grpc-status"], "14");
        assert_eq!(
            res.headers()["grpc-message"],
            "redis unavailable: disconnected"
        );
        assert_eq!(res.headers()["content-type"], "application/grpc");
        assert!(res.headers().get("retry-after").is_none());
        assert!(res.body().is_end_stream(), "trailers-only: no body frames");

        // A blip of 300 ms is pushed back by 300 ms and the check's margin, not rounded up to a
        // whole second.
        reporter.record_failure("refused", Some(Instant::now() + Duration::from_millis(300)));
        let req = Request::post("/pkg.Service/Method")
            .header("content-type", "application/grpc")
            .body(())
            .unwrap();
        let res = layer
            .layer(service_fn(|_req: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
            }))
            .oneshot(req)
            .await
            .unwrap();
        let pushback: u64 = res.headers()["grpc-retry-pushback-ms"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((250..=350).contains(&pushback), "{pushback}");
    }

    #[tokio::test]
    async fn grpc_messages_name_the_dependency() {
        let reporter = AvailabilityReporter::new("sessions");
        reporter.set_status(Status::Failed);
        let layer = RequireRedisLayer::new(reporter.availability());
        let res: Reply = layer.gate.reject(reporter.reading(), true);
        assert_eq!(
            res.headers()["grpc-message"],
            "sessions unavailable: failed"
        );
    }

    #[tokio::test]
    async fn probe_paths_pass_the_gate_unless_told_otherwise() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Disconnected);
        let layer = RequireRedisLayer::new(reporter.availability());
        for path in [
            "/health",
            "/health/live",
            "/ready",
            "/healthz",
            "/health/ready",
            "/startup",
            "/health/dependencies",
        ] {
            assert_eq!(send(&layer, path).await.1, 1, "{path}");
        }
        for path in ["/health/", "/healthx", "/api/health"] {
            assert_eq!(send(&layer, path).await.1, 0, "{path}");
        }
        let strict = layer.gate_probe_paths();
        assert_eq!(send(&strict, "/health").await.1, 0);
    }

    #[tokio::test]
    async fn jitter_spreads_retry_after_and_the_body_always_agrees() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Disconnected);
        let layer = RequireRedisLayer::new(reporter.availability()).retry_after_jitter(4);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            reporter.record_failure(
                "refused",
                Some(Instant::now() + Duration::from_millis(1500)),
            );
            let (res, _) = send(&layer, "/").await;
            let header: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((2..=6).contains(&header), "{header}");
            let body = body_text(res).await;
            assert!(
                body.ends_with(&format!(r#""retryAfter":{header}}}"#)),
                "{body}"
            );
            seen.insert(header);
        }
        assert!(seen.len() >= 4, "jitter spreads the answers: {seen:?}");

        // Off by default: the same wait gives the same bytes.
        reporter.record_failure("refused", None);
        let plain = RequireRedisLayer::new(reporter.availability());
        let first = body_text(send(&plain, "/").await.0).await;
        for _ in 0..20 {
            assert_eq!(body_text(send(&plain, "/").await.0).await, first);
        }
    }

    #[tokio::test]
    async fn body_never_contains_the_last_error() {
        let reporter = AvailabilityReporter::default();
        reporter.record_failure("WRONGPASS invalid username-password pair", None);
        reporter.set_status(Status::Failed);
        let body = body_text(
            send(&RequireRedisLayer::new(reporter.availability()), "/")
                .await
                .0,
        )
        .await;
        assert!(!body.contains("WRONGPASS"), "{body}");
    }
}
