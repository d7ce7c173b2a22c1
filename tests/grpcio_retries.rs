//! The gRPC example (`examples/grpc.rs`) called by a real gRFC A6 client: Python's grpcio with
//! the standard retry policy (`maxAttempts: 5`, `retryableStatusCodes: ["UNAVAILABLE"]`), which
//! honours the gate's `grpc-retry-pushback-ms`. tonic has no A6 retries, so only a client like
//! this one shows that a retrying call is served right: grpc-core never sends the retry a
//! pushback of `0` asks for, and a call that got one hung until its deadline.
//!
//! grpcio comes from a virtual environment that `.ci/grpcio-venv` creates when it is missing
//! (`GRPCIO_PYTHON` names another interpreter that has it). Attempts are counted where the
//! server sees them: a relay in front of the example counts the HTTP/2 `HEADERS` frames the
//! client sends, one per attempt of a unary call.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis_gate_testkit::poll::DEADLINE;
use redis_gate_testkit::process::{Spawned, built};
use redis_gate_testkit::redis::{RedisServer, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The retry policy's `maxAttempts` in `tests/grpcio/retrying_call.py`.
const MAX_ATTEMPTS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_call_succeeds_when_redis_returns_during_it() {
    let mut rig = Rig::start().await;
    rig.take_redis_down().await;

    let call = rig.call(Duration::from_secs(15));
    // The scenario: Redis comes back 0.3 s into the call.
    std::thread::sleep(Duration::from_millis(300));
    rig.redis.restart();

    let outcome = rig.outcome(&call, Duration::from_secs(15));
    assert_eq!(outcome.code, "OK", "{outcome}");
    assert!((2..=MAX_ATTEMPTS).contains(&outcome.attempts), "{outcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_gets_unavailable_after_every_attempt_while_redis_stays_down() {
    let mut rig = Rig::start().await;
    rig.take_redis_down().await;

    let call = rig.call(Duration::from_secs(30));
    let outcome = rig.outcome(&call, Duration::from_secs(30));
    assert_eq!(outcome.code, "UNAVAILABLE", "{outcome}");
    assert_eq!(outcome.attempts, MAX_ATTEMPTS, "{outcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_made_during_a_long_outage_succeeds_when_redis_returns() {
    let mut rig = Rig::start().await;
    let down_since = Instant::now();
    rig.take_redis_down().await;
    // The scenario: Redis has been down for 3 s, so the monitor's backoff has grown.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(down_since.elapsed()));

    let call = rig.call(Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    rig.redis.restart();

    let outcome = rig.outcome(&call, Duration::from_secs(30));
    assert_eq!(outcome.code, "OK", "{outcome}");
    assert!((2..=MAX_ATTEMPTS).contains(&outcome.attempts), "{outcome}");
}

/// Redis, the gRPC example on it, and the attempt-counting relay in front of the example.
struct Rig {
    redis: RedisServer,
    example: Spawned,
    example_addr: String,
    relay: HeadersRelay,
}

impl Rig {
    async fn start() -> Rig {
        let redis = RedisServer::start();
        let example_addr = format!("127.0.0.1:{}", free_port());
        let binary = built(
            "examples/grpc",
            "cargo build --example grpc --features tonic-health",
        );
        let example = Spawned::start(
            &binary,
            &[("REDIS_URL", &redis.url()), ("BIND_ADDR", &example_addr)],
        );
        assert!(
            example.wait_for_line("listening on", DEADLINE).is_some(),
            "{}",
            example.output()
        );
        let relay = HeadersRelay::start(&example_addr).await;
        Rig {
            redis,
            example,
            example_addr,
            relay,
        }
    }

    /// Stops Redis and waits until the example's health service says so.
    async fn take_redis_down(&mut self) {
        self.redis.stop();
        let channel = Channel::from_shared(format!("http://{}", self.example_addr))
            .unwrap()
            .connect()
            .await
            .expect("connect to the example");
        let mut health = HealthClient::new(channel);
        let until = Instant::now() + DEADLINE;
        loop {
            let reply = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .expect("a health check")
                .into_inner();
            if reply.status == ServingStatus::NotServing as i32 {
                return;
            }
            assert!(
                Instant::now() < until,
                "the example never saw Redis go down\n{}",
                self.example.output()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts one retrying call through the relay and returns once it has started.
    fn call(&self, deadline: Duration) -> Spawned {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/grpcio/retrying_call.py");
        let call = Spawned::start_with_args(
            &grpcio_python(),
            &[
                script.to_str().unwrap(),
                &self.relay.addr,
                &deadline.as_secs_f64().to_string(),
            ],
            &[],
        );
        assert!(
            call.wait_for_line("calling", DEADLINE).is_some(),
            "{}",
            call.output()
        );
        call
    }

    /// How the call ended.
    fn outcome(&self, call: &Spawned, deadline: Duration) -> Outcome {
        let until = Instant::now() + deadline + DEADLINE;
        let line = loop {
            if let Some(line) = call.stdout().into_iter().find(|line| line.contains(' ')) {
                break line;
            }
            assert!(
                Instant::now() < until,
                "the call never ended\n{}",
                call.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let (code, seconds) = line.split_once(' ').unwrap_or_default();
        Outcome {
            code: code.to_owned(),
            seconds: seconds.to_owned(),
            attempts: self.relay.headers.load(Ordering::SeqCst),
        }
    }
}

struct Outcome {
    /// The call's gRPC status code, by name.
    code: String,
    /// How long the whole call took, as the client measured it.
    seconds: String,
    /// The attempts that reached the example.
    attempts: usize,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Outcome {
            code,
            seconds,
            attempts,
        } = self;
        write!(f, "{code} after {seconds} s and {attempts} attempts")
    }
}

/// A TCP relay that counts the HTTP/2 `HEADERS` frames clients send through it. A unary gRPC
/// attempt opens a stream with one `HEADERS` frame (gRPC clients send no trailers), so the count
/// is the number of attempts that reached the server.
struct HeadersRelay {
    addr: String,
    headers: Arc<AtomicUsize>,
}

impl HeadersRelay {
    async fn start(upstream: &str) -> HeadersRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let headers = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_owned();
        let counter = Arc::clone(&headers);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                tokio::spawn(relay(client, server, Arc::clone(&counter)));
            }
        });
        HeadersRelay { addr, headers }
    }
}

async fn relay(client: TcpStream, server: TcpStream, headers: Arc<AtomicUsize>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let replies = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut frames = FrameCounter::new(headers);
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
        frames.feed(&buffer[..n]);
        if server_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    replies.abort();
}

/// Follows the frames of a client's HTTP/2 byte stream (RFC 9113 §3.4, §4.1) across reads.
struct FrameCounter {
    /// Bytes still to pass over: the connection preface, then each frame's payload.
    skip: usize,
    header: Vec<u8>,
    headers: Arc<AtomicUsize>,
}

impl FrameCounter {
    const PREFACE: usize = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".len();
    const HEADER: usize = 9;
    const HEADERS_TYPE: u8 = 0x1;

    fn new(headers: Arc<AtomicUsize>) -> FrameCounter {
        FrameCounter {
            skip: Self::PREFACE,
            header: Vec::with_capacity(Self::HEADER),
            headers,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (Self::HEADER - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == Self::HEADER {
                let length =
                    u32::from_be_bytes([0, self.header[0], self.header[1], self.header[2]]);
                if self.header[3] == Self::HEADERS_TYPE {
                    self.headers.fetch_add(1, Ordering::SeqCst);
                }
                self.skip = length as usize;
                self.header.clear();
            }
        }
    }
}

/// A Python interpreter with grpcio: `GRPCIO_PYTHON`, or the one `.ci/grpcio-venv` makes (once
/// for all the tests here, which run in parallel).
fn grpcio_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(find_grpcio_python).clone()
}

fn find_grpcio_python() -> PathBuf {
    if let Some(python) = std::env::var_os("GRPCIO_PYTHON") {
        return python.into();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/grpcio-venv");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .expect("run .ci/grpcio-venv");
    assert!(
        output.status.success(),
        ".ci/grpcio-venv could not make a Python environment with grpcio (python3 with venv and \
         pip, and access to PyPI, are needed):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .last()
        .expect("the interpreter's path")
        .into()
}
