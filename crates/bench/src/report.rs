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
use crate::throughput::{Alternation, Throughput};

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
    fn instr_overhead(&self, stack: Stack) -> f64 {
        self.instructions
            .as_ref()
            .ok()
            .and_then(|counts| counts.overhead(stack))
            .unwrap_or(f64::NAN)
    }

    fn instr_own_cost(&self, stack: Stack) -> f64 {
        self.instructions
            .as_ref()
            .ok()
            .and_then(|counts| counts.own_cost(stack))
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
        frozen.pooled_latency_us("naive", 0.99) / frozen.pooled_latency_us("gated", 0.99)
    }

    /// Every metric as `(name, value)`: the required ones first, then the extras.
    pub fn metrics(&self) -> Vec<(String, String)> {
        let up = &self.throughput.up;
        let down = &self.throughput.down;
        let frozen = &self.throughput.frozen;
        let mut metrics: Vec<(&str, String)> = vec![
            (
                "require_instr_overhead",
                value(self.instr_overhead(Stack::Require), 1),
            ),
            (
                "probe_pass_instr_overhead",
                value(self.instr_overhead(Stack::Probe), 1),
            ),
            (
                "check_instr_overhead",
                value(self.instr_overhead(Stack::Check), 1),
            ),
            (
                "gate_rps_ratio",
                value(up.paired_rps_ratio("gated", "bare").median, 3),
            ),
            (
                "naive_ping_rps_ratio",
                value(up.paired_rps_ratio("gated", "naive").median, 3),
            ),
            (
                "atomic_bool_rps_ratio",
                value(up.paired_rps_ratio("gated", "atomic").median, 3),
            ),
            ("frozen_p99_ratio", value(self.frozen_p99_ratio(), 1)),
            (
                "reject_rps_ratio",
                value(down.paired_rps_ratio("gated", "static503").median, 3),
            ),
            ("detect_kill_ms_max", value(self.kills(|t| t.detect).max, 1)),
            (
                "detect_stop_ms_max",
                value(self.freezes(|t| t.detect).max, 1),
            ),
            (
                "recover_ms_median",
                value(self.kills(|t| t.recover).median, 1),
            ),
            ("recover_ms_max", value(self.kills(|t| t.recover).max, 1)),
            ("ready_p99_us_frozen", value(self.ready_us(0.99), 1)),
        ];
        let extras: Vec<(String, String)> = {
            let mut extras = Vec::new();
            for key in ["bare", "gated", "per_route", "naive", "atomic"] {
                let rps = Spread::of(&up.rps(key));
                extras.push((format!("{key}_rps"), value(rps.median, 0)));
                extras.push((
                    format!("{key}_p50_us"),
                    value(Spread::of(&up.latency_us(key, 0.5)).median, 1),
                ));
                extras.push((
                    format!("{key}_p99_us"),
                    value(Spread::of(&up.latency_us(key, 0.99)).median, 1),
                ));
                extras.push((
                    format!("{key}_server_cpu_us"),
                    value(Spread::of(&up.server_cpu_us(key)).median, 2),
                ));
            }
            extras.push((
                "gate_per_route_rps_ratio".to_owned(),
                value(up.paired_rps_ratio("per_route", "bare").median, 3),
            ));
            for (name, a, b) in [
                ("gate_per_route_cpu_ratio", "per_route", "bare"),
                ("gate_cpu_ratio", "gated", "bare"),
                ("naive_ping_cpu_ratio", "gated", "naive"),
                ("atomic_bool_cpu_ratio", "gated", "atomic"),
            ] {
                extras.push((name.to_owned(), value(up.paired_cpu_ratio(a, b).median, 3)));
            }
            extras.push((
                "reject_cpu_ratio".to_owned(),
                value(down.paired_cpu_ratio("gated", "static503").median, 3),
            ));
            for (name, a, b) in [
                ("gate_rps_ratio_min", "gated", "bare"),
                ("atomic_bool_rps_ratio_min", "gated", "atomic"),
            ] {
                extras.push((name.to_owned(), value(up.paired_rps_ratio(a, b).min, 3)));
            }
            extras.push((
                "reject_rps".to_owned(),
                value(Spread::of(&down.rps("gated")).median, 0),
            ));
            extras.push((
                "static_503_rps".to_owned(),
                value(Spread::of(&down.rps("static503")).median, 0),
            ));
            extras.push((
                "frozen_naive_p99_ms".to_owned(),
                value(frozen.pooled_latency_us("naive", 0.99) / 1_000.0, 1),
            ));
            extras.push((
                "frozen_gated_p99_us".to_owned(),
                value(frozen.pooled_latency_us("gated", 0.99), 1),
            ));
            let kill_detect = self.kills(|t| t.detect);
            let stop_detect = self.freezes(|t| t.detect);
            let thaw = self.freezes(|t| t.thaw_recover);
            extras.push((
                "detect_kill_ms_median".to_owned(),
                value(kill_detect.median, 1),
            ));
            extras.push((
                "detect_stop_ms_median".to_owned(),
                value(stop_detect.median, 1),
            ));
            extras.push(("recover_thaw_ms_median".to_owned(), value(thaw.median, 1)));
            extras.push(("recover_thaw_ms_max".to_owned(), value(thaw.max, 1)));
            extras.push((
                "ready_p50_us_frozen".to_owned(),
                value(self.ready_us(0.5), 1),
            ));
            extras.push((
                "all_layers_instr_overhead".to_owned(),
                value(self.instr_overhead(Stack::All), 1),
            ));
            for (name, stack) in [
                (
                    "require_route_layer_instr_over_identity",
                    Stack::RequireRouteLayer,
                ),
                (
                    "probe_router_layer_instr_over_identity",
                    Stack::ProbeRouterLayer,
                ),
                (
                    "check_router_layer_instr_over_identity",
                    Stack::CheckRouterLayer,
                ),
                ("atomic_from_fn_instr_over_identity", Stack::AtomicFromFn),
            ] {
                extras.push((name.to_owned(), value(self.instr_own_cost(stack), 1)));
            }
            for (name, stack) in [
                (
                    "require_route_layer_instr_overhead",
                    Stack::RequireRouteLayer,
                ),
                (
                    "require_handler_layer_instr_overhead",
                    Stack::RequireHandler,
                ),
                (
                    "require_route_service_instr_overhead",
                    Stack::RequireRouteService,
                ),
                ("probe_router_layer_instr_overhead", Stack::ProbeRouterLayer),
                ("check_router_layer_instr_overhead", Stack::CheckRouterLayer),
                ("all_per_route_instr_overhead", Stack::AllPerRoute),
                ("all_router_layers_instr_overhead", Stack::AllRouterLayers),
                ("axum_route_layer_instr_overhead", Stack::IdentityRoute),
                ("axum_layer_instr_overhead", Stack::IdentityLayer),
                ("atomic_from_fn_instr_overhead", Stack::AtomicFromFn),
            ] {
                extras.push((name.to_owned(), value(self.instr_overhead(stack), 1)));
            }
            for (name, stack) in [
                ("tower_require_instr_overhead", Stack::TowerRequire),
                ("tower_check_instr_overhead", Stack::TowerCheck),
                ("tower_probe_pass_instr_overhead", Stack::TowerProbe),
            ] {
                extras.push((name.to_owned(), value(self.instr_own_cost(stack), 1)));
            }
            extras.push((
                "bare_instr_per_request".to_owned(),
                value(
                    self.instructions
                        .as_ref()
                        .ok()
                        .and_then(|c| c.of(Stack::Bare))
                        .unwrap_or(f64::NAN),
                    1,
                ),
            ));
            extras.push((
                "background_cores_busy".to_owned(),
                value(self.background.other_cores, 2),
            ));
            extras.push((
                "run_seconds".to_owned(),
                value(self.elapsed.as_secs_f64(), 1),
            ));
            extras
        };
        metrics
            .drain(..)
            .map(|(name, value)| (name.to_owned(), value))
            .chain(extras)
            .collect()
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
        let bar = |alternation: &Alternation, key: &str, label: &str, down: bool| {
            let p99 = Spread::of(&alternation.latency_us(key, 0.99)).median;
            Bar {
                label: label.to_owned(),
                rps: Spread::of(&alternation.rps(key)),
                note: format!("· p99 {p99:.0} µs"),
                down,
            }
        };
        let up = &self.throughput.up;
        let down = &self.throughput.down;
        vec![
            bar(up, "bare", "1 bare axum", false),
            bar(up, "gated", "2 three layers", false),
            bar(up, "per_route", "2b RequireRedis per route", false),
            bar(up, "naive", "3 PING per request", false),
            bar(up, "atomic", "4 AtomicBool", false),
            bar(down, "gated", "2, Redis down (503)", true),
            bar(down, "static503", "static 503 handler", true),
        ]
    }

    /// The whole report, as Markdown.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let plan = self.plan;
        let _ = writeln!(
            out,
            "# redis-gate end-to-end benchmark{}\n",
            if plan.quick {
                " (quick run: tiny counts, not for numbers)"
            } else {
                ""
            }
        );
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

        let up = &self.throughput.up;
        let _ = writeln!(out, "## Redis up\n");
        table_header(&mut out);
        for key in ["bare", "gated", "per_route", "naive", "atomic"] {
            table_row(&mut out, up, key);
        }
        let _ = writeln!(
            out,
            "\nPaired ratios (per round, back-to-back runs), median (min–max):\n"
        );
        for (label, a, b) in [
            ("gate_rps_ratio (2 ÷ 1)", "gated", "bare"),
            ("naive_ping_rps_ratio (2 ÷ 3)", "gated", "naive"),
            ("atomic_bool_rps_ratio (2 ÷ 4)", "gated", "atomic"),
            ("gate_per_route_rps_ratio (2b ÷ 1)", "per_route", "bare"),
        ] {
            let r = up.paired_rps_ratio(a, b);
            let c = up.paired_cpu_ratio(a, b);
            let _ = writeln!(
                out,
                "- {label}: {:.3} ({:.3}–{:.3}); on server CPU per request: {:.3} ({:.3}–{:.3})",
                r.median, r.min, r.max, c.median, c.min, c.max
            );
        }

        let down = &self.throughput.down;
        let _ = writeln!(
            out,
            "\n## Redis down (killed; the handle says disconnected)\n"
        );
        table_header(&mut out);
        table_row(&mut out, down, "gated");
        table_row(&mut out, down, "static503");
        let r = down.paired_rps_ratio("gated", "static503");
        let c = down.paired_cpu_ratio("gated", "static503");
        let _ = writeln!(
            out,
            "\n- reject_rps_ratio (2 down ÷ static 503): {:.3} ({:.3}–{:.3}); on server CPU per request: {:.3} ({:.3}–{:.3})",
            r.median, r.min, r.max, c.median, c.min, c.max
        );

        let frozen = &self.throughput.frozen;
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
        for key in ["naive", "gated"] {
            let variant = frozen
                .variants
                .iter()
                .find(|v| v.key == key)
                .expect("known variant");
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} | {} | {} |",
                variant.label,
                Spread::of(&frozen.rps(key)).median,
                micros(frozen.pooled_latency_us(key, 0.5)),
                micros(frozen.pooled_latency_us(key, 0.99)),
                frozen.answers(key)
            );
        }
        let _ = writeln!(
            out,
            "\n- frozen_p99_ratio (p99 of 3 ÷ p99 of 2): {:.1}",
            self.frozen_p99_ratio()
        );

        let _ = writeln!(
            out,
            "\n## Detection and recovery ({} kill trials, {} freeze trials; monitor defaults: check every 1 s, PING timeout 500 ms, fall 2, rise 1, backoff 100 ms → 2 s)\n",
            self.detection.kills.len(),
            self.detection.freezes.len()
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
        let all_ready = self.detection.ready_latencies();
        let (ready_up, ready_down): (u64, u64) = self
            .detection
            .freezes
            .iter()
            .fold((0, 0), |(u, d), t| (u + t.ready_up, d + t.ready_down));
        let _ = writeln!(
            out,
            "\n`/ready` while Redis was frozen: {} requests ({} × 200 before detection, {} × 503 after), p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            all_ready.len(),
            ready_up,
            ready_down,
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
        for (i, t) in self.detection.kills.iter().enumerate() {
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
        for (i, t) in self.detection.freezes.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.1} | {:.1} |",
                i + 1,
                ms(t.phase),
                ms(t.detect),
                ms(t.thaw_recover)
            );
        }

        let _ = writeln!(
            out,
            "\n## Instructions per request (callgrind, in process, `oneshot`)\n"
        );
        match self.instructions {
            Ok(counts) => {
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
                    let over_bare = if stack.name().starts_with("tower_") {
                        String::new()
                    } else {
                        format!("{:+.1}", counts.overhead(*stack).unwrap_or(f64::NAN))
                    };
                    let _ = writeln!(out, "| {} | {:.1} | {over_bare} | {own} |", stack.name(), n,);
                }
            }
            Err(why) => {
                let _ = writeln!(out, "Not measured: {why}.");
            }
        }

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
        out
    }
}

fn table_header(out: &mut String) {
    let _ = writeln!(
        out,
        "| variant | req/s median (min–max) | p50 | p99 | server CPU / request | server busy | load generator busy | answers |\n|---|---:|---:|---:|---:|---:|---:|---|"
    );
}

fn table_row(out: &mut String, alternation: &Alternation, key: &str) {
    let variant = alternation
        .variants
        .iter()
        .find(|v| v.key == key)
        .expect("known variant");
    let rps = Spread::of(&alternation.rps(key));
    let runs = alternation.of(key);
    let median = |f: fn(&crate::load::Run) -> f64| {
        Spread::of(&runs.iter().map(f).collect::<Vec<_>>()).median
    };
    let _ = writeln!(
        out,
        "| {} | {:.0} ({:.0}–{:.0}) | {} | {} | {:.2} µs | {:.0} % | {:.0} % | {} |",
        variant.label,
        rps.median,
        rps.min,
        rps.max,
        micros(Spread::of(&alternation.latency_us(key, 0.5)).median),
        micros(Spread::of(&alternation.latency_us(key, 0.99)).median),
        median(crate::load::Run::server_cpu_us),
        median(crate::load::Run::server_busy) * 100.0,
        median(crate::load::Run::client_busy) * 100.0,
        alternation.answers(key)
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

/// The layers as plain Tower services, each next to its anchor: `(layer, anchor, slack)`, the
/// target being the anchor's cost plus the slack.
const ANCHORED: [(Stack, Stack, f64); 5] = [
    (Stack::TowerRequire, Stack::AnchorValidate, 10.0),
    (Stack::TowerRequire, Stack::AnchorValidateHandle, 0.0),
    (Stack::TowerCheck, Stack::AnchorExtension, 10.0),
    (Stack::TowerProbe, Stack::AnchorMapRequest, 40.0),
    (Stack::TowerReject, Stack::AnchorReject, 0.0),
];

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
        let target = anchor_over + slack;
        let _ = writeln!(
            out,
            "| {} | {over:+.1} | {} | {anchor_over:+.1} | ≤ {target:+.1} | {} |",
            stack.name(),
            anchor.name(),
            if over <= target { "yes" } else { "no" },
        );
    }
    out
}
