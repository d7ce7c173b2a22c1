use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// A response body type the layers can write their own answers in: a `503`, a probe's JSON.
///
/// [`RequireRedis`](crate::RequireRedis) and [`ReadinessProbe`](crate::ReadinessProbe) answer
/// with the inner service's own body type, so a request they let through comes back exactly as
/// the inner service built it, with nothing wrapped or boxed on the way. When they answer
/// themselves they need to make that type from a few bytes, which is what this trait does.
///
/// Implemented for [`http_body_util::Full<Bytes>`], [`BoxBody`](http_body_util::combinators::BoxBody)
/// and [`UnsyncBoxBody`](http_body_util::combinators::UnsyncBoxBody), axum's `Body` (feature
/// `axum`), tonic's `Body` (feature `tonic`), and [`GateBody`]. For any other body type, map the
/// inner service's responses into a [`GateBody`]:
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
/// use std::convert::Infallible;
///
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Empty;
/// use redis_gate::layers::GateBody;
/// use redis_gate::{AvailabilityReporter, RequireRedisLayer};
/// use tower::{ServiceBuilder, service_fn};
///
/// let reporter = AvailabilityReporter::default();
/// let service = ServiceBuilder::new()
///     .layer(RequireRedisLayer::new(reporter.availability()))
///     // `Empty` cannot hold the 503's body; `GateBody` can.
///     .map_response(|res: Response<Empty<Bytes>>| res.map(GateBody::new))
///     .service(service_fn(|_req: Request<Empty<Bytes>>| async {
///         Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
///     }));
/// # drop(service);
/// ```
#[diagnostic::on_unimplemented(
    message = "the redis-gate layers cannot write their own answers into a `{Self}`",
    note = "map the inner service's responses into `redis_gate_tower::GateBody` (see `BodyFromBytes`), or turn on the `axum` or `tonic` feature for their body types"
)]
pub trait BodyFromBytes: Sized {
    /// A body that yields `bytes` (no data frame at all when `bytes` is empty).
    fn from_bytes(bytes: Bytes) -> Self;
}

impl BodyFromBytes for http_body_util::Full<Bytes> {
    fn from_bytes(bytes: Bytes) -> Self {
        http_body_util::Full::new(bytes)
    }
}

impl<E: 'static> BodyFromBytes for http_body_util::combinators::BoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        use http_body_util::BodyExt;
        http_body_util::Full::new(bytes)
            .map_err(|never| match never {})
            .boxed()
    }
}

impl<E: 'static> BodyFromBytes for http_body_util::combinators::UnsyncBoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        use http_body_util::BodyExt;
        http_body_util::Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    }
}

#[cfg(feature = "axum")]
impl BodyFromBytes for axum::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        // `Body::from` boxes even an empty body; `Body::empty` does not allocate.
        if bytes.is_empty() {
            axum::body::Body::empty()
        } else {
            axum::body::Body::from(bytes)
        }
    }
}

#[cfg(feature = "tonic")]
impl BodyFromBytes for tonic::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        // `Body::new` keeps an empty body unboxed by itself.
        tonic::body::Body::new(http_body_util::Full::new(bytes))
    }
}

impl<B> BodyFromBytes for GateBody<B> {
    fn from_bytes(bytes: Bytes) -> Self {
        GateBody::full(bytes)
    }
}

pin_project! {
    /// A body that is either another body or a few bytes: the adapter that lets the layers
    /// answer for an inner service whose body type cannot be made from bytes (see
    /// [`BodyFromBytes`]).
    ///
    /// It keeps the inner body's error type, so an `Infallible` stack stays `Infallible`.
    pub struct GateBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { bytes: Option<Bytes> },
    }
}

impl<B> GateBody<B> {
    /// Wraps the inner service's body.
    pub fn new(body: B) -> GateBody<B> {
        GateBody {
            kind: Kind::Inner { body },
        }
    }

    fn full(bytes: Bytes) -> GateBody<B> {
        let bytes = (!bytes.is_empty()).then_some(bytes);
        GateBody {
            kind: Kind::Full { bytes },
        }
    }
}

impl<B> Body for GateBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Full { bytes } => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

impl<B> std::fmt::Debug for GateBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("GateBody::Inner"),
            Kind::Full { bytes } => f.debug_tuple("GateBody::Full").field(bytes).finish(),
        }
    }
}

pub(crate) fn no_store() -> HeaderValue {
    HeaderValue::from_static("no-store")
}

/// A JSON response written by a layer: the status, `Content-Type: application/json` and
/// `Cache-Control: no-store`.
pub(crate) fn json_response<B: BodyFromBytes>(status: StatusCode, json: Bytes) -> Response<B> {
    let mut res = Response::new(B::from_bytes(json));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, no_store());
    res
}

/// A plain-text response written by a layer, likewise.
pub(crate) fn text_response<B: BodyFromBytes>(status: StatusCode, text: Bytes) -> Response<B> {
    let mut res = Response::new(B::from_bytes(text));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    let plain = HeaderValue::from_static("text/plain; charset=utf-8");
    headers.insert(CONTENT_TYPE, plain);
    headers.insert(CACHE_CONTROL, no_store());
    res
}

/// `value` as a JSON string literal, quotes included.
pub(crate) fn json_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use http_body_util::combinators::{BoxBody, UnsyncBoxBody};

    use super::*;

    /// The bytes `B::from_bytes` yields, and whether an empty one ends at once.
    async fn round_trip<B>() -> (Bytes, bool)
    where
        B: BodyFromBytes + Body<Data = Bytes>,
        B::Error: std::fmt::Debug,
    {
        let full = B::from_bytes(Bytes::from_static(b"{\"status\":\"UP\"}"));
        let bytes = full.collect().await.unwrap().to_bytes();
        let empty = B::from_bytes(Bytes::new());
        (bytes, empty.is_end_stream())
    }

    #[tokio::test]
    async fn every_body_type_carries_the_bytes_and_ends_when_empty() {
        let expected = (Bytes::from_static(b"{\"status\":\"UP\"}"), true);
        assert_eq!(round_trip::<http_body_util::Full<Bytes>>().await, expected);
        assert_eq!(
            round_trip::<BoxBody<Bytes, std::io::Error>>().await,
            expected
        );
        assert_eq!(round_trip::<UnsyncBoxBody<Bytes, String>>().await, expected);
        assert_eq!(
            round_trip::<GateBody<http_body_util::Empty<Bytes>>>().await,
            expected
        );
        #[cfg(feature = "axum")]
        assert_eq!(round_trip::<axum::body::Body>().await, expected);
        #[cfg(feature = "tonic")]
        assert_eq!(round_trip::<tonic::body::Body>().await, expected);
    }

    #[tokio::test]
    async fn gate_body_passes_the_inner_body_through() {
        let inner = http_body_util::Full::new(Bytes::from_static(b"inner"));
        let body = GateBody::new(inner);
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "inner");
    }
}
