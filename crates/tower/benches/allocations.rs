//! Heap allocations per request on every path the `layers` benchmark times, counted with a
//! counting global allocator (its own binary, so the counter never slows the timings).
//!
//! ```text
//! cargo bench -p redis-gate-tower --bench allocations
//! ```
//!
//! Prints one line per path. The pass paths of `RequireRedis` and `ReadinessProbe` allocate
//! nothing; a rejection allocates its header map and little else. `tests/allocations.rs` at the
//! top of the workspace asserts the same limits; this benchmark reports every path.

mod common;

use std::alloc::System;
use std::convert::Infallible;

use http::Request;
use redis_gate_core::{AvailabilityReporter, Status};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower_service::Service;

use common::{all_three, bare, check, get, probe, require, send};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Requests sent before counting, so first-use costs (lazy statics, the first rejection body of
/// its kind) are not counted.
const WARMUP: usize = 4;
/// Counted requests; the figure is the count divided by this.
const COUNTED: usize = 100;

/// Allocations (reallocations included) and bytes per request, with the response dropped.
fn per_request<S>(service: &mut S, path: &'static str) -> (f64, f64)
where
    S: Service<Request<()>, Error = Infallible>,
{
    for _ in 0..WARMUP {
        drop(send(service, get(path)));
    }
    let requests: Vec<_> = (0..COUNTED).map(|_| get(path)).collect();
    let region = Region::new(GLOBAL);
    for req in requests {
        drop(send(service, req));
    }
    let stats = region.change();
    let n = COUNTED as f64;
    (
        (stats.allocations + stats.reallocations) as f64 / n,
        stats.bytes_allocated as f64 / n,
    )
}

fn line(group: &str, name: &str, (allocations, bytes): (f64, f64)) {
    let label = format!("{group}/{name}");
    println!("{label:<36} {allocations:>5.2} allocations  {bytes:>7.1} bytes");
}

fn main() {
    let reporter = AvailabilityReporter::default();
    let redis = reporter.availability();
    println!("heap allocations per request (request built before, response dropped inside)");

    reporter.set_status(Status::Connected);
    line("open_gate", "bare", per_request(&mut bare(), "/api"));
    line(
        "open_gate",
        "require_redis",
        per_request(&mut require(&redis), "/api"),
    );
    line(
        "open_gate",
        "check_redis",
        per_request(&mut check(&redis), "/api"),
    );
    line(
        "open_gate",
        "readiness_probe_pass",
        per_request(&mut probe(&redis), "/api"),
    );
    line(
        "open_gate",
        "all_three",
        per_request(&mut all_three(&redis), "/api"),
    );

    reporter.set_status(Status::Disconnected);
    line(
        "closed_gate",
        "require_redis_503",
        per_request(&mut require(&redis), "/api"),
    );
    line(
        "closed_gate",
        "check_redis",
        per_request(&mut check(&redis), "/api"),
    );
    line(
        "closed_gate",
        "all_three_503",
        per_request(&mut all_three(&redis), "/api"),
    );

    reporter.set_status(Status::Connected);
    line(
        "probe_answers",
        "liveness",
        per_request(&mut probe(&redis), "/health"),
    );
    line(
        "probe_answers",
        "readiness_up_200",
        per_request(&mut probe(&redis), "/ready"),
    );
    reporter.set_status(Status::Disconnected);
    line(
        "probe_answers",
        "readiness_down_503",
        per_request(&mut probe(&redis), "/ready"),
    );
}
