use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Reading, Status};

/// Everything the handle knows at one moment, for probes, logs and `Retry-After`.
///
/// Taken with [`Availability::snapshot`](crate::Availability::snapshot); cloning one costs a few
/// reference-count increments.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) name: Arc<str>,
    pub(crate) reading: Reading,
    pub(crate) changed_at: Instant,
    pub(crate) attempts: u32,
    pub(crate) last_error: Option<Arc<str>>,
    pub(crate) last_error_at: Option<Instant>,
    pub(crate) connected_since: Option<Instant>,
    pub(crate) next_retry_at: Option<Instant>,
    pub(crate) override_reason: Option<Arc<str>>,
    pub(crate) started: bool,
    pub(crate) been_available: bool,
    pub(crate) last_check_at: Option<Instant>,
    pub(crate) last_check_latency: Option<Duration>,
    pub(crate) stalled: bool,
    pub(crate) stopped: bool,
}

impl Snapshot {
    pub(crate) fn new(name: Arc<str>) -> Snapshot {
        Snapshot {
            name,
            reading: Reading::new(Status::Connecting, false),
            changed_at: Instant::now(),
            attempts: 0,
            last_error: None,
            last_error_at: None,
            connected_since: None,
            next_retry_at: None,
            override_reason: None,
            started: false,
            been_available: false,
            last_check_at: None,
            last_check_latency: None,
            stalled: false,
            stopped: false,
        }
    }

    /// The dependency's name, `"redis"` unless the reporter was given another.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The status and override at the time of the snapshot.
    pub fn reading(&self) -> Reading {
        self.reading
    }

    /// The monitor's status.
    pub fn status(&self) -> Status {
        self.reading.status()
    }

    /// True when connected and not overridden.
    pub fn is_available(&self) -> bool {
        self.reading.is_available()
    }

    /// When the reading (status or override) last changed.
    pub fn changed_at(&self) -> Instant {
        self.changed_at
    }

    /// Failed attempts since the dependency was last connected.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The last error the monitor reported, sanitized; kept after a reconnect as history.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// When the [`last_error`](Self::last_error) was recorded: before
    /// [`connected_since`](Self::connected_since) while connected, which makes it history.
    pub fn last_error_at(&self) -> Option<Instant> {
        self.last_error_at
    }

    /// When the current connection was established, while connected.
    pub fn connected_since(&self) -> Option<Instant> {
        self.connected_since
    }

    /// How long the current connection has been up, while connected.
    pub fn uptime(&self) -> Option<Duration> {
        self.connected_since.map(|since| since.elapsed())
    }

    /// When the monitor will next try to connect, if it has scheduled a retry.
    pub fn next_retry_at(&self) -> Option<Instant> {
        self.next_retry_at
    }

    /// Time left until the next scheduled retry (zero if it is due), if one is scheduled.
    pub fn retry_in(&self) -> Option<Duration> {
        self.next_retry_at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// True once the watcher has made its startup decision: connected at least once, or gave up
    /// waiting and runs degraded. Never false again afterwards.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// True once the dependency has been available (connected, not overridden) at least once.
    /// Never false again afterwards.
    pub fn has_been_available(&self) -> bool {
        self.been_available
    }

    /// The reason given with [`mark_unavailable`](crate::AvailabilityReporter::mark_unavailable),
    /// while the override is in force.
    pub fn override_reason(&self) -> Option<&str> {
        self.override_reason.as_deref()
    }

    /// When the monitor's last check completed, successful or not; `None` before the first.
    pub fn last_check_at(&self) -> Option<Instant> {
        self.last_check_at
    }

    /// How long ago the monitor's last check completed.
    pub fn last_check_age(&self) -> Option<Duration> {
        self.last_check_at.map(|at| at.elapsed())
    }

    /// How long the monitor's last check took, from its start to its outcome.
    pub fn last_check_latency(&self) -> Option<Duration> {
        self.last_check_latency
    }

    /// True while the monitor is stalled: no check completed within its stall deadline (see
    /// [`mark_stalled`](crate::AvailabilityReporter::mark_stalled)).
    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// True once the writer is gone for good (see [`stop`](crate::AvailabilityReporter::stop)):
    /// the status is [`Status::Failed`] and stays so.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
}
