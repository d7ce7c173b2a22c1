//! The gate's decision for one request, and the rejection it answers with.

use std::fmt;
use std::sync::Arc;

use http::header::{CACHE_CONTROL, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use redis_gate_core::{Access, Availability, Reading};

use super::grpc;
use super::json::JsonBodies;
use super::retry::RetryPolicy;
use super::words::slot;
use crate::body::{BodyFromBytes, no_store};
use crate::middleware::AnswerEarly;
use crate::paths::{is_default_path, length_bit};

/// What a custom responder (see
/// [`RequireRedisLayer::respond_with`](crate::RequireRedisLayer::respond_with)) learns about a
/// rejection.
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

pub(super) type Responder = Arc<dyn Fn(&Rejection) -> Response<bytes::Bytes> + Send + Sync>;

/// A layer's settings, shared by every service it builds.
#[derive(Clone)]
pub(super) struct Gate {
    pub(super) availability: Availability,
    /// What the routes behind the gate need: reads and writes, or reads alone.
    pub(super) access: Access,
    /// `redis_gate_rejections_total{dependency, layer="require_redis"}`, registered once so a
    /// rejection only bumps it.
    #[cfg(feature = "metrics")]
    pub(super) rejections: metrics::Counter,
    pub(super) retry: RetryPolicy,
    /// Paths let through exactly, and the probe's default paths unless gated.
    pub(super) exempt: Vec<Box<str>>,
    pub(super) exempt_probe_paths: bool,
    /// Prefixes let through with every path under them.
    pub(super) exempt_prefixes: Vec<Box<str>>,
    /// [`length_bit`]s of every exactly exempt path, so most rejected requests skip the
    /// comparisons.
    pub(super) exempt_lengths: u64,
    pub(super) error: Arc<str>,
    pub(super) error_code: Arc<str>,
    pub(super) body: Body,
    pub(super) grpc: grpc::Messages,
}

/// How the gate writes its rejections.
#[derive(Clone)]
pub(super) enum Body {
    Json(Arc<JsonBodies>),
    Custom(Responder),
}

impl AnswerEarly for Gate {
    type Reason = Reading;

    #[inline]
    fn reason_to_answer<ReqBody>(&self, req: &Request<ReqBody>) -> Option<Reading> {
        let reading = self.availability.reading();
        if reading.allows(self.access) || self.is_exempt(req.uri().path()) {
            None
        } else {
            Some(reading)
        }
    }

    #[inline]
    fn answer_early<ReqBody, ResBody: BodyFromBytes>(
        &self,
        reading: Reading,
        req: &Request<ReqBody>,
    ) -> Response<ResBody> {
        self.reject(reading, grpc::is_grpc(req))
    }
}

impl Gate {
    /// Builds the default JSON bodies again after a setting they show changed; a custom
    /// responder keeps its own.
    pub(super) fn rebuild_body(&mut self) {
        if let Body::Custom(_) = self.body {
            return;
        }
        let (first, last) = self.retry.header_bounds();
        let bodies = JsonBodies::new(&self.error, &self.error_code, first, last);
        self.body = Body::Json(Arc::new(bodies));
    }

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

    /// The answer while the handle reads `reading`: the gRPC `UNAVAILABLE` for a gRPC request,
    /// else the `503` (or the custom responder's answer, completed).
    pub(super) fn reject<B: BodyFromBytes>(&self, reading: Reading, grpc: bool) -> Response<B> {
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

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("availability", &self.availability)
            .field("access", &self.access)
            .field("retry", &self.retry)
            .field("exempt", &self.exempt)
            .field("exempt_probe_paths", &self.exempt_probe_paths)
            .field("exempt_prefixes", &self.exempt_prefixes)
            .field("error_code", &self.error_code)
            .field("custom_response", &matches!(self.body, Body::Custom(_)))
            .finish()
    }
}
