//! The probe's state, shared by the layer, every service it builds and its axum routes, and how
//! it answers a request: which endpoint, whether the details may be shown, and the response.

use std::fmt;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use redis_gate_core::Snapshot;

use super::auth::BearerToken;
use super::checks::{Check, Seen};
use super::drain::Drain;
use super::endpoints::{Endpoint, Paths};
use super::render;
use super::verdict::Verdict;
use crate::body::{BodyFromBytes, json_response, no_store, text_response};
use crate::middleware::AnswerEarly;

#[derive(Clone, Default)]
pub(super) struct Probe {
    pub(super) paths: Paths,
    /// The bearer token, when the details endpoint requires one.
    pub(super) details_token: Option<BearerToken>,
    pub(super) checks: Vec<Check>,
    pub(super) drain: Drain,
}

impl AnswerEarly for Probe {
    type Reason = Endpoint;

    #[inline]
    fn reason_to_answer<ReqBody>(&self, req: &Request<ReqBody>) -> Option<Endpoint> {
        self.endpoint(req)
    }

    #[inline]
    fn answer_early<ReqBody, ResBody: BodyFromBytes>(
        &self,
        endpoint: Endpoint,
        req: &Request<ReqBody>,
    ) -> Response<ResBody> {
        self.answer(endpoint, req)
    }
}

impl Probe {
    /// The endpoint `req` asks for. The details path without the token it requires is no
    /// endpoint: the request goes on as if the probe did not have it.
    #[inline]
    fn endpoint<B>(&self, req: &Request<B>) -> Option<Endpoint> {
        match self.paths.endpoint(req.uri().path())? {
            Endpoint::Details if !self.is_authorized(req) => None,
            endpoint => Some(endpoint),
        }
    }

    /// Whether `req` may see the details.
    pub(super) fn is_authorized<B>(&self, req: &Request<B>) -> bool {
        self.details_token
            .as_ref()
            .is_none_or(|token| token.admits(req))
    }

    /// The answer on `endpoint`: `GET` and `HEAD` only, never cached.
    pub(super) fn answer<B: BodyFromBytes, R>(
        &self,
        endpoint: Endpoint,
        req: &Request<R>,
    ) -> Response<B> {
        let method = req.method();
        if method != Method::GET && method != Method::HEAD {
            let mut res = Response::new(B::from_bytes(Bytes::new()));
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            let headers = res.headers_mut();
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            headers.insert(CACHE_CONTROL, no_store());
            return res;
        }
        let head = method == Method::HEAD;
        let (status, json) = match endpoint {
            Endpoint::Liveness => (StatusCode::OK, Bytes::from_static(render::LIVENESS)),
            Endpoint::Readiness if is_verbose(req.uri().query()) => {
                let (snapshots, seen) = self.snapshots();
                let verdict = self.verdict(&seen);
                let text = render::readiness_text(verdict, &self.checks, &seen, &snapshots);
                let text = if head { Bytes::new() } else { text };
                return text_response(verdict.status_code(), text);
            }
            Endpoint::Readiness => {
                let seen = self.see();
                let verdict = self.verdict(&seen);
                let json = render::readiness_json(verdict, &self.checks, &seen);
                (verdict.status_code(), json)
            }
            Endpoint::Startup if self.is_started() => {
                (StatusCode::OK, Bytes::from_static(render::STARTED))
            }
            Endpoint::Startup => (
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(render::STARTING),
            ),
            Endpoint::Details => {
                let (snapshots, seen) = self.snapshots();
                let verdict = self.verdict(&seen);
                let json = render::details_json(verdict, &self.checks, &seen, &snapshots);
                // Always `200`: readiness is what decides.
                (StatusCode::OK, json)
            }
        };
        json_response(status, if head { Bytes::new() } else { json })
    }

    fn verdict(&self, seen: &[Seen]) -> Verdict {
        Verdict::of(self.drain.is_draining(), seen)
    }

    /// Whether every check has made its startup decision.
    fn is_started(&self) -> bool {
        self.checks.iter().all(|c| c.availability.is_started())
    }

    /// Each check once, so the verdict and the list agree even mid-transition.
    fn see(&self) -> Vec<Seen> {
        self.checks.iter().map(Check::see).collect()
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

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checks: Vec<_> = self.checks.iter().map(|c| (&*c.name, c.policy)).collect();
        f.debug_struct("Probe")
            .field("liveness", &self.paths.liveness)
            .field("readiness", &self.paths.readiness)
            .field("startup", &self.paths.startup)
            .field("details", &self.paths.details)
            .field("details_token", &self.details_token.is_some())
            .field("draining", &self.drain.is_draining())
            .field("checks", &checks)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_is_any_value_of_the_parameter_but_0_and_false() {
        for query in [
            "verbose",
            "verbose=1",
            "verbose=true",
            "a=b&verbose",
            "verbose=",
        ] {
            assert!(is_verbose(Some(query)), "{query}");
        }
        for query in ["verbose=0", "verbose=false", "verbosity", "a=verbose", ""] {
            assert!(!is_verbose(Some(query)), "{query}");
        }
        assert!(!is_verbose(None));
    }
}
