//! The handle never outlives its monitor: an app whose `RedisMonitor` was dropped, served by a
//! real axum server in front of a real Redis, stops claiming Redis at once: from the first
//! request after the drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use http::{Method, StatusCode};
use redis_gate::{ReadinessProbeLayer, RedisConfig, RedisMonitor, RequireRedisLayer};
use redis_gate_testkit::http::{HttpClient, TestServer};
use redis_gate_testkit::poll::DEADLINE;
use redis_gate_testkit::redis::RedisServer;

/// The mistake a new user made: the monitor lives in the helper that builds the app, and is
/// dropped when it returns. `calls` counts the gated handler's calls.
async fn build_app(url: &str, calls: Arc<AtomicUsize>) -> Router {
    let mut config = RedisConfig::from_url(url).unwrap();
    config.monitor.check_interval = Duration::from_millis(100);
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let redis = monitor.availability();
    Router::new()
        .route(
            "/tickets",
            post(move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                "ticket"
            }),
        )
        .route_layer(RequireRedisLayer::new(redis.clone()))
        .layer(ReadinessProbeLayer::new().require(redis))
}

#[tokio::test]
async fn an_app_whose_monitor_was_dropped_is_not_ready_from_the_first_request() {
    let server = RedisServer::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = build_app(&server.url(), Arc::clone(&calls)).await;
    let http = TestServer::spawn(app).await;
    let client = HttpClient::new();

    // The drop flipped the handle itself, so no request after it can find Redis ready, however
    // soon it comes.
    let ready = client.get(&http.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#
    );

    // Redis itself is fine, but nothing watches it any more: the gate must not vouch for it.
    let ticket = client.send(Method::POST, &http.url("/tickets"), "").await;
    assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ticket.body.contains(r#""status":"failed""#),
        "{}",
        ticket.body
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler was called");

    let health = client.get(&http.url("/health")).await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "liveness never depends on Redis"
    );
    drop(server);
}
