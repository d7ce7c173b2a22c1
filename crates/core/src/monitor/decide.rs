//! The monitor's rules as one pure step: (what the monitor knows, a check's outcome, the time)
//! → what to publish, when to check next, and what to log. No I/O, no clock of its own, no
//! knowledge of the dependency: the loop around it does those, and tests need no server.

use std::time::{Duration, Instant};

use crate::reporter::Report;
use crate::{CheckError, CheckErrorKind, Connections, MonitorSettings, StartupPolicy, Status};

/// How often, at most, a summary of ongoing connection failures is logged.
const FAILURE_SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// What the monitor knows between checks. The status here is the one it decided, never one read
/// back from the handle, and the failure count lives here only.
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    status: Status,
    started_at: Instant,
    /// Before the first connection, failures keep the status `Connecting`.
    ever_connected: bool,
    /// The startup budget (attempts or time) ran out before the first connection.
    gave_up: bool,
    /// Failed attempts since the dependency was last available; drives the backoff.
    failures: u32,
    timeouts_in_row: u32,
    successes_in_row: u32,
    down_since: Instant,
    last_failure_log: Option<Instant>,
    failures_since_log: u32,
    /// The reason of the last failed check, for the startup decision's log.
    last_reason: Option<String>,
    /// When the next check is due, as last published: a decision made between checks keeps it.
    next_retry_at: Option<Instant>,
    /// Reads answer, writes are refused: since the first refusal, until `rise` checks in a row
    /// accept them again. Forgotten when reads fail too: the next connection tells anew.
    writes_refused: Option<Refused>,
}

/// Writes refused while reads answer.
#[derive(Clone, Debug)]
struct Refused {
    since: Instant,
    /// Checks in a row that accepted writes since they were refused.
    accepted_in_row: u32,
}

/// What a check that reached the dependency says about writes.
enum Writes<'a> {
    Accepted,
    Refused(&'a CheckError),
}

/// The last error when the startup timeout passed before any check finished.
pub(crate) fn no_answer(startup_timeout: Duration) -> String {
    format!(
        "no answer within the startup timeout ({} ms)",
        startup_timeout.as_millis()
    )
}

/// What one step decides.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Step {
    /// What the handle gets, in one write.
    pub(crate) report: Report,
    /// When to check next, from now.
    pub(crate) next_check_in: Duration,
    /// What to log, in order.
    pub(crate) events: Vec<Event>,
    /// What the check does with its connections.
    pub(crate) connections: Connections,
}

/// What the startup timeout decides when it passes between two outcomes (see
/// [`Watch::give_up_startup`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GaveUp {
    /// What the handle gets, in one write.
    pub(crate) report: Report,
    /// What to log: `Degraded` when the policy is to run degraded.
    pub(crate) events: Vec<Event>,
}

/// A log event, named by the loop (`<prefix>_connect_ok`, ...).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Event {
    /// The first connection.
    ConnectOk {
        took: Duration,
        latency: Duration,
        attempt: u32,
    },
    /// Available again after an outage.
    Reconnected { downtime: Duration, attempt: u32 },
    /// One timeout, not yet `fall` in a row: checked again at once.
    Slow { reason: String, timeouts: u32 },
    /// Was available, is not.
    ConnectionLost { reason: String },
    /// The first failure of an outage, then at most one summary a minute.
    ConnectFail {
        reason: String,
        attempt: u32,
        failures_since_last_log: u32,
        down_for: Duration,
    },
    /// The startup budget ran out and the policy is to run degraded.
    Degraded {
        attempts: u32,
        waited: Duration,
        reason: String,
    },
    /// Reads answer, writes are refused from now on.
    WritesRefused { reason: String },
    /// Writes are accepted again after `rise` checks in a row.
    WritesAccepted { refused_for: Duration },
}

impl Watch {
    /// A monitor starting at `now`, not connected yet.
    pub(crate) fn new(now: Instant) -> Watch {
        Watch {
            status: Status::Connecting,
            started_at: now,
            ever_connected: false,
            gave_up: false,
            failures: 0,
            timeouts_in_row: 0,
            successes_in_row: 0,
            down_since: now,
            last_failure_log: None,
            failures_since_log: 0,
            last_reason: None,
            next_retry_at: None,
            writes_refused: None,
        }
    }

    /// The status the monitor decided last.
    #[cfg(test)]
    pub(crate) fn status(&self) -> Status {
        self.status
    }

    /// When the startup decision falls due if no check decides it first: the startup timeout
    /// after the start, while the dependency has never been available and the budget has not run
    /// out. `None` once decided.
    pub(crate) fn startup_deadline(&self, settings: &MonitorSettings) -> Option<Instant> {
        (!self.ever_connected && !self.gave_up).then(|| self.started_at + settings.startup_timeout)
    }

    /// The startup timeout has passed (`now`) with no outcome to decide on: a check is in flight
    /// or not due yet. The decision is made now rather than at the next failed check, which can
    /// be a whole backoff delay or connect timeout later: `Failed`, and `Degraded` logged when
    /// that is the policy. The schedule and the last check's details are left as they are.
    /// `None` when there is nothing to decide (connected, decided, or not due yet).
    pub(crate) fn give_up_startup(
        &mut self,
        now: Instant,
        settings: &MonitorSettings,
    ) -> Option<GaveUp> {
        if self.startup_deadline(settings).is_none_or(|due| now < due) {
            return None;
        }
        self.gave_up = true;
        self.status = Status::Failed;
        let waited = now.saturating_duration_since(self.started_at);
        // Before any check has failed, what is known is that nothing answered in time; after,
        // the last failure's reason is on the handle already and stays.
        let (reason, error) = match &self.last_reason {
            Some(reason) => (reason.clone(), None),
            None => {
                let reason = no_answer(settings.startup_timeout);
                (reason.clone(), Some(reason))
            }
        };
        let mut events = Vec::new();
        if settings.startup == StartupPolicy::Degraded {
            events.push(Event::Degraded {
                attempts: self.failures,
                waited,
                reason,
            });
        }
        Some(GaveUp {
            report: self.report(error.as_deref(), self.next_retry_at, settings),
            events,
        })
    }

    /// One step. `jitter` is a sample from `[0, 1)` for the backoff, so that the step stays
    /// deterministic.
    pub(crate) fn step(
        &mut self,
        outcome: Result<Duration, &CheckError>,
        now: Instant,
        settings: &MonitorSettings,
        jitter: f64,
    ) -> Step {
        match outcome {
            Ok(latency) => self.succeeded(latency, Writes::Accepted, now, settings),
            // Reads answered: a success for reads, whatever happened to the write.
            Err(err) if err.kind() == CheckErrorKind::ReadOnly => {
                self.succeeded(Duration::ZERO, Writes::Refused(err), now, settings)
            }
            Err(err) => self.failed(err, now, settings, jitter),
        }
    }

    fn succeeded(
        &mut self,
        latency: Duration,
        writes: Writes<'_>,
        now: Instant,
        settings: &MonitorSettings,
    ) -> Step {
        self.timeouts_in_row = 0;
        self.successes_in_row = self.successes_in_row.saturating_add(1);
        let mut events = Vec::new();
        if self.status != Status::Connected && self.successes_in_row >= settings.rise.max(1) {
            let attempt = self.failures.saturating_add(1);
            events.push(if self.ever_connected {
                Event::Reconnected {
                    downtime: now.saturating_duration_since(self.down_since),
                    attempt,
                }
            } else {
                Event::ConnectOk {
                    took: now.saturating_duration_since(self.started_at),
                    latency,
                    attempt,
                }
            });
            self.status = Status::Connected;
            self.ever_connected = true;
            self.gave_up = false;
            self.failures = 0;
            self.last_failure_log = None;
            self.failures_since_log = 0;
        }
        let error = match writes {
            Writes::Refused(err) => {
                if self.writes_refused.is_none() {
                    events.push(Event::WritesRefused {
                        reason: err.reason().to_owned(),
                    });
                }
                self.writes_refused = Some(Refused {
                    since: self.writes_refused.as_ref().map_or(now, |r| r.since),
                    accepted_in_row: 0,
                });
                Some(err.reason())
            }
            Writes::Accepted => {
                if let Some(refused) = &mut self.writes_refused {
                    refused.accepted_in_row = refused.accepted_in_row.saturating_add(1);
                    if refused.accepted_in_row >= settings.rise.max(1) {
                        events.push(Event::WritesAccepted {
                            refused_for: now.saturating_duration_since(refused.since),
                        });
                        self.writes_refused = None;
                    }
                }
                None
            }
        };
        // Not back yet (`rise` asks for more), or writes refused: the next check is the next
        // attempt, for reads or for writes.
        let next_retry_at = (self.status != Status::Connected || self.writes_refused.is_some())
            .then_some(now + settings.check_interval);
        Step {
            report: self.report(error, next_retry_at, settings),
            next_check_in: settings.check_interval,
            events,
            connections: Connections::Keep,
        }
    }

    fn failed(
        &mut self,
        err: &CheckError,
        now: Instant,
        settings: &MonitorSettings,
        jitter: f64,
    ) -> Step {
        self.successes_in_row = 0;
        let was_available = self.status == Status::Connected;
        let mut events = Vec::new();
        if err.kind() == CheckErrorKind::Timeout && was_available {
            self.timeouts_in_row = self.timeouts_in_row.saturating_add(1);
            if self.timeouts_in_row < settings.fall.max(1) {
                // One slow answer is not an outage yet: check again at once.
                events.push(Event::Slow {
                    reason: err.reason().to_owned(),
                    timeouts: self.timeouts_in_row,
                });
                return Step {
                    report: self.report(None, None, settings),
                    next_check_in: Duration::ZERO,
                    events,
                    connections: Connections::Keep,
                };
            }
        }
        self.timeouts_in_row = 0;
        self.failures = self.failures.saturating_add(1);
        self.last_reason = Some(err.reason().to_owned());
        self.writes_refused = None;

        let waited = now.saturating_duration_since(self.started_at);
        if !self.ever_connected
            && !self.gave_up
            && (self.failures >= settings.startup_attempts.max(1)
                || waited >= settings.startup_timeout)
        {
            self.gave_up = true;
            if settings.startup == StartupPolicy::Degraded {
                events.push(Event::Degraded {
                    attempts: self.failures,
                    waited,
                    reason: err.reason().to_owned(),
                });
            }
        }
        let lasting = matches!(err.kind(), CheckErrorKind::Auth | CheckErrorKind::Config);
        self.status = if lasting || self.gave_up {
            Status::Failed
        } else if self.ever_connected {
            Status::Disconnected
        } else {
            Status::Connecting
        };
        let attempt = if self.status == Status::Failed {
            u32::MAX
        } else {
            self.failures - 1
        };
        let delay = settings.backoff.delay_at(attempt, jitter);

        if was_available {
            self.down_since = now;
            events.push(Event::ConnectionLost {
                reason: err.reason().to_owned(),
            });
            self.last_failure_log = Some(now);
            self.failures_since_log = 0;
        } else {
            self.failures_since_log = self.failures_since_log.saturating_add(1);
            let due = self
                .last_failure_log
                .is_none_or(|at| now.saturating_duration_since(at) >= FAILURE_SUMMARY_EVERY);
            if due {
                events.push(Event::ConnectFail {
                    reason: err.reason().to_owned(),
                    attempt: self.failures,
                    failures_since_last_log: self.failures_since_log,
                    down_for: now.saturating_duration_since(self.down_since),
                });
                self.last_failure_log = Some(now);
                self.failures_since_log = 0;
            }
        }
        let connections = if was_available {
            Connections::DropIdle
        } else if err.kind() == CheckErrorKind::NotReady {
            // It answered, on a connection that works.
            Connections::Keep
        } else {
            Connections::Reopen
        };
        Step {
            report: self.report(Some(err.reason()), Some(now + delay), settings),
            next_check_in: delay,
            events,
            connections,
        }
    }

    fn report(
        &mut self,
        error: Option<&str>,
        next_retry_at: Option<Instant>,
        settings: &MonitorSettings,
    ) -> Report {
        self.next_retry_at = next_retry_at;
        Report {
            status: self.status,
            writes_refused: self.writes_refused.is_some(),
            error: error.map(str::to_owned),
            attempts: self.failures,
            next_retry_at,
            started: self.ever_connected
                || (self.gave_up && settings.startup == StartupPolicy::Degraded),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Backoff;

    fn settings() -> MonitorSettings {
        MonitorSettings {
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
            ..MonitorSettings::default()
        }
    }

    fn refused() -> CheckError {
        CheckError::new(CheckErrorKind::Connection, "connection refused")
    }

    fn timeout() -> CheckError {
        CheckError::new(CheckErrorKind::Timeout, "PING timed out after 500 ms")
    }

    const OK: Result<Duration, &CheckError> = Ok(Duration::from_micros(300));

    /// A watch that has connected once, at `t0`.
    fn connected(t0: Instant, settings: &MonitorSettings) -> Watch {
        let mut watch = Watch::new(t0);
        watch.step(OK, t0, settings, 0.0);
        assert_eq!(watch.status(), Status::Connected);
        watch
    }

    #[test]
    fn the_first_success_connects_and_says_how_long_it_took() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = Watch::new(t0);
        let step = watch.step(OK, t0 + Duration::from_millis(7), &settings, 0.0);
        assert_eq!(step.report.status, Status::Connected);
        assert!(step.report.started);
        assert_eq!(step.report.attempts, 0);
        assert_eq!(step.report.next_retry_at, None);
        assert_eq!(step.next_check_in, settings.check_interval);
        assert_eq!(
            step.events,
            [Event::ConnectOk {
                took: Duration::from_millis(7),
                latency: Duration::from_micros(300),
                attempt: 1
            }]
        );
    }

    fn writes_refused() -> CheckError {
        CheckError::new(
            CheckErrorKind::ReadOnly,
            "OOM: maxmemory reached and writes are refused",
        )
    }

    #[test]
    fn a_refused_write_makes_it_read_only_at_once_and_keeps_every_connection() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = connected(t0, &settings);
        let step = watch.step(Err(&writes_refused()), t0, &settings, 0.0);
        assert_eq!(step.report.status, Status::Connected, "reads answer");
        assert!(step.report.writes_refused);
        assert_eq!(step.connections, Connections::Keep, "never drops the pool");
        assert_eq!(step.next_check_in, settings.check_interval);
        assert_eq!(
            step.report.next_retry_at,
            Some(t0 + settings.check_interval),
            "when writes may be back"
        );
        assert_eq!(
            step.report.error.as_deref(),
            Some(writes_refused().reason())
        );
        assert_eq!(
            step.events,
            [Event::WritesRefused {
                reason: writes_refused().reason().to_owned()
            }]
        );
        // Refused again: no new event, still read-only.
        let step = watch.step(Err(&writes_refused()), t0, &settings, 0.0);
        assert!(step.report.writes_refused);
        assert!(step.events.is_empty());
    }

    #[test]
    fn writes_come_back_after_rise_checks_in_a_row() {
        let t0 = Instant::now();
        let mut settings = settings();
        settings.rise = 2;
        let mut watch = Watch::new(t0);
        watch.step(OK, t0, &settings, 0.0);
        watch.step(OK, t0, &settings, 0.0);
        assert_eq!(watch.status(), Status::Connected);
        watch.step(Err(&writes_refused()), t0, &settings, 0.0);

        let later = t0 + Duration::from_secs(3);
        let step = watch.step(OK, later, &settings, 0.0);
        assert!(step.report.writes_refused, "one success is not rise");
        // A refusal in between starts the count again.
        watch.step(Err(&writes_refused()), later, &settings, 0.0);
        watch.step(OK, later, &settings, 0.0);
        let step = watch.step(OK, later, &settings, 0.0);
        assert!(!step.report.writes_refused);
        assert_eq!(step.report.next_retry_at, None);
        assert_eq!(
            step.events,
            [Event::WritesAccepted {
                refused_for: Duration::from_secs(3)
            }]
        );
    }

    #[test]
    fn a_dependency_that_starts_read_only_connects_read_only() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = Watch::new(t0);
        let step = watch.step(Err(&writes_refused()), t0, &settings, 0.0);
        assert_eq!(step.report.status, Status::Connected);
        assert!(step.report.writes_refused);
        assert!(step.report.started);
        assert!(matches!(
            &step.events[..],
            [Event::ConnectOk { .. }, Event::WritesRefused { .. }]
        ));
    }

    #[test]
    fn reads_failing_too_is_an_outage_and_writes_are_learnt_anew() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = connected(t0, &settings);
        watch.step(Err(&writes_refused()), t0, &settings, 0.0);
        let step = watch.step(Err(&refused()), t0, &settings, 0.0);
        assert_eq!(step.report.status, Status::Disconnected);
        assert!(!step.report.writes_refused);
        assert_eq!(step.connections, Connections::DropIdle, "reads were served");
        assert!(matches!(&step.events[..], [Event::ConnectionLost { .. }]));
        let step = watch.step(OK, t0, &settings, 0.0);
        assert_eq!(step.report.status, Status::Connected);
        assert!(!step.report.writes_refused, "a writable server is writable");
    }

    #[test]
    fn timeouts_flip_only_after_fall_in_a_row_and_are_retried_at_once() {
        let t0 = Instant::now();
        let mut settings = settings();
        settings.fall = 3;
        let mut watch = connected(t0, &settings);
        for timeouts in 1..3 {
            let step = watch.step(Err(&timeout()), t0, &settings, 0.0);
            assert_eq!(step.report.status, Status::Connected, "timeout {timeouts}");
            assert_eq!(step.next_check_in, Duration::ZERO);
            assert!(
                matches!(&step.events[..], [Event::Slow { timeouts: t, .. }] if *t == timeouts)
            );
            assert_eq!(step.connections, Connections::Keep, "asked again on it");
        }
        let step = watch.step(Err(&timeout()), t0, &settings, 0.0);
        assert_eq!(step.report.status, Status::Disconnected);
        assert_eq!(step.connections, Connections::DropIdle);
        assert!(matches!(&step.events[..], [Event::ConnectionLost { .. }]));

        // A success in between starts the count again.
        let mut watch = connected(t0, &settings);
        watch.step(Err(&timeout()), t0, &settings, 0.0);
        watch.step(OK, t0, &settings, 0.0);
        watch.step(Err(&timeout()), t0, &settings, 0.0);
        let step = watch.step(Err(&timeout()), t0, &settings, 0.0);
        assert_eq!(step.report.status, Status::Connected);
    }

    #[test]
    fn refused_and_reset_connections_flip_at_once() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = connected(t0, &settings);
        let reset = CheckError::new(CheckErrorKind::Connection, "Connection reset by peer");
        let step = watch.step(Err(&reset), t0, &settings, 0.0);
        assert_eq!(step.report.status, Status::Disconnected);
        assert_eq!(
            step.report.error.as_deref(),
            Some("Connection reset by peer")
        );
        assert_eq!(step.report.attempts, 1);
        assert_eq!(step.next_check_in, Duration::from_millis(100));
        assert_eq!(
            step.report.next_retry_at,
            Some(t0 + Duration::from_millis(100))
        );
        assert_eq!(step.connections, Connections::DropIdle);
    }

    #[test]
    fn rise_successes_bring_it_back_and_report_the_downtime() {
        let t0 = Instant::now();
        let mut settings = settings();
        settings.rise = 2;
        let mut watch = Watch::new(t0);
        watch.step(OK, t0, &settings, 0.0);
        let step = watch.step(OK, t0, &settings, 0.0);
        assert_eq!(
            step.report.status,
            Status::Connected,
            "two successes connect"
        );

        let down = t0 + Duration::from_secs(1);
        watch.step(Err(&refused()), down, &settings, 0.0);
        let step = watch.step(OK, down + Duration::from_secs(2), &settings, 0.0);
        assert_eq!(
            step.report.status,
            Status::Disconnected,
            "one success is not enough"
        );
        assert!(step.events.is_empty());
        let step = watch.step(OK, down + Duration::from_secs(3), &settings, 0.0);
        assert_eq!(step.report.status, Status::Connected);
        assert_eq!(
            step.events,
            [Event::Reconnected {
                downtime: Duration::from_secs(3),
                attempt: 2
            }]
        );
        assert_eq!(step.report.attempts, 0);
    }

    #[test]
    fn the_startup_budget_ends_in_failed_degraded_or_not_as_the_policy_says() {
        let t0 = Instant::now();
        for policy in [StartupPolicy::Degraded, StartupPolicy::FailClosed] {
            let mut settings = settings();
            settings.startup = policy;
            settings.startup_attempts = 3;
            let mut watch = Watch::new(t0);
            for attempt in 1..3 {
                let step = watch.step(Err(&refused()), t0, &settings, 0.0);
                assert_eq!(step.report.status, Status::Connecting, "attempt {attempt}");
                assert!(!step.report.started);
            }
            let step = watch.step(Err(&refused()), t0, &settings, 0.0);
            assert_eq!(step.report.status, Status::Failed, "{policy:?}");
            assert_eq!(step.report.started, policy == StartupPolicy::Degraded);
            assert_eq!(
                step.events
                    .iter()
                    .any(|e| matches!(e, Event::Degraded { attempts: 3, .. })),
                policy == StartupPolicy::Degraded
            );
            // Retries go on at the cap.
            assert_eq!(step.next_check_in, Duration::from_secs(2));
        }

        // The time budget counts too.
        let settings = settings();
        let mut watch = Watch::new(t0);
        let step = watch.step(
            Err(&refused()),
            t0 + settings.startup_timeout,
            &settings,
            0.0,
        );
        assert_eq!(step.report.status, Status::Failed);
    }

    #[test]
    fn the_startup_decision_falls_due_at_the_startup_timeout_between_outcomes() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(8);
        for policy in [StartupPolicy::Degraded, StartupPolicy::FailClosed] {
            let mut settings = settings();
            settings.startup = policy;
            settings.startup_timeout = timeout;
            let mut watch = Watch::new(t0);
            assert_eq!(watch.startup_deadline(&settings), Some(t0 + timeout));
            let failed = watch.step(Err(&refused()), t0, &settings, 0.0);
            assert_eq!(failed.report.status, Status::Connecting);

            let early = t0 + timeout - Duration::from_millis(1);
            assert_eq!(watch.give_up_startup(early, &settings), None, "not due yet");
            let gave_up = watch
                .give_up_startup(t0 + timeout, &settings)
                .expect("due at the startup timeout");
            assert_eq!(
                gave_up.report,
                Report {
                    status: Status::Failed,
                    writes_refused: false,
                    error: None,
                    attempts: 1,
                    next_retry_at: failed.report.next_retry_at,
                    started: policy == StartupPolicy::Degraded,
                },
                "the last failure stays the last error, the schedule stays: {policy:?}"
            );
            let degraded = Event::Degraded {
                attempts: 1,
                waited: timeout,
                reason: "connection refused".to_owned(),
            };
            assert_eq!(
                gave_up.events,
                if policy == StartupPolicy::Degraded {
                    vec![degraded]
                } else {
                    Vec::new()
                }
            );

            // Decided once: neither the timer nor the next failure decides again.
            assert_eq!(watch.startup_deadline(&settings), None);
            assert_eq!(watch.give_up_startup(t0 + timeout * 2, &settings), None);
            let next = watch.step(Err(&refused()), t0 + timeout * 2, &settings, 0.0);
            assert_eq!(next.report.status, Status::Failed);
            assert!(next.events.is_empty(), "{:?}", next.events);
            assert_eq!(next.next_check_in, Duration::from_secs(2), "at the cap");
            // And the first success is the first connection.
            let ok = watch.step(OK, t0 + timeout * 3, &settings, 0.0);
            assert_eq!(ok.report.status, Status::Connected);
            assert!(matches!(
                &ok.events[..],
                [Event::ConnectOk { attempt: 3, .. }]
            ));
        }
    }

    #[test]
    fn a_startup_timeout_before_any_outcome_says_nothing_answered() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = Watch::new(t0);
        let due = t0 + settings.startup_timeout;
        let gave_up = watch.give_up_startup(due, &settings).unwrap();
        let reason = "no answer within the startup timeout (8000 ms)";
        assert_eq!(gave_up.report.status, Status::Failed);
        assert_eq!(gave_up.report.error.as_deref(), Some(reason));
        assert_eq!(gave_up.report.attempts, 0);
        assert_eq!(
            gave_up.report.next_retry_at, None,
            "the first check is in flight"
        );
        assert!(gave_up.report.started);
        assert_eq!(
            gave_up.events,
            [Event::Degraded {
                attempts: 0,
                waited: settings.startup_timeout,
                reason: reason.to_owned(),
            }]
        );
    }

    #[test]
    fn a_connection_before_the_startup_timeout_leaves_nothing_to_decide() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = connected(t0, &settings);
        assert_eq!(watch.startup_deadline(&settings), None);
        let later = t0 + settings.startup_timeout * 2;
        assert_eq!(watch.give_up_startup(later, &settings), None);
        watch.step(Err(&refused()), later, &settings, 0.0);
        assert_eq!(
            watch.startup_deadline(&settings),
            None,
            "an outage is no startup"
        );
    }

    #[test]
    fn bad_credentials_and_settings_are_failed_at_once() {
        let t0 = Instant::now();
        let settings = settings();
        for kind in [CheckErrorKind::Auth, CheckErrorKind::Config] {
            let mut watch = connected(t0, &settings);
            let err = CheckError::new(kind, "authentication failed");
            let step = watch.step(Err(&err), t0, &settings, 0.0);
            assert_eq!(step.report.status, Status::Failed, "{kind:?}");
            assert_eq!(step.next_check_in, Duration::from_secs(2), "at the cap");
        }
    }

    #[test]
    fn an_outage_is_logged_once_then_summarised_once_a_minute() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = connected(t0, &settings);
        let lost = watch.step(Err(&refused()), t0, &settings, 0.0);
        assert!(matches!(&lost.events[..], [Event::ConnectionLost { .. }]));
        for second in 1..60 {
            let step = watch.step(
                Err(&refused()),
                t0 + Duration::from_secs(second),
                &settings,
                0.0,
            );
            assert!(step.events.is_empty(), "second {second}: {:?}", step.events);
        }
        let step = watch.step(
            Err(&refused()),
            t0 + Duration::from_secs(60),
            &settings,
            0.0,
        );
        assert_eq!(
            step.events,
            [Event::ConnectFail {
                reason: "connection refused".to_owned(),
                attempt: 61,
                failures_since_last_log: 60,
                down_for: Duration::from_secs(60),
            }]
        );
    }

    #[test]
    fn a_same_status_outcome_is_no_transition() {
        let t0 = Instant::now();
        let settings = settings();
        let mut watch = connected(t0, &settings);
        let step = watch.step(OK, t0, &settings, 0.0);
        assert!(step.events.is_empty());
        assert_eq!(step.connections, Connections::Keep);
        assert_eq!(step.report.status, Status::Connected);

        watch.step(Err(&refused()), t0, &settings, 0.0);
        let step = watch.step(Err(&refused()), t0, &settings, 0.0);
        assert_eq!(
            step.connections,
            Connections::Reopen,
            "idle ones dropped once, not at every failure"
        );
        assert_eq!(step.report.status, Status::Disconnected);
    }

    #[test]
    fn a_connection_that_answered_is_kept_one_that_failed_is_reopened() {
        let t0 = Instant::now();
        let settings = settings();
        let kinds = [
            (CheckErrorKind::Connection, Connections::Reopen),
            (CheckErrorKind::Timeout, Connections::Reopen),
            (CheckErrorKind::Auth, Connections::Reopen),
            (CheckErrorKind::Config, Connections::Reopen),
            (CheckErrorKind::NotReady, Connections::Keep),
        ];
        for (kind, expected) in kinds {
            let err = CheckError::new(kind, "why");
            // Not available yet: nothing pooled to drop.
            let mut watch = Watch::new(t0);
            let step = watch.step(Err(&err), t0, &settings, 0.0);
            assert_eq!(step.connections, expected, "{kind:?} while connecting");
            // Available until now: whatever the kind, the idle connections go.
            let mut watch = connected(t0, &settings);
            let mut step = watch.step(Err(&err), t0, &settings, 0.0);
            while step.report.status == Status::Connected {
                step = watch.step(Err(&err), t0, &settings, 0.0);
            }
            assert_eq!(
                step.connections,
                Connections::DropIdle,
                "{kind:?} when lost"
            );
        }
    }

    proptest! {
        /// Whether the timer or a failed check comes first, the startup decision is made once,
        /// never before the startup timeout (with the attempts budget out of reach), and never
        /// left pending after it.
        #[test]
        fn the_startup_decision_is_made_once_whoever_makes_it(
            events in proptest::collection::vec((0u8..3, 0u64..3_000, any::<bool>()), 1..40),
        ) {
            let t0 = Instant::now();
            let mut settings = settings();
            settings.startup_attempts = u32::MAX;
            let due = t0 + settings.startup_timeout;
            let mut watch = Watch::new(t0);
            let mut now = t0;
            let mut degraded = 0;
            for (outcome, advance_ms, timer_fires) in events {
                now += Duration::from_millis(advance_ms);
                let mut decided = Vec::new();
                if timer_fires && let Some(gave_up) = watch.give_up_startup(now, &settings) {
                    prop_assert!(now >= due);
                    prop_assert_eq!(gave_up.report.status, Status::Failed);
                    decided.extend(gave_up.events);
                }
                let err = match outcome {
                    0 => None,
                    1 => Some(refused()),
                    _ => Some(timeout()),
                };
                let step = watch.step(err.as_ref().map_or(OK, Err), now, &settings, 0.5);
                decided.extend(step.events);
                let newly = decided.iter().filter(|e| matches!(e, Event::Degraded { .. })).count();
                prop_assert!(newly == 0 || now >= due, "decided early at {:?}", now - t0);
                degraded += newly;
                if now >= due {
                    prop_assert_eq!(watch.startup_deadline(&settings), None);
                }
            }
            prop_assert!(degraded <= 1);
        }

        /// Whatever the outcomes, the delays grow within the cap and the jitter's bounds, the
        /// status follows the rules, and the count is the one the report carries.
        #[test]
        fn delays_stay_within_the_cap_and_the_jitter(
            outcomes in proptest::collection::vec((0u8..4, 0.0f64..1.0), 1..60),
        ) {
            let t0 = Instant::now();
            let settings = settings();
            let cap = settings.backoff.max();
            let mut watch = Watch::new(t0);
            let mut now = t0;
            for (outcome, jitter) in outcomes {
                let err = match outcome {
                    0 => None,
                    1 => Some(refused()),
                    2 => Some(timeout()),
                    _ => Some(CheckError::new(CheckErrorKind::NotReady, "LOADING")),
                };
                let before = watch.status();
                let step = watch.step(err.as_ref().map_or(OK, Err), now, &settings, jitter);
                prop_assert!(step.next_check_in <= cap.max(settings.check_interval));
                if let Some(err) = &err {
                    if step.next_check_in > Duration::ZERO {
                        let full = settings.backoff.delay_at(
                            if step.report.status == Status::Failed { u32::MAX } else { step.report.attempts - 1 },
                            0.0,
                        );
                        prop_assert!(step.next_check_in <= full);
                        prop_assert!(step.next_check_in.as_secs_f64() >= full.as_secs_f64() * 0.5 - 1e-9);
                        prop_assert_eq!(step.report.error.as_deref(), Some(err.reason()));
                    }
                } else {
                    prop_assert_eq!(step.report.status, Status::Connected);
                    prop_assert_eq!(step.report.attempts, 0);
                }
                let lost = before == Status::Connected && step.report.status != Status::Connected;
                prop_assert_eq!(step.connections == Connections::DropIdle, lost);
                now += step.next_check_in;
            }
        }
    }
}
