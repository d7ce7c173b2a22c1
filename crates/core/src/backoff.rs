use std::time::Duration;

use rand::Rng;

/// Capped exponential backoff with jitter, for reconnection attempts.
///
/// The `n`th delay (from 0) is `initial × 2ⁿ`, capped at `max`, then shortened by a random part
/// of up to `jitter` of itself, so a fleet of clients that lost their dependency together does
/// not reconnect in lockstep. Defaults: 100 ms doubling to a 2 s cap, jitter 0.5 (each delay falls
/// in `[d/2, d]`). A common production setting is 1 s → 15 s.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// use std::time::Duration;
/// use redis_gate::monitor::Backoff;
///
/// let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(15)).jitter(0.0);
/// let delays: Vec<u64> = (0..6).map(|n| backoff.delay(n, &mut rand::rng()).as_secs()).collect();
/// assert_eq!(delays, [1, 2, 4, 8, 15, 15]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// Starts at `initial`, doubles, and stops growing at `max` (raised to `initial` if lower).
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            jitter: 0.5,
        }
    }

    /// This backoff with both delays at most `longest`.
    pub(crate) fn bounded(self, longest: Duration) -> Backoff {
        Backoff {
            initial: self.initial.min(longest),
            max: self.max.min(longest),
            ..self
        }
    }

    /// Sets how much of each delay may be randomly cut, from 0 (none) to 1 (anything down to 0).
    pub fn jitter(mut self, jitter: f64) -> Backoff {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        self
    }

    /// The first delay.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay before retry number `attempt` (from 0).
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        self.delay_at(attempt, rng.random())
    }

    /// The delay before retry number `attempt` for a given random `sample` from `[0, 1)`: the
    /// cut is `sample × jitter` of the delay. [`delay`](Self::delay) draws the sample.
    pub fn delay_at(&self, attempt: u32, sample: f64) -> Duration {
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let grown = self.initial.as_secs_f64() * 2f64.powi(exponent);
        let capped = grown.min(self.max.as_secs_f64());
        let cut = sample.clamp(0.0, 1.0) * self.jitter;
        Duration::from_secs_f64(capped * (1.0 - cut))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
    }
}

/// `{ initial, max, jitter }`, the delays in human form (`initial = "100ms"`, `max = "2s"`).
#[cfg(feature = "serde")]
impl serde::Serialize for Backoff {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        form::Backoff::from(*self).serialize(serializer)
    }
}

/// `{ initial, max, jitter }`, each optional (a missing one keeps its default), an unknown name
/// an error. The delays are durations in human form; as with [`Backoff::new`], a `max` below
/// `initial` is raised to it. A `jitter` outside 0..=1 is an error (in code it is clamped).
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// use std::time::Duration;
/// use redis_gate::monitor::Backoff;
///
/// let backoff: Backoff = serde_json::from_str(r#"{ "initial": "1s", "max": "15s" }"#)?;
/// assert_eq!(backoff, Backoff::new(Duration::from_secs(1), Duration::from_secs(15)));
///
/// let err = serde_json::from_str::<Backoff>(r#"{ "jitter": 2 }"#).unwrap_err();
/// assert!(err.to_string().starts_with("jitter=2 is not valid"), "{err}");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Backoff {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = form::Backoff::deserialize(deserializer)?;
        if !(0.0..=1.0).contains(&form.jitter) {
            return Err(serde::de::Error::custom(format_args!(
                "jitter={} is not valid: a fraction of each delay from 0 (none) to 1",
                form.jitter
            )));
        }
        Ok(Backoff::new(form.initial, form.max).jitter(form.jitter))
    }
}

#[cfg(feature = "serde")]
mod form {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    use crate::human_duration;

    /// The fields, public; the type checks them.
    #[derive(Deserialize, Serialize)]
    #[serde(default, deny_unknown_fields)]
    pub(super) struct Backoff {
        #[serde(with = "human_duration")]
        pub(super) initial: Duration,
        #[serde(with = "human_duration")]
        pub(super) max: Duration,
        pub(super) jitter: f64,
    }

    impl From<super::Backoff> for Backoff {
        fn from(backoff: super::Backoff) -> Backoff {
            Backoff {
                initial: backoff.initial,
                max: backoff.max,
                jitter: backoff.jitter,
            }
        }
    }

    impl Default for Backoff {
        fn default() -> Backoff {
            Backoff::from(super::Backoff::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let backoff = Backoff::default().jitter(0.0);
        let ms: Vec<u128> = (0..7)
            .map(|n| backoff.delay(n, &mut rand::rng()).as_millis())
            .collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(
            backoff.delay(u32::MAX, &mut rand::rng()),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_varies() {
        let backoff = Backoff::default();
        let delays: Vec<Duration> = (0..200)
            .map(|_| backoff.delay(10, &mut rand::rng()))
            .collect();
        assert!(
            delays
                .iter()
                .all(|d| *d > Duration::from_secs(1) && *d <= Duration::from_secs(2))
        );
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter spreads the delays");
    }
}
