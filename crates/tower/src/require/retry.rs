//! How long a rejected client is told to wait: `Retry-After` in whole seconds for HTTP,
//! `grpc-retry-pushback-ms` in milliseconds for gRPC, from one policy.

use std::time::Duration;

/// Added to the time until the monitor's next retry: the retry is when its check *starts*, and
/// the handle flips only once the check has connected and heard `PING` back (a few milliseconds
/// on a data-centre network, TLS included). A client that comes back at the announced time then
/// finds the answer instead of spending one of its attempts on a check still in flight.
const CHECK_MARGIN: Duration = Duration::from_millis(50);

/// The smallest pushback ever announced. A pushback of `0` is valid in gRFC A6, but clients
/// built on grpc-core (grpcio, the C++, Ruby and PHP clients) never start the retry it asks for:
/// the call hangs until its deadline (seen with grpcio 1.85). 1 ms is retried by every A6 client.
const MIN_PUSHBACK_MS: u64 = 1;

/// The wait a rejection announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RetryPolicy {
    wait: Wait,
    /// Up to this many seconds are added at random, so clients rejected together come back
    /// spread out.
    jitter: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// Until the monitor's next scheduled retry, within `min..=max` seconds.
    UntilNextRetry { min: u64, max: u64 },
    /// Always this many seconds.
    Fixed(u64),
}

impl RetryPolicy {
    /// Until the next retry, at most 30 s, no jitter.
    pub(super) const DEFAULT: RetryPolicy = RetryPolicy {
        wait: Wait::UntilNextRetry { min: 0, max: 30 },
        jitter: 0,
    };

    pub(super) fn until_next_retry(self, min: u64, max: u64) -> RetryPolicy {
        RetryPolicy {
            wait: Wait::UntilNextRetry {
                min,
                max: max.max(min),
            },
            ..self
        }
    }

    pub(super) fn fixed(self, seconds: u64) -> RetryPolicy {
        RetryPolicy {
            wait: Wait::Fixed(seconds.max(1)),
            ..self
        }
    }

    pub(super) fn jitter(self, seconds: u64) -> RetryPolicy {
        RetryPolicy {
            jitter: seconds,
            ..self
        }
    }

    /// `Retry-After`: the seconds until the next retry (`until`, `None` when none is scheduled)
    /// and its check, rounded up, plus jitter, within the bounds; never below 1, which the
    /// header would read as "now".
    pub(super) fn seconds(self, until: Option<Duration>) -> u64 {
        let (first, last) = self.header_bounds();
        let base = match self.wait {
            Wait::Fixed(seconds) => seconds,
            Wait::UntilNextRetry { .. } => until.map_or(1, |until| {
                let wait = until + CHECK_MARGIN;
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            }),
        };
        (base + random_up_to(self.jitter)).clamp(first, last)
    }

    /// `grpc-retry-pushback-ms`: the same wait in milliseconds, so a blip of 300 ms does not make
    /// a client wait a whole second. No floor of 1 s here: the lower bound is the range's own,
    /// and never below [`MIN_PUSHBACK_MS`].
    pub(super) fn millis(self, until: Option<Duration>) -> u64 {
        let jitter = random_up_to(self.jitter.saturating_mul(1000));
        let millis = match self.wait {
            Wait::Fixed(seconds) => seconds.saturating_mul(1000) + jitter,
            Wait::UntilNextRetry { min, max } => {
                let wait = until.map_or(1000, |until| (until + CHECK_MARGIN).as_millis() as u64);
                (wait + jitter).clamp(min.saturating_mul(1000), max.saturating_mul(1000))
            }
        };
        millis.max(MIN_PUSHBACK_MS)
    }

    /// The smallest and largest `Retry-After` this policy gives.
    pub(super) fn header_bounds(self) -> (u64, u64) {
        match self.wait {
            Wait::UntilNextRetry { min, max } => (min.max(1), max.max(1)),
            Wait::Fixed(seconds) => (seconds, seconds.saturating_add(self.jitter)),
        }
    }
}

/// A uniform random number in `0..=max`; no randomness at all for 0.
fn random_up_to(max: u64) -> u64 {
    if max == 0 { 0 } else { fastrand::u64(0..=max) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Option<Duration> = |ms| Some(Duration::from_millis(ms));

    #[test]
    fn seconds_round_up_and_stay_within_the_bounds_never_below_one() {
        let policy = RetryPolicy::DEFAULT;
        assert_eq!(policy.seconds(MS(300)), 1);
        assert_eq!(policy.seconds(MS(950)), 1);
        // The check that starts in a second ends after it.
        assert_eq!(policy.seconds(MS(951)), 2);
        assert_eq!(policy.seconds(MS(1000)), 2);
        assert_eq!(policy.seconds(Some(Duration::ZERO)), 1);
        assert_eq!(policy.seconds(None), 1);
        assert_eq!(policy.seconds(MS(600_000)), 30);
        let narrow = policy.until_next_retry(2, 10);
        assert_eq!(narrow.seconds(MS(300)), 2);
        assert_eq!(narrow.seconds(MS(60_000)), 10);
    }

    #[test]
    fn milliseconds_follow_the_retry_and_its_check_without_the_one_second_floor() {
        let policy = RetryPolicy::DEFAULT;
        assert_eq!(policy.millis(MS(300)), 350);
        // The retry is due, its check in flight: come back when it is likely done.
        assert_eq!(policy.millis(MS(0)), 50);
        assert_eq!(policy.millis(None), 1000);
        assert_eq!(policy.millis(MS(600_000)), 30_000);
        let narrow = policy.until_next_retry(2, 10);
        assert_eq!(narrow.millis(MS(300)), 2000);
        assert_eq!(narrow.millis(MS(4500)), 4550);
        assert_eq!(policy.fixed(3).millis(MS(300)), 3000);
    }

    #[test]
    fn the_pushback_is_never_zero_which_grpc_core_clients_never_retry() {
        let immediate = RetryPolicy::DEFAULT.until_next_retry(0, 0);
        assert_eq!(immediate.millis(MS(0)), 1);
        assert_eq!(immediate.millis(MS(5000)), 1);
        assert_eq!(immediate.millis(None), 1);
    }

    #[test]
    fn jitter_spreads_waits_upwards_within_the_bounds() {
        let policy = RetryPolicy::DEFAULT.until_next_retry(1, 30).jitter(5);
        let seconds: Vec<u64> = (0..500).map(|_| policy.seconds(MS(1950))).collect();
        assert!(seconds.iter().all(|s| (2..=7).contains(s)), "{seconds:?}");
        let distinct: std::collections::HashSet<_> = seconds.iter().collect();
        assert_eq!(distinct.len(), 6, "every second of the window is used");

        let millis: Vec<u64> = (0..500).map(|_| policy.millis(MS(1950))).collect();
        assert!(millis.iter().all(|ms| (2000..=7000).contains(ms)));
        assert!(
            millis
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 100
        );

        // At the cap there is no room left to spread into.
        assert_eq!(policy.seconds(MS(600_000)), 30);
        let fixed = RetryPolicy::DEFAULT.fixed(2).jitter(3);
        assert!((0..200).all(|_| (2..=5).contains(&fixed.seconds(None))));
        assert_eq!(fixed.header_bounds(), (2, 5));
    }
}
