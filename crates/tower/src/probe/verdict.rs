//! The readiness verdict: one word, one status code, from every check seen at one instant.

use http::StatusCode;

use super::checks::Seen;

/// What readiness concludes, in the order it is decided: draining first, then any required
/// check down, then any optional one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Every check is up.
    Up,
    /// Only optional checks are down: still ready.
    Degraded,
    /// A required check is down.
    NotReady,
    /// Draining has started: out of the load balancer, whatever the checks say.
    Draining,
}

impl Verdict {
    /// The verdict on `seen`, while draining or not.
    pub(super) fn of(draining: bool, seen: &[Seen]) -> Verdict {
        let down = |required: bool| seen.iter().any(|s| s.required == required && !s.up);
        if draining {
            Verdict::Draining
        } else if down(true) {
            Verdict::NotReady
        } else if down(false) || seen.iter().any(|s| s.read_only) {
            Verdict::Degraded
        } else {
            Verdict::Up
        }
    }

    /// The word in the bodies' `status`.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Verdict::Up => "UP",
            Verdict::Degraded => "DEGRADED",
            Verdict::NotReady => "NOT_READY",
            Verdict::Draining => "DRAINING",
        }
    }

    /// The status code readiness answers with: `200` while ready, `503` otherwise.
    pub(super) fn status_code(self) -> StatusCode {
        if self.is_ready() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }

    /// Whether the service counts as ready: the bodies' `ready`.
    pub(super) fn is_ready(self) -> bool {
        match self {
            Verdict::Up | Verdict::Degraded => true,
            Verdict::NotReady | Verdict::Draining => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_verdict_has_its_word_and_status_code() {
        let table = [
            (Verdict::Up, "UP", StatusCode::OK, true),
            (Verdict::Degraded, "DEGRADED", StatusCode::OK, true),
            (
                Verdict::NotReady,
                "NOT_READY",
                StatusCode::SERVICE_UNAVAILABLE,
                false,
            ),
            (
                Verdict::Draining,
                "DRAINING",
                StatusCode::SERVICE_UNAVAILABLE,
                false,
            ),
        ];
        for (verdict, word, status, ready) in table {
            assert_eq!(verdict.as_str(), word, "{verdict:?}");
            assert_eq!(verdict.status_code(), status, "{verdict:?}");
            assert_eq!(verdict.is_ready(), ready, "{verdict:?}");
        }
    }

    #[test]
    fn draining_wins_then_a_required_check_then_an_optional_one() {
        let up = Seen {
            up: true,
            read_only: false,
            required: true,
        };
        let required_down = Seen {
            up: false,
            read_only: false,
            required: true,
        };
        let optional_down = Seen {
            up: false,
            read_only: false,
            required: false,
        };
        // Read-only and required for reads only: up, and not everything works.
        let reads_served = Seen {
            up: true,
            read_only: true,
            required: true,
        };
        let required_read_only = Seen {
            up: false,
            read_only: true,
            required: true,
        };
        assert_eq!(Verdict::of(false, &[up, reads_served]), Verdict::Degraded);
        assert_eq!(
            Verdict::of(false, &[reads_served, required_read_only]),
            Verdict::NotReady
        );
        assert_eq!(Verdict::of(false, &[]), Verdict::Up, "no checks");
        assert_eq!(Verdict::of(false, &[up, up]), Verdict::Up);
        assert_eq!(Verdict::of(false, &[up, optional_down]), Verdict::Degraded);
        assert_eq!(
            Verdict::of(false, &[optional_down, required_down]),
            Verdict::NotReady
        );
        assert_eq!(Verdict::of(true, &[up]), Verdict::Draining);
        assert_eq!(Verdict::of(true, &[required_down]), Verdict::Draining);
    }
}
