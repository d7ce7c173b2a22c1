//! The demo binary as a real process, for the tests that drive it over HTTP.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use redis_gate_testkit::http::{HttpClient, Reply};
use redis_gate_testkit::poll::DEADLINE;
use redis_gate_testkit::process::{Spawned, built};
use redis_gate_testkit::redis::free_port;

/// The demo on a free port, with quick monitor settings.
pub struct Demo {
    pub process: Spawned,
    pub base: String,
    pub client: HttpClient,
}

impl Demo {
    /// Starts the demo with JSON logs, a 100 ms check interval, a 50 ms → 500 ms backoff and a
    /// 500 ms connect timeout, plus `env` (which may override them).
    pub fn start(env: &[(&str, &str)]) -> Demo {
        let bind = format!("127.0.0.1:{}", free_port());
        let mut vars = vec![
            ("BIND_ADDR", bind.as_str()),
            ("LOG_FORMAT", "json"),
            ("REDIS_CHECK_INTERVAL_MS", "100"),
            ("REDIS_BACKOFF_INITIAL_MS", "50"),
            ("REDIS_BACKOFF_MAX_MS", "500"),
            ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ];
        vars.extend_from_slice(env);
        let demo = built("examples/demo", "cargo build --example demo");
        Demo {
            process: Spawned::start(&demo, &vars),
            base: format!("http://{bind}"),
            client: HttpClient::new(),
        }
    }

    /// Waits until the demo says it listens.
    pub fn wait_listening(&self) {
        let line = self.process.wait_for_line("listening on http://", DEADLINE);
        assert!(
            line.is_some(),
            "the demo did not listen:\n{}",
            self.process.output()
        );
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.client.get(&format!("{}{path}", self.base)).await
    }

    /// `method path` with a JSON `body`.
    pub async fn send(&self, method: Method, path: &str, body: &str) -> Reply {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_owned(),
            )))
            .unwrap();
        self.client.request(req).await
    }

    /// `POST /api/v1/auth/ws-ticket`.
    pub async fn ticket(&self) -> Reply {
        self.send(Method::POST, "/api/v1/auth/ws-ticket", "").await
    }

    /// Polls `/ready` until it answers `status`, handing every reply to `each`.
    pub async fn ready_becomes_with(
        &self,
        status: StatusCode,
        mut each: impl FnMut(&Reply),
    ) -> bool {
        let until = Instant::now() + DEADLINE;
        while Instant::now() < until {
            let reply = self.get("/ready").await;
            each(&reply);
            if reply.status == status {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Polls `/ready` until it answers `status`.
    pub async fn ready_becomes(&self, status: StatusCode) -> bool {
        self.ready_becomes_with(status, |_| {}).await
    }
}
