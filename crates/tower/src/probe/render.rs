//! The probe's bodies: readiness as JSON and as text, startup, and the details, written from
//! the checks and what readiness saw in them.

use std::fmt::Write;

use bytes::{Bytes, BytesMut};
use redis_gate_core::Snapshot;
use serde_json::json;

use super::checks::{Check, Down, Policy, Seen};
use super::verdict::Verdict;

/// Liveness: always the same.
pub(super) const LIVENESS: &[u8] = br#"{"status":"UP"}"#;
/// Startup, once every check has made its startup decision.
pub(super) const STARTED: &[u8] = br#"{"status":"STARTED"}"#;
/// Startup, until then.
pub(super) const STARTING: &[u8] = br#"{"status":"STARTING"}"#;

/// `{"status":"UP","ready":true,"checks":{"redis":"UP"}}`: the verdict and each check up or down.
pub(super) fn readiness_json(verdict: Verdict, checks: &[Check], seen: &[Seen]) -> Bytes {
    let mut json = BytesMut::with_capacity(64 + 24 * checks.len());
    json.extend_from_slice(br#"{"status":""#);
    json.extend_from_slice(verdict.as_str().as_bytes());
    json.extend_from_slice(if verdict.is_ready() {
        br#"","ready":true,"checks":{"#
    } else {
        br#"","ready":false,"checks":{"#
    });
    for (i, (check, seen)) in checks.iter().zip(seen).enumerate() {
        if i > 0 {
            json.extend_from_slice(b",");
        }
        json.extend_from_slice(check.json_name.as_bytes());
        json.extend_from_slice(match (seen.up, seen.read_only) {
            (_, true) => br#":"READ_ONLY""#,
            (true, false) => br#":"UP""#,
            (false, false) => br#":"DOWN""#,
        });
    }
    json.extend_from_slice(b"}}");
    json.freeze()
}

/// Readiness for people, as Kubernetes' `/readyz?verbose` writes it: a line per check, then
/// the verdict. Status words only, never an error text: anyone may ask.
pub(super) fn readiness_text(
    verdict: Verdict,
    checks: &[Check],
    seen: &[Seen],
    snapshots: &[Snapshot],
) -> Bytes {
    let mut text = String::new();
    for ((check, seen), snapshot) in checks.iter().zip(seen).zip(snapshots) {
        let name = &check.name;
        if seen.up && seen.read_only {
            let _ = writeln!(text, "[+]{name} ok: read_only ({})", check.policy.as_str());
            continue;
        }
        if seen.up {
            let _ = writeln!(text, "[+]{name} ok");
            continue;
        }
        let reason = Down::of(snapshot).as_str();
        let _ = match check.policy {
            Policy::Required => writeln!(text, "[-]{name} failed: {reason}"),
            policy => writeln!(text, "[-]{name} failed: {reason} ({})", policy.as_str()),
        };
    }
    text.push_str(match verdict {
        Verdict::Up => "readiness check passed\n",
        Verdict::Degraded => "readiness check passed: degraded\n",
        Verdict::Draining => "[-]drain failed: draining\nreadiness check failed: draining\n",
        Verdict::NotReady => "readiness check failed\n",
    });
    Bytes::from(text)
}

/// The details: the verdict, and per check what its handle knows.
pub(super) fn details_json(
    verdict: Verdict,
    checks: &[Check],
    seen: &[Seen],
    snapshots: &[Snapshot],
) -> Bytes {
    let checks: serde_json::Map<String, serde_json::Value> = checks
        .iter()
        .zip(seen.iter().zip(snapshots))
        .map(|(check, (seen, snap))| {
            let detail = json!({
                "status": snap.reading().as_str(),
                "available": snap.is_available(),
                "readable": snap.reading().can_read(),
                "required": seen.required,
                "policy": check.policy.as_str(),
                "attempts": snap.attempts(),
                "lastError": snap.last_error(),
                "lastErrorAgeMs": snap.last_error_at().map(|at| at.elapsed().as_millis() as u64),
                "connectedForSeconds": snap.uptime().map(|d| d.as_secs()),
                "nextRetryInSeconds": snap.retry_in().map(|d| d.as_secs_f64().ceil() as u64),
                "override": snap.override_reason(),
                "started": snap.is_started(),
                "lastCheckAgeMs": snap.last_check_age().map(|d| d.as_millis() as u64),
                "lastCheckLatencyMs": snap.last_check_latency().map(millis),
            });
            (snap.name().to_owned(), detail)
        })
        .collect();
    let body = json!({ "status": verdict.as_str(), "ready": verdict.is_ready(), "checks": checks });
    Bytes::from(body.to_string())
}

/// Milliseconds with microsecond precision, for latencies well under one.
fn millis(duration: std::time::Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use redis_gate_core::{AvailabilityReporter, Status};

    use super::*;

    /// A required check `cache`, up, and an optional one `queue`, down.
    fn degraded() -> (Vec<Check>, Vec<Seen>, Vec<Snapshot>) {
        let cache = AvailabilityReporter::new("cache");
        cache.set_status(Status::Connected);
        let queue = AvailabilityReporter::new("queue");
        queue.set_status(Status::Disconnected);
        let checks = vec![
            Check::new(cache.availability(), Policy::Required),
            Check::new(queue.availability(), Policy::Optional),
        ];
        let snapshots: Vec<Snapshot> = checks.iter().map(|c| c.availability.snapshot()).collect();
        let seen = checks
            .iter()
            .zip(&snapshots)
            .map(|(check, snapshot)| check.seen_in(snapshot))
            .collect();
        (checks, seen, snapshots)
    }

    #[test]
    fn readiness_json_carries_the_verdict_word_and_whether_it_is_ready() {
        let (checks, seen, _) = degraded();
        let checks_json = r#""checks":{"cache":"UP","queue":"DOWN"}}"#;
        for (verdict, head) in [
            (Verdict::Up, r#"{"status":"UP","ready":true,"#),
            (Verdict::Degraded, r#"{"status":"DEGRADED","ready":true,"#),
            (Verdict::NotReady, r#"{"status":"NOT_READY","ready":false,"#),
            (Verdict::Draining, r#"{"status":"DRAINING","ready":false,"#),
        ] {
            let json = readiness_json(verdict, &checks, &seen);
            assert_eq!(json, format!("{head}{checks_json}"), "{verdict:?}");
        }
    }

    #[test]
    fn readiness_text_ends_with_a_line_per_verdict() {
        let (checks, seen, snapshots) = degraded();
        let lines = "[+]cache ok\n[-]queue failed: disconnected (optional)\n";
        for (verdict, last) in [
            (Verdict::Up, "readiness check passed\n"),
            (Verdict::Degraded, "readiness check passed: degraded\n"),
            (Verdict::NotReady, "readiness check failed\n"),
            (
                Verdict::Draining,
                "[-]drain failed: draining\nreadiness check failed: draining\n",
            ),
        ] {
            let text = readiness_text(verdict, &checks, &seen, &snapshots);
            assert_eq!(text, format!("{lines}{last}"), "{verdict:?}");
        }
    }

    #[test]
    fn details_carry_the_same_verdict_as_readiness() {
        let (checks, seen, snapshots) = degraded();
        let details = details_json(Verdict::Degraded, &checks, &seen, &snapshots);
        let details: serde_json::Value = serde_json::from_slice(&details).unwrap();
        assert_eq!(details["status"], "DEGRADED");
        assert_eq!(details["ready"], true);
        assert_eq!(details["checks"]["queue"]["status"], "disconnected");
        assert_eq!(details["checks"]["queue"]["required"], false);
        assert_eq!(details["checks"]["cache"]["policy"], "required");
    }

    #[test]
    fn a_read_only_redis_reads_as_such_in_every_body() {
        let reporter = |name: &str| {
            let reporter = AvailabilityReporter::new(name);
            reporter.set_status(Status::Connected);
            reporter.set_writes_refused(true);
            reporter
        };
        let (sessions, cache) = (reporter("sessions"), reporter("cache"));
        let checks = vec![
            Check::new(sessions.availability(), Policy::Required),
            Check::new(cache.availability(), Policy::RequiredReads),
        ];
        let snapshots: Vec<Snapshot> = checks.iter().map(|c| c.availability.snapshot()).collect();
        let seen: Vec<Seen> = checks
            .iter()
            .zip(&snapshots)
            .map(|(check, snapshot)| check.seen_in(snapshot))
            .collect();
        let verdict = Verdict::of(false, &seen);
        assert_eq!(verdict, Verdict::NotReady, "sessions needs writes");
        assert_eq!(
            readiness_json(verdict, &checks, &seen),
            r#"{"status":"NOT_READY","ready":false,"checks":{"sessions":"READ_ONLY","cache":"READ_ONLY"}}"#
        );
        assert_eq!(
            readiness_text(verdict, &checks, &seen, &snapshots),
            "[-]sessions failed: read_only\n[+]cache ok: read_only (required_reads)\n\
             readiness check failed\n"
        );
        let details = details_json(verdict, &checks, &seen, &snapshots);
        let details: serde_json::Value = serde_json::from_slice(&details).unwrap();
        assert_eq!(details["checks"]["cache"]["status"], "read_only");
        assert_eq!(details["checks"]["cache"]["available"], false);
        assert_eq!(details["checks"]["cache"]["readable"], true);
        assert_eq!(details["checks"]["cache"]["policy"], "required_reads");

        // Without the check that needs writes: ready, degraded.
        let verdict = Verdict::of(false, &seen[1..]);
        assert_eq!(verdict, Verdict::Degraded);
    }
}
