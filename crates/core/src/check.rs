use std::fmt;
use std::future::Future;
use std::time::Duration;

/// Why a health check failed: a class that decides how the monitor reacts, and a short reason
/// for operators. `Display` gives the reason, which is [redacted](crate::redact) when made.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// use redis_gate::monitor::{CheckError, CheckErrorKind};
///
/// let err = CheckError::new(CheckErrorKind::Connection, "connection refused");
/// assert_eq!(err.to_string(), "connection refused");
/// assert_eq!(err.kind(), CheckErrorKind::Connection);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    kind: CheckErrorKind,
    reason: String,
}

/// The class of a [`CheckError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckErrorKind {
    /// Nothing listens there, or the connection was reset or closed: the dependency is down.
    Connection,
    /// No answer in time: the dependency may be frozen, overloaded, or far away.
    Timeout,
    /// It answered, but is not ready to serve (Redis: `LOADING`, `BUSY`, `MASTERDOWN`, ...).
    NotReady,
    /// It serves reads but refuses writes (Redis: `READONLY`, `OOM`, `NOREPLICAS`, `MISCONF`,
    /// writes paused). The monitor keeps it readable and marks writes refused.
    ReadOnly,
    /// The credentials are wrong or missing. Waiting will not fix it.
    Auth,
    /// The settings cannot work (a TLS certificate that does not verify, a client that refuses
    /// them, an address where another kind of server answers). Waiting will not fix it either.
    Config,
}

impl CheckError {
    /// A failure of `kind`; `reason` is redacted of anything that looks like a credential.
    pub fn new(kind: CheckErrorKind, reason: impl AsRef<str>) -> CheckError {
        CheckError {
            kind,
            reason: crate::redact(reason.as_ref()),
        }
    }

    /// The class of failure.
    pub fn kind(&self) -> CheckErrorKind {
        self.kind
    }

    /// The short reason, also given by `Display`.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl CheckErrorKind {
    /// `connection`, `timeout`, `not_ready`, `read_only`, `auth` or `config`: a label for metrics
    /// and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckErrorKind::Connection => "connection",
            CheckErrorKind::Timeout => "timeout",
            CheckErrorKind::NotReady => "not_ready",
            CheckErrorKind::ReadOnly => "read_only",
            CheckErrorKind::Auth => "auth",
            CheckErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for CheckError {}

/// One health check of a dependency, for a [`Monitor`](crate::Monitor) to run over and over.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// use std::time::{Duration, Instant};
///
/// use redis_gate::monitor::{CheckError, CheckErrorKind, HealthCheck};
///
/// /// Available while something accepts TCP connections at `addr`.
/// struct Tcp {
///     addr: std::net::SocketAddr,
/// }
///
/// impl HealthCheck for Tcp {
///     async fn check(&mut self) -> Result<Duration, CheckError> {
///         let started = Instant::now();
///         match tokio::net::TcpStream::connect(self.addr).await {
///             Ok(_) => Ok(started.elapsed()),
///             Err(err) => Err(CheckError::new(CheckErrorKind::Connection, err.to_string())),
///         }
///     }
///
///     fn timeout(&self) -> Duration {
///         Duration::from_secs(1)
///     }
/// }
/// ```
pub trait HealthCheck: Send + 'static {
    /// Checks once: `Ok` with the round trip, or why not, classified.
    fn check(&mut self) -> impl Future<Output = Result<Duration, CheckError>> + Send;

    /// The longest one check may take; the monitor counts a check that takes longer as a timeout
    /// (and derives the default stall timeout from it).
    fn timeout(&self) -> Duration;

    /// Resolves when the check should run before its interval is up: a connection closed, a
    /// failover announced. By default, never.
    fn wake(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Applies what the monitor decided about connections after the check that just ran: keep
    /// them, open a fresh one for the next check, or also drop what the check's dependency pooled
    /// for the application. The rules are the monitor's; a check may still retry within one
    /// `check` call (the Redis check retries a closed connection once, and follows a master the
    /// sentinels name), which is part of how it checks, not a decision about the outcome. By
    /// default, nothing.
    fn apply(&mut self, connections: Connections) {
        let _ = connections;
    }
}

/// What a [`HealthCheck`] does with its connections after a check, as the [`Monitor`](crate::Monitor) decided from
/// the outcome and what it knew before.
///
/// | outcome | decision |
/// |---|---|
/// | success | `Keep` |
/// | a timeout while available, fewer than `fall` in a row | `Keep`: asked again at once on the same connection, since a fresh one to a frozen server would wait a whole connect timeout |
/// | an answer that says not ready (`NotReady`) | `Keep`: the connection works |
/// | reads answered, writes refused (`ReadOnly`) | `Keep`, whatever came before: a read-only dependency still serves reads through what it pooled |
/// | a refused, reset or timed-out connection, bad credentials or settings | `Reopen` |
/// | any failure that makes an available dependency unavailable | `DropIdle` |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connections {
    /// Keep every connection as it is.
    Keep,
    /// Open a fresh connection for the next check instead of reusing the one that failed.
    Reopen,
    /// The dependency has just become unavailable: open a fresh connection for the next check,
    /// and drop the idle connections pooled for the application, which are most likely dead.
    DropIdle,
}
