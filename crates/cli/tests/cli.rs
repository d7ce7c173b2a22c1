//! The `redis-gate` binary run as an operator would run it, against real `redis-server`
//! processes: exit status, output, and passwords that never show.

use std::process::Command;
use std::time::{Duration, Instant};

use redis_gate_testkit::http::TestServer;
use redis_gate_testkit::proxy::{Fault, FaultProxy};
use redis_gate_testkit::redis::{RedisServer, free_port};
use redis_gate_testkit::tls::TestCertificates;
use serde_json::{Value, json};

const PASSWORD: &str = "s3cret-Pw-42";
/// A `--timeout` for runs that must not time out, even on a loaded machine.
const SLOW: &str = "30s";

/// What one run of the binary produced.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_never_shows(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "{secret:?} was printed: {self:#?}"
        );
    }
}

/// Runs `redis-gate` with only `PATH` and the given variables in its environment.
fn redis_gate(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_redis-gate"));
    command.args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let output = command
        .envs(env.iter().copied())
        .output()
        .expect("run redis-gate");
    Run {
        code: output.status.code().expect("redis-gate exited by itself"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn dead_url() -> String {
    format!("redis://127.0.0.1:{}", free_port())
}

#[test]
fn config_json_prints_every_setting_with_the_password_masked() {
    let url = format!("rediss://app:{PASSWORD}@Cache.internal:6380/2");
    let run = redis_gate(&["config", "--json"], &[("REDIS_URL", &url)]);

    assert_eq!(run.code, 0, "{run:#?}");
    let settings: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(
        settings,
        json!({
            "url": "rediss://app:***@cache.internal:6380/2",
            "scheme": "rediss",
            "host": "cache.internal",
            "port": 6380,
            "db": 2,
            "tls": true,
            "source": "REDIS_URL",
            "topology": "standalone",
            "nodes": ["cache.internal:6380"],
            "warnings": [],
        })
    );
    assert_eq!(run.stderr, "");
    run.assert_never_shows(PASSWORD);
}

#[test]
fn config_json_reports_components_nulls_and_warnings() {
    let run = redis_gate(
        &["config", "--json"],
        &[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6390"),
            ("REDIS_DB", "3"),
            ("REDIS_AUTH_TOKEN", PASSWORD),
            ("REDIS_PASSWORD", "other-secret"),
        ],
    );

    assert_eq!(run.code, 0, "{run:#?}");
    let settings: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(settings["url"], "redis://:***@cache:6390/3");
    assert_eq!(settings["source"], "components");
    assert_eq!(settings["tls"], false);
    assert_eq!(
        settings["warnings"],
        json!(["REDIS_PASSWORD is ignored because REDIS_AUTH_TOKEN is set"])
    );
    run.assert_never_shows(PASSWORD);
    run.assert_never_shows("other-secret");
}

#[test]
fn config_prints_one_setting_per_line_and_warnings_on_stderr() {
    let url = format!("redis://:{PASSWORD}@cache:6379/1");
    let run = redis_gate(&["config"], &[("REDIS_URL", &url), ("REDIS_HOST", "other")]);

    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout,
        "url: redis://:***@cache:6379/1\n\
         topology: standalone\n\
         scheme: redis\n\
         host: cache\n\
         port: 6379\n\
         db: 1\n\
         tls: false\n\
         source: REDIS_URL\n"
    );
    assert_eq!(
        run.stderr,
        "redis-gate: warning: REDIS_HOST is ignored because REDIS_URL is set\n"
    );
    run.assert_never_shows(PASSWORD);
}

#[test]
fn invalid_configuration_exits_2_naming_the_variable_for_every_command() {
    for args in [&["config"][..], &["ping"], &["wait", "--timeout", "1s"]] {
        let run = redis_gate(args, &[("REDIS_HOST", "cache"), ("REDIS_PORT", "abc")]);

        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert!(
            run.stderr
                .starts_with("redis-gate: REDIS_PORT=\"abc\" is not valid"),
            "{args:?}: {run:#?}"
        );
        assert_eq!(run.stdout, "", "{args:?}");
    }
}

#[test]
fn invalid_url_exits_2_with_the_password_masked() {
    let url = format!("redis://:{PASSWORD}@cache:notaport/0");
    let run = redis_gate(&["config"], &[("REDIS_URL", &url)]);

    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("REDIS_URL"), "{run:#?}");
    assert!(run.stderr.contains(":***@cache"), "{run:#?}");
    run.assert_never_shows(PASSWORD);
}

#[test]
fn no_configuration_at_all_exits_2_saying_what_to_set() {
    let run = redis_gate(&["ping"], &[]);

    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .starts_with("redis-gate: no Redis configuration: set REDIS_URL"),
        "{run:#?}"
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn ping_exits_0_with_the_latency_on_a_live_server() {
    let server = RedisServer::start();
    let run = redis_gate(
        &["ping", "--timeout", SLOW],
        &[("REDIS_URL", &server.url())],
    );

    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.starts_with("PONG in ") && run.stdout.ends_with(" ms\n"),
        "{run:#?}"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn ping_exits_1_when_nothing_listens_on_the_port() {
    let url = dead_url();
    let run = redis_gate(&["ping"], &[("REDIS_URL", &url)]);

    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!("redis-gate: redis at {url}/0 not available: connection refused\n")
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn ping_exits_1_for_authentication_when_the_password_is_missing_or_wrong() {
    let server = RedisServer::builder().password(PASSWORD).start();
    let wrong = format!("redis://:wrong-pw-7@127.0.0.1:{}", server.port());

    for url in [server.url_without_password(), wrong] {
        let run = redis_gate(&["ping", "--timeout", SLOW], &[("REDIS_URL", &url)]);

        assert_eq!(run.code, 1, "{url}: {run:#?}");
        assert!(
            run.stderr.contains("not available: authentication failed"),
            "{url}: {run:#?}"
        );
        run.assert_never_shows(PASSWORD);
        run.assert_never_shows("wrong-pw-7");
    }
}

#[test]
fn ping_exits_0_with_the_password_and_never_prints_it() {
    let server = RedisServer::builder().password(PASSWORD).start();

    let from_url = redis_gate(
        &["ping", "--timeout", SLOW],
        &[("REDIS_URL", &server.url())],
    );
    let from_token = redis_gate(
        &["ping"],
        &[
            ("REDIS_HOST", "127.0.0.1"),
            ("REDIS_PORT", &server.port().to_string()),
            ("REDIS_AUTH_TOKEN", PASSWORD),
        ],
    );

    for run in [from_url, from_token] {
        assert_eq!(run.code, 0, "{run:#?}");
        assert!(run.stdout.starts_with("PONG in "), "{run:#?}");
        run.assert_never_shows(PASSWORD);
    }
}

#[test]
fn wait_exits_0_once_a_late_server_starts() {
    let asked = Instant::now();
    let late = RedisServer::builder().start_after(Duration::from_secs(1));
    let run = redis_gate(&["wait", "--timeout", "20s"], &[("REDIS_URL", &late.url())]);

    assert_eq!(run.code, 0, "{run:#?}");
    assert!(asked.elapsed() >= Duration::from_secs(1), "{run:#?}");
    assert!(run.stdout.starts_with("redis ready after "), "{run:#?}");
    assert!(
        run.stderr.lines().count() <= 1,
        "one line while waiting, not one per attempt: {run:#?}"
    );
    assert!(late.join().is_running());
}

#[test]
fn wait_exits_1_at_the_timeout_saying_why_once_and_at_the_end() {
    let url = dead_url();
    let started = Instant::now();
    let run = redis_gate(&["wait", "--timeout", "1s"], &[("REDIS_URL", &url)]);

    assert_eq!(run.code, 1, "{run:#?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "{run:#?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert_eq!(
        lines[0],
        format!("redis-gate: waiting for redis at {url}/0: connection refused")
    );
    assert!(
        lines[1].starts_with(&format!(
            "redis-gate: redis at {url}/0 not available after "
        )) && lines[1].ends_with(": connection refused"),
        "{run:#?}"
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn wait_does_not_take_noauth_for_ready() {
    let server = RedisServer::builder().password(PASSWORD).start();
    let run = redis_gate(
        &["wait", "--timeout", "3s"],
        &[("REDIS_URL", &server.url_without_password())],
    );

    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .lines()
            .last()
            .is_some_and(|line| line.contains(": authentication failed")),
        "{run:#?}"
    );
    run.assert_never_shows(PASSWORD);
}

#[test]
fn ping_and_wait_do_not_take_loading_for_ready() {
    // A dump that takes about 20 s to load: `-LOADING` for longer than this test runs.
    let mut server = RedisServer::builder()
        .slow_to_load(20_000, Duration::from_millis(1))
        .start();
    server.restart_accepting();
    let url = server.url();

    let ping = redis_gate(&["ping", "--timeout", "5s"], &[("REDIS_URL", &url)]);
    assert_eq!(ping.code, 1, "{ping:#?}");
    assert!(ping.stderr.contains(": LOADING"), "{ping:#?}");

    let wait = redis_gate(&["wait", "--timeout", "1s"], &[("REDIS_URL", &url)]);
    assert_eq!(wait.code, 1, "{wait:#?}");
    assert!(
        wait.stderr
            .lines()
            .last()
            .is_some_and(|line| line.contains(": LOADING")),
        "{wait:#?}"
    );
    // Still loading at the end: the answers above were `-LOADING`, not a server coming up.
    assert!(
        server
            .command(&["PING"])
            .is_err_and(|err| err.starts_with("LOADING")),
        "the load ended early"
    );
}

#[test]
fn url_flag_overrides_redis_url() {
    let server = RedisServer::start();
    let dead = dead_url();
    let env = [("REDIS_URL", dead.as_str())];

    let ping = redis_gate(&["ping", "--timeout", SLOW, "--url", &server.url()], &env);
    assert_eq!(ping.code, 0, "{ping:#?}");

    let config = redis_gate(&["--url", &server.url(), "config", "--json"], &env);
    assert_eq!(config.code, 0, "{config:#?}");
    let settings: Value = serde_json::from_str(&config.stdout).expect("stdout is JSON");
    assert_eq!(settings["url"], format!("{}/0", server.url()));
    assert_eq!(settings["source"], "REDIS_URL");
}

#[test]
fn url_flag_takes_the_password_from_redis_auth_token() {
    let server = RedisServer::builder().password(PASSWORD).start();
    let run = redis_gate(
        &[
            "ping",
            "--timeout",
            SLOW,
            "--url",
            &server.url_without_password(),
        ],
        &[("REDIS_AUTH_TOKEN", PASSWORD)],
    );

    assert_eq!(run.code, 0, "{run:#?}");
    run.assert_never_shows(PASSWORD);
}

#[test]
fn invalid_url_flag_exits_2_naming_the_flag() {
    let url = format!("redis://:{PASSWORD}@cache:notaport");
    let run = redis_gate(&["ping", "--url", &url], &[]);

    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .starts_with("redis-gate: --url \"redis://:***@cache:notaport\" is not valid"),
        "{run:#?}"
    );
    run.assert_never_shows(PASSWORD);
}

#[test]
fn unusable_timeout_is_a_usage_error() {
    for timeout in ["5x", "1.5s", "-1", "0", "2 s", ""] {
        let run = redis_gate(
            &["wait", &format!("--timeout={timeout}")],
            &[("REDIS_URL", "redis://127.0.0.1:1")],
        );

        assert_eq!(run.code, 2, "{timeout:?}: {run:#?}");
        assert!(
            run.stderr.contains("--timeout <DURATION>"),
            "{timeout:?}: {run:#?}"
        );
        assert_eq!(run.stdout, "", "{timeout:?}");
    }
}

#[test]
fn ping_and_wait_work_over_tls_with_a_custom_ca() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let certs = TestCertificates::generate(dir.path());
    let server = RedisServer::builder()
        .tls(&certs.cert, &certs.key, &certs.ca)
        .start();
    let ca = certs.ca.to_string_lossy().into_owned();
    let env = [("REDIS_URL", server.url()), ("REDIS_TLS_CA_FILE", ca)];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let ping = redis_gate(&["ping", "--timeout", "30s"], &env);
    assert_eq!(ping.code, 0, "{ping:#?}");
    let wait = redis_gate(&["wait", "--timeout", "30s"], &env);
    assert_eq!(wait.code, 0, "{wait:#?}");

    // Without the CA the system roots do not trust the test certificate: a TLS failure, which
    // is a configuration problem (exit 2), not a Redis outage.
    let untrusted = redis_gate(&["ping"], &env[..1]);
    assert_eq!(untrusted.code, 2, "{untrusted:#?}");
    assert_eq!(
        untrusted.stderr,
        format!(
            "redis-gate: cannot use redis at {}/0: TLS handshake failed: the server's \
             certificate is not signed by a CA the system trusts (set REDIS_TLS_CA_FILE to the \
             CA that signed it)\n",
            server.url()
        )
    );
}

#[test]
fn a_certificate_from_another_ca_or_for_another_host_says_which() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let certs = TestCertificates::generate(dir.path());
    let other = tempfile::tempdir().expect("a temporary directory");
    let elsewhere = TestCertificates::generate_for(other.path(), &["cache.internal"]);
    let server = RedisServer::builder()
        .tls(&elsewhere.cert, &elsewhere.key, &elsewhere.ca)
        .start();
    let url = server.url();

    // Verified against a CA that did not sign it.
    let wrong_ca = certs.ca.to_string_lossy().into_owned();
    let run = redis_gate(
        &["ping"],
        &[("REDIS_URL", &url), ("REDIS_TLS_CA_FILE", &wrong_ca)],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "redis-gate: cannot use redis at {url}/0: TLS handshake failed: the server's \
             certificate is not signed by the CA in REDIS_TLS_CA_FILE\n"
        )
    );

    // Signed by the right CA, but for cache.internal, not for 127.0.0.1.
    let right_ca = elsewhere.ca.to_string_lossy().into_owned();
    let run = redis_gate(
        &["ping"],
        &[("REDIS_URL", &url), ("REDIS_TLS_CA_FILE", &right_ca)],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "redis-gate: cannot use redis at {url}/0: TLS handshake failed: the server's \
             certificate does not name the host 127.0.0.1 (connect by a name the certificate \
             lists)\n"
        )
    );
}

#[test]
fn tls_and_plain_redis_spoken_to_each_other_say_which_scheme_to_use() {
    let plain = RedisServer::start();
    let url = format!("rediss://127.0.0.1:{}", plain.port());
    let run = redis_gate(&["ping", "--timeout", "2s"], &[("REDIS_URL", &url)]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "redis-gate: cannot use redis at {url}/0: TLS handshake failed: 127.0.0.1:{} \
             speaks plain Redis, not TLS; use redis:// instead of rediss://\n",
            plain.port()
        )
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let certs = TestCertificates::generate(dir.path());
    let tls = RedisServer::builder()
        .tls(&certs.cert, &certs.key, &certs.ca)
        .start();
    let url = format!("redis://127.0.0.1:{}", tls.port());
    let run = redis_gate(&["ping", "--timeout", "2s"], &[("REDIS_URL", &url)]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "redis-gate: cannot use redis at {url}/0: 127.0.0.1:{} speaks TLS and hung up on \
             plain Redis; use rediss:// instead of redis://\n",
            tls.port()
        )
    );
}

/// A runtime for the servers a test runs beside the command (an HTTP server, a fault proxy).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("a Tokio runtime")
}

#[test]
fn a_server_that_does_not_speak_redis_is_named_with_what_it_answered() {
    // A real HTTP server (hyper's): a real Redis cannot answer HTTP, so this is the one fake.
    let runtime = runtime();
    let http = runtime.block_on(TestServer::plain_http());
    let address = http.addr();

    let url = format!("redis://{address}");
    let run = redis_gate(&["ping"], &[("REDIS_URL", &url)]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "redis-gate: cannot use redis at {url}/0: {address} does not speak Redis: it \
             answered PING with `HTTP/1.1` (check the host and port)\n"
        )
    );
    // Waiting will not fix it: `wait` stops at once, as for any configuration found bad.
    let run = redis_gate(&["wait", "--timeout", SLOW], &[("REDIS_URL", &url)]);
    assert_eq!(run.code, 2, "{run:#?}");

    let url = format!("rediss://{address}");
    let run = redis_gate(&["ping"], &[("REDIS_URL", &url)]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "redis-gate: cannot use redis at {url}/0: TLS handshake failed: {address} speaks \
             neither TLS nor Redis: it answered a plain PING with `HTTP/1.1` (check the host \
             and port)\n"
        )
    );
}

#[test]
fn ping_timeout_covers_the_whole_ping_connect_included() {
    let server = RedisServer::start();
    let runtime = runtime();
    let proxy = runtime.block_on(async {
        let proxy = FaultProxy::start(server.addr()).await;
        proxy.set_fault(Fault::Blackhole).await;
        proxy
    });
    let timeout = Duration::from_secs(2);

    // Plain: the connect may take all of it.
    let url = proxy.redis_url();
    let started = Instant::now();
    let run = redis_gate(&["ping", "--timeout", "2s"], &[("REDIS_URL", &url)]);
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!("redis-gate: redis at {url}/0 not available: connect timed out after 2000 ms\n")
    );
    assert!(took >= timeout, "gave up after {took:?}");

    // TLS: a quarter of it (half a second here) is kept to look into the failed handshake,
    // which takes the rest of it against a server that never answers.
    let url = url.replacen("redis://", "rediss://", 1);
    let started = Instant::now();
    let run = redis_gate(&["ping", "--timeout", "2s"], &[("REDIS_URL", &url)]);
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stderr,
        format!("redis-gate: redis at {url}/0 not available: connect timed out after 1500 ms\n")
    );
    assert!(took >= timeout, "gave up after {took:?}");
}

#[test]
fn a_password_with_an_unencoded_slash_is_reported_as_such_and_masked() {
    let url = format!("redis://app:{PASSWORD}/x@cache:6379/0");
    let run = redis_gate(&["config"], &[("REDIS_URL", &url)]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        "redis-gate: REDIS_URL=\"redis://app:***@cache:6379/0\" is not valid: the password seems \
         to contain a reserved character (/, ?, # or @): percent-encode it in the URL (/ as %2F, \
         ? as %3F, # as %23, @ as %40), or give it unencoded in REDIS_AUTH_TOKEN\n"
    );
    run.assert_never_shows(PASSWORD);
}

#[test]
fn a_mistyped_scheme_is_named_not_taken_for_a_database() {
    let run = redis_gate(&["ping"], &[("REDIS_URL", "redis//127.0.0.1:16379")]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.stderr,
        "redis-gate: REDIS_URL=\"redis//127.0.0.1:16379\" is not valid: the scheme looks \
         mistyped (redis// instead of redis://, as in redis://host:6379/0); the scheme must be \
         redis://, rediss://, unix:// or redis+unix://\n"
    );
}

#[test]
fn a_token_written_where_the_user_name_goes_is_masked_and_warned_about() {
    let url = format!("redis://{PASSWORD}@127.0.0.1:{}", free_port());
    let run = redis_gate(&["config"], &[("REDIS_URL", &url)]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.starts_with("url: redis://***@127.0.0.1:"),
        "{run:#?}"
    );
    assert_eq!(
        run.stderr,
        "redis-gate: warning: REDIS_URL has a user name but no password (redis://***@host), so \
         it is sent as a user name; for a password, write redis://:PASSWORD@host\n"
    );
    run.assert_never_shows(PASSWORD);
    let ping = redis_gate(&["ping", "--timeout", "2s"], &[("REDIS_URL", &url)]);
    assert_eq!(ping.code, 1, "{ping:#?}");
    ping.assert_never_shows(PASSWORD);
}

#[test]
fn servers_of_the_wrong_kind_are_named_as_such() {
    let plain = RedisServer::start();
    // A cluster seed that is not in cluster mode: Redis's own message.
    let run = redis_gate(&["ping"], &[("REDIS_CLUSTER_URLS", &plain.url())]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.ends_with(
            "not available: redis replied with an error: ERR This instance has cluster support \
             disabled\n"
        ),
        "{run:#?}"
    );

    // A sentinel address that is a plain server: reachable, but of the wrong kind.
    let sentinel = format!("127.0.0.1:{}", plain.port());
    let run = redis_gate(
        &["ping"],
        &[
            ("REDIS_SENTINEL_URLS", &sentinel),
            ("REDIS_SENTINEL_MASTER", "mymaster"),
        ],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.ends_with(
            "not available: not a sentinel: the server named as a sentinel does not know the \
             SENTINEL command (point REDIS_SENTINEL_URLS at the sentinels, usually port 26379)\n"
        ),
        "{run:#?}"
    );
}

#[test]
fn a_host_that_does_not_resolve_is_named() {
    let run = redis_gate(
        &["ping"],
        &[("REDIS_URL", "redis://no-such-host.invalid:6379")],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stderr,
        "redis-gate: redis at redis://no-such-host.invalid:6379/0 not available: cannot resolve \
         the host name no-such-host.invalid: no such host\n"
    );
}

#[test]
fn config_reports_the_topology_and_its_nodes() {
    let run = redis_gate(
        &["config", "--json"],
        &[
            ("REDIS_SENTINEL_URLS", "s1:26379,s2:26380"),
            ("REDIS_SENTINEL_MASTER", "mymaster"),
            ("REDIS_AUTH_TOKEN", PASSWORD),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let settings: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(settings["topology"], "sentinel");
    assert_eq!(settings["nodes"], json!(["s1:26379", "s2:26380"]));
    assert_eq!(
        settings["url"],
        "redis+sentinel://:***@s1:26379,s2:26380/mymaster/0"
    );
    run.assert_never_shows(PASSWORD);

    let run = redis_gate(&["config"], &[("REDIS_CLUSTER_URLS", "n1:7000,n2:7001")]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("topology: cluster\n"), "{run:#?}");
    assert!(run.stdout.ends_with("nodes: n1:7000,n2:7001\n"), "{run:#?}");
}
