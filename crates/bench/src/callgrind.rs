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
use std::thread;

use redis_gate_bench::stacks::{Prepared, Stack};

/// Instructions per request of each stack.
#[derive(Clone, Debug)]
pub struct Counts {
    /// `(stack, instructions per request)`, in the order asked for.
    pub per_request: Vec<(Stack, f64)>,
    /// Requests per measured run: `(small, large)`.
    pub requests: (usize, usize),
}

impl Counts {
    /// Instructions per request of `stack`.
    pub fn of(&self, stack: Stack) -> Option<f64> {
        let found = self.per_request.iter().find(|(s, _)| *s == stack);
        found.map(|(_, n)| *n)
    }

    /// Extra instructions per request of `stack` over `base`.
    pub fn over(&self, stack: Stack, base: Stack) -> Option<f64> {
        Some(self.of(stack)? - self.of(base)?)
    }

    /// Extra instructions per request of `stack` over a layer that does nothing in the same
    /// place (see [`Stack::reference`]): the layer's own share.
    pub fn own_cost(&self, stack: Stack) -> Option<f64> {
        self.over(stack, stack.reference()?)
    }
}

/// Counts `stacks`, two valgrind processes at a time.
pub fn measure(stacks: &[Stack], small: usize, large: usize) -> Result<Counts, String> {
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|out| out.status.success()) {
        return Err("valgrind not found".to_owned());
    }
    eprintln!(
        "callgrind: instructions per request of {} stacks",
        stacks.len()
    );
    let exe = std::env::current_exe().map_err(|err| format!("current_exe: {err}"))?;
    let count = |stack| per_request(&exe, stack, small, large).map(|n| (stack, n));
    let count_all = |stacks: &[Stack]| stacks.iter().map(|&stack| count(stack)).collect::<Vec<_>>();
    let (first, second) = stacks.split_at(stacks.len() / 2);
    let (first, second) = thread::scope(|scope| {
        let second = scope.spawn(|| count_all(second));
        (
            count_all(first),
            second.join().expect("counting never panics"),
        )
    });
    let per_request = first.into_iter().chain(second).collect::<Result<_, _>>()?;
    Ok(Counts {
        per_request,
        requests: (small, large),
    })
}

/// Instructions per request of `stack`: one valgrind run of [`child`]; the parts callgrind dumps
/// after the small and the large run differ by `large - small` requests.
fn per_request(exe: &Path, stack: Stack, small: usize, large: usize) -> Result<f64, String> {
    let name = stack.name();
    let dir = format!("redis-gate-bench-callgrind-{}-{name}", std::process::id());
    let dir = std::env::temp_dir().join(dir);
    std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let out_file = format!("--callgrind-out-file={}/callgrind.out", dir.display());
    // `*measure_region` and not `*measure_region*`: the latter also matches the closures inside
    // it, and a toggle on a closure would leave its instructions out.
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--toggle-collect=*measure_region"])
        .arg("--dump-after=*measure_region")
        .arg(out_file)
        .arg(exe)
        .args(["instr-child", name, &small.to_string(), &large.to_string()])
        .output()
        .map_err(|err| format!("valgrind: {err}"));
    // The region runs four times (two warm-ups, then `small` and `large` requests), and
    // callgrind dumps a numbered part after each.
    let [small_part, large_part] =
        [3, 4].map(|part| totals(&dir.join(format!("callgrind.out.{part}"))));
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("valgrind on {name} failed: {stderr}"));
    }
    let (Some(small_part), Some(large_part)) = (small_part, large_part) else {
        return Err(format!("{name}: callgrind wrote no fourth part"));
    };
    Ok((large_part as f64 - small_part as f64) / (large as f64 - small as f64))
}

/// The instructions counted in a callgrind output file (its `totals:` line).
fn totals(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let totals = text.lines().find_map(|line| line.strip_prefix("totals:"))?;
    totals.split_whitespace().next()?.parse().ok()
}

/// The `instr-child` mode: prepares `stack` twice (each warm-up goes through the measured
/// region), then sends `small` and `large` requests through it.
pub fn child(stack: Stack, small: usize, large: usize) {
    let first = Prepared::new(stack, small);
    let second = Prepared::new(stack, large);
    assert_eq!(first.run(), small, "every request answered 200");
    assert_eq!(second.run(), large, "every request answered 200");
}
