//! Instructions per request of the in-process stacks, counted by callgrind.
//!
//! The harness runs itself under `valgrind --tool=callgrind`, in its hidden `instr-child` mode,
//! once per stack, collecting only
//! [`measure_region`](redis_gate_bench::stacks::measure_region) and dumping after each call of
//! it: once with `small` and once with `large` requests. The difference divided by
//! `large - small` is the cost of one request, without the fixed costs of the region.
//! Callgrind counts instructions, not time: the figures do not move with the machine's load.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;

use redis_gate_bench::stacks::{Prepared, Stack};

/// Instructions per request of each stack.
#[derive(Clone, Debug)]
pub struct Counts {
    /// `(stack, instructions per request)`, in the order measured.
    pub per_request: Vec<(Stack, f64)>,
    /// Requests per measured run: `(small, large)`.
    pub requests: (usize, usize),
}

impl Counts {
    /// Instructions per request of `stack`.
    pub fn of(&self, stack: Stack) -> Option<f64> {
        self.per_request
            .iter()
            .find(|(s, _)| *s == stack)
            .map(|(_, n)| *n)
    }

    /// Extra instructions per request of `stack` over the bare router.
    pub fn overhead(&self, stack: Stack) -> Option<f64> {
        Some(self.of(stack)? - self.of(Stack::Bare)?)
    }

    /// Extra instructions per request of `stack` over the bare Tower service.
    pub fn overhead_over_tower(&self, stack: Stack) -> Option<f64> {
        Some(self.of(stack)? - self.of(Stack::TowerBare)?)
    }

    /// Extra instructions per request of `stack` over a layer that does nothing in the same
    /// place (see [`Stack::reference`]): the layer's own share.
    pub fn own_cost(&self, stack: Stack) -> Option<f64> {
        Some(self.of(stack)? - self.of(stack.reference()?)?)
    }
}

/// Whether `valgrind` can be run.
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Counts `stacks`, two valgrind processes at a time.
pub fn measure(stacks: &[Stack], small: usize, large: usize) -> Result<Counts, String> {
    if !available() {
        return Err("valgrind not found".to_owned());
    }
    let exe = std::env::current_exe().map_err(|err| format!("current_exe: {err}"))?;
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(&stack) = stacks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let count = per_request(&exe, stack, small, large);
                    results
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((stack, count));
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut per_request = Vec::new();
    for &stack in stacks {
        let (_, count) = results
            .iter()
            .find(|(s, _)| *s == stack)
            .expect("every stack ran");
        per_request.push((stack, count.clone()?));
    }
    Ok(Counts {
        per_request,
        requests: (small, large),
    })
}

/// Instructions per request of `stack`: one valgrind run of [`child`], which goes through the
/// measured region four times (two warm-ups, then `small` and `large` requests); callgrind
/// dumps a part after each, and the last two parts differ by `large - small` requests.
fn per_request(exe: &Path, stack: Stack, small: usize, large: usize) -> Result<f64, String> {
    let dir = std::env::temp_dir().join(format!(
        "redis-gate-bench-callgrind-{}-{}",
        std::process::id(),
        stack.name()
    ));
    std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let out = dir.join("callgrind.out");
    // `*measure_region` and not `*measure_region*`: the latter also matches the closures inside
    // it, and a toggle on a closure would leave its instructions out.
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--toggle-collect=*measure_region")
        .arg("--dump-after=*measure_region")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args([
            "instr-child",
            stack.name(),
            &small.to_string(),
            &large.to_string(),
        ])
        .output()
        .map_err(|err| format!("valgrind: {err}"));
    let parts = read_parts(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    if !output.status.success() {
        return Err(format!(
            "valgrind on {} failed: {}",
            stack.name(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    match parts[..] {
        [.., small_part, large_part] if parts.len() >= 4 => {
            Ok((large_part as f64 - small_part as f64) / (large as f64 - small as f64))
        }
        _ => Err(format!(
            "expected four callgrind parts for {}, got {parts:?}",
            stack.name()
        )),
    }
}

/// The `totals:` of `callgrind.out.1`, `.2`, … in `dir`, in order.
fn read_parts(dir: &Path) -> Vec<u64> {
    let mut parts: Vec<(u32, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let index: u32 = name
                .to_str()?
                .strip_prefix("callgrind.out.")?
                .parse()
                .ok()?;
            let text = std::fs::read_to_string(entry.path()).ok()?;
            let totals = text
                .lines()
                .find_map(|line| line.strip_prefix("totals:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((index, totals))
        })
        .collect();
    parts.sort_unstable();
    parts.into_iter().map(|(_, totals)| totals).collect()
}

/// The `instr-child` mode: prepares `stack` twice (each warm-up goes through the measured
/// region), then sends `small` and `large` requests through it.
pub fn child(stack: &str, small: usize, large: usize) {
    let stack: Stack = stack
        .parse()
        .unwrap_or_else(|_| panic!("no stack called {stack}"));
    let first = Prepared::new(stack, small);
    let second = Prepared::new(stack, large);
    assert_eq!(first.run(), small, "every request answered 200");
    assert_eq!(second.run(), large, "every request answered 200");
}
