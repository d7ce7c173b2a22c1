//! The gate driven as a layer: what passes, what is rejected and how.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::{BodyExt, Full};
use redis_gate_core::{AvailabilityReporter, Status};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

use super::RequireRedisLayer;

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
async fn a_read_only_redis_is_refused_by_default_and_let_through_for_reads_only() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    reporter.set_writes_refused(true);
    reporter.set_next_retry(Some(Instant::now() + Duration::from_millis(700)));
    let strict = RequireRedisLayer::new(reporter.availability());
    let (res, calls) = send(&strict, "/").await;
    assert_eq!((res.status(), calls), (StatusCode::SERVICE_UNAVAILABLE, 0));
    assert_eq!(res.headers()["retry-after"], "1");
    let body = body_text(res).await;
    assert!(body.contains(r#""status":"read_only""#), "{body}");

    let reads = RequireRedisLayer::new(reporter.availability()).reads_only();
    let (res, calls) = send(&reads, "/").await;
    assert_eq!((res.status(), calls), (StatusCode::OK, 1));

    // Reads failing too: the reads-only gate answers 503 as well.
    reporter.set_status(Status::Disconnected);
    let (res, calls) = send(&reads, "/").await;
    assert_eq!((res.status(), calls), (StatusCode::SERVICE_UNAVAILABLE, 0));
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
