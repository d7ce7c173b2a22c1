//! `redis-gate-bench`: the end-to-end benchmark of redis-gate on loopback.
//!
//! One command measures, against real `redis-server` processes it starts itself:
//! requests/s and latency of a bare axum service, the same behind the three redis-gate layers,
//! a hand-written `PING`-per-request gate and an `AtomicBool` gate, taking turns; the rejection
//! path with Redis down; the `PING` gate with Redis frozen; detection and recovery times of the
//! monitor; `/ready` latency while Redis is frozen; and (under callgrind) the instructions each
//! layer adds to a request. It prints a report, draws two SVG figures, and ends with one
//! `metric_name=value` line per metric.
//!
//! ```text
//! cargo run --release -p redis-gate-bench            # the full run, about 2.5 minutes
//! cargo run -p redis-gate-bench -- --quick           # a smoke run, under 30 seconds
//! ```

#![forbid(unsafe_code)]

mod callgrind;
mod detection;
mod load;
mod pin;
mod plot;
mod report;
mod rig;
mod stats;
mod throughput;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use redis_gate_bench::stacks::Stack;
use strum::IntoEnumIterator;

use crate::pin::Pinning;
use crate::rig::Rig;

/// The end-to-end benchmark of redis-gate (see BENCHMARKS.md).
#[derive(Parser, Debug)]
#[command(name = "redis-gate-bench", version)]
struct Args {
    /// A smoke run with tiny counts (under 30 s); its figures go to target/, not docs/.
    #[arg(long)]
    quick: bool,
    /// Where the figures, report.md and metrics.txt go [default: docs/bench, or
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
        /// bare, require, check, probe or all.
        stack: String,
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
    /// Rounds of the four variants with Redis up.
    pub rounds: usize,
    /// Rounds of the two rejection paths with Redis down.
    pub down_rounds: usize,
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
    /// The timeline run.
    pub timeline: Schedule,
    /// Client timeout of the timeline's requests.
    pub timeline_timeout: Duration,
    /// Requests of the small and the large callgrind run per stack.
    pub instr_requests: (usize, usize),
}

/// When things happen in the timeline run, from its start.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// SIGKILL.
    pub kill_at: Duration,
    /// Restart.
    pub restart_at: Duration,
    /// SIGSTOP.
    pub freeze_at: Duration,
    /// SIGCONT.
    pub thaw_at: Duration,
    /// The last requests are sent.
    pub end: Duration,
    /// One request to each route every period.
    pub period: Duration,
}

impl Plan {
    fn new(quick: bool, connections: usize) -> Plan {
        let ms = Duration::from_millis;
        if quick {
            Plan {
                quick,
                connections,
                rounds: 2,
                down_rounds: 2,
                frozen_rounds: 1,
                warmup: ms(50),
                measure: ms(250),
                frozen_measure: ms(400),
                frozen_timeout: ms(1500),
                trials: 2,
                max_downtime: ms(300),
                frozen_extra: ms(100),
                timeline: Schedule {
                    kill_at: ms(400),
                    restart_at: ms(1000),
                    freeze_at: ms(1600),
                    thaw_at: ms(4000),
                    end: ms(4500),
                    period: ms(50),
                },
                timeline_timeout: ms(2000),
                instr_requests: (4, 24),
            }
        } else {
            Plan {
                quick,
                connections,
                rounds: 10,
                down_rounds: 10,
                frozen_rounds: 2,
                warmup: ms(100),
                measure: ms(600),
                frozen_measure: ms(2000),
                frozen_timeout: ms(5000),
                trials: 20,
                max_downtime: ms(3000),
                frozen_extra: ms(300),
                timeline: Schedule {
                    kill_at: ms(1500),
                    restart_at: ms(4000),
                    freeze_at: ms(6500),
                    thaw_at: ms(10000),
                    end: ms(12000),
                    period: ms(25),
                },
                timeline_timeout: ms(5000),
                instr_requests: (100, 1100),
            }
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Child::InstrChild {
        stack,
        small,
        large,
    }) = &args.child
    {
        callgrind::child(stack, *small, *large);
        return ExitCode::SUCCESS;
    }
    if let Some(Child::Instructions { small, large }) = &args.child {
        return match callgrind::measure(&Stack::TOWER, *small, *large) {
            Ok(counts) => {
                println!("{}", report::anchors(&counts));
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("instruction counts: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let plan = Plan::new(args.quick, args.connections.max(1));
    let out = args.out.clone().unwrap_or_else(|| default_out(plan.quick));
    if let Err(err) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {err}", out.display());
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    let machine_before = report::MachineLoad::now();
    let rig = Rig::new(Pinning::plan(!args.no_pin));
    eprintln!("pinning: {}", rig.pinning.note);

    let throughput = throughput::run(&rig, &plan);
    eprintln!(
        "detection: {} kill and {} freeze trials",
        plan.trials, plan.trials
    );
    let detection = detection::run(&rig, &plan);
    let count_instructions = || {
        if args.no_callgrind {
            return Err("skipped (--no-callgrind)".to_owned());
        }
        eprintln!("callgrind: instructions per request");
        let (small, large) = plan.instr_requests;
        let stacks: Vec<Stack> = if plan.quick {
            Stack::REQUIRED.to_vec()
        } else {
            Stack::iter().collect()
        };
        callgrind::measure(&stacks, small, large)
    };
    let (timeline, instructions) = if plan.quick {
        // Instruction counts do not depend on what else runs, and a quick run's timings mean
        // nothing: count during the timeline to stay well under 30 s.
        std::thread::scope(|scope| {
            let counting = scope.spawn(count_instructions);
            eprintln!("timeline: {:.1} s", plan.timeline.end.as_secs_f64());
            let timeline = timeline::run(&rig, &plan);
            (timeline, counting.join().expect("counting never panics"))
        })
    } else {
        eprintln!("timeline: {:.1} s", plan.timeline.end.as_secs_f64());
        let timeline = timeline::run(&rig, &plan);
        (timeline, count_instructions())
    };
    let elapsed = started.elapsed();
    let background = report::MachineLoad::now().since(&machine_before, elapsed);

    let report = report::Report {
        plan: &plan,
        pinning: &rig.pinning,
        throughput: &throughput,
        detection: &detection,
        instructions: &instructions,
        elapsed,
        background,
    };
    let text = report.render();
    let metrics = report.metrics();
    let subtitle = report.subtitle();
    let mut failures = Vec::new();
    if let Err(err) = plot::throughput(&out.join("throughput.svg"), &report.bars(), &subtitle) {
        failures.push(format!("throughput.svg: {err}"));
    }
    if let Err(err) = plot::timeline(&out.join("timeline.svg"), &timeline, &subtitle) {
        failures.push(format!("timeline.svg: {err}"));
    }
    let metric_lines: String = metrics
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect();
    for (file, contents) in [("report.md", &text), ("metrics.txt", &metric_lines)] {
        if let Err(err) = std::fs::write(out.join(file), contents) {
            failures.push(format!("{file}: {err}"));
        }
    }
    println!("{text}");
    println!("figures and report in {}", out.display());
    for failure in &failures {
        println!("could not write {failure}");
    }
    print!("{metric_lines}");
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `docs/bench` (or `target/redis-gate-bench` for a quick run) in the workspace, when the
/// binary runs where it was built; else under the current directory.
fn default_out(quick: bool) -> PathBuf {
    let relative = if quick {
        "target/redis-gate-bench"
    } else {
        "docs/bench"
    };
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if workspace.join("Cargo.toml").is_file() {
        workspace.join(relative)
    } else {
        PathBuf::from(relative)
    }
}
