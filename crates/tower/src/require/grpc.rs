//! Rejections for gRPC clients, which expect gRPC errors rather than HTTP ones: HTTP `200` with
//! `grpc-status: 14` (UNAVAILABLE) in a trailers-only response, and a retry pushback in place of
//! `Retry-After`.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};

use super::words::SHOWN;
use crate::body::BodyFromBytes;

/// True for gRPC requests (`content-type: application/grpc`, `application/grpc+proto`, ...).
pub(super) fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"))
}

/// `grpc-message` values, `<dependency> unavailable: <status word>`, one per status word.
#[derive(Clone)]
pub(super) struct Messages([HeaderValue; SHOWN.len()]);

impl Messages {
    pub(super) fn new(dependency: &str) -> Messages {
        Messages(SHOWN.map(|shown| {
            let message = format!("{dependency} unavailable: {}", shown.as_str());
            // Handle names are ordinary text; anything a header cannot carry is left out.
            HeaderValue::try_from(message)
                .unwrap_or_else(|_| HeaderValue::from_static("unavailable"))
        }))
    }

    /// The trailers-only `UNAVAILABLE` answer for the status word in `slot`.
    pub(super) fn unavailable<B: BodyFromBytes>(
        &self,
        slot: usize,
        pushback_ms: u64,
    ) -> Response<B> {
        let mut res = Response::new(B::from_bytes(Bytes::new()));
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        headers.insert("grpc-message", self.0[slot].clone());
        headers.insert("grpc-retry-pushback-ms", HeaderValue::from(pushback_ms));
        res
    }
}
