use std::fmt;

/// Why a health check failed: a class that decides how the monitor reacts, and a short reason
/// for operators. `Display` gives the reason, which is [redacted](crate::redact) when made.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; }
/// use redis_gate::{CheckError, CheckErrorKind};
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
    /// `connection`, `timeout`, `not_ready`, `auth` or `config`: a label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckErrorKind::Connection => "connection",
            CheckErrorKind::Timeout => "timeout",
            CheckErrorKind::NotReady => "not_ready",
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
