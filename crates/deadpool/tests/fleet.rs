//! A fleet, simulated: 200 monitors in one process lose their Redis together. Each must keep
//! retrying with its delays capped, and the jitter of their backoff must schedule their retries
//! apart, not in lockstep: that is what spreads the reconnection attempts and the
//! reconnections when Redis returns.
//!
//! During the outage a plain TCP listener stands on Redis' port, accepting and closing every
//! connection, so each attempt is counted (a stopped redis-server cannot count them). The
//! monitors run with their default backoff: 100 ms doubling to 2 s, each delay cut by up to half.
//! The attempts per second and the reconnection times are printed for BENCHMARKS.md ("A fleet
//! reconnecting to one Redis"); how they come out on a given machine is a measurement, not
//! something this test asserts.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use redis_gate_core::Backoff;
use redis_gate_deadpool::{RedisConfig, RedisMonitor};
use redis_gate_testkit::poll::{DEADLINE, eventually};
use redis_gate_testkit::redis::RedisServer;

const FLEET: usize = 200;
const OUTAGE: Duration = Duration::from_secs(8);
/// By then every monitor's delay has grown to the cap (0.1 + 0.2 + 0.4 + 0.8 + 1.6 s).
const STEADY_AFTER: Duration = Duration::from_millis(3500);
/// Failed attempts after which the next delay is the cap: 100 ms × 2⁵ is past 2 s.
const AT_THE_CAP: u32 = 6;

/// Accepts and drops connections on `port`, recording when each came, until stopped.
fn counting_listener(port: u16, stop: Arc<AtomicBool>) -> thread::JoinHandle<Vec<Instant>> {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("take over Redis' port");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    thread::spawn(move || {
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    seen.push(Instant::now());
                    drop(stream);
                }
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
        seen
    })
}

fn per_second(attempts: &[Instant], from: Instant, to: Instant) -> Vec<usize> {
    let seconds = (to - from).as_secs() as usize;
    let mut buckets = vec![0; seconds];
    for at in attempts.iter().filter(|at| **at >= from && **at < to) {
        let index = (*at - from).as_secs() as usize;
        if index < seconds {
            buckets[index] += 1;
        }
    }
    buckets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jittered_backoff_spreads_a_fleet_reconnecting_to_one_redis() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let mut fleet = Vec::with_capacity(FLEET);
    for _ in 0..FLEET {
        let config = RedisConfig::from_url(&redis.url()).unwrap();
        fleet.push(RedisMonitor::start(config).await.unwrap());
    }
    for monitor in &fleet {
        assert!(monitor.wait_available(DEADLINE).await);
    }

    redis.kill();
    let outage = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let listener = counting_listener(port, Arc::clone(&stop));
    // The outage lasts the measured window, and until every monitor retries at the cap.
    let handles: Vec<_> = fleet.iter().map(RedisMonitor::availability).collect();
    let at_the_cap = eventually(OUTAGE + DEADLINE, || {
        outage.elapsed() >= OUTAGE
            && handles
                .iter()
                .all(|redis| redis.snapshot().attempts() >= AT_THE_CAP)
    })
    .await;
    // What each monitor scheduled last: its delay, from the failed check to the next attempt.
    let delays: Vec<Duration> = handles
        .iter()
        .map(|redis| {
            let snapshot = redis.snapshot();
            let next = snapshot.next_retry_at().expect("a retry is scheduled");
            next.saturating_duration_since(snapshot.last_check_at().expect("a check ran"))
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    let attempts = listener.join().expect("the listener thread");
    let outage_end = Instant::now();
    assert!(
        at_the_cap,
        "not every monitor kept retrying until its delay reached the cap"
    );

    // Redis is back; note when each monitor sees it.
    redis.restart();
    let back = Instant::now();
    let recovered = Arc::new(Mutex::new(Vec::with_capacity(FLEET)));
    let mut waits = Vec::new();
    for redis in &handles {
        let redis = redis.clone();
        let recovered = Arc::clone(&recovered);
        let mut changes = redis.subscribe();
        waits.push(tokio::spawn(async move {
            while !redis.is_available() {
                if changes.changed().await.is_none() {
                    return;
                }
            }
            recovered.lock().unwrap().push(back.elapsed());
        }));
    }
    for wait in waits {
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("every monitor reconnects")
            .unwrap();
    }

    let all = per_second(&attempts, outage, outage_end);
    let steady = per_second(&attempts, outage + STEADY_AFTER, outage_end);
    let mean = steady.iter().sum::<usize>() as f64 / steady.len() as f64;
    let peak = *steady.iter().max().unwrap() as f64;
    let mut lags = recovered.lock().unwrap().clone();
    lags.sort();
    let ms = |d: Duration| d.as_millis();
    println!(
        "fleet_monitors={FLEET} outage_s={} attempts_total={} attempts_per_s={all:?}",
        OUTAGE.as_secs(),
        attempts.len()
    );
    println!(
        "fleet_steady_attempts_per_s_mean={mean:.1} fleet_steady_attempts_per_s_peak={peak} \
         fleet_steady_peak_to_mean={:.2}",
        peak / mean
    );
    println!(
        "fleet_reconnect_ms_min={} fleet_reconnect_ms_median={} fleet_reconnect_ms_p90={} \
         fleet_reconnect_ms_max={}",
        ms(lags[0]),
        ms(lags[lags.len() / 2]),
        ms(lags[lags.len() * 9 / 10]),
        ms(lags[lags.len() - 1])
    );

    assert_eq!(lags.len(), FLEET);
    // At the cap, each delay is the cap less a random cut of up to half: never above it, and
    // spread over the cut's range across the fleet rather than one value for all.
    let cap = Backoff::default().max();
    let (shortest, longest) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
    assert!(
        *longest <= cap,
        "a delay of {longest:?} over the {cap:?} cap"
    );
    assert!(
        *longest - *shortest >= cap / 4,
        "the fleet's delays lie within {:?} of each other: {delays:?}",
        *longest - *shortest
    );
}
