//! The command line.

use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::{Parser, Subcommand};

use crate::duration::parse_duration;

const AFTER_HELP: &str = "\
Environment:
  REDIS_URL, or REDIS_HOST (alias REDIS_ENDPOINT) with REDIS_PORT, REDIS_USERNAME,
  REDIS_AUTH_TOKEN (alias REDIS_PASSWORD), REDIS_DB and REDIS_TLS_ENABLED (alias REDIS_TLS).

Exit status:
  0 ok, 1 Redis not available, 2 bad configuration or usage. A configuration can be found bad
  on connecting too (TLS spoken to a plain server or the reverse, a certificate that does not
  verify, something other than Redis at the address): ping exits 2, and wait stops at once
  with 2.";

/// Check the Redis a redis-gate service would use, from the same environment.
#[derive(Debug, Parser)]
#[command(name = "redis-gate", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Use this Redis URL instead of REDIS_URL; the other REDIS_* variables still apply.
    #[arg(long, global = true, value_name = "URL", value_parser = NonEmptyStringValueParser::new())]
    pub url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resolved settings, password masked.
    Config {
        /// Print a JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Connect and send one PING; succeed on PONG.
    Ping {
        /// Time allowed for the whole ping: connecting (TLS handshake and login included),
        /// PING, and finding out why a connect failed: 500ms, 2s, 1m, or seconds.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Block until Redis answers PING with PONG (LOADING and NOAUTH do not count).
    Wait {
        /// How long to keep trying: 500ms, 2s, 1m, or seconds.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
        timeout: Duration,
    },
}
