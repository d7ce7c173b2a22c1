//! The default JSON rejections, built once per status word and `Retry-After` value and shared
//! afterwards: a rejection clones a cached body and header map instead of formatting and hashing
//! its way to them.

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue};

use super::words::SHOWN;
use crate::body::{json_string, no_store};

/// At most this many `Retry-After` values are cached per status word.
const CACHED_SECONDS: u64 = 64;

pub(super) struct JsonBodies {
    /// The JSON up to and including `"retryAfter":`, one per status word.
    heads: [Bytes; SHOWN.len()],
    /// The `Retry-After` value of the first cached slot of each word.
    first: u64,
    /// Cached values per word; seconds outside the cached span are built per request.
    span: u64,
    cached: Box<[OnceLock<CachedRejection>]>,
}

/// One rejection's body and headers (`Content-Type`, `Cache-Control: no-store`, `Retry-After`).
#[derive(Clone)]
pub(super) struct CachedRejection {
    pub(super) body: Bytes,
    pub(super) headers: HeaderMap,
}

impl JsonBodies {
    /// Bodies with `error` and `error_code`, caching `Retry-After` values from `first` to `last`.
    pub(super) fn new(error: &str, error_code: &str, first: u64, last: u64) -> JsonBodies {
        let error = json_string(error);
        let error_code = json_string(error_code);
        let head = |shown: redis_gate_core::Reading| {
            let word = shown.as_str();
            Bytes::from(format!(
                r#"{{"error":{error},"errorCode":{error_code},"status":"{word}","retryAfter":"#
            ))
        };
        let span = (last - first + 1).min(CACHED_SECONDS);
        JsonBodies {
            heads: SHOWN.map(head),
            first,
            span,
            cached: (0..span * SHOWN.len() as u64)
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// The body and headers for the status word in `slot` and `seconds`.
    pub(super) fn get(&self, slot: usize, seconds: u64) -> CachedRejection {
        match seconds.checked_sub(self.first).filter(|o| *o < self.span) {
            Some(offset) => {
                let cached = &self.cached[slot * self.span as usize + offset as usize];
                cached.get_or_init(|| self.build(slot, seconds)).clone()
            }
            None => self.build(slot, seconds),
        }
    }

    fn build(&self, slot: usize, seconds: u64) -> CachedRejection {
        let head = &self.heads[slot];
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(seconds);
        // Exact capacity: freezing then hands the buffer over without reallocating.
        let mut json = BytesMut::with_capacity(head.len() + digits.len() + 1);
        json.extend_from_slice(head);
        json.extend_from_slice(digits.as_bytes());
        json.extend_from_slice(b"}");
        let mut headers = HeaderMap::with_capacity(3);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, no_store());
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        CachedRejection {
            body: json.freeze(),
            headers,
        }
    }
}
