//! The bench rig: a server runtime and a load-generator runtime, one worker thread each, and real
//! `redis-server` processes next to the server. With two cores allowed (choose them with
//! `taskset -c`), the server side (its runtime, the monitors on it, every `redis-server`) runs on
//! the first and the load generator on the second.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::Pid;
use redis_gate::monitor::Snapshot;
use redis_gate::{Availability, RedisConfig, RedisMonitor};
use redis_gate_testkit::http::TestServer;
use redis_gate_testkit::redis::RedisServer;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tower::Service;

/// How long the rig waits for a monitor to see what it expects before giving up.
pub const TRANSITION_DEADLINE: Duration = Duration::from_secs(15);

/// The two runtimes and where they run.
pub struct Rig {
    /// The server side: HTTP servers and monitors.
    pub server: Runtime,
    /// The load generator.
    pub client: Runtime,
    /// The server side's core and the load generator's, when pinned.
    cores: Option<[usize; 2]>,
    /// Where things run, for the report.
    pub pinning: String,
}

impl Rig {
    /// Builds both runtimes, on cores of their own when `pin` and the machine allow it.
    pub fn new(pin: bool) -> Rig {
        let cores = two_cores(pin);
        let pinning = match &cores {
            Ok([server, client]) => format!(
                "server, monitors and redis-server on cpu {server}, load generator on cpu {client}"
            ),
            Err(why) => format!("off ({why})"),
        };
        let cores = cores.ok();
        let runtime = |name: &str, cpu: Option<usize>| {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(1).thread_name(name).enable_all();
            builder.on_thread_start(move || _ = cpu.map(pin_thread));
            builder.build().expect("a tokio runtime")
        };
        Rig {
            server: runtime("bench-server", cores.map(|[server, _]| server)),
            client: runtime("bench-client", cores.map(|[_, client]| client)),
            cores,
            pinning,
        }
    }

    /// Runs `future` on the server runtime's worker and waits for it.
    pub fn on_server<F: Future<Output: Send> + Send + 'static>(&self, future: F) -> F::Output {
        self.join(self.server.spawn(future))
    }

    /// Runs `future` on the load generator's worker and waits for it.
    pub fn on_client<F: Future<Output: Send> + Send + 'static>(&self, future: F) -> F::Output {
        self.join(self.client.spawn(future))
    }

    /// Waits on the calling (non-runtime) thread for `task`, on either runtime.
    pub fn join<T>(&self, task: JoinHandle<T>) -> T {
        let output = self.client.block_on(task);
        output.expect("bench tasks never panic")
    }

    /// CPU time (user + system) the server's and the load generator's worker threads have used.
    pub fn worker_cpu(&self) -> [Duration; 2] {
        let server = self.on_server(async { thread_cpu() });
        [server, self.on_client(async { thread_cpu() })]
    }

    /// Serves `service` (a router, or layers around one) over HTTP/1.1 on a loopback port, on
    /// the server runtime.
    pub fn serve<S>(&self, service: S) -> TestServer
    where
        S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        self.on_server(TestServer::spawn(service))
    }

    /// Runs `start` on a thread pinned to the server's core, so that the `redis-server` it
    /// starts (and every thread of it) runs there.
    fn on_server_core<T: Send>(&self, start: impl FnOnce() -> T + Send) -> T {
        let pinned = || {
            _ = self.cores.map(|[cpu, _]| pin_thread(cpu));
            start()
        };
        thread::scope(|scope| scope.spawn(pinned).join())
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Starts a `redis-server` on a free port, on the server's core.
    pub fn start_redis(&self) -> RedisServer {
        self.on_server_core(RedisServer::start)
    }

    /// Restarts `server` (killing it first if it runs) on the server's core and returns when it
    /// first accepted a TCP connection, seen by polling every half millisecond.
    pub fn restart_timed(&self, server: &mut RedisServer) -> Instant {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port()));
        server.kill();
        let accepted = thread::scope(|scope| {
            let poller = scope.spawn(move || {
                let deadline = Instant::now() + TRANSITION_DEADLINE;
                while Instant::now() < deadline {
                    if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                        return Some(Instant::now());
                    }
                    thread::sleep(Duration::from_micros(500));
                }
                None
            });
            self.on_server_core(|| server.restart_accepting());
            poller.join().expect("the poller never panics")
        });
        accepted.expect("redis-server accepts connections after a restart")
    }

    /// Starts a monitor with the default settings on the server runtime and waits until it says
    /// Redis is available.
    ///
    /// # Panics
    ///
    /// If the monitor does not connect.
    pub fn start_monitor(&self, server: &RedisServer) -> RedisMonitor {
        let config = RedisConfig::from_url(&server.url()).expect("a valid test URL");
        let monitor = (self.on_server(RedisMonitor::start(config))).expect("the monitor starts");
        self.wait_for(&monitor.availability(), true)
            .expect("the monitor connects to a fresh redis-server");
        monitor
    }

    /// How long after `since` the monitor wrote that `redis.is_available() == available`.
    ///
    /// # Panics
    ///
    /// If it does not within [`TRANSITION_DEADLINE`].
    pub fn time_to(&self, redis: &Availability, available: bool, since: Instant) -> Duration {
        let Some(snapshot) = self.wait_for(redis, available) else {
            panic!("the monitor did not say available={available} within {TRANSITION_DEADLINE:?}");
        };
        snapshot.changed_at().saturating_duration_since(since)
    }

    /// Waits until `redis.is_available() == available` and returns the snapshot that says so
    /// (its `changed_at` is when the monitor wrote the transition), or `None` after
    /// [`TRANSITION_DEADLINE`]. Call it from a plain thread, not a runtime worker.
    pub fn wait_for(&self, redis: &Availability, available: bool) -> Option<Snapshot> {
        let mut changes = redis.subscribe();
        let deadline = Instant::now() + TRANSITION_DEADLINE;
        loop {
            let snapshot = changes.snapshot();
            if snapshot.is_available() == available {
                return Some(snapshot);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let changed = (self.server.handle())
                .block_on(async { tokio::time::timeout(left, changes.changed()).await });
            if !matches!(changed, Ok(Some(_))) {
                return None;
            }
        }
    }
}

/// The first two cores this process may use, or why there are not two to pin to. Pinning is
/// tried once on a scratch thread, so that a refusal shows in the report.
fn two_cores(pin: bool) -> Result<[usize; 2], String> {
    if !pin {
        return Err("--no-pin".to_owned());
    }
    let set = sched_getaffinity(Pid::from_raw(0));
    let set = set.map_err(|err| format!("sched_getaffinity: {err}"))?;
    let is_allowed = |cpu: &usize| set.is_set(*cpu).unwrap_or(false);
    let allowed: Vec<usize> = (0..CpuSet::count()).filter(is_allowed).collect();
    let [server, client, ..] = allowed[..] else {
        return Err(format!("only {} core allowed", allowed.len()));
    };
    let tried = thread::scope(|scope| scope.spawn(|| pin_thread(client)).join());
    tried
        .expect("pinning never panics")
        .map_err(|err| format!("sched_setaffinity: {err}"))?;
    Ok([server, client])
}

/// Pins the calling thread, and every thread and process it starts from now on, to `cpu`.
fn pin_thread(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)
}

/// CPU time (user + system) of the calling thread; zero if the kernel does not say.
fn thread_cpu() -> Duration {
    getrusage(UsageWho::RUSAGE_THREAD).map_or(Duration::ZERO, |usage| {
        cpu_time(usage.user_time()) + cpu_time(usage.system_time())
    })
}

/// A `getrusage` time as a [`Duration`].
fn cpu_time(time: nix::sys::time::TimeVal) -> Duration {
    Duration::from_secs(u64::try_from(time.tv_sec()).unwrap_or(0))
        + Duration::from_micros(u64::try_from(time.tv_usec()).unwrap_or(0))
}

/// Seconds the whole machine has spent busy (everything but idle and iowait, from
/// `/proc/stat`) minus this process's CPU time: the difference of two readings is what other
/// processes used in between. NaN when the kernel does not say.
pub fn others_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "));
    let ticks: Vec<u64> = cpu
        .unwrap_or("")
        .split_whitespace()
        .flat_map(str::parse)
        .collect();
    let [_, _, _, idle, iowait, ..] = ticks[..] else {
        return f64::NAN;
    };
    // USER_HZ is 100 on every Linux this runs on.
    let busy = (ticks.iter().take(8).sum::<u64>() - idle - iowait) as f64 / 100.0;
    let own = getrusage(UsageWho::RUSAGE_SELF)
        .map(|own| cpu_time(own.user_time()) + cpu_time(own.system_time()));
    busy - own.map_or(f64::NAN, |own| own.as_secs_f64())
}
