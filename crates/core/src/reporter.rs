use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::status::{BEEN_AVAILABLE_BIT, STARTED_BIT};
use crate::{DEFAULT_NAME, Reading, Snapshot, Status, sanitize_error};

/// The last error of a handle whose writer is gone.
const STOPPED: &str = "monitor stopped";
/// The last error of a handle whose monitor completes no checks.
const STALLED: &str = "monitor stalled";

/// The writing side of the handle, owned by whoever watches the dependency.
///
/// Every method takes `&self`, so a monitor task and an operator endpoint can share one reporter
/// behind an `Arc`. Subscribers wake only when the [`Reading`] changes (status or override); the
/// other details (attempts, last error, next retry) update silently.
///
/// The handle never outlives its writer: dropping the reporter [`stop`](Self::stop)s it, so
/// every reader sees [`Status::Failed`] with the last error `monitor stopped` rather than
/// whatever the last reading was.
pub struct AvailabilityReporter {
    shared: Arc<Shared>,
}

/// Everything one decision tells the handle; see [`AvailabilityReporter::report`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Report {
    pub(crate) status: Status,
    /// Reads answer and writes are refused (only meaningful with [`Status::Connected`]).
    pub(crate) writes_refused: bool,
    /// The failure's reason; `None` keeps the last one as history.
    pub(crate) error: Option<String>,
    pub(crate) attempts: u32,
    pub(crate) next_retry_at: Option<Instant>,
    /// The startup decision is made (connected once, or gave up and runs degraded).
    pub(crate) started: bool,
}

/// The reading side of the handle: `Clone + Send + Sync`, never blocks, and cloning it is one
/// reference-count increment.
///
/// Once the reporter is dropped or [stopped](AvailabilityReporter::stop), the handle reads
/// [`Status::Failed`] for good and every [`Subscription`] ends after that last transition.
#[derive(Clone)]
pub struct Availability {
    shared: Arc<Shared>,
}

/// The one block the reporter and every handle share. What the hot path reads is an atomic of
/// its own, one pointer away from the handle; the rest is the snapshot behind the watch lock.
struct Shared {
    /// [`Reading`] bits with the started and been-available flags.
    state: AtomicU8,
    /// When the next attempt is due, as nanoseconds after `epoch` plus one; 0 when none is
    /// scheduled. A copy of the snapshot's `next_retry_at`, so a rejection reads it lock-free.
    next_retry: AtomicU64,
    epoch: Instant,
    name: Arc<str>,
    tx: watch::Sender<Snapshot>,
}

/// A stream of transitions, from [`Availability::subscribe`].
pub struct Subscription {
    rx: watch::Receiver<Snapshot>,
}

impl AvailabilityReporter {
    /// A reporter for the dependency called `name`, starting in [`Status::Connecting`].
    pub fn new(name: impl Into<Arc<str>>) -> AvailabilityReporter {
        let snapshot = Snapshot::new(name.into());
        #[cfg(feature = "metrics")]
        crate::metrics::registered(&snapshot.name, snapshot.reading);
        let shared = Shared {
            state: AtomicU8::new(state_byte(&snapshot)),
            next_retry: AtomicU64::new(0),
            epoch: Instant::now(),
            name: Arc::clone(&snapshot.name),
            tx: watch::Sender::new(snapshot),
        };
        AvailabilityReporter {
            shared: Arc::new(shared),
        }
    }

    /// A read handle on this reporter's dependency: one reference count, no allocation.
    pub fn availability(&self) -> Availability {
        Availability {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Records a new status. Returns `true` if the reading changed (and subscribers were woken).
    ///
    /// Becoming [`Status::Connected`] starts the uptime clock, resets the attempt count, clears
    /// the next retry and marks startup complete; leaving it stops the uptime clock.
    pub fn set_status(&self, status: Status) -> bool {
        self.update(|snapshot| set_status(snapshot, status))
    }

    /// Records whether a connected dependency refuses writes while it answers reads (a
    /// read-only replica, a full memory, writes paused). The handle then reads as not available
    /// ([`Reading::is_available`]) but readable ([`Reading::can_read`]), with the status word
    /// `read_only`. It means nothing, and is forgotten, while the status is not
    /// [`Status::Connected`]. Returns `true` if the reading changed.
    pub fn set_writes_refused(&self, refused: bool) -> bool {
        self.update(|snapshot| set_writes_refused(snapshot, refused))
    }

    /// Marks the startup decision made without a connection (the watcher gave up waiting and runs
    /// degraded), for startup probes. Connecting marks it too. It cannot be undone.
    pub fn mark_started(&self) -> bool {
        self.update(|snapshot| snapshot.started = true)
    }

    /// Records a failed attempt: counts it, keeps `error` (sanitized with [`sanitize_error`]) as
    /// the last error, and remembers when the next attempt is due. Does not change the status.
    pub fn record_failure(&self, error: &str, next_retry_at: Option<Instant>) {
        self.update(|snapshot| {
            snapshot.attempts = snapshot.attempts.saturating_add(1);
            set_error(snapshot, sanitize_error(error).into());
            snapshot.next_retry_at = next_retry_at;
        });
    }

    /// The monitor has completed no check within its stall deadline (a check that never returns,
    /// a starved task), so it cannot vouch for the dependency: the status becomes
    /// [`Status::Failed`] with the last error `monitor stalled` until the monitor reports its
    /// next check. Returns `true` if it was not stalled already.
    pub fn mark_stalled(&self) -> bool {
        let mut newly = false;
        self.update(|snapshot| {
            newly = !snapshot.stalled;
            snapshot.stalled = true;
            set_status(snapshot, Status::Failed);
            snapshot.next_retry_at = None;
            set_error(snapshot, Arc::from(STALLED));
        });
        newly
    }

    /// The writer is gone for good (its task ended, panicked or was dropped): the status becomes
    /// [`Status::Failed`] with the last error `monitor stopped`, and every later write is
    /// ignored. Dropping the reporter does this too. Returns `true` the first time only, so the
    /// caller can log it once.
    pub fn stop(&self) -> bool {
        let mut first = false;
        self.update(|snapshot| {
            first = true;
            snapshot.stopped = true;
            snapshot.stalled = false;
            set_status(snapshot, Status::Failed);
            snapshot.next_retry_at = None;
            set_error(snapshot, Arc::from(STOPPED));
        });
        first
    }

    /// Writes what the monitor decided, in one write: the status, the failure's reason (kept as
    /// history when `None`), the attempt count, the next retry, and the startup decision.
    /// `check` is how long the check that led to it took, recorded with the time it completed;
    /// `None` for a decision made between checks (the startup timeout passed while a check was
    /// due or in flight), which leaves the last check's details alone and does not end a stall:
    /// a stalled monitor's `Failed` and `monitor stalled` stand until a check completes. Subscribers
    /// wake only if the reading (or the startup flag) changed. Returns whether it changed, and
    /// whether this ended a stall.
    pub(crate) fn report(&self, report: &Report, check: Option<Duration>) -> Reported {
        let error = report
            .error
            .as_deref()
            .map(|e| Arc::<str>::from(sanitize_error(e)));
        let mut stall_ended = false;
        let changed = self.update(|snapshot| {
            snapshot.started |= report.started;
            match check {
                Some(latency) => {
                    stall_ended = std::mem::take(&mut snapshot.stalled);
                    snapshot.last_check_at = Some(Instant::now());
                    snapshot.last_check_latency = Some(latency);
                }
                None if snapshot.stalled => return,
                None => {}
            }
            // A stall made the status `Failed`, so a connected report after it is a new
            // connection for the uptime clock.
            set_status(snapshot, report.status);
            set_writes_refused(snapshot, report.writes_refused);
            if let Some(error) = error {
                set_error(snapshot, error);
            }
            snapshot.attempts = report.attempts;
            snapshot.next_retry_at = report.next_retry_at;
        });
        Reported {
            changed,
            stall_ended,
        }
    }

    /// Remembers when the next attempt is due, or that none is scheduled.
    pub fn set_next_retry(&self, next_retry_at: Option<Instant>) {
        self.update(|snapshot| snapshot.next_retry_at = next_retry_at);
    }

    /// Operator override: marks the dependency unavailable (maintenance, draining) until
    /// [`clear_override`](Self::clear_override), whatever status the monitor reports meanwhile.
    pub fn mark_unavailable(&self, reason: &str) -> bool {
        let reason: Arc<str> = sanitize_error(reason).into();
        self.update(|snapshot| {
            snapshot.reading = Reading::new(snapshot.reading.status(), true)
                .with_writes_refused(snapshot.reading.writes_refused());
            snapshot.override_reason = Some(reason);
        })
    }

    /// Lifts the operator override; the monitor's status applies again.
    pub fn clear_override(&self) -> bool {
        self.update(|snapshot| {
            snapshot.reading = Reading::new(snapshot.reading.status(), false)
                .with_writes_refused(snapshot.reading.writes_refused());
            snapshot.override_reason = None;
        })
    }

    /// The current reading: one atomic load.
    pub fn reading(&self) -> Reading {
        Reading::from_bits(self.shared.state.load(Ordering::Acquire))
    }

    /// A copy of everything the handle knows now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.tx.borrow().clone()
    }

    /// Applies `change` unless the reporter is stopped; stores the new state byte and wakes
    /// subscribers only if the reading, the startup flag or the stop changed.
    fn update(&self, change: impl FnOnce(&mut Snapshot)) -> bool {
        let shared = &*self.shared;
        shared.tx.send_if_modified(|snapshot| {
            if snapshot.stopped {
                return false;
            }
            let (reading, started) = (snapshot.reading, snapshot.started);
            change(snapshot);
            shared.store_next_retry(snapshot.next_retry_at);
            if snapshot.reading == reading && snapshot.started == started && !snapshot.stopped {
                return false;
            }
            snapshot.been_available |= snapshot.reading.is_available();
            if snapshot.reading != reading {
                snapshot.changed_at = Instant::now();
                #[cfg(feature = "metrics")]
                crate::metrics::transition(&snapshot.name, reading, snapshot.reading);
            }
            shared.state.store(state_byte(snapshot), Ordering::Release);
            true
        })
    }
}

impl Shared {
    fn store_next_retry(&self, at: Option<Instant>) {
        let encoded = at.map_or(0, |at| {
            let nanos = at.saturating_duration_since(self.epoch).as_nanos();
            u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1
        });
        self.next_retry.store(encoded, Ordering::Relaxed);
    }

    fn next_retry(&self) -> Option<Instant> {
        match self.next_retry.load(Ordering::Relaxed) {
            0 => None,
            encoded => self.epoch.checked_add(Duration::from_nanos(encoded - 1)),
        }
    }
}

/// What [`AvailabilityReporter::report`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reported {
    pub(crate) changed: bool,
    pub(crate) stall_ended: bool,
}

/// The one rule for a status change: becoming [`Status::Connected`] starts the uptime clock,
/// resets the attempt count, clears the next retry and completes startup; any other status stops
/// the clock. An override is kept as it is.
fn set_status(snapshot: &mut Snapshot, status: Status) {
    let was = snapshot.reading.status();
    // Writes stay refused while connected, and mean nothing otherwise.
    snapshot.reading = Reading::new(status, snapshot.reading.is_overridden())
        .with_writes_refused(snapshot.reading.writes_refused());
    if status != Status::Connected {
        snapshot.connected_since = None;
    } else if was != Status::Connected {
        snapshot.connected_since = Some(Instant::now());
        snapshot.attempts = 0;
        snapshot.next_retry_at = None;
        snapshot.started = true;
    }
}

/// The one rule for writes: refused or accepted, which only a connected reading tells apart.
fn set_writes_refused(snapshot: &mut Snapshot, refused: bool) {
    snapshot.reading = snapshot.reading.with_writes_refused(refused);
}

/// The one rule for a failure's reason: kept, with when it was recorded.
fn set_error(snapshot: &mut Snapshot, error: Arc<str>) {
    snapshot.last_error = Some(error);
    snapshot.last_error_at = Some(Instant::now());
}

fn state_byte(snapshot: &Snapshot) -> u8 {
    let started = if snapshot.started { STARTED_BIT } else { 0 };
    let been_available = if snapshot.been_available {
        BEEN_AVAILABLE_BIT
    } else {
        0
    };
    snapshot.reading.bits() | started | been_available
}

impl Drop for AvailabilityReporter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Default for AvailabilityReporter {
    /// A reporter named `"redis"`.
    fn default() -> Self {
        AvailabilityReporter::new(DEFAULT_NAME)
    }
}

impl fmt::Debug for AvailabilityReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvailabilityReporter")
            .field("name", &&*self.shared.name)
            .field("reading", &self.reading())
            .finish()
    }
}

impl Availability {
    /// True when the dependency is connected and not overridden: one atomic load, no lock, no
    /// allocation, no await.
    #[inline]
    pub fn is_available(&self) -> bool {
        self.reading().is_available()
    }

    /// The monitor's status: one atomic load.
    #[inline]
    pub fn status(&self) -> Status {
        self.reading().status()
    }

    /// Status and override together: one atomic load.
    #[inline]
    pub fn reading(&self) -> Reading {
        Reading::from_bits(self.shared.state.load(Ordering::Acquire))
    }

    /// True once the watcher has made its startup decision (see [`Snapshot::is_started`]): one
    /// atomic load.
    #[inline]
    pub fn is_started(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) & STARTED_BIT != 0
    }

    /// True once the dependency has been available at least once (see
    /// [`Snapshot::has_been_available`]): one atomic load.
    #[inline]
    pub fn has_been_available(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) & BEEN_AVAILABLE_BIT != 0
    }

    /// The dependency's name.
    pub fn name(&self) -> Arc<str> {
        Arc::clone(&self.shared.name)
    }

    /// A copy of everything the handle knows now. Takes the snapshot's read lock briefly.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.tx.borrow().clone()
    }

    /// Time until the monitor's next scheduled retry, if one is scheduled: one atomic load and
    /// a clock read, no lock. `RequireRedis` uses it for `Retry-After`.
    pub fn retry_in(&self) -> Option<Duration> {
        let at = self.shared.next_retry()?;
        Some(at.saturating_duration_since(Instant::now()))
    }

    /// Follows transitions from now on: [`Subscription::changed`] resolves at the next change of
    /// the [`Reading`], not at the current one.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.shared.tx.subscribe(),
        }
    }
}

impl fmt::Debug for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Availability")
            .field("name", &&*self.shared.name)
            .field("reading", &self.reading())
            .finish()
    }
}

impl Subscription {
    /// Waits for the next transition and returns the snapshot taken at it, or `None` once the
    /// reporter is gone.
    ///
    /// ```
    /// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
    /// use redis_gate::{AvailabilityReporter, Status};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let reporter = AvailabilityReporter::default();
    /// let mut changes = reporter.availability().subscribe();
    ///
    /// reporter.set_status(Status::Connected);
    /// let snapshot = changes.changed().await.unwrap();
    /// assert_eq!(snapshot.status(), Status::Connected);
    ///
    /// // The writer is gone: one last transition to `Failed`, then the end.
    /// drop(reporter);
    /// assert_eq!(changes.changed().await.unwrap().status(), Status::Failed);
    /// assert!(changes.changed().await.is_none());
    /// # }
    /// ```
    pub async fn changed(&mut self) -> Option<Snapshot> {
        {
            // Stopping is the last transition: once it has been seen, nothing follows.
            let latest = self.rx.borrow();
            if latest.stopped && !latest.has_changed() {
                return None;
            }
        }
        self.rx.changed().await.ok()?;
        Some(self.rx.borrow_and_update().clone())
    }

    /// The latest snapshot, without waiting and without marking it seen.
    pub fn snapshot(&self) -> Snapshot {
        self.rx.borrow().clone()
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// True if `future` would complete right now.
    fn is_ready<F: Future>(future: F) -> bool {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        matches!(future.as_mut().poll(&mut cx), Poll::Ready(_))
    }

    #[test]
    fn writes_refused_reads_as_read_only_until_accepted_or_disconnected() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        reporter.set_status(Status::Connected);
        assert!(reporter.set_writes_refused(true), "a transition");
        let reading = redis.reading();
        assert!(reading.can_read() && !reading.can_write() && !redis.is_available());
        assert_eq!(reading.as_str(), "read_only");
        assert_eq!(reading.status(), Status::Connected);

        // An override and its end keep the fact underneath.
        reporter.mark_unavailable("maintenance");
        assert!(!redis.reading().can_read());
        reporter.clear_override();
        assert!(redis.reading().is_read_only());

        assert!(reporter.set_writes_refused(false));
        assert!(redis.is_available());
        reporter.set_writes_refused(true);
        reporter.set_status(Status::Disconnected);
        reporter.set_status(Status::Connected);
        assert!(redis.is_available(), "forgotten while disconnected");
        assert!(!reporter.set_writes_refused(false), "no change, no wake-up");
    }

    #[test]
    fn starts_connecting_and_unavailable() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        assert_eq!(redis.status(), Status::Connecting);
        assert!(!redis.is_available());
        assert_eq!(&*redis.name(), "redis");
        assert_eq!(redis.snapshot().attempts(), 0);
    }

    #[test]
    fn transitions_through_every_status() {
        let reporter = AvailabilityReporter::new("cache");
        let redis = reporter.availability();
        for (status, available) in [
            (Status::Connected, true),
            (Status::Disconnected, false),
            (Status::Failed, false),
            (Status::Connected, true),
            (Status::Connecting, false),
        ] {
            assert!(reporter.set_status(status));
            assert_eq!(redis.status(), status);
            assert_eq!(redis.is_available(), available);
            assert_eq!(redis.snapshot().status(), status);
        }
        assert_eq!(redis.snapshot().name(), "cache");
    }

    #[test]
    fn same_status_write_is_not_a_transition() {
        let reporter = AvailabilityReporter::default();
        assert!(reporter.set_status(Status::Disconnected));
        let changed_at = reporter.snapshot().changed_at();
        assert!(!reporter.set_status(Status::Disconnected));
        assert_eq!(reporter.snapshot().changed_at(), changed_at);
    }

    #[test]
    fn failures_count_attempts_and_connecting_resets_them() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        let retry_at = Instant::now() + Duration::from_secs(5);
        reporter.record_failure("connection refused", Some(retry_at));
        reporter.record_failure("connection refused", Some(retry_at));
        let snapshot = redis.snapshot();
        assert_eq!(snapshot.attempts(), 2);
        assert_eq!(snapshot.last_error(), Some("connection refused"));
        assert_eq!(snapshot.next_retry_at(), Some(retry_at));
        assert!(redis.retry_in().unwrap() > Duration::from_secs(4));

        reporter.set_status(Status::Connected);
        let snapshot = redis.snapshot();
        assert_eq!(snapshot.attempts(), 0);
        assert_eq!(snapshot.next_retry_at(), None);
        assert!(snapshot.connected_since().is_some());
        assert_eq!(snapshot.last_error(), Some("connection refused"));

        reporter.set_status(Status::Disconnected);
        assert_eq!(redis.snapshot().connected_since(), None);
    }

    #[test]
    fn the_last_error_keeps_when_it_was_recorded_through_a_reconnect() {
        let reporter = AvailabilityReporter::default();
        assert_eq!(reporter.snapshot().last_error_at(), None);
        let before = Instant::now();
        reporter.record_failure("connection refused", None);
        let at = reporter.snapshot().last_error_at().unwrap();
        assert!(at >= before);

        reporter.report(&connected_report(), Some(Duration::ZERO));
        let snapshot = reporter.snapshot();
        assert_eq!(snapshot.last_error_at(), Some(at), "a success keeps it");
        assert!(at <= snapshot.connected_since().unwrap(), "history");

        let writes: [fn(&AvailabilityReporter); 3] = [
            |reporter| {
                let failed = Report {
                    error: Some("reset".to_owned()),
                    status: Status::Disconnected,
                    ..connected_report()
                };
                reporter.report(&failed, Some(Duration::ZERO));
            },
            |reporter| assert!(reporter.mark_stalled()),
            |reporter| assert!(reporter.stop()),
        ];
        for write in writes {
            let before = Instant::now();
            write(&reporter);
            assert!(reporter.snapshot().last_error_at().unwrap() >= before);
        }
    }

    #[test]
    fn last_error_never_keeps_a_password() {
        let reporter = AvailabilityReporter::default();
        reporter.record_failure("cannot reach redis://app:hunter2@cache:6379", None);
        let error = reporter.snapshot().last_error().unwrap().to_owned();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn override_beats_connected_and_survives_monitor_writes() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        reporter.set_status(Status::Connected);

        assert!(reporter.mark_unavailable("draining"));
        assert!(!redis.is_available());
        assert!(redis.reading().is_overridden());
        assert_eq!(redis.snapshot().override_reason(), Some("draining"));

        reporter.set_status(Status::Disconnected);
        reporter.set_status(Status::Connected);
        assert!(!redis.is_available());
        assert_eq!(redis.status(), Status::Connected);

        assert!(reporter.clear_override());
        assert!(redis.is_available());
        assert_eq!(redis.snapshot().override_reason(), None);
    }

    #[test]
    fn clearing_an_override_does_not_make_a_down_dependency_available() {
        let reporter = AvailabilityReporter::default();
        reporter.mark_unavailable("maintenance");
        reporter.set_status(Status::Failed);
        reporter.clear_override();
        assert!(!reporter.availability().is_available());
        assert_eq!(reporter.reading().status(), Status::Failed);
    }

    #[tokio::test]
    async fn subscribers_wake_on_transitions_only() {
        let reporter = AvailabilityReporter::default();
        let mut changes = reporter.availability().subscribe();
        assert!(!is_ready(changes.changed()), "no transition yet");

        reporter.set_status(Status::Connecting);
        reporter.record_failure("refused", Some(Instant::now()));
        reporter.set_next_retry(None);
        assert!(
            !is_ready(changes.changed()),
            "same-status writes must not wake"
        );

        reporter.set_status(Status::Connected);
        let snapshot = changes.changed().await.unwrap();
        assert_eq!(snapshot.status(), Status::Connected);
        assert!(!is_ready(changes.changed()), "a transition wakes once");

        reporter.mark_unavailable("maintenance");
        assert!(changes.changed().await.unwrap().reading().is_overridden());
        assert!(!reporter.mark_unavailable("maintenance again"));
        assert!(!is_ready(changes.changed()));
    }

    #[tokio::test]
    async fn subscription_sees_only_later_transitions() {
        let reporter = AvailabilityReporter::default();
        reporter.set_status(Status::Connected);
        let mut changes = reporter.availability().subscribe();
        assert!(!is_ready(changes.changed()));
        assert_eq!(changes.snapshot().status(), Status::Connected);
    }

    #[tokio::test]
    async fn dropping_the_reporter_makes_readers_unavailable_then_ends_subscriptions() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        reporter.set_status(Status::Connected);
        let mut changes = redis.subscribe();
        drop(reporter);
        assert!(
            !redis.is_available(),
            "a handle without a writer never says available"
        );
        assert_eq!(redis.status(), Status::Failed);
        let last = changes.changed().await.unwrap();
        assert_eq!(last.status(), Status::Failed);
        assert_eq!(last.last_error(), Some("monitor stopped"));
        assert!(last.is_stopped());
        assert!(changes.changed().await.is_none());
    }

    #[tokio::test]
    async fn a_subscription_taken_after_the_stop_ends_at_once() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        drop(reporter);
        let mut changes = redis.subscribe();
        assert!(changes.changed().await.is_none());
        assert!(changes.snapshot().is_stopped());
    }

    #[test]
    fn the_next_retry_reads_the_same_without_the_lock() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        assert_eq!(redis.retry_in(), None);
        let at = Instant::now() + Duration::from_millis(1500);
        reporter.set_next_retry(Some(at));
        assert_eq!(reporter.shared.next_retry(), Some(at), "no precision lost");
        let wait = redis.retry_in().unwrap();
        assert!(wait <= Duration::from_millis(1500) && wait > Duration::from_millis(500));
        reporter.set_next_retry(Some(reporter.shared.epoch - Duration::from_secs(1)));
        assert_eq!(
            redis.retry_in(),
            Some(Duration::ZERO),
            "a past deadline is due now"
        );
        reporter.set_status(Status::Connected);
        assert_eq!(redis.retry_in(), None, "connecting clears it");
        reporter.record_failure("refused", Some(at));
        reporter.stop();
        assert_eq!(
            redis.retry_in(),
            None,
            "a stopped monitor schedules nothing"
        );
    }

    #[test]
    fn a_stopped_reporter_ignores_every_later_write() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        reporter.set_status(Status::Connected);
        reporter.mark_started();
        assert!(reporter.stop());
        assert!(!reporter.stop(), "stopping twice is reported once");
        assert!(!reporter.set_status(Status::Connected));
        reporter.record_failure("refused", None);
        reporter.clear_override();
        assert!(!redis.is_available());
        let snapshot = redis.snapshot();
        assert_eq!(snapshot.status(), Status::Failed);
        assert_eq!(snapshot.last_error(), Some("monitor stopped"));
        assert!(snapshot.is_started(), "the startup decision stands");
    }

    fn connected_report() -> Report {
        Report {
            status: Status::Connected,
            writes_refused: false,
            error: None,
            attempts: 0,
            next_retry_at: None,
            started: true,
        }
    }

    #[test]
    fn a_stall_is_unavailable_until_the_next_report() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        reporter.set_status(Status::Connected);
        assert!(reporter.mark_stalled());
        assert!(!reporter.mark_stalled(), "already stalled");
        assert!(!redis.is_available());
        let snapshot = redis.snapshot();
        assert_eq!(snapshot.status(), Status::Failed);
        assert_eq!(snapshot.last_error(), Some("monitor stalled"));
        assert!(snapshot.is_stalled());

        let reported = reporter.report(&connected_report(), Some(Duration::from_millis(3)));
        assert!(reported.changed && reported.stall_ended);
        assert!(redis.is_available());
        assert!(!redis.snapshot().is_stalled());
        let again = reporter.report(&connected_report(), Some(Duration::from_millis(1)));
        assert!(!again.changed && !again.stall_ended);
    }

    #[test]
    fn a_decision_between_checks_leaves_the_last_check_and_a_stall_alone() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        let gave_up = Report {
            status: Status::Failed,
            writes_refused: false,
            error: Some("no answer within the startup timeout (8000 ms)".to_owned()),
            attempts: 0,
            next_retry_at: None,
            started: true,
        };
        assert!(reporter.report(&gave_up, None).changed);
        let snapshot = redis.snapshot();
        assert_eq!(snapshot.status(), Status::Failed);
        assert_eq!(snapshot.last_error(), gave_up.error.as_deref());
        assert!(snapshot.is_started());
        assert_eq!(snapshot.last_check_latency(), None, "no check completed");
        assert_eq!(snapshot.last_check_age(), None);

        // A stalled monitor's word stands; only the startup decision is recorded.
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        reporter.mark_stalled();
        let reported = reporter.report(&gave_up, None);
        assert!(reported.changed && !reported.stall_ended);
        let snapshot = redis.snapshot();
        assert!(snapshot.is_stalled());
        assert_eq!(snapshot.last_error(), Some("monitor stalled"));
        assert!(snapshot.is_started());
    }

    #[test]
    fn a_report_is_one_write_of_everything_a_check_found() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        let mut changes = redis.subscribe();
        let retry_at = Instant::now() + Duration::from_secs(2);
        let failed = Report {
            status: Status::Disconnected,
            writes_refused: false,
            error: Some("connect to redis://u:hunter2@h refused".to_owned()),
            attempts: 3,
            next_retry_at: Some(retry_at),
            started: false,
        };
        assert!(
            reporter
                .report(&failed, Some(Duration::from_micros(420)))
                .changed
        );
        assert!(is_ready(changes.changed()), "a transition wakes");
        let snapshot = changes.snapshot();
        assert_eq!(snapshot.status(), Status::Disconnected);
        assert_eq!(
            snapshot.last_error(),
            Some("connect to redis://u:***@h refused")
        );
        assert_eq!(snapshot.attempts(), 3);
        assert_eq!(snapshot.next_retry_at(), Some(retry_at));
        assert_eq!(
            snapshot.last_check_latency(),
            Some(Duration::from_micros(420))
        );
        assert!(snapshot.last_check_age().unwrap() < Duration::from_secs(5));
        assert!(!snapshot.is_started());

        // The same status again wakes nobody, but the details follow.
        let mut again = failed.clone();
        again.attempts = 4;
        assert!(!reporter.report(&again, Some(Duration::ZERO)).changed);
        assert!(!is_ready(changes.changed()));
        assert_eq!(redis.snapshot().attempts(), 4);

        // Back: the error stays as history, the override still holds it out.
        reporter.mark_unavailable("maintenance");
        reporter.report(&connected_report(), Some(Duration::ZERO));
        let snapshot = redis.snapshot();
        assert!(snapshot.is_started());
        assert!(snapshot.connected_since().is_some());
        assert_eq!(
            snapshot.last_error(),
            Some("connect to redis://u:***@h refused")
        );
        assert!(
            !redis.is_available(),
            "the override is independent of reports"
        );
        reporter.clear_override();
        assert!(redis.is_available());
    }

    #[test]
    fn having_been_available_is_remembered_through_outages_but_not_overrides() {
        let reporter = AvailabilityReporter::default();
        let redis = reporter.availability();
        reporter.mark_unavailable("maintenance");
        reporter.set_status(Status::Connected);
        assert!(
            !redis.has_been_available(),
            "held out of service from the start"
        );
        reporter.clear_override();
        assert!(redis.has_been_available());
        reporter.set_status(Status::Disconnected);
        reporter.stop();
        assert!(redis.has_been_available());
        assert!(redis.snapshot().has_been_available());
    }

    #[test]
    fn handles_are_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<Availability>();
        fn assert_send_sync_reporter<T: Send + Sync>() {}
        assert_send_sync_reporter::<AvailabilityReporter>();
    }
}
