//! What the redis-gate benchmarks measure, shared by the end-to-end harness (the
//! `redis-gate-bench` binary) and the instruction-count benchmark (`benches/instructions.rs`).
//!
//! - [`apps`]: the HTTP services the harness loads over loopback: the bare service, the same
//!   behind the three redis-gate layers, and the gates people write by hand.
//! - [`stacks`]: the same routers called in process with `oneshot`, no network, so that
//!   callgrind can count the instructions each layer adds to a request.
//!
//! Not published; see `BENCHMARKS.md` at the top of the workspace for the commands and results.

#![forbid(unsafe_code)]

pub mod apps;
pub mod stacks;
