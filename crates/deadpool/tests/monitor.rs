//! The monitor against real `redis-server` processes: started late, killed, frozen, restarted,
//! loading, password-protected, and saturated.

use std::time::{Duration, Instant};

use deadpool_redis::redis::AsyncCommands;
mod common;

use common::{BACKOFF_CAP, fast_url as fast};
use redis_gate_core::{Availability, Backoff, StartupPolicy, Status};
use redis_gate_deadpool::{ConnectionError, GatedPool, RedisConfig, RedisMonitor, StartError};
use redis_gate_testkit::http::TestServer;
use redis_gate_testkit::logs::LogCapture;
use redis_gate_testkit::poll::{DEADLINE, at_once, eventually};
use redis_gate_testkit::proxy::{Fault, FaultProxy};
use redis_gate_testkit::redis::{RedisServer, free_port};

async fn status_becomes(monitor: &RedisMonitor, status: Status) -> bool {
    let redis = monitor.availability();
    eventually(DEADLINE, || redis.status() == status).await
}

#[tokio::test]
async fn connects_eagerly_and_hands_out_working_connections() {
    let (logs, _guard) = LogCapture::install();
    let server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("gate:key", "value").await.unwrap();
    let value: String = conn.get("gate:key").await.unwrap();
    assert_eq!(value, "value");

    assert_eq!(logs.events("redis_config").len(), 1);
    assert_eq!(logs.events("redis_connect_start").len(), 1);
    let ok = logs.events("redis_connect_ok");
    assert_eq!(ok.len(), 1, "{}", logs.text());
    assert!(
        ok[0].contains("\"duration_ms\":") && ok[0].contains("\"attempt\":1"),
        "{}",
        ok[0]
    );
    assert!(logs.events("redis_connect_fail").is_empty());
    monitor.shutdown().await;
}

#[tokio::test]
async fn redis_starting_late_goes_from_connecting_to_connected() {
    let (logs, _guard) = LogCapture::install();
    let late = RedisServer::builder().start_after(Duration::from_secs(2));
    let monitor = RedisMonitor::start(fast(&late.url())).await.unwrap();
    let mut changes = monitor.availability().subscribe();
    assert_eq!(monitor.availability().status(), Status::Connecting);

    let server = tokio::task::spawn_blocking(move || late.join())
        .await
        .unwrap();
    let accepting = Instant::now();
    assert!(monitor.wait_available(DEADLINE).await);
    let lag = accepting.elapsed();

    // The first transition is straight to Connected: never Disconnected before a connection.
    assert_eq!(changes.changed().await.unwrap().status(), Status::Connected);
    let fails = logs.events("redis_connect_fail");
    assert_eq!(
        fails.len(),
        1,
        "one line for the outage, not one per attempt: {fails:?}"
    );
    // Retries are at most one backoff cap apart, plus a connect and a PING.
    assert!(lag < BACKOFF_CAP + Duration::from_secs(2), "lag {lag:?}");
    drop(server);
}

#[tokio::test]
async fn kill_makes_redis_unavailable_and_restart_brings_it_back() {
    let (logs, _guard) = LogCapture::install();
    let mut server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    server.kill();
    assert!(status_becomes(&monitor, Status::Disconnected).await);
    let snapshot = monitor.availability().snapshot();
    assert!(snapshot.next_retry_at().is_some());
    assert!(snapshot.last_error().is_some());

    // Application code fails fast while Redis is down: no connect attempt, no pool wait.
    match at_once(monitor.connection()) {
        Some(Err(ConnectionError::Unavailable(reading))) => {
            assert_eq!(reading.status(), Status::Disconnected)
        }
        Some(other) => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
        None => panic!("connection() waited while Redis was known to be down"),
    }

    server.restart();
    assert!(monitor.wait_available(DEADLINE).await);
    let mut conn = monitor.connection().await.unwrap();
    let pong: String = deadpool_redis::redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pong, "PONG");

    assert_eq!(logs.events("redis_connection_lost").len(), 1);
    let reconnected = logs.events("redis_reconnected");
    assert_eq!(reconnected.len(), 1);
    assert!(
        reconnected[0].contains("\"downtime_ms\":"),
        "{}",
        reconnected[0]
    );
}

#[tokio::test]
async fn idle_pool_connections_are_dropped_when_redis_is_lost() {
    let mut server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    // Three connections in use at once, then returned: three idle ones in the pool.
    let held = [
        monitor.connection().await.unwrap(),
        monitor.connection().await.unwrap(),
        monitor.connection().await.unwrap(),
    ];
    drop(held);
    let pool = monitor.pool();
    assert_eq!(pool.status().size, 3);

    // Dead with their server: none is kept for a handler to pick up once Redis is back.
    server.kill();
    assert!(status_becomes(&monitor, Status::Disconnected).await);
    assert!(
        eventually(DEADLINE, || pool.status().size == 0).await,
        "{:?}",
        pool.status()
    );
}

#[tokio::test]
async fn a_kill_is_seen_when_the_connection_closes_not_at_the_next_check() {
    let mut server = RedisServer::start();
    // The next scheduled check is far past the deadline: only the closed connection can tell
    // the monitor in time.
    let mut config = fast(&server.url());
    config.monitor.check_interval = DEADLINE * 4;
    kill_and_restart(&mut server, config).await;
}

/// Starts a monitor on `server`, then kills and restarts the server; the monitor must follow.
async fn kill_and_restart(server: &mut RedisServer, config: RedisConfig) {
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    server.kill();
    assert!(status_becomes(&monitor, Status::Disconnected).await);
    server.restart();
    assert!(monitor.wait_available(DEADLINE).await);
}

#[tokio::test]
async fn redis_without_resp3_is_checked_over_resp2() {
    // Redis before 6 has no `HELLO`; with the command renamed away, a real server answers
    // `HELLO 3` the same way.
    let mut server = RedisServer::builder()
        .config_file("rename-command HELLO \"\"\n")
        .start();
    let config = fast(&server.url());
    kill_and_restart(&mut server, config).await;
}

#[tokio::test]
async fn frozen_redis_is_unavailable_after_the_timeouts_and_recovers_when_thawed() {
    let mut server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    server.freeze();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    let snapshot = redis.snapshot();
    assert_eq!(snapshot.status(), Status::Disconnected);
    assert!(
        snapshot.last_error().unwrap().contains("timed out"),
        "{:?}",
        snapshot.last_error()
    );

    server.thaw();
    assert!(monitor.wait_available(DEADLINE).await);
}

#[tokio::test]
async fn a_freeze_is_seen_after_fall_timeouts_on_the_kept_connection_not_a_connect_timeout() {
    // A frozen Redis still accepts TCP connections and then never answers `HELLO`: a check that
    // dropped its connection after the first slow `PING` would wait out the connect timeout
    // before the second. With one far beyond the deadline, only the kept connection can pass.
    let mut server = RedisServer::start();
    let mut config = fast(&server.url());
    config.timeouts.connect = DEADLINE * 3;
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    server.freeze();
    let redis = monitor.availability();
    assert!(
        eventually(DEADLINE, || !redis.is_available()).await,
        "two 250 ms timeouts, not a {:?} connect timeout",
        DEADLINE * 3
    );
    let error = redis.snapshot().last_error().unwrap().to_owned();
    assert!(error.contains("timed out"), "{error}");
    server.thaw();
}

#[tokio::test]
async fn wrong_password_is_failed_with_a_sanitized_reason_and_never_logged() {
    let (logs, _guard) = LogCapture::install();
    let server = RedisServer::builder().password("right-Pa55word").start();
    let wrong = format!("redis://:wrong-Pa55word@127.0.0.1:{}", server.port());
    let monitor = RedisMonitor::start(fast(&wrong)).await.unwrap();

    assert!(status_becomes(&monitor, Status::Failed).await);
    let snapshot = monitor.availability().snapshot();
    let reason = snapshot.last_error().unwrap();
    assert!(reason.contains("authentication failed"), "{reason}");

    let no_password = RedisMonitor::start(fast(&server.url_without_password()))
        .await
        .unwrap();
    assert!(status_becomes(&no_password, Status::Failed).await);
    let reason = no_password
        .availability()
        .snapshot()
        .last_error()
        .unwrap()
        .to_owned();
    assert!(reason.contains("authentication failed"), "{reason}");

    let text = logs.text();
    assert!(!logs.events("redis_connect_fail").is_empty());
    for secret in ["right-Pa55word", "wrong-Pa55word"] {
        assert!(!text.contains(secret), "{secret} leaked into the logs");
        assert!(!reason.contains(secret));
    }
    assert!(text.contains(":***@"), "the URL is logged, redacted");
}

#[tokio::test]
async fn loading_dataset_is_not_available_until_loaded() {
    let mut server = RedisServer::builder()
        .slow_to_load(20_000, Duration::from_micros(100))
        .start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    // Restart into a slow load: a real -LOADING reply for about two seconds, which a plain
    // `redis-cli ping` would report as success.
    server.stop();
    server.restart_accepting();
    let redis = monitor.availability();
    assert!(
        eventually(DEADLINE, || {
            redis
                .snapshot()
                .last_error()
                .is_some_and(|e| e.starts_with("LOADING"))
        })
        .await,
        "{:?} {}",
        redis.snapshot(),
        server.log()
    );
    assert!(!redis.is_available());
    assert!(monitor.wait_available(DEADLINE).await);
}

#[tokio::test]
async fn settings_the_client_refuses_are_logged_once_with_a_reason() {
    let (logs, _guard) = LogCapture::install();
    // The Redis client connects to no wildcard address; our parser leaves that to it.
    let config = fast(&format!("redis://0.0.0.0:{}", free_port()));
    let err = RedisMonitor::start(config).await.unwrap_err();
    assert!(matches!(err, StartError::Config(_)), "{err:?}");
    let events = logs.events("redis_config_invalid");
    assert_eq!(events.len(), 1, "{}", logs.text());
    // A string field, as in every other event, named as in the demo's `redis_config_invalid`.
    assert!(
        events[0].contains(r#""reason":"the Redis client refused the settings"#),
        "{}",
        events[0]
    );
    assert!(
        events[0].contains(r#""dependency":"redis""#),
        "{}",
        events[0]
    );
}

#[tokio::test]
async fn a_server_that_does_not_speak_redis_is_named_in_the_handle_and_the_logs() {
    let (logs, _guard) = LogCapture::install();
    // A real HTTP server (hyper's): a real Redis cannot answer HTTP, so this is the one fake.
    let http = TestServer::plain_http().await;
    let monitor = RedisMonitor::start(fast(&format!("redis://{}", http.addr())))
        .await
        .unwrap();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || redis.snapshot().last_error().is_some()).await);

    let expected = format!(
        "{} does not speak Redis: it answered PING with `HTTP/1.1` (check the host and port)",
        http.addr()
    );
    assert_eq!(redis.snapshot().last_error(), Some(expected.as_str()));
    assert_eq!(redis.status(), Status::Failed, "waiting will not fix it");
    let failed = logs.events("redis_connect_fail");
    assert_eq!(failed.len(), 1, "{}", logs.text());
    assert!(failed[0].contains(&expected), "{}", failed[0]);
    monitor.shutdown().await;
}

#[tokio::test]
async fn fail_closed_start_without_redis_errors_within_the_startup_timeout() {
    let (logs, _guard) = LogCapture::install();
    let url = format!("redis://127.0.0.1:{}", free_port());
    let mut config = fast(&url);
    config.monitor.startup = StartupPolicy::FailClosed;
    config.monitor.startup_timeout = Duration::from_millis(800);
    let started = Instant::now();
    let err = RedisMonitor::start(config).await.unwrap_err();
    let waited = started.elapsed();

    match &err {
        StartError::Unavailable(unavailable) => {
            assert_eq!(unavailable.name, "redis");
            assert_eq!(unavailable.waited, Duration::from_millis(800));
            assert_eq!(unavailable.last_error, "connection refused");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(waited >= Duration::from_millis(800), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(
        logs.events("redis_connect_fatal").len(),
        1,
        "{}",
        logs.text()
    );
    assert!(logs.events("redis_connect_degraded").is_empty());
}

#[tokio::test]
async fn degraded_start_returns_at_once_and_reports_failed_after_the_budget() {
    let (logs, _guard) = LogCapture::install();
    let url = format!("redis://127.0.0.1:{}", free_port());
    let mut config = fast(&url);
    config.monitor.startup_attempts = 3;
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert_eq!(monitor.availability().status(), Status::Connecting);

    assert!(!monitor.availability().is_started());
    assert!(status_becomes(&monitor, Status::Failed).await);
    assert!(
        monitor.availability().is_started(),
        "giving up is the startup decision"
    );
    assert_eq!(logs.events("redis_connect_degraded").len(), 1);
    let snapshot = monitor.availability().snapshot();
    assert!(snapshot.attempts() >= 3);
    assert!(snapshot.retry_in().unwrap() <= BACKOFF_CAP);
}

/// The startup timeout of the startup-decision tests.
const STARTUP: Duration = Duration::from_secs(1);
/// Their connect timeout: what the decision may wait for an attempt in flight, at most.
const CONNECT: Duration = Duration::from_secs(3);

/// Degraded settings under which only the startup timer can decide on time: after the first
/// failure, the next attempt is 10 to 20 s away, and an attempt may take 3 s.
fn decides_by_the_clock(url: &str) -> RedisConfig {
    let mut config = fast(url);
    config.monitor.startup_timeout = STARTUP;
    config.timeouts.connect = CONNECT;
    config.monitor.backoff = Backoff::new(Duration::from_secs(20), Duration::from_secs(20));
    config
}

/// Starts a degraded monitor and waits for its startup decision (as its handle tells it).
/// Returns how long that took from before the start.
async fn startup_decision(config: RedisConfig) -> (Duration, RedisMonitor) {
    let started = Instant::now();
    let monitor = RedisMonitor::start(config).await.unwrap();
    let redis = monitor.availability();
    let mut changes = redis.subscribe();
    let decided = async { while !redis.is_started() && changes.changed().await.is_some() {} };
    tokio::time::timeout(DEADLINE, decided)
        .await
        .expect("a startup decision");
    (started.elapsed(), monitor)
}

/// The rule: the degraded decision comes at the startup timeout, plus one connect timeout at
/// most when an attempt is in flight, and is logged once with what it waited.
fn assert_decided_on_time(took: Duration, monitor: &RedisMonitor, logs: &LogCapture) {
    assert!(
        took >= STARTUP,
        "decided before the startup timeout: {took:?}"
    );
    assert!(took < STARTUP + CONNECT, "decided late: {took:?}");
    let redis = monitor.availability();
    assert!(redis.is_started());
    assert_eq!(redis.status(), Status::Failed);
    let degraded = logs.events("redis_connect_degraded");
    assert_eq!(degraded.len(), 1, "{}", logs.text());
    let waited_ms: u64 = degraded[0]
        .split(r#""waited_ms":"#)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no waited_ms in {}", degraded[0]));
    let waited = Duration::from_millis(waited_ms);
    assert!(
        waited >= STARTUP && waited < STARTUP + CONNECT,
        "{}",
        degraded[0]
    );
}

#[tokio::test]
async fn the_degraded_decision_comes_at_the_startup_timeout_when_connections_are_refused() {
    let (logs, _guard) = LogCapture::install();
    let url = format!("redis://127.0.0.1:{}", free_port());
    let (took, monitor) = startup_decision(decides_by_the_clock(&url)).await;
    assert_decided_on_time(took, &monitor, &logs);
    let snapshot = monitor.availability().snapshot();
    assert_eq!(snapshot.last_error(), Some("connection refused"));
    assert_eq!(snapshot.attempts(), 1, "decided between two attempts");
    monitor.shutdown().await;
}

#[tokio::test]
async fn the_degraded_decision_comes_at_the_startup_timeout_when_nothing_answers() {
    let (logs, _guard) = LogCapture::install();
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    proxy.set_fault(Fault::Blackhole).await;
    let (took, monitor) = startup_decision(decides_by_the_clock(&proxy.redis_url())).await;
    assert_decided_on_time(took, &monitor, &logs);
    // The first attempt is still in flight: that is all that is known.
    let snapshot = monitor.availability().snapshot();
    assert_eq!(
        snapshot.last_error(),
        Some("no answer within the startup timeout (1000 ms)")
    );
    assert_eq!(snapshot.attempts(), 0);
    monitor.shutdown().await;
}

#[tokio::test]
async fn the_degraded_decision_comes_at_the_startup_timeout_when_the_server_speaks_http() {
    let (logs, _guard) = LogCapture::install();
    // A real HTTP server (hyper's): a real Redis cannot answer HTTP, so this is the one fake.
    let http = TestServer::plain_http().await;
    let url = format!("redis://{}", http.addr());
    let (took, monitor) = startup_decision(decides_by_the_clock(&url)).await;
    assert_decided_on_time(took, &monitor, &logs);
    let snapshot = monitor.availability().snapshot();
    assert!(
        snapshot
            .last_error()
            .is_some_and(|error| error.contains("does not speak Redis")),
        "{snapshot:?}"
    );
    monitor.shutdown().await;
}

#[tokio::test]
async fn the_degraded_decision_comes_at_the_startup_timeout_when_tls_meets_plain_redis() {
    let (logs, _guard) = LogCapture::install();
    let server = RedisServer::start();
    let url = format!("rediss://127.0.0.1:{}", server.port());
    let (took, monitor) = startup_decision(decides_by_the_clock(&url)).await;
    assert_decided_on_time(took, &monitor, &logs);
    // The handshake waits until the connect timeout; then the failure is looked into.
    let redis = monitor.availability();
    let named = || {
        redis
            .snapshot()
            .last_error()
            .is_some_and(|error| error.contains("speaks plain Redis, not TLS"))
    };
    assert!(eventually(DEADLINE, named).await, "{:?}", redis.snapshot());
    assert_eq!(
        logs.events("redis_connect_degraded").len(),
        1,
        "decided once"
    );
    monitor.shutdown().await;
}

#[tokio::test]
async fn pool_saturation_does_not_flip_the_handle() {
    let server = RedisServer::start();
    let mut config = fast(&server.url());
    config.pool_size = 2;
    config.timeouts.pool_wait = Duration::from_millis(100);
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    let held = [
        monitor.connection().await.unwrap(),
        monitor.connection().await.unwrap(),
    ];
    match monitor.connection().await {
        Err(ConnectionError::Pool(err)) => assert!(err.to_string().contains("Timeout"), "{err}"),
        other => panic!("expected a pool timeout, got {:?}", other.map(|_| ())),
    }

    // Let the monitor run several checks while the pool stays exhausted: count its PINGs.
    let before = server.calls("ping");
    assert!(eventually(DEADLINE, || server.calls("ping") >= before + 5).await);
    let snapshot = monitor.availability().snapshot();
    assert_eq!(snapshot.status(), Status::Connected);
    assert_eq!(snapshot.attempts(), 0);
    drop(held);
}

#[tokio::test]
async fn operator_override_holds_redis_out_of_service() {
    let server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    monitor.mark_unavailable("maintenance");
    assert!(!monitor.availability().is_available());
    assert!(matches!(
        monitor.connection().await,
        Err(ConnectionError::Unavailable(_))
    ));
    monitor.clear_override();
    assert!(monitor.availability().is_available());
    drop(server);
}

#[tokio::test]
async fn shutdown_stops_the_task_and_the_handle_with_it() {
    let (logs, _guard) = LogCapture::install();
    let server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let redis = monitor.availability();
    let mut changes = redis.subscribe();
    tokio::time::timeout(DEADLINE, monitor.shutdown())
        .await
        .expect("shutdown finishes");

    assert!(!redis.is_available());
    let last = changes.changed().await.expect("one last transition");
    assert_eq!(last.status(), Status::Failed);
    assert_eq!(last.last_error(), Some("monitor stopped"));
    assert!(changes.changed().await.is_none(), "the reporter is gone");
    let stopped = logs.events("redis_monitor_stopped");
    assert_eq!(stopped.len(), 1, "{}", logs.text());
    assert!(stopped[0].contains(r#""level":"INFO""#), "{}", stopped[0]);
    assert!(
        stopped[0].contains(r#""cause":"shutdown""#),
        "{}",
        stopped[0]
    );
}

/// What a new user wrote: the app is built in a helper, and the monitor is dropped at its end.
async fn app_from_a_helper(url: &str) -> (Availability, GatedPool) {
    let monitor = RedisMonitor::start(fast(url)).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    (monitor.availability(), monitor.gated_pool())
}

#[tokio::test]
async fn a_dropped_monitor_leaves_its_handle_unavailable_at_once_and_says_so() {
    let (logs, _guard) = LogCapture::install();
    let server = RedisServer::start();
    let (redis, pool) = app_from_a_helper(&server.url()).await;

    // No await since the drop: the reading changed in the drop itself.
    assert!(!redis.is_available());
    let snapshot = redis.snapshot();
    assert_eq!(snapshot.status(), Status::Failed);
    assert_eq!(snapshot.last_error(), Some("monitor stopped"));
    assert!(snapshot.is_started(), "the startup decision stands");
    match at_once(pool.get()) {
        Some(Err(ConnectionError::Unavailable(reading))) => {
            assert_eq!(reading.status(), Status::Failed)
        }
        Some(other) => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
        None => panic!("get() waited on a stopped monitor"),
    }

    let stopped = logs.events("redis_monitor_stopped");
    assert_eq!(stopped.len(), 1, "{}", logs.text());
    assert!(stopped[0].contains(r#""level":"ERROR""#), "{}", stopped[0]);
    assert!(
        stopped[0].contains(r#""cause":"dropped""#),
        "{}",
        stopped[0]
    );
    // The aborted task lets go of the reporter, which closes the channel; it must not log the
    // stop a second time on its way out.
    let mut changes = redis.subscribe();
    let closed = async { while changes.changed().await.is_some() {} };
    tokio::time::timeout(DEADLINE, closed)
        .await
        .expect("the task ends");
    assert_eq!(logs.events("redis_monitor_stopped").len(), 1);
}

#[test]
fn a_monitor_outlived_by_its_runtime_stops_its_handle() {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let monitor = runtime.block_on(async {
        let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
        assert!(monitor.wait_available(DEADLINE).await);
        monitor
    });
    let redis = monitor.availability();
    assert!(redis.is_available());

    // The runtime drops the monitor's task: nothing watches Redis any more.
    drop(runtime);
    assert!(!redis.is_available());
    assert_eq!(redis.snapshot().last_error(), Some("monitor stopped"));
    drop(monitor);
}

#[tokio::test]
async fn a_stalled_check_makes_the_handle_unavailable_until_checks_complete_again() {
    let (logs, _guard) = LogCapture::install();
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    // The check's own timeouts are far past the stall deadline: only the watchdog can tell.
    let mut config = fast(&proxy.redis_url());
    config.timeouts.response = Duration::from_secs(30);
    config.timeouts.connect = Duration::from_secs(30);
    config.monitor.stall_timeout = Some(Duration::from_millis(300));
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let redis = monitor.availability();

    proxy.set_fault(Fault::Blackhole).await;
    assert!(
        eventually(DEADLINE, || !redis.is_available()).await,
        "{:?}",
        redis.snapshot()
    );
    let snapshot = redis.snapshot();
    assert_eq!(snapshot.status(), Status::Failed);
    assert_eq!(snapshot.last_error(), Some("monitor stalled"));
    assert!(snapshot.is_stalled());
    assert!(!snapshot.is_stopped());

    // The frozen PING gets its answer: the check completes and the handle follows it again.
    proxy.set_fault(Fault::Pass).await;
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        redis.snapshot()
    );
    assert!(!redis.snapshot().is_stalled());
    assert_eq!(
        logs.events("redis_monitor_stalled").len(),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(
        logs.events("redis_monitor_resumed").len(),
        1,
        "{}",
        logs.text()
    );
    assert!(
        logs.events("redis_connection_lost").is_empty(),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn every_check_is_recorded_with_its_latency() {
    let server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let redis = monitor.availability();
    let first = redis.snapshot().last_check_at().unwrap();
    assert!(eventually(DEADLINE, || redis.snapshot().last_check_at() > Some(first)).await);
    let snapshot = redis.snapshot();
    assert!(snapshot.last_check_latency().unwrap() < DEADLINE);
    assert!(snapshot.last_check_age().unwrap() < DEADLINE);
}

#[tokio::test]
async fn write_check_sees_readonly_and_oom_that_ping_misses() {
    let primary = RedisServer::start();
    let server = RedisServer::start();
    let plain = RedisMonitor::start(fast(&server.url())).await.unwrap();
    let mut config = fast(&server.url());
    config.write_check = true;
    let writing = RedisMonitor::start(config).await.unwrap();
    assert!(writing.wait_available(DEADLINE).await);
    assert!(plain.wait_available(DEADLINE).await);

    // Demoted to a replica: PING still answers, writes get -READONLY.
    let port = primary.port().to_string();
    server.command(&["REPLICAOF", "127.0.0.1", &port]).unwrap();
    let redis = writing.availability();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    let reason = redis.snapshot().last_error().unwrap().to_owned();
    assert!(reason.starts_with("READONLY"), "{reason}");
    assert!(
        plain.availability().is_available(),
        "a plain PING is fooled"
    );

    server.command(&["REPLICAOF", "NO", "ONE"]).unwrap();
    assert!(writing.wait_available(DEADLINE).await);

    // maxmemory with noeviction: PING works, writes get -OOM.
    server
        .command(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .unwrap();
    server
        .command(&["CONFIG", "SET", "maxmemory", "1"])
        .unwrap();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    let reason = redis.snapshot().last_error().unwrap().to_owned();
    assert!(reason.starts_with("OOM"), "{reason}");
    assert!(plain.availability().is_available());
    server
        .command(&["CONFIG", "SET", "maxmemory", "0"])
        .unwrap();
    assert!(writing.wait_available(DEADLINE).await);
}

#[tokio::test]
async fn pool_connection_failures_reveal_maxclients() {
    let server = RedisServer::start();
    let monitor = RedisMonitor::start(fast(&server.url())).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    // The monitor's own connection stays up; new ones are refused. An admin connection opened
    // before keeps its slot, to lift the limit again.
    let mut admin = server.connect().unwrap();
    let open = admin.command(&["CLIENT", "LIST"]).unwrap().lines().count();
    admin
        .command(&["CONFIG", "SET", "maxclients", &open.to_string()])
        .unwrap();
    assert!(
        monitor.connection().await.is_err(),
        "the pool cannot connect"
    );
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    let reason = redis.snapshot().last_error().unwrap().to_owned();
    assert!(reason.starts_with("new connections fail"), "{reason}");

    admin
        .command(&["CONFIG", "SET", "maxclients", "1000"])
        .unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    assert!(monitor.connection().await.is_ok());
}
