//! The harness binary as a user runs it.

use std::process::Command;

use redis_gate_bench::stacks::Stack;
use strum::IntoEnumIterator;

const HARNESS: &str = env!("CARGO_BIN_EXE_redis-gate-bench");

/// The metric lines the issue requires, in order.
const REQUIRED_METRICS: [&str; 13] = [
    "require_instr_overhead",
    "probe_pass_instr_overhead",
    "check_instr_overhead",
    "gate_rps_ratio",
    "naive_ping_rps_ratio",
    "atomic_bool_rps_ratio",
    "frozen_p99_ratio",
    "reject_rps_ratio",
    "detect_kill_ms_max",
    "detect_stop_ms_max",
    "recover_ms_median",
    "recover_ms_max",
    "ready_p99_us_frozen",
];

#[test]
fn every_in_process_stack_answers_200_in_the_callgrind_child_mode() {
    for stack in Stack::iter() {
        let status = Command::new(HARNESS)
            .args(["instr-child", stack.name(), "2", "5"])
            .status()
            .expect("the harness runs");
        assert!(status.success(), "{}: {status}", stack.name());
    }
}

#[test]
fn an_unknown_stack_is_refused() {
    let output = Command::new(HARNESS)
        .args(["instr-child", "nonsense", "1", "2"])
        .output()
        .expect("the harness runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no stack called nonsense"));
}

/// The smoke run `.ci/run` does: every section runs against real redis-server processes and
/// every required metric is printed, last, as `name=value`, a number. Nothing is asserted about
/// speed. The instruction counts need valgrind: without it this fails, rather than pass with
/// fewer metrics than it names.
#[test]
#[ignore = "about 25 s; .ci/run runs it as its own step"]
fn quick_run_prints_every_required_metric_last() {
    let valgrind = Command::new("valgrind").arg("--version").output();
    assert!(
        valgrind.is_ok_and(|out| out.status.success()),
        "valgrind is missing, so the *_instr_overhead metrics cannot be measured: install it \
         (apt-get install -y valgrind)"
    );
    let out_dir = tempfile_dir();
    let output = Command::new(HARNESS)
        .arg("--quick")
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "the quick run failed");

    let lines: Vec<&str> = stdout.lines().collect();
    let metrics: Vec<(&str, &str)> = lines
        .iter()
        .rev()
        .take_while(|line| line.contains('=') && !line.contains(' '))
        .filter_map(|line| line.split_once('='))
        .collect();
    for name in REQUIRED_METRICS {
        let value = metrics
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {name}= line at the end of the output"));
        assert!(
            value.parse::<f64>().is_ok_and(f64::is_finite),
            "{name}={value} is not a number"
        );
    }
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap_or_default();
    for section in [
        "## Redis up",
        "## Redis down",
        "## Redis frozen",
        "## Detection and recovery",
        "## Timeline",
        "## Instructions per request",
    ] {
        assert!(
            report.contains(section),
            "report.md has no {section:?} section"
        );
    }
    let metrics = std::fs::read_to_string(out_dir.join("metrics.txt")).unwrap_or_default();
    for name in REQUIRED_METRICS {
        assert!(
            metrics.contains(&format!("{name}=")),
            "metrics.txt has no {name}"
        );
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("redis-gate-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
