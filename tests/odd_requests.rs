//! Probe and gate paths against requests a well-behaved client never sends: odd methods, paths
//! that almost match, query strings, absolute-form targets, huge headers. Written byte by byte
//! on a raw TCP connection to a real axum server; `docs/faults.md` documents the behaviour.
//!
//! The rule they check: probe paths match the request path exactly (the query is not part of
//! it); anything else goes to the inner service, where the gate stands, so a near miss of a probe
//! path is gated like any other route. Paths are never normalised: `/internal/../api` is not
//! `/api`, for the gate as for the router.

use axum::Router;
use axum::routing::get;
use redis_gate::{AvailabilityReporter, ReadinessProbeLayer, RequireRedisLayer, Status};
use redis_gate_testkit::http::{RawReply, TestServer, raw_request};

const TOKEN: &str = "details-Token-5150";
const GATE_BODY: &str = r#""errorCode":"REDIS_UNAVAILABLE""#;
const NOT_READY: &str = r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#;
const READY: &str = r#"{"status":"UP","ready":true,"checks":{"redis":"UP"}}"#;

/// The whole app behind the gate (with an exempt prefix), the probe outside it.
fn app(reporter: &AvailabilityReporter) -> Router {
    let redis = reporter.availability();
    Router::new()
        .route(
            "/api/strict",
            get(|| async { "read" }).post(|| async { "stored" }),
        )
        .route("/internal/jobs", get(|| async { "jobs" }))
        .layer(RequireRedisLayer::new(redis.clone()).exempt_prefix("/internal"))
        .layer(
            ReadinessProbeLayer::new()
                .require(redis)
                .details_path("/health/dependencies")
                .details_token(TOKEN),
        )
}

struct Odd {
    server: TestServer,
}

impl Odd {
    async fn start(reporter: &AvailabilityReporter) -> Odd {
        Odd {
            server: TestServer::spawn(app(reporter)).await,
        }
    }

    /// `request line` plus `headers`, with `Host` and `Connection: close`.
    async fn send(&self, request_line: &str, headers: &[&str]) -> RawReply {
        let mut request = format!("{request_line}\r\nHost: localhost\r\nConnection: close\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        raw_request(self.server.addr(), request.as_bytes()).await
    }

    async fn expect(&self, request_line: &str, status: u16, body: &str) -> RawReply {
        let reply = self.send(request_line, &[]).await;
        assert_eq!(reply.status, status, "{request_line}: {reply:?}");
        assert!(
            reply.body.contains(body),
            "{request_line}: {body:?} not in {reply:?}"
        );
        reply
    }
}

#[tokio::test]
async fn probe_paths_match_exactly_and_near_misses_are_gated_while_redis_is_down() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let odd = Odd::start(&reporter).await;

    odd.expect("GET /ready HTTP/1.1", 503, NOT_READY).await;
    odd.expect("GET /health HTTP/1.1", 200, r#"{"status":"UP"}"#)
        .await;
    // The query string is not part of the path; only `verbose` changes the answer's form.
    odd.expect("GET /ready?x=%00&probe=k8s HTTP/1.1", 503, NOT_READY)
        .await;
    odd.expect(
        "GET /ready?verbose=1&x=%00 HTTP/1.1",
        503,
        "[-]redis failed: disconnected\nreadiness check failed\n",
    )
    .await;
    odd.expect("GET /health?probe=k8s HTTP/1.1", 200, "UP")
        .await;
    // Absolute form (what a client sends to a proxy): the path is still /ready.
    odd.expect("GET http://example.com/ready HTTP/1.1", 503, NOT_READY)
        .await;
    odd.expect("GET http://example.com/health HTTP/1.1", 200, "UP")
        .await;
    // HTTP/1.0 works the same.
    odd.expect("GET /health HTTP/1.0", 200, "UP").await;

    // Near misses are not probe paths: they reach the gate like any route.
    for target in [
        "//ready",
        "/ready/",
        "/READY",
        "/%72eady",
        "/ready/..",
        "/health/",
        "//health",
        "/Health",
        "http://example.com//ready",
    ] {
        odd.expect(&format!("GET {target} HTTP/1.1"), 503, GATE_BODY)
            .await;
    }
}

#[tokio::test]
async fn near_misses_of_probe_paths_are_the_apps_404_while_redis_is_up() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let odd = Odd::start(&reporter).await;

    odd.expect("GET /ready HTTP/1.1", 200, READY).await;
    odd.expect("GET http://example.com/ready?x=1 HTTP/1.1", 200, READY)
        .await;
    for target in ["//ready", "/ready/", "/READY", "/%72eady", "//health"] {
        let reply = odd.expect(&format!("GET {target} HTTP/1.1"), 404, "").await;
        assert_eq!(reply.body, "", "{target}");
    }
    odd.expect("GET /api/strict HTTP/1.1", 200, "read").await;
}

#[tokio::test]
async fn probe_paths_answer_get_and_head_and_405_for_every_other_method() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let odd = Odd::start(&reporter).await;

    // HEAD: the status and headers of GET, no body.
    let head = odd.send("HEAD /ready HTTP/1.1", &[]).await;
    assert_eq!(head.status, 503);
    assert_eq!(head.body, "");
    // No length at all is allowed; a wrong one (0) would not be.
    let get = odd.send("GET /ready HTTP/1.1", &[]).await;
    let length = get.body.len().to_string();
    assert!(
        head.header("content-length").is_none_or(|l| l == length),
        "{head:?}"
    );
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(head.header("cache-control"), Some("no-store"));
    let head = odd.send("HEAD /health HTTP/1.1", &[]).await;
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    for method in [
        "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE", "BREW", "M-SEARCH",
    ] {
        for path in ["/ready", "/health", "/startup"] {
            let reply = odd.send(&format!("{method} {path} HTTP/1.1"), &[]).await;
            assert_eq!(reply.status, 405, "{method} {path}: {reply:?}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method} {path}");
            assert_eq!(reply.body, "");
        }
    }
}

#[tokio::test]
async fn the_gate_does_not_look_at_the_method_and_never_normalises_paths() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let odd = Odd::start(&reporter).await;

    // Every method is gated, CORS preflights included: put a CORS layer outside the gate.
    for method in ["GET", "POST", "OPTIONS", "DELETE", "BREW"] {
        odd.expect(&format!("{method} /api/strict HTTP/1.1"), 503, GATE_BODY)
            .await;
    }
    let head = odd.send("HEAD /api/strict HTTP/1.1", &[]).await;
    assert_eq!((head.status, head.body.as_str()), (503, ""));
    assert!(head.header("retry-after").is_some());
    odd.expect(
        "POST http://example.com/api/strict HTTP/1.1",
        503,
        GATE_BODY,
    )
    .await;
    odd.expect("GET //api/strict HTTP/1.1", 503, GATE_BODY)
        .await;

    // The exempt prefix matches whole segments of the raw path.
    odd.expect("GET /internal/jobs HTTP/1.1", 200, "jobs").await;
    odd.expect("GET //internal/jobs HTTP/1.1", 503, GATE_BODY)
        .await;
    odd.expect("GET /internals HTTP/1.1", 503, GATE_BODY).await;
    // Exempt, but the router does not resolve `..` either: the strict handler is never reached.
    let dotted = odd.send("GET /internal/../api/strict HTTP/1.1", &[]).await;
    assert_eq!(dotted.status, 404, "{dotted:?}");
    assert!(!dotted.body.contains("read"));
}

#[tokio::test]
async fn the_details_endpoint_hides_behind_its_exact_token() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let odd = Odd::start(&reporter).await;

    let authorized = odd
        .send(
            "GET /health/dependencies HTTP/1.1",
            &[&format!("Authorization: Bearer {TOKEN}")],
        )
        .await;
    assert_eq!(authorized.status, 200, "{authorized:?}");
    assert!(authorized.body.contains(r#""redis":{"#));
    // The token never comes back.
    assert!(!authorized.body.contains(TOKEN));

    for header in [
        String::new(),
        "Authorization: Bearer wrong".to_owned(),
        format!("Authorization: Basic {TOKEN}"),
        format!("Authorization: Bearer {TOKEN}x"),
        format!("Authorization: Bearer  {TOKEN}"),
        format!("Authorization: Bearer {}", TOKEN.to_lowercase()),
    ] {
        let headers: Vec<&str> = [header.as_str()]
            .into_iter()
            .filter(|h| !h.is_empty())
            .collect();
        let reply = odd
            .send("GET /health/dependencies HTTP/1.1", &headers)
            .await;
        assert_eq!(reply.status, 404, "{header:?}: {reply:?}");
        assert_eq!(reply.body, "");
    }
    // The scheme is case-insensitive (RFC 9110); the token is not.
    let reply = odd
        .send(
            "GET /health/dependencies HTTP/1.1",
            &[&format!("Authorization: bearer {TOKEN}")],
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = odd
        .send(
            "GET /health/dependencies?token=x HTTP/1.1",
            &[&format!("Authorization: Bearer {TOKEN}")],
        )
        .await;
    assert_eq!(reply.status, 200, "the query is not part of the path");
}

#[tokio::test]
async fn huge_headers_are_refused_by_the_server_before_any_layer() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let odd = Odd::start(&reporter).await;

    // Large but within hyper's limits: the probe answers as usual.
    let big = format!("X-Padding: {}", "a".repeat(60 * 1024));
    let reply = odd.send("GET /health HTTP/1.1", &[&big]).await;
    assert_eq!(reply.status, 200);

    // Past the limits: hyper answers 431 and closes; neither the probe nor the gate runs.
    let huge = format!("X-Padding: {}", "a".repeat(1024 * 1024));
    let reply = odd.send("GET /ready HTTP/1.1", &[&huge]).await;
    assert_eq!(reply.status, 431, "{:?}", reply.headers);
    let many: Vec<String> = (0..200).map(|i| format!("X-Header-{i}: {i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let reply = odd.send("GET /ready HTTP/1.1", &many).await;
    assert_eq!(reply.status, 431, "{:?}", reply.headers);

    // And the server goes on serving.
    odd.expect("GET /ready HTTP/1.1", 503, NOT_READY).await;
}
