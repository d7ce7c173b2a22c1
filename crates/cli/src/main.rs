//! `redis-gate`, the operator command of redis-gate: it shows the Redis settings a service would
//! resolve from its environment, pings Redis once, or waits until Redis answers.
//!
//! It reads the same variables as `RedisConfig::from_env` (`REDIS_URL`, or `REDIS_HOST` and
//! friends); `--url` stands in for `REDIS_URL`. Passwords are never printed.
//!
//! Exit status: 0 ok, 1 Redis not available, 2 bad configuration or usage, whether found in the
//! environment or on connecting (TLS spoken to a plain server, a certificate that does not
//! verify, something other than Redis at the address).

mod args;
mod commands;
mod duration;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = args::Cli::parse();
    commands::run(cli).await.into()
}
