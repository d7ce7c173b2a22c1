//! The README's configuration file is one a service can read: its TOML block, under
//! "From a configuration file", deserialized as the README's code does.

use std::time::Duration;

use redis_gate::{RedisConfig, StartupPolicy};

#[derive(serde::Deserialize)]
struct Settings {
    redis: RedisConfig,
}

/// The first ```toml block after `heading` in the README.
fn readme_toml(heading: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = &readme[readme.find(heading).expect("the heading")..];
    let block = &section[section.find("```toml\n").expect("a toml block") + "```toml\n".len()..];
    block[..block.find("```").expect("the block's end")].to_owned()
}

#[test]
fn the_readme_configuration_file_reads_as_it_says() {
    let file = readme_toml("### From a configuration file");
    let settings: Settings = toml::from_str(&file).unwrap_or_else(|err| panic!("{file}\n{err}"));
    let redis = settings.redis;
    assert_eq!(&*redis.name, "sessions");
    assert_eq!(redis.to_string(), "rediss://***@cache.internal:6380/0");
    assert_eq!(redis.timeouts.connect, Duration::from_secs(1));
    assert_eq!(redis.monitor.check_interval, Duration::from_millis(500));
    assert_eq!(redis.monitor.startup, StartupPolicy::FailClosed);
    assert_eq!(redis.monitor.backoff.max(), Duration::from_secs(15));
    // Left out, so as from the environment.
    assert_eq!(redis.pool_size, 16);
    assert_eq!(redis.timeouts.response, Duration::from_millis(500));
}
