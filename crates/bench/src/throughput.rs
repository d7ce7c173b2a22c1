//! Throughput and latency of the four variants with Redis up, of the rejection path with Redis
//! down, and of the hand-written `PING` gate with Redis frozen. Variants take turns (A B A B …)
//! within one process, so drift of the machine hits them alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use redis_gate_bench::apps;

use crate::Plan;
use crate::load::{self, Run, Spec};
use crate::rig::{Rig, restart_timed};
use crate::stats::Spread;

/// One service under load; its key in metric names is the variant's in snake case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
    #[strum(serialize = "static503")]
    Static503,
}

impl Variant {
    /// The short name used in metric names.
    pub fn key(self) -> &'static str {
        self.into()
    }

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

/// The runs of several variants, taken in turns: `runs[v][r]` is variant `v` in round `r`.
#[derive(Clone, Debug)]
pub struct Alternation {
    /// The variants, in the order they took turns.
    pub variants: Vec<Variant>,
    /// Every run, by variant then round.
    pub runs: Vec<Vec<Run>>,
}

impl Alternation {
    fn index(&self, variant: Variant) -> usize {
        self.variants
            .iter()
            .position(|v| *v == variant)
            .unwrap_or_else(|| panic!("{variant:?} did not run here"))
    }

    /// The runs of `variant`, by round.
    pub fn of(&self, variant: Variant) -> &[Run] {
        &self.runs[self.index(variant)]
    }

    /// Requests per second of `variant`, one value per round.
    pub fn rps(&self, variant: Variant) -> Vec<f64> {
        self.of(variant).iter().map(Run::rps).collect()
    }

    /// Latency quantile `q` of `variant` in microseconds, one value per round.
    pub fn latency_us(&self, variant: Variant, q: f64) -> Vec<f64> {
        self.of(variant)
            .iter()
            .map(|run| run.latency_us(q))
            .collect()
    }

    /// Latency quantile `q` of `variant` over every round pooled, in microseconds.
    pub fn pooled_latency_us(&self, variant: Variant, q: f64) -> f64 {
        let mut all: Vec<u64> = self
            .of(variant)
            .iter()
            .flat_map(|run| run.latencies.iter().copied())
            .collect();
        all.sort_unstable();
        crate::stats::quantile_sorted(&all, q) as f64 / 1_000.0
    }

    /// Server CPU microseconds per request of `variant`, one value per round.
    pub fn server_cpu_us(&self, variant: Variant) -> Vec<f64> {
        self.of(variant).iter().map(Run::server_cpu_us).collect()
    }

    /// `cpu(b) / cpu(a)` per request, round by round: how many more requests `a` serves than
    /// `b` on the same server CPU time (the orientation of [`paired_rps_ratio`]).
    ///
    /// [`paired_rps_ratio`]: Alternation::paired_rps_ratio
    pub fn paired_cpu_ratio(&self, a: Variant, b: Variant) -> Spread {
        let ratios: Vec<f64> = self
            .server_cpu_us(a)
            .iter()
            .zip(self.server_cpu_us(b))
            .map(|(a, b)| b / a)
            .collect();
        Spread::of(&ratios)
    }

    /// `rps(a) / rps(b)` round by round: each pair ran back to back.
    pub fn paired_rps_ratio(&self, a: Variant, b: Variant) -> Spread {
        let ratios: Vec<f64> = self
            .rps(a)
            .iter()
            .zip(self.rps(b))
            .map(|(a, b)| a / b)
            .collect();
        Spread::of(&ratios)
    }

    /// Every answer of `variant` across rounds, described.
    pub fn answers(&self, variant: Variant) -> String {
        let mut total = Run::default();
        for run in self.of(variant) {
            for (status, n) in &run.statuses {
                *total.statuses.entry(*status).or_default() += n;
            }
            total.failed += run.failed;
            total.timed_out += run.timed_out;
        }
        total.describe_answers()
    }
}

/// Everything this section measured.
pub struct Throughput {
    /// Redis up: bare, gated, naive PING, AtomicBool.
    pub up: Alternation,
    /// Redis down: the gate's 503 and a static 503 handler.
    pub down: Alternation,
    /// Redis frozen: the naive PING gate and the gate.
    pub frozen: Alternation,
}

/// Takes `rounds` turns of `variants` (A B C A B C …), each a load run built by `spec` for the
/// variant's address.
pub fn alternate(
    rig: &Rig,
    variants: &[(Variant, SocketAddr)],
    rounds: usize,
    spec: impl Fn(SocketAddr) -> Spec,
) -> Alternation {
    let mut runs = vec![Vec::with_capacity(rounds); variants.len()];
    for _ in 0..rounds {
        for (i, (_, addr)) in variants.iter().enumerate() {
            runs[i].push(measured(rig, spec(*addr)));
        }
    }
    Alternation {
        variants: variants.iter().map(|(variant, _)| *variant).collect(),
        runs,
    }
}

/// One load run, with the CPU time both worker threads used during it.
pub fn measured(rig: &Rig, spec: Spec) -> Run {
    let (server, client) = (rig.server_cpu(), rig.client_cpu());
    let started = std::time::Instant::now();
    let mut run = rig.on_client(load::run(spec));
    run.wall = started.elapsed();
    run.server_cpu = rig.server_cpu().saturating_sub(server);
    run.client_cpu = rig.client_cpu().saturating_sub(client);
    run
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

    // Redis up: every variant answers 200. Each gate runs next to what it is compared with
    // most closely (bare, AtomicBool), so those pairs run back to back.
    eprintln!("throughput: Redis up, {} rounds", plan.rounds);
    let up = alternate(
        rig,
        &[v_naive, v_per_route, v_bare, v_gated, v_atomic],
        plan.rounds,
        spec(plan.warmup, plan.measure, Duration::from_secs(5)),
    );

    // Redis down (killed, and the monitor has noticed): the gate rejects.
    eprintln!("throughput: Redis down, {} rounds", plan.down_rounds);
    redis.kill();
    rig.wait_for(&availability, false)
        .expect("the monitor notices the kill");
    let down = alternate(
        rig,
        &[v_gated, v_static],
        plan.down_rounds,
        spec(plan.warmup, plan.measure, Duration::from_secs(5)),
    );

    // Redis frozen (SIGSTOP): the PING gate waits on it, the layers do not.
    eprintln!("throughput: Redis frozen, {} rounds", plan.frozen_rounds);
    restart_timed(rig, &mut redis);
    rig.wait_for(&availability, true)
        .expect("the monitor reconnects after a restart");
    // Fill the PING gate's pool, as traffic would have before the freeze.
    rig.on_client(load::run(spec(
        Duration::ZERO,
        plan.warmup,
        Duration::from_secs(5),
    )(v_naive.1)));
    redis.freeze();
    let frozen = alternate(
        rig,
        &[v_naive, v_gated],
        plan.frozen_rounds,
        spec(Duration::ZERO, plan.frozen_measure, plan.frozen_timeout),
    );
    redis.thaw();
    drop(monitor);
    Throughput { up, down, frozen }
}
