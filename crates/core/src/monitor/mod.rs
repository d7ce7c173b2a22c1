//! A monitor for any dependency: the watch loop around a [`HealthCheck`], with the rules of
//! [`MonitorSettings`] (fall and rise, backoff, startup policy, stall timeout), transition-only
//! logs, metrics, and a handle that never outlives it.

mod decide;

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use self::decide::{Event, Step, Watch};
use crate::{Availability, AvailabilityReporter, HealthCheck, MonitorSettings, StartupPolicy};

/// Why [`Monitor::start`] gave up: the startup policy is [`StartupPolicy::FailClosed`] and the
/// dependency did not become available within the startup timeout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name} not available within {} ms: {last_error}", waited.as_millis())]
pub struct Unavailable {
    /// The dependency's name.
    pub name: String,
    /// How long the monitor waited.
    pub waited: Duration,
    /// The last failure, sanitized.
    pub last_error: String,
}

/// Watches one dependency with a [`HealthCheck`] and keeps an [`Availability`] handle true.
///
/// It checks at once, then every check interval while available and on its backoff schedule
/// while not; flips on refused or reset connections at once and on timeouts after `fall` in a
/// row, comes back after `rise` successes, and logs transitions, not attempts: its events are
/// named `<events>_connect_ok`, `<events>_connection_lost`, `<events>_reconnected`, … with a
/// `dependency` field. Like the Redis monitor, it must be kept alive: once dropped or
/// [`shutdown`](Self::shutdown), or if its task panics, its handle says `Failed` with
/// `monitor stopped`, and a stalled check makes it say `monitor stalled`.
///
/// ```no_run
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// # use std::time::Duration;
/// # use redis_gate::monitor::{HealthCheck, CheckError};
/// # struct Tcp;
/// # impl HealthCheck for Tcp {
/// #     async fn check(&mut self) -> Result<Duration, CheckError> { Ok(Duration::ZERO) }
/// #     fn timeout(&self) -> Duration { Duration::from_secs(1) }
/// # }
/// use redis_gate::monitor::{Monitor, MonitorSettings};
///
/// # async fn run() -> Result<(), redis_gate::monitor::Unavailable> {
/// let upstream = Monitor::start("upstream", "upstream", Tcp, MonitorSettings::default()).await?;
/// let availability = upstream.availability(); // for the layers, like Redis's
/// # Ok(()) }
/// ```
#[must_use = "dropping the monitor stops it, and its handle then says the dependency is unavailable"]
pub struct Monitor {
    reporter: Arc<AvailabilityReporter>,
    availability: Availability,
    events: &'static str,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    watchdog: JoinHandle<()>,
}

impl Monitor {
    /// Starts watching with `check` and returns at once, while the first check runs. `events`
    /// names the log events (`"redis"` gives `redis_connect_ok`); `name` names the dependency in
    /// the handle, the logs and the metrics. Must be called within a Tokio runtime.
    pub fn spawn<C: HealthCheck>(
        events: &'static str,
        name: impl Into<Arc<str>>,
        check: C,
        settings: MonitorSettings,
    ) -> Monitor {
        let reporter = Arc::new(AvailabilityReporter::new(name));
        let availability = reporter.availability();
        let (stop, stopped) = watch::channel(false);
        let settings = settings.bounded();
        let stall_after = settings.stall_after(check.timeout().min(crate::LONGEST));
        let (deadline, deadlines) = watch::channel(Instant::now() + stall_after);
        let task = tokio::spawn(watch_loop(Loop {
            check,
            settings,
            events,
            reporter: Arc::clone(&reporter),
            stopped,
            deadline,
            stall_after,
        }));
        let watchdog = tokio::spawn(watch_for_stalls(
            Arc::clone(&reporter),
            events,
            deadlines,
            stall_after,
        ));
        Monitor {
            reporter,
            availability,
            events,
            stop,
            task: Some(task),
            watchdog,
        }
    }

    /// [`spawn`](Self::spawn), then the startup policy: with [`StartupPolicy::FailClosed`] it
    /// waits up to the startup timeout for the first connection and fails if none comes
    /// (logging `<events>_connect_fatal`); with [`StartupPolicy::Degraded`] it returns at once.
    pub async fn start<C: HealthCheck>(
        events: &'static str,
        name: impl Into<Arc<str>>,
        check: C,
        settings: MonitorSettings,
    ) -> Result<Monitor, Unavailable> {
        let monitor = Monitor::spawn(events, name, check, settings);
        if settings.startup == StartupPolicy::FailClosed
            && !monitor.wait_available(settings.startup_timeout).await
        {
            let snapshot = monitor.availability.snapshot();
            let last_error = snapshot.last_error().map_or_else(
                || decide::no_answer(settings.startup_timeout),
                str::to_owned,
            );
            error!(
                dependency = snapshot.name(),
                waited_ms = settings.startup_timeout.as_millis() as u64,
                reason = last_error.as_str(),
                "{events}_connect_fatal"
            );
            monitor.shutdown().await;
            return Err(Unavailable {
                name: snapshot.name().to_owned(),
                waited: settings.startup_timeout,
                last_error,
            });
        }
        Ok(monitor)
    }

    /// Waits until the dependency is available, up to `timeout`. Returns whether it is.
    pub async fn wait_available(&self, timeout: Duration) -> bool {
        let mut changes = self.availability.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.availability.is_available() {
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return self.availability.is_available(),
            }
        }
        true
    }

    /// The read handle, for the layers and for application code.
    pub fn availability(&self) -> Availability {
        self.availability.clone()
    }

    /// Operator override: marks the dependency unavailable (maintenance, draining) until
    /// [`clear_override`](Self::clear_override), whatever the checks say.
    pub fn mark_unavailable(&self, reason: &str) {
        if self.reporter.mark_unavailable(reason) {
            let events = self.events;
            warn!(
                dependency = &*self.availability.name(),
                reason, "{events}_override_set"
            );
        }
    }

    /// Lifts the operator override.
    pub fn clear_override(&self) {
        if self.reporter.clear_override() {
            let events = self.events;
            info!(
                dependency = &*self.availability.name(),
                "{events}_override_cleared"
            );
        }
    }

    /// Stops the watch loop and waits for it to finish. The handle then says `Failed` with the
    /// last error `monitor stopped`, for good.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // Before the task is gone, not when the runtime gets round to dropping it: no reader
        // may see the last reading of a monitor that no longer watches.
        if self.reporter.stop() {
            let events = self.events;
            error!(
                dependency = &*self.availability.name(),
                cause = "dropped",
                hint = "keep the monitor alive for as long as its handle is used",
                "{events}_monitor_stopped"
            );
        }
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.watchdog.abort();
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("availability", &self.availability)
            .finish_non_exhaustive()
    }
}

/// The watch loop's own state, moved into its task.
struct Loop<C> {
    check: C,
    settings: MonitorSettings,
    events: &'static str,
    reporter: Arc<AvailabilityReporter>,
    stopped: watch::Receiver<bool>,
    /// When the watchdog should next hear of a completed check.
    deadline: watch::Sender<Instant>,
    stall_after: Duration,
}

async fn watch_loop<C: HealthCheck>(mut this: Loop<C>) {
    let name = this.reporter.snapshot().name;
    let events = this.events;
    let _stop_on_exit = StopOnExit {
        reporter: Arc::clone(&this.reporter),
        stopped: this.stopped.clone(),
        events,
    };
    info!(
        dependency = &*name,
        startup_timeout_ms = this.settings.startup_timeout.as_millis() as u64,
        "{events}_connect_start"
    );
    let mut watch = Watch::new(Instant::now());
    loop {
        let started = Instant::now();
        let timeout = this.check.timeout();
        // The startup decision falls due at the startup timeout, whether a check is in flight
        // (here) or the next one is not due yet (below): never only at the next failure.
        let outcome = {
            let mut check = pin!(tokio::time::timeout(timeout, this.check.check()));
            loop {
                tokio::select! {
                    outcome = &mut check => break outcome.unwrap_or_else(|_| {
                        Err(crate::CheckError::new(
                            crate::CheckErrorKind::Timeout,
                            format!("check timed out after {} ms", timeout.as_millis()),
                        ))
                    }),
                    () = until(watch.startup_deadline(&this.settings)) => {
                        give_up_startup(&mut watch, &this.settings, &this.reporter, events, &name);
                    }
                    _ = this.stopped.wait_for(|stop| *stop) => return,
                }
            }
        };
        let took = started.elapsed();
        #[cfg(feature = "metrics")]
        crate::metrics::check(&name, took, outcome.as_ref().err());
        let step: Step = watch.step(
            outcome.as_ref().map(|latency| *latency),
            Instant::now(),
            &this.settings,
            rand::random(),
        );
        let reported = this.reporter.report(&step.report, Some(took));
        if reported.stall_ended {
            info!(
                dependency = &*name,
                check_ms = took.as_millis() as u64,
                "{events}_monitor_resumed"
            );
        }
        for event in &step.events {
            log(events, &name, event);
        }
        this.check.apply(step.connections);
        this.deadline
            .send_replace(Instant::now() + step.next_check_in + this.stall_after);
        let mut next_check = pin!(tokio::time::sleep(step.next_check_in));
        let mut woken = pin!(this.check.wake());
        loop {
            tokio::select! {
                () = &mut next_check => break,
                () = &mut woken => {
                    debug!(dependency = &*name, "{events}_check_woken");
                    break;
                }
                () = until(watch.startup_deadline(&this.settings)) => {
                    give_up_startup(&mut watch, &this.settings, &this.reporter, events, &name);
                }
                _ = this.stopped.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// Resolves at `due`, or never.
async fn until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due.into()).await,
        None => std::future::pending().await,
    }
}

/// Applies the startup decision the startup timeout brings between two outcomes, if any.
fn give_up_startup(
    watch: &mut Watch,
    settings: &MonitorSettings,
    reporter: &AvailabilityReporter,
    events: &str,
    name: &str,
) {
    if let Some(gave_up) = watch.give_up_startup(Instant::now(), settings) {
        reporter.report(&gave_up.report, None);
        for event in &gave_up.events {
            log(events, name, event);
        }
    }
}

fn log(events: &str, name: &str, event: &Event) {
    let ms = |d: &Duration| d.as_millis() as u64;
    match event {
        Event::ConnectOk {
            took,
            latency,
            attempt,
        } => info!(
            dependency = name,
            duration_ms = ms(took),
            latency_us = latency.as_micros() as u64,
            attempt,
            "{events}_connect_ok"
        ),
        Event::Reconnected { downtime, attempt } => info!(
            dependency = name,
            downtime_ms = ms(downtime),
            attempt,
            "{events}_reconnected"
        ),
        Event::Slow { reason, timeouts } => debug!(
            dependency = name,
            reason = reason.as_str(),
            timeouts,
            "{events}_check_slow"
        ),
        Event::ConnectionLost { reason } => warn!(
            dependency = name,
            reason = reason.as_str(),
            "{events}_connection_lost"
        ),
        Event::ConnectFail {
            reason,
            attempt,
            failures_since_last_log,
            down_for,
        } => warn!(
            dependency = name,
            reason = reason.as_str(),
            attempt,
            failures_since_last_log,
            down_for_ms = ms(down_for),
            "{events}_connect_fail"
        ),
        Event::Degraded {
            attempts,
            waited,
            reason,
        } => warn!(
            dependency = name,
            attempts,
            waited_ms = ms(waited),
            reason = reason.as_str(),
            "{events}_connect_degraded"
        ),
        Event::WritesRefused { reason } => warn!(
            dependency = name,
            reason = reason.as_str(),
            "{events}_writes_refused"
        ),
        Event::WritesAccepted { refused_for } => info!(
            dependency = name,
            refused_ms = ms(refused_for),
            "{events}_writes_accepted"
        ),
    }
}

/// Lives inside the monitor's task: when the task ends, however it ends (a requested shutdown,
/// a panic, an abort, the runtime shutting down), the handle stops with it.
struct StopOnExit {
    reporter: Arc<AvailabilityReporter>,
    stopped: watch::Receiver<bool>,
    events: &'static str,
}

impl Drop for StopOnExit {
    fn drop(&mut self) {
        if !self.reporter.stop() {
            return;
        }
        let name = self.reporter.snapshot().name;
        let events = self.events;
        if *self.stopped.borrow() {
            info!(
                dependency = &*name,
                cause = "shutdown",
                "{events}_monitor_stopped"
            );
        } else if std::thread::panicking() {
            error!(
                dependency = &*name,
                cause = "panicked",
                "{events}_monitor_stopped"
            );
        } else {
            error!(
                dependency = &*name,
                cause = "aborted",
                "{events}_monitor_stopped"
            );
        }
    }
}

/// Marks the handle stalled when the watch loop misses its deadline: the check it has
/// scheduled, plus the stall timeout. Runs beside the loop, so a check that never returns cannot
/// hold it up; ends when the loop does.
async fn watch_for_stalls(
    reporter: Arc<AvailabilityReporter>,
    events: &'static str,
    mut deadlines: watch::Receiver<Instant>,
    stall_after: Duration,
) {
    loop {
        let due = tokio::time::Instant::from_std(*deadlines.borrow_and_update());
        tokio::select! {
            changed = deadlines.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep_until(due) => {
                if reporter.mark_stalled() {
                    let name = reporter.snapshot().name;
                    error!(
                        dependency = &*name,
                        stall_timeout_ms = stall_after.as_millis() as u64,
                        "{events}_monitor_stalled"
                    );
                }
                if deadlines.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::{Availability, CheckError, CheckErrorKind, Connections, Status};

    /// A check that fails `failures` times, then succeeds, and counts the monitor's decisions to
    /// drop idle connections.
    struct Flaky {
        failures: Arc<AtomicU32>,
        dropped: Arc<AtomicU32>,
    }

    impl HealthCheck for Flaky {
        async fn check(&mut self) -> Result<Duration, CheckError> {
            let left = self.failures.load(Ordering::SeqCst);
            if left == 0 {
                return Ok(Duration::from_micros(1));
            }
            self.failures.store(left - 1, Ordering::SeqCst);
            Err(CheckError::new(CheckErrorKind::Connection, "refused"))
        }

        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }

        fn apply(&mut self, connections: Connections) {
            if connections == Connections::DropIdle {
                self.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn quick() -> MonitorSettings {
        MonitorSettings {
            check_interval: Duration::from_millis(10),
            backoff: crate::Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
            ..MonitorSettings::default()
        }
    }

    #[tokio::test]
    async fn the_loop_applies_each_step_and_drops_idle_connections_once_per_outage() {
        let failures = Arc::new(AtomicU32::new(2));
        let dropped = Arc::new(AtomicU32::new(0));
        let check = Flaky {
            failures: Arc::clone(&failures),
            dropped: Arc::clone(&dropped),
        };
        let monitor = Monitor::start("test", "flaky", check, quick())
            .await
            .unwrap();
        assert!(monitor.wait_available(Duration::from_secs(10)).await);
        let snapshot = monitor.availability().snapshot();
        assert_eq!(snapshot.last_error(), Some("refused"), "kept as history");
        assert_eq!(snapshot.attempts(), 0);
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "never available before");

        failures.store(3, Ordering::SeqCst);
        let redis = monitor.availability();
        let mut changes = redis.subscribe();
        let down = changes.changed().await.unwrap();
        assert_eq!(down.status(), Status::Disconnected);
        assert!(monitor.wait_available(Duration::from_secs(10)).await);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn durations_beyond_a_year_are_a_year_not_a_panic() {
        let settings = MonitorSettings {
            check_interval: Duration::MAX,
            startup_timeout: Duration::MAX,
            backoff: crate::Backoff::new(Duration::MAX, Duration::MAX),
            ..MonitorSettings::default()
        };
        let check = Flaky {
            failures: Arc::new(AtomicU32::new(0)),
            dropped: Arc::default(),
        };
        let monitor = Monitor::start("test", "patient", check, settings)
            .await
            .unwrap();
        assert!(monitor.wait_available(Duration::from_secs(10)).await);
        monitor.shutdown().await;
    }

    /// A check with a bug.
    struct Panics;

    impl HealthCheck for Panics {
        async fn check(&mut self) -> Result<Duration, CheckError> {
            panic!("a bug in a health check");
        }

        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
    }

    #[tokio::test]
    async fn a_panicking_check_stops_the_handle_and_says_so() {
        let (logs, _guard) = redis_gate_testkit::logs::LogCapture::install();
        let monitor = Monitor::spawn("test", "buggy", Panics, quick());
        let redis = monitor.availability();
        let mut changes = redis.subscribe();
        let stopped = tokio::time::timeout(Duration::from_secs(10), changes.changed())
            .await
            .unwrap()
            .unwrap();
        assert!(stopped.is_stopped());
        assert_eq!(stopped.last_error(), Some("monitor stopped"));
        assert!(!redis.is_available());
        let events = logs.events("test_monitor_stopped");
        assert_eq!(events.len(), 1, "{}", logs.text());
        assert!(events[0].contains(r#""level":"ERROR""#), "{}", events[0]);
        assert!(events[0].contains(r#""cause":"panicked""#), "{}", events[0]);
        drop(monitor);
        assert_eq!(logs.events("test_monitor_stopped").len(), 1, "logged once");
    }

    /// A check that never completes within the test: a dependency that accepts and never
    /// answers, with a long connect timeout.
    struct Hangs;

    impl HealthCheck for Hangs {
        async fn check(&mut self) -> Result<Duration, CheckError> {
            std::future::pending().await
        }

        fn timeout(&self) -> Duration {
            Duration::from_secs(600)
        }
    }

    /// Waits for the startup decision, up to a deadline no correct monitor comes near.
    async fn started(redis: &Availability) -> bool {
        let mut changes = redis.subscribe();
        let decided = async { while !redis.is_started() && changes.changed().await.is_some() {} };
        tokio::time::timeout(Duration::from_secs(10), decided)
            .await
            .is_ok()
            && redis.is_started()
    }

    #[tokio::test]
    async fn a_check_in_flight_does_not_hold_up_the_startup_decision() {
        let (logs, _guard) = redis_gate_testkit::logs::LogCapture::install();
        let mut settings = quick();
        settings.startup_timeout = Duration::from_millis(200);
        let monitor = Monitor::start("test", "hung", Hangs, settings)
            .await
            .unwrap();
        let redis = monitor.availability();
        assert!(started(&redis).await, "decided while the check hangs");

        let snapshot = redis.snapshot();
        assert_eq!(snapshot.status(), Status::Failed);
        assert_eq!(
            snapshot.last_error(),
            Some("no answer within the startup timeout (200 ms)")
        );
        assert_eq!(snapshot.last_check_latency(), None, "no check completed");
        let degraded = logs.events("test_connect_degraded");
        assert_eq!(degraded.len(), 1, "{}", logs.text());
        assert!(degraded[0].contains(r#""attempts":0"#), "{}", degraded[0]);
    }

    #[tokio::test]
    async fn a_long_backoff_does_not_hold_up_the_startup_decision() {
        let (logs, _guard) = redis_gate_testkit::logs::LogCapture::install();
        let check = Flaky {
            failures: Arc::new(AtomicU32::new(u32::MAX)),
            dropped: Arc::default(),
        };
        let mut settings = quick();
        settings.startup_timeout = Duration::from_millis(200);
        // The next check after the first failure is 30 to 60 s away.
        settings.backoff = crate::Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
        let monitor = Monitor::start("test", "late", check, settings)
            .await
            .unwrap();
        let redis = monitor.availability();
        assert!(
            started(&redis).await,
            "decided while waiting for the next check"
        );

        let snapshot = redis.snapshot();
        assert_eq!(snapshot.status(), Status::Failed);
        assert_eq!(snapshot.last_error(), Some("refused"));
        assert_eq!(snapshot.attempts(), 1);
        assert!(
            snapshot.retry_in().unwrap() > Duration::from_secs(20),
            "kept"
        );
        let degraded = logs.events("test_connect_degraded");
        assert_eq!(degraded.len(), 1, "{}", logs.text());
        assert!(
            degraded[0].contains(r#""reason":"refused""#),
            "{}",
            degraded[0]
        );
    }

    #[tokio::test]
    async fn fail_closed_start_gives_up_at_the_startup_timeout() {
        let check = Flaky {
            failures: Arc::new(AtomicU32::new(u32::MAX)),
            dropped: Arc::default(),
        };
        let mut settings = quick();
        settings.startup = StartupPolicy::FailClosed;
        settings.startup_timeout = Duration::from_millis(100);
        let err = Monitor::start("test", "never", check, settings)
            .await
            .unwrap_err();
        assert_eq!(err.last_error, "refused");
        assert_eq!(
            err.to_string(),
            "never not available within 100 ms: refused"
        );
    }
}
