//! `redis-gate-bench`: the end-to-end benchmark of redis-gate on loopback.
//!
//! One command measures, against real `redis-server` processes it starts itself:
//! requests/s and latency of a bare axum service, the same behind the three redis-gate layers,
//! a hand-written `PING`-per-request gate and an `AtomicBool` gate, taking turns; the rejection
//! path with Redis down; the `PING` gate with Redis frozen; detection and recovery times of the
//! monitor; `/ready` latency while Redis is frozen; and (under callgrind) the instructions each
//! layer adds to a request. It prints a Markdown report with every figure and ends with one
//! `metric_name=value` line per metric with a target (and two about the run).
//!
//! ```text
//! cargo run --release -p redis-gate-bench            # the full run, about 2.5 minutes
//! cargo run -p redis-gate-bench -- --quick           # a smoke run, under 30 seconds
//! ```

#![forbid(unsafe_code)]

mod callgrind;
mod detection;
mod load;
mod report;
mod rig;
mod stats;
mod throughput;
mod timeline;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use redis_gate_bench::stacks::Stack;
use strum::IntoEnumIterator;

use crate::rig::{Rig, others_cpu_seconds};
use crate::timeline::RedisState;

/// The end-to-end benchmark of redis-gate (see BENCHMARKS.md).
#[derive(Parser, Debug)]
#[command(name = "redis-gate-bench", version)]
struct Args {
    /// A smoke run with tiny counts (under 30 s); its figures go to target/, not docs/.
    #[arg(long)]
    quick: bool,
    /// Where report.md and metrics.txt go [default: docs/bench, or
    /// target/redis-gate-bench with --quick].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Do not pin the server and the load generator to different cores.
    #[arg(long)]
    no_pin: bool,
    /// Skip the instruction counts (they need valgrind).
    #[arg(long)]
    no_callgrind: bool,
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Subcommand, Debug)]
enum Child {
    /// Only the instruction counts of the layers as plain Tower services, next to the
    /// tower-http and tower layers of the same shape (needs valgrind; about a minute).
    Instructions {
        /// Requests of the first measured run of each stack.
        #[arg(long, default_value_t = 100)]
        small: usize,
        /// Requests of the second measured run of each stack.
        #[arg(long, default_value_t = 1100)]
        large: usize,
    },
    /// Internal: send requests through one in-process stack, for callgrind.
    #[command(hide = true)]
    InstrChild {
        /// The stack's name: `bare`, `require`, `tower_check`, … (see `Stack`).
        #[arg(value_parser = parse_stack)]
        stack: Stack,
        /// Requests of the first measured run.
        small: usize,
        /// Requests of the second measured run.
        large: usize,
    },
}

/// Counts and durations of one run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Smoke run.
    pub quick: bool,
    /// Load generator connections.
    pub connections: usize,
    /// Rounds of the variants with Redis up, and of the two rejection paths with Redis down.
    pub rounds: usize,
    /// Rounds with Redis frozen.
    pub frozen_rounds: usize,
    /// Uncounted start of each load run.
    pub warmup: Duration,
    /// Counted time of each load run.
    pub measure: Duration,
    /// Counted time of each load run with Redis frozen.
    pub frozen_measure: Duration,
    /// Client timeout with Redis frozen.
    pub frozen_timeout: Duration,
    /// Kill trials, and as many freeze trials.
    pub trials: usize,
    /// Longest outage of a kill trial after detection.
    pub max_downtime: Duration,
    /// How long a freeze trial keeps Redis frozen after detection.
    pub frozen_extra: Duration,
    /// When the timeline run kills, restarts, freezes and thaws Redis, from its start.
    pub timeline: [(Duration, RedisState); 4],
    /// When the timeline run sends its last requests.
    pub timeline_end: Duration,
    /// The timeline run sends one request to each route every period.
    pub timeline_period: Duration,
    /// Client timeout of the timeline's requests.
    pub timeline_timeout: Duration,
    /// Requests of the small and the large callgrind run per stack.
    pub instr_requests: (usize, usize),
}

impl Plan {
    fn new(quick: bool, connections: usize) -> Plan {
        let ms = |short: u64, full: u64| Duration::from_millis(if quick { short } else { full });
        let count = |short: usize, full: usize| if quick { short } else { full };
        let timeline = [
            (ms(400, 1500), RedisState::Killed),
            (ms(1000, 4000), RedisState::Up),
            (ms(1600, 6500), RedisState::Frozen),
            (ms(4000, 10000), RedisState::Up),
        ];
        Plan {
            quick,
            connections,
            rounds: count(2, 10),
            frozen_rounds: count(1, 2),
            warmup: ms(50, 100),
            measure: ms(250, 600),
            frozen_measure: ms(400, 2000),
            frozen_timeout: ms(1500, 5000),
            trials: count(2, 20),
            max_downtime: ms(300, 3000),
            frozen_extra: ms(100, 300),
            timeline,
            timeline_end: ms(4500, 12000),
            timeline_period: ms(50, 25),
            timeline_timeout: ms(2000, 5000),
            instr_requests: (count(4, 100), count(24, 1100)),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let done = match &args.child {
        Some(Child::InstrChild {
            stack,
            small,
            large,
        }) => {
            callgrind::child(*stack, *small, *large);
            Ok(())
        }
        Some(Child::Instructions { small, large }) => {
            let counts = callgrind::measure(&Stack::TOWER, *small, *large);
            counts.map(|counts| println!("{}", report::instructions(&counts)))
        }
        None => full_run(&args),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("redis-gate-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Everything: load runs, detection trials, the timeline and the instruction counts; prints
/// the report and the metric lines and writes them to `report.md` and `metrics.txt`.
fn full_run(args: &Args) -> Result<(), String> {
    let plan = Plan::new(args.quick, args.connections.max(1));
    let out = args.out.clone().unwrap_or_else(|| default_out(plan.quick));
    std::fs::create_dir_all(&out)
        .map_err(|err| format!("cannot create {}: {err}", out.display()))?;
    let (started, others_before) = (Instant::now(), others_cpu_seconds());
    let rig = Rig::new(!args.no_pin);
    eprintln!("pinning: {}", rig.pinning);

    let throughput = throughput::run(&rig, &plan);
    let detection = detection::run(&rig, &plan);
    let count_instructions = || {
        if args.no_callgrind {
            return Err("skipped (--no-callgrind)".to_owned());
        }
        let counted = |stack: &Stack| !plan.quick || Stack::REQUIRED.contains(stack);
        let stacks: Vec<Stack> = Stack::iter().filter(counted).collect();
        callgrind::measure(&stacks, plan.instr_requests.0, plan.instr_requests.1)
    };
    let (timeline, instructions) = if plan.quick {
        // Instruction counts do not depend on what else runs, and a quick run's timings mean
        // nothing: count during the timeline to stay well under 30 s.
        std::thread::scope(|scope| {
            let counting = scope.spawn(count_instructions);
            let timeline = timeline::run(&rig, &plan);
            (timeline, counting.join().expect("counting never panics"))
        })
    } else {
        (timeline::run(&rig, &plan), count_instructions())
    };
    let elapsed = started.elapsed();
    let others = others_cpu_seconds() - others_before;
    let report = report::Report {
        plan: &plan,
        pinning: &rig.pinning,
        throughput: &throughput,
        detection: &detection,
        timeline: &timeline,
        instructions: &instructions,
        elapsed,
        background_cores: others / elapsed.as_secs_f64(),
    };
    let (text, lines) = (report.render(), report.metric_lines());
    print!("{text}\nreport in {}\n{lines}", out.display());
    for (file, contents) in [("report.md", &text), ("metrics.txt", &lines)] {
        let path = out.join(file);
        std::fs::write(&path, contents).map_err(|err| format!("{}: {err}", path.display()))?;
    }
    Ok(())
}

fn parse_stack(name: &str) -> Result<Stack, String> {
    name.parse().map_err(|_| format!("no stack called {name}"))
}

/// `docs/bench` (or `target/redis-gate-bench` for a quick run) in the workspace the binary was
/// built in.
fn default_out(quick: bool) -> PathBuf {
    let relative = match quick {
        true => "target/redis-gate-bench",
        false => "docs/bench",
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}
