//! What the monitor's test files share: quick settings, so the tests are quick.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::time::Duration;

use redis_gate_core::Backoff;
use redis_gate_deadpool::RedisConfig;

/// The quick settings' backoff cap.
pub const BACKOFF_CAP: Duration = Duration::from_millis(500);

/// `config` checked every 100 ms, with a 250 ms response timeout, a 500 ms connect timeout and a
/// 50 ms → 500 ms backoff.
pub fn fast(mut config: RedisConfig) -> RedisConfig {
    config.monitor.check_interval = Duration::from_millis(100);
    config.timeouts.response = Duration::from_millis(250);
    config.timeouts.connect = Duration::from_millis(500);
    config.monitor.backoff = Backoff::new(Duration::from_millis(50), BACKOFF_CAP);
    config
}

/// [`fast`] settings for the server at `url`.
pub fn fast_url(url: &str) -> RedisConfig {
    fast(RedisConfig::from_url(url).unwrap())
}
