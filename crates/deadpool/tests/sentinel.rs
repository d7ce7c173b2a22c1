//! Sentinel failovers against a real master, replica and three sentinels: followed by push the
//! moment the sentinels announce them, with the application's pool moved to the new master so
//! that no acknowledged write is lost to a master being replaced. Each test that claims an
//! announcement runs a second monitor beside the first with `sentinel_announcements = false`,
//! which must not follow in time: what the first does comes from the announcements, not from
//! polling.
//!
//! `failover_follow_times` (ignored; run by hand) measures how fast, with and without the
//! announcements:
//!
//! ```text
//! REDIS_GATE_FAILOVERS=10 cargo test -p redis-gate-deadpool --test sentinel -- --ignored --nocapture
//! ```

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, AsyncCommands};
use redis_gate_core::Backoff;
use redis_gate_deadpool::{GatedPool, RedisConfig, RedisMonitor};
use redis_gate_testkit::logs::LogCapture;
use redis_gate_testkit::poll::{DEADLINE, eventually};
use redis_gate_testkit::redis::{RedisServer, SENTINEL_MASTER, SentinelSet};
use tokio::task::JoinHandle;

use common::fast;

/// A check interval far past every deadline: a monitor with it only checks when woken.
const NEVER: Duration = Duration::from_secs(3600);

/// A write the pool acknowledged: its key, the port of the server that took it, and when.
#[derive(Clone, Debug)]
struct Acked {
    key: String,
    port: u16,
    at: Instant,
}

/// Writes `k<n>` through the gated pool every 2 ms, noting which server took each write.
fn keep_writing(pool: GatedPool) -> (JoinHandle<()>, Arc<Mutex<Vec<Acked>>>) {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&acked);
    let writer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        for n in 0u64.. {
            tick.tick().await;
            let Ok(mut conn) = pool.get().await else {
                continue;
            };
            let key = format!("k{n}");
            let reply: redis::RedisResult<((), Vec<String>)> = redis::pipe()
                .set(&key, n)
                .cmd("CONFIG")
                .arg("GET")
                .arg("port")
                .query_async(&mut conn)
                .await;
            if let Ok(((), port)) = reply {
                let port = port[1].parse().unwrap();
                log.lock().unwrap().push(Acked {
                    key,
                    port,
                    at: Instant::now(),
                });
            }
        }
    });
    (writer, acked)
}

/// When the first sentinel announces `+switch-master` after this is called, as heard on a thread
/// of its own (so that the runtime's scheduling does not delay the time taken).
fn next_switch(set: &SentinelSet) -> std::sync::mpsc::Receiver<Instant> {
    let client = redis::Client::open(set.sentinels[0].url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let (heard, switch) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe("+switch-master").unwrap();
        if pubsub.get_message().is_ok() {
            let _ = heard.send(Instant::now());
        }
    });
    switch
}

/// Waits for the switch `next_switch` listens for.
async fn switched(switch: std::sync::mpsc::Receiver<Instant>) -> Instant {
    tokio::task::spawn_blocking(move || switch.recv_timeout(DEADLINE))
        .await
        .unwrap()
        .expect("a +switch-master in time")
}

/// `SENTINEL FAILOVER`, again while the previous failover is still being finished.
async fn planned_failover(set: &SentinelSet) {
    let until = Instant::now() + DEADLINE;
    loop {
        match set.sentinels[0].command(&["SENTINEL", "FAILOVER", SENTINEL_MASTER]) {
            Ok(_) => return,
            Err(err) if err.starts_with("INPROG") && Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("SENTINEL FAILOVER: {err}"),
        }
    }
}

/// The first write the new master took, and whether every write after it went there too.
fn followed_at(acked: &[Acked], new_port: u16) -> Option<(usize, bool)> {
    let first = acked.iter().position(|write| write.port == new_port)?;
    let all_after = acked[first..].iter().all(|write| write.port == new_port);
    Some((first, all_after))
}

async fn wait_for_writes_to(acked: &Arc<Mutex<Vec<Acked>>>, port: u16, deadline: Duration) -> bool {
    eventually(deadline, || {
        acked.lock().unwrap().iter().any(|write| write.port == port)
    })
    .await
}

fn sentinel_config(set: &SentinelSet) -> RedisConfig {
    fast(
        RedisConfig::sentinel(&set.sentinel_addrs(), SENTINEL_MASTER)
            .build()
            .unwrap(),
    )
}

/// Two monitors that only check when woken: the first hears the sentinels' announcements, the
/// second (the control) does not.
async fn woken_only_by_announcements(set: &SentinelSet) -> (RedisMonitor, RedisMonitor) {
    let mut config = sentinel_config(set);
    config.monitor.check_interval = NEVER;
    let mut deaf = config.clone();
    deaf.sentinel_announcements = false;
    let listening = RedisMonitor::start(config).await.unwrap();
    let deaf = RedisMonitor::start(deaf).await.unwrap();
    assert!(listening.wait_available(DEADLINE).await);
    assert!(deaf.wait_available(DEADLINE).await);
    (listening, deaf)
}

#[tokio::test]
async fn a_planned_failover_is_followed_at_once_and_loses_no_acknowledged_write() {
    let (logs, _guard) = LogCapture::install();
    let mut set = SentinelSet::start();
    let (monitor, deaf) = woken_only_by_announcements(&set).await;
    let (writer, acked) = keep_writing(monitor.gated_pool());
    let (deaf_writer, deaf_acked) = keep_writing(deaf.gated_pool());
    let old_port = set.master_port();
    assert!(wait_for_writes_to(&acked, old_port, DEADLINE).await);
    assert!(wait_for_writes_to(&deaf_acked, old_port, DEADLINE).await);

    let switch = next_switch(&set);
    planned_failover(&set).await;
    let switched = switched(switch).await;
    let new_port = set.master_port();
    assert_ne!(new_port, old_port);
    assert!(
        wait_for_writes_to(&acked, new_port, DEADLINE).await,
        "no write reached the new master: {}",
        logs.text()
    );
    assert!(monitor.availability().is_available());

    // The old master is demoted and resyncs from the new one, dropping what it took alone.
    let (new_master, old_master) = set.master_and_replica();
    assert!(
        eventually(DEADLINE, || {
            old_master
                .command(&["INFO", "replication"])
                .is_ok_and(|info| info.contains("master_link_status:up"))
        })
        .await
    );
    deaf_writer.abort();
    assert!(
        !deaf_acked
            .lock()
            .unwrap()
            .iter()
            .any(|write| write.port == new_port),
        "the monitor deaf to the announcements followed as well"
    );
    writer.abort();
    let acked = acked.lock().unwrap().clone();
    let (first, all_after) = followed_at(&acked, new_port).unwrap();
    assert!(
        all_after,
        "a write went to the old master after the switch was followed"
    );
    for write in &acked[first..] {
        let value = new_master.command(&["GET", &write.key]).unwrap();
        assert!(!value.is_empty(), "{} was acknowledged and lost", write.key);
    }
    let lost_before = acked[..first]
        .iter()
        .filter(|write| write.at > switched && write.port == old_port)
        .count();
    println!(
        "planned failover: followed {:?} after +switch-master; {lost_before} writes to the old master in between",
        acked[first].at.saturating_duration_since(switched)
    );
    assert_eq!(
        logs.events("redis_master_changed").len(),
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
async fn a_killed_master_is_followed_when_the_sentinels_announce_the_new_one() {
    let mut set = SentinelSet::start();
    let (monitor, deaf) = woken_only_by_announcements(&set).await;
    let (writer, acked) = keep_writing(monitor.gated_pool());
    let (deaf_writer, deaf_acked) = keep_writing(deaf.gated_pool());

    let (master, replica) = set.master_and_replica();
    let new_port = replica.port();
    master.kill();
    assert!(wait_for_writes_to(&acked, new_port, DEADLINE).await);
    assert!(monitor.availability().is_available());
    deaf_writer.abort();
    // Its connection to the master speaks RESP2, which does not tell when it closes; the
    // failed connects of its pool do not wake it either.
    assert!(
        !deaf_acked
            .lock()
            .unwrap()
            .iter()
            .any(|write| write.port == new_port),
        "the monitor deaf to the announcements followed as well"
    );
    writer.abort();
}

#[tokio::test]
async fn a_killed_subscription_is_renewed_and_still_followed() {
    let set = SentinelSet::start();
    let mut config = sentinel_config(&set);
    config.monitor.check_interval = NEVER;
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let subscribed = |set: &SentinelSet| {
        set.sentinels.iter().all(|sentinel| {
            sentinel
                .command(&["CLIENT", "LIST", "TYPE", "pubsub"])
                .is_ok_and(|list| !list.trim().is_empty())
        })
    };
    assert!(eventually(DEADLINE, || subscribed(&set)).await);

    for sentinel in &set.sentinels {
        sentinel
            .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
            .unwrap();
    }
    assert!(
        eventually(DEADLINE, || subscribed(&set)).await,
        "the monitor did not subscribe again"
    );

    let (writer, acked) = keep_writing(monitor.gated_pool());
    let old_port = set.master_port();
    planned_failover(&set).await;
    assert!(eventually(DEADLINE, || set.master_port() != old_port).await);
    let new_port = set.master_port();
    assert!(wait_for_writes_to(&acked, new_port, DEADLINE).await);
    writer.abort();
}

#[tokio::test]
async fn with_every_sentinel_gone_the_last_known_master_is_still_checked() {
    let mut set = SentinelSet::start();
    let monitor = RedisMonitor::start(sentinel_config(&set)).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    for sentinel in &mut set.sentinels {
        sentinel.kill();
    }

    // Checks go on against the master itself, which answers: still available.
    let before = set.nodes[0].calls("ping");
    assert!(eventually(DEADLINE, || set.nodes[0].calls("ping") >= before + 5).await);
    let redis = monitor.availability();
    assert!(redis.is_available(), "{:?}", redis.snapshot());
    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("still", "here").await.unwrap();
    drop(conn);

    // And it is still watched: a kill is seen, a restart too.
    set.nodes[0].kill();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    set.nodes[0].restart();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        redis.snapshot()
    );
}

#[tokio::test]
async fn a_named_master_that_answers_ping_but_is_no_longer_master_is_not_available() {
    let set = SentinelSet::start_with(1, RedisServer::builder);
    let monitor = RedisMonitor::start(sentinel_config(&set)).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let redis = monitor.availability();

    // Made a replica behind the sentinels' back: they go on naming it (for more than 20 s, until
    // they count a master that says it is a replica as down), and it goes on answering PING.
    let elsewhere = RedisServer::start();
    let port = elsewhere.port().to_string();
    set.nodes[0]
        .command(&["REPLICAOF", "127.0.0.1", &port])
        .unwrap();
    let demoted = || {
        let snapshot = redis.snapshot();
        !snapshot.is_available() && snapshot.last_error().is_some_and(|e| e.contains("ROLE"))
    };
    assert!(
        eventually(DEADLINE, demoted).await,
        "{:?}",
        redis.snapshot()
    );
    assert_eq!(set.master_port(), set.nodes[0].port());
    assert_eq!(set.nodes[0].command(&["PING"]), Ok("PONG".to_owned()));

    set.nodes[0].command(&["REPLICAOF", "NO", "ONE"]).unwrap();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        redis.snapshot()
    );
}

#[tokio::test]
async fn odown_and_its_end_announced_by_the_sentinels_wake_the_monitor() {
    // One sentinel, so each announcement comes once; no replica, so no failover follows.
    let mut set = SentinelSet::start_with(1, RedisServer::builder);
    set.nodes[1].kill();
    let replica_down = || {
        set.sentinels[0]
            .command(&["SENTINEL", "replicas", SENTINEL_MASTER])
            .is_ok_and(|replicas| replicas.contains("s_down"))
    };
    assert!(eventually(DEADLINE, replica_down).await);
    // After a failure too, the next check is an hour away: only an announcement wakes them.
    let mut config = sentinel_config(&set);
    config.monitor.check_interval = NEVER;
    config.monitor.backoff = Backoff::new(NEVER, NEVER);
    let mut deaf = config.clone();
    deaf.sentinel_announcements = false;
    let listening = RedisMonitor::start(config).await.unwrap();
    let deaf = RedisMonitor::start(deaf).await.unwrap();
    assert!(listening.wait_available(DEADLINE).await);
    assert!(deaf.wait_available(DEADLINE).await);
    let redis = listening.availability();

    // Frozen, the master is down for the sentinel after a second: `+odown`.
    set.nodes[0].freeze();
    assert!(
        eventually(DEADLINE, || !redis.is_available()).await,
        "{:?}",
        redis.snapshot()
    );
    assert!(
        deaf.availability().is_available(),
        "the monitor deaf to the announcements saw it too"
    );

    // Thawed, it is up again: `-odown`.
    set.nodes[0].thaw();
    assert!(
        listening.wait_available(DEADLINE).await,
        "{:?}",
        redis.snapshot()
    );
}

/// Median and max of `times`.
fn summary(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "median {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures 4 × REDIS_GATE_FAILOVERS failovers; run by hand"]
async fn failover_follow_times() {
    let runs: usize = std::env::var("REDIS_GATE_FAILOVERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    for announcements in [true, false] {
        let mut set = SentinelSet::start();
        let mut config = sentinel_config(&set);
        // The library's default interval, so that polling alone is measured as users meet it.
        config.monitor.check_interval = Duration::from_secs(1);
        config.sentinel_announcements = announcements;
        let monitor = RedisMonitor::start(config).await.unwrap();
        assert!(monitor.wait_available(DEADLINE).await);
        let (writer, acked) = keep_writing(monitor.gated_pool());
        let (mut planned, mut killed) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            for kill in [false, true] {
                set.wait_for_replicas(1);
                let old_port = set.master_port();
                let switch = next_switch(&set);
                if kill {
                    set.master_and_replica().0.kill();
                } else {
                    planned_failover(&set).await;
                }
                let switched = switched(switch).await;
                let new_port = set.master_port();
                assert_ne!(new_port, old_port);
                assert!(wait_for_writes_to(&acked, new_port, DEADLINE).await);
                // From the announcement to the first write the new master took: zero when the
                // monitor was there before this test's own listener heard of it.
                let followed = acked
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|write| write.port == new_port)
                    .map(|write| write.at.saturating_duration_since(switched))
                    .unwrap_or_default();
                acked.lock().unwrap().clear();
                if kill {
                    killed.push(followed);
                    // Back as a replica of the new master, for the next round.
                    let (_, old) = set.master_and_replica();
                    old.restart();
                } else {
                    planned.push(followed);
                }
            }
        }
        writer.abort();
        println!(
            "announcements {}: SENTINEL FAILOVER → first write on the new master: {}; kill -9: {}",
            if announcements {
                "on"
            } else {
                "off (polling every 1 s)"
            },
            summary(&mut planned),
            summary(&mut killed),
        );
    }
}
