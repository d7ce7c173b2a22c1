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
/// what you need. A monitor takes any duration longer than a year as a year.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// use std::time::Duration;
/// use redis_gate::StartupPolicy;
/// use redis_gate::monitor::MonitorSettings;
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
        self.stall_timeout.unwrap_or_else(|| {
            self.check_interval
                .saturating_mul(3)
                .saturating_add(longest_check)
        })
    }

    /// These settings with every duration at most [`LONGEST`](crate::LONGEST).
    pub(crate) fn bounded(self) -> MonitorSettings {
        MonitorSettings {
            check_interval: self.check_interval.min(crate::LONGEST),
            startup_timeout: self.startup_timeout.min(crate::LONGEST),
            stall_timeout: self.stall_timeout.map(|stall| stall.min(crate::LONGEST)),
            backoff: self.backoff.bounded(crate::LONGEST),
            ..self
        }
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

/// `"degraded"` or `"fail_closed"`.
#[cfg(feature = "serde")]
impl serde::Serialize for StartupPolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        form::StartupPolicy::serialize(self, serializer)
    }
}

/// `"degraded"` or `"fail_closed"`.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for StartupPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        form::StartupPolicy::deserialize(deserializer)
    }
}

/// A table with the fields' names; durations in human form (`"500ms"`, `"2s"`, see
/// [`human_duration`](crate::human_duration)), `stall_timeout` left out when derived.
#[cfg(feature = "serde")]
impl serde::Serialize for MonitorSettings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        form::MonitorSettings::serialize(self, serializer)
    }
}

/// A table with the fields' names, each optional (a missing one keeps its default); an unknown
/// name is an error, so that a misspelt setting is not silently left at its default. Durations
/// are strings in human form, greater than 0.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// use std::time::Duration;
/// use redis_gate::StartupPolicy;
/// use redis_gate::monitor::MonitorSettings;
///
/// let settings: MonitorSettings = serde_json::from_str(
///     r#"{ "check_interval": "500ms", "startup": "fail_closed", "backoff": { "max": "15s" } }"#,
/// )?;
/// assert_eq!(settings.check_interval, Duration::from_millis(500));
/// assert_eq!(settings.startup, StartupPolicy::FailClosed);
/// assert_eq!(settings.backoff.max(), Duration::from_secs(15));
/// assert_eq!(settings.fall, MonitorSettings::default().fall);
///
/// let typo = serde_json::from_str::<MonitorSettings>(r#"{ "check_intervall": "1s" }"#);
/// assert!(typo.unwrap_err().to_string().contains("unknown field `check_intervall`"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for MonitorSettings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        form::MonitorSettings::deserialize(deserializer)
    }
}

/// The serde forms, derived against the public types (serde's `remote`), so that a field added
/// to a type and not here does not compile.
#[cfg(feature = "serde")]
mod form {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    use crate::{Backoff, human_duration};

    #[derive(Deserialize, Serialize)]
    #[serde(remote = "super::StartupPolicy", rename_all = "snake_case")]
    pub(super) enum StartupPolicy {
        Degraded,
        FailClosed,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(
        remote = "super::MonitorSettings",
        default = "super::MonitorSettings::default",
        deny_unknown_fields
    )]
    pub(super) struct MonitorSettings {
        #[serde(with = "human_duration")]
        check_interval: Duration,
        fall: u32,
        rise: u32,
        backoff: Backoff,
        startup: super::StartupPolicy,
        #[serde(with = "human_duration")]
        startup_timeout: Duration,
        startup_attempts: u32,
        #[serde(
            with = "human_duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        stall_timeout: Option<Duration>,
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn read(value: serde_json::Value) -> Result<MonitorSettings, String> {
        serde_json::from_value(value).map_err(|err| err.to_string())
    }

    #[test]
    fn settings_round_trip_with_durations_in_human_form() {
        let settings = MonitorSettings {
            check_interval: Duration::from_millis(500),
            fall: 3,
            rise: 2,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(15)).jitter(0.25),
            startup: StartupPolicy::FailClosed,
            startup_timeout: Duration::from_millis(1500),
            startup_attempts: 5,
            stall_timeout: Some(Duration::from_secs(90)),
        };
        let written = serde_json::to_value(settings).unwrap();
        assert_eq!(
            written,
            json!({
                "check_interval": "500ms",
                "fall": 3,
                "rise": 2,
                "backoff": { "initial": "1s", "max": "15s", "jitter": 0.25 },
                "startup": "fail_closed",
                "startup_timeout": "1s 500ms",
                "startup_attempts": 5,
                "stall_timeout": "1m 30s",
            })
        );
        assert_eq!(read(written), Ok(settings));
    }

    #[test]
    fn the_defaults_write_no_stall_timeout_and_read_back_the_same() {
        let written = serde_json::to_value(MonitorSettings::default()).unwrap();
        assert_eq!(written.get("stall_timeout"), None, "{written}");
        assert_eq!(written["startup"], "degraded");
        assert_eq!(read(written), Ok(MonitorSettings::default()));
    }

    #[test]
    fn missing_fields_keep_their_defaults() {
        assert_eq!(read(json!({})), Ok(MonitorSettings::default()));
        let settings = read(json!({ "rise": 4, "backoff": { "max": "10s" } })).unwrap();
        let defaults = MonitorSettings::default();
        assert_eq!(settings.rise, 4);
        assert_eq!(settings.check_interval, defaults.check_interval);
        assert_eq!(settings.backoff.initial(), defaults.backoff.initial());
        assert_eq!(settings.backoff.max(), Duration::from_secs(10));
        assert_eq!(settings.stall_timeout, None);
    }

    #[test]
    fn human_durations_in_any_of_the_usual_spellings() {
        for (text, expected) in [
            ("500ms", Duration::from_millis(500)),
            ("2s", Duration::from_secs(2)),
            ("1.5s", Duration::from_millis(1500)),
            ("1m 30s", Duration::from_secs(90)),
            ("2 seconds", Duration::from_secs(2)),
            ("250 ms", Duration::from_millis(250)),
        ] {
            let settings = read(json!({ "check_interval": text })).unwrap();
            assert_eq!(settings.check_interval, expected, "{text}");
        }
    }

    #[test]
    fn bad_durations_say_what_was_given_and_what_is_valid() {
        for (value, says) in [
            (json!("1500"), r#""1500" is not a duration"#),
            (json!("2 parsecs"), r#""2 parsecs" is not a duration"#),
            (json!("-1s"), r#""-1s" is not a duration"#),
            (json!(""), r#""" is not a duration"#),
            (
                json!("0s"),
                r#""0s" is not valid: a duration greater than 0"#,
            ),
            (
                json!(1500),
                "invalid type: integer `1500`, expected a duration",
            ),
        ] {
            for field in ["check_interval", "startup_timeout", "stall_timeout"] {
                let err = read(json!({ field: value })).unwrap_err();
                assert!(err.starts_with(says), "{field}={value}: {err}");
                assert!(err.contains(r#"such as "500ms", "2s""#), "{err}");
            }
            let err = read(json!({ "backoff": { "initial": value } })).unwrap_err();
            assert!(err.starts_with(says), "backoff.initial={value}: {err}");
        }
    }

    #[test]
    fn unknown_fields_and_words_are_errors_that_list_the_valid_ones() {
        let err = read(json!({ "check_intervall": "1s" })).unwrap_err();
        assert!(
            err.starts_with("unknown field `check_intervall`, expected one of `check_interval`")
        );
        let err = read(json!({ "backoff": { "cap": "1s" } })).unwrap_err();
        assert!(err.starts_with("unknown field `cap`, expected one of `initial`, `max`, `jitter`"));
        let err = read(json!({ "startup": "fail-closed" })).unwrap_err();
        assert!(
            err.starts_with("unknown variant `fail-closed`, expected `degraded` or `fail_closed`"),
            "{err}"
        );
    }

    #[test]
    fn backoff_jitter_outside_zero_to_one_is_an_error_and_a_low_cap_is_raised() {
        for jitter in [json!(-0.1), json!(1.5)] {
            let err = read(json!({ "backoff": { "jitter": jitter } })).unwrap_err();
            assert!(
                err.starts_with(&format!("jitter={jitter} is not valid")),
                "{err}"
            );
        }
        let settings = read(json!({ "backoff": { "jitter": 1 } })).unwrap();
        assert_eq!(settings.backoff, Backoff::default().jitter(1.0));
        let settings = read(json!({ "backoff": { "initial": "5s", "max": "1s" } })).unwrap();
        assert_eq!(settings.backoff.max(), Duration::from_secs(5));
    }
}
