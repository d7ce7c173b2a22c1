//! The demo with a Redis that serves reads and refuses writes (`maxmemory` reached with
//! `noeviction`, a real `redis-server`): cache reads keep hitting Redis, writes answer `503`
//! with `Retry-After` and the status word `read_only`, readiness says `READ_ONLY`, and all of it
//! recovers when memory is freed.

mod support;

use http::{Method, StatusCode};
use redis_gate_testkit::redis::RedisServer;
use serde_json::Value;
use support::Demo;

#[tokio::test]
async fn a_read_only_redis_keeps_cache_reads_and_refuses_writes() {
    let redis = RedisServer::start();
    let demo = Demo::start(&[("REDIS_URL", &redis.url()), ("REDIS_WRITE_CHECK", "true")]);
    demo.wait_listening();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    let miss = demo.get("/api/v1/cache/alpha").await;
    assert_eq!(miss.header("x-cache"), Some("miss"), "{}", miss.body);

    redis
        .command(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .unwrap();
    redis.command(&["CONFIG", "SET", "maxmemory", "1"]).unwrap();
    let mut last = String::new();
    let seen = demo
        .ready_becomes_with(StatusCode::SERVICE_UNAVAILABLE, |reply| {
            last.clone_from(&reply.body);
        })
        .await;
    assert!(seen, "readiness never failed: {last}");
    let ready: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(ready["checks"]["redis"], "READ_ONLY", "{last}");

    // Reads: from Redis, as before.
    let hit = demo.get("/api/v1/cache/alpha").await;
    assert_eq!(hit.status, StatusCode::OK);
    assert_eq!(hit.header("x-cache"), Some("hit"), "{}", hit.body);
    // A miss is served from the origin and not written back.
    let miss = demo.get("/api/v1/cache/beta").await;
    assert_eq!(miss.header("x-cache"), Some("miss"), "{}", miss.body);

    // Writes: refused at the gate, with the schedule's Retry-After.
    let put = demo
        .send(Method::PUT, "/api/v1/cache/alpha", r#""new""#)
        .await;
    assert_eq!(put.status, StatusCode::SERVICE_UNAVAILABLE, "{}", put.body);
    assert!(put.header("retry-after").is_some());
    assert!(put.body.contains(r#""status":"read_only""#), "{}", put.body);
    let ticket = demo.ticket().await;
    assert_eq!(ticket.status, StatusCode::SERVICE_UNAVAILABLE);

    redis.command(&["CONFIG", "SET", "maxmemory", "0"]).unwrap();
    assert!(demo.ready_becomes(StatusCode::OK).await);
    let put = demo
        .send(Method::PUT, "/api/v1/cache/alpha", r#""new""#)
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
}
