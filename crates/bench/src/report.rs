//! The printed report, the metric lines and the bars of the throughput figure.

use std::fmt::Write as _;
use std::time::Duration;

use redis_gate_bench::stacks::Stack;

use crate::Plan;
use crate::callgrind::Counts;
use crate::detection::Detection;
use crate::pin::Pinning;
use crate::plot::Bar;
use crate::stats::{self, Spread};
use crate::throughput::{Alternation, Throughput, Variant};

/// Everything measured in one run.
pub struct Report<'a> {
    /// The counts and durations used.
    pub plan: &'a Plan,
    /// Where things ran.
    pub pinning: &'a Pinning,
    /// Load runs.
    pub throughput: &'a Throughput,
    /// Detection and recovery trials.
    pub detection: &'a Detection,
    /// Callgrind counts, or why there are none.
    pub instructions: &'a Result<Counts, String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// What else the machine was doing meanwhile.
    pub background: Background,
}

/// CPU counters of the whole machine and of this process, to tell how busy the machine was with
/// other work during the run.
pub struct MachineLoad {
    /// Busy time of all CPUs (everything but idle and iowait), from `/proc/stat`.
    busy: Option<Duration>,
    /// This process's CPU time.
    own: Duration,
}

/// Other processes' use of the machine during the run.
#[derive(Clone, Copy, Debug)]
pub struct Background {
    /// Cores kept busy by other processes (redis-server included), on average.
    pub other_cores: f64,
    /// The 1-minute load average at the end.
    pub load_average: f64,
}

impl MachineLoad {
    /// The counters now.
    pub fn now() -> MachineLoad {
        let busy = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
            let line = stat.lines().next()?.strip_prefix("cpu ")?.to_owned();
            let ticks: Vec<u64> = line
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            let total: u64 = ticks.iter().take(8).sum();
            let idle = ticks.get(3)? + ticks.get(4)?;
            // USER_HZ is 100 on every Linux this runs on.
            Some(Duration::from_millis((total - idle) * 10))
        });
        let own = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).map_or(
            Duration::ZERO,
            |usage| {
                let of = |t: nix::sys::time::TimeVal| {
                    Duration::from_micros(
                        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000
                            + u64::try_from(t.tv_usec()).unwrap_or(0),
                    )
                };
                of(usage.user_time()) + of(usage.system_time())
            },
        );
        MachineLoad { busy, own }
    }

    /// Other processes' average use of the machine since `before`, over `elapsed`.
    pub fn since(&self, before: &MachineLoad, elapsed: Duration) -> Background {
        let other_cores = match (self.busy, before.busy) {
            (Some(now), Some(then)) => {
                let all = now.saturating_sub(then);
                let own = self.own.saturating_sub(before.own);
                all.saturating_sub(own).as_secs_f64() / elapsed.as_secs_f64()
            }
            _ => f64::NAN,
        };
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(f64::NAN);
        Background {
            other_cores,
            load_average,
        }
    }
}

/// How a metric compares with its target.
#[derive(Clone, Copy)]
enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

/// The required metrics and their targets, in the order.
const TARGETS: [(&str, Goal); 13] = [
    ("require_instr_overhead", Goal::AtMost(40.0)),
    ("probe_pass_instr_overhead", Goal::AtMost(80.0)),
    ("check_instr_overhead", Goal::AtMost(300.0)),
    ("gate_rps_ratio", Goal::AtLeast(0.97)),
    ("naive_ping_rps_ratio", Goal::AtLeast(2.0)),
    ("atomic_bool_rps_ratio", Goal::AtLeast(0.97)),
    ("frozen_p99_ratio", Goal::AtLeast(100.0)),
    ("reject_rps_ratio", Goal::AtLeast(0.95)),
    ("detect_kill_ms_max", Goal::AtMost(1000.0)),
    ("detect_stop_ms_max", Goal::AtMost(2200.0)),
    ("recover_ms_median", Goal::AtMost(1000.0)),
    ("recover_ms_max", Goal::AtMost(2000.0)),
    ("ready_p99_us_frozen", Goal::AtMost(1000.0)),
];

/// Paired ratios with Redis up: `(metric prefix, label, a, b)` for `a ÷ b`.
const UP_RATIOS: [(&str, &str, Variant, Variant); 4] = [
    ("gate", "2 ÷ 1", Variant::Gated, Variant::Bare),
    ("naive_ping", "2 ÷ 3", Variant::Gated, Variant::Naive),
    ("atomic_bool", "2 ÷ 4", Variant::Gated, Variant::Atomic),
    ("gate_per_route", "2b ÷ 1", Variant::PerRoute, Variant::Bare),
];

/// The variants of the Redis-up table, in its order.
const UP: [Variant; 5] = [
    Variant::Bare,
    Variant::Gated,
    Variant::PerRoute,
    Variant::Naive,
    Variant::Atomic,
];

/// Extra instruction metrics: `(name, stack, over its reference rather than the bare router)`.
const INSTRUCTION_METRICS: [(&str, Stack, bool); 15] = [
    ("all_layers_instr_overhead", Stack::All, false),
    (
        "require_route_layer_instr_over_identity",
        Stack::RequireRouteLayer,
        true,
    ),
    (
        "probe_router_layer_instr_over_identity",
        Stack::ProbeRouterLayer,
        true,
    ),
    (
        "check_router_layer_instr_over_identity",
        Stack::CheckRouterLayer,
        true,
    ),
    (
        "atomic_from_fn_instr_over_identity",
        Stack::AtomicFromFn,
        true,
    ),
    (
        "require_route_layer_instr_overhead",
        Stack::RequireRouteLayer,
        false,
    ),
    (
        "require_handler_layer_instr_overhead",
        Stack::RequireHandler,
        false,
    ),
    (
        "require_route_service_instr_overhead",
        Stack::RequireRouteService,
        false,
    ),
    (
        "probe_router_layer_instr_overhead",
        Stack::ProbeRouterLayer,
        false,
    ),
    (
        "check_router_layer_instr_overhead",
        Stack::CheckRouterLayer,
        false,
    ),
    ("all_per_route_instr_overhead", Stack::AllPerRoute, false),
    (
        "all_router_layers_instr_overhead",
        Stack::AllRouterLayers,
        false,
    ),
    (
        "axum_route_layer_instr_overhead",
        Stack::IdentityRoute,
        false,
    ),
    ("axum_layer_instr_overhead", Stack::IdentityLayer, false),
    ("atomic_from_fn_instr_overhead", Stack::AtomicFromFn, false),
];

/// The layers as plain Tower services, each next to its anchor: `(layer, anchor, slack)`, the
/// target being the anchor's cost plus the slack; `None` for a comparison without a target.
const ANCHORED: [(Stack, Stack, Option<f64>); 5] = [
    (Stack::TowerRequire, Stack::AnchorValidate, Some(10.0)),
    (Stack::TowerRequire, Stack::AnchorValidateHandle, None),
    (Stack::TowerCheck, Stack::AnchorExtension, Some(10.0)),
    (Stack::TowerProbe, Stack::AnchorMapRequest, Some(40.0)),
    (Stack::TowerReject, Stack::AnchorReject, Some(0.0)),
];

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// A number for a metric line: `n/a` when it could not be measured.
fn value(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "n/a".to_owned()
    }
}

impl Report<'_> {
    /// `f` of the callgrind counts, or NaN without them.
    fn instr(&self, f: impl FnOnce(&Counts) -> Option<f64>) -> f64 {
        self.instructions
            .as_ref()
            .ok()
            .and_then(f)
            .unwrap_or(f64::NAN)
    }

    fn kills(&self, f: impl Fn(&crate::detection::KillTrial) -> Duration) -> Spread {
        let values: Vec<f64> = self.detection.kills.iter().map(|t| ms(f(t))).collect();
        Spread::of(&values)
    }

    fn freezes(&self, f: impl Fn(&crate::detection::FreezeTrial) -> Duration) -> Spread {
        let values: Vec<f64> = self.detection.freezes.iter().map(|t| ms(f(t))).collect();
        Spread::of(&values)
    }

    fn ready_us(&self, q: f64) -> f64 {
        let all = self.detection.ready_latencies();
        if all.is_empty() {
            return f64::NAN;
        }
        stats::quantile_sorted(&all, q) as f64 / 1_000.0
    }

    fn frozen_p99_ratio(&self) -> f64 {
        let frozen = &self.throughput.frozen;
        frozen.pooled_latency_us(Variant::Naive, 0.99)
            / frozen.pooled_latency_us(Variant::Gated, 0.99)
    }

    /// Every metric as `(name, value)`: the required ones first (the order of [`TARGETS`]),
    /// then the extras.
    pub fn metrics(&self) -> Vec<(String, String)> {
        let (up, down, frozen) = (
            &self.throughput.up,
            &self.throughput.down,
            &self.throughput.frozen,
        );
        let mut out = Vec::new();
        let mut put = |name: &str, v: f64, decimals: usize| {
            out.push((name.to_owned(), value(v, decimals)));
        };
        let overhead = |stack| self.instr(|c| c.overhead(stack));
        put("require_instr_overhead", overhead(Stack::Require), 1);
        put("probe_pass_instr_overhead", overhead(Stack::Probe), 1);
        put("check_instr_overhead", overhead(Stack::Check), 1);
        for (name, _, a, b) in &UP_RATIOS[..3] {
            let ratio = up.paired_rps_ratio(*a, *b).median;
            put(&format!("{name}_rps_ratio"), ratio, 3);
        }
        put("frozen_p99_ratio", self.frozen_p99_ratio(), 1);
        let reject = down.paired_rps_ratio(Variant::Gated, Variant::Static503);
        put("reject_rps_ratio", reject.median, 3);
        put("detect_kill_ms_max", self.kills(|t| t.detect).max, 1);
        put("detect_stop_ms_max", self.freezes(|t| t.detect).max, 1);
        put("recover_ms_median", self.kills(|t| t.recover).median, 1);
        put("recover_ms_max", self.kills(|t| t.recover).max, 1);
        put("ready_p99_us_frozen", self.ready_us(0.99), 1);

        for variant in UP {
            let key = variant.key();
            let median = |values: Vec<f64>| Spread::of(&values).median;
            put(&format!("{key}_rps"), median(up.rps(variant)), 0);
            put(
                &format!("{key}_p50_us"),
                median(up.latency_us(variant, 0.5)),
                1,
            );
            put(
                &format!("{key}_p99_us"),
                median(up.latency_us(variant, 0.99)),
                1,
            );
            put(
                &format!("{key}_server_cpu_us"),
                median(up.server_cpu_us(variant)),
                2,
            );
        }
        let (name, _, a, b) = UP_RATIOS[3];
        put(
            &format!("{name}_rps_ratio"),
            up.paired_rps_ratio(a, b).median,
            3,
        );
        for (name, _, a, b) in [&UP_RATIOS[3], &UP_RATIOS[0], &UP_RATIOS[1], &UP_RATIOS[2]] {
            let ratio = up.paired_cpu_ratio(*a, *b).median;
            put(&format!("{name}_cpu_ratio"), ratio, 3);
        }
        let reject_cpu = down.paired_cpu_ratio(Variant::Gated, Variant::Static503);
        put("reject_cpu_ratio", reject_cpu.median, 3);
        for (name, _, a, b) in [&UP_RATIOS[0], &UP_RATIOS[2]] {
            put(
                &format!("{name}_rps_ratio_min"),
                up.paired_rps_ratio(*a, *b).min,
                3,
            );
        }
        let down_rps = |variant| Spread::of(&down.rps(variant)).median;
        put("reject_rps", down_rps(Variant::Gated), 0);
        put("static_503_rps", down_rps(Variant::Static503), 0);
        let frozen_p99 = |variant| frozen.pooled_latency_us(variant, 0.99);
        put(
            "frozen_naive_p99_ms",
            frozen_p99(Variant::Naive) / 1_000.0,
            1,
        );
        put("frozen_gated_p99_us", frozen_p99(Variant::Gated), 1);
        put("detect_kill_ms_median", self.kills(|t| t.detect).median, 1);
        put(
            "detect_stop_ms_median",
            self.freezes(|t| t.detect).median,
            1,
        );
        let thaw = self.freezes(|t| t.thaw_recover);
        put("recover_thaw_ms_median", thaw.median, 1);
        put("recover_thaw_ms_max", thaw.max, 1);
        put("ready_p50_us_frozen", self.ready_us(0.5), 1);
        for (name, stack, own) in INSTRUCTION_METRICS {
            let v = if own {
                self.instr(|c| c.own_cost(stack))
            } else {
                overhead(stack)
            };
            put(name, v, 1);
        }
        for stack in &Stack::TOWER[1..] {
            let over = self.instr(|c| c.overhead_over_tower(*stack));
            put(&format!("{}_instr_over_tower_bare", stack.name()), over, 1);
        }
        put(
            "bare_instr_per_request",
            self.instr(|c| c.of(Stack::Bare)),
            1,
        );
        put("background_cores_busy", self.background.other_cores, 2);
        put("run_seconds", self.elapsed.as_secs_f64(), 1);
        out
    }

    /// One line about the machine and the run, for the figures.
    pub fn subtitle(&self) -> String {
        format!(
            "{} · {} cores · {} build · {} connections · {} · other processes: {:.2} cores busy{}",
            cpu_model(),
            cores(),
            profile(),
            self.plan.connections,
            self.pinning.note,
            self.background.other_cores,
            if self.plan.quick { " · QUICK RUN" } else { "" }
        )
    }

    /// The bars of the throughput figure.
    pub fn bars(&self) -> Vec<Bar> {
        let bar = |alternation: &Alternation, variant: Variant, label: &str, down: bool| {
            let p99 = Spread::of(&alternation.latency_us(variant, 0.99)).median;
            Bar {
                label: label.to_owned(),
                rps: Spread::of(&alternation.rps(variant)),
                note: format!("· p99 {p99:.0} µs"),
                down,
            }
        };
        let (up, down) = (&self.throughput.up, &self.throughput.down);
        vec![
            bar(up, Variant::Bare, "1 bare axum", false),
            bar(up, Variant::Gated, "2 three layers", false),
            bar(up, Variant::PerRoute, "2b RequireRedis per route", false),
            bar(up, Variant::Naive, "3 PING per request", false),
            bar(up, Variant::Atomic, "4 AtomicBool", false),
            bar(down, Variant::Gated, "2, Redis down (503)", true),
            bar(down, Variant::Static503, "static 503 handler", true),
        ]
    }

    /// The whole report, as Markdown: one section per part of the run.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_run(&mut out);
        self.render_up(&mut out);
        self.render_down(&mut out);
        self.render_frozen(&mut out);
        self.render_detection(&mut out);
        self.render_instructions(&mut out);
        self.render_targets(&mut out);
        out
    }

    fn render_run(&self, out: &mut String) {
        let plan = self.plan;
        let quick = if plan.quick {
            " (quick run: tiny counts, not for numbers)"
        } else {
            ""
        };
        let _ = writeln!(out, "# redis-gate end-to-end benchmark{quick}\n");
        let _ = writeln!(
            out,
            "- machine: {}, {} cores, Linux {}",
            cpu_model(),
            cores(),
            kernel()
        );
        let _ = writeln!(
            out,
            "- build: {}; redis-server {}",
            profile(),
            redis_version()
        );
        let _ = writeln!(out, "- pinning: {}", self.pinning.note);
        let _ = writeln!(
            out,
            "- load: {} keep-alive connections, closed loop, hyper client; {} rounds of {:.2} s (+{:.2} s warm-up) per variant, variants in turns",
            plan.connections,
            plan.rounds,
            plan.measure.as_secs_f64(),
            plan.warmup.as_secs_f64()
        );
        let _ = writeln!(out, "- run time: {:.1} s", self.elapsed.as_secs_f64());
        let _ = writeln!(
            out,
            "- background: other processes (redis-server included) kept {:.2} of {} cores busy on average; load average {:.2} at the end\n",
            self.background.other_cores,
            cores(),
            self.background.load_average
        );
    }

    fn render_up(&self, out: &mut String) {
        let up = &self.throughput.up;
        let _ = writeln!(out, "## Redis up\n");
        table_header(out);
        for variant in UP {
            table_row(out, up, variant);
        }
        let _ = writeln!(
            out,
            "\nPaired ratios (per round, back-to-back runs), median (min–max):\n"
        );
        for (name, label, a, b) in UP_RATIOS {
            let _ = writeln!(
                out,
                "- {name}_rps_ratio ({label}): {}; on server CPU per request: {}",
                spread(up.paired_rps_ratio(a, b)),
                spread(up.paired_cpu_ratio(a, b))
            );
        }
    }

    fn render_down(&self, out: &mut String) {
        let down = &self.throughput.down;
        let _ = writeln!(
            out,
            "\n## Redis down (killed; the handle says disconnected)\n"
        );
        table_header(out);
        table_row(out, down, Variant::Gated);
        table_row(out, down, Variant::Static503);
        let (a, b) = (Variant::Gated, Variant::Static503);
        let _ = writeln!(
            out,
            "\n- reject_rps_ratio (2 down ÷ static 503): {}; on server CPU per request: {}",
            spread(down.paired_rps_ratio(a, b)),
            spread(down.paired_cpu_ratio(a, b))
        );
    }

    fn render_frozen(&self, out: &mut String) {
        let (plan, frozen) = (self.plan, &self.throughput.frozen);
        let _ = writeln!(
            out,
            "\n## Redis frozen (SIGSTOP), {} round(s) of {:.1} s each, client timeout {:.1} s\n",
            plan.frozen_rounds,
            plan.frozen_measure.as_secs_f64(),
            plan.frozen_timeout.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "| variant | answered/s | p50 | p99 (all rounds) | answers |\n|---|---:|---:|---:|---|"
        );
        for variant in [Variant::Naive, Variant::Gated] {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} | {} | {} |",
                variant.label(),
                Spread::of(&frozen.rps(variant)).median,
                micros(frozen.pooled_latency_us(variant, 0.5)),
                micros(frozen.pooled_latency_us(variant, 0.99)),
                frozen.answers(variant)
            );
        }
        let _ = writeln!(
            out,
            "\n- frozen_p99_ratio (p99 of 3 ÷ p99 of 2): {:.1}",
            self.frozen_p99_ratio()
        );
    }

    fn render_detection(&self, out: &mut String) {
        let detection = self.detection;
        let _ = writeln!(
            out,
            "\n## Detection and recovery ({} kill trials, {} freeze trials; monitor defaults: check every 1 s, PING timeout 500 ms, fall 2, rise 1, backoff 100 ms → 2 s)\n",
            detection.kills.len(),
            detection.freezes.len()
        );
        let _ = writeln!(
            out,
            "| measure | min | median | max |\n|---|---:|---:|---:|"
        );
        for (label, spread) in [
            ("kill → unavailable (ms)", self.kills(|t| t.detect)),
            ("SIGSTOP → unavailable (ms)", self.freezes(|t| t.detect)),
            (
                "accepting again after a kill → available (ms)",
                self.kills(|t| t.recover),
            ),
            ("SIGCONT → available (ms)", self.freezes(|t| t.thaw_recover)),
        ] {
            let _ = writeln!(
                out,
                "| {label} | {:.1} | {:.1} | {:.1} |",
                spread.min, spread.median, spread.max
            );
        }
        let (ready_up, ready_down) = detection
            .freezes
            .iter()
            .fold((0, 0), |(u, d), t| (u + t.ready_up, d + t.ready_down));
        let _ = writeln!(
            out,
            "\n`/ready` while Redis was frozen: {} requests ({ready_up} × 200 before detection, {ready_down} × 503 after), p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            detection.ready_latencies().len(),
            self.ready_us(0.5),
            self.ready_us(0.99),
            self.ready_us(1.0)
        );
        let _ = writeln!(
            out,
            "\nKill trials (phase after a check, downtime, detect, recover), ms:\n"
        );
        let _ = writeln!(
            out,
            "| # | phase | downtime | detect | recover |\n|---:|---:|---:|---:|---:|"
        );
        for (i, t) in detection.kills.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.1} | {:.1} |",
                i + 1,
                ms(t.phase),
                ms(t.downtime),
                ms(t.detect),
                ms(t.recover)
            );
        }
        let _ = writeln!(
            out,
            "\nFreeze trials (phase after a check, detect, thaw → available), ms:\n"
        );
        let _ = writeln!(
            out,
            "| # | phase | detect | recover |\n|---:|---:|---:|---:|"
        );
        for (i, t) in detection.freezes.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.1} | {:.1} |",
                i + 1,
                ms(t.phase),
                ms(t.detect),
                ms(t.thaw_recover)
            );
        }
    }

    fn render_instructions(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\n## Instructions per request (callgrind, in process, `oneshot`)\n"
        );
        let counts = match self.instructions {
            Ok(counts) => counts,
            Err(why) => {
                let _ = writeln!(out, "Not measured: {why}.");
                return;
            }
        };
        let _ = writeln!(
            out,
            "Slope between {} and {} requests per stack.\n",
            counts.requests.0, counts.requests.1
        );
        let _ = writeln!(
            out,
            "| stack | instructions / request | over the bare router | over the same place without the layer (a no-op axum layer there, or the bare `service_fn`) |\n|---|---:|---:|---:|"
        );
        for (stack, n) in &counts.per_request {
            let own = counts
                .own_cost(*stack)
                .map_or_else(String::new, |own| format!("{own:+.1}"));
            let plain_tower =
                *stack == Stack::TowerBare || stack.reference() == Some(Stack::TowerBare);
            let over_bare = match counts.overhead(*stack) {
                Some(over) if !plain_tower => format!("{over:+.1}"),
                _ => String::new(),
            };
            let _ = writeln!(out, "| {} | {n:.1} | {over_bare} | {own} |", stack.name());
        }
        let _ = writeln!(out, "\nThe plain Tower stacks next to their anchors:\n");
        out.push_str(&anchors(counts));
    }

    fn render_targets(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Targets\n");
        let _ = writeln!(out, "| metric | target | measured | |\n|---|---:|---:|---|");
        let metrics = self.metrics();
        for (name, goal) in TARGETS {
            let measured = metrics
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let number: f64 = measured.parse().unwrap_or(f64::NAN);
            let (target, met) = match goal {
                Goal::AtMost(t) => (format!("≤ {t}"), number <= t),
                Goal::AtLeast(t) => (format!("≥ {t}"), number >= t),
            };
            let verdict = if number.is_nan() {
                "not measured"
            } else if met {
                "met"
            } else {
                "MISSED"
            };
            let _ = writeln!(out, "| `{name}` | {target} | {measured} | {verdict} |");
        }
    }
}

/// The table of [`ANCHORED`]: instructions per request over the bare Tower service.
pub fn anchors(counts: &Counts) -> String {
    let mut out = String::from(
        "| layer | over the bare service | anchor | anchor over the bare service | target | met |\n\
         |---|---:|---|---:|---|---|\n",
    );
    for (stack, anchor, slack) in ANCHORED {
        let (Some(over), Some(anchor_over)) = (
            counts.overhead_over_tower(stack),
            counts.overhead_over_tower(anchor),
        ) else {
            continue;
        };
        let (target, met) = match slack {
            Some(slack) => {
                let target = anchor_over + slack;
                let met = if over <= target { "yes" } else { "no" };
                (format!("≤ {target:+.1}"), met)
            }
            None => ("—".to_owned(), "—"),
        };
        let _ = writeln!(
            out,
            "| {} | {over:+.1} | {} | {anchor_over:+.1} | {target} | {met} |",
            stack.name(),
            anchor.name(),
        );
    }
    out
}

/// A paired ratio as `median (min–max)`.
fn spread(s: Spread) -> String {
    format!("{:.3} ({:.3}–{:.3})", s.median, s.min, s.max)
}

fn table_header(out: &mut String) {
    let _ = writeln!(
        out,
        "| variant | req/s median (min–max) | p50 | p99 | server CPU / request | server busy | load generator busy | answers |\n|---|---:|---:|---:|---:|---:|---:|---|"
    );
}

fn table_row(out: &mut String, alternation: &Alternation, variant: Variant) {
    let rps = Spread::of(&alternation.rps(variant));
    let runs = alternation.of(variant);
    let median = |f: fn(&crate::load::Run) -> f64| {
        Spread::of(&runs.iter().map(f).collect::<Vec<_>>()).median
    };
    let _ = writeln!(
        out,
        "| {} | {:.0} ({:.0}–{:.0}) | {} | {} | {:.2} µs | {:.0} % | {:.0} % | {} |",
        variant.label(),
        rps.median,
        rps.min,
        rps.max,
        micros(Spread::of(&alternation.latency_us(variant, 0.5)).median),
        micros(Spread::of(&alternation.latency_us(variant, 0.99)).median),
        median(crate::load::Run::server_cpu_us),
        median(crate::load::Run::server_busy) * 100.0,
        median(crate::load::Run::client_busy) * 100.0,
        alternation.answers(variant)
    );
}

/// Microseconds, or milliseconds past 10 ms.
fn micros(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0} ms", us / 1_000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

fn redis_version() -> String {
    std::process::Command::new(
        std::env::var_os("REDIS_SERVER_BIN")
            .filter(|bin| !bin.is_empty())
            .unwrap_or_else(|| "redis-server".into()),
    )
    .arg("--version")
    .output()
    .ok()
    .and_then(|out| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .find_map(|word| word.strip_prefix("v="))
            .map(str::to_owned)
    })
    .unwrap_or_else(|| "?".to_owned())
}
