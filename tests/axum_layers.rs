//! The three layers inside a real axum server on a loopback socket, driven by a real HTTP client.

use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{Method, StatusCode};
use redis_gate::{
    Availability, AvailabilityReporter, CheckRedisLayer, ReadinessProbeLayer, Reading,
    RequireRedisLayer, Status,
};
use redis_gate_testkit::http::{HttpClient, TestServer};

const REJECTION: &str = r#"{"error":"Service Temporarily Unavailable","errorCode":"REDIS_UNAVAILABLE","status":"disconnected","retryAfter":1}"#;

async fn lookup(Extension(redis): Extension<Reading>) -> String {
    let source = if redis.is_available() {
        "cache"
    } else {
        "origin"
    };
    format!("{source} ({redis})")
}

/// The whole app behind the gate, with the probe outside it.
fn gated_app(reporter: &AvailabilityReporter) -> Router {
    let redis = reporter.availability();
    Router::new()
        .route("/api/tickets", post(|| async { "ticket" }))
        .layer(RequireRedisLayer::new(redis.clone()))
        .layer(ReadinessProbeLayer::new().require(redis))
}

#[tokio::test]
async fn health_stays_up_while_the_whole_gated_app_answers_503() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let server = TestServer::spawn(gated_app(&reporter)).await;
    let client = HttpClient::new();

    let health = client.get(&server.url("/health")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, r#"{"status":"UP"}"#);
    assert_eq!(health.header("cache-control"), Some("no-store"));

    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#
    );

    let ticket = client
        .send(Method::POST, &server.url("/api/tickets"), "")
        .await;
    assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ticket.body, REJECTION);
    assert_eq!(ticket.header("retry-after"), Some("1"));
    assert_eq!(ticket.header("content-type"), Some("application/json"));
    assert_eq!(ticket.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn flipping_the_reporter_opens_and_closes_the_gate() {
    let reporter = AvailabilityReporter::default();
    let server = TestServer::spawn(gated_app(&reporter)).await;
    let client = HttpClient::new();
    let tickets = server.url("/api/tickets");
    let post_ticket = || client.send(Method::POST, &tickets, "");

    assert_eq!(post_ticket().await.status, StatusCode::SERVICE_UNAVAILABLE);

    reporter.set_status(Status::Connected);
    let ticket = post_ticket().await;
    assert_eq!(ticket.status, StatusCode::OK);
    assert_eq!(ticket.body, "ticket");
    assert_eq!(ticket.header("retry-after"), None);
    let ready = client.get(&server.url("/healthz")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        r#"{"status":"UP","ready":true,"checks":{"redis":"UP"}}"#
    );

    reporter.set_status(Status::Disconnected);
    let ticket = post_ticket().await;
    assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ticket.body, REJECTION);

    reporter.set_status(Status::Connected);
    reporter.mark_unavailable("maintenance");
    let ticket = post_ticket().await;
    assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ticket.body.contains(r#""status":"maintenance""#));
}

#[tokio::test]
async fn route_layer_gates_one_route_and_leaves_others_and_404s_alone() {
    let reporter = AvailabilityReporter::default();
    let redis = reporter.availability();
    let app = Router::new()
        .route("/api/tickets", post(|| async { "ticket" }))
        .route_layer(RequireRedisLayer::new(redis).error_code("WS_TICKET_REDIS_NOT_READY"))
        .route("/api/open", get(|| async { "open" }));
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    let ticket = client
        .send(Method::POST, &server.url("/api/tickets"), "")
        .await;
    assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ticket.body,
        r#"{"error":"Service Temporarily Unavailable","errorCode":"WS_TICKET_REDIS_NOT_READY","status":"connecting","retryAfter":1}"#
    );

    let open = client.get(&server.url("/api/open")).await;
    assert_eq!((open.status, open.body.as_str()), (StatusCode::OK, "open"));

    let missing = client.get(&server.url("/nowhere")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn handlers_read_the_check_extension_to_degrade() {
    let reporter = AvailabilityReporter::default();
    let app = Router::new()
        .route("/profile", get(lookup))
        .layer(CheckRedisLayer::new(reporter.availability()));
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    let degraded = client.get(&server.url("/profile")).await;
    assert_eq!(degraded.status, StatusCode::OK);
    assert_eq!(degraded.body, "origin (connecting)");

    reporter.set_status(Status::Connected);
    assert_eq!(
        client.get(&server.url("/profile")).await.body,
        "cache (connected)"
    );
}

#[tokio::test]
async fn optional_checks_degrade_readiness_without_failing_it() {
    let redis = AvailabilityReporter::new("redis");
    let cache = AvailabilityReporter::new("cache");
    redis.set_status(Status::Connected);
    let app = Router::new().layer(
        ReadinessProbeLayer::new()
            .require(redis.availability())
            .optional(cache.availability()),
    );
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        r#"{"status":"DEGRADED","ready":true,"checks":{"redis":"UP","cache":"DOWN"}}"#
    );

    cache.set_status(Status::Connected);
    let ready = client.get(&server.url("/health/ready")).await;
    assert_eq!(
        ready.body,
        r#"{"status":"UP","ready":true,"checks":{"redis":"UP","cache":"UP"}}"#
    );

    redis.set_status(Status::Failed);
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN","cache":"UP"}}"#
    );
}

#[tokio::test]
async fn probe_paths_answer_head_and_refuse_other_methods() {
    let reporter = AvailabilityReporter::default();
    let server = TestServer::spawn(gated_app(&reporter)).await;
    let client = HttpClient::new();

    let head = client.send(Method::HEAD, &server.url("/ready"), "").await;
    assert_eq!(head.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(head.body, "");
    assert_eq!(head.header("content-type"), Some("application/json"));

    let head = client.send(Method::HEAD, &server.url("/health"), "").await;
    assert_eq!(head.status, StatusCode::OK);

    for method in [Method::POST, Method::DELETE, Method::OPTIONS] {
        let res = client.send(method.clone(), &server.url("/ready"), "").await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(res.header("allow"), Some("GET, HEAD"));
        assert_eq!(res.header("cache-control"), Some("no-store"));
    }
}

#[tokio::test]
async fn probe_matches_exact_paths_only() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let app = Router::new()
        .fallback(|| async { (StatusCode::IM_A_TEAPOT, "app") })
        .layer(ReadinessProbeLayer::new().require(reporter.availability()));
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    for path in ["/ready/", "/READY", "/ready/x", "/health/dependencies"] {
        let res = client.get(&server.url(path)).await;
        assert_eq!(res.status, StatusCode::IM_A_TEAPOT, "{path}");
    }
    let res = client.get(&server.url("/ready?verbose=1")).await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "the query is not part of the path"
    );
}

#[tokio::test]
async fn probe_paths_are_configurable_and_removable() {
    let reporter = AvailabilityReporter::default();
    let app = Router::new()
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(
            ReadinessProbeLayer::new()
                .require(reporter.availability())
                .liveness_paths(["/livez"])
                .readiness_paths(Vec::<String>::new()),
        );
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    assert_eq!(
        client.get(&server.url("/livez")).await.status,
        StatusCode::OK
    );
    for path in ["/health", "/ready", "/healthz"] {
        let res = client.get(&server.url(path)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn details_endpoint_reports_every_check_without_secrets() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let recorded = std::time::Instant::now();
    // Just under 3 s: 3 whole seconds when rounded up, as long as the request comes within
    // 999 ms; 2 if the rounding went down.
    let retry_in = std::time::Duration::from_millis(2999);
    reporter.record_failure(
        "connect to redis://app:hunter2@cache:6379 refused",
        Some(recorded + retry_in),
    );
    let app = Router::new().layer(
        ReadinessProbeLayer::new()
            .require(reporter.availability())
            .details_path("/health/dependencies"),
    );
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    let details = client.get(&server.url("/health/dependencies")).await;
    let since_recorded = recorded.elapsed().as_millis() as u64;
    assert_eq!(details.status, StatusCode::OK);
    assert_eq!(details.header("cache-control"), Some("no-store"));
    assert!(!details.body.contains("hunter2"), "{}", details.body);
    // The two fields that move with the clock, each within what the time taken allows, then the
    // rest byte for byte.
    let mut body = details.body.clone();
    let mut take = |field: &str, placeholder: &str| -> u64 {
        let name = format!(r#""{field}":"#);
        let at = body.find(&name).unwrap_or_else(|| panic!("no {field}")) + name.len();
        let digits = body[at..].find(',').unwrap();
        let value = body[at..at + digits].parse().unwrap();
        body.replace_range(at..at + digits, placeholder);
        value
    };
    let age_ms = take("lastErrorAgeMs", "AGE");
    assert!(age_ms <= since_recorded, "{age_ms} > {since_recorded}");
    let retry_s = take("nextRetryInSeconds", "RETRY");
    let retry_ms = retry_in.as_millis() as u64;
    let rounded_up =
        retry_ms.saturating_sub(since_recorded).div_ceil(1000)..=retry_ms.div_ceil(1000);
    assert!(
        rounded_up.contains(&retry_s),
        "{retry_s} s for {retry_ms} ms less at most {since_recorded} ms, rounded up"
    );
    assert_eq!(
        body,
        r#"{"checks":{"redis":{"attempts":1,"available":false,"connectedForSeconds":null,"lastCheckAgeMs":null,"lastCheckLatencyMs":null,"lastError":"connect to redis://app:***@cache:6379 refused","lastErrorAgeMs":AGE,"nextRetryInSeconds":RETRY,"override":null,"policy":"required","readable":false,"required":true,"started":false,"status":"disconnected"}},"ready":false,"status":"NOT_READY"}"#
    );

    // Connected again: the error stays, with the age of the failure it records (the handle's
    // tests show a reconnect keeps its time).
    reporter.set_status(Status::Connected);
    let details = client.get(&server.url("/health/dependencies")).await;
    let since_recorded = recorded.elapsed().as_millis() as u64;
    let details: serde_json::Value = serde_json::from_str(&details.body).unwrap();
    let redis = &details["checks"]["redis"];
    assert_eq!(redis["status"], "connected");
    assert_eq!(
        redis["lastError"],
        "connect to redis://app:***@cache:6379 refused"
    );
    let age_ms = redis["lastErrorAgeMs"].as_u64().unwrap();
    assert!(age_ms <= since_recorded, "{details}");
    assert!(redis["connectedForSeconds"].is_u64(), "{details}");
}

#[tokio::test]
async fn draining_fails_readiness_while_liveness_and_routes_keep_working() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let probe = ReadinessProbeLayer::new().require(reporter.availability());
    let drain = probe.drain_handle();
    let app = Router::new()
        .route("/api", get(|| async { "working" }))
        .layer(RequireRedisLayer::new(reporter.availability()))
        .layer(probe);
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();
    assert_eq!(
        client.get(&server.url("/ready")).await.status,
        StatusCode::OK
    );

    drain.start();
    assert!(drain.is_draining());
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"status":"DRAINING","ready":false,"checks":{"redis":"UP"}}"#
    );
    assert_eq!(
        client.get(&server.url("/health")).await.status,
        StatusCode::OK
    );
    assert_eq!(client.get(&server.url("/api")).await.body, "working");
}

#[tokio::test]
async fn startup_answers_503_until_every_check_has_decided_then_200_for_good() {
    let redis = AvailabilityReporter::new("redis");
    let cache = AvailabilityReporter::new("cache");
    let app = Router::new().layer(
        ReadinessProbeLayer::new()
            .require(redis.availability())
            .optional(cache.availability()),
    );
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    let startup = client.get(&server.url("/startup")).await;
    assert_eq!(startup.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(startup.body, r#"{"status":"STARTING"}"#);

    redis.set_status(Status::Connected);
    assert_eq!(
        client.get(&server.url("/startup")).await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the cache has not decided yet"
    );
    cache.set_status(Status::Failed);
    cache.mark_started(); // gave up waiting: degraded, but started
    let startup = client.get(&server.url("/startup")).await;
    assert_eq!(
        (startup.status, startup.body.as_str()),
        (StatusCode::OK, r#"{"status":"STARTED"}"#)
    );

    redis.set_status(Status::Disconnected);
    assert_eq!(
        client.get(&server.url("/startup")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        client.get(&server.url("/ready")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn details_behind_a_token_look_like_a_missing_route_without_it() {
    let reporter = AvailabilityReporter::default();
    let app = Router::new().layer(
        ReadinessProbeLayer::new()
            .require(reporter.availability())
            .details_path("/health/dependencies")
            .details_token("s3cret-token"),
    );
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();
    let url = server.url("/health/dependencies");
    let with = |auth: &str| {
        http::Request::get(&url)
            .header("authorization", auth)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    };

    let missing = client.get(&url).await;
    let nowhere = client.get(&server.url("/nowhere")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (nowhere.status, nowhere.body.as_str())
    );
    for wrong in [
        "Bearer s3cret-toke",
        "Bearer s3cret-token2",
        "s3cret-token",
        "Basic x",
    ] {
        assert_eq!(
            client.request(with(wrong)).await.status,
            StatusCode::NOT_FOUND,
            "{wrong}"
        );
    }
    let details = client.request(with("Bearer s3cret-token")).await;
    assert_eq!(details.status, StatusCode::OK);
    assert!(details.body.contains(r#""redis""#), "{}", details.body);
    assert!(!details.body.contains("s3cret-token"));
}

#[tokio::test]
async fn required_at_startup_holds_back_a_new_replica_but_not_a_running_one() {
    let redis = AvailabilityReporter::default();
    let app = Router::new()
        .route("/api/tickets", post(|| async { "ticket" }))
        .route_layer(RequireRedisLayer::new(redis.availability()))
        .layer(ReadinessProbeLayer::new().require_at_startup(redis.availability()));
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    // Never reached Redis yet: not ready, like `require`.
    redis.set_status(Status::Failed);
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#
    );

    redis.set_status(Status::Connected);
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::OK);

    // A later outage keeps the replica in the load balancer; the route that needs Redis says no.
    redis.set_status(Status::Disconnected);
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        r#"{"status":"DEGRADED","ready":true,"checks":{"redis":"DOWN"}}"#
    );
    let ticket = client
        .send(Method::POST, &server.url("/api/tickets"), "")
        .await;
    assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn verbose_readiness_lists_each_check_as_kubernetes_does() {
    let redis = AvailabilityReporter::new("redis");
    let cache = AvailabilityReporter::new("cache");
    let probe = ReadinessProbeLayer::new()
        .require(redis.availability())
        .optional(cache.availability());
    let drain = probe.drain_handle();
    let server = TestServer::spawn(Router::new().layer(probe)).await;
    let client = HttpClient::new();
    let verbose = server.url("/ready?verbose");

    redis.set_status(Status::Connected);
    cache.set_status(Status::Connected);
    let res = client.get(&verbose).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(
        res.body,
        "[+]redis ok\n[+]cache ok\nreadiness check passed\n"
    );

    cache.set_status(Status::Disconnected);
    let res = client.get(&server.url("/healthz?verbose=1")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.body,
        "[+]redis ok\n[-]cache failed: disconnected (optional)\nreadiness check passed: degraded\n"
    );

    redis.set_status(Status::Failed);
    let res = client.get(&server.url("/ready?a=b&verbose=true")).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.body,
        "[-]redis failed: lasting failure\n[-]cache failed: disconnected (optional)\nreadiness check failed\n"
    );
    // The same status code as the JSON answer; other queries keep getting JSON.
    for plain in [
        "/ready",
        "/ready?verbose=false",
        "/ready?verbosely",
        "/ready?x=verbose",
    ] {
        let res = client.get(&server.url(plain)).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{plain}");
        assert_eq!(
            res.header("content-type"),
            Some("application/json"),
            "{plain}"
        );
    }

    redis.set_status(Status::Connected);
    cache.set_status(Status::Connected);
    drain.start();
    let res = client.get(&verbose).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.body,
        "[+]redis ok\n[+]cache ok\n[-]drain failed: draining\nreadiness check failed: draining\n"
    );
}

#[tokio::test]
async fn liveness_never_depends_on_redis_even_with_the_gate_outermost() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let redis = reporter.availability();
    // The wrong order: the gate outside the probe.
    let app = Router::new()
        .route("/api/tickets", post(|| async { "ticket" }))
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .layer(RequireRedisLayer::new(redis.clone()));
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    for path in ["/health", "/health/live"] {
        let res = client.get(&server.url(path)).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.body, r#"{"status":"UP"}"#);
    }
    // Readiness is the probe's answer, not the gate's.
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#
    );
    let ticket = client
        .send(Method::POST, &server.url("/api/tickets"), "")
        .await;
    assert_eq!(ticket.body, REJECTION);

    // Told to gate them, the gate answers for the probe paths too.
    let strict = Router::new()
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .layer(RequireRedisLayer::new(redis).gate_probe_paths());
    let server = TestServer::spawn(strict).await;
    let health = client.get(&server.url("/health")).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body, REJECTION);
}

/// The answers of a merged probe and a gated route while Redis is down, then up: the same in
/// every placement of the `merge`.
async fn assert_probe_routes_answer(app: Router, reporter: &AvailabilityReporter, placement: &str) {
    reporter.set_status(Status::Disconnected);
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    for path in ["/health", "/health/live"] {
        let res = client.get(&server.url(path)).await;
        assert_eq!(res.status, StatusCode::OK, "{placement}: {path}");
        assert_eq!(res.body, r#"{"status":"UP"}"#, "{placement}: {path}");
        assert_eq!(res.header("cache-control"), Some("no-store"));
    }
    for path in ["/ready", "/healthz", "/health/ready"] {
        let res = client.get(&server.url(path)).await;
        assert_eq!(
            (res.status, res.body.as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#
            ),
            "{placement}: {path}"
        );
        assert_eq!(res.header("cache-control"), Some("no-store"));
    }
    let startup = client.get(&server.url("/startup")).await;
    assert_eq!(startup.body, r#"{"status":"STARTING"}"#, "{placement}");
    let head = client.send(Method::HEAD, &server.url("/ready"), "").await;
    assert_eq!(head.status, StatusCode::SERVICE_UNAVAILABLE, "{placement}");
    assert_eq!(head.body, "");
    let post_ready = client.send(Method::POST, &server.url("/ready"), "").await;
    assert_eq!(
        post_ready.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{placement}"
    );
    assert_eq!(post_ready.header("allow"), Some("GET, HEAD"));
    assert_eq!(post_ready.header("cache-control"), Some("no-store"));
    let ticket = client
        .send(Method::POST, &server.url("/api/tickets"), "")
        .await;
    assert_eq!(
        (ticket.status, ticket.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, REJECTION),
        "{placement}"
    );

    reporter.set_status(Status::Connected);
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (
            StatusCode::OK,
            r#"{"status":"UP","ready":true,"checks":{"redis":"UP"}}"#
        ),
        "{placement}"
    );
    let ticket = client
        .send(Method::POST, &server.url("/api/tickets"), "")
        .await;
    assert_eq!(ticket.body, "ticket", "{placement}");
}

fn tickets() -> axum::routing::MethodRouter {
    post(|| async { "ticket" })
}

/// An app built around a handle.
type BuildApp = fn(Availability) -> Router;

/// The placements of `merge(probe)` that must all serve the probe's paths.
const PLACEMENTS: [(&str, BuildApp); 5] = [
    ("merged after the route layer", |redis| {
        Router::new()
            .route("/api/tickets", tickets())
            .route_layer(RequireRedisLayer::new(redis.clone()))
            .merge(ReadinessProbeLayer::new().require(redis))
    }),
    // The gate wraps the probe's routes too, and lets the default paths through.
    ("merged before the route layer", |redis| {
        Router::new()
            .merge(ReadinessProbeLayer::new().require(redis.clone()))
            .route("/api/tickets", tickets())
            .route_layer(RequireRedisLayer::new(redis))
    }),
    ("with CheckRedis as a router layer", |redis| {
        Router::new()
            .route("/api/tickets", tickets())
            .route_layer(RequireRedisLayer::new(redis.clone()))
            .merge(ReadinessProbeLayer::new().require(redis.clone()))
            .route("/profile", get(lookup))
            .layer(CheckRedisLayer::new(redis))
    }),
    ("with the gate as a router layer", |redis| {
        Router::new()
            .merge(ReadinessProbeLayer::new().require(redis.clone()))
            .route("/api/tickets", tickets())
            .layer(RequireRedisLayer::new(redis))
    }),
    ("in a router with state", |redis| {
        Router::new()
            .route(
                "/api/tickets",
                post(|_: axum::extract::State<u8>| async { "ticket" }),
            )
            .route_layer(RequireRedisLayer::new(redis.clone()))
            .merge(ReadinessProbeLayer::new().require(redis))
            .with_state(7u8)
    }),
];

#[tokio::test]
async fn a_merged_probe_answers_its_paths_wherever_the_merge_sits() {
    for (placement, build) in PLACEMENTS {
        let reporter = AvailabilityReporter::default();
        let app = build(reporter.availability());
        assert_probe_routes_answer(app, &reporter, placement).await;
    }

    // Nested, the paths move (`/internal/health`): to a gate they are then paths like any other,
    // so the gate goes on before the nest.
    let reporter = AvailabilityReporter::default();
    let nested = Router::new()
        .route("/api/tickets", tickets())
        .route_layer(RequireRedisLayer::new(reporter.availability()))
        .nest(
            "/internal",
            Router::new().merge(ReadinessProbeLayer::new().require(reporter.availability())),
        );
    let server = TestServer::spawn(nested).await;
    let health = HttpClient::new().get(&server.url("/internal/health")).await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, r#"{"status":"UP"}"#)
    );
}

#[tokio::test]
async fn a_probe_as_a_route_layer_answers_404_because_route_layers_wrap_matched_routes_only() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    // Compiles, and serves none of the probe's paths: the wrong placement this test documents.
    let app = Router::new()
        .route("/api/tickets", post(|| async { "ticket" }))
        .route_layer(ReadinessProbeLayer::new().require(reporter.availability()));
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    for path in ["/health", "/health/live", "/ready", "/healthz", "/startup"] {
        let res = client.get(&server.url(path)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    let ticket = client
        .send(Method::POST, &server.url("/api/tickets"), "")
        .await;
    assert_eq!(ticket.body, "ticket", "the route it wraps still works");
}

#[tokio::test]
async fn merged_details_behind_a_token_answer_like_a_path_without_a_route() {
    let reporter = AvailabilityReporter::default();
    let app = Router::new()
        .route("/api/tickets", post(|| async { "ticket" }))
        .merge(
            ReadinessProbeLayer::new()
                .require(reporter.availability())
                .details_path("/health/dependencies")
                .details_token("s3cret-token"),
        );
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();
    let url = server.url("/health/dependencies");

    let mut missing = client.get(&url).await;
    let mut nowhere = client.get(&server.url("/nowhere")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Every header but the clock's must match.
    missing.headers.remove("date");
    nowhere.headers.remove("date");
    assert_eq!(
        (missing.status, missing.body.as_str(), &missing.headers),
        (nowhere.status, nowhere.body.as_str(), &nowhere.headers),
        "nothing tells the endpoint apart from a path without a route"
    );
    let posted = client.send(Method::POST, &url, "").await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND, "not a 405 either");

    let with = |auth: &str| {
        http::Request::get(&url)
            .header("authorization", auth)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    };
    let wrong = client.request(with("Bearer s3cret-toke")).await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let details = client.request(with("Bearer s3cret-token")).await;
    assert_eq!(details.status, StatusCode::OK);
    assert_eq!(details.header("cache-control"), Some("no-store"));
    assert!(
        details.body.contains(r#""policy":"required""#),
        "{}",
        details.body
    );
}

#[tokio::test]
async fn a_merged_probe_drains_like_the_layer() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let probe = ReadinessProbeLayer::new().require(reporter.availability());
    let drain = probe.drain_handle();
    let app = Router::new()
        .route("/api", get(|| async { "working" }))
        .merge(probe);
    let server = TestServer::spawn(app).await;
    let client = HttpClient::new();

    drain.start();
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"DRAINING","ready":false,"checks":{"redis":"UP"}}"#
        )
    );
    assert_eq!(
        client.get(&server.url("/health")).await.status,
        StatusCode::OK
    );
    assert_eq!(client.get(&server.url("/api")).await.body, "working");
}

#[tokio::test]
async fn a_gate_after_the_merge_gates_custom_probe_paths_unless_they_are_exempt() {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let redis = reporter.availability();
    let probe = || ReadinessProbeLayer::new().liveness_paths(["/livez"]);
    let client = HttpClient::new();

    // The gate knows the default paths only: `/livez` is a path like any other to it.
    let gated = Router::new()
        .merge(probe())
        .route("/api/tickets", post(|| async { "ticket" }))
        .route_layer(RequireRedisLayer::new(redis.clone()));
    let server = TestServer::spawn(gated).await;
    let livez = client.get(&server.url("/livez")).await;
    assert_eq!(
        (livez.status, livez.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, REJECTION)
    );

    for app in [
        Router::new()
            .merge(probe())
            .route("/api/tickets", post(|| async { "ticket" }))
            .route_layer(RequireRedisLayer::new(redis.clone()).exempt("/livez")),
        Router::new()
            .merge(probe())
            .route("/api/tickets", post(|| async { "ticket" }))
            .route_layer(RequireRedisLayer::new(redis.clone()).exempt_probe(&probe())),
        Router::new()
            .route("/api/tickets", post(|| async { "ticket" }))
            .route_layer(RequireRedisLayer::new(redis.clone()))
            .merge(probe()),
    ] {
        let server = TestServer::spawn(app).await;
        let livez = client.get(&server.url("/livez")).await;
        assert_eq!(
            (livez.status, livez.body.as_str()),
            (StatusCode::OK, r#"{"status":"UP"}"#)
        );
    }
}
