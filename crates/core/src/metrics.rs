//! Metrics, with the `metrics` feature: the gauges `redis_gate_available{dependency}` (reads and
//! writes work) and `redis_gate_readable{dependency}` (reads work), the
//! counters `redis_gate_transitions_total{dependency,from,to}` and
//! `redis_gate_check_failures_total{dependency,reason}`, and the histogram
//! `redis_gate_check_duration_seconds{dependency}`.

use std::time::Duration;

use crate::{CheckError, Reading};

/// One check: how long it took, and its failure class if it failed (a small, fixed set of label
/// values, whatever the error text says).
pub(crate) fn check(name: &str, took: Duration, failure: Option<&CheckError>) {
    metrics::histogram!("redis_gate_check_duration_seconds", "dependency" => name.to_owned())
        .record(took.as_secs_f64());
    if let Some(err) = failure {
        metrics::counter!(
            "redis_gate_check_failures_total",
            "dependency" => name.to_owned(),
            "reason" => err.kind().as_str(),
        )
        .increment(1);
    }
}

pub(crate) fn registered(name: &str, reading: Reading) {
    available(name, reading);
}

pub(crate) fn transition(name: &str, from: Reading, to: Reading) {
    metrics::counter!(
        "redis_gate_transitions_total",
        "dependency" => name.to_owned(),
        "from" => from.as_str(),
        "to" => to.as_str(),
    )
    .increment(1);
    available(name, to);
}

fn available(name: &str, reading: Reading) {
    let gauge = |works: bool| if works { 1.0 } else { 0.0 };
    metrics::gauge!("redis_gate_available", "dependency" => name.to_owned())
        .set(gauge(reading.is_available()));
    metrics::gauge!("redis_gate_readable", "dependency" => name.to_owned())
        .set(gauge(reading.can_read()));
}
