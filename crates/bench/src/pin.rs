//! Pinning the server and the load generator to different cores, when the machine allows it.

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

/// Which cores the server side (HTTP server, monitors, redis-server) and the load generator use.
#[derive(Clone, Debug)]
pub struct Pinning {
    /// The server side's core, or `None` when not pinned.
    pub server: Option<usize>,
    /// The load generator's core, or `None` when not pinned.
    pub client: Option<usize>,
    /// What was decided, for the report.
    pub note: String,
}

impl Pinning {
    /// Server on the first allowed core, load generator on the second; no pinning with fewer
    /// than two cores, when asked not to, or when the kernel refuses.
    pub fn plan(enabled: bool) -> Pinning {
        let unpinned = |note: String| Pinning {
            server: None,
            client: None,
            note,
        };
        if !enabled {
            return unpinned("off (--no-pin)".to_owned());
        }
        let allowed = match sched_getaffinity(Pid::from_raw(0)) {
            Ok(set) => (0..CpuSet::count())
                .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                .collect::<Vec<_>>(),
            Err(err) => return unpinned(format!("off (sched_getaffinity: {err})")),
        };
        let [server, client, ..] = allowed[..] else {
            return unpinned(format!("off (only {} core allowed)", allowed.len()));
        };
        // Try it once here, so a refusal shows in the report instead of in every thread.
        let before = sched_getaffinity(Pid::from_raw(0));
        if let Err(err) = pin_thread(client) {
            return unpinned(format!("off (sched_setaffinity: {err})"));
        }
        if let Ok(before) = before {
            let _ = sched_setaffinity(Pid::from_raw(0), &before);
        }
        Pinning {
            server: Some(server),
            client: Some(client),
            note: format!(
                "server, monitors and redis-server on cpu {server}, load generator on cpu {client}"
            ),
        }
    }
}

/// Pins the calling thread to `cpu`.
pub fn pin_thread(cpu: usize) -> nix::Result<()> {
    pin_pid(0, cpu)
}

/// Pins every thread of process `pid` to `cpu`.
pub fn pin_process(pid: u32, cpu: usize) -> nix::Result<()> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if tasks.is_empty() {
        return pin_pid(pid, cpu);
    }
    tasks.into_iter().try_for_each(|tid| pin_pid(tid, cpu))
}

/// Pins thread `pid` (a process's main thread, or `0` for the calling thread) to `cpu`.
fn pin_pid(pid: u32, cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    let pid = i32::try_from(pid).map_err(|_| nix::Error::EINVAL)?;
    sched_setaffinity(Pid::from_raw(pid), &set)
}
