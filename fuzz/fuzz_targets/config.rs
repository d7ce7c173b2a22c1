//! The configuration parser against arbitrary input: no input panics, and a password never
//! shows in `Display`, `Debug`, the redacted URL or an error, whatever surrounds it.

#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use redis_gate_deadpool::{ConfigError, RedisConfig};

/// Every variable `RedisConfig::from_lookup` reads, except `REDIS_TLS_CA_FILE`, which reads a
/// file: fuzzing it would fuzz the file system.
const VARIABLES: &[&str] = &[
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_ENDPOINT",
    "REDIS_PORT",
    "REDIS_USERNAME",
    "REDIS_AUTH_TOKEN",
    "REDIS_PASSWORD",
    "REDIS_DB",
    "REDIS_TLS_ENABLED",
    "REDIS_TLS",
    "REDIS_CONNECT_TIMEOUT_MS",
    "REDIS_STARTUP_TIMEOUT_MS",
    "REDIS_FAIL_CLOSED",
    "REDIS_CHECK_INTERVAL_MS",
    "REDIS_POOL_SIZE",
    "REDIS_BACKOFF_INITIAL_MS",
    "REDIS_BACKOFF_MAX_MS",
    "REDIS_WRITE_CHECK",
    "REDIS_WRITE_PROBE",
    "REDIS_STALL_TIMEOUT_MS",
    "REDIS_SENTINEL_URLS",
    "REDIS_SENTINEL_MASTER",
    "REDIS_CLUSTER_URLS",
];

/// What a URL's userinfo must encode (the WHATWG userinfo set).
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'%');

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Variable (index into `VARIABLES`) and value pairs.
    vars: Vec<(u8, &'a str)>,
    default_url: Option<&'a str>,
    url: &'a str,
    /// The middle of a password, which is `zq<this>qz` so that it is recognisable.
    password: &'a str,
    host: &'a str,
    shape: u8,
}

fn outputs(result: &Result<RedisConfig, ConfigError>) -> Vec<String> {
    match result {
        Ok(cfg) => vec![cfg.to_string(), format!("{cfg:?}"), cfg.warnings().join("\n")],
        Err(err) => vec![err.to_string(), format!("{err:?}")],
    }
}

fn lookup(vars: &[(&str, String)]) -> Result<RedisConfig, ConfigError> {
    let vars: HashMap<&str, &str> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    RedisConfig::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()), None)
}

fuzz_target!(|input: Input| {
    // No input panics; printing the result does not either.
    let vars: Vec<(&str, String)> = input
        .vars
        .iter()
        .map(|(i, v)| {
            (
                VARIABLES[usize::from(*i) % VARIABLES.len()],
                (*v).to_owned(),
            )
        })
        .collect();
    let vars: HashMap<&str, String> = vars.into_iter().collect();
    let result = RedisConfig::from_lookup(|name| vars.get(name).cloned(), input.default_url);
    let _ = outputs(&result);
    let _ = outputs(&RedisConfig::from_url(input.url));

    // A password never shows, raw or encoded, wherever it is given.
    if input.host.contains("zq") || input.host.contains("qz") {
        return;
    }
    let password = format!("zq{}qz", input.password);
    let encoded = utf8_percent_encode(&password, USERINFO).to_string();
    let fully_encoded = utf8_percent_encode(&password, NON_ALPHANUMERIC).to_string();
    let host = input.host;
    let given: Vec<(&str, String)> = match input.shape % 6 {
        0 => vec![
            ("REDIS_HOST", host.to_owned()),
            ("REDIS_AUTH_TOKEN", password.clone()),
        ],
        1 => vec![
            ("REDIS_URL", host.to_owned()),
            ("REDIS_PASSWORD", password.clone()),
        ],
        2 => vec![("REDIS_URL", format!("redis://app:{encoded}@{host}"))],
        3 => vec![(
            "REDIS_URL",
            format!("rediss://app:{password}@{host}:6380/1"),
        )],
        4 => vec![("REDIS_URL", format!("app:{password}@{host}"))],
        _ => vec![(
            "REDIS_URL",
            format!("unix:///run/{host}.sock?pass={fully_encoded}"),
        )],
    };
    for output in outputs(&lookup(&given)) {
        for form in [&password, &encoded, &fully_encoded] {
            assert!(
                !output.contains(form.as_str()),
                "the password shows in {output:?}"
            );
        }
    }
});
