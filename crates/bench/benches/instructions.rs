//! Instructions per request of the in-process axum stacks, under callgrind, with gungraun.
//!
//! Each benchmark sends [`REQUESTS`] requests through one stack with `oneshot` (the stack is
//! built, warmed up and its requests built in the setup, which is not measured); divide the
//! instruction count by [`REQUESTS`] for a request's cost. `require`, `check` and `probe` wrap one
//! layer around the finished router, `all_three` all three (variant 2 of the harness); the
//! `*_route_layer` and `*_router_layer` stacks add them with axum's `route_layer` and `layer`
//! instead, and the `identity_*` stacks add a layer that does nothing there: what axum charges
//! for any layer in that place. The `tower_*` stacks have no axum at all (a plain `service_fn`).
//! Needs valgrind and the runner:
//!
//! ```text
//! cargo install gungraun-runner --version 0.20.0
//! cargo bench -p redis-gate-bench --bench instructions
//! ```
//!
//! The harness (`cargo run --release -p redis-gate-bench`) measures the same stacks the same
//! way, without the fixed cost of the loop, for its `*_instr_overhead` metrics.

#![allow(
    missing_docs,
    reason = "gungraun's macros generate public items without docs"
)]

use std::hint::black_box;

use gungraun::{library_benchmark, library_benchmark_group, main};
use redis_gate_bench::stacks::{Prepared, Stack};

/// Requests per benchmark run.
const REQUESTS: usize = 100;

fn prepare(stack: Stack) -> Prepared {
    Prepared::new(stack, REQUESTS)
}

#[library_benchmark]
#[bench::bare(args = (Stack::Bare), setup = prepare)]
#[bench::require(args = (Stack::Require), setup = prepare)]
#[bench::check(args = (Stack::Check), setup = prepare)]
#[bench::probe(args = (Stack::Probe), setup = prepare)]
#[bench::all_three(args = (Stack::All), setup = prepare)]
#[bench::all_per_route(args = (Stack::AllPerRoute), setup = prepare)]
#[bench::all_router_layers(args = (Stack::AllRouterLayers), setup = prepare)]
#[bench::require_route_layer(args = (Stack::RequireRouteLayer), setup = prepare)]
#[bench::require_handler_layer(args = (Stack::RequireHandler), setup = prepare)]
#[bench::require_route_service(args = (Stack::RequireRouteService), setup = prepare)]
#[bench::check_router_layer(args = (Stack::CheckRouterLayer), setup = prepare)]
#[bench::probe_router_layer(args = (Stack::ProbeRouterLayer), setup = prepare)]
#[bench::identity_route_layer(args = (Stack::IdentityRoute), setup = prepare)]
#[bench::identity_layer(args = (Stack::IdentityLayer), setup = prepare)]
#[bench::atomic_from_fn(args = (Stack::AtomicFromFn), setup = prepare)]
#[bench::tower_bare(args = (Stack::TowerBare), setup = prepare)]
#[bench::tower_require(args = (Stack::TowerRequire), setup = prepare)]
#[bench::tower_check(args = (Stack::TowerCheck), setup = prepare)]
#[bench::tower_probe(args = (Stack::TowerProbe), setup = prepare)]
fn hundred_requests(prepared: Prepared) -> usize {
    black_box(prepared.run())
}

library_benchmark_group!(name = stacks, benchmarks = [hundred_requests]);

main!(library_benchmark_groups = stacks);
