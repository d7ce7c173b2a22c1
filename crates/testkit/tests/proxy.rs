//! The fault proxy in front of a loopback echo server: every fault, open and new connections.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis_gate_testkit::poll::{DEADLINE, eventually};
use redis_gate_testkit::proxy::{Fault, FaultProxy};
use redis_gate_testkit::redis::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a read must stay unanswered to count as "never answered".
const SILENCE: Duration = Duration::from_millis(300);

/// An upstream that echoes every byte and counts the connections it accepted.
struct Echo {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Echo {
    async fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0; 1024];
                    while let Ok(n @ 1..) = stream.read(&mut buf).await {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Echo { addr, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Writes `message` and reads the echo, within the deadline.
async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(message).await?;
    let mut echo = vec![0; message.len()];
    tokio::time::timeout(DEADLINE, stream.read_exact(&mut echo))
        .await
        .map_err(|_| ErrorKind::TimedOut)??;
    Ok(echo)
}

/// What a read sees within `SILENCE`: `None` if nothing at all.
async fn read_within_silence(stream: &mut TcpStream) -> Option<std::io::Result<usize>> {
    let mut buf = [0; 64];
    tokio::time::timeout(SILENCE, stream.read(&mut buf))
        .await
        .ok()
}

/// The error kind of the next read, waiting up to the deadline; `None` for a clean EOF.
async fn read_error(stream: &mut TcpStream) -> Option<ErrorKind> {
    let mut buf = [0; 64];
    match tokio::time::timeout(DEADLINE, stream.read(&mut buf))
        .await
        .expect("the connection ends within the deadline")
    {
        Ok(0) => None,
        Ok(n) => panic!("unexpected {n} bytes"),
        Err(err) => Some(err.kind()),
    }
}

#[tokio::test]
async fn passes_bytes_both_ways() {
    let echo = Echo::start().await;
    let proxy = FaultProxy::start(echo.addr).await;
    assert_eq!(proxy.fault(), Fault::Pass);
    assert_eq!(proxy.upstream(), echo.addr);
    assert_eq!(
        proxy.redis_url(),
        format!("redis://127.0.0.1:{}", proxy.port())
    );

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut stream, b"hello").await.unwrap(), b"hello");
    let big = vec![7; 200_000];
    assert_eq!(round_trip(&mut stream, &big).await.unwrap(), big);
    assert_eq!(proxy.accepted(), 1);
    assert_eq!(proxy.open_connections(), 1);
    assert_eq!(echo.accepted(), 1);

    drop(stream);
    assert!(eventually(DEADLINE, || proxy.open_connections() == 0).await);
}

#[tokio::test]
async fn refuse_closes_the_port_and_pass_opens_the_same_port_again() {
    let echo = Echo::start().await;
    let proxy = FaultProxy::start(echo.addr).await;
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    // Relayed, not just waiting in the listen backlog (which closing the port resets).
    assert_eq!(round_trip(&mut open, b"warm").await.unwrap(), b"warm");

    proxy.set_fault(Fault::Refuse).await;
    let err = TcpStream::connect(proxy.addr()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(
        round_trip(&mut open, b"still here").await.unwrap(),
        b"still here",
        "open connections keep working"
    );

    proxy.set_fault(Fault::Pass).await;
    let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut again, b"back").await.unwrap(), b"back");
    assert_eq!(echo.accepted(), 2);
}

#[tokio::test]
async fn blackhole_accepts_and_never_answers_and_freezes_open_connections() {
    let echo = Echo::start().await;
    let proxy = FaultProxy::start(echo.addr).await;
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut open, b"warm").await.unwrap(), b"warm");

    proxy.set_fault(Fault::Blackhole).await;
    let mut held = TcpStream::connect(proxy.addr()).await.unwrap();
    held.write_all(b"anyone?").await.unwrap();
    assert!(read_within_silence(&mut held).await.is_none());
    open.write_all(b"frozen").await.unwrap();
    assert!(read_within_silence(&mut open).await.is_none());
    assert_eq!(
        echo.accepted(),
        1,
        "held connections never reach the upstream"
    );
    assert_eq!(proxy.open_connections(), 2);

    // The partition heals: the open connection gets its late echo, the held one is reset.
    proxy.set_fault(Fault::Pass).await;
    let mut echo_bytes = [0; 6];
    tokio::time::timeout(DEADLINE, open.read_exact(&mut echo_bytes))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo_bytes, b"frozen");
    assert_eq!(
        read_error(&mut held).await,
        Some(ErrorKind::ConnectionReset)
    );
}

#[tokio::test]
async fn reset_sends_rst_on_open_and_new_connections() {
    let echo = Echo::start().await;
    let proxy = FaultProxy::start(echo.addr).await;
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut open, b"warm").await.unwrap(), b"warm");

    proxy.set_fault(Fault::Reset).await;
    assert_eq!(
        read_error(&mut open).await,
        Some(ErrorKind::ConnectionReset)
    );
    let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_error(&mut new).await, Some(ErrorKind::ConnectionReset));
    assert_eq!(echo.accepted(), 1);
    assert!(eventually(DEADLINE, || proxy.open_connections() == 0).await);

    proxy.set_fault(Fault::Pass).await;
    let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut again, b"back").await.unwrap(), b"back");
}

#[tokio::test]
async fn latency_delays_each_direction() {
    let echo = Echo::start().await;
    let proxy = FaultProxy::start(echo.addr).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut stream, b"warm").await.unwrap();

    proxy.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(round_trip(&mut stream, b"slow").await.unwrap(), b"slow");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "round trip took {took:?}"
    );

    proxy.set_latency(Duration::ZERO);
    assert_eq!(round_trip(&mut stream, b"fast").await.unwrap(), b"fast");
}

#[tokio::test]
async fn cut_resets_the_open_connections_only() {
    let echo = Echo::start().await;
    let proxy = FaultProxy::start(echo.addr).await;
    let mut first = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut second = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut first, b"1").await.unwrap();
    round_trip(&mut second, b"2").await.unwrap();

    proxy.cut();
    assert_eq!(
        read_error(&mut first).await,
        Some(ErrorKind::ConnectionReset)
    );
    assert_eq!(
        read_error(&mut second).await,
        Some(ErrorKind::ConnectionReset)
    );
    assert_eq!(proxy.fault(), Fault::Pass);
    let mut later = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut later, b"3").await.unwrap(), b"3");
    assert!(eventually(DEADLINE, || proxy.open_connections() == 1).await);
}

#[tokio::test]
async fn a_dead_upstream_resets_new_connections() {
    let mut server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(b"PING\r\n").await.unwrap();
    let mut pong = [0; 7];
    tokio::time::timeout(DEADLINE, stream.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"+PONG\r\n");

    server.kill();
    assert_eq!(
        read_error(&mut stream).await,
        None,
        "closed as the server closed it"
    );
    let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_error(&mut new).await, Some(ErrorKind::ConnectionReset));
}

#[test]
fn set_fault_blocking_works_from_a_thread_outside_the_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let echo = runtime.block_on(Echo::start());
    let proxy = runtime.block_on(FaultProxy::start(echo.addr));
    std::thread::scope(|scope| {
        scope
            .spawn(|| proxy.set_fault_blocking(Fault::Refuse))
            .join()
            .unwrap();
    });
    assert_eq!(proxy.fault(), Fault::Refuse);
    let err = std::net::TcpStream::connect(proxy.addr()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn dropping_the_proxy_closes_its_port_and_connections() {
    let echo = Echo::start().await;
    let proxy = FaultProxy::start(echo.addr).await;
    let addr = proxy.addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut stream, b"x").await.unwrap();

    drop(proxy);
    assert_eq!(read_error(&mut stream).await, None);
    assert!(
        eventually(DEADLINE, || std::net::TcpStream::connect(addr).is_err()).await,
        "the port is closed"
    );
}
