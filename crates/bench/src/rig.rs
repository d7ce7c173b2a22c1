//! The bench rig: a server runtime and a load-generator runtime, one worker thread each, pinned
//! to different cores when possible, and real `redis-server` processes next to the server.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use redis_gate::monitor::Snapshot;
use redis_gate::{Availability, RedisConfig, RedisMonitor};
use redis_gate_testkit::http::TestServer;
use redis_gate_testkit::redis::RedisServer;
use tokio::runtime::Runtime;
use tower::Service;

use crate::pin::{self, Pinning};

/// How long the rig waits for a monitor to see what it expects before giving up.
pub const TRANSITION_DEADLINE: Duration = Duration::from_secs(15);

/// The two runtimes and the pinning plan.
pub struct Rig {
    server: Runtime,
    client: Runtime,
    /// Where things run.
    pub pinning: Pinning,
}

impl Rig {
    /// Builds both runtimes, pinned as `pinning` says.
    pub fn new(pinning: Pinning) -> Rig {
        let runtime = |name: &str, cpu: Option<usize>| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(name)
                .enable_all()
                .on_thread_start(move || {
                    if let Some(cpu) = cpu {
                        let _ = pin::pin_thread(cpu);
                    }
                })
                .build()
                .expect("a tokio runtime")
        };
        Rig {
            server: runtime("bench-server", pinning.server),
            client: runtime("bench-client", pinning.client),
            pinning,
        }
    }

    /// Runs `future` on the server runtime's worker and waits for it.
    pub fn on_server<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.server
            .block_on(self.server.spawn(future))
            .expect("a server task never panics")
    }

    /// Runs `future` on the load generator's worker and waits for it.
    pub fn on_client<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.client
            .block_on(self.client.spawn(future))
            .expect("a client task never panics")
    }

    /// Starts `future` on the server runtime without waiting.
    pub fn spawn_server<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.server.spawn(future)
    }

    /// Starts `future` on the load generator's worker without waiting.
    pub fn spawn_client<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.client.spawn(future)
    }

    /// Waits on the calling (non-runtime) thread for `task`.
    pub fn join<T>(&self, task: tokio::task::JoinHandle<T>) -> T {
        self.client
            .handle()
            .block_on(task)
            .expect("a client task never panics")
    }

    /// CPU time (user + system) the server runtime's worker thread has used so far.
    pub fn server_cpu(&self) -> Duration {
        self.on_server(async { thread_cpu() })
    }

    /// CPU time (user + system) the load generator's worker thread has used so far.
    pub fn client_cpu(&self) -> Duration {
        self.on_client(async { thread_cpu() })
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

    /// Starts a `redis-server` on a free port, pinned next to the server.
    pub fn start_redis(&self) -> RedisServer {
        let server = RedisServer::start();
        self.pin_redis(&server);
        server
    }

    /// Pins a (re)started `redis-server` to the server's core.
    pub fn pin_redis(&self, server: &RedisServer) {
        if let (Some(cpu), Some(pid)) = (self.pinning.server, server.pid()) {
            let _ = pin::pin_process(pid, cpu);
        }
    }

    /// Starts a monitor with the default settings on the server runtime and waits until it says
    /// Redis is available.
    ///
    /// # Panics
    ///
    /// If the monitor does not connect.
    pub fn start_monitor(&self, server: &RedisServer) -> RedisMonitor {
        let config = RedisConfig::from_url(&server.url()).expect("a valid test URL");
        let monitor = self
            .on_server(RedisMonitor::start(config))
            .expect("the monitor starts");
        self.wait_for(&monitor.availability(), true)
            .expect("the monitor connects to a fresh redis-server");
        monitor
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
            let changed = self
                .server
                .handle()
                .block_on(async { tokio::time::timeout(left, changes.changed()).await });
            if !matches!(changed, Ok(Some(_))) {
                return None;
            }
        }
    }
}

/// CPU time (user + system) of the calling thread; zero if the kernel does not say.
fn thread_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_THREAD).map_or(Duration::ZERO, |usage| {
        let micros = |t: nix::sys::time::TimeVal| {
            Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
                + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
        };
        micros(usage.user_time()) + micros(usage.system_time())
    })
}

/// Restarts `server` (killing it first if it runs) and returns when it first accepted a TCP
/// connection, seen by polling every half millisecond.
pub fn restart_timed(rig: &Rig, server: &mut RedisServer) -> Instant {
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
        server.restart_accepting();
        poller.join().expect("the poller never panics")
    });
    rig.pin_redis(server);
    accepted.expect("redis-server accepts connections after a restart")
}
