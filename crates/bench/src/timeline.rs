//! One run told over time: Redis is killed and restarted, then frozen and thawed, while a
//! steady trickle of requests hits a strict route (`RequireRedis`), a soft one (`CheckRedis`)
//! and the hand-written `PING` gate. Records Redis' real state, the handle's transitions and
//! every request's outcome and latency, for the timeline figure.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use redis_gate::Reading;
use redis_gate_bench::apps;

use crate::Plan;
use crate::rig::{Rig, restart_timed};

/// What Redis really was doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisState {
    /// Running and answering.
    Up,
    /// Killed (SIGKILL), not yet restarted.
    Killed,
    /// Suspended (SIGSTOP).
    Frozen,
}

/// The routes of the timeline service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `RequireRedis`.
    Strict,
    /// `CheckRedis`, the handler falls back.
    Soft,
    /// The hand-written `PING` gate.
    Naive,
}

impl Route {
    /// Every route, in plot order.
    pub const EVERY: [Route; 3] = [Route::Strict, Route::Soft, Route::Naive];

    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Route::Strict => "/strict",
            Route::Soft => "/soft",
            Route::Naive => "/naive",
        }
    }

    /// The legend's words.
    pub fn label(self) -> &'static str {
        match self {
            Route::Strict => "RequireRedis",
            Route::Soft => "CheckRedis",
            Route::Naive => "PING per request",
        }
    }
}

/// What a request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `200`, served with Redis.
    Served,
    /// `200`, served without Redis (the soft route's fallback).
    Bypass,
    /// `503`.
    Rejected,
    /// No answer within the timeout, or a failed connection.
    Failed,
}

/// One request.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// When it was sent, in seconds from the start.
    pub at: f64,
    /// Which route.
    pub route: Route,
    /// What it got.
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub latency_ms: f64,
}

/// The whole run.
pub struct Timeline {
    /// Redis' real state from each time on (seconds from the start).
    pub redis: Vec<(f64, RedisState)>,
    /// The handle's reading from each time on.
    pub handle: Vec<(f64, Reading)>,
    /// Every request.
    pub samples: Vec<Sample>,
    /// The run's length in seconds.
    pub end: f64,
}

/// Runs the timeline scenario of `plan`.
pub fn run(rig: &Rig, plan: &Plan) -> Timeline {
    let schedule = &plan.timeline;
    let mut redis = rig.start_redis();
    let monitor = rig.start_monitor(&redis);
    let availability = monitor.availability();
    let app = rig.serve(apps::timeline(availability.clone(), monitor.pool().clone()));

    let start = Instant::now();
    let secs = move |at: Instant| at.saturating_duration_since(start).as_secs_f64();

    let handle_log = Arc::new(Mutex::new(vec![(0.0, availability.reading())]));
    let mut changes = availability.subscribe();
    let log = Arc::clone(&handle_log);
    let follower = rig.spawn_server(async move {
        while let Some(snapshot) = changes.changed().await {
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((secs(snapshot.changed_at()), snapshot.reading()));
        }
    });

    let base = format!("http://{}", app.addr());
    let generator = rig.spawn_client(generate(
        base,
        schedule.period,
        schedule.end,
        plan.timeline_timeout,
        start,
    ));

    let mut states = vec![(0.0, RedisState::Up)];
    let sleep_until = |at: Duration| {
        if let Some(left) = (start + at).checked_duration_since(Instant::now()) {
            thread::sleep(left);
        }
    };
    sleep_until(schedule.kill_at);
    states.push((secs(Instant::now()), RedisState::Killed));
    redis.kill();
    sleep_until(schedule.restart_at);
    let accepting = restart_timed(rig, &mut redis);
    states.push((secs(accepting), RedisState::Up));
    sleep_until(schedule.freeze_at);
    states.push((secs(Instant::now()), RedisState::Frozen));
    redis.freeze();
    sleep_until(schedule.thaw_at);
    states.push((secs(Instant::now()), RedisState::Up));
    redis.thaw();

    let mut samples = rig.join(generator);
    follower.abort();
    drop(app);
    drop(monitor);
    samples.sort_by(|a, b| a.at.total_cmp(&b.at));
    let handle = handle_log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Timeline {
        redis: states,
        handle,
        samples,
        end: schedule.end.as_secs_f64(),
    }
}

/// Every `period` until `end`, one request to each route, each on its own task so a slow one
/// never delays the next.
async fn generate(
    base: String,
    period: Duration,
    end: Duration,
    timeout: Duration,
    start: Instant,
) -> Vec<Sample> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = Vec::new();
    while start.elapsed() < end {
        ticker.tick().await;
        for route in Route::EVERY {
            let client = client.clone();
            let url = format!("{base}{}", route.path());
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let req = Request::get(url)
                    .body(Empty::new())
                    .expect("a valid request");
                let outcome = tokio::time::timeout(timeout, async {
                    let res = client.request(req).await.ok()?;
                    let bypass = res
                        .headers()
                        .get(apps::SOURCE_HEADER)
                        .is_some_and(|source| source == "bypass");
                    let status = res.status().as_u16();
                    res.into_body().collect().await.ok()?;
                    Some(match status {
                        200 if bypass => Outcome::Bypass,
                        200 => Outcome::Served,
                        503 => Outcome::Rejected,
                        _ => Outcome::Failed,
                    })
                })
                .await
                .ok()
                .flatten()
                .unwrap_or(Outcome::Failed);
                Sample {
                    at: sent.saturating_duration_since(start).as_secs_f64(),
                    route,
                    outcome,
                    latency_ms: sent.elapsed().as_secs_f64() * 1_000.0,
                }
            }));
        }
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for task in tasks {
        samples.push(task.await.expect("a request task never panics"));
    }
    samples
}
