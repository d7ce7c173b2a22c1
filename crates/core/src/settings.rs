use std::time::Duration;

use crate::Backoff;

/// What a monitor does when its dependency is not reachable at startup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StartupPolicy {
    /// Serve anyway: the monitor starts at once and keeps retrying in the background, with the
    /// handle unavailable until the dependency answers. The default.
    #[default]
    Degraded,
    /// Refuse to start: starting fails when the startup timeout passes without a connection, so
    /// the process can exit non-zero and the orchestrator can restart it.
    FailClosed,
}

/// How a monitor watches its dependency, whatever the dependency is: how often it checks, when
/// it flips, how it backs off, and what it does at startup.
///
/// Plain data with public fields, as in deadpool's configs: start from the defaults and change
/// what you need.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; }
/// use std::time::Duration;
/// use redis_gate::{MonitorSettings, StartupPolicy};
///
/// let mut settings = MonitorSettings::default();
/// settings.check_interval = Duration::from_millis(500);
/// settings.startup = StartupPolicy::FailClosed;
/// assert_eq!(settings.fall, 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct MonitorSettings {
    /// Time between checks while the dependency is available (default 1 s).
    pub check_interval: Duration,
    /// Timeouts in a row that make an available dependency unavailable (default 2; 0 counts as
    /// 1). Refused or reset connections flip at once.
    pub fall: u32,
    /// Successful checks in a row that make it available again (default 1; 0 counts as 1).
    pub rise: u32,
    /// The delays between reconnection attempts (default 100 ms doubling to 2 s, with jitter).
    pub backoff: Backoff,
    /// What to do when the dependency is unreachable at startup (default
    /// [`StartupPolicy::Degraded`]).
    pub startup: StartupPolicy,
    /// How long startup waits for the first connection (default 8 s). When it passes without
    /// one, the monitor gives up at that moment, even with an attempt in flight or the next one
    /// not due yet: the status becomes [`Failed`](crate::Status::Failed), and with
    /// [`StartupPolicy::Degraded`] the startup decision is made (`<events>_connect_degraded`).
    pub startup_timeout: Duration,
    /// Failed attempts before a monitor that never connected reports `Failed` and retries at the
    /// backoff cap (default 20; 0 counts as 1).
    pub startup_attempts: u32,
    /// How long past its due time a check may run before the monitor counts as stalled and the
    /// handle says unavailable; `None` (the default) derives it from the check interval and the
    /// check's own worst case (see [`stall_after`](Self::stall_after)).
    pub stall_timeout: Option<Duration>,
}

impl MonitorSettings {
    /// The stall timeout in force for a check that can take up to `longest_check`: the one set,
    /// or three check intervals plus `longest_check`.
    pub fn stall_after(&self, longest_check: Duration) -> Duration {
        self.stall_timeout
            .unwrap_or(self.check_interval * 3 + longest_check)
    }
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            check_interval: Duration::from_secs(1),
            fall: 2,
            rise: 1,
            backoff: Backoff::default(),
            startup: StartupPolicy::Degraded,
            startup_timeout: Duration::from_secs(8),
            startup_attempts: 20,
            stall_timeout: None,
        }
    }
}
