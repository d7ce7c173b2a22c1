//! The subcommands `config`, `ping` and `wait`, each returning the process outcome.
//!
//! Results go to stdout; warnings and failures go to stderr, prefixed `redis-gate: `. Every URL
//! printed is the configuration's `Display`, which masks the password.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use redis_gate_core::{CheckError, CheckErrorKind};
use redis_gate_deadpool::{ConfigError, Node, RedisConfig};
use serde_json::json;

use crate::args::{Cli, Command};

/// The longest single attempt of `wait`, so that one hung connection cannot use up the timeout.
const WAIT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause after `wait`'s first failed attempt; it doubles up to [`WAIT_MAX_INTERVAL`].
const WAIT_FIRST_INTERVAL: Duration = Duration::from_millis(100);
const WAIT_MAX_INTERVAL: Duration = Duration::from_secs(1);

/// How a command ended, which is also the process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, Redis answered `PONG`.
    Ok,
    /// 1: Redis did not answer `PONG`.
    Unavailable,
    /// 2: the configuration cannot be used, as read or as found on connecting.
    BadConfig,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Unavailable => ExitCode::from(1),
            Outcome::BadConfig => ExitCode::from(2),
        }
    }
}

/// Resolves the configuration and runs the command.
pub async fn run(cli: Cli) -> Outcome {
    let config = match load_config(cli.url.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!(
                "redis-gate: {}",
                describe_config_error(&err, cli.url.is_some())
            );
            return Outcome::BadConfig;
        }
    };
    // JSON output carries the warnings itself.
    if !matches!(cli.command, Command::Config { json: true }) {
        for warning in config.warnings() {
            eprintln!("redis-gate: warning: {warning}");
        }
    }
    match cli.command {
        Command::Config { json } => {
            print_config(&config, json);
            Outcome::Ok
        }
        Command::Ping { timeout } => ping(&config, timeout).await,
        Command::Wait { timeout } => wait(&config, timeout).await,
    }
}

/// Reads the environment as the library does, with `url` standing in for `REDIS_URL`.
fn load_config(url: Option<&str>) -> Result<RedisConfig, ConfigError> {
    let lookup = |name: &str| match url {
        Some(url) if name == "REDIS_URL" => Some(url.to_owned()),
        _ => std::env::var(name).ok(),
    };
    RedisConfig::from_lookup(lookup, None)
}

/// The error's message, naming `--url` rather than `REDIS_URL` when the URL came from the flag.
fn describe_config_error(err: &ConfigError, url_from_flag: bool) -> String {
    match err {
        ConfigError::Invalid {
            variable: "REDIS_URL",
            value,
            expected,
        } if url_from_flag => format!("--url {value:?} is not valid: {expected}"),
        err => err.to_string(),
    }
}

/// The resolved settings. The URL is the configuration's `Display`, secrets masked; user names
/// show there (and only where the URL has a password too: a lone one may be a token).
fn print_config(config: &RedisConfig, as_json: bool) {
    let topology = config.topology();
    let nodes: Vec<String> = topology.nodes().iter().map(Node::address).collect();
    let first = &topology.nodes()[0];
    if as_json {
        let settings = json!({
            "url": config.to_string(),
            "topology": topology.as_str(),
            "scheme": first.scheme(),
            "host": first.host(),
            "port": first.port(),
            "db": topology.db(),
            "tls": config.is_tls(),
            "source": config.source().as_str(),
            "nodes": nodes,
            "warnings": config.warnings(),
        });
        println!("{settings:#}");
        return;
    }
    println!("url: {config}");
    println!("topology: {}", topology.as_str());
    println!("scheme: {}", first.scheme());
    println!("host: {}", first.host());
    println!(
        "port: {}",
        first
            .port()
            .map_or_else(|| "(none)".to_owned(), |p| p.to_string())
    );
    println!("db: {}", topology.db());
    println!("tls: {}", config.is_tls());
    println!("source: {}", config.source().as_str());
    if nodes.len() > 1 || !matches!(topology.as_str(), "standalone") {
        println!("nodes: {}", nodes.join(","));
    }
}

async fn ping(config: &RedisConfig, timeout: Duration) -> Outcome {
    match redis_gate_deadpool::ping(config, timeout).await {
        Ok(latency) => {
            println!("PONG in {:.2} ms", latency.as_secs_f64() * 1000.0);
            Outcome::Ok
        }
        Err(err) => failure(config, &err),
    }
}

/// Pings until `PONG` or `timeout`, pausing 100 ms doubling to 1 s between attempts. Says why it
/// is waiting once, at the first failure, and why it gave up at the end.
async fn wait(config: &RedisConfig, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let mut interval = WAIT_FIRST_INTERVAL;
    let mut last_error: Option<CheckError> = None;
    loop {
        let budget = timeout
            .saturating_sub(started.elapsed())
            .min(WAIT_ATTEMPT_TIMEOUT);
        match redis_gate_deadpool::ping(config, budget).await {
            Ok(_) => {
                let waited = started.elapsed().as_secs_f64();
                println!("redis ready after {waited:.1} s");
                return Outcome::Ok;
            }
            Err(err) if err.kind() == CheckErrorKind::Config => return failure(config, &err),
            // An attempt that the deadline cut short tells less than the one before it.
            Err(err)
                if err.kind() == CheckErrorKind::Timeout
                    && budget < WAIT_ATTEMPT_TIMEOUT
                    && last_error.is_some() => {}
            Err(err) => {
                if last_error.is_none() {
                    eprintln!("redis-gate: waiting for redis at {config}: {err}");
                }
                last_error = Some(err);
            }
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            let waited = started.elapsed().as_secs_f64();
            let reason = last_error.map_or_else(|| "no answer".to_owned(), |err| err.to_string());
            eprintln!("redis-gate: redis at {config} not available after {waited:.1} s: {reason}");
            return Outcome::Unavailable;
        }
        tokio::time::sleep(interval.min(left)).await;
        interval = (interval * 2).min(WAIT_MAX_INTERVAL);
    }
}

/// Says why the check failed and how that ends: settings that cannot work (a certificate that
/// does not verify, TLS spoken to a plain server) are a configuration problem, exit 2; anything
/// else means Redis is not available, exit 1.
fn failure(config: &RedisConfig, err: &CheckError) -> Outcome {
    if err.kind() == CheckErrorKind::Config {
        eprintln!("redis-gate: cannot use redis at {config}: {err}");
        Outcome::BadConfig
    } else {
        eprintln!("redis-gate: redis at {config} not available: {err}");
        Outcome::Unavailable
    }
}
