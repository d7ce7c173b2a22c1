//! Wall time per request of each layer over a trivial `service_fn`, against the bare service.
//!
//! ```text
//! cargo bench -p redis-gate-tower --bench layers
//! ```
//!
//! Each iteration is one request: `poll_ready` + `call` + the response future, polled once
//! without a runtime, and the response dropped. The request is built outside the timing.
//! `cargo bench -p redis-gate-tower --bench allocations` counts the heap allocations of the
//! same paths.

mod common;

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use redis_gate_core::{AvailabilityReporter, Status};
use tower_service::Service;

use common::{all_three, bare, check, get, probe, require, send};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Times one request to `service` at `path`; the response is dropped inside the timing.
fn bench<S>(group: &mut Group<'_>, name: &str, path: &'static str, mut service: S)
where
    S: Service<Request<()>, Error = Infallible>,
{
    group.bench_function(name, |b| {
        b.iter_batched(
            || get(path),
            |req| drop(black_box(send(&mut service, req))),
            BatchSize::SmallInput,
        )
    });
}

/// Redis available: every layer takes its pass path.
fn open_gate(c: &mut Criterion) {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let redis = reporter.availability();
    let mut group = c.benchmark_group("open_gate");
    bench(&mut group, "bare", "/api", bare());
    bench(&mut group, "require_redis", "/api", require(&redis));
    bench(&mut group, "check_redis", "/api", check(&redis));
    bench(&mut group, "readiness_probe_pass", "/api", probe(&redis));
    bench(&mut group, "all_three", "/api", all_three(&redis));
    group.finish();
}

/// Redis disconnected: `RequireRedis` answers 503 itself; `CheckRedis` still passes.
fn closed_gate(c: &mut Criterion) {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Disconnected);
    let redis = reporter.availability();
    let mut group = c.benchmark_group("closed_gate");
    bench(&mut group, "require_redis_503", "/api", require(&redis));
    bench(&mut group, "check_redis", "/api", check(&redis));
    bench(&mut group, "all_three_503", "/api", all_three(&redis));
    group.finish();
}

/// The probe's own answers, with Redis up and down.
fn probe_answers(c: &mut Criterion) {
    let reporter = AvailabilityReporter::default();
    let redis = reporter.availability();
    let mut group = c.benchmark_group("probe_answers");
    reporter.set_status(Status::Connected);
    bench(&mut group, "liveness", "/health", probe(&redis));
    bench(&mut group, "readiness_up_200", "/ready", probe(&redis));
    reporter.set_status(Status::Disconnected);
    bench(&mut group, "readiness_down_503", "/ready", probe(&redis));
    group.finish();
}

criterion_group!(benches, open_gate, closed_gate, probe_answers);
criterion_main!(benches);
