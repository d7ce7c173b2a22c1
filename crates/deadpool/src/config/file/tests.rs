use std::collections::HashMap;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use redis_gate_core::{Backoff, StartupPolicy};

use super::super::topology::Secret;
use super::*;

/// What the tests percent-encode passwords with: all but RFC 3986's unreserved characters.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn from_toml(document: &str) -> Result<RedisConfig, String> {
    toml::from_str(document).map_err(|err| err.to_string())
}

fn to_toml(cfg: &RedisConfig) -> String {
    toml::to_string(cfg).unwrap_or_else(|err| panic!("{cfg:?}: {err}"))
}

/// The URL with the real password, as the client gets it (standalone only).
fn connection_url(cfg: &RedisConfig) -> String {
    match cfg.topology() {
        Topology::Standalone(node) => node.revealed_url(),
        other => panic!("not standalone: {other:?}"),
    }
}

/// Every setting the two configurations hold, secrets included (`Topology`'s `PartialEq`
/// compares credentials); `source` and `warnings` say how a configuration was made, not what
/// it is.
fn assert_same(actual: &RedisConfig, expected: &RedisConfig) {
    assert_eq!(actual.name, expected.name);
    assert_eq!(actual.topology(), expected.topology());
    assert_eq!(actual.timeouts, expected.timeouts);
    assert_eq!(actual.pool_size, expected.pool_size);
    assert_eq!(actual.write_check, expected.write_check);
    assert_eq!(actual.monitor, expected.monitor);
    assert_eq!(actual.tls_ca, expected.tls_ca);
    assert_eq!(
        actual.sentinel_announcements,
        expected.sentinel_announcements
    );
}

/// What a configuration is once written and read back, as documented: no password anywhere,
/// no credentials on sentinels, the user name only where a password went with it, and a
/// cluster's seeds sharing the first one's.
fn without_secrets(cfg: &RedisConfig) -> RedisConfig {
    let forget = |credentials: &Credentials| Credentials {
        username: credentials
            .password
            .as_ref()
            .and(credentials.username.clone()),
        password: None,
    };
    let mut expected = cfg.clone();
    expected.topology = match cfg.topology() {
        Topology::Standalone(node) => Topology::Standalone(Node {
            credentials: forget(&node.credentials),
            ..node.clone()
        }),
        Topology::Sentinel {
            sentinels,
            master,
            data_nodes,
        } => Topology::Sentinel {
            sentinels: sentinels
                .iter()
                .map(|node| Node {
                    credentials: Credentials::default(),
                    db: 0,
                    ..node.clone()
                })
                .collect(),
            master: master.clone(),
            data_nodes: DataNodes {
                credentials: forget(&data_nodes.credentials),
                ..data_nodes.clone()
            },
        },
        Topology::Cluster(seeds) => {
            let shared = forget(&seeds[0].credentials);
            let seeds = seeds.iter().map(|node| Node {
                credentials: shared.clone(),
                ..node.clone()
            });
            Topology::Cluster(seeds.collect())
        }
    };
    expected
}

/// A configuration with every setting away from its default.
fn tuned(mut cfg: RedisConfig) -> RedisConfig {
    cfg.name = "sessions".into();
    cfg.timeouts.connect = Duration::from_millis(750);
    cfg.timeouts.response = Duration::from_millis(1500);
    cfg.timeouts.pool_wait = Duration::from_secs(3);
    cfg.pool_size = 4;
    cfg.write_check = true;
    cfg.sentinel_announcements = false;
    cfg.tls_ca = Some(CA.as_bytes().into());
    cfg.monitor.check_interval = Duration::from_millis(250);
    cfg.monitor.fall = 3;
    cfg.monitor.rise = 2;
    cfg.monitor.backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(15)).jitter(0.2);
    cfg.monitor.startup = StartupPolicy::FailClosed;
    cfg.monitor.startup_timeout = Duration::from_secs(30);
    cfg.monitor.startup_attempts = 7;
    cfg.monitor.stall_timeout = Some(Duration::from_secs(90));
    cfg
}

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// One configuration of each shape, with passwords in every place one can go.
fn every_topology() -> Vec<RedisConfig> {
    vec![
        RedisConfig::from_url("rediss://app:hunter2@cache.internal:6380/2").unwrap(),
        RedisConfig::from_url("rediss://:hunter2@10.0.0.5/0#insecure").unwrap(),
        RedisConfig::from_url("redis://[::1]:7000/1").unwrap(),
        RedisConfig::from_url("redis://hunter2@cache").unwrap(),
        RedisConfig::from_url("unix:///run/redis.sock?db=3&user=app&pass=hunter2").unwrap(),
        RedisConfig::sentinel(&["s1", "rediss://:hunter2@s2:26380#insecure"], "mymaster")
            .username("app")
            .password("hunter2")
            .db(1)
            .build()
            .unwrap(),
        RedisConfig::sentinel(&["rediss://s1:26379"], "mymaster")
            .build()
            .unwrap(),
        RedisConfig::cluster(&["redis://app:hunter2@n1:7000", "n2:7001"]).unwrap(),
        RedisConfig::cluster(&["rediss://n1:7000", "rediss://n2:7001"]).unwrap(),
    ]
}

#[test]
fn a_file_with_only_a_url_gets_every_default_the_environment_gives() {
    let vars = HashMap::from([("REDIS_URL", "redis://cache:6379/0")]);
    let from_env =
        RedisConfig::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()), None).unwrap();
    let from_file = from_toml(r#"url = "redis://cache:6379/0""#).unwrap();
    assert_same(&from_file, &from_env);
    assert_eq!(from_file.source(), Source::Url);
    assert!(from_file.warnings().is_empty());
}

#[test]
fn the_serialized_shape_is_the_one_people_write() {
    let standalone = RedisConfig::from_url("rediss://app:hunter2@cache.internal:6380/2").unwrap();
    assert_eq!(
        to_toml(&standalone),
        r#"name = "redis"
url = "rediss://cache.internal:6380/2"
username = "app"
pool_size = 16
write_check = false
sentinel_announcements = true

[timeouts]
connect = "2s"
response = "500ms"
pool_wait = "1s"

[monitor]
check_interval = "1s"
fall = 2
rise = 1
startup = "degraded"
startup_timeout = "8s"
startup_attempts = 20

[monitor.backoff]
initial = "100ms"
max = "2s"
jitter = 0.5
"#
    );
    let head = |cfg: &RedisConfig| {
        let text = to_toml(cfg);
        text[..text.find("pool_size").unwrap()].to_owned()
    };
    let sentinel = RedisConfig::sentinel(&["s1", "rediss://:pw@s2:26380"], "mymaster")
        .username("app")
        .password("hunter2")
        .db(1)
        .build()
        .unwrap();
    assert_eq!(
        head(&sentinel),
        r#"name = "redis"
sentinels = ["redis://s1:26379", "rediss://s2:26380"]
master = "mymaster"
username = "app"
db = 1
tls = false
"#
    );
    let cluster = RedisConfig::cluster(&["redis://app:hunter2@n1:7000", "n2:7001"]).unwrap();
    assert_eq!(
        head(&cluster),
        r#"name = "redis"
cluster = ["redis://n1:7000", "redis://n2:7001"]
username = "app"
"#
    );
    let unix = RedisConfig::from_url("unix:///run/redis.sock?db=3&pass=hunter2").unwrap();
    assert_eq!(
        head(&unix),
        "name = \"redis\"\nurl = \"unix:///run/redis.sock?db=3\"\n"
    );
}

#[test]
fn every_topology_round_trips_without_its_secrets() {
    for cfg in every_topology()
        .into_iter()
        .flat_map(|cfg| [cfg.clone(), tuned(cfg)])
    {
        let written = to_toml(&cfg);
        let read = from_toml(&written).unwrap_or_else(|err| panic!("{written}\n{err}"));
        assert_same(&read, &without_secrets(&cfg));

        let json = serde_json::to_string(&cfg).unwrap();
        let read: RedisConfig = serde_json::from_str(&json).unwrap();
        assert_same(&read, &without_secrets(&cfg));
    }
}

#[test]
fn no_secret_is_ever_written_not_even_a_token_in_the_user_name() {
    for cfg in every_topology().into_iter().map(tuned) {
        for written in [to_toml(&cfg), serde_json::to_string(&cfg).unwrap()] {
            assert!(!written.contains("hunter2"), "{cfg}: {written}");
            assert!(!written.contains("password"), "{written}");
            assert!(!written.contains("pass="), "{written}");
        }
    }
    // `redis://TOKEN@host` is a token in the user-name place: `Display` masks it whole, and it
    // is not written at all.
    let token = RedisConfig::from_url("redis://s3cr3t-t0ken@cache:6379").unwrap();
    assert_eq!(token.to_string(), "redis://***@cache:6379/0");
    let written = to_toml(&token);
    assert!(!written.contains("s3cr3t-t0ken"), "{written}");
    assert!(!written.contains("username"), "{written}");
}

#[test]
fn the_url_form_with_credentials_is_read_as_from_url() {
    let url = "rediss://app:p%40ss@cache.internal:6380/3";
    let cfg = from_toml(&format!("url = {url:?}")).unwrap();
    assert_same(&cfg, &RedisConfig::from_url(url).unwrap());
    assert_eq!(
        connection_url(&cfg),
        "rediss://app:p%40ss@cache.internal:6380/3"
    );
    assert_eq!(cfg.to_string(), "rediss://app:***@cache.internal:6380/3");
}

#[test]
fn username_and_password_fill_what_the_urls_leave_out() {
    let cfg = from_toml(
        r#"
        url = "rediss://cache:6380"
        username = "app"
        password = "p@ss/word"
        "#,
    )
    .unwrap();
    assert_eq!(
        connection_url(&cfg),
        "rediss://app:p%40ss%2Fword@cache:6380/0"
    );

    let cfg = from_toml(
        r#"
        url = "redis://app@cache"
        password = "hunter2"
        "#,
    )
    .unwrap();
    assert_eq!(connection_url(&cfg), "redis://app:hunter2@cache:6379/0");
    assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());

    let cfg = from_toml(
        r#"
        cluster = ["redis://n1:7000", "redis://:own@n2:7001"]
        password = "hunter2"
        "#,
    )
    .unwrap_err();
    assert!(
        cfg.starts_with(r#"password="***" is not valid: unset when the URL in cluster carries"#),
        "{cfg}"
    );

    let cfg = from_toml(
        r#"
        sentinels = ["s1", "redis://:sentinel-pw@s2"]
        master = "mymaster"
        username = "app"
        password = "hunter2"
        "#,
    )
    .unwrap();
    let Topology::Sentinel {
        sentinels,
        data_nodes,
        ..
    } = cfg.topology()
    else {
        panic!("{cfg:?}")
    };
    assert_eq!(data_nodes.credentials.username.as_deref(), Some("app"));
    assert_eq!(
        data_nodes.credentials.password,
        Some(Secret("hunter2".to_owned()))
    );
    assert_eq!(
        sentinels[1].credentials.password,
        Some(Secret("sentinel-pw".to_owned()))
    );
    assert!(sentinels[0].credentials == Credentials::default());
}

#[test]
fn a_lone_user_name_in_the_url_is_warned_about_as_from_url_does() {
    let cfg = from_toml(r#"url = "redis://s3cr3t@cache""#).unwrap();
    assert_eq!(cfg.warnings().len(), 1);
    assert!(cfg.warnings()[0].starts_with("url has a user name but no password"));
    assert!(!cfg.warnings()[0].contains("s3cr3t"));
}

#[test]
fn sentinel_and_cluster_lists_may_be_one_comma_separated_string() {
    let list = from_toml(
        r#"
        sentinels = ["s1:26379", "s2:26380"]
        master = "mymaster"
        "#,
    )
    .unwrap();
    let string = from_toml(
        r#"
        sentinels = "s1:26379, s2:26380"
        master = "mymaster"
        "#,
    )
    .unwrap();
    assert_same(&string, &list);
    assert_eq!(
        string.to_string(),
        "redis+sentinel://s1:26379,s2:26380/mymaster/0"
    );

    let cluster = from_toml(r#"cluster = "n1:7000,n2:7001""#).unwrap();
    assert_eq!(cluster.to_string(), "redis+cluster://n1:7000,n2:7001");
}

#[test]
fn tls_makes_scheme_less_addresses_tls_and_sets_the_masters_tls() {
    let cfg = from_toml("url = \"cache:6380\"\ntls = true").unwrap();
    assert_eq!(connection_url(&cfg), "rediss://cache:6380/0");

    let sentinel = |extra: &str| {
        from_toml(&format!(
            "sentinels = [\"rediss://s1\"]\nmaster = \"m\"\n{extra}"
        ))
        .unwrap()
    };
    assert!(sentinel("").is_tls(), "by default, as the first sentinel");
    assert!(!sentinel("tls = false").is_tls());
    let plain = from_toml("sentinels = [\"s1\"]\nmaster = \"m\"\ntls = true").unwrap();
    assert!(plain.is_tls());
    assert!(plain.topology().nodes()[0].is_tls());

    let cluster = from_toml("cluster = [\"n1:7000\", \"n2:7001\"]\ntls = true").unwrap();
    assert!(cluster.topology().nodes().iter().all(Node::is_tls));
}

#[test]
fn the_ca_certificates_come_from_text_or_a_file() {
    let cfg = from_toml(&format!("url = \"rediss://cache\"\ntls_ca = {CA:?}")).unwrap();
    assert_eq!(cfg.tls_ca.as_deref(), Some(CA.as_bytes()));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, CA).unwrap();
    let cfg = from_toml(&format!(
        "url = \"rediss://cache\"\ntls_ca_file = {:?}",
        path.display().to_string()
    ))
    .unwrap();
    assert_eq!(cfg.tls_ca.as_deref(), Some(CA.as_bytes()));
    assert!(to_toml(&cfg).contains("tls_ca = \"\"\"\n-----BEGIN CERTIFICATE-----"));

    let mut binary = cfg.clone();
    binary.tls_ca = Some(vec![0x30, 0x82, 0xff].into());
    let err = toml::to_string(&binary).unwrap_err().to_string();
    assert!(err.contains("tls_ca holds no PEM text"), "{err}");
}

#[test]
fn bad_values_name_the_field_mask_the_password_and_say_what_is_valid() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            r#"url = "redis://app:hunter2@cache:99999""#,
            "url",
            "redis://app:***@cache:99999",
            "1 to 65535",
        ),
        (
            r#"url = "http://app:hunter2@cache""#,
            "url",
            "http://app:***@cache",
            "redis://",
        ),
        (
            r#"url = "redis://app:hun/ter2@cache""#,
            "url",
            "redis://app:***@cache",
            "percent-encode",
        ),
        ("name = \"x\"", "url", "", "where Redis is"),
        (
            "url = \"redis://a\"\ncluster = [\"redis://:hunter2@n1\"]",
            "cluster",
            "redis://:***@n1",
            "unset when url is set",
        ),
        (
            "url = \"redis://a\"\nsentinels = [\"s1\"]\nmaster = \"m\"",
            "sentinels",
            "s1",
            "unset when url is set",
        ),
        (
            r#"cluster = ["n1:7000", "redis://:hunter2@n2:7001/2"]"#,
            "cluster",
            "redis://:***@n2:7001/2",
            "only database 0",
        ),
        ("cluster = []", "cluster", "", "addresses"),
        (
            r#"sentinels = ["unix:///run/s.sock"]
               master = "m""#,
            "sentinels",
            "unix://",
            "TCP addresses",
        ),
        (
            r#"sentinels = ["s1"]"#,
            "master",
            "",
            "required with sentinels",
        ),
        (
            "sentinels = [\"s1\"]\nmaster = \" \"",
            "master",
            "",
            "required with sentinels",
        ),
        (
            "url = \"redis://a\"\nmaster = \"m\"",
            "master",
            "m",
            "goes with sentinels",
        ),
        (
            "url = \"redis://a\"\ndb = 2",
            "db",
            "2",
            "put the database in the URL",
        ),
        ("cluster = [\"n1\"]\ndb = 2", "db", "2", "only database 0"),
        (
            "url = \"redis://a\"\ntls = true",
            "tls",
            "true",
            "the scheme redis:// in url already says whether to use TLS",
        ),
        (
            "cluster = [\"n1\", \"rediss://n2\"]\ntls = false",
            "tls",
            "false",
            "leave tls out, or write redis:// there",
        ),
        (
            "url = \"redis://a\"\ntls_ca = \"/etc/ca.pem\"",
            "tls_ca",
            "/etc/ca.pem",
            "use tls_ca_file",
        ),
        (
            "url = \"redis://a\"\ntls_ca_file = \"/nonexistent/ca.pem\"",
            "tls_ca_file",
            "/nonexistent/ca.pem",
            "a readable PEM file",
        ),
        (
            &format!("url = \"redis://a\"\ntls_ca = {CA:?}\ntls_ca_file = \"/ca.pem\""),
            "tls_ca_file",
            "/ca.pem",
            "unset when tls_ca is set",
        ),
        (
            "url = \"redis://a\"\npool_size = 0",
            "pool_size",
            "0",
            "at least 1",
        ),
        ("url = \"redis://a\"\nname = \"\"", "name", "", "a name"),
        (
            "url = \"redis://a\"\npassword = 123456",
            "password",
            "***",
            "a string, in quotes",
        ),
        (
            "url = \"redis://a\"\nusername = 42",
            "username",
            "***",
            "a string, in quotes",
        ),
        (
            "url = \"redis://app:hunter2@a\"\npassword = \"hunter2\"",
            "password",
            "***",
            "unset when the URL in url carries a password",
        ),
        (
            "url = \"redis://app:hunter2@a\"\nusername = \"other\"",
            "username",
            "***",
            "different user name",
        ),
    ];
    for (document, field, shown, hint) in cases {
        let message = from_toml(document).unwrap_err();
        assert!(
            message.starts_with(&format!("{field}={shown:?} is not valid: ")),
            "{document}: {message}"
        );
        assert!(message.contains(hint), "{message} lacks {hint:?}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!message.contains("123456"), "{message}");
    }
}

#[test]
fn in_a_table_of_its_own_the_error_points_at_the_table_not_at_the_secret() {
    #[derive(Debug, serde::Deserialize)]
    struct App {
        #[allow(dead_code)]
        redis: RedisConfig,
    }
    for document in [
        "[redis]\nurl = \"redis://app:hunter2@cache:99999\"\npool_size = 3\n",
        "[redis]\nurl = \"redis://cache\"\npassword = 1234567\n",
    ] {
        let message = toml::from_str::<App>(document).unwrap_err().to_string();
        assert!(message.contains("| [redis]\n"), "{message}");
        assert!(
            !message.contains("hunter2") && !message.contains("1234567"),
            "{message}"
        );
    }
}

#[test]
fn inline_the_whole_error_shows_the_line_with_the_secret_and_the_message_alone_does_not() {
    #[derive(Debug, serde::Deserialize)]
    struct App {
        #[allow(dead_code)]
        redis: RedisConfig,
    }
    // What the README warns about: toml quotes the line where the `redis` table starts, which
    // here is the line with the password. Its message alone never holds it.
    for document in [
        "redis = { url = \"redis://cache:99999\", password = \"hunter2\" }\n",
        "redis.url = \"redis://app:hunter2@cache:99999\"\n",
    ] {
        let err = toml::from_str::<App>(document).unwrap_err();
        assert!(err.to_string().contains("hunter2"), "{err}");
        assert!(!err.message().contains("hunter2"), "{}", err.message());
        assert!(err.message().contains("is not valid"), "{}", err.message());
    }
}

#[test]
fn durations_are_read_in_human_form_and_bad_ones_are_refused() {
    let cfg = from_toml(
        r#"
        url = "redis://cache"
        [timeouts]
        connect = "750ms"
        response = "1.5s"
        [monitor]
        startup_timeout = "1m 30s"
        stall_timeout = "20 seconds"
        "#,
    )
    .unwrap();
    assert_eq!(cfg.timeouts.connect, Duration::from_millis(750));
    assert_eq!(cfg.timeouts.response, Duration::from_millis(1500));
    assert_eq!(cfg.timeouts.pool_wait, Timeouts::default().pool_wait);
    assert_eq!(cfg.monitor.startup_timeout, Duration::from_secs(90));
    assert_eq!(cfg.monitor.stall_timeout, Some(Duration::from_secs(20)));

    for (value, says) in [
        ("\"2000\"", r#""2000" is not a duration"#),
        ("\"2 parsecs\"", r#""2 parsecs" is not a duration"#),
        (
            "\"0ms\"",
            r#""0ms" is not valid: a duration greater than 0"#,
        ),
        ("2000", "invalid type: integer `2000`, expected a duration"),
    ] {
        for (table, field) in [
            ("timeouts", "connect"),
            ("timeouts", "pool_wait"),
            ("monitor", "check_interval"),
            ("monitor.backoff", "max"),
        ] {
            let document = format!("url = \"redis://a\"\n[{table}]\n{field} = {value}\n");
            let message = from_toml(&document).unwrap_err();
            assert!(
                message.contains(&format!("| {field} = {value}\n")),
                "the line at fault: {message}"
            );
            assert!(message.contains(says), "{document}: {message}");
            assert!(message.contains(r#"such as "500ms", "2s""#), "{message}");
        }
    }
}

#[test]
fn unknown_fields_are_errors_at_every_level() {
    for (document, unknown) in [
        (
            "url = \"redis://a\"\nconnect_timeout = \"1s\"",
            "connect_timeout",
        ),
        ("url = \"redis://a\"\n[timeouts]\nconect = \"1s\"", "conect"),
        (
            "url = \"redis://a\"\n[monitor]\nstartup_timout = \"1s\"",
            "startup_timout",
        ),
        (
            "url = \"redis://a\"\n[monitor.backoff]\ncap = \"1s\"",
            "cap",
        ),
    ] {
        let message = from_toml(document).unwrap_err();
        assert!(
            message.contains(&format!("unknown field `{unknown}`, expected")),
            "{message}"
        );
    }
    let message = from_toml("url = \"redis://a\"\n[monitor]\nstartup = \"closed\"").unwrap_err();
    assert!(
        message.contains("unknown variant `closed`, expected `degraded` or `fail_closed`"),
        "{message}"
    );
}

proptest! {
    #[test]
    fn generated_passwords_are_never_written(
        password in "[A-Za-z0-9@:/#%?&=+!$ é-]{8,24}",
        user in "[a-z]{1,8}",
        host in "[a-z][a-z0-9-]{0,15}",
    ) {
        let encoded = utf8_percent_encode(&password, USERINFO).to_string();
        let configs = [
            RedisConfig::from_url(&format!("rediss://{user}:{encoded}@{host}:6380/1")).unwrap(),
            RedisConfig::from_url(&format!("redis://{encoded}@{host}")).unwrap(),
            RedisConfig::from_url(&format!("unix:///run/{host}.sock?pass={encoded}")).unwrap(),
            RedisConfig::sentinel(&[format!("redis://:{encoded}@{host}")], "m")
                .password(&password)
                .build()
                .unwrap(),
            RedisConfig::cluster(&[format!("redis://{user}:{encoded}@{host}:7000")]).unwrap(),
        ];
        for cfg in &configs {
            for written in [to_toml(cfg), serde_json::to_string(cfg).unwrap()] {
                prop_assert!(!written.contains(&password), "{written}");
                prop_assert!(!written.contains(&encoded), "{written}");
            }
        }
    }
}

#[test]
fn a_ca_written_back_keeps_its_certificates_and_never_a_private_key() {
    let combined =
        format!("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n{CA}");
    let mut cfg = RedisConfig::from_url("rediss://cache").unwrap();
    cfg.tls_ca = Some(combined.as_bytes().into());
    let written = to_toml(&cfg);
    assert!(
        !written.contains("PRIVATE KEY") && !written.contains("c2VjcmV0"),
        "{written}"
    );
    let read = from_toml(&written).unwrap();
    assert_eq!(
        String::from_utf8(read.tls_ca.unwrap().to_vec())
            .unwrap()
            .trim(),
        CA.trim()
    );
}
