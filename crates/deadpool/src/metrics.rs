//! Health-check metrics, with the `metrics` feature: the histogram
//! `redis_gate_probe_duration_seconds{dependency}` and the counter
//! `redis_gate_connect_failures_total{dependency,reason}`.

use std::time::Duration;

use crate::{ProbeError, ProbeErrorKind};

pub(crate) fn check(name: &str, took: Duration, failure: Option<&ProbeError>) {
    metrics::histogram!("redis_gate_probe_duration_seconds", "dependency" => name.to_owned())
        .record(took.as_secs_f64());
    if let Some(err) = failure {
        metrics::counter!(
            "redis_gate_connect_failures_total",
            "dependency" => name.to_owned(),
            "reason" => reason_label(err.kind()),
        )
        .increment(1);
    }
}

/// A small, fixed set of label values, whatever the error text says.
fn reason_label(kind: ProbeErrorKind) -> &'static str {
    match kind {
        ProbeErrorKind::Connection => "connection",
        ProbeErrorKind::Timeout => "timeout",
        ProbeErrorKind::NotReady => "not_ready",
        ProbeErrorKind::Auth => "auth",
        ProbeErrorKind::Config => "config",
    }
}
