//! Transition metrics, with the `metrics` feature: the gauge `redis_gate_available{dependency}`
//! and the counter `redis_gate_transitions_total{dependency,from,to}`.

use crate::Reading;

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
    let value = if reading.is_available() { 1.0 } else { 0.0 };
    metrics::gauge!("redis_gate_available", "dependency" => name.to_owned()).set(value);
}
