//! The load generator: hyper's HTTP/1.1 client on keep-alive connections, closed loop (each
//! connection sends its next request when the previous answer is read), for a fixed time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::stats;

/// One HTTP/1.1 keep-alive connection.
pub struct Conn {
    sender: SendRequest<Empty<Bytes>>,
    driver: JoinHandle<()>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let handshake = http1::handshake(TokioIo::new(stream)).await;
        let (sender, connection) = handshake.map_err(std::io::Error::other)?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn { sender, driver })
    }

    /// `GET path`, body read to the end; returns the status.
    pub async fn get(&mut self, path: &str) -> Result<u16, hyper::Error> {
        self.sender.ready().await?;
        let mut req = Request::get(path)
            .body(Empty::new())
            .expect("a valid request");
        req.headers_mut()
            .insert(HOST, HeaderValue::from_static("127.0.0.1"));
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        res.into_body().collect().await?;
        Ok(status)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A load run: `connections` connections send `GET path` to `addr` in a closed loop for
/// `warmup + measure`; requests that start during the warm-up are not counted.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The server.
    pub addr: SocketAddr,
    /// The path every request asks for.
    pub path: &'static str,
    /// Concurrent connections.
    pub connections: usize,
    /// Uncounted time at the start.
    pub warmup: Duration,
    /// Counted time.
    pub measure: Duration,
    /// A request without a complete answer after this long counts as timed out (with this
    /// latency) and its connection is replaced.
    pub timeout: Duration,
}

/// What a load run measured.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Latencies of the counted requests (answered or timed out), in nanoseconds, sorted.
    pub latencies: Vec<u64>,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Counted requests that failed on the connection.
    pub failed: u64,
    /// Counted requests that timed out.
    pub timed_out: u64,
    /// The counted window.
    pub window: Duration,
    /// CPU time the server's worker thread used during the whole run (warm-up included).
    pub server_cpu: Duration,
    /// CPU time the load generator's worker thread used during the whole run.
    pub client_cpu: Duration,
    /// Wall time of the whole run (warm-up included).
    pub wall: Duration,
    /// Requests answered during the whole run (warm-up included), for the CPU figures.
    pub answered_total: u64,
}

impl Run {
    /// Adds `other`'s requests and answers to this run's (not its times).
    pub fn add(&mut self, other: &Run) {
        self.latencies.extend(&other.latencies);
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        self.answered_total += other.answered_total;
    }

    /// Answered requests per second of the counted window.
    pub fn rps(&self) -> f64 {
        self.statuses.values().sum::<u64>() as f64 / self.window.as_secs_f64()
    }

    /// Server CPU microseconds per answered request: what the service costs, whatever else the
    /// machine is doing.
    pub fn server_cpu_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.answered_total.max(1) as f64
    }

    /// Share of the run's wall time the server's worker thread was on a CPU.
    pub fn server_busy(&self) -> f64 {
        self.server_cpu.as_secs_f64() / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Share of the run's wall time the load generator's worker thread was on a CPU.
    pub fn client_busy(&self) -> f64 {
        self.client_cpu.as_secs_f64() / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The `q` quantile of the latencies, in microseconds.
    pub fn latency_us(&self, q: f64) -> f64 {
        stats::quantile_sorted(&self.latencies, q) as f64 / 1_000.0
    }

    /// `200 ×n, 503 ×m, …` for the report.
    pub fn describe_answers(&self) -> String {
        let statuses = self.statuses.iter();
        let mut parts: Vec<String> = statuses
            .map(|(status, n)| format!("{status} ×{n}"))
            .collect();
        for (word, n) in [("failed", self.failed), ("timed out", self.timed_out)] {
            if n > 0 {
                parts.push(format!("{word} ×{n}"));
            }
        }
        parts.join(", ")
    }
}

pub async fn run(spec: Spec) -> Run {
    let (spec, start) = (Arc::new(spec), Instant::now());
    let spawn = |_| tokio::spawn(connection(Arc::clone(&spec), start));
    let tasks: Vec<_> = (0..spec.connections).map(spawn).collect();
    let mut run = Run::default();
    for task in tasks {
        run.add(&task.await.expect("a load task never panics"));
    }
    run.latencies.sort_unstable();
    run.window = spec.measure;
    run
}

async fn connection(spec: Arc<Spec>, start: Instant) -> Run {
    let counted_from = start + spec.warmup;
    let end = counted_from + spec.measure;
    let mut part = Run::default();
    let mut conn: Option<Conn> = None;
    loop {
        let mut open = match conn.take() {
            Some(open) => open,
            None => match Conn::open(spec.addr).await {
                Ok(open) => open,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    if Instant::now() >= end {
                        break;
                    }
                    continue;
                }
            },
        };
        let began = Instant::now();
        if began >= end {
            break;
        }
        let answer = tokio::time::timeout(spec.timeout, open.get(spec.path)).await;
        let counted = began >= counted_from;
        match answer {
            Ok(Ok(status)) => {
                conn = Some(open);
                part.answered_total += 1;
                if counted {
                    part.latencies.push(nanos(began.elapsed()));
                    *part.statuses.entry(status).or_default() += 1;
                }
            }
            Ok(Err(_)) => part.failed += u64::from(counted),
            Err(_) if counted => {
                part.latencies.push(nanos(began.elapsed()));
                part.timed_out += 1;
            }
            Err(_) => {}
        }
    }
    part
}

/// `duration` in nanoseconds, saturating.
pub fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
