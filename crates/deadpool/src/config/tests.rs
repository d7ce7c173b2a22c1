use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use proptest::prelude::*;
use redis_gate_core::StartupPolicy;
use url::Url;

use super::*;

/// What the tests percent-encode passwords with: all but RFC 3986's unreserved characters.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl RedisConfig {
    /// The URL with the real password, as the client gets it (standalone only).
    fn connection_url(&self) -> String {
        match self.topology() {
            Topology::Standalone(node) => node.revealed_url(),
            other => panic!("not standalone: {other:?}"),
        }
    }
}

type Vars<'a> = &'a [(&'a str, &'a str)];

fn env(vars: &[(&str, &str)]) -> Result<RedisConfig, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    RedisConfig::from_lookup(|name| vars.get(name).cloned(), None)
}

fn url_of(vars: &[(&str, &str)]) -> String {
    let cfg = env(vars).unwrap_or_else(|err| panic!("{vars:?}: {err}"));
    cfg.connection_url()
}

#[test]
fn urls_resolve_as_documented() {
    let cases: &[(Vars, &str)] = &[
        (
            &[("REDIS_URL", "redis://cache:6379/0")],
            "redis://cache:6379/0",
        ),
        (
            &[("REDIS_URL", "REDIS://Cache:6380")],
            "redis://cache:6380/0",
        ),
        (
            &[("REDIS_URL", "rediss://app:pw@cache/3")],
            "rediss://app:pw@cache:6379/3",
        ),
        (
            &[("REDIS_URL", "redis://:pw@10.0.0.5")],
            "redis://:pw@10.0.0.5:6379/0",
        ),
        (
            &[("REDIS_URL", "redis://[::1]:7000/1")],
            "redis://[::1]:7000/1",
        ),
        (
            &[("REDIS_URL", "unix:///run/redis.sock")],
            "unix:///run/redis.sock?db=0",
        ),
        (
            &[("REDIS_URL", "redis+unix:///run/r.sock?db=2&pass=pw")],
            "unix:///run/r.sock?db=2&pass=pw",
        ),
        (
            &[("REDIS_URL", "rediss://cache#insecure")],
            "rediss://cache:6379/0#insecure",
        ),
        // Scheme-less: the scheme comes from the TLS flag, the port from REDIS_PORT or 6379.
        (
            &[("REDIS_URL", "cache.internal")],
            "redis://cache.internal:6379/0",
        ),
        (&[("REDIS_URL", "cache:6380")], "redis://cache:6380/0"),
        (
            &[("REDIS_URL", "cache"), ("REDIS_TLS_ENABLED", "true")],
            "rediss://cache:6379/0",
        ),
        (
            &[("REDIS_URL", "cache"), ("REDIS_PORT", "7001")],
            "redis://cache:7001/0",
        ),
        (
            &[("REDIS_URL", "cache:7002"), ("REDIS_PORT", "7001")],
            "redis://cache:7002/0",
        ),
        (&[("REDIS_URL", "[fd00::1]")], "redis://[fd00::1]:6379/0"),
        (
            &[("REDIS_URL", "[fd00::1]:6380")],
            "redis://[fd00::1]:6380/0",
        ),
        (&[("REDIS_URL", "::1")], "redis://[::1]:6379/0"),
        (
            &[("REDIS_URL", "app:pw@cache")],
            "redis://app:pw@cache:6379/0",
        ),
        (&[("REDIS_URL", " redis://cache ")], "redis://cache:6379/0"),
        // Credentials from their own variables fill what the URL lacks.
        (
            &[
                ("REDIS_URL", "cache"),
                ("REDIS_AUTH_TOKEN", "tok"),
                ("REDIS_USERNAME", "app"),
            ],
            "redis://app:tok@cache:6379/0",
        ),
        // Components.
        (&[("REDIS_HOST", "cache")], "redis://cache:6379/0"),
        (&[("REDIS_ENDPOINT", "cache")], "redis://cache:6379/0"),
        (
            &[
                ("REDIS_HOST", "cache"),
                ("REDIS_PORT", "6380"),
                ("REDIS_USERNAME", "app"),
                ("REDIS_AUTH_TOKEN", "tok"),
                ("REDIS_DB", "4"),
                ("REDIS_TLS_ENABLED", "yes"),
            ],
            "rediss://app:tok@cache:6380/4",
        ),
        (
            &[
                ("REDIS_HOST", "cache"),
                ("REDIS_PASSWORD", "p"),
                ("REDIS_TLS", "ON"),
            ],
            "rediss://:p@cache:6379/0",
        ),
        (&[("REDIS_HOST", "::1")], "redis://[::1]:6379/0"),
        // Empty strings count as unset.
        (
            &[
                ("REDIS_URL", ""),
                ("REDIS_HOST", "cache"),
                ("REDIS_PORT", " "),
            ],
            "redis://cache:6379/0",
        ),
    ];
    for (vars, expected) in cases {
        assert_eq!(url_of(vars), *expected, "{vars:?}");
    }
}

#[test]
fn passwords_with_url_characters_survive_percent_encoding() {
    let token = "p@ss:w/rd#100%?&=é";
    let cfg = env(&[("REDIS_HOST", "cache"), ("REDIS_AUTH_TOKEN", token)]).unwrap();
    let url = cfg.connection_url();
    let parsed = Url::parse(&url).unwrap();
    assert_eq!(
        percent_decode_str(parsed.password().unwrap())
            .decode_utf8()
            .unwrap(),
        token
    );
    assert_eq!(parsed.host_str(), Some("cache"));

    // And the parsed form round-trips through from_url.
    let again = RedisConfig::from_url(&url).unwrap();
    assert_eq!(again.connection_url(), url);
}

#[test]
fn display_and_debug_mask_the_password_and_keep_the_username() {
    let cfg = RedisConfig::from_url("rediss://app:hunter2@cache.internal:6380/0").unwrap();
    assert_eq!(cfg.to_string(), "rediss://app:***@cache.internal:6380/0");
    let debug = format!("{cfg:?}");
    assert!(
        debug.contains("rediss://app:***@cache.internal:6380/0"),
        "{debug}"
    );
    assert!(!debug.contains("hunter2"), "{debug}");

    let unix = RedisConfig::from_url("unix:///run/r.sock?pass=hunter2").unwrap();
    assert_eq!(unix.to_string(), "unix:///run/r.sock?db=0&pass=***");
    assert!(!format!("{unix:?}").contains("hunter2"));
}

#[test]
fn a_user_name_without_a_password_is_masked_like_a_token_and_warned_about() {
    let cfg = env(&[("REDIS_URL", "redis://Tok3nLooking@cache:6379")]).unwrap();
    assert_eq!(cfg.to_string(), "redis://***@cache:6379/0");
    assert!(!format!("{cfg:?}").contains("Tok3nLooking"));
    assert_eq!(
        cfg.warnings(),
        [
            "REDIS_URL has a user name but no password (redis://***@host), so it is sent as a user \
          name; for a password, write redis://:PASSWORD@host"
        ]
    );
    assert!(cfg.warnings().iter().all(|w| !w.contains("Tok3nLooking")));
    // Still a user name for the client, as the URL says.
    assert_eq!(cfg.connection_url(), "redis://Tok3nLooking@cache:6379/0");

    let cfg = RedisConfig::from_url("redis://Tok3nLooking@cache").unwrap();
    assert_eq!(cfg.warnings().len(), 1);
    assert!(!cfg.warnings()[0].contains("Tok3nLooking"));

    // With a password, the user name is shown and nothing is worth a warning.
    let cfg = env(&[("REDIS_URL", "redis://app:pw@cache")]).unwrap();
    assert_eq!(cfg.to_string(), "redis://app:***@cache:6379/0");
    assert!(cfg.warnings().is_empty());
}

#[test]
fn a_password_with_an_at_sign_alone_still_parses() {
    let cfg = env(&[("REDIS_URL", "redis://app:p@ss@cache:6380")]).unwrap();
    assert_eq!(cfg.connection_url(), "redis://app:p%40ss@cache:6380/0");
    assert_eq!(cfg.to_string(), "redis://app:***@cache:6380/0");
}

#[test]
fn the_write_check_is_off_unless_asked_for() {
    assert!(!env(&[("REDIS_HOST", "cache")]).unwrap().write_check);
    assert!(
        env(&[("REDIS_HOST", "cache"), ("REDIS_WRITE_CHECK", "on")])
            .unwrap()
            .write_check
    );
}

#[test]
fn nothing_set_is_an_error_naming_the_variables() {
    let err = env(&[]).unwrap_err();
    assert_eq!(err, ConfigError::Missing);
    let message = err.to_string();
    for name in [
        "REDIS_URL",
        "REDIS_HOST",
        "REDIS_ENDPOINT",
        "REDIS_PORT",
        "REDIS_AUTH_TOKEN",
    ] {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn the_explicit_default_is_used_only_when_nothing_is_set() {
    let cfg = RedisConfig::from_lookup(|_| None, Some("redis://127.0.0.1:6379")).unwrap();
    assert_eq!(cfg.source(), Source::Default);
    assert_eq!(cfg.to_string(), "redis://127.0.0.1:6379/0");

    let cfg = RedisConfig::from_lookup(
        |name| (name == "REDIS_HOST").then(|| "cache".to_owned()),
        Some("redis://127.0.0.1:6379"),
    )
    .unwrap();
    assert_eq!(cfg.source(), Source::Components);
}

#[test]
fn bad_values_name_the_variable_mask_the_value_and_say_what_is_valid() {
    let cases: &[(Vars, &str, &str, &str)] = &[
        (
            &[("REDIS_URL", "http://app:hunter2@cache")],
            "REDIS_URL",
            "http://app:***@cache",
            "redis://",
        ),
        (
            &[("REDIS_URL", "redis://cache:99999")],
            "REDIS_URL",
            "redis://cache:99999",
            "1 to 65535",
        ),
        (
            &[("REDIS_URL", "redis://cache:abc")],
            "REDIS_URL",
            "redis://cache:abc",
            "1 to 65535",
        ),
        (
            &[("REDIS_URL", "redis://cache:0")],
            "REDIS_URL",
            "redis://cache:0",
            "1 to 65535",
        ),
        (
            &[("REDIS_URL", "redis://:hunter2@")],
            "REDIS_URL",
            "redis://:***@",
            "host",
        ),
        (
            &[("REDIS_URL", "redis://cache/zero")],
            "REDIS_URL",
            "redis://cache/zero",
            "database must be a number",
        ),
        (
            &[("REDIS_URL", "redis://cache/0?timeout=1")],
            "REDIS_URL",
            "redis://cache/0?timeout=1",
            "no query",
        ),
        (
            &[("REDIS_URL", "unix://")],
            "REDIS_URL",
            "unix://",
            "socket path",
        ),
        (
            &[("REDIS_URL", "unix:///s?pass=hunter2&x=1")],
            "REDIS_URL",
            "unix:///s?pass=***&x=1",
            "db, user and pass",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_PORT", "http")],
            "REDIS_PORT",
            "http",
            "1 to 65535",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_PORT", "70000")],
            "REDIS_PORT",
            "70000",
            "1 to 65535",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_DB", "one")],
            "REDIS_DB",
            "one",
            "database number",
        ),
        (
            &[("REDIS_HOST", "cache:6379")],
            "REDIS_HOST",
            "cache:6379",
            "REDIS_PORT",
        ),
        (
            &[("REDIS_HOST", "redis://cache")],
            "REDIS_HOST",
            "redis://cache",
            "REDIS_URL",
        ),
        (&[("REDIS_HOST", "a b")], "REDIS_HOST", "a b", "host name"),
        // Passwords with a reserved character that was not percent-encoded.
        (
            &[("REDIS_URL", "redis://app:hun/ter2@cache:6379/0")],
            "REDIS_URL",
            "redis://app:***@cache:6379/0",
            "percent-encode it in the URL (/ as %2F",
        ),
        (
            &[("REDIS_URL", "redis://:hun?ter2@cache")],
            "REDIS_URL",
            "redis://:***@cache",
            "? as %3F",
        ),
        (
            &[("REDIS_URL", "redis://:hun#ter2@cache")],
            "REDIS_URL",
            "redis://:***@cache",
            "# as %23",
        ),
        (
            &[("REDIS_URL", "redis://:hun@ter/2@cache")],
            "REDIS_URL",
            "redis://:***@cache",
            "@ as %40), or give it unencoded in REDIS_AUTH_TOKEN",
        ),
        (
            &[("REDIS_URL", "app:hunter/2@cache")],
            "REDIS_URL",
            "app:***@cache",
            "reserved character",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_STALL_TIMEOUT_MS", "soon")],
            "REDIS_STALL_TIMEOUT_MS",
            "soon",
            "milliseconds",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_WRITE_CHECK", "sometimes")],
            "REDIS_WRITE_CHECK",
            "sometimes",
            "1/true/yes/on",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_TLS_ENABLED", "maybe")],
            "REDIS_TLS_ENABLED",
            "maybe",
            "1/true/yes/on",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_FAIL_CLOSED", "2")],
            "REDIS_FAIL_CLOSED",
            "2",
            "0/false/no/off",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_CONNECT_TIMEOUT_MS", "2s")],
            "REDIS_CONNECT_TIMEOUT_MS",
            "2s",
            "milliseconds",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_STARTUP_TIMEOUT_MS", "0")],
            "REDIS_STARTUP_TIMEOUT_MS",
            "0",
            "greater than 0",
        ),
        (
            &[("REDIS_HOST", "cache"), ("REDIS_POOL_SIZE", "0")],
            "REDIS_POOL_SIZE",
            "0",
            "at least 1",
        ),
    ];
    for (vars, variable, shown, hint) in cases {
        let err = env(vars).unwrap_err();
        assert_eq!(err.variable(), Some(*variable), "{vars:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{variable}={shown:?} is not valid: ")),
            "{message}"
        );
        assert!(message.contains(hint), "{message} lacks {hint:?}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!format!("{err:?}").contains("hunter2"));
    }
}

#[test]
fn a_mistyped_scheme_is_named_as_such_with_the_password_masked() {
    let cases = [
        (
            "redis//127.0.0.1:16379",
            "redis//127.0.0.1:16379",
            "redis//",
            "redis",
        ),
        (
            "rediss//cache:6380",
            "rediss//cache:6380",
            "rediss//",
            "rediss",
        ),
        ("REDIS//cache", "REDIS//cache", "REDIS//", "redis"),
        ("redis:/cache:6379", "redis:/cache:6379", "redis:/", "redis"),
        ("redis:cache", "redis:cache", "redis:", "redis"),
        (
            "rediss:cache.internal:6380/0",
            "rediss:cache.internal:6380/0",
            "rediss:",
            "rediss",
        ),
        ("redis:[::1]:6379", "redis:[::1]:6379", "redis:", "redis"),
        (
            "redis//:hunter2@cache",
            "redis//:***@cache",
            "redis//",
            "redis",
        ),
        (
            "redis:/app:hunter2@cache",
            "redis:***@cache",
            "redis:/",
            "redis",
        ),
        (
            "unix:/run/redis.sock",
            "unix:/run/redis.sock",
            "unix:",
            "unix",
        ),
        (
            "unix//run/redis.sock",
            "unix//run/redis.sock",
            "unix//",
            "unix",
        ),
        (
            "redis+unix:/run/r.sock",
            "redis+unix:/run/r.sock",
            "redis+unix:",
            "redis+unix",
        ),
    ];
    for (url, shown, typed, scheme) in cases {
        let err = env(&[("REDIS_URL", url)]).unwrap_err();
        let example = if scheme.ends_with("unix") {
            "/run/redis/redis.sock"
        } else {
            "host:6379/0"
        };
        assert_eq!(
            err.to_string(),
            format!(
                "REDIS_URL={shown:?} is not valid: the scheme looks mistyped ({typed} instead of \
                 {scheme}://, as in {scheme}://{example}); the scheme must be redis://, \
                 rediss://, unix:// or redis+unix://"
            )
        );
    }
    // In a sentinel or cluster list too.
    let err = env(&[("REDIS_CLUSTER_URLS", "redis://n1:7000,redis//n2:7001")]).unwrap_err();
    assert_eq!(err.variable(), Some("REDIS_CLUSTER_URLS"));
    assert!(
        err.to_string().contains("redis// instead of redis://"),
        "{err}"
    );
}

#[test]
fn hosts_and_users_named_like_a_scheme_are_not_taken_for_one() {
    let cases: &[(&str, &str)] = &[
        ("redis", "redis://redis:6379/0"),
        ("redis:6380", "redis://redis:6380/0"),
        ("rediss:6380/2", "redis://rediss:6380/2"),
        ("redis/1", "redis://redis:6379/1"),
        ("unix:7000", "redis://unix:7000/0"),
        ("redis:pw@cache", "redis://redis:pw@cache:6379/0"),
        ("redis:app:pw@cache", "redis://redis:app%3Apw@cache:6379/0"),
        ("redis-cache:6379", "redis://redis-cache:6379/0"),
        ("redis.internal", "redis://redis.internal:6379/0"),
        ("rediss1:6379", "redis://rediss1:6379/0"),
    ];
    for (url, expected) in cases {
        assert_eq!(url_of(&[("REDIS_URL", url)]), *expected, "{url}");
    }
}

#[test]
fn booleans_accept_the_usual_spellings() {
    for (value, tls) in [
        ("1", true),
        ("true", true),
        ("YES", true),
        (" on ", true),
        ("True", true),
        ("0", false),
        ("false", false),
        ("No", false),
        ("OFF", false),
    ] {
        let cfg = env(&[("REDIS_HOST", "cache"), ("REDIS_TLS_ENABLED", value)]).unwrap();
        assert_eq!(cfg.is_tls(), tls, "{value:?}");
    }
}

#[test]
fn tls_flag_contradicting_the_scheme_is_a_warning_not_an_error() {
    let cfg = env(&[
        ("REDIS_URL", "redis://cache"),
        ("REDIS_TLS_ENABLED", "true"),
    ])
    .unwrap();
    assert!(!cfg.is_tls(), "the URL wins");
    assert_eq!(cfg.warnings().len(), 1);
    assert!(
        cfg.warnings()[0].contains("REDIS_TLS_ENABLED"),
        "{:?}",
        cfg.warnings()
    );

    let cfg = env(&[("REDIS_URL", "rediss://cache"), ("REDIS_TLS", "off")]).unwrap();
    assert!(cfg.is_tls());
    assert!(
        cfg.warnings()[0].contains("REDIS_TLS=false"),
        "{:?}",
        cfg.warnings()
    );

    let cfg = env(&[("REDIS_URL", "rediss://cache"), ("REDIS_TLS", "on")]).unwrap();
    assert!(cfg.warnings().is_empty());
}

#[test]
fn ignored_variables_are_warned_about() {
    let cfg = env(&[("REDIS_URL", "redis://cache"), ("REDIS_HOST", "other")]).unwrap();
    assert_eq!(
        cfg.warnings(),
        ["REDIS_HOST is ignored because REDIS_URL is set"]
    );
    let cfg = env(&[("REDIS_URL", "redis://:a@cache"), ("REDIS_AUTH_TOKEN", "b")]).unwrap();
    assert_eq!(
        cfg.warnings(),
        ["REDIS_AUTH_TOKEN is ignored because REDIS_URL carries a password"]
    );
    assert!(cfg.connection_url().contains(":a@"));
}

#[test]
fn timeouts_and_policy_come_from_the_environment() {
    let cfg = env(&[("REDIS_HOST", "cache")]).unwrap();
    assert_eq!(cfg.timeouts.connect, Duration::from_millis(2000));
    assert_eq!(cfg.monitor.startup_timeout, Duration::from_millis(8000));
    assert_eq!(cfg.monitor.startup, StartupPolicy::Degraded);
    // Three 1 s intervals, two 2 s connects, four 500 ms responses, and 500 ms to look into a
    // failed connect.
    assert_eq!(
        cfg.monitor.stall_after(cfg.longest_check()),
        Duration::from_millis(9500)
    );

    let cfg = env(&[
        ("REDIS_HOST", "cache"),
        ("REDIS_STALL_TIMEOUT_MS", "4000"),
        ("REDIS_CONNECT_TIMEOUT_MS", "250"),
        ("REDIS_STARTUP_TIMEOUT_MS", "1500"),
        ("REDIS_FAIL_CLOSED", "true"),
        ("REDIS_CHECK_INTERVAL_MS", "200"),
        ("REDIS_POOL_SIZE", "4"),
        ("REDIS_BACKOFF_INITIAL_MS", "1000"),
        ("REDIS_BACKOFF_MAX_MS", "15000"),
    ])
    .unwrap();
    assert_eq!(cfg.timeouts.connect, Duration::from_millis(250));
    assert_eq!(cfg.monitor.startup_timeout, Duration::from_millis(1500));
    assert_eq!(cfg.monitor.startup, StartupPolicy::FailClosed);
    assert_eq!(cfg.monitor.check_interval, Duration::from_millis(200));
    assert_eq!(cfg.pool_size, 4);
    assert_eq!(cfg.monitor.backoff.initial(), Duration::from_secs(1));
    assert_eq!(cfg.monitor.backoff.max(), Duration::from_secs(15));
    assert_eq!(
        cfg.monitor.stall_after(cfg.longest_check()),
        Duration::from_secs(4)
    );
}

#[test]
fn source_says_where_settings_came_from() {
    assert_eq!(
        env(&[("REDIS_URL", "cache")]).unwrap().source(),
        Source::Url
    );
    assert_eq!(
        env(&[("REDIS_HOST", "cache")]).unwrap().source(),
        Source::Components
    );
}

/// Everything a config or its errors can print.
fn outputs(result: &Result<RedisConfig, ConfigError>) -> Vec<String> {
    match result {
        Ok(cfg) => vec![
            cfg.to_string(),
            format!("{cfg:?}"),
            cfg.warnings().join("\n"),
        ],
        Err(err) => vec![err.to_string(), format!("{err:?}")],
    }
}

fn assert_hidden(password: &str, result: &Result<RedisConfig, ConfigError>) {
    let encoded = utf8_percent_encode(password, USERINFO).to_string();
    for output in outputs(result) {
        assert!(
            !output.contains(password),
            "{password:?} leaked in {output}"
        );
        assert!(!output.contains(&encoded), "{encoded:?} leaked in {output}");
    }
}

proptest! {
    #[test]
    fn generated_passwords_never_appear_in_any_output(
        password in "[A-Za-z0-9@:/#%?&=+!$ é-]{8,24}",
        host in "[a-z][a-z0-9.-]{0,15}",
        port in proptest::option::of(any::<u16>()),
        tls in any::<bool>(),
    ) {
        let encoded = utf8_percent_encode(&password, USERINFO).to_string();
        let port_text = port.map(|p| p.to_string()).unwrap_or_default();

        let components = env(&[
            ("REDIS_HOST", &host),
            ("REDIS_PORT", &port_text),
            ("REDIS_AUTH_TOKEN", &password),
            ("REDIS_TLS_ENABLED", if tls { "true" } else { "false" }),
        ]);
        assert_hidden(&password, &components);

        let url = format!("redis://app:{encoded}@{host}:{port_text}/0");
        assert_hidden(&password, &env(&[("REDIS_URL", &url)]));

        // Raw, unencoded passwords in URLs are malformed more often than not: errors must hide them too.
        let raw = format!("rediss://app:{password}@{host}:{port_text}");
        assert_hidden(&password, &env(&[("REDIS_URL", &raw)]));
        let schemeless = format!("app:{password}@{host}");
        assert_hidden(&password, &env(&[("REDIS_URL", &schemeless)]));

        // Sentinel and cluster settings, whose credentials are kept apart from the addresses.
        let sentinel = env(&[
            ("REDIS_SENTINEL_URLS", &format!("s1,redis://:{encoded}@s2")),
            ("REDIS_SENTINEL_MASTER", "mymaster"),
            ("REDIS_USERNAME", "app"),
            ("REDIS_AUTH_TOKEN", &password),
        ]);
        assert_hidden(&password, &sentinel);
        let cluster = env(&[
            ("REDIS_CLUSTER_URLS", &format!("n1,redis://:{encoded}@n2")),
            ("REDIS_AUTH_TOKEN", &password),
        ]);
        assert_hidden(&password, &cluster);
    }

    /// The scheme-less forms the README lists, with hosts and users named like schemes among
    /// them, are all read as such: none is taken for a mistyped scheme.
    #[test]
    fn valid_scheme_less_forms_are_never_taken_for_a_mistyped_scheme(
        host in prop_oneof![
            "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10})?",
            Just("redis".to_owned()),
            Just("rediss".to_owned()),
            Just("unix".to_owned()),
        ],
        user in prop_oneof!["[a-z][a-z0-9]{0,8}", Just("redis".to_owned())],
        password in "[A-Za-z0-9]{1,12}",
        port in 1u16..,
        db in 0u32..16,
    ) {
        for value in [
            host.clone(),
            format!("{host}:{port}"),
            format!("{host}:{port}/{db}"),
            format!("{host}/{db}"),
            format!("{user}:{password}@{host}"),
            format!("{user}:{password}@{host}:{port}/{db}"),
            format!(":{password}@{host}"),
        ] {
            let result = env(&[("REDIS_URL", &value)]);
            prop_assert!(result.is_ok(), "{}: {:?}", value, result.err());
        }
    }

    /// A known scheme missing its colon or a slash is named as such, whatever follows it.
    #[test]
    fn a_scheme_missing_its_colon_or_a_slash_is_always_named(
        scheme in prop_oneof![
            Just("redis"),
            Just("rediss"),
            Just("REDIS"),
            Just("unix"),
            Just("redis+unix"),
        ],
        host in "[a-z][a-z0-9.-]{0,15}",
        port in proptest::option::of(1u16..),
    ) {
        let address = port.map_or_else(|| host.clone(), |port| format!("{host}:{port}"));
        for value in [
            format!("{scheme}//{address}"),
            format!("{scheme}:/{address}"),
            format!("{scheme}:{address}"),
        ] {
            let message = env(&[("REDIS_URL", &value)]).unwrap_err().to_string();
            prop_assert!(message.contains("the scheme looks mistyped"), "{}", message);
        }
    }

    #[test]
    fn no_input_panics(value in "\\PC{0,40}", other in "\\PC{0,10}") {
        for name in ["REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_TLS_ENABLED"] {
            let _ = env(&[(name, &value), ("REDIS_PORT", &other)]);
        }
        let _ = RedisConfig::from_url(&value);
    }
}
