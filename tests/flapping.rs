//! Flapping under load: a server with all three layers and a `GatedPool`, driven by concurrent
//! HTTP clients while a seeded schedule breaks Redis and mends it again (kill and restart,
//! freeze and thaw, a blackholing or resetting proxy), for a bounded time.
//!
//! It checks that every request gets exactly one response, that no gated request waits on Redis
//! for longer than one Redis timeout, that the strict gate answers 503 only while the handle says
//! Redis is unavailable, that nothing panics, that Redis never sees more connections than the pool
//! and the monitor may open, and that the heap does not grow.
//!
//! ```text
//! cargo test -p redis-gate --test flapping -- --nocapture                # 20 s
//! REDIS_GATE_FLAP_SECS=300 REDIS_GATE_FLAP_SEED=7 cargo test -p redis-gate --test flapping -- --nocapture
//! ```
//!
//! Its own test binary: the counting allocator sees every thread.

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::Method;
use http_body_util::Full;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis_gate::deadpool_redis::redis::{self, AsyncCommands};
use redis_gate::monitor::Backoff;
use redis_gate::{
    Availability, CheckRedisLayer, GatedPool, ReadinessProbeLayer, Reading, RedisConfig,
    RedisMonitor, RequireRedisLayer,
};
use redis_gate_testkit::http::{HttpClient, TestServer};
use redis_gate_testkit::poll::{self, DEADLINE};
use redis_gate_testkit::proxy::{Fault, FaultProxy};
use redis_gate_testkit::redis::RedisServer;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tower::util::{MapRequestLayer, MapResponseLayer};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const POOL_SIZE: usize = 4;
const CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// The monitor's `PING` timeout, which also bounds every Redis call a handler makes.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// Room for scheduling on a loaded 2-core machine on top of the Redis timeout.
const SLACK: Duration = Duration::from_millis(1500);
/// How far the recorded timeline of the handle may lag behind what a request saw.
const SKEW: Duration = CHECK_INTERVAL;
const CLIENTS: usize = 12;
/// A request without a response within this is a hung request.
const HUNG: Duration = Duration::from_secs(10);
/// The heap may not grow by more than this between the first and the second half of the run.
const HEAP_GROWTH_LIMIT: i64 = 1 << 20;

/// Bytes the test holds for its own records, counted before they are allocated, so that the
/// heap samples leave them out: the run measures the product's heap, not its own bookkeeping.
static BOOKKEEPING: AtomicI64 = AtomicI64::new(0);
static RECEIVED: AtomicU64 = AtomicU64::new(0);
static ANSWERED: AtomicU64 = AtomicU64::new(0);
static PANICS: AtomicU64 = AtomicU64::new(0);

fn run_for() -> Duration {
    let secs = std::env::var("REDIS_GATE_FLAP_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

fn seed() -> u64 {
    std::env::var("REDIS_GATE_FLAP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed)
}

/// Microseconds since the start of the run; all records use it.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(&self) -> u64 {
        self.0.elapsed().as_micros() as u64
    }
}

/// An append-only list in fixed-size chunks, for records of a run of any length: it never moves
/// or reallocates what it holds, and counts each chunk in [`BOOKKEEPING`] before allocating it.
struct Ledger<T> {
    chunks: Vec<Vec<T>>,
}

impl<T> Ledger<T> {
    const CHUNK: usize = 16 * 1024;
    /// Room for this many chunks without reallocating the list of chunks.
    const CHUNKS: usize = 4096;

    fn new() -> Ledger<T> {
        let size = Self::CHUNKS * std::mem::size_of::<Vec<T>>();
        BOOKKEEPING.fetch_add(size as i64, Ordering::SeqCst);
        Ledger {
            chunks: Vec::with_capacity(Self::CHUNKS),
        }
    }

    fn push(&mut self, item: T) {
        if self
            .chunks
            .last()
            .is_none_or(|chunk| chunk.len() == Self::CHUNK)
        {
            let size = Self::CHUNK * std::mem::size_of::<T>();
            BOOKKEEPING.fetch_add(size as i64, Ordering::SeqCst);
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(item);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

// ---- the service under test ----

#[derive(Clone)]
struct App {
    pool: GatedPool,
}

impl App {
    /// Runs `op` on a pooled connection within the Redis timeout; `None` if that fails.
    async fn with_redis<T>(
        &self,
        op: impl AsyncFnOnce(&mut redis_gate::PooledConnection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        let work = async {
            let mut conn = self.pool.get().await.ok()?;
            op(&mut conn).await.ok()
        };
        tokio::time::timeout(REDIS_TIMEOUT, work)
            .await
            .ok()
            .flatten()
    }
}

/// Strict: needs Redis. When Redis fails under it before the monitor noticed, it answers 503
/// itself, marked so the test can tell it from the gate's 503.
async fn store(State(app): State<App>) -> Response {
    match app
        .with_redis(async |conn| conn.incr::<_, _, i64>("flap:count", 1).await)
        .await
    {
        Some(_) => "stored".into_response(),
        None => {
            let mut res = StatusCode::SERVICE_UNAVAILABLE.into_response();
            res.headers_mut()
                .insert("x-answered-by", HeaderValue::from_static("handler"));
            res
        }
    }
}

/// Soft: reads through Redis while it is available, from the "origin" otherwise.
async fn lookup(State(app): State<App>, Extension(redis): Extension<Reading>) -> Response {
    let cached = if redis.is_available() {
        app.with_redis(async |conn| conn.get::<_, Option<i64>>("flap:count").await)
            .await
    } else {
        None
    };
    let source = if cached.is_some() { "cache" } else { "origin" };
    let mut res = source.into_response();
    res.headers_mut()
        .insert("x-source", HeaderValue::from_static(source));
    res
}

fn app(monitor: &RedisMonitor) -> Router {
    let redis = monitor.availability();
    Router::new()
        .route("/strict", post(store))
        .route_layer(RequireRedisLayer::new(redis.clone()))
        .route("/soft", get(lookup))
        .layer(CheckRedisLayer::new(redis.clone()))
        .layer(ReadinessProbeLayer::new().require(redis))
        .layer(MapResponseLayer::new(|res: Response| {
            ANSWERED.fetch_add(1, Ordering::Relaxed);
            res
        }))
        .layer(MapRequestLayer::new(|req: axum::extract::Request| {
            RECEIVED.fetch_add(1, Ordering::Relaxed);
            req
        }))
        .with_state(App {
            pool: monitor.gated_pool(),
        })
}

// ---- what the clients saw ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Route {
    Strict,
    Soft,
    Ready,
    Health,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Stored,
    GateRejected,
    HandlerRejected,
    FromCache,
    FromOrigin,
    Ready,
    NotReady,
    Live,
    /// Anything else: a wrong status, a transport error, no response in time.
    Broken,
}

/// One request, in 16 bytes; every client's records are allocated before the run.
#[derive(Clone, Copy)]
struct Record {
    sent_us: u64,
    latency_us: u32,
    route: Route,
    outcome: Outcome,
}

impl Record {
    fn span(&self) -> (u64, u64) {
        (self.sent_us, self.sent_us + u64::from(self.latency_us))
    }
}

async fn client(
    base: String,
    index: usize,
    clock: Clock,
    until: Instant,
) -> (Ledger<Record>, Vec<String>) {
    let http = HttpClient::new();
    let mut rng = StdRng::seed_from_u64(seed() ^ (index as u64 + 1));
    let mut records = Ledger::new();
    let mut broken = Vec::new();
    while Instant::now() < until {
        let route = match rng.random_range(0..10) {
            0..4 => Route::Strict,
            4..8 => Route::Soft,
            8 => Route::Ready,
            _ => Route::Health,
        };
        let (method, path) = match route {
            Route::Strict => (Method::POST, "/strict"),
            Route::Soft => (Method::GET, "/soft"),
            Route::Ready => (Method::GET, "/ready"),
            Route::Health => (Method::GET, "/health"),
        };
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .body(Full::default())
            .unwrap();
        let sent_us = clock.now();
        let started = Instant::now();
        let reply = tokio::time::timeout(HUNG, http.try_request(req)).await;
        let latency_us = started.elapsed().as_micros() as u32;
        let outcome = match reply {
            Ok(Ok(reply)) => {
                let status = reply.status;
                let outcome = match (route, status.as_u16()) {
                    (Route::Strict, 200) => Outcome::Stored,
                    (Route::Strict, 503) if reply.header("x-answered-by") == Some("handler") => {
                        Outcome::HandlerRejected
                    }
                    (Route::Strict, 503) if reply.body.contains("\"errorCode\"") => {
                        Outcome::GateRejected
                    }
                    (Route::Soft, 200) if reply.header("x-source") == Some("cache") => {
                        Outcome::FromCache
                    }
                    (Route::Soft, 200) => Outcome::FromOrigin,
                    (Route::Ready, 200) => Outcome::Ready,
                    (Route::Ready, 503) => Outcome::NotReady,
                    (Route::Health, 200) => Outcome::Live,
                    _ => Outcome::Broken,
                };
                if outcome == Outcome::Broken {
                    broken.push(format!("{route:?}: {status} {}", reply.body));
                }
                outcome
            }
            Ok(Err(err)) => {
                broken.push(format!("{route:?}: {err}"));
                Outcome::Broken
            }
            Err(_) => {
                broken.push(format!("{route:?}: no response within {HUNG:?}"));
                Outcome::Broken
            }
        };
        records.push(Record {
            sent_us,
            latency_us,
            route,
            outcome,
        });
    }
    (records, broken)
}

// ---- the handle's timeline ----

/// `(at_us, available)` for the initial state and every transition, in order.
struct Timeline(Vec<(u64, bool)>);

impl Timeline {
    /// Whether the handle said `available` at some moment in `[from, to]`: a binary search, so
    /// that a run of millions of requests checks each one quickly.
    fn was(&self, available: bool, from: u64, to: u64) -> bool {
        let first_after = self.0.partition_point(|(at, _)| *at <= from);
        let before = first_after
            .checked_sub(1)
            .is_some_and(|i| self.0[i].1 == available);
        before
            || self.0[first_after..]
                .iter()
                .take_while(|(at, _)| *at <= to)
                .any(|(_, state)| *state == available)
    }
}

async fn record_timeline(redis: Availability, clock: Clock, until: Instant) -> Ledger<(u64, bool)> {
    let mut changes = redis.subscribe();
    let mut timeline = Ledger::new();
    timeline.push((clock.now(), redis.is_available()));
    while let Ok(Some(reading)) = tokio::time::timeout_at(until.into(), changes.changed()).await {
        timeline.push((clock.now(), reading.is_available()));
    }
    timeline
}

// ---- the chaos schedule ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chaos {
    KillRestart,
    FreezeThaw,
    ProxyBlackhole,
    ProxyReset,
}

/// One fault: when it was injected, and when the handle said available again after it cleared.
#[derive(Debug)]
struct FaultWindow {
    chaos: Chaos,
    injected_us: u64,
    detected_after: Duration,
    recovered_us: u64,
    recovered_after: Duration,
}

fn wait_until(redis: &Availability, available: bool) -> Option<Duration> {
    let started = Instant::now();
    poll::blocking(DEADLINE, || redis.is_available() == available).then(|| started.elapsed())
}

fn chaos_schedule(
    mut server: RedisServer,
    proxy: Arc<FaultProxy>,
    redis: Availability,
    clock: Clock,
    until: Instant,
) -> (Vec<FaultWindow>, RedisServer) {
    let mut rng = StdRng::seed_from_u64(seed());
    let mut windows = Vec::new();
    // Leave the last two seconds calm, so the run ends on a healthy Redis.
    while Instant::now() + Duration::from_secs(2) < until {
        let healthy = Duration::from_millis(rng.random_range(300..1200));
        thread::sleep(healthy);
        let chaos = match rng.random_range(0..4) {
            0 => Chaos::KillRestart,
            1 => Chaos::FreezeThaw,
            2 => Chaos::ProxyBlackhole,
            _ => Chaos::ProxyReset,
        };
        let injected_us = clock.now();
        match chaos {
            Chaos::KillRestart => server.kill(),
            Chaos::FreezeThaw => server.freeze(),
            Chaos::ProxyBlackhole => proxy.set_fault_blocking(Fault::Blackhole),
            Chaos::ProxyReset => proxy.set_fault_blocking(Fault::Reset),
        }
        let detected_after = wait_until(&redis, false)
            .unwrap_or_else(|| panic!("{chaos:?} not detected within {DEADLINE:?}"));
        // The outage goes on for a while after the monitor noticed.
        thread::sleep(Duration::from_millis(rng.random_range(100..800)));
        match chaos {
            Chaos::KillRestart => server.restart(),
            Chaos::FreezeThaw => server.thaw(),
            Chaos::ProxyBlackhole | Chaos::ProxyReset => proxy.set_fault_blocking(Fault::Pass),
        }
        let recovered_after = wait_until(&redis, true)
            .unwrap_or_else(|| panic!("no recovery from {chaos:?} within {DEADLINE:?}"));
        windows.push(FaultWindow {
            chaos,
            injected_us,
            detected_after,
            recovered_us: clock.now(),
            recovered_after,
        });
    }
    (windows, server)
}

// ---- observers: Redis's clients, the heap ----

/// The most clients Redis reported at once, less the observer's own connection. Polls
/// `INFO clients` on a direct connection (not through the proxy).
async fn watch_redis_clients(url: String, until: Instant) -> (u64, u64) {
    let client = redis::Client::open(url).unwrap();
    let settings = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(200)))
        .set_response_timeout(Some(Duration::from_millis(200)));
    let mut conn = None;
    let (mut most, mut samples) = (0, 0);
    while Instant::now() < until {
        if conn.is_none() {
            conn = client
                .get_multiplexed_async_connection_with_config(&settings)
                .await
                .ok();
        }
        if let Some(c) = conn.as_mut() {
            match redis::cmd("INFO")
                .arg("clients")
                .query_async::<String>(c)
                .await
            {
                Ok(info) => {
                    let connected: u64 = info
                        .lines()
                        .find_map(|l| l.strip_prefix("connected_clients:"))
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0);
                    most = most.max(connected.saturating_sub(1));
                    samples += 1;
                }
                Err(_) => conn = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (most, samples)
}

/// Bytes allocated and not yet freed, by every thread, less the test's own records.
fn live_heap() -> i64 {
    let stats = GLOBAL.stats();
    // `realloc` is already counted in both (as the difference in size).
    stats.bytes_allocated as i64
        - stats.bytes_deallocated as i64
        - BOOKKEEPING.load(Ordering::SeqCst)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn sample_heap(clock: Clock, until: Instant) -> Vec<(u64, i64)> {
    let mut samples = Vec::with_capacity(100_000);
    while Instant::now() < until && samples.len() < samples.capacity() {
        samples.push((clock.now(), live_heap()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    samples
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_redis_under_load_loses_nothing_hangs_nothing_leaks_nothing() {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous_hook(info);
    }));

    let server = RedisServer::start();
    let direct_url = server.url();
    let proxy = Arc::new(FaultProxy::start(server.addr()).await);
    let mut config = RedisConfig::from_url(&proxy.redis_url()).unwrap();
    config.pool_size = POOL_SIZE;
    config.timeouts.pool_wait = REDIS_TIMEOUT;
    config.timeouts.response = REDIS_TIMEOUT;
    config.timeouts.connect = Duration::from_millis(500);
    config.monitor.check_interval = CHECK_INTERVAL;
    config.monitor.backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(500));
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let redis = monitor.availability();
    let server_http = TestServer::spawn(app(&monitor)).await;
    let base = format!("http://{}", server_http.addr());

    let clock = Clock(Instant::now());
    let run_for = run_for();
    let until = Instant::now() + run_for;
    let heap_at_start = live_heap();
    let rss_at_start = rss_kib();

    let timeline = tokio::spawn(record_timeline(redis.clone(), clock, until));
    let heap = tokio::spawn(sample_heap(clock, until));
    let clients_seen = tokio::spawn(watch_redis_clients(direct_url, until));
    let chaos = {
        let (proxy, redis) = (Arc::clone(&proxy), redis.clone());
        thread::spawn(move || chaos_schedule(server, proxy, redis, clock, until))
    };
    let loads: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(base.clone(), i, clock, until)))
        .collect();

    let mut ledgers = Vec::new();
    let mut broken = Vec::new();
    for load in loads {
        let (records, mut b) = load.await.unwrap();
        ledgers.push(records);
        broken.append(&mut b);
    }
    let (windows, server) = tokio::task::spawn_blocking(move || chaos.join())
        .await
        .unwrap()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    // Only once the heap is no longer sampled does the test gather its records in one place.
    let heap = heap.await.unwrap();
    let timeline = Timeline(timeline.await.unwrap().iter().copied().collect());
    let records: Vec<Record> = ledgers.iter().flat_map(Ledger::iter).copied().collect();
    drop(ledgers);
    let (most_clients, client_samples) = clients_seen.await.unwrap();
    let panics = PANICS.load(Ordering::SeqCst);

    // ---- counts ----
    let count = |outcome: Outcome| records.iter().filter(|r| r.outcome == outcome).count();
    let sent = records.len() as u64;
    let received = RECEIVED.load(Ordering::SeqCst);
    let answered = ANSWERED.load(Ordering::SeqCst);
    let transitions = timeline.0.len() - 1;
    let kinds = |chaos: Chaos| windows.iter().filter(|w| w.chaos == chaos).count();
    let worst_detect = windows
        .iter()
        .map(|w| w.detected_after)
        .max()
        .unwrap_or_default();
    let worst_recover = windows
        .iter()
        .map(|w| w.recovered_after)
        .max()
        .unwrap_or_default();

    let gated = |r: &&Record| matches!(r.route, Route::Strict | Route::Soft);
    let mut gated_latency: Vec<u32> = records.iter().filter(gated).map(|r| r.latency_us).collect();
    gated_latency.sort_unstable();
    // Gated requests that began and ended while the handle said unavailable: no Redis at all.
    let skew = SKEW.as_micros() as u64;
    let mut while_down: Vec<u32> = records
        .iter()
        .filter(gated)
        .filter(|r| {
            let (from, to) = r.span();
            !timeline.was(true, from.saturating_sub(skew), to + skew)
        })
        .map(|r| r.latency_us)
        .collect();
    while_down.sort_unstable();
    let heap_mib = |bytes: i64| bytes as f64 / (1 << 20) as f64;
    let after_warmup: Vec<i64> = heap
        .iter()
        .filter(|(at, _)| *at > run_for.as_micros() as u64 / 5)
        .map(|(_, bytes)| *bytes)
        .collect();
    let (first_half, second_half) = after_warmup.split_at(after_warmup.len() / 2);
    let heap_trend: Vec<String> = after_warmup
        .chunks(after_warmup.len().div_ceil(8).max(1))
        .map(|chunk| format!("{:.1}", heap_mib(*chunk.iter().max().unwrap_or(&0))))
        .collect();
    let heap_growth = second_half.iter().max().copied().unwrap_or(0)
        - first_half.iter().max().copied().unwrap_or(0);

    println!(
        "flapping: seed {seed}, {secs} s, {CLIENTS} clients, pool max {POOL_SIZE}\n\
         faults: {faults} ({kill} kill/restart, {freeze} freeze/thaw, {blackhole} proxy blackhole, \
         {reset} proxy reset); worst detection {worst_detect:?}, worst recovery {worst_recover:?}; \
         {transitions} handle transitions\n\
         requests: {sent} sent, {received} received by the server, {answered} answered, {broken} broken\n\
         strict: {stored} stored, {gate} gate 503, {handler} handler 503\n\
         soft: {cache} from cache, {origin} from origin; ready: {ready} 200, {not_ready} 503; health: {live} 200\n\
         gated latency ms: p50 {p50:.1}, p99 {p99:.1}, max {max:.1}; while unavailable ({down} requests): \
         p50 {dp50:.1}, p99 {dp99:.1}, max {dmax:.1}\n\
         redis clients: at most {most_clients} besides the observer ({client_samples} samples)\n\
         heap: {h0:.1} MiB at start, then (MiB, max per eighth after warm-up) {trend}; growth \
         between halves {growth:+.2} MiB; RSS {r0} -> {r1} KiB\n\
         panics: {panics}",
        seed = seed(),
        secs = run_for.as_secs(),
        faults = windows.len(),
        kill = kinds(Chaos::KillRestart),
        freeze = kinds(Chaos::FreezeThaw),
        blackhole = kinds(Chaos::ProxyBlackhole),
        reset = kinds(Chaos::ProxyReset),
        broken = broken.len(),
        stored = count(Outcome::Stored),
        gate = count(Outcome::GateRejected),
        handler = count(Outcome::HandlerRejected),
        cache = count(Outcome::FromCache),
        origin = count(Outcome::FromOrigin),
        ready = count(Outcome::Ready),
        not_ready = count(Outcome::NotReady),
        live = count(Outcome::Live),
        p50 = percentile(&gated_latency, 0.5),
        p99 = percentile(&gated_latency, 0.99),
        max = percentile(&gated_latency, 1.0),
        down = while_down.len(),
        dp50 = percentile(&while_down, 0.5),
        dp99 = percentile(&while_down, 0.99),
        dmax = percentile(&while_down, 1.0),
        h0 = heap_mib(heap_at_start),
        growth = heap_mib(heap_growth),
        trend = heap_trend.join(" "),
        r0 = rss_at_start,
        r1 = rss_kib(),
    );

    // ---- assertions ----
    assert_eq!(panics, 0, "something panicked");
    assert!(
        broken.is_empty(),
        "requests without a proper response: {broken:?}"
    );
    assert_eq!(received, sent, "every request reached the server once");
    assert_eq!(answered, sent, "every request got exactly one response");
    assert!(
        windows.len() >= 3,
        "the schedule flapped Redis: {windows:?}"
    );
    assert!(
        count(Outcome::Stored) > 0 && count(Outcome::GateRejected) > 0,
        "the run saw Redis both up and down"
    );
    assert_eq!(
        count(Outcome::Live),
        records.iter().filter(|r| r.route == Route::Health).count()
    );

    let bound = (REDIS_TIMEOUT + SLACK).as_micros() as u32;
    let slow: Vec<_> = records
        .iter()
        .filter(gated)
        .filter(|r| r.latency_us > bound)
        .map(|r| (r.route, r.outcome, r.latency_us / 1000))
        .collect();
    assert!(slow.is_empty(), "gated requests waited on Redis: {slow:?}");

    for record in records.iter().filter(|r| r.route == Route::Strict) {
        let (from, to) = record.span();
        let (from, to) = (from.saturating_sub(skew), to + skew);
        match record.outcome {
            Outcome::GateRejected => assert!(
                timeline.was(false, from, to),
                "the gate answered 503 at {from} us..{to} us while the handle said available"
            ),
            Outcome::Stored | Outcome::HandlerRejected => assert!(
                timeline.was(true, from, to),
                "the handler ran at {from} us..{to} us while the handle said unavailable"
            ),
            _ => {}
        }
        if record.outcome == Outcome::HandlerRejected {
            assert!(
                windows
                    .iter()
                    .any(|w| w.injected_us <= to && from <= w.recovered_us),
                "the handler found Redis failing at {from} us..{to} us, outside every fault"
            );
        }
    }

    // The pool's connections, the monitor's own, and its check of a fresh connection when the
    // pool fails to connect.
    let allowed = POOL_SIZE as u64 + 2;
    assert!(
        most_clients <= allowed,
        "Redis saw {most_clients} clients, more than the pool ({POOL_SIZE}) and the monitor may open"
    );
    assert!(client_samples > 0);
    assert!(
        heap_growth <= HEAP_GROWTH_LIMIT,
        "the heap grew by {:.1} MiB",
        heap_mib(heap_growth)
    );

    monitor.shutdown().await;
    drop(server);
}
