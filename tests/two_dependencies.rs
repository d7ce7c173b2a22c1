//! `examples/two_dependencies.rs` as a real process: Redis and a TCP upstream watched the same
//! way, each gating its own route, both in readiness.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use redis_gate_testkit::http::HttpClient;
use redis_gate_testkit::poll::DEADLINE;
use redis_gate_testkit::process::{Spawned, built};
use redis_gate_testkit::redis::{RedisServer, free_port};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A line-based billing service: `invoice 7` → `invoice 7: 42.00 EUR`.
async fn upstream(port: u16) -> JoinHandle<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(read).read_line(&mut line).await.is_ok() && !line.is_empty() {
                    let answer = format!("{}: 42.00 EUR\n", line.trim_end());
                    let _ = write.write_all(answer.as_bytes()).await;
                }
            });
        }
    })
}

async fn ready_becomes(client: &HttpClient, url: &str, body: &str) -> bool {
    let until = Instant::now() + DEADLINE;
    while Instant::now() < until {
        if client.get(url).await.body == body {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_second_dependency_is_watched_gated_and_reported_like_redis() {
    let redis = RedisServer::start();
    let upstream_port = free_port();
    let billing = upstream(upstream_port).await;
    let bind = format!("127.0.0.1:{}", free_port());
    let upstream_addr = format!("127.0.0.1:{upstream_port}");
    let app = Spawned::start(
        &built(
            "examples/two_dependencies",
            "cargo build --example two_dependencies",
        ),
        &[
            ("REDIS_URL", &redis.url()),
            ("UPSTREAM_ADDR", &upstream_addr),
            ("UPSTREAM_CHECK_INTERVAL_MS", "100"),
            ("REDIS_CHECK_INTERVAL_MS", "100"),
            ("BIND_ADDR", &bind),
        ],
    );
    assert!(
        app.wait_for_line("listening on", DEADLINE).is_some(),
        "{}",
        app.output()
    );
    let client = HttpClient::new();
    let base = format!("http://{bind}");
    let ready = format!("{base}/ready");

    assert!(
        ready_becomes(
            &client,
            &ready,
            r#"{"status":"UP","ready":true,"checks":{"redis":"UP","billing":"UP"}}"#
        )
        .await,
        "{}",
        app.output()
    );
    let invoice = client.get(&format!("{base}/api/billing/7")).await;
    assert_eq!(invoice.status, StatusCode::OK);
    assert_eq!(invoice.body, "invoice 7: 42.00 EUR");

    // The upstream goes away: its route and readiness follow; Redis's route does not care.
    billing.abort();
    let _ = billing.await;
    assert!(
        ready_becomes(
            &client,
            &ready,
            r#"{"status":"NOT_READY","ready":false,"checks":{"redis":"UP","billing":"DOWN"}}"#
        )
        .await,
        "{}",
        app.output()
    );
    let refused = client.get(&format!("{base}/api/billing/7")).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        refused
            .body
            .contains(r#""errorCode":"BILLING_UNAVAILABLE""#),
        "{}",
        refused.body
    );
    assert!(refused.header("retry-after").is_some());
    let ticket = client
        .send(Method::POST, &format!("{base}/api/tickets"), "")
        .await;
    assert_eq!(ticket.status, StatusCode::OK);

    // Back, with the same transition events and metrics as Redis's.
    let _billing = upstream(upstream_port).await;
    assert!(
        ready_becomes(
            &client,
            &ready,
            r#"{"status":"UP","ready":true,"checks":{"redis":"UP","billing":"UP"}}"#
        )
        .await,
        "{}",
        app.output()
    );
    let output = app.output();
    for event in [
        "upstream_connect_ok",
        "upstream_connection_lost",
        "upstream_reconnected",
    ] {
        let line = output
            .lines()
            .find(|line| line.contains(event))
            .unwrap_or_else(|| panic!("no {event} in\n{output}"));
        assert!(line.contains("dependency=\"billing\""), "{line}");
    }
    let metrics = client.get(&format!("{base}/metrics")).await.body;
    for line in [
        "redis_gate_available{dependency=\"billing\"} 1",
        "redis_gate_transitions_total{dependency=\"billing\",from=\"connected\",to=\"disconnected\"} 1",
        "redis_gate_check_failures_total{dependency=\"billing\",reason=\"connection\"}",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
}
