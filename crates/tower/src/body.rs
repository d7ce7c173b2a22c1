use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The response body of the redis-gate layers: the inner service's body when the request went
    /// through, or the few bytes the layer wrote when it answered itself.
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
    pub(crate) fn inner(body: B) -> GateBody<B> {
        GateBody {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn full(bytes: Bytes) -> GateBody<B> {
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
pub(crate) fn json_response<B>(status: StatusCode, json: Bytes) -> Response<GateBody<B>> {
    let mut res = Response::new(GateBody::full(json));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, no_store());
    res
}

/// `value` as a JSON string literal, quotes included.
pub(crate) fn json_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}
