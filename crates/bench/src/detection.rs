//! Detection and recovery trials against real redis-server processes and monitors with the
//! default settings: kill → unavailable, restart → available, SIGSTOP → unavailable (with
//! `/ready` answered throughout), SIGCONT → available.
//!
//! Each trial starts at a chosen phase of the monitor's check cycle (stratified over the
//! interval, so the worst phases are sampled as often as the best), and kill trials keep Redis
//! down for a stratified time, so recoveries meet the backoff early and at its cap. Two sets of
//! each kind (the first and the second half of the trials) run side by side on their own
//! servers to keep the run short (they mostly sleep); the freeze sets run first and alone, so no
//! redis-server start of a kill trial competes with the `/ready` measurements for the server's
//! core.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use redis_gate::Availability;
use redis_gate_bench::apps;

use crate::Plan;
use crate::load::{self, Conn};
use crate::rig::Rig;

/// The monitor's default check interval, which the trial phases are spread over.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// One trial: a fault at a chosen phase of the monitor's check cycle, how soon the handle said
/// unavailable, and how soon it said available once Redis was back.
#[derive(Clone, Debug)]
pub struct Trial<T> {
    /// Time from the last successful check to the fault, modulo the check interval.
    pub phase: Duration,
    /// The fault (SIGKILL, SIGSTOP) → the handle says unavailable.
    pub detect: Duration,
    /// Redis back (accepting connections after a restart, SIGCONT) → the handle says available.
    pub recover: Duration,
    /// What only this kind of trial records: a kill's downtime, a freeze's `/ready` answers.
    pub more: T,
}

/// `GET /ready` while Redis was frozen, in one freeze trial.
#[derive(Clone, Debug, Default)]
pub struct Ready {
    /// Latencies, in nanoseconds.
    pub latencies: Vec<u64>,
    /// Answers that were `200` (before detection).
    pub up: u64,
    /// Answers that were `503` (after detection).
    pub down: u64,
}

/// All trials, each kind in trial order.
pub struct Detection {
    /// Kill → restart trials, with how long Redis stayed down after the monitor noticed.
    pub kills: Vec<Trial<Duration>>,
    /// SIGSTOP → SIGCONT trials.
    pub freezes: Vec<Trial<Ready>>,
}

impl Detection {
    /// Every `/ready` latency of every freeze trial, sorted, in nanoseconds.
    pub fn ready_latencies(&self) -> Vec<u64> {
        let latencies = self.freezes.iter().map(|t| &t.more.latencies);
        let mut all: Vec<u64> = latencies.flatten().copied().collect();
        all.sort_unstable();
        all
    }
}

/// Runs `plan.trials` freeze trials, then as many kill trials.
pub fn run(rig: &Rig, plan: &Plan) -> Detection {
    eprintln!("detection: {} kill and as many freeze trials", plan.trials);
    let freezes = in_halves(rig, plan, freeze_set);
    let kills = in_halves(rig, plan, kill_set);
    Detection { kills, freezes }
}

/// Trials `range` of a plan, run one after the other on a redis-server and a monitor of their own.
type Set<T> = fn(&Rig, &Plan, Range<usize>) -> Vec<T>;

/// Runs the first and the second half of the trials side by side; returns them in order.
fn in_halves<T: Send>(rig: &Rig, plan: &Plan, set: Set<T>) -> Vec<T> {
    let half = plan.trials / 2;
    let (mut first, second) = thread::scope(|scope| {
        let second = scope.spawn(|| set(rig, plan, half..plan.trials));
        (
            set(rig, plan, 0..half),
            second.join().expect("trial sets never panic"),
        )
    });
    first.extend(second);
    first
}

/// Waits until the monitor says Redis is available, then until trial `j` of `n`'s phase of the
/// check cycle, `(j + ½) / n` of the way into it; returns the phase.
fn start_trial(rig: &Rig, redis: &Availability, j: usize, n: usize) -> Duration {
    let up = rig.wait_for(redis, true).expect("available");
    let phase = CHECK_INTERVAL.mul_f64((j as f64 + 0.5) / n as f64);
    let earliest = Instant::now() + Duration::from_millis(5);
    let mut at = up.changed_at() + phase;
    while at < earliest {
        at += CHECK_INTERVAL;
    }
    thread::sleep(at - Instant::now());
    phase
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

fn kill_set(rig: &Rig, plan: &Plan, trials: Range<usize>) -> Vec<Trial<Duration>> {
    let mut redis = rig.start_redis();
    let monitor = rig.start_monitor(&redis);
    let availability = monitor.availability();
    let trial = |j| {
        let phase = start_trial(rig, &availability, j, plan.trials);
        let downtime = downtime(j, plan.trials, plan.max_downtime);
        let killed = Instant::now();
        redis.kill();
        let detect = rig.time_to(&availability, false, killed);
        thread::sleep(downtime);
        let accepting = rig.restart_timed(&mut redis);
        let recover = rig.time_to(&availability, true, accepting);
        Trial {
            phase,
            detect,
            recover,
            more: downtime,
        }
    };
    trials.map(trial).collect()
}

fn freeze_set(rig: &Rig, plan: &Plan, trials: Range<usize>) -> Vec<Trial<Ready>> {
    let mut redis = rig.start_redis();
    let monitor = rig.start_monitor(&redis);
    let availability = monitor.availability();
    let http = rig.serve(apps::gated(availability.clone()));
    let trial = |j| {
        let phase = start_trial(rig, &availability, j, plan.trials);
        let stop = Arc::new(AtomicBool::new(false));
        let probe = rig.client.spawn(ready_loop(http.addr(), Arc::clone(&stop)));
        let frozen = Instant::now();
        redis.freeze();
        let detect = rig.time_to(&availability, false, frozen);
        thread::sleep(plan.frozen_extra);
        stop.store(true, Ordering::Relaxed);
        let more = rig.join(probe);
        let thawed = Instant::now();
        redis.thaw();
        let recover = rig.time_to(&availability, true, thawed);
        Trial {
            phase,
            detect,
            recover,
            more,
        }
    };
    trials.map(trial).collect()
}

/// Pause between two `/ready` requests: a load balancer's probe rate, times a few hundred.
const READY_PAUSE: Duration = Duration::from_millis(2);

/// `GET /ready` on one keep-alive connection until `stop`.
async fn ready_loop(addr: SocketAddr, stop: Arc<AtomicBool>) -> Ready {
    let mut ready = Ready::default();
    let mut conn = Conn::open(addr).await.expect("the probe server accepts");
    while !stop.load(Ordering::Relaxed) {
        let began = tokio::time::Instant::now();
        match conn.get("/ready").await {
            Ok(200) => ready.up += 1,
            Ok(503) => ready.down += 1,
            Ok(status) => panic!("/ready answered {status}"),
            Err(err) => panic!("/ready failed: {err}"),
        }
        ready.latencies.push(load::nanos(began.elapsed()));
        tokio::time::sleep(READY_PAUSE).await;
    }
    ready
}
