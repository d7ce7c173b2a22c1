//! A Redis that answers reads and refuses writes, made for real on a `redis-server`: the handle
//! reads `read_only` (readable, not available), the application's idle connections stay, reads
//! through them keep working, and writes come back when the cause clears. The causes that are
//! outages (`LOADING`, `BUSY`, `MASTERDOWN`, kill, freeze) are in `faults.rs` and stay outages.

mod common;

use std::time::Duration;

use common::fast_url;
use redis_gate_core::{Availability, Reading};
use redis_gate_deadpool::deadpool_redis::redis::AsyncCommands;
use redis_gate_deadpool::{RedisConfig, RedisMonitor};
use redis_gate_testkit::poll::DEADLINE;
use redis_gate_testkit::redis::{RedisServer, free_port};

/// Waits until the handle's reading satisfies `wanted`; panics with the last reading after the
/// deadline.
async fn reading(redis: &Availability, what: &str, wanted: impl Fn(Reading) -> bool) -> Reading {
    let mut changes = redis.subscribe();
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let now = redis.reading();
        if wanted(now) {
            return now;
        }
        if tokio::time::timeout_at(until, changes.changed())
            .await
            .is_err()
        {
            panic!(
                "{what}: still {now} after {DEADLINE:?}: {:?}",
                redis.snapshot()
            );
        }
    }
}

async fn start(server: &RedisServer, write_check: bool) -> RedisMonitor {
    let mut config: RedisConfig = fast_url(&server.url());
    config.write_check = write_check;
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    monitor
}

/// A key written while Redis was writable, read through the pool while it is not.
async fn seed_and_read_back(monitor: &RedisMonitor) {
    let mut conn = monitor.pool().get().await.unwrap();
    let () = conn.set("greeting", "hello").await.unwrap();
    drop(conn);
}

async fn read_back(monitor: &RedisMonitor) {
    let mut conn = monitor.pool().get().await.expect("a pooled connection");
    let value: String = conn.get("greeting").await.expect("reads work");
    assert_eq!(value, "hello");
}

/// The cause turned on by `on`, off by `off`: read-only in between, writable after.
async fn read_only_while(
    server: &RedisServer,
    write_check: bool,
    on: &[&[&str]],
    off: &[&[&str]],
    reason: &str,
) {
    let monitor = start(server, write_check).await;
    let redis = monitor.availability();
    seed_and_read_back(&monitor).await;
    let idle_before = monitor.pool().status().size;
    for command in on {
        server.command(command).unwrap();
    }

    let read_only = reading(&redis, "read-only", Reading::is_read_only).await;
    assert!(read_only.can_read() && !read_only.can_write() && !redis.is_available());
    assert_eq!(read_only.as_str(), "read_only");
    let snapshot = redis.snapshot();
    let last_error = snapshot.last_error().unwrap_or_default();
    assert!(last_error.starts_with(reason), "{last_error}");
    assert!(
        snapshot.retry_in().is_some(),
        "a next check for Retry-After"
    );
    assert_eq!(
        monitor.pool().status().size,
        idle_before,
        "a read-only Redis keeps the pool"
    );
    read_back(&monitor).await;

    for command in off {
        server.command(command).unwrap();
    }
    reading(&redis, "writable again", Reading::is_available).await;
    monitor.shutdown().await;
}

#[tokio::test]
async fn out_of_memory_is_read_only_with_the_write_check() {
    let server = RedisServer::start();
    read_only_while(
        &server,
        true,
        &[
            &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
            &["CONFIG", "SET", "maxmemory", "1"],
        ],
        &[&["CONFIG", "SET", "maxmemory", "0"]],
        "OOM",
    )
    .await;
}

#[tokio::test]
async fn too_few_replicas_is_read_only_with_the_write_check() {
    let server = RedisServer::start();
    read_only_while(
        &server,
        true,
        &[&["CONFIG", "SET", "min-replicas-to-write", "1"]],
        &[&["CONFIG", "SET", "min-replicas-to-write", "0"]],
        "NOREPLICAS",
    )
    .await;
}

#[tokio::test]
async fn a_replica_is_read_only_with_the_write_check() {
    let server = RedisServer::start();
    let gone = free_port().to_string();
    read_only_while(
        &server,
        true,
        // A master that is not there: the replica keeps its data and serves it.
        &[&["REPLICAOF", "127.0.0.1", &gone]],
        &[&["REPLICAOF", "NO", "ONE"]],
        "READONLY",
    )
    .await;
}

#[tokio::test]
async fn paused_writes_are_read_only_and_do_not_hold_up_the_reads() {
    let server = RedisServer::start();
    read_only_while(
        &server,
        true,
        &[&["CLIENT", "PAUSE", "60000", "WRITE"]],
        &[&["CLIENT", "UNPAUSE"]],
        "writes held up",
    )
    .await;
}

#[tokio::test]
async fn a_failed_background_save_is_read_only_even_without_the_write_check() {
    // MISCONF: Redis refuses writes, and PING itself, after a background save failed while
    // `stop-writes-on-bgsave-error` is on and a save point is set; reads still work.
    let server = RedisServer::builder()
        .arg("save", "3600 1")
        .arg("rdb-key-save-delay", "1000000")
        .start();
    let monitor = start(&server, false).await;
    let redis = monitor.availability();
    seed_and_read_back(&monitor).await;
    server.command(&["BGSAVE"]).unwrap();
    let child = save_child(&server);
    nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL).unwrap();

    reading(&redis, "read-only", Reading::is_read_only).await;
    let last_error = redis.snapshot().last_error().unwrap_or_default().to_owned();
    assert!(last_error.starts_with("MISCONF"), "{last_error}");
    read_back(&monitor).await;

    server
        .command(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"])
        .unwrap();
    reading(&redis, "writable again", Reading::is_available).await;
    monitor.shutdown().await;
}

#[tokio::test]
async fn a_user_that_may_not_write_the_key_still_gets_reads_checked() {
    let server = RedisServer::start();
    server
        // Every command, every key to read, only `app:*` to write.
        .command(&[
            "ACL",
            "SETUSER",
            "reader",
            "on",
            ">reader-pw",
            "+@all",
            "%R~*",
            "%W~app:*",
        ])
        .unwrap();
    let url = format!("redis://reader:reader-pw@127.0.0.1:{}", server.port());
    let mut config = fast_url(&url);
    config.write_check = true;
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "a NOPERM on the write check's key does not fail reads: {:?}",
        monitor.availability().snapshot()
    );
    monitor.shutdown().await;
}

/// The process id of the server's background-save child.
fn save_child(server: &RedisServer) -> nix::unistd::Pid {
    let parent = server.pid().expect("running");
    let until = std::time::Instant::now() + DEADLINE;
    loop {
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return nix::unistd::Pid::from_raw(pid.parse().unwrap());
        }
        assert!(
            std::time::Instant::now() < until,
            "no background save started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
