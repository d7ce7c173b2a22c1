//! The real demo binary (`cargo run --example demo`) against real `redis-server` processes,
//! driven over HTTP: outages, late starts, frozen servers, fail-closed starts and shutdown.

mod support;

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use redis_gate_testkit::http::Reply;
use redis_gate_testkit::poll::{DEADLINE, eventually};
use redis_gate_testkit::redis::{RedisServer, free_port, start_cluster};
use serde_json::Value;
use support::Demo;

const PASSWORD: &str = "demo-Secret-4711";

fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|err| panic!("{err}: {}", reply.body))
}

#[tokio::test]
async fn demo_serves_degrades_and_recovers_across_a_redis_outage() {
    let mut redis = RedisServer::builder().password(PASSWORD).start();
    let url = redis.url();
    let demo = Demo::start(&[("REDIS_URL", &url)]);
    demo.wait_listening();
    assert!(demo.ready_becomes(StatusCode::OK).await);

    let health = demo.get("/health").await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, r#"{"status":"UP"}"#)
    );
    assert_eq!(demo.get("/healthz").await.status, StatusCode::OK);

    // The strict route stores a ticket with a one-minute TTL.
    let ticket = demo.ticket().await;
    assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.body);
    let body = json(&ticket);
    let hex = body["ticket"].as_str().unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(body["ttlSeconds"], 60);
    let ttl: u64 = redis
        .command(&["TTL", &format!("ws-ticket:{hex}")])
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&ttl), "ttl {ttl}");

    // The soft route: miss, then hit; writes go through the strict gate.
    let miss = demo.get("/api/v1/cache/alpha").await;
    assert_eq!(miss.header("x-cache"), Some("miss"));
    assert_eq!(json(&miss)["source"], "origin");
    let hit = demo.get("/api/v1/cache/alpha").await;
    assert_eq!(hit.header("x-cache"), Some("hit"));
    assert_eq!(json(&hit)["value"], "value of alpha");
    let put = demo
        .send(Method::PUT, "/api/v1/cache/beta", r#"{"n":1}"#)
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT);
    assert_eq!(json(&demo.get("/api/v1/cache/beta").await)["value"]["n"], 1);

    let details = json(&demo.get("/health/dependencies").await);
    let redis_details = &details["checks"]["redis"];
    assert_eq!(redis_details["status"], "connected");
    // Checks every 100 ms: the last one is recent, and took well under a second.
    let age = redis_details["lastCheckAgeMs"].as_u64().unwrap();
    assert!(age < DEADLINE.as_millis() as u64, "{details}");
    let latency = redis_details["lastCheckLatencyMs"].as_f64().unwrap();
    assert!(latency > 0.0 && latency < 1000.0, "{details}");

    // Outage.
    redis.kill();
    assert!(demo.ready_becomes(StatusCode::SERVICE_UNAVAILABLE).await);
    let ready = demo.get("/ready").await;
    assert_eq!(
        ready.body,
        r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"DOWN"}}"#
    );
    assert_eq!(demo.get("/health").await.status, StatusCode::OK);

    let refused = demo.ticket().await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = json(&refused);
    assert_eq!(body["errorCode"], "WS_TICKET_REDIS_NOT_READY");
    assert_eq!(body["error"], "Service Temporarily Unavailable");
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after));
    assert_eq!(body["retryAfter"], retry_after);

    let bypass = demo.get("/api/v1/cache/alpha").await;
    assert_eq!(bypass.status, StatusCode::OK);
    assert_eq!(bypass.header("x-cache"), Some("bypass"));
    assert_eq!(json(&bypass)["value"], "value of alpha");
    let put = demo.send(Method::PUT, "/api/v1/cache/beta", "2").await;
    assert_eq!(put.status, StatusCode::SERVICE_UNAVAILABLE);
    let metrics = demo.get("/metrics").await.body;
    for line in [
        "redis_gate_available{dependency=\"redis\"} 0",
        "redis_gate_rejections_total{dependency=\"redis\",layer=\"require_redis\"} 2",
        "redis_gate_check_failures_total{dependency=\"redis\",reason=\"connection\"}",
        "redis_gate_transitions_total{dependency=\"redis\",from=\"connected\",to=\"disconnected\"} 1",
        "demo_cache_requests_total{result=\"bypass\"} 1",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }

    // Recovery, without restarting the demo.
    redis.restart();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    assert_eq!(demo.ticket().await.status, StatusCode::OK);
    assert_eq!(
        demo.get("/api/v1/cache/gamma").await.header("x-cache"),
        Some("miss")
    );

    // Transitions are logged, requests are not, and the password never is.
    let logs = demo.process.output();
    assert!(!logs.contains(PASSWORD), "the password leaked:\n{logs}");
    for event in [
        "redis_config",
        "redis_connect_ok",
        "redis_connection_lost",
        "redis_reconnected",
    ] {
        assert!(
            logs.contains(&format!("\"message\":\"{event}\"")),
            "no {event}:\n{logs}"
        );
    }
    assert!(
        !logs.contains("/api/v1/cache"),
        "a request was logged:\n{logs}"
    );
}

#[tokio::test]
async fn sigterm_drains_readiness_first_then_stops_cleanly() {
    let redis = RedisServer::start();
    let mut demo = Demo::start(&[("REDIS_URL", &redis.url()), ("SHUTDOWN_DRAIN_MS", "1500")]);
    demo.wait_listening();
    assert!(demo.ready_becomes(StatusCode::OK).await);

    let signalled = Instant::now();
    demo.process.terminate();
    assert!(demo.ready_becomes(StatusCode::SERVICE_UNAVAILABLE).await);
    let ready = demo.get("/ready").await;
    assert_eq!(
        ready.body,
        r#"{"status":"DRAINING","ready":false,"checks":{"redis":"UP"}}"#
    );
    // While draining, liveness and the gated routes keep working.
    assert_eq!(demo.get("/health").await.status, StatusCode::OK);
    assert_eq!(demo.ticket().await.status, StatusCode::OK);

    let status = demo.process.wait_exit(DEADLINE).expect("the demo exits");
    assert_eq!(status.code(), Some(0), "{}", demo.process.output());
    assert!(signalled.elapsed() >= Duration::from_millis(1500));
    let output = demo.process.output();
    for event in [
        "server_shutdown_started",
        "server_draining",
        "server_stopped",
    ] {
        assert!(output.contains(event), "no {event}:\n{output}");
    }
}

#[tokio::test]
async fn a_request_in_flight_at_sigterm_is_answered_before_the_demo_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = RedisServer::start();
    let mut demo = Demo::start(&[("REDIS_URL", &redis.url()), ("SHUTDOWN_DRAIN_MS", "300")]);
    demo.wait_listening();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    let addr = demo.base.trim_start_matches("http://").to_owned();

    // A cache write whose body is held back: `100 Continue` says the handler is reading it.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = br#"{"n":7}"#;
    let head = format!(
        "PUT /api/v1/cache/inflight HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains("\r\n\r\n") {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .expect("100 Continue in time")
            .unwrap();
        assert!(n > 0, "closed before 100 Continue");
        received.extend_from_slice(&buf[..n]);
    }
    assert!(
        String::from_utf8_lossy(&received).starts_with("HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&received)
    );

    // SIGTERM: readiness drains, then the listener closes; the request is still open.
    demo.process.terminate();
    let closed = eventually(DEADLINE, || std::net::TcpStream::connect(&addr).is_err()).await;
    assert!(closed, "the demo never stopped accepting");
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut response))
        .await
        .expect("the answer in time")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 204"), "{response:?}");
    assert_eq!(
        redis.command(&["GET", "cache:inflight"]),
        Ok(r#"{"n":7}"#.to_owned())
    );

    let status = demo.process.wait_exit(DEADLINE).expect("the demo exits");
    assert_eq!(status.code(), Some(0), "{}", demo.process.output());
    assert!(demo.process.output().contains("server_stopped"));
}

#[tokio::test]
async fn startup_metrics_and_protected_details() {
    let redis = RedisServer::start();
    let demo = Demo::start(&[
        ("REDIS_URL", &redis.url()),
        ("HEALTH_DETAILS_TOKEN", "details-Token-123"),
    ]);
    demo.wait_listening();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    let startup = demo.get("/startup").await;
    assert_eq!(
        (startup.status, startup.body.as_str()),
        (StatusCode::OK, r#"{"status":"STARTED"}"#)
    );

    // Without the token the details endpoint does not exist; with it, it answers.
    assert_eq!(
        demo.get("/health/dependencies").await.status,
        StatusCode::NOT_FOUND
    );
    let req = http::Request::get(format!("{}/health/dependencies", demo.base))
        .header("authorization", "Bearer details-Token-123")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let details = demo.client.request(req).await;
    assert_eq!(details.status, StatusCode::OK);
    assert_eq!(json(&details)["checks"]["redis"]["started"], true);

    demo.get("/api/v1/cache/m").await;
    demo.get("/api/v1/cache/m").await;
    let expected = [
        "redis_gate_available{dependency=\"redis\"} 1",
        "redis_gate_transitions_total{dependency=\"redis\",from=\"connecting\",to=\"connected\"} 1",
        "demo_cache_requests_total{result=\"hit\"} 1",
        "demo_cache_requests_total{result=\"miss\"} 1",
        "redis_gate_check_duration_seconds_bucket{dependency=\"redis\",le=",
    ];
    // The exporter folds histogram samples in when it renders: poll until a check has landed.
    let until = Instant::now() + DEADLINE;
    let mut metrics = demo.get("/metrics").await;
    while !expected.iter().all(|line| metrics.body.contains(line)) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        metrics = demo.get("/metrics").await;
    }
    assert_eq!(metrics.status, StatusCode::OK);
    for line in expected {
        assert!(
            metrics.body.contains(line),
            "no {line} in\n{}",
            metrics.body
        );
    }
}

#[tokio::test]
async fn fail_closed_demo_exits_1_without_ever_listening() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let mut demo = Demo::start(&[
        ("APP_ENV", "production"),
        ("REDIS_URL", &url),
        ("REDIS_STARTUP_TIMEOUT_MS", "1000"),
    ]);
    let status = demo.process.wait_exit(DEADLINE).expect("the demo exits");
    let took = started.elapsed();

    assert_eq!(status.code(), Some(1), "{}", demo.process.output());
    assert!(took >= Duration::from_millis(1000), "{took:?}");
    let output = demo.process.output();
    assert!(output.contains("redis_connect_fatal"), "{output}");
    assert!(!output.contains("listening on"), "{output}");
}

#[tokio::test]
async fn production_demo_with_fail_closed_off_listens_degraded_without_redis() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let mut demo = Demo::start(&[
        ("APP_ENV", "production"),
        ("REDIS_FAIL_CLOSED", "false"),
        ("REDIS_URL", &url),
        ("REDIS_STARTUP_TIMEOUT_MS", "300"),
    ]);
    // Failing closed, it would exit 1 at the startup timeout without ever listening.
    demo.wait_listening();
    let decided = async {
        while demo.get("/startup").await.status != StatusCode::OK {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, decided)
        .await
        .expect("the startup decision: run degraded");
    assert_eq!(demo.get("/health").await.status, StatusCode::OK);
    assert_eq!(
        demo.get("/ready").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let degraded = demo
        .process
        .wait_for_line("redis_connect_degraded", DEADLINE);
    let output = demo.process.output();
    assert!(degraded.is_some(), "{output}");
    assert!(!output.contains("redis_connect_fatal"), "{output}");
    assert!(demo.process.wait_exit(Duration::ZERO).is_none(), "{output}");
}

#[tokio::test]
async fn production_demo_without_redis_configuration_refuses_to_start() {
    let mut demo = Demo::start(&[("APP_ENV", "production")]);
    let status = demo.process.wait_exit(DEADLINE).expect("the demo exits");
    assert_eq!(status.code(), Some(2), "{}", demo.process.output());
    let output = demo.process.output();
    // The field the library's `redis_config_invalid` carries too, a JSON string in both.
    let event = output
        .lines()
        .find(|line| line.contains(r#""message":"redis_config_invalid""#))
        .unwrap_or_else(|| panic!("no redis_config_invalid in {output}"));
    assert!(
        event.contains(r#""reason":"no Redis configuration: set REDIS_URL"#),
        "{event}"
    );
}

#[tokio::test]
async fn degraded_demo_starts_without_redis_and_becomes_ready_when_it_appears() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let demo = Demo::start(&[("REDIS_URL", &url)]);
    demo.wait_listening();

    assert_eq!(demo.get("/health").await.status, StatusCode::OK);
    assert_eq!(
        demo.get("/ready").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        demo.get("/api/v1/cache/k").await.header("x-cache"),
        Some("bypass")
    );

    assert_eq!(
        demo.get("/startup").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let _redis = RedisServer::builder().port(port).start();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    assert_eq!(demo.get("/startup").await.status, StatusCode::OK);
    assert_eq!(demo.ticket().await.status, StatusCode::OK);
}

#[tokio::test]
async fn frozen_redis_never_holds_a_request_for_long() {
    let mut redis = RedisServer::start();
    let demo = Demo::start(&[("REDIS_URL", &redis.url())]);
    demo.wait_listening();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    // Warm the pool so that handlers hold live connections when Redis freezes.
    assert_eq!(demo.ticket().await.status, StatusCode::OK);

    redis.freeze();
    // Before the monitor notices, handlers still try Redis: the response timeout ends their wait.
    // Redis stays frozen until the end, so every answer below came without it. (How long they
    // take is measured by the benchmarks, under a frozen Redis too.)
    let answered = |reply: Result<Reply, _>| reply.expect("an answer while Redis is frozen");
    for _ in 0..3 {
        let cache =
            answered(tokio::time::timeout(DEADLINE, demo.get("/api/v1/cache/frozen")).await);
        assert_eq!(cache.status, StatusCode::OK);
        let ticket = answered(tokio::time::timeout(DEADLINE, demo.ticket()).await);
        assert!(
            ticket.status == StatusCode::OK || ticket.status == StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            ticket.status
        );
    }

    // Once the monitor has marked Redis unavailable, nothing touches it.
    assert!(demo.ready_becomes(StatusCode::SERVICE_UNAVAILABLE).await);
    for _ in 0..5 {
        let cache =
            answered(tokio::time::timeout(DEADLINE, demo.get("/api/v1/cache/frozen")).await);
        assert_eq!(cache.header("x-cache"), Some("bypass"));
        let ticket = answered(tokio::time::timeout(DEADLINE, demo.ticket()).await);
        assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    redis.thaw();
    assert!(demo.ready_becomes(StatusCode::OK).await);
}

#[tokio::test]
async fn readiness_redis_startup_keeps_a_running_demo_ready_through_an_outage() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let demo = Demo::start(&[("REDIS_URL", &url), ("READINESS_REDIS", "startup")]);
    demo.wait_listening();
    // Redis never seen yet: required.
    assert_eq!(
        demo.get("/ready").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let mut redis = RedisServer::builder().port(port).start();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    redis.kill();
    // Once the monitor has seen the outage, readiness says DEGRADED with 200 and the strict route
    // answers 503.
    let until = Instant::now() + DEADLINE;
    while !demo.get("/ready?verbose").await.body.contains("[-]redis") && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready = demo.get("/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        r#"{"status":"DEGRADED","ready":true,"checks":{"redis":"DOWN"}}"#
    );
    assert_eq!(demo.ticket().await.status, StatusCode::SERVICE_UNAVAILABLE);
    let verbose = demo.get("/ready?verbose").await;
    assert_eq!(
        verbose.body,
        "[-]redis failed: disconnected (required_at_startup)\nreadiness check passed: degraded\n"
    );
}

#[tokio::test]
async fn once_startup_gives_up_verbose_readiness_says_redis_was_never_available() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let demo = Demo::start(&[
        ("REDIS_URL", &url),
        ("REDIS_STARTUP_TIMEOUT_MS", "300"),
        ("READINESS_REDIS", "startup"),
    ]);
    demo.wait_listening();
    let until = Instant::now() + DEADLINE;
    while demo.get("/startup").await.status != StatusCode::OK && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(demo.get("/startup").await.status, StatusCode::OK);

    let verbose = demo.get("/ready?verbose").await;
    assert_eq!(verbose.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        verbose.body,
        "[-]redis failed: never available, startup over (required_at_startup)\n\
         readiness check failed\n"
    );
    let details = json(&demo.get("/health/dependencies").await);
    let redis_details = &details["checks"]["redis"];
    assert_eq!(redis_details["status"], "failed", "{details}");
    assert!(redis_details["lastError"].is_string(), "{details}");
    assert!(redis_details["lastErrorAgeMs"].is_u64(), "{details}");

    // Connected at last: the error is still shown, as history of the given age.
    let _redis = RedisServer::builder().port(port).start();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    let details = json(&demo.get("/health/dependencies").await);
    let redis_details = &details["checks"]["redis"];
    assert_eq!(redis_details["status"], "connected", "{details}");
    assert!(redis_details["lastError"].is_string(), "{details}");
    assert!(redis_details["lastErrorAgeMs"].is_u64(), "{details}");
}

#[tokio::test]
async fn an_unknown_readiness_policy_is_a_configuration_error() {
    let mut demo = Demo::start(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("READINESS_REDIS", "sometimes"),
    ]);
    let status = demo.process.wait_exit(DEADLINE).expect("the demo exits");
    assert_eq!(status.code(), Some(2), "{}", demo.process.output());
    let output = demo.process.output();
    assert!(
        output.contains(r#"READINESS_REDIS=\"sometimes\" is not valid: required (the default), optional, or startup"#),
        "{output}"
    );
}

/// Reads from `stream` until the server closes it (or resets it); `Err` with what arrived if it
/// is still open at the deadline.
async fn closed_by_server(
    stream: &mut tokio::net::TcpStream,
    deadline: Duration,
) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    match tokio::time::timeout(deadline, read_all).await {
        Ok(()) => Ok(()),
        Err(_) => Err(String::from_utf8_lossy(&received).into_owned()),
    }
}

#[tokio::test]
async fn connections_that_send_no_whole_request_head_are_closed_after_the_timeout() {
    use tokio::io::AsyncWriteExt;
    // Longer than the 10 s default: a connection closed before it shows the setting ignored.
    let timeout = Duration::from_secs(11);
    let demo = Demo::start(&[
        ("REDIS_URL", &format!("redis://127.0.0.1:{}", free_port())),
        ("HEADER_READ_TIMEOUT_MS", &timeout.as_millis().to_string()),
    ]);
    demo.wait_listening();
    let addr = demo.base.trim_start_matches("http://").to_owned();

    // Half a head (long enough to be told apart as HTTP/1), a few bytes, and nothing at all.
    let partial: [&[u8]; 3] = [
        b"GET /health HTTP/1.1\r\nHost: demo\r\nX-Slow: ",
        b"GET",
        b"",
    ];
    // Taken before connecting, so the server's clock for each connection starts later.
    let connecting = Instant::now();
    let mut open = Vec::new();
    for bytes in partial {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        open.push(stream);
    }
    for (stream, sent) in open.iter_mut().zip(partial) {
        let sent = String::from_utf8_lossy(sent);
        closed_by_server(stream, timeout + DEADLINE)
            .await
            .unwrap_or_else(|got| panic!("still open after sending {sent:?}; got {got:?}"));
        assert!(
            connecting.elapsed() >= timeout,
            "closed {:?} after connecting, before the timeout",
            connecting.elapsed()
        );
    }

    // A whole request on a new connection is served as before.
    assert_eq!(demo.get("/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_cluster_node_killed_under_load_logs_only_our_own_events() {
    let mut nodes = start_cluster();
    let seeds: Vec<String> = nodes.iter().map(RedisServer::url).collect();
    let demo = Demo::start(&[("REDIS_CLUSTER_URLS", &seeds.join(","))]);
    demo.wait_listening();
    assert!(demo.ready_becomes(StatusCode::OK).await);

    // Writes and reads over many keys, so every node takes traffic.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|worker| {
            let base = demo.base.clone();
            let client = demo.client.clone();
            let stop = std::sync::Arc::clone(&stop);
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let url = format!("{base}/api/v1/cache/k{worker}-{n}");
                    client.get(&url).await;
                    let put = http::Request::put(&url)
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"1")))
                        .unwrap();
                    client.request(put).await;
                }
            })
        })
        .collect();
    let logged_before = demo.process.stderr().len();

    nodes[2].kill();
    assert!(demo.ready_becomes(StatusCode::SERVICE_UNAVAILABLE).await);
    // Keep the load on while the client reconnects to the dead node in the background.
    let mut gated = 0;
    let until = Instant::now() + DEADLINE;
    while gated < 200 && Instant::now() < until {
        if demo.ticket().await.status == StatusCode::SERVICE_UNAVAILABLE {
            gated += 1;
        }
    }
    assert_eq!(gated, 200, "the strict route did not stay gated");
    nodes[2].restart();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in load {
        worker.await.unwrap();
    }

    let lines = demo.process.stderr();
    let during = &lines[logged_before..];
    let mut ours = Vec::new();
    for line in during {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        let target = event["target"].as_str().unwrap_or_default();
        assert!(
            target.starts_with("redis_gate") || target == "demo",
            "a third-party line at the default level: {line}"
        );
        ours.push(
            event["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        ours.iter().any(|m| m == "redis_connection_lost"),
        "{ours:?}"
    );
    assert!(ours.iter().any(|m| m == "redis_reconnected"), "{ours:?}");
    assert!(
        ours.len() <= 10,
        "{} lines for one outage: {ours:?}",
        ours.len()
    );
}
