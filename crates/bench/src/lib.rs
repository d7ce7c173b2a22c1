//! What the redis-gate benchmarks measure, for the end-to-end harness (the `redis-gate-bench`
//! binary) and its integration test.
//!
//! - [`apps`]: the HTTP services the harness loads over loopback: the bare service, the same
//!   behind the three redis-gate layers, and the gates people write by hand.
//! - [`stacks`]: the same routers called in process with `oneshot`, no network, so that
//!   callgrind can count the instructions each layer adds to a request, next to the tower and
//!   tower-http layers of the same shape.
//!
//! Not published; see `BENCHMARKS.md` at the top of the workspace for the commands and results.

#![forbid(unsafe_code)]

pub mod apps;
pub mod stacks;
