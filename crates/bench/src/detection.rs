//! Detection and recovery trials against real redis-server processes and monitors with the
//! default settings: kill → unavailable, restart → available, SIGSTOP → unavailable (with
//! `/ready` answered throughout), SIGCONT → available.
//!
//! Each trial starts at a chosen phase of the monitor's check cycle (stratified over the
//! interval, so the worst phases are sampled as often as the best), and kill trials keep Redis
//! down for a stratified time, so recoveries meet the backoff early and at its cap. Two sets of
//! each kind run side by side on their own servers to keep the run short (they mostly sleep);
//! the freeze sets run first and alone, so no redis-server start of a kill trial competes with
//! the `/ready` measurements for the server's core.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use redis_gate_bench::apps;

use crate::Plan;
use crate::load::{self, Conn};
use crate::rig::{Rig, restart_timed};

/// The monitor's default check interval, which the trial phases are spread over.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Sets of each kind that run side by side.
const SETS: usize = 2;

/// One kill → restart trial.
#[derive(Clone, Copy, Debug)]
pub struct KillTrial {
    /// Time from the last successful check to the kill, modulo the check interval.
    pub phase: Duration,
    /// How long Redis stayed down after the monitor noticed.
    pub downtime: Duration,
    /// Kill → the handle says unavailable.
    pub detect: Duration,
    /// Redis accepts connections again → the handle says available.
    pub recover: Duration,
}

/// One SIGSTOP → SIGCONT trial.
#[derive(Clone, Debug)]
pub struct FreezeTrial {
    /// Time from the last successful check to the freeze, modulo the check interval.
    pub phase: Duration,
    /// SIGSTOP → the handle says unavailable.
    pub detect: Duration,
    /// SIGCONT → the handle says available.
    pub thaw_recover: Duration,
    /// Latencies of `GET /ready` while Redis was frozen, in nanoseconds.
    pub ready: Vec<u64>,
    /// `/ready` answers that were `200` (before detection) and `503` (after).
    pub ready_up: u64,
    /// See `ready_up`.
    pub ready_down: u64,
}

/// All trials.
pub struct Detection {
    /// Kill trials, in trial order.
    pub kills: Vec<KillTrial>,
    /// Freeze trials, in trial order.
    pub freezes: Vec<FreezeTrial>,
}

impl Detection {
    /// Every `/ready` latency of every freeze trial, sorted, in nanoseconds.
    pub fn ready_latencies(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .freezes
            .iter()
            .flat_map(|trial| trial.ready.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }
}

/// Runs `plan.trials` kill trials and as many freeze trials.
pub fn run(rig: &Rig, plan: &Plan) -> Detection {
    let mut freezes: Vec<(usize, FreezeTrial)> = thread::scope(|scope| {
        let sets: Vec<_> = (0..SETS)
            .map(|set| scope.spawn(move || freeze_set(rig, plan, set)))
            .collect();
        sets.into_iter().flat_map(join).collect()
    });
    let mut kills: Vec<(usize, KillTrial)> = thread::scope(|scope| {
        let sets: Vec<_> = (0..SETS)
            .map(|set| scope.spawn(move || kill_set(rig, plan, set)))
            .collect();
        sets.into_iter().flat_map(join).collect()
    });
    kills.sort_by_key(|(j, _)| *j);
    freezes.sort_by_key(|(j, _)| *j);
    Detection {
        kills: kills.into_iter().map(|(_, trial)| trial).collect(),
        freezes: freezes.into_iter().map(|(_, trial)| trial).collect(),
    }
}

fn join<T>(set: thread::ScopedJoinHandle<'_, T>) -> T {
    set.join().expect("a trial set never panics")
}

/// Trial `j` of `n` starts `(j + ½) / n` of the way into a check interval.
fn phase(j: usize, n: usize) -> Duration {
    CHECK_INTERVAL.mul_f64((j as f64 + 0.5) / n as f64)
}

/// Trial `j` of `n` keeps Redis down for a stratified share of `max`, in an order that does not
/// follow the phases.
fn downtime(j: usize, n: usize, max: Duration) -> Duration {
    let step = (7..).find(|k| gcd(*k, n) == 1).expect("a coprime step");
    max.mul_f64(((j * step) % n) as f64 / n.max(2).saturating_sub(1) as f64)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Sleeps until `phase` after a check, counting checks from `checked` (a successful check).
fn sleep_until_phase(checked: Instant, phase: Duration) {
    let earliest = Instant::now() + Duration::from_millis(5);
    let mut at = checked + phase;
    while at < earliest {
        at += CHECK_INTERVAL;
    }
    thread::sleep(at - Instant::now());
}

fn kill_set(rig: &Rig, plan: &Plan, set: usize) -> Vec<(usize, KillTrial)> {
    let mut redis = rig.start_redis();
    let monitor = rig.start_monitor(&redis);
    let availability = monitor.availability();
    let mut trials = Vec::new();
    for j in (set..plan.trials).step_by(SETS) {
        let up = rig.wait_for(&availability, true).expect("available");
        let phase = phase(j, plan.trials);
        let downtime = downtime(j, plan.trials, plan.max_downtime);
        sleep_until_phase(up.changed_at(), phase);

        let killed = Instant::now();
        redis.kill();
        let down = rig
            .wait_for(&availability, false)
            .expect("the monitor notices a kill");
        let detect = down.changed_at().saturating_duration_since(killed);

        thread::sleep(downtime);
        let accepting = restart_timed(rig, &mut redis);
        let up = rig
            .wait_for(&availability, true)
            .expect("the monitor reconnects after a restart");
        let recover = up.changed_at().saturating_duration_since(accepting);
        trials.push((
            j,
            KillTrial {
                phase,
                downtime,
                detect,
                recover,
            },
        ));
    }
    trials
}

fn freeze_set(rig: &Rig, plan: &Plan, set: usize) -> Vec<(usize, FreezeTrial)> {
    let mut redis = rig.start_redis();
    let monitor = rig.start_monitor(&redis);
    let availability = monitor.availability();
    let http = rig.serve(apps::gated(availability.clone()));
    let mut trials = Vec::new();
    for j in (set..plan.trials).step_by(SETS) {
        let up = rig.wait_for(&availability, true).expect("available");
        let phase = phase(j, plan.trials);
        sleep_until_phase(up.changed_at(), phase);

        let stop = Arc::new(AtomicBool::new(false));
        let probe = rig.spawn_client(ready_loop(http.addr(), Arc::clone(&stop)));
        let frozen = Instant::now();
        redis.freeze();
        let down = rig
            .wait_for(&availability, false)
            .expect("the monitor notices a frozen Redis");
        let detect = down.changed_at().saturating_duration_since(frozen);
        thread::sleep(plan.frozen_extra);
        stop.store(true, Ordering::Relaxed);
        let (ready, ready_up, ready_down) = rig.join(probe);

        let thawed = Instant::now();
        redis.thaw();
        let up = rig
            .wait_for(&availability, true)
            .expect("the monitor recovers after a thaw");
        let thaw_recover = up.changed_at().saturating_duration_since(thawed);
        trials.push((
            j,
            FreezeTrial {
                phase,
                detect,
                thaw_recover,
                ready,
                ready_up,
                ready_down,
            },
        ));
    }
    drop(http);
    trials
}

/// Pause between two `/ready` requests: a load balancer's probe rate, times a few hundred.
const READY_PAUSE: Duration = Duration::from_millis(2);

/// `GET /ready` on one keep-alive connection until `stop`; latencies in nanoseconds and the
/// count of 200 and 503 answers.
async fn ready_loop(addr: SocketAddr, stop: Arc<AtomicBool>) -> (Vec<u64>, u64, u64) {
    let mut latencies = Vec::new();
    let (mut up, mut down) = (0, 0);
    let mut conn = Conn::open(addr).await.expect("the probe server accepts");
    while !stop.load(Ordering::Relaxed) {
        let began = tokio::time::Instant::now();
        match conn.get("/ready").await {
            Ok(200) => up += 1,
            Ok(503) => down += 1,
            Ok(status) => panic!("/ready answered {status}"),
            Err(err) => panic!("/ready failed: {err}"),
        }
        latencies.push(load::nanos(began.elapsed()));
        tokio::time::sleep(READY_PAUSE).await;
    }
    (latencies, up, down)
}
