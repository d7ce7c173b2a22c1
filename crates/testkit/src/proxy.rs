//! A TCP proxy on loopback that fails on command, to put between a client (the monitor, a pool)
//! and a real server (`redis-server`).
//!
//! | [`Fault`] | new connections | open connections |
//! |---|---|---|
//! | `Pass` | relayed to the upstream | relayed |
//! | `Refuse` | refused: nothing listens on the port (`ECONNREFUSED`) | still relayed |
//! | `Blackhole` | accepted, never answered, never relayed; reset when the blackhole ends | frozen: nothing is read or written either way until the blackhole ends, then relayed again (a healed partition) |
//! | `Reset` | accepted, then reset (RST) | reset (RST) |
//!
//! On top of any fault, [`set_latency`](FaultProxy::set_latency) delays every chunk relayed in
//! either direction, and [`cut`](FaultProxy::cut) resets every connection open at that moment.
//! A connection whose client or upstream closes is closed on the other side too (no half-close).
//!
//! ```no_run
//! use redis_gate_testkit::proxy::{Fault, FaultProxy};
//! use redis_gate_testkit::redis::RedisServer;
//!
//! # async fn run() {
//! let server = RedisServer::start();
//! let proxy = FaultProxy::start(server.addr()).await;
//! let url = proxy.redis_url(); // give this to the client under test
//! proxy.set_fault(Fault::Blackhole).await;
//! proxy.set_fault(Fault::Pass).await;
//! # }
//! ```

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::poll::DEADLINE;

/// Pause between two attempts to bind the port again after `Refuse`.
const REBIND_PAUSE: Duration = Duration::from_millis(10);
const BUFFER_SIZE: usize = 16 * 1024;

/// What the proxy does to connections; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Relays everything.
    Pass,
    /// Closes the listening socket, so new connections are refused; open ones keep working.
    Refuse,
    /// Accepts new connections and never answers them; freezes open ones.
    Blackhole,
    /// Resets every connection, open or new, with a TCP RST.
    Reset,
}

#[derive(Clone, Copy, Debug)]
struct Control {
    fault: Fault,
    latency: Duration,
    /// Bumped by `cut`: connections opened before the bump reset themselves.
    cut: u64,
    /// Bumped by every `set_fault`, acknowledged by the accept loop once the listener follows.
    version: u64,
}

#[derive(Default)]
struct Stats {
    accepted: AtomicU64,
    open: AtomicUsize,
}

/// A fault-injecting TCP proxy on `127.0.0.1:<free port>`, relaying to one upstream address.
/// Dropping it closes the port and every connection.
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    control: watch::Sender<Control>,
    applied: watch::Receiver<u64>,
    stats: Arc<Stats>,
    runtime: Handle,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts relaying to `upstream` (which need not be up yet: connections made while it is
    /// down are reset). Must be called within a Tokio runtime, which runs the proxy.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("bind a loopback port for the proxy");
        let addr = listener.local_addr().expect("local address");
        let (control, control_rx) = watch::channel(Control {
            fault: Fault::Pass,
            latency: Duration::ZERO,
            cut: 0,
            version: 0,
        });
        let (applied_tx, applied) = watch::channel(0);
        let stats = Arc::new(Stats::default());
        let accept = tokio::spawn(accept_loop(
            listener,
            addr,
            upstream,
            control_rx,
            applied_tx,
            Arc::clone(&stats),
        ));
        FaultProxy {
            addr,
            upstream,
            control,
            applied,
            stats,
            runtime: Handle::current(),
            accept,
        }
    }

    /// The address clients connect to; the port stays the same across `Refuse`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The upstream address.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port())
    }

    /// The current fault.
    pub fn fault(&self) -> Fault {
        self.control.borrow().fault
    }

    /// Switches to `fault`. Returns once the listening socket follows: after
    /// `set_fault(Fault::Refuse)` connections are refused, after any other fault they are
    /// accepted. Open connections react on their own task, within milliseconds.
    ///
    /// # Panics
    ///
    /// When the port cannot be bound again within [`DEADLINE`] (another process took it).
    pub async fn set_fault(&self, fault: Fault) {
        let mut version = 0;
        self.control.send_modify(|control| {
            control.fault = fault;
            control.version += 1;
            version = control.version;
        });
        let mut applied = self.applied.clone();
        let followed =
            tokio::time::timeout(DEADLINE, applied.wait_for(|applied| *applied >= version)).await;
        assert!(
            matches!(followed, Ok(Ok(_))),
            "the proxy on {} could not switch to {fault:?} within {DEADLINE:?}",
            self.addr
        );
    }

    /// [`set_fault`](Self::set_fault) for a thread outside the runtime (a chaos schedule on a
    /// thread of its own).
    ///
    /// # Panics
    ///
    /// When called from within an asynchronous context, or as `set_fault` does.
    pub fn set_fault_blocking(&self, fault: Fault) {
        self.runtime.block_on(self.set_fault(fault));
    }

    /// Delays every chunk relayed in either direction by `latency` (a round trip by twice that);
    /// `Duration::ZERO` turns it off.
    pub fn set_latency(&self, latency: Duration) {
        self.control
            .send_modify(|control| control.latency = latency);
    }

    /// Resets every connection open now; later connections follow the current fault.
    pub fn cut(&self) {
        self.control.send_modify(|control| control.cut += 1);
    }

    /// Connections open now: relayed, frozen, or held by a blackhole.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.stats.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Connection tasks end when the control channel closes.
        self.accept.abort();
    }
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let control = *self.control.borrow();
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.upstream)
            .field("fault", &control.fault)
            .field("latency", &control.latency)
            .field("open_connections", &self.open_connections())
            .finish()
    }
}

/// A listener with `SO_REUSEADDR`, so the port can be bound again after `Refuse` while
/// connections accepted on it are still open.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut control: watch::Receiver<Control>,
    applied: watch::Sender<u64>,
    stats: Arc<Stats>,
) {
    let mut listener = Some(listener);
    loop {
        let current = *control.borrow_and_update();
        if current.fault == Fault::Refuse {
            listener = None;
        } else if listener.is_none() {
            listener = loop {
                match bind(addr) {
                    Ok(listener) => break Some(listener),
                    Err(_) => tokio::time::sleep(REBIND_PAUSE).await,
                }
            };
        }
        applied.send_replace(current.version);
        let Some(open) = &listener else {
            if control.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            changed = control.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            accepted = open.accept() => {
                if let Ok((stream, _)) = accepted {
                    stats.accepted.fetch_add(1, Ordering::Relaxed);
                    let open = OpenGuard::new(&stats);
                    tokio::spawn(connection(stream, upstream, control.clone(), open));
                }
            }
        }
    }
}

/// Counts a connection as open while it lives.
struct OpenGuard(Arc<Stats>);

impl OpenGuard {
    fn new(stats: &Arc<Stats>) -> OpenGuard {
        stats.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(Arc::clone(stats))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    mut control: watch::Receiver<Control>,
    _open: OpenGuard,
) {
    let start = *control.borrow_and_update();
    match start.fault {
        Fault::Reset => reset(&client),
        Fault::Blackhole => hold(client, control).await,
        Fault::Pass | Fault::Refuse => match TcpStream::connect(upstream).await {
            Ok(server) => relay(client, server, control, start.cut).await,
            // What a load balancer does when its backend is down.
            Err(_) => reset(&client),
        },
    }
}

/// Closes `stream` with a RST instead of a FIN: `SO_LINGER` 0, then close.
fn reset(stream: &TcpStream) {
    let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// A connection accepted during a blackhole: read and thrown away (so the client's writes never
/// block and its close is noticed), never answered, reset when the blackhole ends.
async fn hold(mut client: TcpStream, mut control: watch::Receiver<Control>) {
    let start = *control.borrow_and_update();
    let mut scratch = vec![0; BUFFER_SIZE];
    loop {
        tokio::select! {
            changed = control.changed() => {
                let now = *control.borrow_and_update();
                if changed.is_err() || now.fault != Fault::Blackhole || now.cut != start.cut {
                    reset(&client);
                    return;
                }
            }
            read = client.read(&mut scratch) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
        }
    }
}

async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    mut control: watch::Receiver<Control>,
    cut_at_start: u64,
) {
    let mut from_client = vec![0; BUFFER_SIZE];
    let mut from_server = vec![0; BUFFER_SIZE];
    loop {
        let now = *control.borrow_and_update();
        if now.fault == Fault::Reset || now.cut != cut_at_start {
            reset(&client);
            reset(&server);
            return;
        }
        if now.fault == Fault::Blackhole {
            // Frozen: what is in flight waits in the kernel buffers, as in a partition.
            if control.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            changed = control.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            read = client.read(&mut from_client) => {
                let Ok(n @ 1..) = read else { return };
                if forward(&mut server, &from_client[..n], now.latency).await.is_err() {
                    return;
                }
            }
            read = server.read(&mut from_server) => {
                let Ok(n @ 1..) = read else { return };
                if forward(&mut client, &from_server[..n], now.latency).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn forward(to: &mut TcpStream, bytes: &[u8], latency: Duration) -> io::Result<()> {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    to.write_all(bytes).await
}
