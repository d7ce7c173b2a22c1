//! Throughput and latency of the four variants with Redis up, of the rejection path with Redis
//! down, and of the hand-written `PING` gate with Redis frozen. Variants take turns (A B A B …)
//! within one process, so drift of the machine hits them alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use redis_gate_bench::apps;

use crate::Plan;
use crate::load::{self, Run, Spec};
use crate::rig::Rig;
use crate::stats::Spread;

/// One service under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 1: the handler alone.
    Bare,
    /// 2: the three layers around the router.
    Gated,
    /// 2b: the README's per-route layout.
    PerRoute,
    /// 3: the hand-written gate that `PING`s per request.
    Naive,
    /// 4: an `AtomicBool` `from_fn` gate.
    Atomic,
    /// A handler answering a static `503`.
    Static503,
}

impl Variant {
    /// What the report calls it.
    pub fn label(self) -> &'static str {
        match self {
            Variant::Bare => "1 bare axum",
            Variant::Gated => "2 three layers around the router",
            Variant::PerRoute => "2b three layers, RequireRedis as a route layer",
            Variant::Naive => "3 PING per request",
            Variant::Atomic => "4 AtomicBool from_fn",
            Variant::Static503 => "static 503 handler",
        }
    }
}

/// How two runs of the same round compare: `a` over `b`, oriented so that more is better for `a`.
pub type Pairing = fn(&Run, &Run) -> f64;

/// Requests per second of `a` over `b`.
pub const RPS: Pairing = |a, b| a.rps() / b.rps();

/// Server CPU per request of `b` over `a`: how many more requests `a` serves than `b` on the
/// same server CPU time.
pub const CPU: Pairing = |a, b| b.server_cpu_us() / a.server_cpu_us();

/// The runs of several variants, taken in turns: each variant's runs, by round.
#[derive(Clone, Debug)]
pub struct Alternation(Vec<(Variant, Vec<Run>)>);

impl Alternation {
    /// The runs of `variant`, by round.
    pub fn of(&self, variant: Variant) -> &[Run] {
        let runs = self.0.iter().find(|(v, _)| *v == variant);
        &runs.expect("only variants that ran are asked for").1
    }

    /// The spread over rounds of `f` of `variant`'s runs.
    pub fn spread(&self, variant: Variant, f: impl Fn(&Run) -> f64) -> Spread {
        Spread::of(&self.of(variant).iter().map(f).collect::<Vec<_>>())
    }

    /// `pairing` of the runs of `a` and `b` round by round (each pair ran back to back).
    pub fn paired(&self, a: Variant, b: Variant, pairing: Pairing) -> Spread {
        let rounds = self.of(a).iter().zip(self.of(b));
        Spread::of(&rounds.map(|(a, b)| pairing(a, b)).collect::<Vec<_>>())
    }

    /// Every round of `variant` pooled into one run.
    pub fn pooled(&self, variant: Variant) -> Run {
        let mut total = Run::default();
        self.of(variant).iter().for_each(|run| total.add(run));
        total.latencies.sort_unstable();
        total
    }
}

/// Everything this section measured.
pub struct Throughput {
    /// Redis up: bare, gated, per route, naive PING, AtomicBool.
    pub up: Alternation,
    /// Redis down: the gate's 503 and a static 503 handler.
    pub down: Alternation,
    /// Redis frozen: the naive PING gate and the gate.
    pub frozen: Alternation,
}

/// Takes `rounds` turns of `variants` (A B C A B C …), each a load run built by `spec` for the
/// variant's address.
fn alternate(
    rig: &Rig,
    variants: &[(Variant, SocketAddr)],
    rounds: usize,
    spec: impl Fn(SocketAddr) -> Spec,
) -> Alternation {
    let mut runs: Vec<_> = variants.iter().map(|(v, _)| (*v, Vec::new())).collect();
    for _ in 0..rounds {
        for ((_, addr), (_, runs)) in variants.iter().zip(&mut runs) {
            // One load run, with the CPU time both worker threads used during it.
            let spec = spec(*addr);
            let ([server, client], started) = (rig.worker_cpu(), Instant::now());
            let mut run = rig.on_client(load::run(spec));
            run.wall = started.elapsed();
            let [server_after, client_after] = rig.worker_cpu();
            run.server_cpu = server_after.saturating_sub(server);
            run.client_cpu = client_after.saturating_sub(client);
            runs.push(run);
        }
    }
    Alternation(runs)
}

/// Runs the up, down and frozen measurements against one redis-server and one monitor.
pub fn run(rig: &Rig, plan: &Plan) -> Throughput {
    let mut redis = rig.start_redis();
    let monitor = rig.start_monitor(&redis);
    let availability = monitor.availability();
    let flag = Arc::new(AtomicBool::new(true));

    let bare = rig.serve(apps::bare());
    let gated = rig.serve(apps::gated(availability.clone()));
    let per_route = rig.serve(apps::gated_per_route(availability.clone()));
    let naive = rig.serve(apps::naive_ping(monitor.pool().clone()));
    let atomic = rig.serve(apps::atomic_bool(flag));
    let static_503 = rig.serve(apps::static_503());

    let v_bare = (Variant::Bare, bare.addr());
    let v_gated = (Variant::Gated, gated.addr());
    let v_per_route = (Variant::PerRoute, per_route.addr());
    let v_naive = (Variant::Naive, naive.addr());
    let v_atomic = (Variant::Atomic, atomic.addr());
    let v_static = (Variant::Static503, static_503.addr());

    let spec = |warmup: Duration, measure: Duration, timeout: Duration| {
        move |addr| Spec {
            addr,
            path: apps::PATH,
            connections: plan.connections,
            warmup,
            measure,
            timeout,
        }
    };
    let timed = spec(plan.warmup, plan.measure, Duration::from_secs(5));

    // Redis up: every variant answers 200. Each gate runs next to what it is compared with
    // most closely (bare, AtomicBool), so those pairs run back to back.
    eprintln!("throughput: Redis up, {} rounds", plan.rounds);
    let variants = [v_naive, v_per_route, v_bare, v_gated, v_atomic];
    let up = alternate(rig, &variants, plan.rounds, timed);

    // Redis down (killed, and the monitor has noticed): the gate rejects.
    eprintln!("throughput: Redis down, {} rounds", plan.rounds);
    redis.kill();
    (rig.wait_for(&availability, false)).expect("the monitor notices the kill");
    let down = alternate(rig, &[v_gated, v_static], plan.rounds, timed);

    // Redis frozen (SIGSTOP): the PING gate waits on it, the layers do not.
    eprintln!("throughput: Redis frozen, {} rounds", plan.frozen_rounds);
    rig.restart_timed(&mut redis);
    (rig.wait_for(&availability, true)).expect("the monitor reconnects after a restart");
    // Fill the PING gate's pool, as traffic would have before the freeze.
    let fill = spec(Duration::ZERO, plan.warmup, Duration::from_secs(5));
    rig.on_client(load::run(fill(v_naive.1)));
    redis.freeze();
    let frozen_spec = spec(Duration::ZERO, plan.frozen_measure, plan.frozen_timeout);
    let frozen = alternate(rig, &[v_naive, v_gated], plan.frozen_rounds, frozen_spec);
    redis.thaw();
    drop(monitor);
    Throughput { up, down, frozen }
}
