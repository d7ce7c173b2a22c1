//! Health-check metrics, with the `metrics` feature: the histogram
//! `redis_gate_check_duration_seconds{dependency}` and the counter
//! `redis_gate_check_failures_total{dependency,reason}`.

use std::time::Duration;

use redis_gate_core::CheckError;

pub(crate) fn check(name: &str, took: Duration, failure: Option<&CheckError>) {
    metrics::histogram!("redis_gate_check_duration_seconds", "dependency" => name.to_owned())
        .record(took.as_secs_f64());
    if let Some(err) = failure {
        // A small, fixed set of label values, whatever the error text says.
        metrics::counter!(
            "redis_gate_check_failures_total",
            "dependency" => name.to_owned(),
            "reason" => err.kind().as_str(),
        )
        .increment(1);
    }
}
