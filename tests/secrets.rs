//! No test password ever shows: the demo (with debug logging) and the `redis-gate` command run
//! through a scenario with passwords and a details token (good and wrong passwords, an outage,
//! a malformed URL), and every line they print and every response body is scanned.
//!
//! The scan is the testkit's (`redis_gate_testkit::secrets`): it checks everything the testkit
//! captures in every test of the suite (log captures, child processes, HTTP responses) as it is
//! captured; this test makes sure the places where a password would show are in what it saw.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use http::StatusCode;
use redis_gate_testkit::http::Reply;
use redis_gate_testkit::poll::DEADLINE;
use redis_gate_testkit::process::{Spawned, built};
use redis_gate_testkit::redis::RedisServer;
use redis_gate_testkit::secrets;
use support::Demo;

const PASSWORD: &str = "Scan-Me-Redis-Pw-9417";
const WRONG: &str = "Scan-Me-Wrong-Pw-3344";
const TOKEN: &str = "Scan-Me-Details-Token-77";

fn cli_binary() -> PathBuf {
    built("redis-gate", "cargo build -p redis-gate-cli")
}

/// Everything seen, to check what the scan covered.
#[derive(Default)]
struct Seen {
    texts: Vec<String>,
}

impl Seen {
    fn reply(&mut self, reply: &Reply) {
        self.texts.push(reply.to_string());
    }

    fn process(&mut self, process: &Spawned) {
        self.texts.push(process.output());
    }

    fn all(&self) -> String {
        self.texts.join("\n")
    }
}

/// `GET path` on the demo, seen.
async fn get(demo: &Demo, path: &str, seen: &mut Seen) -> Reply {
    let reply = demo.get(path).await;
    seen.reply(&reply);
    reply
}

/// The details endpoint with the token, seen.
async fn details(demo: &Demo, seen: &mut Seen) -> Reply {
    let req = http::Request::get(format!("{}/health/dependencies", demo.base))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(http_body_util::Full::default())
        .unwrap();
    let reply = demo.client.request(req).await;
    seen.reply(&reply);
    reply
}

async fn ready_becomes(demo: &Demo, status: StatusCode, seen: &mut Seen) -> bool {
    demo.ready_becomes_with(status, |reply| seen.reply(reply))
        .await
}

/// SIGTERM, then everything the demo printed is seen.
fn stop(mut demo: Demo, seen: &mut Seen) {
    demo.process.terminate();
    assert!(
        demo.process.wait_exit(DEADLINE).is_some(),
        "the demo stops on SIGTERM"
    );
    seen.process(&demo.process);
}

/// The demo with debug logging, the details token and no drain delay, plus `env`.
fn start_demo(env: &[(&str, &str)]) -> Demo {
    let mut vars = vec![
        ("RUST_LOG", "debug"),
        ("HEALTH_DETAILS_TOKEN", TOKEN),
        ("SHUTDOWN_DRAIN_MS", "0"),
    ];
    vars.extend_from_slice(env);
    Demo::start(&vars)
}

/// Runs `redis-gate args` to the end with `env`, and returns its exit code.
fn cli(args: &[&str], env: &[(&str, &str)], seen: &mut Seen) -> i32 {
    let mut run = Spawned::start_with_args(&cli_binary(), args, env);
    let status = run.wait_exit(DEADLINE).expect("redis-gate exits");
    // The output is collected until the pipes close.
    let until = Instant::now() + DEADLINE;
    while run.output().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    seen.process(&run);
    status.code().expect("an exit code")
}

#[tokio::test]
async fn no_password_or_token_shows_in_any_output_of_the_demo_or_the_cli() {
    secrets::register(WRONG);
    secrets::register(TOKEN);
    let scanned_before = secrets::scanned();
    let mut seen = Seen::default();
    let mut redis = RedisServer::builder().password(PASSWORD).start();
    let url = redis.url();
    let port = redis.port().to_string();

    // The demo with the right password: every route, an outage, the details behind the token.
    let demo = start_demo(&[("REDIS_URL", &url)]);
    demo.wait_listening();
    assert!(
        ready_becomes(&demo, StatusCode::OK, &mut seen).await,
        "{}",
        demo.process.output()
    );
    let ticket = demo
        .client
        .send(
            http::Method::POST,
            &format!("{}/api/v1/auth/ws-ticket", demo.base),
            "",
        )
        .await;
    seen.reply(&ticket);
    assert_eq!(ticket.status, StatusCode::OK);
    get(&demo, "/api/v1/cache/alpha", &mut seen).await;
    get(&demo, "/api/v1/cache/alpha", &mut seen).await;
    get(&demo, "/metrics", &mut seen).await;
    get(&demo, "/startup", &mut seen).await;
    details(&demo, &mut seen).await;
    redis.kill();
    assert!(ready_becomes(&demo, StatusCode::SERVICE_UNAVAILABLE, &mut seen).await);
    let shown = details(&demo, &mut seen).await;
    assert!(shown.body.contains("lastError"), "{}", shown.body);
    get(&demo, "/health/dependencies", &mut seen).await;
    get(&demo, "/api/v1/cache/beta", &mut seen).await;
    redis.restart();
    assert!(ready_becomes(&demo, StatusCode::OK, &mut seen).await);
    stop(demo, &mut seen);

    // A wrong password, from its own variable: Failed, with the reason in the details.
    let wrong = start_demo(&[
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", &port),
        ("REDIS_AUTH_TOKEN", WRONG),
    ]);
    wrong.wait_listening();
    let until = Instant::now() + DEADLINE;
    let mut failed = false;
    while !failed && Instant::now() < until {
        failed = details(&wrong, &mut seen)
            .await
            .body
            .contains("authentication failed");
    }
    assert!(failed, "{}", wrong.process.output());
    get(&wrong, "/metrics", &mut seen).await;
    stop(wrong, &mut seen);

    // A malformed URL holding the password: refused at startup, exit 2.
    let mut bad = start_demo(&[("REDIS_URL", &format!("http://app:{PASSWORD}@cache"))]);
    let status = bad.process.wait_exit(DEADLINE).expect("the demo exits");
    assert_eq!(status.code(), Some(2), "{}", bad.process.output());
    seen.process(&bad.process);
    drop(bad);

    // The command, with every way of giving it a password.
    let host_env = [
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", port.as_str()),
        ("REDIS_AUTH_TOKEN", PASSWORD),
    ];
    let wrong_url = format!("redis://:{WRONG}@127.0.0.1:{port}");
    let bad_url = format!("rediss://app:{PASSWORD}@cache:99999");
    assert_eq!(cli(&["config"], &[("REDIS_URL", &url)], &mut seen), 0);
    assert_eq!(cli(&["config", "--json"], &host_env, &mut seen), 0);
    assert_eq!(cli(&["ping"], &[("REDIS_URL", &url)], &mut seen), 0);
    assert_eq!(cli(&["ping"], &host_env, &mut seen), 0);
    assert_eq!(cli(&["ping"], &[("REDIS_URL", &wrong_url)], &mut seen), 1);
    assert_eq!(
        cli(
            &["wait", "--timeout", "1s"],
            &[("REDIS_URL", &wrong_url)],
            &mut seen
        ),
        1
    );
    assert_eq!(cli(&["ping", "--url", &wrong_url], &[], &mut seen), 1);
    assert_eq!(cli(&["config"], &[("REDIS_URL", &bad_url)], &mut seen), 2);
    assert_eq!(cli(&["ping"], &[("REDIS_URL", &bad_url)], &mut seen), 2);

    // What was scanned holds the places where a password would have shown.
    let all = seen.all();
    for expected in [
        ":***@",                           // redacted URLs, in logs and `config`
        "redis_config",                    // the demo's startup log line
        "redis_connection_lost",           // the outage
        "authentication failed",           // the wrong password, in logs and details
        "\"lastError\"",                   // the details body
        "REDIS_URL=",                      // the configuration errors
        "redis_gate_check_failures_total", // the metrics
    ] {
        assert!(
            all.contains(expected),
            "{expected:?} not in what was scanned"
        );
    }
    for secret in [PASSWORD, WRONG, TOKEN] {
        assert!(!all.contains(secret), "a secret leaked");
        assert!(
            secrets::find_leak(secret).is_some(),
            "{secret:?} is registered"
        );
    }
    let scanned = secrets::scanned();
    assert!(scanned.outputs > scanned_before.outputs + 20, "{scanned:?}");
    assert!(scanned.bytes > scanned_before.bytes + 5_000, "{scanned:?}");
    println!(
        "scanned {} outputs, {} bytes in this process",
        scanned.outputs, scanned.bytes
    );
}
