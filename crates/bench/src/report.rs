//! The report: everything measured as Markdown tables, and the `metric_name=value` lines of the
//! required metrics.

use std::time::Duration;

use redis_gate_bench::stacks::Stack;
use strum::IntoEnumIterator;

use crate::Plan;
use crate::callgrind::Counts;
use crate::detection::{Detection, Trial};
use crate::load::Run;
use crate::stats::{self, Spread};
use crate::throughput::{Alternation, CPU, RPS, Throughput, Variant};
use crate::timeline::{Outcome, RedisState, Route, Timeline};

/// Everything measured in one run.
pub struct Report<'a> {
    /// The counts and durations used.
    pub plan: &'a Plan,
    /// Where things ran.
    pub pinning: &'a str,
    /// Load runs.
    pub throughput: &'a Throughput,
    /// Detection and recovery trials.
    pub detection: &'a Detection,
    /// The kill/restart and freeze/thaw run told over time.
    pub timeline: &'a Timeline,
    /// Callgrind counts, or why there are none.
    pub instructions: &'a Result<Counts, String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Cores other processes (redis-server included) kept busy on average during the run.
    pub background_cores: f64,
}

/// A metric line: name, value, decimals printed.
type Metric = (&'static str, f64, usize);

/// Paired ratios with Redis up: `(metric name, label, a, b)` for `a` over `b`.
const UP_RATIOS: [(&str, &str, Variant, Variant); 4] = [
    ("gate_rps_ratio", "2 ÷ 1", Variant::Gated, Variant::Bare),
    (
        "naive_ping_rps_ratio",
        "2 ÷ 3",
        Variant::Gated,
        Variant::Naive,
    ),
    (
        "atomic_bool_rps_ratio",
        "2 ÷ 4",
        Variant::Gated,
        Variant::Atomic,
    ),
    (
        "gate_per_route_rps_ratio",
        "2b ÷ 1",
        Variant::PerRoute,
        Variant::Bare,
    ),
];

/// The variants of the Redis-up table, in its order.
const UP: [Variant; 5] = [
    Variant::Bare,
    Variant::Gated,
    Variant::PerRoute,
    Variant::Naive,
    Variant::Atomic,
];

/// The variants of the Redis-down table: the gate's rejection, and a static one.
const DOWN: [Variant; 2] = [Variant::Gated, Variant::Static503];

/// The layers as plain Tower services, each next to its anchor: `(layer, anchor, slack)`, the
/// target being the anchor's cost plus the slack; `None` for a comparison without a target.
const ANCHORED: [(Stack, Stack, Option<f64>); 5] = [
    (Stack::TowerRequire, Stack::AnchorValidate, Some(10.0)),
    (Stack::TowerRequire, Stack::AnchorValidateHandle, None),
    (Stack::TowerCheck, Stack::AnchorExtension, Some(10.0)),
    (Stack::TowerProbe, Stack::AnchorMapRequest, Some(40.0)),
    (Stack::TowerReject, Stack::AnchorReject, Some(0.0)),
];

const QUICK_NOTE: &str = " (quick run: tiny counts, not for numbers)";
const LOAD_HEADER: &str = "variant | req/s median (min–max) | p50 | p99 | server CPU / request | server busy | load generator busy | answers";
const FROZEN_HEADER: &str = "variant | answered/s | p50 | p99 (all rounds) | answers";
const STACKS_HEADER: &str = "stack | instructions / request | over the bare router | over the same place without the layer (a no-op axum layer there, or the bare `service_fn`)";
const ANCHORS_HEADER: &str =
    "layer | over the bare service | anchor | anchor over the bare service | target | met";
const TIMELINE_HEADER: &str =
    "from s | to s | redis-server | handle says | /strict | /soft | /naive";

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The spread of `f` over `trials`, in milliseconds.
fn spread<T>(trials: &[Trial<T>], f: fn(&Trial<T>) -> Duration) -> Spread {
    Spread::of(&trials.iter().map(|t| ms(f(t))).collect::<Vec<_>>())
}

impl Report<'_> {
    /// `f` of the callgrind counts, or NaN without them.
    fn instr(&self, f: impl FnOnce(&Counts) -> Option<f64>) -> f64 {
        let counts = self.instructions.as_ref().ok();
        counts.and_then(f).unwrap_or(f64::NAN)
    }

    /// Quantile `q` of every `/ready` latency while Redis was frozen, in microseconds.
    fn ready_us(&self, q: f64) -> f64 {
        let all = self.detection.ready_latencies();
        let quantile = stats::quantile_sorted(&all, q) as f64 / 1_000.0;
        if all.is_empty() { f64::NAN } else { quantile }
    }

    fn frozen_p99_ratio(&self) -> f64 {
        let p99 = |variant| self.throughput.frozen.pooled(variant).latency_us(0.99);
        p99(Variant::Naive) / p99(Variant::Gated)
    }

    /// The metric lines, `name=value`: the required metrics (BENCHMARKS.md has
    /// their targets), then how busy the machine was with other work and how long the run took.
    /// Every other figure is in the report.
    pub fn metric_lines(&self) -> String {
        let Detection { kills, freezes } = self.detection;
        let (up, down) = (&self.throughput.up, &self.throughput.down);
        let over_bare = |stack| self.instr(|c| c.over(stack, Stack::Bare));
        let [require, probe, check] = [Stack::Require, Stack::Probe, Stack::Check].map(over_bare);
        let gated_over = |b| up.paired(Variant::Gated, b, RPS).median;
        let [gate, naive, atomic] = [Variant::Bare, Variant::Naive, Variant::Atomic];
        let [gate, naive, atomic] = [gate, naive, atomic].map(gated_over);
        let reject = down.paired(Variant::Gated, Variant::Static503, RPS).median;
        let (kill, stop) = (spread(kills, |t| t.detect), spread(freezes, |t| t.detect));
        let (recover, frozen) = (spread(kills, |t| t.recover), self.frozen_p99_ratio());
        let (ready, run) = (self.ready_us(0.99), self.elapsed.as_secs_f64());
        let metrics: [Metric; 15] = [
            ("require_instr_overhead", require, 1),
            ("probe_pass_instr_overhead", probe, 1),
            ("check_instr_overhead", check, 1),
            ("gate_rps_ratio", gate, 3),
            ("naive_ping_rps_ratio", naive, 3),
            ("atomic_bool_rps_ratio", atomic, 3),
            ("frozen_p99_ratio", frozen, 1),
            ("reject_rps_ratio", reject, 3),
            ("detect_kill_ms_max", kill.max, 1),
            ("detect_stop_ms_max", stop.max, 1),
            ("recover_ms_median", recover.median, 1),
            ("recover_ms_max", recover.max, 1),
            ("ready_p99_us_frozen", ready, 1),
            ("background_cores_busy", self.background_cores, 2),
            ("run_seconds", run, 1),
        ];
        let line =
            |(name, value, decimals): Metric| format!("{name}={}\n", printed(value, decimals));
        metrics.map(line).concat()
    }

    /// The whole report, as Markdown: one section per part of the run.
    pub fn render(&self) -> String {
        let instructions = match self.instructions {
            Ok(counts) => instructions(counts),
            Err(why) => format!("\n## Instructions per request\n\nNot measured: {why}.\n"),
        };
        let (run, throughput, detection) = (self.run(), self.throughput(), self.detection());
        let timeline = timeline(self.plan, self.timeline);
        format!("{run}{throughput}{detection}{timeline}{instructions}")
    }

    fn run(&self) -> String {
        let (plan, pinning, other_cores) = (self.plan, self.pinning, self.background_cores);
        let quick = if plan.quick { QUICK_NOTE } else { "" };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let read = |path| std::fs::read_to_string(path).unwrap_or_default();
        let (cpuinfo, kernel) = (read("/proc/cpuinfo"), read("/proc/sys/kernel/osrelease"));
        let cpu = cpuinfo.lines().find_map(|l| l.strip_prefix("model name"));
        let cpu = cpu.map_or("?", |cpu| cpu.trim_start_matches([' ', '\t', ':']));
        let (kernel, redis, loadavg) = (kernel.trim(), redis_version(), read("/proc/loadavg"));
        let load_average = loadavg.split_whitespace().next().unwrap_or("?");
        let debug = cfg!(debug_assertions);
        let profile = if debug { "debug" } else { "release" };
        let (connections, rounds) = (plan.connections, plan.rounds);
        let (measure, warmup) = (plan.measure.as_secs_f64(), plan.warmup.as_secs_f64());
        let elapsed = self.elapsed.as_secs_f64();
        format!(
            "# redis-gate end-to-end benchmark{quick}

- machine: {cpu}, {cores} cores, Linux {kernel}
- build: {profile}; redis-server {redis}
- pinning: {pinning}
- load: {connections} keep-alive connections, closed loop, hyper client; {rounds} rounds of {measure:.2} s (+{warmup:.2} s warm-up) per variant, variants in turns
- run time: {elapsed:.1} s
- background: other processes (redis-server included) kept {other_cores:.2} of {cores} cores busy on average; load average {load_average} at the end
"
        )
    }

    fn throughput(&self) -> String {
        let Throughput { up, down, frozen } = self.throughput;
        let (up_table, down_table) = (load_table(up, &UP), load_table(down, &DOWN));
        let up_ratios = UP_RATIOS.iter().map(|&(name, label, a, b)| {
            let (rps, cpu) = (ratio(up.paired(a, b, RPS)), ratio(up.paired(a, b, CPU)));
            format!("- {name} ({label}): {rps}; on server CPU per request: {cpu}\n")
        });
        let up_ratios: String = up_ratios.collect();
        let [a, b] = DOWN;
        let (reject_rps, reject_cpu) = (down.paired(a, b, RPS), down.paired(a, b, CPU));
        let (reject_rps, reject_cpu) = (ratio(reject_rps), ratio(reject_cpu));
        let rows = [Variant::Naive, Variant::Gated].map(|variant| {
            let label = variant.label();
            let rps = frozen.spread(variant, Run::rps).median;
            let pooled = frozen.pooled(variant);
            let [p50, p99] = [0.5, 0.99].map(|q| micros(pooled.latency_us(q)));
            let answers = pooled.describe_answers();
            format!("{label} | {rps:.0} | {p50} | {p99} | {answers}")
        });
        let frozen_table = table(FROZEN_HEADER, rows);
        let plan = self.plan;
        let (rounds, measure) = (plan.frozen_rounds, plan.frozen_measure.as_secs_f64());
        let timeout = plan.frozen_timeout.as_secs_f64();
        let frozen_ratio = self.frozen_p99_ratio();
        format!(
            "
## Redis up

{up_table}
Paired ratios (per round, back-to-back runs), median (min–max):

{up_ratios}
## Redis down (killed; the handle says disconnected)

{down_table}
- reject_rps_ratio (2 down ÷ static 503): {reject_rps}; on server CPU per request: {reject_cpu}

## Redis frozen (SIGSTOP), {rounds} round(s) of {measure:.1} s each, client timeout {timeout:.1} s

{frozen_table}
- frozen_p99_ratio (p99 of 3 ÷ p99 of 2): {frozen_ratio:.1}
"
        )
    }

    fn detection(&self) -> String {
        let Detection { kills, freezes } = self.detection;
        let (kill_count, freeze_count) = (kills.len(), freezes.len());
        let restart = spread(kills, |t| t.recover);
        let measures = [
            ("kill → unavailable (ms)", spread(kills, |t| t.detect)),
            ("SIGSTOP → unavailable (ms)", spread(freezes, |t| t.detect)),
            ("restart (accepting) → available (ms)", restart),
            ("SIGCONT → available (ms)", spread(freezes, |t| t.recover)),
        ];
        let rows = measures.map(|(label, Spread { min, median, max })| {
            format!("{label} | {min:.1} | {median:.1} | {max:.1}")
        });
        let measures = table("measure | min | median | max", rows);
        let ready_up: u64 = freezes.iter().map(|t| t.more.up).sum();
        let ready_down: u64 = freezes.iter().map(|t| t.more.down).sum();
        let count = self.detection.ready_latencies().len();
        let [p50, p99, max] = [0.5, 0.99, 1.0].map(|q| self.ready_us(q));
        let rows = trial_rows(kills, |t| format!(" | {:.0}", ms(t.more)));
        let kills = table("# | phase | downtime | detect | recover", rows);
        let rows = trial_rows(freezes, |_| String::new());
        let freezes = table("# | phase | detect | recover", rows);
        format!(
            "
## Detection and recovery ({kill_count} kill trials, {freeze_count} freeze trials; monitor defaults: check every 1 s, PING timeout 500 ms, fall 2, rise 1, backoff 100 ms → 2 s)

{measures}
`/ready` while Redis was frozen: {count} requests ({ready_up} × 200 before detection, {ready_down} × 503 after), p50 {p50:.1} µs, p99 {p99:.1} µs, max {max:.1} µs

Kill trials (phase after a check, downtime, detect, recover), ms:

{kills}
Freeze trials (phase after a check, detect, thaw → available), ms:

{freezes}"
        )
    }
}

/// One row per trial: its number, its phase, `more` of it, the time to detect and to recover.
fn trial_rows<T>(trials: &[Trial<T>], more: fn(&Trial<T>) -> String) -> Vec<String> {
    let row = |(i, t): (usize, &Trial<T>)| {
        let (phase, more) = (ms(t.phase), more(t));
        let (detect, recover) = (ms(t.detect), ms(t.recover));
        format!("{} | {phase:.0}{more} | {detect:.1} | {recover:.1}", i + 1)
    };
    trials.iter().enumerate().map(row).collect()
}

/// The instruction counts of every stack measured, then the plain Tower stacks next to their
/// anchors (what `redis-gate-bench instructions` prints).
pub fn instructions(counts: &Counts) -> String {
    let (small, large) = counts.requests;
    let signed = |n: Option<f64>| n.map_or_else(String::new, |n| format!("{n:+.1}"));
    let rows = counts.per_request.iter().map(|&(stack, n)| {
        let over_bare = counts.over(stack, Stack::Bare);
        let over_bare = signed(over_bare.filter(|_| !Stack::TOWER.contains(&stack)));
        let (name, own) = (stack.name(), signed(counts.own_cost(stack)));
        format!("{name} | {n:.1} | {over_bare} | {own}")
    });
    let stacks = table(STACKS_HEADER, rows);
    let rows = ANCHORED.iter().filter_map(|&(stack, anchor, slack)| {
        let over = counts.over(stack, Stack::TowerBare)?;
        let anchor_over = counts.over(anchor, Stack::TowerBare)?;
        let (target, met) = match slack.map(|slack| anchor_over + slack) {
            Some(target) if over <= target => (format!("≤ {target:+.1}"), "yes"),
            Some(target) => (format!("≤ {target:+.1}"), "no"),
            None => ("—".to_owned(), "—"),
        };
        let (name, anchor) = (stack.name(), anchor.name());
        let row = format!("{name} | {over:+.1} | {anchor} | {anchor_over:+.1} | {target} | {met}");
        Some(row)
    });
    let anchors = table(ANCHORS_HEADER, rows);
    format!(
        "
## Instructions per request (callgrind, in process, `oneshot`)

Slope between {small} and {large} requests per stack.

{stacks}
The plain Tower stacks next to their anchors:

{anchors}"
    )
}

/// The timeline run cut wherever Redis' state or the handle's reading changes: in each part,
/// what each route answered, the median and the longest latency.
fn timeline(plan: &Plan, timeline: &Timeline) -> String {
    let change = |(at, state): (Duration, RedisState)| {
        format!("{} at {:.1} s", <&str>::from(state), at.as_secs_f64())
    };
    let changes = plan.timeline.map(change).join(", ");
    let (period, end) = (
        plan.timeline_period.as_millis(),
        plan.timeline_end.as_secs_f64(),
    );
    let redis = timeline.redis.iter().map(|(at, _)| *at);
    let mut cuts: Vec<f64> = redis
        .chain(timeline.handle.iter().map(|(at, _)| *at))
        .collect();
    cuts.retain(|at| *at < end);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let ends = cuts.iter().skip(1).copied().chain([end]);
    let rows = cuts.iter().zip(ends).map(|(&from, to)| {
        let redis: &str = state_at(&timeline.redis, from).into();
        let handle = state_at(&timeline.handle, from).as_str();
        let routes = Route::iter().map(|route| {
            let samples = timeline.samples.iter().filter(|s| s.route == route);
            let samples: Vec<_> = samples.filter(|s| (from..to).contains(&s.at)).collect();
            let mut latencies: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
            latencies.sort_by(f64::total_cmp);
            let answers = Outcome::iter().filter_map(|outcome| {
                let n = samples.iter().filter(|s| s.outcome == outcome).count();
                (n > 0).then(|| format!("{} ×{n}", <&str>::from(outcome)))
            });
            let answers = answers.collect::<Vec<_>>().join(", ");
            let p50 = latencies.get(latencies.len() / 2);
            let (Some(max), Some(p50)) = (latencies.last(), p50) else {
                return "—".to_owned();
            };
            format!("{answers}; p50 {p50:.1} ms, max {max:.1} ms")
        });
        let routes = routes.collect::<Vec<_>>().join(" | ");
        format!("{from:.3} | {to:.3} | {redis} | {handle} | {routes}")
    });
    let rows = table(TIMELINE_HEADER, rows);
    format!("\n## Timeline: Redis {changes}; one request to each route every {period} ms\n\n{rows}")
}

/// The value in force at `at`, from a list of `(from, value)` changes in time order.
fn state_at<T: Copy>(changes: &[(f64, T)], at: f64) -> T {
    let before = changes.iter().rev().find(|(from, _)| *from <= at);
    before.unwrap_or(&changes[0]).1
}

/// A Markdown table of `rows` (cells joined by ` | `) under `header`: the first column
/// left-aligned, the others right-aligned.
fn table(header: &str, rows: impl IntoIterator<Item = String>) -> String {
    let columns = header.matches(" | ").count();
    let mut out = format!("| {header} |\n|---|{}\n", "---:|".repeat(columns));
    for row in rows {
        out.push_str(&format!("| {row} |\n"));
    }
    out
}

/// The load runs of `variants` in `alternation`, one row each.
fn load_table(alternation: &Alternation, variants: &[Variant]) -> String {
    let rows = variants.iter().map(|&variant| {
        let median = |f: fn(&Run) -> f64| alternation.spread(variant, f).median;
        let Spread { min, median: rps, max } = alternation.spread(variant, Run::rps);
        let p50 = micros(median(|run| run.latency_us(0.5)));
        let p99 = micros(median(|run| run.latency_us(0.99)));
        let cpu = median(Run::server_cpu_us);
        let (server, client) = (median(Run::server_busy) * 100.0, median(Run::client_busy) * 100.0);
        let (label, answers) = (variant.label(), alternation.pooled(variant).describe_answers());
        format!("{label} | {rps:.0} ({min:.0}–{max:.0}) | {p50} | {p99} | {cpu:.2} µs | {server:.0} % | {client:.0} % | {answers}")
    });
    table(LOAD_HEADER, rows)
}

/// The version `redis-server --version` (`$REDIS_SERVER_BIN` when set) prints, or `?`.
fn redis_version() -> String {
    let bin = std::env::var_os("REDIS_SERVER_BIN").filter(|bin| !bin.is_empty());
    let mut command = std::process::Command::new(bin.unwrap_or_else(|| "redis-server".into()));
    let stdout = command.arg("--version").output().map(|out| out.stdout);
    let stdout = String::from_utf8(stdout.unwrap_or_default()).unwrap_or_default();
    let version = stdout.split_whitespace().find_map(|w| w.strip_prefix("v="));
    version.unwrap_or("?").to_owned()
}

/// `value` with `decimals` decimals, or `n/a` when it was not measured.
fn printed(value: f64, decimals: usize) -> String {
    let (printed, measured) = (format!("{value:.decimals$}"), value.is_finite());
    if measured { printed } else { "n/a".into() }
}

/// A paired ratio as `median (min–max)`.
fn ratio(Spread { min, median, max }: Spread) -> String {
    format!("{median:.3} ({min:.3}–{max:.3})")
}

/// Microseconds, or milliseconds past 10 ms.
fn micros(us: f64) -> String {
    match us >= 10_000.0 {
        true => format!("{:.0} ms", us / 1_000.0),
        false => format!("{us:.0} µs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_right_aligns_every_column_but_the_first() {
        let out = table("a | b | c", ["1 | 2 | 3".to_owned()]);
        assert_eq!(out, "| a | b | c |\n|---|---:|---:|\n| 1 | 2 | 3 |\n");
    }

    #[test]
    fn a_value_not_measured_prints_as_n_a() {
        assert_eq!(printed(f64::NAN, 1), "n/a");
        assert_eq!(printed(47.25, 1), "47.2");
        assert_eq!(printed(0.97512, 3), "0.975");
    }

    #[test]
    fn latencies_past_ten_milliseconds_print_in_milliseconds() {
        assert_eq!(micros(386.0), "386 µs");
        assert_eq!(micros(3_001_700.0), "3002 ms");
    }
}
