//! Exact heap-allocation counts per request, with a counting global allocator.
//!
//! This is its own test binary without the libtest harness: the allocator counts every thread,
//! so nothing else may run while a measurement is taken.

use std::alloc::System;
use std::convert::Infallible;
use std::future::{Ready, ready};

use bytes::Bytes;
use http::{Extensions, Request, Response};
use http_body_util::Full;
use redis_gate::{
    AvailabilityReporter, CheckRedisLayer, ReadinessProbeLayer, RequireRedisLayer, Status,
};
use redis_gate_testkit::poll::at_once;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Layer, Service, ServiceExt, service_fn};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

type Handler = fn(Request<()>) -> Ready<Result<Response<Full<Bytes>>, Infallible>>;

fn handler(_req: Request<()>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::new()))))
}

/// Heap allocations made by one `poll_ready` + `call` + completed future; the request is built
/// and the response dropped outside the measurement.
fn allocations_per_request<S, B>(service: &mut S, path: &str) -> usize
where
    S: Service<Request<B>>,
    S::Error: std::fmt::Debug,
    B: Default,
{
    let req = Request::get(path).body(B::default()).unwrap();
    let region = Region::new(GLOBAL);
    let ready = at_once(ServiceExt::<Request<B>>::ready(service)).expect("always ready");
    let res = at_once(ready.unwrap().call(req))
        .expect("the measured services never wait")
        .unwrap();
    let stats = region.change();
    drop(res);
    stats.allocations + stats.reallocations
}

/// The same axum router bare, with each layer, and with a layer that does nothing in its place.
struct AxumStacks {
    bare: axum::Router,
    route_noop: axum::Router,
    router_noop: axum::Router,
    require: axum::Router,
    probe: axum::Router,
    require_outside: redis_gate::layers::RequireRedis<axum::Router>,
    probe_outside: redis_gate::layers::ReadinessProbe<axum::Router>,
}

impl AxumStacks {
    fn new(redis: &redis_gate::Availability) -> AxumStacks {
        use tower::layer::util::Identity;
        // `with_state` prepares the router the way `axum::serve` does.
        let bare = || {
            axum::Router::new()
                .route("/api", axum::routing::get(|| async { "ok" }))
                .with_state(())
        };
        let probe = || ReadinessProbeLayer::new().require(redis.clone());
        AxumStacks {
            bare: bare(),
            route_noop: bare().route_layer(Identity::new()),
            router_noop: bare().layer(Identity::new()),
            require: bare().route_layer(RequireRedisLayer::new(redis.clone())),
            probe: bare().layer(probe()),
            require_outside: RequireRedisLayer::new(redis.clone()).layer(bare()),
            probe_outside: probe().layer(bare()),
        }
    }
}

/// Allocations per request of `stack` and of `baseline`, each warmed up first.
fn compare<A, B>(stack: &mut A, baseline: &mut B) -> (usize, usize)
where
    A: Service<Request<axum::body::Body>>,
    A::Error: std::fmt::Debug,
    B: Service<Request<axum::body::Body>>,
    B::Error: std::fmt::Debug,
{
    allocations_per_request(stack, "/api");
    allocations_per_request(baseline, "/api");
    (
        allocations_per_request(stack, "/api"),
        allocations_per_request(baseline, "/api"),
    )
}

fn main() {
    let reporter = AvailabilityReporter::default();
    let redis = reporter.availability();
    let inner = || service_fn(handler as Handler);
    let mut bare = inner();
    let mut require = RequireRedisLayer::new(redis.clone()).layer(inner());
    let mut check = CheckRedisLayer::new(redis.clone()).layer(inner());
    let mut probe = ReadinessProbeLayer::new()
        .require(redis.clone())
        .layer(inner());

    // Warm up: lazy statics and first-use allocations are not per-request costs.
    reporter.set_status(Status::Connected);
    allocations_per_request(&mut require, "/api");
    allocations_per_request(&mut probe, "/api");
    allocations_per_request(&mut check, "/api");

    let mut passed = 0;
    let mut failed = 0;
    let mut verdict = |name: &str, ok: bool, detail: String| {
        println!("{} {name}: {detail}", if ok { "ok  " } else { "FAIL" });
        if ok { passed += 1 } else { failed += 1 }
    };

    let baseline = allocations_per_request(&mut bare, "/api");
    verdict(
        "bare service",
        baseline == 0,
        format!("{baseline} allocations"),
    );

    let n = allocations_per_request(&mut require, "/api");
    verdict("RequireRedis pass path", n == 0, format!("{n} allocations"));

    let n = allocations_per_request(&mut probe, "/api");
    verdict(
        "ReadinessProbe pass path",
        n == 0,
        format!("{n} allocations"),
    );

    // CheckRedis may cost what inserting the same value into fresh extensions costs, no more.
    let insert = {
        let mut extensions = Extensions::new();
        let region = Region::new(GLOBAL);
        extensions.insert(redis.reading());
        let stats = region.change();
        stats.allocations + stats.reallocations
    };
    let n = allocations_per_request(&mut check, "/api");
    verdict(
        "CheckRedis",
        n <= insert,
        format!("{n} allocations, a bare Extensions::insert makes {insert}"),
    );

    // The answering paths allocate their response; report them so regressions show.
    // Each (status, Retry-After) body is built on its first rejection and shared afterwards.
    reporter.set_status(Status::Disconnected);
    let first = allocations_per_request(&mut require, "/api");
    let n = allocations_per_request(&mut require, "/api");
    verdict(
        "RequireRedis rejection",
        n <= 2,
        format!("{n} allocations (the first of its kind: {first})"),
    );
    let n = allocations_per_request(&mut probe, "/health");
    verdict(
        "ReadinessProbe liveness",
        n <= 2,
        format!("{n} allocations"),
    );
    let n = allocations_per_request(&mut probe, "/ready");
    verdict(
        "ReadinessProbe readiness",
        n <= 5,
        format!("{n} allocations"),
    );

    // Inside axum: a layer's pass path adds nothing to what axum charges for any layer in the
    // same place. The layers answer with axum's own `Body`, so axum has nothing to re-box.
    reporter.set_status(Status::Connected);
    let mut axum = AxumStacks::new(&redis);
    let pairs = [
        (
            "RequireRedis as an axum route layer",
            compare(&mut axum.require, &mut axum.route_noop),
        ),
        (
            "ReadinessProbe as an axum router layer",
            compare(&mut axum.probe, &mut axum.router_noop),
        ),
        (
            "RequireRedis around an axum router",
            compare(&mut axum.require_outside, &mut axum.bare),
        ),
        (
            "ReadinessProbe around an axum router",
            compare(&mut axum.probe_outside, &mut axum.bare),
        ),
    ];
    for (name, (n, base)) in pairs {
        verdict(
            name,
            n == base,
            format!("{n} allocations, {base} without the layer"),
        );
    }

    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
