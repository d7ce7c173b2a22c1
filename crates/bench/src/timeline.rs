//! One run told over time: Redis is killed and restarted, then frozen and thawed, while a
//! steady trickle of requests hits a strict route (`RequireRedis`), a soft one (`CheckRedis`)
//! and the hand-written `PING` gate. Records Redis' real state, the handle's transitions and
//! every request's outcome and latency, for the timeline table of the report.

use std::thread;
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use redis_gate::Reading;
use redis_gate_bench::apps;
use redis_gate_testkit::redis::RedisServer;
use strum::IntoEnumIterator;

use crate::Plan;
use crate::rig::Rig;

/// What Redis really was doing; its word in the report is the variant's in lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum RedisState {
    /// Running and answering.
    Up,
    /// Killed (SIGKILL), not yet restarted.
    Killed,
    /// Suspended (SIGSTOP).
    Frozen,
}

/// The routes of the timeline service, in the report's order; each one's word is its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr)]
pub enum Route {
    /// `RequireRedis`.
    #[strum(serialize = "/strict")]
    Strict,
    /// `CheckRedis`, the handler falls back.
    #[strum(serialize = "/soft")]
    Soft,
    /// The hand-written `PING` gate.
    #[strum(serialize = "/naive")]
    Naive,
}

/// What a request got, with its word in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr)]
pub enum Outcome {
    /// `200`, served with Redis.
    #[strum(serialize = "200")]
    Served,
    /// `200`, served without Redis (the soft route's fallback).
    #[strum(serialize = "200 bypass")]
    Bypass,
    /// `503`.
    #[strum(serialize = "503")]
    Rejected,
    /// No answer within the timeout, or a failed connection.
    #[strum(serialize = "no answer")]
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
    /// Every request, in the order they were answered.
    pub samples: Vec<Sample>,
}

/// Runs the timeline scenario of `plan`.
pub fn run(rig: &Rig, plan: &Plan) -> Timeline {
    eprintln!("timeline: {:.1} s", plan.timeline_end.as_secs_f64());
    let mut redis = rig.start_redis();
    let monitor = rig.start_monitor(&redis);
    let availability = monitor.availability();
    let app = rig.serve(apps::timeline(availability.clone(), monitor.pool().clone()));

    let start = Instant::now();
    let secs = move |at: Instant| at.saturating_duration_since(start).as_secs_f64();
    let (first, mut changes) = ((0.0, availability.reading()), availability.subscribe());
    // Ends with the monitor, when the handle's writer goes away.
    let follower = rig.server.spawn(async move {
        let mut log = vec![first];
        while let Some(snapshot) = changes.changed().await {
            log.push((secs(snapshot.changed_at()), snapshot.reading()));
        }
        log
    });
    let base = format!("http://{}", app.addr());
    let generator = rig.client.spawn(generate(base, plan.clone(), start));

    let mut redis_states = vec![(0.0, RedisState::Up)];
    for (at, state) in plan.timeline {
        thread::sleep((start + at).saturating_duration_since(Instant::now()));
        redis_states.push((secs(bring(rig, &mut redis, state)), state));
    }
    let samples = rig.join(generator);
    drop((app, monitor));
    let handle = rig.join(follower);
    Timeline {
        redis: redis_states,
        handle,
        samples,
    }
}

/// Brings `redis` to `state`; returns when: when it first accepted a connection after a restart.
fn bring(rig: &Rig, redis: &mut RedisServer, state: RedisState) -> Instant {
    let now = Instant::now();
    match state {
        RedisState::Up if !redis.is_running() => return rig.restart_timed(redis),
        RedisState::Up => redis.thaw(),
        RedisState::Killed => redis.kill(),
        RedisState::Frozen => redis.freeze(),
    }
    now
}

/// Every period of the plan's timeline until its end, one request to each route, each on its
/// own task so a slow one never delays the next.
async fn generate(base: String, plan: Plan, start: Instant) -> Vec<Sample> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut ticker = tokio::time::interval(plan.timeline_period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = tokio::task::JoinSet::new();
    while start.elapsed() < plan.timeline_end {
        ticker.tick().await;
        for route in Route::iter() {
            let (client, url) = (client.clone(), format!("{base}{}", <&str>::from(route)));
            tasks.spawn(async move {
                let sent = Instant::now();
                let outcome =
                    tokio::time::timeout(plan.timeline_timeout, fetch(&client, url)).await;
                Sample {
                    at: sent.saturating_duration_since(start).as_secs_f64(),
                    route,
                    outcome: outcome.ok().flatten().unwrap_or(Outcome::Failed),
                    latency_ms: sent.elapsed().as_secs_f64() * 1_000.0,
                }
            });
        }
    }
    tasks.join_all().await
}

/// `GET url`, body read to the end: what it got, or `None` when the connection failed.
async fn fetch(client: &Client<HttpConnector, Empty<Bytes>>, url: String) -> Option<Outcome> {
    let req = Request::get(url).body(Empty::new()).ok()?;
    let res = client.request(req).await.ok()?;
    let source = res.headers().get(apps::SOURCE_HEADER);
    let bypass = source.is_some_and(|source| source == "bypass");
    let status = res.status().as_u16();
    res.into_body().collect().await.ok()?;
    Some(match status {
        200 if bypass => Outcome::Bypass,
        200 => Outcome::Served,
        503 => Outcome::Rejected,
        _ => Outcome::Failed,
    })
}
